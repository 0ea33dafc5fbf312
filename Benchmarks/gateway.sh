#!/usr/bin/env bash
# Forward auth under load, in one sitting: wrk → nginx → an app, ungated against gated through
# authd, with the shared driver (Benchmarks/bench/bench.py, its verify scenario) measuring every
# process's CPU. The app is the bare NIOHTTP1 server (a static 200: Benchmarks/BareNIOServer), so
# that what is left is nginx's and authd's work. The nginx files are deploy/gateways/nginx.conf as
# shipped, its addresses replaced, and two exact locations added that pass POST /users and
# POST /login to authd (the driver signs up and logs in through the URL it loads); "ungated" is
# the same file without its `auth_request` lines. Runs, each ROUNDS times, alternating:
#   bare         wrk → the bare server directly: the floor;
#   me, fa       wrk → authd directly, GET /me and GET /forward-auth (cache off, then on);
#   ungated      wrk → nginx → app;
#   gated-bare   wrk → nginx → a second bare server in authd's place (a static 200 to every check),
#                then → app: the floor of the check itself, at the rate and with the connections
#                nginx gives it;
#   gated        wrk → nginx → authd /forward-auth (cache off, then on), then → app.
# Prints the medians: authd's CPU per gated request against the floors, nginx's added CPU per
# request, p99 latency.
#   Benchmarks/gateway.sh
# Environment: ROUNDS (default 3), BENCH_DURATION (10 s), BENCH_CONNECTIONS (64),
#              GATEWAY_BENCH_PORT (default 8300: nginx on +0..+3, authd on +10 and +11, the app on
#              +20, the bare check on +21, Redis on +99), BENCH_JSON (keep the raw runs in this JSON-lines file).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
ensure_system_packages wrk nginx-light
release_binaries

