#!/usr/bin/env bash
# Verify with a DPoP proof against bearer verify and the bare floor, in CPU per request and Redis
# per request, in one sitting (Benchmarks/dpop.py), against a release build with a Redis of its
# own. AUTHD_VERIFY_CACHE=on measures it with the verify cache.
#   Benchmarks/dpop.sh
# Environment: ROUNDS (default 3), BENCH_DURATION (5 s), BENCH_CONNECTIONS (64), BENCH_PORT (8096),
#              BENCH_REDIS_PORT (6396), BENCH_BIN (an authd binary instead of a release build),
#              DPOP_PROOFS (proofs made per DPoP run), AUTHD_* settings (authd inherits them).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
ensure_system_packages wrk
ensure_python_tools
release_binaries
port=${BENCH_PORT:-8096}
redis_port=${BENCH_REDIS_PORT:-6396}
dir=$(mktemp -d -t authd-dpop-bench.XXXXXX)
authd_pid=""
cleanup() {
    [ -n "$authd_pid" ] && kill "$authd_pid" 2>/dev/null && wait "$authd_pid" 2>/dev/null || true
    [ -n "${bare_pid:-}" ] && kill "$bare_pid" 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
fresh_secrets "$bin"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
LOG_LEVEL=warning "$bin" serve --port "$port" --env-file /dev/null 2>"$dir/authd.log" &
authd_pid=$!
await_authd "$port" "$dir/authd.log" "$authd_pid"
"$bare_bin" $((port + 10)) >/dev/null &
bare_pid=$!
echo "authd ($bin) on :$port, redis on :$redis_port, the bare server on :$((port + 10))"
"$PYTHON_VENV/bin/python" Benchmarks/dpop.py "http://127.0.0.1:$port" "$redis_port" \
    "http://127.0.0.1:$((port + 10))" "$bare_pid"
