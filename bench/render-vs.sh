#!/usr/bin/env bash
# Render and view-model benchmarks of the working tree against an earlier commit, in interleaved
# rounds (the machine is shared and noisy: compare as a ratio, report the median and the spread).
#
#   bench/render-vs.sh REV [ROUNDS]      e.g. bench/render-vs.sh HEAD~5 3
#
# Prints one row per benchmark: the median of the working tree's medians, its range, and the
# median and range of the per-round ratio working tree / REV.
set -euo pipefail
rev=${1:?usage: bench/render-vs.sh REV [ROUNDS]}
rounds=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
old=$(mktemp -d /tmp/llmtop-render-vs.XXXXXX)
trap 'git -C "$here" worktree remove --force "$old" >/dev/null 2>&1 || true' EXIT
git -C "$here" worktree add -q --detach "$old" "$rev"
out=$(mktemp)
for r in $(seq "$rounds"); do
  for side in old new; do
    dir=$here; [ "$side" = old ] && dir=$old
    (cd "$dir" && CARGO_TARGET_DIR="/tmp/llmtop-render-vs-target-$side" \
      cargo bench --bench render -- --warm-up-time 1 --measurement-time 4 2>/dev/null) |
      python3 -c '
import re, sys
side, name = sys.argv[1], None
for line in sys.stdin:
    m = re.match(r"^(\S+)", line)
    if m and not line.startswith(" ") and "time:" not in m.group(1):
        name = m.group(1)
    t = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
    if t and name:
        v, unit = float(t.group(1)), t.group(2)
        scale = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
        print(side, name, v * scale)
' "$side" >> "$out"
  done
done
python3 - "$out" "$rev" <<'PY'
import statistics, sys
from collections import defaultdict
runs = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    side, name, ms = line.split()
    runs[name][side].append(float(ms))
print(f"{'benchmark':36} {'median ms':>10} {'range':>15} {'ratio vs ' + sys.argv[2]:>16} {'range':>13}")
for name, sides in runs.items():
    new, old = sides["new"], sides["old"]
    ratios = [n / o for n, o in zip(new, old)]
    print(f"{name:36} {statistics.median(new):10.3f} {min(new):7.3f}–{max(new):<7.3f}"
          f" {statistics.median(ratios):16.2f} {min(ratios):6.2f}–{max(ratios):<6.2f}")
PY
