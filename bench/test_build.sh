#!/usr/bin/env bash
# Incremental test-build time of two checkouts (e.g. before and after a change to the test
# layout), in interleaved rounds so the shared machine's noise hits both alike: after touching
# src/lib.rs (the edit-test loop of the library) and after touching one integration-test file.
# Each checkout must have been built once (`cargo test --no-run`). Prints the median and range.
#   bash bench/test_build.sh OLD_CHECKOUT NEW_CHECKOUT [ROUNDS] [OLD_TEST_FILE] [NEW_TEST_FILE]
set -euo pipefail
old=$1 new=$2 rounds=${3:-3}
old_test=${4:-tests/staleness.rs} new_test=${5:-tests/it/staleness.rs}
time_build() { # dir file
  (cd "$1" && touch "$2" && local s=$(date +%s.%N) && cargo test --locked --no-run -q >/dev/null 2>&1 \
    && echo "$(date +%s.%N) - $s" | bc)
}
declare -A t
for r in $(seq "$rounds"); do
  t[old_lib]+="$(time_build "$old" src/lib.rs) "; t[new_lib]+="$(time_build "$new" src/lib.rs) "
  t[old_test]+="$(time_build "$old" "$old_test") "; t[new_test]+="$(time_build "$new" "$new_test") "
done
stats() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {printf "%.1f s (%.1f–%.1f)", a[int((NR+1)/2)], a[1], a[NR]}'; }
printf "| change | before | after |\n|---|---|---|\n"
printf "| touch src/lib.rs | %s | %s |\n" "$(echo "${t[old_lib]}" | stats)" "$(echo "${t[new_lib]}" | stats)"
printf "| touch one test file | %s | %s |\n" "$(echo "${t[old_test]}" | stats)" "$(echo "${t[new_test]}" | stats)"
