#!/usr/bin/env bash
# Revocation across instances with the verify cache: two authd instances (AUTHD_VERIFY_CACHE=on
# unless REVOCATION_CACHE=off) on one Redis, and nginx round-robin in front of them. Logs out on
# one and verifies on the other at once, REVOCATION_ITERATIONS times (default 2000) directly and
# as many through nginx (Benchmarks/revocation.py), and prints the stale accepts and how soon the
# other instance rejected. Exits non-zero if any revoked session was accepted.
#   Benchmarks/revocation.sh
# Environment: BENCH_BIN (an authd binary; default a release build of the tree), BENCH_PORT
# (8090: nginx; the instances on +1 and +2), BENCH_REDIS_PORT (6390), BENCH_CLUSTER=1 (on a Redis
# Cluster, redis/cluster.sh, on BENCH_REDIS_PORT+10 to +15), REVOCATION_DIRECT_ONLY=1 (skip the run
# through nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_system_packages nginx-light
port=${BENCH_PORT:-8090}
redis_port=${BENCH_REDIS_PORT:-6390}
iterations=${REVOCATION_ITERATIONS:-2000}
if [ -n "${BENCH_BIN:-}" ]; then
    bin=$(realpath "$BENCH_BIN")
else
    swift build -c release --product authd >/dev/null
    bin="$(swift build -c release --show-bin-path)/authd"
fi

dir=$(mktemp -d -t authd-revocation.XXXXXX)
pids=()
cleanup() {
    [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    [ -n "${BENCH_CLUSTER:-}" ] && REDIS_CLUSTER_PORT=$((redis_port + 10)) REDIS_DIR=$dir/cluster redis/cluster.sh stop >/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

export REDIS_URL="redis://127.0.0.1:$redis_port/0"
if [ -n "${BENCH_CLUSTER:-}" ]; then
    REDIS_CLUSTER_PORT=$((redis_port + 10)) REDIS_DIR=$dir/cluster redis/cluster.sh start >/dev/null
    REDIS_CLUSTER_NODES=$(REDIS_CLUSTER_PORT=$((redis_port + 10)) redis/cluster.sh nodes)
    export REDIS_CLUSTER_NODES REDIS_URL="redis://127.0.0.1:$((redis_port + 10))"
else
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
fi
fresh_secrets "$bin"
export AUTHD_ISSUER="http://127.0.0.1:$port" AUTHD_TRUSTED_PROXIES=127.0.0.1 LOG_LEVEL=warning
export AUTHD_LOGIN_THROTTLE=false AUTHD_VERIFY_CACHE=${REVOCATION_CACHE:-on}
upstreams=""
for i in 1 2; do
    start_authd "$bin" $((port + i)) "$dir/authd-$i.log"
    pids+=("$authd_pid")
    upstreams="$upstreams        server 127.0.0.1:$((port + i));\n"
done
sed -e "s|@UPSTREAMS@|$upstreams|" -e "s|@PORT@|$port|" -e "s|@DIR@|$dir|g" deploy/nginx-local.conf.in >"$dir/nginx.conf"
nginx -c "$dir/nginx.conf" -p "$dir"
for i in 1 2; do
    await_authd $((port + i)) "$dir/authd-$i.log" "${pids[$((i - 1))]}"
done
echo "authd ($bin) ×2 on :$((port + 1)) and :$((port + 2)), nginx on :$port, AUTHD_VERIFY_CACHE=$AUTHD_VERIFY_CACHE"
status=0
redis_cpu=()
[ -z "${BENCH_CLUSTER:-}" ] && redis_cpu=(--redis-port "$redis_port")
python3 Benchmarks/revocation.py --iterations "$iterations" --label "direct (logout on A, verify on B)" \
    "${redis_cpu[@]}" "http://127.0.0.1:$((port + 1))" "http://127.0.0.1:$((port + 2))" || status=1
[ -n "${REVOCATION_DIRECT_ONLY:-}" ] || python3 Benchmarks/revocation.py --iterations "$iterations" \
    --label "through nginx" "http://127.0.0.1:$port" "http://127.0.0.1:$port" || status=1
for i in 1 2; do
    echo "instance $i: $(curl -s "http://127.0.0.1:$((port + i))/metrics" | grep -E '^authd_redis_client_cache_(lookups_total|overtaken|flushes)' | tr '\n' ' ')"
done
exit $status
