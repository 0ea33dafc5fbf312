#!/usr/bin/env bash
# The measurements behind docs/CAPACITY.md: Redis memory per user and per session, and Redis
# commands, Redis time and authd CPU per login, verify, refresh and logout
# (Benchmarks/capacity.py). A release build of authd with login throttling off, and a throwaway
# Redis from redis/.
#   Benchmarks/capacity.sh
# Environment: BENCH_BIN (this authd binary instead of a release build of the tree),
#              BENCH_PORT (8096), BENCH_REDIS_PORT (6396).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
ensure_system_packages
port=${BENCH_PORT:-8096}
redis_port=${BENCH_REDIS_PORT:-6396}
release_binaries
dir=$(mktemp -d -t authd-capacity.XXXXXX)
authd_pid=""
cleanup() {
    [ -n "$authd_pid" ] && kill "$authd_pid" 2>/dev/null && wait "$authd_pid" 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
env ACCESS_TOKEN_SECRET="$("$bin" gen-secret)" REFRESH_TOKEN_SECRET="$("$bin" gen-secret)" \
    REDIS_URL="redis://127.0.0.1:$redis_port/0" LOG_LEVEL=warning AUTHD_LOGIN_THROTTLE=false \
    "$bin" serve --port "$port" --env-file "$dir/no.env" &
authd_pid=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "authd ($bin) on :$port, redis $(redis-server --version | grep -o 'v=[0-9.]*') on :$redis_port"
python3 Benchmarks/capacity.py "$port" "$redis_port" "$authd_pid"
