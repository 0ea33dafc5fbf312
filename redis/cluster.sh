#!/usr/bin/env bash
# Starts or stops a local Redis Cluster for authd on loopback: 3 primaries and 3 replicas made
# from redis/redis.conf with cluster mode on, assembled by `redis-cli --cluster create`.
#
#   redis/cluster.sh start     # start the six nodes, make the cluster, wait until it is healthy
#   redis/cluster.sh stop
#   redis/cluster.sh nodes     # prints REDIS_CLUSTER_NODES for authd
#
# Environment:
#   REDIS_CLUSTER_PORT   the first node's port (default 7000); the others follow it, and each
#                        node's cluster bus is its port + 100
#   REDIS_DIR            data directory: one subdirectory per node (default redis/data/cluster)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
base=${REDIS_CLUSTER_PORT:-7000}
dir=${REDIS_DIR:-$here/data/cluster}
ports=$(seq "$base" $((base + 5)))

ping() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }
# Every node sees the whole cluster, and every replica has finished its first sync (one that has
# not would not take over if its primary died).
healthy() {
    for port in $ports; do
        redis-cli -p "$port" cluster info 2>/dev/null | grep -q cluster_state:ok || return 1
        redis-cli -p "$port" info replication 2>/dev/null | grep -q role:slave &&
            ! redis-cli -p "$port" info replication | grep -q master_link_status:up && return 1
    done
    return 0
}

case "${1:-}" in
start)
    if healthy 2>/dev/null; then
        echo "redis cluster: already up on ports $base-$((base + 5))"
        exit 0
    fi
    command -v redis-server >/dev/null || { echo "redis: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
    for port in $ports; do
        mkdir -p "$dir/$port"
        cp "$here/redis.conf" "$dir/$port/redis.conf"
        redis-server "$dir/$port/redis.conf" --port "$port" --dir "$dir/$port" --daemonize yes \
            --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
            --cluster-port $((port + 100))
    done
    for port in $ports; do
        for _ in $(seq 1 100); do ping "$port" && break; sleep 0.1; done
    done
    # A node that already belongs to a cluster (its nodes.conf survived a stop) rejoins it.
    if ! redis-cli -p "$base" cluster info | grep -q "cluster_known_nodes:6"; then
        redis-cli --cluster create $(for port in $ports; do echo "127.0.0.1:$port"; done) \
            --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 ||
            { echo "redis cluster: create failed, see $dir/create.log" >&2; exit 1; }
    fi
    for _ in $(seq 1 300); do
        if healthy; then
            echo "redis cluster: started on 127.0.0.1:$base-$((base + 5)) (data in $dir)"
            exit 0
        fi
        sleep 0.1
    done
    echo "redis cluster: not healthy within 30 s; see $dir/*/redis.log" >&2
    exit 1
    ;;
stop)
    for port in $ports; do
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    done
    for port in $ports; do
        for _ in $(seq 1 50); do ping "$port" || break; sleep 0.1; done
        [ -f "$dir/$port/redis.pid" ] && ping "$port" && kill -9 "$(cat "$dir/$port/redis.pid")" 2>/dev/null || true
    done
    echo "redis cluster: stopped (ports $base-$((base + 5)))"
    ;;
nodes)
    echo "$(for port in $ports; do echo -n "127.0.0.1:$port,"; done | sed 's/,$//')"
    ;;
*)
    echo "usage: $0 start|stop|nodes   (env: REDIS_CLUSTER_PORT, REDIS_DIR)" >&2
    exit 2
    ;;
esac
