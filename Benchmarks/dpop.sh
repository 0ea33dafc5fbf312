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
ensure_python_tools
start_sitting 8096 6396
"$PYTHON_VENV/bin/python" Benchmarks/dpop.py "http://127.0.0.1:$port" "$redis_port" \
    "http://127.0.0.1:$((port + 10))" "$bare_pid"
