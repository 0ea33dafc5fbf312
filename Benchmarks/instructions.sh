#!/usr/bin/env bash
# Counts the instructions authd executes per request, under valgrind's callgrind. Unlike CPU time,
# an instruction count hardly moves with whatever else the machine is doing, so it can tell a 2%
# change that wall-clock runs on this shared machine cannot (their medians move by 5-10%).
# User-space instructions only: the kernel's share (socket writes are a third of a verify's CPU)
# is not counted. Batching differs under valgrind, which runs authd about 50 times slower.
#   Benchmarks/instructions.sh [bare|trivial|verify|refresh ...]   default: bare trivial verify refresh
#   BENCH_BIN=/tmp/authd-before Benchmarks/instructions.sh verify  # another build
# Environment: BENCH_BIN, BENCH_DIR (Benchmarks/bench), BENCH_PORT (8096), BENCH_REDIS_PORT (6396),
#              BENCH_SECONDS (measured seconds per scenario, 8), BENCH_CONNECTIONS (8),
#              BENCH_KEEP (copy each scenario's callgrind file into this directory, for
#              `callgrind_annotate --inclusive=yes FILE | swift demangle --simplified`).
# Prints, per scenario: requests measured, instructions per request, and the ratio to bare.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
ensure_system_packages wrk valgrind gcc
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(bare trivial verify refresh)
bench_dir=$(realpath "${BENCH_DIR:-Benchmarks/bench}")
port=${BENCH_PORT:-8096}
redis_port=${BENCH_REDIS_PORT:-6396}
seconds=${BENCH_SECONDS:-8}
connections=${BENCH_CONNECTIONS:-8}
release_binaries

dir=$(mktemp -d -t authd-instructions.XXXXXX)
pid=""
cleanup() {
    local status=$?
    [ "$status" = 0 ] || tail -20 "$dir/server.log" >&2 || true
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir/redis redis/redis.sh stop >/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir/redis redis/redis.sh start >/dev/null
# Valgrind 3.19 cannot read the debug info Swift 6.3 writes ("Possibly corrupted debuginfo file"):
# the servers run from copies without it (symbols stay). And it crashes on libdispatch's
# sigsuspend (see Benchmarks/Valgrind/sigsuspend.c), which a preloaded shim works around.
objcopy --strip-debug "$bin" "$dir/authd"
objcopy --strip-debug "$bare_bin" "$dir/bare-nio-server"
bin=$dir/authd
bare_bin=$dir/bare-nio-server
gcc -O2 -shared -fPIC -o "$dir/sigsuspend.so" Benchmarks/Valgrind/sigsuspend.c

# Starts a server under callgrind with instrumentation off; it is switched on for the measured run
# only, so start-up, logins and warm-up are not counted.
start() {
    LD_PRELOAD=$dir/sigsuspend.so valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$dir/callgrind.out.%p" "$@" \
        >"$dir/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return
        sleep 0.1
    done
    cat "$dir/server.log" >&2
    exit 1
}

# Runs wrk for a warm-up, then measures; sets `requests` and `total` (instructions), then stops
# the server. Not run in a subshell: the server must be waited for before the next one starts.
measure() {
    local script=$1 warm_args=$2 meas_args=$3
    # shellcheck disable=SC2086
    wrk -t1 -c"$connections" -d3s -s "$bench_dir/wrk/$script" "http://127.0.0.1:$port" -- $warm_args >/dev/null
    sleep 1
    callgrind_control -i on "$pid" >/dev/null 2>&1
    # shellcheck disable=SC2086
    local out
    out=$(wrk -t1 -c"$connections" -d"${seconds}s" -s "$bench_dir/wrk/$script" "http://127.0.0.1:$port" -- $meas_args)
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    local non2xx
    requests=$(echo "$out" | grep -oP '^WRKJSON .*"requests":\K[0-9]+')
    non2xx=$(echo "$out" | grep -oP '^WRKJSON .*"non2xx":\K[0-9]+' || echo 0)
    [ "${non2xx:-0}" = 0 ] || { echo "$non2xx non-2xx responses" >&2; exit 1; }
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    total=$(awk '/^totals:/ { sum += $2 } END { print sum + 0 }' "$dir"/callgrind.out.*)
    if [ -n "${BENCH_KEEP:-}" ]; then
        mkdir -p "$BENCH_KEEP"
        cat "$dir"/callgrind.out.*.* >"$BENCH_KEEP/callgrind.$scenario"
    fi
    rm -f "$dir"/callgrind.out.*
}

# Fresh secrets for this run only; nothing is written to disk.
ACCESS_TOKEN_SECRET=$("$bin" gen-secret)
REFRESH_TOKEN_SECRET=$("$bin" gen-secret)
export ACCESS_TOKEN_SECRET REFRESH_TOKEN_SECRET REDIS_URL="redis://127.0.0.1:$redis_port/0" LOG_LEVEL=warning
serve=("$bin" serve --port "$port" --env-file /dev/null)

bare_per_request=""
printf '%-8s %9s %14s %8s\n' scenario requests instr/req "× bare"
for scenario in "${scenarios[@]}"; do
    case "$scenario" in
    bare)
        start "$bare_bin" "$port"
        echo x >"$dir/token"
        measure verify.lua "$dir/token /" "$dir/token /"
        ;;
    trivial | verify)
        start "${serve[@]}"
        path=/me
        [ "$scenario" = trivial ] && path=/healthz
        python3 - "$bench_dir" "http://127.0.0.1:$port" "$dir/token" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import bench
open(sys.argv[3], "w").write(bench.ensure_user(bench.Client(sys.argv[2]), bench.VERIFY_USER)["accessToken"] + "\n")
PY
        measure verify.lua "$dir/token $path" "$dir/token $path"
        ;;
    refresh)
        start "${serve[@]}"
        # Rotation chains: connections + 2 tokens for the warm-up, as many for the measured run.
        python3 - "$bench_dir" "http://127.0.0.1:$port" "$dir" "$((connections + 2))" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import bench
n = int(sys.argv[4])
tokens = bench.login_many(sys.argv[2], bench.bench_users(4), 2 * n, 4)
open(sys.argv[3] + "/warm", "w").write("\n".join(tokens[:n]) + "\n")
open(sys.argv[3] + "/meas", "w").write("\n".join(tokens[n:]) + "\n")
PY
        measure refresh.lua "$dir/warm 1" "$dir/meas 1"
        ;;
    *)
        echo "unknown scenario $scenario" >&2
        exit 2
        ;;
    esac
    per_request=$((total / requests))
    ratio=""
    [ "$scenario" = bare ] && bare_per_request=$per_request
    [ -n "$bare_per_request" ] && ratio=$(awk -v a="$per_request" -v b="$bare_per_request" 'BEGIN { printf "%.2f", a / b }')
    printf '%-8s %9d %14d %8s\n' "$scenario" "$requests" "$per_request" "$ratio"
done
