#!/usr/bin/env bash
# Seek-back time of `llmtop replay` on a synthetic recording, without and with checkpoints.
# Usage: bench/replay_seek.sh [MINUTES]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet --example replay_seek -- "${1:-60}"