base=${GATEWAY_BENCH_PORT:-8300}
redis_port=$((base + 99)) app_port=$((base + 20))
dir=$(mktemp -d -t authd-gateway-bench.XXXXXX)
out=${BENCH_JSON:-$dir/runs.jsonl}
pids=()
cleanup() {
    for conf in "$dir"/nginx-*.pid; do [ -f "$conf" ] && kill "$(cat "$conf")" 2>/dev/null; done
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    [ -n "${BENCH_JSON:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
fresh_secrets "$bin"
export REDIS_URL="redis://127.0.0.1:$redis_port/0" LOG_LEVEL=warning AUTHD_LOGIN_THROTTLE=off

"$bare_bin" "$app_port" >/dev/null &
app_pid=$!
pids+=("$app_pid")
"$bare_bin" $((app_port + 1)) >/dev/null &
check_pid=$!
pids+=("$check_pid")
for cache in off on; do
    port=$((base + 10))
    [ "$cache" = on ] && port=$((base + 11))
    AUTHD_VERIFY_CACHE=$cache start_authd "$bin" "$port" "$dir/authd-$cache.log"
    pids+=("$authd_pid")
    await_authd "$port" "$dir/authd-$cache.log" "$authd_pid"
    declare "authd_pid_$cache=$authd_pid"
done

# nginx-NAME.conf: the shipped file on PORT, asking authd on AUTHD_PORT; "ungated" drops auth_request.
nginx_conf() {
    local name=$1 port=$2 authd_port=$3
    gateway_nginx "$dir" "$name" "$port" "$authd_port" "$app_port" 1024
    sed -i 's|^    # Any live session.$|    location = /users { proxy_pass http://authd; }\n    location = /login { proxy_pass http://authd; }\n&|' \
        "$dir/gateway-$name.conf"
    [ "$name" = ungated ] && sed -i '/^ *auth_request \/_authd/d' "$dir/gateway-$name.conf"
    nginx -c "$dir/nginx-$name.conf" -p "$dir"
}
nginx_conf ungated "$base" $((base + 10))
nginx_conf gated-off $((base + 1)) $((base + 10))
nginx_conf gated-on $((base + 2)) $((base + 11))
nginx_conf gated-bare $((base + 3)) $((app_port + 1))
sleep 0.5

run() {  # label url path pid...
    local label=$1 url=$2 path=$3
    shift 3
    local pid_args=()
    for pid in "$@"; do pid_args+=(--pid "$pid"); done
    Benchmarks/bench/bench.sh "$url" verify --verify-path "$path" --redis-port "$redis_port" "${pid_args[@]}" \
        --label "$label" --round "$round" --json-out "$out" | sed -n 1p
}
nginx_pid() { cat "$dir/nginx-$1.pid"; }
for round in $(seq 1 "${ROUNDS:-3}"); do
    echo "round $round"
    run bare "http://127.0.0.1:$app_port" / "$app_pid"
    for cache in off on; do
        pid_var="authd_pid_$cache"
        port=$((base + 10))
        [ "$cache" = on ] && port=$((base + 11))
        run "me-$cache" "http://127.0.0.1:$port" /me "${!pid_var}"
        run "fa-$cache" "http://127.0.0.1:$port" /forward-auth "${!pid_var}"
    done
    run ungated "http://127.0.0.1:$base" /app "$(nginx_pid ungated)" "$app_pid" "$authd_pid_off"
    run gated-bare "http://127.0.0.1:$((base + 3))" /app "$(nginx_pid gated-bare)" "$app_pid" "$check_pid"
    run gated-off "http://127.0.0.1:$((base + 1))" /app "$(nginx_pid gated-off)" "$app_pid" "$authd_pid_off"
    run gated-on "http://127.0.0.1:$((base + 2))" /app "$(nginx_pid gated-on)" "$app_pid" "$authd_pid_on"
done

python3 - "$out" "$app_pid" "$authd_pid_off" "$authd_pid_on" "$check_pid" <<'PY'
import json, statistics, sys
path, app, authd_off, authd_on, check = sys.argv[1:6]
runs = [json.loads(line) for line in open(path)]
def median(label, value):
    values = [value(run) for run in runs if run["label"] == label]
    return statistics.median(values) if values else float("nan")
def role(pid):
    # The bare check stands in authd's place; nginx: its master and worker.
    return {app: "app", authd_off: "authd", authd_on: "authd", check: "authd"}.get(pid, "nginx")
def cpu_us(run, who):
    """CPU µs per request of the processes of one role in one run."""
    seconds = sum(v for p, v in run["server_cpu_by_pid"].items() if role(p) == who)
    return seconds / max(1, run["requests"]) * 1e6
floor = median("bare", lambda r: r["server_cpu_us_per_req"])
print(f"\nmedians of {len([r for r in runs if r['label'] == 'bare'])} rounds; floor (bare NIOHTTP1, static 200): {floor:.1f} µs/req")
print(f"{'run':<10} {'req/s':>8} {'p99 ms':>7} {'authd µs/req':>13} {'× floor':>8} {'× check floor':>14} {'nginx µs/req':>13} {'app µs/req':>11} {'Redis µs/req':>13}")
check_floor = median("gated-bare", lambda r: cpu_us(r, "authd"))
for label in ["bare", "me-off", "fa-off", "me-on", "fa-on", "ungated", "gated-bare", "gated-off", "gated-on"]:
    a = median(label, lambda r: cpu_us(r, "authd"))
    n = median(label, lambda r: cpu_us(r, "nginx"))
    ap = median(label, lambda r: cpu_us(r, "app"))
    if label == "bare":
        a = n = float("nan")
    if label.startswith(("me", "fa")):
        n = ap = float("nan")
    print(f"{label:<10} {median(label, lambda r: r['rps']):>8.0f} {median(label, lambda r: r['lat_p99_us']) / 1000:>7.2f} "
          f"{a:>13.1f} {a / floor:>8.2f} {a / check_floor:>14.2f} {n:>13.1f} {ap:>11.1f} {median(label, lambda r: r['redis_cpu_us_per_req']):>13.1f}")
ungated = median("ungated", lambda r: cpu_us(r, "nginx"))
for label, checker in (("gated-bare", "the bare check"), ("gated-off", "authd, cache off"), ("gated-on", "authd, cache on")):
    gated = median(label, lambda r: cpu_us(r, "nginx"))
    print(f"nginx's added CPU per gated request ({checker}): {gated - ungated:.1f} µs "
          f"({gated:.1f} against {ungated:.1f} ungated)")
print(f"the check floor (gated-bare: the bare server answering nginx's checks): {check_floor:.1f} µs/req")
print(f"raw runs: {path}")
PY
