#!/usr/bin/env bash
# Counts heap allocations per request: a uprobe on libc's malloc (perf probe, needs root) counts
# every malloc of a release build of authd (or of the bare NIO floor) during one load scenario,
# divided by the requests wrk completed. Preparation requests are counted too; they are a few
# dozen against tens of thousands.
#   Benchmarks/mallocs.sh [verify|refresh|trivial|bare ...]     default: bare verify refresh
# Environment: BENCH_BIN (this authd binary instead of building one), BENCH_DIR, BENCH_PORT (8092),
#              BENCH_REDIS_PORT (6392).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
ensure_system_packages wrk linux-perf
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(bare verify refresh)
port=${BENCH_PORT:-8092}
redis_port=${BENCH_REDIS_PORT:-6392}
release_binaries
libc=$(ldd "$bin" | awk '/libc\.so/ { print $3 }')
perf probe -q -x "$libc" malloc 2>/dev/null || true
event=$(perf probe -l 2>/dev/null | awk '/malloc/ { print $1; exit }')
[ -n "$event" ] || { echo "perf probe could not place a uprobe on $libc malloc (root needed)" >&2; exit 1; }

dir=$(mktemp -d -t authd-mallocs.XXXXXX)
pid=""
trap 'kill "$pid" 2>/dev/null; REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true; rm -rf "$dir"' EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
for scenario in "${scenarios[@]}"; do
    if [ "$scenario" = bare ]; then
        "$bare_bin" "$port" >/dev/null &
        driver=(verify --verify-path /healthz)
    else
        fresh_secrets "$bin"
        REDIS_URL="redis://127.0.0.1:$redis_port/0" LOG_LEVEL=warning start_authd "$bin" "$port" "$dir/authd.log"
        driver=("$scenario")
        [ "$scenario" = trivial ] && driver=(verify --verify-path /healthz)
    fi
    pid=$!
    [ "$scenario" = bare ] || pid=$authd_pid
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { echo "the server of '$scenario' exited; see $dir" >&2; exit 1; }
        sleep 0.1
    done
    perf stat -e "$event" -p "$pid" -x, -o "$dir/stat" >/dev/null 2>&1 &
    stat_pid=$!
    out=$("${BENCH_DIR:-Benchmarks/bench}/bench.sh" "http://127.0.0.1:$port" "${driver[@]}" \
        --redis-port "$redis_port" --pid "$pid" -d 5 -w 0 2>&1)
    kill -INT "$stat_pid"
    wait "$stat_pid" || true
    requests=$(echo "$out" | grep -oP 'requests \K[0-9]+' | head -1)
    mallocs=$(awk -F, '/malloc/ { print $1 }' "$dir/stat")
    echo "$scenario: $mallocs mallocs over $requests requests: $(awk -v m="$mallocs" -v r="$requests" 'BEGIN { printf "%.1f", m / r }') per request"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    redis-cli -p "$redis_port" flushall >/dev/null
done
