#!/usr/bin/env bash
# Soak: the real TUI (in tmux) for 10 minutes against a demo gateway that flaps (5 s down, 5 s up)
# and churns its series labels every scrape, with a probe every 2 s. Prints RSS and CPU of the TUI
# every minute, then PASS when the final RSS is within 10 % of the RSS at minute 2, else FAIL.
# Usage: bench/soak.sh [MINUTES]   (default 10; needs tmux; runs everything under `nice`)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
if [ "$minutes" -lt 3 ]; then
  echo "need at least 3 minutes (minute 2 is the baseline)" >&2
  exit 2
fi
command -v tmux >/dev/null || { echo "tmux is required" >&2; exit 2; }

nice -n 10 cargo build --release --locked --quiet
bin=$PWD/target/release/llmtop
work=$(mktemp -d)
session="llmtop-soak-$$"
demo_pid=""
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  if [ -n "$demo_pid" ]; then kill "$demo_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

LLMTOP_LOG_FILE="$work/demo.log" nice -n 10 "$bin" demo --port 0 \
  --scenario flapping+series-churn >"$work/demo.out" 2>&1 &
demo_pid=$!
base=""
for _ in $(seq 1 100); do
  base=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/demo.out" | head -n1 || true)
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { echo "the demo gateway did not start:" >&2; cat "$work/demo.out" >&2; exit 1; }

# `exec` so the pane's process is llmtop itself and its /proc entry is what we measure.
tmux new-session -d -s "$session" -x 120 -y 40 \
  "exec env LLMTOP_LOG_FILE='$work/tui.log' nice -n 10 '$bin' '$base/metrics' --probe-every 2s --model gpt-4o-mini"
sleep 1
pid=$(tmux list-panes -t "$session" -F '#{pane_pid}' | head -n1)
[ -r "/proc/$pid/stat" ] || { echo "the TUI did not start" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

echo "llmtop soak: TUI pid $pid against $base (flapping+series-churn), --probe-every 2s, $minutes min"
printf '%-6s  %8s  %10s\n' minute "RSS MiB" "CPU % (1m)"
last_ticks=$(cpu_ticks)
rss2=""
rss=""
for m in $(seq 1 "$minutes"); do
  sleep 60
  if [ ! -r "/proc/$pid/stat" ]; then
    echo "FAIL: the TUI exited during minute $m"
    exit 1
  fi
  now_ticks=$(cpu_ticks)
  rss=$(rss_kib)
  cpu=$(awk -v d="$((now_ticks - last_ticks))" -v t="$ticks" 'BEGIN {printf "%.1f", 100 * d / (t * 60)}')
  last_ticks=$now_ticks
  printf '%-6s  %8s  %10s\n' "$m" "$(awk -v r="$rss" 'BEGIN {printf "%.1f", r / 1024}')" "$cpu"
  [ "$m" -eq 2 ] && rss2=$rss
done

echo "status line at the end:"
tmux capture-pane -p -t "$session" | head -n 2 || true
verdict=$(awk -v a="$rss" -v b="$rss2" 'BEGIN {d = (a - b) / b; if (d < 0) d = -d; printf "%s %.1f", (d <= 0.10 ? "PASS" : "FAIL"), 100 * (a - b) / b}')
set -- $verdict
echo "$1: final RSS $(awk -v r="$rss" 'BEGIN {printf "%.1f", r / 1024}') MiB vs $(awk -v r="$rss2" 'BEGIN {printf "%.1f", r / 1024}') MiB at minute 2 ($2 %, limit ±10 %)"
[ "$1" = PASS ]
