#!/usr/bin/env bash
# Runs the shared load scenarios (Benchmarks/bench, copied from ../shared/bench: verify, refresh, login) against a release build
# of authd with its own throwaway Redis, and prints the driver's figures. The `capacity` scenario
# instead takes the measurements of docs/CAPACITY.md (Benchmarks/capacity.py; run it with
# AUTHD_LOGIN_THROTTLE=false, as the document's figures were). Two more scenarios give
# the floor in the same run: `trivial` (GET /healthz on authd: same stack, no auth work) and
# `bare` (a static 200 from a bare NIOHTTP1 server, Benchmarks/BareNIOServer).
#   Benchmarks/service.sh [scenario ...]        default: bare trivial verify refresh login
# Environment: BENCH_DIR (default Benchmarks/bench, a copy of ../shared/bench), BENCH_PORT (8090), BENCH_REDIS_PORT (6390),
#              BENCH_JSON (append results to this JSON-lines file), BENCH_REPLICA=1 (also start a
#              replica on BENCH_REDIS_PORT+1, e.g. to measure AUTHD_REDIS_WAIT_REPLICAS=1),
#              BENCH_ALG (sign access tokens with a key of ES256, RS256 or EdDSA instead of HS256),
#              BENCH_BIN (run this authd binary instead of building one), BENCH_LABEL (the name of
#              the authd runs in the output; default authd), BENCH_TLS=1 (authd reaches Redis over
#              TLS: rediss:// on BENCH_REDIS_PORT+2, with a CA and certificate made for the run),
#              BENCH_CLUSTER=1 (authd on a Redis Cluster of 3 primaries and 3 replicas on
#              BENCH_REDIS_PORT+10 to +15, redis/cluster.sh; each scenario runs once per primary,
#              the driver counting that primary's CPU, and the commands each node served are
#              printed: how the load spreads).
# authd inherits the environment, so AUTHD_* settings apply to the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
ensure_system_packages wrk
bench_dir=${BENCH_DIR:-Benchmarks/bench}
port=${BENCH_PORT:-8090}
redis_port=${BENCH_REDIS_PORT:-6390}
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(bare trivial verify refresh login)

release_binaries

