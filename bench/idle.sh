#!/usr/bin/env bash
# Idle dashboard CPU: each given llmtop binary attached at 1 s to one `llmtop demo` gateway in a
# 200x60 tmux pane, in interleaved rounds (A, B, A, B, ...), CPU time read from /proc/PID/stat
# over each round. Prints each binary's median % of one core with its [min-max], and the median
# of the per-round ratios to the first binary (the machine is shared: a ratio of two runs
# measured back to back cancels most of its load).
#
# Usage: bench/idle.sh [-r ROUNDS] [-s SECONDS] BINARY [BINARY...]
#   defaults: -r 3 -s 30; BINARY defaults to this checkout's release build.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 seconds=30
while getopts "r:s:h" opt; do
    case $opt in
        r) rounds=$OPTARG ;;
        s) seconds=$OPTARG ;;
        *) sed -n '2,9p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
for v in "$rounds" "$seconds"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "idle.sh: -r and -s take positive integers" >&2; exit 2; }
done
command -v tmux >/dev/null || { echo "idle.sh: needs tmux" >&2; exit 2; }
if [[ $# -eq 0 ]]; then
    cargo build --release --quiet --bin llmtop
    set -- "$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/llmtop"
fi
for b in "$@"; do [[ -x $b ]] || { echo "idle.sh: $b is not an executable" >&2; exit 2; }; done

tmp=$(mktemp -d)
demo_pid=
session=llmtop-idle-$$
cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    [[ -n $demo_pid ]] && kill "$demo_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$1" demo --port "$port" --seed 7 >"$tmp/demo.log" 2>&1 &
demo_pid=$!
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.1; done

ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }

: >"$tmp/results"
for round in $(seq "$rounds"); do
    for i in $(seq $#); do
        bin=${!i}
        tmux new-session -d -s "$session" -x 200 -y 60 \
            "LLMTOP_LOG_FILE=$tmp/llmtop.log exec $bin http://127.0.0.1:$port/metrics --interval 1s"
        sleep 5 # start-up and the first screens are not idle
        pid=$(tmux list-panes -t "$session" -F '#{pane_pid}')
        before=$(cpu_of "$pid")
        sleep "$seconds"
        after=$(cpu_of "$pid")
        tmux kill-session -t "$session"
        pct=$(python3 -c "print(($after - $before) / $ticks / $seconds * 100)")
        printf 'idle.sh: round %d  binary %d  %.2f %% of one core\n' "$round" "$i" "$pct" >&2
        echo "$round $i $pct" >>"$tmp/results"
    done
done

python3 - "$tmp/results" "$@" <<EOF
import statistics, sys
from collections import defaultdict
rows = [l.split() for l in open(sys.argv[1])]
bins = sys.argv[2:]
by = defaultdict(dict)
for r, i, pct in rows:
    by[int(r)][int(i)] = float(pct)
print(f"Idle dashboard at 1 s against llmtop demo, 200x60 tmux pane, {len(by)} interleaved rounds of $seconds s,")
print("load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; % of one core:")
for i, b in enumerate(bins, 1):
    v = [by[r][i] for r in by]
    line = f"  {i}. {statistics.median(v):5.2f} % [{min(v):.2f}-{max(v):.2f}]  {b}"
    if i > 1:
        ratios = [by[r][i] / by[r][1] for r in by if by[r][1] > 0]
        if ratios:
            line += f"   ratio to 1: {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]"
    print(line)
EOF
