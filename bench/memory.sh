#!/usr/bin/env bash
# Store memory over simulated uptime: LiteLLM fixture scaled to ~2 000 series, 1 s scrapes.
# Usage: bench/memory.sh [HOURS]   (default 3; the figure must stay flat after the first hour)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example store_memory -- "${1:-3}"
