#!/usr/bin/env bash
# Profiles a release build of authd under one load scenario with perf (software cpu-clock
# sampling: this machine has no hardware counters) and prints where the CPU goes.
#   Benchmarks/profile.sh [verify|refresh|login|trivial] [perf.data]
# (trivial: GET /healthz, the same stack with no auth work)
# Then: perf report -i perf.data --children --sort sym -g none | swift demangle --simplified
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_system_packages wrk linux-perf
scenario=${1:-verify}
data=$(realpath -m "${2:-perf.data}")
swift build -c release --product authd >/dev/null
bin="$(swift build -c release --show-bin-path)/authd"
port=${BENCH_PORT:-8094}
redis_port=${BENCH_REDIS_PORT:-6394}
dir=$(mktemp -d -t authd-profile.XXXXXX)
trap 'kill "${pid:-}" 2>/dev/null; REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true; rm -rf "$dir"' EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
ACCESS_TOKEN_SECRET=$("$bin" gen-secret) REFRESH_TOKEN_SECRET=$("$bin" gen-secret) \
    REDIS_URL="redis://127.0.0.1:$redis_port/0" LOG_LEVEL=warning \
    "$bin" serve --port "$port" --env-file /dev/null &
pid=$!
sleep 1
# Sample 6 s in the middle of a 14 s run, after the driver's preparation and warm-up.
(sleep 6 && perf record -F 2000 -e cpu-clock -g -p "$pid" -o "$data" -- sleep 6 >/dev/null 2>&1) &
extra=()
[ "$scenario" = trivial ] && scenario=verify extra=(--verify-path /healthz)
"${BENCH_DIR:-Benchmarks/bench}/bench.sh" "http://127.0.0.1:$port" "$scenario" --redis-port "$redis_port" -d 14 -w 2 "${extra[@]}"
wait %2 || true
perf report -i "$data" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
perf report -i "$data" --children --sort sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
    swift demangle --simplified | grep -E 'AuthHTTP|AuthCore|RedisStore|JOSE|WireJSON|RedisClient|HTTPRequestHandler|TokenCodec|JSONReader|Router' |
    head -30 | cut -c1-150
echo "perf data: $data"