dir=$(mktemp -d -t authd-bench.XXXXXX)
authd_pid=""
cleanup() {
    [ -n "$authd_pid" ] && kill "$authd_pid" 2>/dev/null && wait "$authd_pid" 2>/dev/null || true
    [ -n "${bare_pid:-}" ] && kill "$bare_pid" 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    [ -n "${BENCH_CLUSTER:-}" ] && REDIS_CLUSTER_PORT=$((redis_port + 10)) REDIS_DIR=$dir/cluster redis/cluster.sh stop >/dev/null
    [ -n "${BENCH_REPLICA:-}" ] && redis-cli -p $((redis_port + 1)) shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
if [ -n "${BENCH_REPLICA:-}" ]; then
    mkdir -p "$dir/replica"
    cp redis/redis.conf "$dir/replica/redis.conf"
    redis-server "$dir/replica/redis.conf" --port $((redis_port + 1)) --dir "$dir/replica" --daemonize yes \
        --replicaof 127.0.0.1 "$redis_port" --logfile "$dir/replica/redis.log" >/dev/null
    until redis-cli -p "$redis_port" info replication | grep -q state=online; do sleep 0.1; done
fi

# TLS: the same Redis also listens on a TLS port (Redis 7 takes it at run time), with an EC P-256
# certificate for 127.0.0.1 signed by a CA made here; the driver still reads Redis's CPU on the
# plain port.
redis_url="redis://127.0.0.1:$redis_port/0"
tls_env=()
if [ -n "${BENCH_TLS:-}" ]; then
    key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    openssl req -x509 "${key[@]}" -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 2 -subj /CN=bench-ca 2>/dev/null
    openssl req "${key[@]}" -keyout "$dir/redis.key" -out "$dir/redis.csr" -subj /CN=redis 2>/dev/null
    echo "subjectAltName=IP:127.0.0.1" > "$dir/redis.ext"
    openssl x509 -req -in "$dir/redis.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile "$dir/redis.ext" -out "$dir/redis.crt" 2>/dev/null
    redis-cli -p "$redis_port" config set tls-cert-file "$dir/redis.crt" tls-key-file "$dir/redis.key" \
        tls-ca-cert-file "$dir/ca.crt" tls-auth-clients no >/dev/null
    redis-cli -p "$redis_port" config set tls-port $((redis_port + 2)) >/dev/null
    redis_url="rediss://127.0.0.1:$((redis_port + 2))/0"
    tls_env=(REDIS_TLS_CA_FILE="$dir/ca.crt")
fi

# Redis Cluster: authd finds it from its nodes; REDIS_URL is then only for a password and rediss.
cluster_env=()
shard_ports=()
if [ -n "${BENCH_CLUSTER:-}" ]; then
    REDIS_CLUSTER_PORT=$((redis_port + 10)) REDIS_DIR=$dir/cluster redis/cluster.sh start >/dev/null
    cluster_env=(REDIS_CLUSTER_NODES="$(REDIS_CLUSTER_PORT=$((redis_port + 10)) redis/cluster.sh nodes)")
    for p in $(seq $((redis_port + 10)) $((redis_port + 15))); do
        redis-cli -p "$p" role | head -1 | grep -q master && shard_ports+=("$p")
    done
    redis_url="redis://127.0.0.1:$((redis_port + 10))"
fi
# Commands each cluster node has served so far.
node_commands() {
    for p in $(seq $((redis_port + 10)) $((redis_port + 15))); do
        echo -n "$p=$(redis-cli -p "$p" info stats | awk -F: '/^total_commands_processed/ { print $2 + 0 }') "
    done
}

# Access tokens signed with a key of BENCH_ALG (ES256, RS256 or EdDSA) instead of HS256.
keys_env=()
if [ -n "${BENCH_ALG:-}" ]; then
    "$bin" keys generate --alg "$BENCH_ALG" --dir "$dir/keys" >/dev/null
    keys_env=(AUTHD_KEYS_DIR="$dir/keys")
fi
fresh_secrets "$bin"
env REDIS_URL="$redis_url" LOG_LEVEL=warning "${keys_env[@]}" "${tls_env[@]}" "${cluster_env[@]}" \
    "$bin" serve --port "$port" --env-file /dev/null 2>"$dir/authd.log" &
authd_pid=$!
await_authd "$port" "$dir/authd.log" "$authd_pid"
echo "${BENCH_LABEL:-authd} ($bin) on :$port, redis at $redis_url; idle RSS $(awk '/VmRSS/ { print $2 " kB" }' /proc/$authd_pid/status)"
for scenario in "${scenarios[@]}"; do
    case "$scenario" in
    bare)
        "$bare_bin" $((port + 10)) >/dev/null &
        bare_pid=$!
        sleep 0.5
        "$bench_dir/bench.sh" "http://127.0.0.1:$((port + 10))" verify --verify-path / --pid "$bare_pid" \
            --redis-port "$redis_port" --label bare-nio ${BENCH_JSON:+--json-out "$BENCH_JSON"}
        kill "$bare_pid"
        bare_pid=""
        ;;
    capacity)
        python3 Benchmarks/capacity.py "$port" "$redis_port" "$authd_pid"
        ;;
    trivial)
        "$bench_dir/bench.sh" "http://127.0.0.1:$port" verify --verify-path /healthz --redis-port "$redis_port" \
            --label "${BENCH_LABEL:-authd}-trivial" ${BENCH_JSON:+--json-out "$BENCH_JSON"}
        ;;
    *)
        if [ ${#shard_ports[@]} -gt 0 ]; then
            before=$(node_commands)
            for shard in "${shard_ports[@]}"; do
                "$bench_dir/bench.sh" "http://127.0.0.1:$port" "$scenario" --redis-port "$shard" \
                    --label "${BENCH_LABEL:-authd}-cluster-shard-$shard" ${BENCH_JSON:+--json-out "$BENCH_JSON"}
            done
            echo "commands per cluster node during $scenario (primaries: ${shard_ports[*]}):"
            paste <(echo "$before" | tr ' ' '\n') <(node_commands | tr ' ' '\n') | awk -F'[=\t]' 'NF == 4 { print "  " $1 ": " $4 - $2 }'
        else
            "$bench_dir/bench.sh" "http://127.0.0.1:$port" "$scenario" --redis-port "$redis_port" \
                --label "${BENCH_LABEL:-authd}" ${BENCH_JSON:+--json-out "$BENCH_JSON"}
        fi
        ;;
    esac
done
