#!/usr/bin/env bash
# Load-generator speed: `llmtop bench` vs `oha` vs the seed article's Python aiohttp client, with
# the same -n and -c, against a private nginx on 127.0.0.1 that answers every
# POST /v1/chat/completions with one fixed chat completion (so the clients, not the server, are
# what is compared). For each concurrency, in interleaved rounds (llmtop, oha, python, then the
# next round), prints each client's median requests/s and the median of the per-round ratios with
# their spread (the machine is shared: a ratio of two runs a second apart cancels most of its
# noise). The targets: llmtop/oha >= 1.0 and llmtop/python >= 15, both as medians. Exits 1 when a
# target is missed or a client lost requests.
#
# Usage: bench/speed.sh [-n REQUESTS] [-c CONCURRENCY[,C...]] [-r ROUNDS] [-w NGINX_WORKERS]
#   defaults: -n 20000 -c 10,50,100 (100 = the article's tasks) -r 5 -w 1
# Needs nginx, oha and a python3 with aiohttp; missing ones are installed when possible
# (apt-get as root for nginx and python3-aiohttp, `cargo install oha --locked`). Override with
# NGINX=, OHA=, PYTHON=.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=20000 concurrency=10,50,100 runs=5 nginx_workers=1
while getopts "n:c:r:w:h" opt; do
    case $opt in
        n) requests=$OPTARG ;;
        c) concurrency=$OPTARG ;;
        r) runs=$OPTARG ;;
        w) nginx_workers=$OPTARG ;;
        *) sed -n '2,14p' "$0"; exit 2 ;;
    esac
