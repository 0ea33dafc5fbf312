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
start_sitting 8095 6395
python3 Benchmarks/grant.py "http://127.0.0.1:$port" "$bin" "$redis_port" "$env_file" \
    "http://127.0.0.1:$((port + 10))" "$bare_pid"
