#!/usr/bin/env bash
# Redis client throughput, side by side with redis-benchmark against the same throwaway Redis.
#   Benchmarks/redis-client.sh [requests]
# Runs each tool ROUNDS times (default 3) in alternation, prints every figure and ratio, then the
# median ratio per mode and command: the machine is shared, so single runs are noisy.
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
    for round in $(seq 1 "${ROUNDS:-3}"); do
        ours=$("$bin" "redis://127.0.0.1:$port" "$mode" "$requests")
        # redis-benchmark redraws a progress line with carriage returns; keep the final figures.
        theirs=$(redis-benchmark -p "$port" -n "$requests" -t set,get -q "${rb_args[@]}" | tr '\r' '\n' \
            | grep 'requests per second' | sed 's/ requests per second.*//')
        for cmd in SET GET; do
            a=$(echo "$ours" | rate "$cmd")
            b=$(echo "$theirs" | awk -v name="$cmd" '$1 == name":" { print $2 }')
            printf '%-10s round %d %s  client %10.0f/s  redis-benchmark %10.0f/s  ratio %.2f\n' \
                "$mode" "$round" "$cmd" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
        done
    done
done | tee /dev/stderr | python3 -c '
import sys, statistics, collections
ratios = collections.defaultdict(list)
for line in sys.stdin:
    parts = line.split()
    ratios[parts[0] + " " + parts[3]].append(float(parts[-1]))
for key, values in sorted(ratios.items()):
    print(f"median ratio {key:16} {statistics.median(values):.2f} (of {len(values)})")
'
