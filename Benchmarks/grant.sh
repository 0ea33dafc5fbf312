#!/usr/bin/env bash
# The client-credentials grant's CPU per request, beside verify of a client's and a user's token
# and the bare floor, in one sitting (Benchmarks/grant.py), against a release build with a Redis of
# its own. AUTHD_VERIFY_CACHE=on measures it with the verify cache.
#   Benchmarks/grant.sh
# Environment: ROUNDS (default 3), BENCH_DURATION (10 s), BENCH_CONNECTIONS (64), BENCH_PORT (8095),
#              BENCH_REDIS_PORT (6395), BENCH_BIN (an authd binary instead of a release build),
#              AUTHD_* settings (authd inherits the environment).
# The throttle is on, as in production: a client whose check passed skips the count for a second.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
ensure_system_packages wrk
release_binaries
port=${BENCH_PORT:-8095}
redis_port=${BENCH_REDIS_PORT:-6395}
dir=$(mktemp -d -t authd-grant-bench.XXXXXX)
authd_pid=""
cleanup() {
    [ -n "$authd_pid" ] && kill "$authd_pid" 2>/dev/null && wait "$authd_pid" 2>/dev/null || true
    [ -n "${bare_pid:-}" ] && kill "$bare_pid" 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
: >"$dir/none.env"
fresh_secrets "$bin"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
LOG_LEVEL=warning "$bin" serve --port "$port" --env-file "$dir/none.env" 2>"$dir/authd.log" &
authd_pid=$!
await_authd "$port" "$dir/authd.log" "$authd_pid"
"$bare_bin" $((port + 10)) >/dev/null &
bare_pid=$!
echo "authd ($bin) on :$port, redis on :$redis_port, the bare server on :$((port + 10))"
python3 Benchmarks/grant.py "http://127.0.0.1:$port" "$bin" "$redis_port" "$dir/none.env" \
    "http://127.0.0.1:$((port + 10))" "$bare_pid"
