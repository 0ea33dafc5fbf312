#!/usr/bin/env bash
# Starts, stops or checks a local redis-server for authd, configured by redis/redis.conf.
#
#   redis/redis.sh start     # start in the background, wait until it answers PING
#   redis/redis.sh stop      # shut it down (the AOF is kept unless the dir is a throwaway)
#   redis/redis.sh status
#
# Environment:
#   REDIS_PORT   port to listen on (default 6380)
#   REDIS_DIR    data directory: AOF, pid file, log (default redis/data, which git ignores)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${REDIS_PORT:-6380}
dir=${REDIS_DIR:-$here/data}
pidfile=$dir/redis-$port.pid

ping() { redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; }

case "${1:-}" in
start)
    if ping; then
        echo "redis: already answering on 127.0.0.1:$port"
        exit 0
    fi
    command -v redis-server >/dev/null || { echo "redis: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
    mkdir -p "$dir"
    # Run from a copy in the data directory, so that CONFIG REWRITE never touches the repository.
    cp "$here/redis.conf" "$dir/redis-$port.conf"
    redis-server "$dir/redis-$port.conf" --port "$port" --dir "$dir" \
        --daemonize yes --pidfile "$pidfile" --logfile "$dir/redis-$port.log"
    for _ in $(seq 1 100); do
        if ping; then
            echo "redis: started on 127.0.0.1:$port (data in $dir)"
            exit 0
        fi
        sleep 0.1
    done
    echo "redis: did not answer on port $port within 10 s; see $dir/redis-$port.log" >&2
    exit 1
    ;;
stop)
    if ping; then
        redis-cli -h 127.0.0.1 -p "$port" shutdown >/dev/null 2>&1 || true
    fi
    for _ in $(seq 1 50); do
        ping || { echo "redis: stopped (port $port)"; exit 0; }
        sleep 0.1
    done
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    echo "redis: killed (port $port)"
    ;;
status)
    if ping; then echo "redis: up on 127.0.0.1:$port"; else echo "redis: not answering on 127.0.0.1:$port"; exit 1; fi
    ;;
*)
    echo "usage: $0 start|stop|status   (env: REDIS_PORT, REDIS_DIR)" >&2
    exit 2
    ;;
esac
