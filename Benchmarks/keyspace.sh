#!/usr/bin/env bash
# Issue 36's first curve: verify and refresh CPU per request (authd's and Redis's), p99 and
# used_memory with 0, 100k and 1M sessions in Redis (Benchmarks/keyspace.py), against a release
# build with a Redis of its own, in one sitting. The figures go to Benchmarks/results/keyspace.json
# (Benchmarks/plot.sh draws them).
#   Benchmarks/keyspace.sh [SIZE ...]
# Environment: ROUNDS (3 runs of each scenario at each size), BENCH_PORT (8097), BENCH_REDIS_PORT (6397), BENCH_BIN, KEYSPACE_OUT (the JSON file),
#              AUTHD_* settings (authd inherits them); the shared driver's BENCH_DURATION and the like.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
start_sitting 8097 6397
python3 Benchmarks/keyspace.py "http://127.0.0.1:$port" "$redis_port" \
    "${KEYSPACE_OUT:-Benchmarks/results/keyspace.json}" "$@"
