# Shared by the benchmark scripts. Sourced, not run (after scripts/lib.sh).

# Sets `bin` to the authd binary to measure (BENCH_BIN, or a release build of the tree) and
# `bare_bin` to the bare NIOHTTP1 floor's release build.
release_binaries() {
    if [ -n "${BENCH_BIN:-}" ]; then
        bin=$(realpath "$BENCH_BIN") # compare another build, e.g. a copy of an earlier one
    else
        swift build -c release --product authd >/dev/null
        bin="$(swift build -c release --show-bin-path)/authd"
    fi
    swift build -c release --product bare-nio-server >/dev/null
    bare_bin="$(swift build -c release --show-bin-path)/bare-nio-server"
}

# One sitting: wrk and the release builds (release_binaries), then its servers: a Redis of its own
# on `redis_port` (BENCH_REDIS_PORT, default $2), authd (`bin`, fresh secrets, the environment's
# AUTHD_* settings) on `port` (BENCH_PORT, default $1) with `env_file` as its .env, and the bare
# floor on port+10, all stopped on exit. Sets `dir`, `authd_pid`, `bare_pid` and exports REDIS_URL.
#   start_sitting DEFAULT_PORT DEFAULT_REDIS_PORT
start_sitting() {
    ensure_system_packages wrk
    release_binaries
    port=${BENCH_PORT:-$1}
    redis_port=${BENCH_REDIS_PORT:-$2}
    dir=$(mktemp -d -t authd-sitting.XXXXXX)
    authd_pid="" bare_pid=""
    trap 'stop_sitting' EXIT
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
    : >"$dir/none.env"
    env_file=$dir/none.env
    fresh_secrets "$bin"
    export REDIS_URL="redis://127.0.0.1:$redis_port/0"
    LOG_LEVEL=warning "$bin" serve --port "$port" --env-file "$env_file" 2>"$dir/authd.log" &
    authd_pid=$!
    await_authd "$port" "$dir/authd.log" "$authd_pid"
    "$bare_bin" $((port + 10)) >/dev/null &
    bare_pid=$!
    echo "authd ($bin) on :$port, redis on :$redis_port, the bare server on :$((port + 10))"
}

stop_sitting() {
    [ -n "$authd_pid" ] && kill "$authd_pid" 2>/dev/null && wait "$authd_pid" 2>/dev/null || true
    [ -n "$bare_pid" ] && kill "$bare_pid" 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    rm -rf "$dir"
}
