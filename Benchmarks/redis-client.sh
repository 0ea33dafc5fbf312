#!/usr/bin/env bash
# Redis client throughput, side by side with redis-benchmark against the same throwaway Redis.
#   Benchmarks/redis-client.sh [requests]
# Runs each tool twice in alternation and prints every figure and the client/redis-benchmark ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_system_packages
requests=${1:-200000}
port=${BENCH_REDIS_PORT:-6391}
dir=$(mktemp -d -t authd-bench-redis.XXXXXX)
trap 'REDIS_PORT=$port REDIS_DIR=$dir redis/redis.sh stop >/dev/null; rm -rf "$dir"' EXIT
REDIS_PORT=$port REDIS_DIR=$dir redis/redis.sh start >/dev/null
redis-cli -p "$port" config set appendonly no >/dev/null

swift build -c release --product redis-client-bench >/dev/null
bin="$(swift build -c release --show-bin-path)/redis-client-bench"

rate() { awk -v name="$1" '$1 == name":" { print $2 }'; }
for mode in pipelined concurrent; do
    if [ "$mode" = pipelined ]; then rb_args=(-c 50 -P 16); else rb_args=(-c 64); fi
    for round in 1 2; do
        ours=$("$bin" "redis://127.0.0.1:$port" "$mode" "$requests")
        theirs=$(redis-benchmark -p "$port" -n "$requests" -t set,get -q "${rb_args[@]}" | tr -d '\r' | sed 's/requests per second.*//')
        for cmd in SET GET; do
            a=$(echo "$ours" | rate "$cmd")
            b=$(echo "$theirs" | awk -v name="$cmd" '$1 == name":" { print $2 }')
            printf '%-10s round %d %s  client %10.0f/s  redis-benchmark %10.0f/s  ratio %.2f\n' \
                "$mode" "$round" "$cmd" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
        done
    done
done