done
for v in "$requests" ${concurrency//,/ } "$runs" "$nginx_workers"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "speed.sh: -n, -c, -r and -w take positive integers" >&2; exit 2; }
done

model=gpt-4o-mini
prompt="Reply with one short sentence about monitoring."
max_tokens=128
# What every client sends: exactly the body `llmtop bench` builds for a non-streamed request.
request_body=$(printf '{"model":"%s","messages":[{"role":"user","content":"%s"}],"stream":false,"max_tokens":%d}' \
    "$model" "$prompt" "$max_tokens")
# A real gateway's answer, usage included, so llmtop prices every request as it would live.
completion='{"id":"chatcmpl-speed","object":"chat.completion","created":1764115200,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Monitoring turns surprises into graphs."},"finish_reason":"stop"}],"usage":{"prompt_tokens":16,"completion_tokens":7,"total_tokens":23}}'

apt_install() {
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "speed.sh: installing $* with apt-get" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
    else
        echo "speed.sh: please install $* (Debian: apt-get install $*)" >&2
        exit 2
    fi
}

# --- tools -----------------------------------------------------------------------------------
nginx_bin=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [[ ! -x $nginx_bin ]]; then
    apt_install nginx
    nginx_bin=/usr/sbin/nginx
fi

python_bin=
for candidate in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import aiohttp' 2>/dev/null; then
        python_bin=$(command -v "$candidate")
        break
    fi
done
if [[ -z $python_bin ]]; then
    apt_install python3-aiohttp
    python_bin=/usr/bin/python3
fi

oha_bin=${OHA:-$(command -v oha || echo "${CARGO_HOME:-$HOME/.cargo}/bin/oha")}
if [[ ! -x $oha_bin ]]; then
    echo "speed.sh: installing oha (cargo install oha --locked; takes several minutes)" >&2
    cargo install oha --locked >&2
    oha_bin=${CARGO_HOME:-$HOME/.cargo}/bin/oha
fi

echo "speed.sh: building llmtop (release)" >&2
cargo build --release --quiet --bin llmtop
target_dir=$(cargo metadata --format-version 1 --no-deps |
    "$python_bin" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
llmtop_bin=$target_dir/release/llmtop

# --- private nginx ---------------------------------------------------------------------------
tmp=$(mktemp -d)
nginx_pid=
cleanup() {
    if [[ -n $nginx_pid ]]; then
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$("$python_bin" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/temp"
cat >"$tmp/nginx.conf" <<EOF
worker_processes $nginx_workers;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $tmp/temp/body;
    proxy_temp_path $tmp/temp/proxy;
    fastcgi_temp_path $tmp/temp/fastcgi;
    uwsgi_temp_path $tmp/temp/uwsgi;
    scgi_temp_path $tmp/temp/scgi;
    # nginx closes a keep-alive connection after 1000 requests by default; no client should pay
    # for reconnecting in the middle of the measurement.
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$port;
        location = /v1/chat/completions {
            default_type application/json;
            return 200 '$completion';
        }
    }
}
EOF
"$nginx_bin" -t -q -p "$tmp" -e "$tmp/error.log" -c "$tmp/nginx.conf"
"$nginx_bin" -p "$tmp" -e "$tmp/error.log" -c "$tmp/nginx.conf" &
nginx_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 50); do
    curl -fs -o /dev/null -X POST -H 'content-type: application/json' -d "$request_body" \
        "$base/v1/chat/completions" && break
    sleep 0.1
done
answer=$(curl -fsS -X POST -H 'content-type: application/json' -d "$request_body" "$base/v1/chat/completions")
[[ $answer == "$completion" ]] || { echo "speed.sh: nginx answered $answer" >&2; exit 1; }

# --- one run of each client; each prints "REQUESTS_PER_SECOND OK_REQUESTS" ----------------------
json_field() { "$python_bin" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

run_llmtop() {
    "$llmtop_bin" bench "$base" --model "$model" --prompt "$prompt" --max-tokens "$max_tokens" \
        -n "$requests" -c "$concurrency" --format json 2>"$tmp/llmtop.err" |
        json_field 'd["requests_per_second"], d["requests_ok"]'
}
run_oha() {
    "$oha_bin" -n "$requests" -c "$concurrency" -m POST -H 'content-type: application/json' \
        -d "$request_body" --no-tui --output-format json "$base/v1/chat/completions" 2>"$tmp/oha.err" |
        json_field 'd["summary"]["requestsPerSec"], d["statusCodeDistribution"].get("200", 0)'
}
run_python() {
    "$python_bin" bench/aiohttp_client.py "$base" --model "$model" --prompt "$prompt" \
        --max-tokens "$max_tokens" -n "$requests" -c "$concurrency" 2>"$tmp/python.err" |
        json_field 'd["requests_per_second"], d["requests_ok"]'
}

results=$tmp/results.txt
: >"$results"
for c in ${concurrency//,/ }; do
    for round in $(seq "$runs"); do
        for client in llmtop oha python; do
            if ! read -r rps ok < <(concurrency=$c run_$client); then
                echo "speed.sh: $client failed:" >&2
                cat "$tmp/$client.err" >&2
                exit 1
            fi
            if [[ $ok != "$requests" ]]; then
                echo "speed.sh: $client got $ok of $requests requests answered with 200" >&2
                exit 1
            fi
            printf 'speed.sh: -c %-4d round %d  %-7s %10.0f req/s\n' "$c" "$round" "$client" "$rps" >&2
            echo "$c $round $client $rps" >>"$results"
        done
    done
done

# --- the table -------------------------------------------------------------------------------
oha_version=$("$oha_bin" --version | awk '{print $2}')
aiohttp_version=$("$python_bin" -c 'import aiohttp; print(aiohttp.__version__)')
nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///')
load=$(cut -d' ' -f1-3 /proc/loadavg)
"$python_bin" - "$results" <<EOF
import statistics, sys
from collections import defaultdict
runs = defaultdict(dict)
for line in open(sys.argv[1]):
    c, r, client, rps = line.split()
    runs[(int(c), int(r))][client] = float(rps)
print("Load generators against nginx $nginx_version ($nginx_workers worker) on 127.0.0.1, $(nproc) CPUs,")
print("load average $load at the end; -n $requests, non-streamed, $runs interleaved rounds; medians")
print("(requests/s); ratios are the median of the per-round ratios, [min-max] across rounds:")
print()
print(f"  {'-c':>4}  {'llmtop bench':>12}  {'oha $oha_version':>12}  {'aiohttp $aiohttp_version':>14}  {'llmtop/oha':>18}  {'llmtop/python':>20}")
ok = True
for c in sorted({c for c, _ in runs}):
    rounds = [v for (cc, _), v in sorted(runs.items()) if cc == c]
    med = lambda k: statistics.median(r[k] for r in rounds)
    ro = [r["llmtop"] / r["oha"] for r in rounds]
    rp = [r["llmtop"] / r["python"] for r in rounds]
    mo, mp = statistics.median(ro), statistics.median(rp)
    ok &= mo >= 1.0 and mp >= 15
    print(f"  {c:>4}  {med('llmtop'):>12,.0f}  {med('oha'):>12,.0f}  {med('python'):>14,.0f}  "
          f"{mo:>5.2f} [{min(ro):.2f}-{max(ro):.2f}]{'' if mo >= 1.0 else ' MISSED'}  "
          f"{mp:>5.1f} [{min(rp):.1f}-{max(rp):.1f}]{'' if mp >= 15 else ' MISSED'}")
print()
print("targets: llmtop/oha >= 1.0, llmtop/python >= 15 (medians)")
sys.exit(0 if ok else 1)
EOF
