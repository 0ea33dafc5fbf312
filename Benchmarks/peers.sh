#!/usr/bin/env bash
# authd beside its peers, in one sitting: the verify and refresh scenarios (Benchmarks/bench) against
# authd (Benchmarks/service.sh) and against the same API written the popular ways
# (Benchmarks/Peers): FastAPI + PyJWT + redis-py on uvicorn (2 workers, no access log), and
# Express + node-redis on node. Each round runs all three; the summary gives the median server
# CPU per request and each peer's cost as a multiple of authd's.
#   Benchmarks/peers.sh            # ROUNDS=2 by default
# Installs what it needs: nodejs, node-express and node-redis from Debian; the Python packages
# into .build-peers-venv from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_system_packages wrk redis-server nodejs node-express node-redis
venv=.build-peers-venv
if [ ! -x "$venv/bin/uvicorn" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q fastapi 'uvicorn[standard]' pyjwt redis argon2-cffi
fi
bench_dir=${BENCH_DIR:-Benchmarks/bench}
port=${BENCH_PORT:-8092}
redis_port=${BENCH_REDIS_PORT:-6392}
out=$(mktemp -t authd-peers.XXXXXX.jsonl)
dir=$(mktemp -d -t authd-peers.XXXXXX)
peer_pid=""
cleanup() {
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null || true
    REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh stop >/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
REDIS_PORT=$redis_port REDIS_DIR=$dir redis/redis.sh start >/dev/null
export ACCESS_TOKEN_SECRET REFRESH_TOKEN_SECRET
ACCESS_TOKEN_SECRET=$(head -c 32 /dev/urandom | base64)
REFRESH_TOKEN_SECRET=$(head -c 32 /dev/urandom | base64)
export REDIS_URL="redis://127.0.0.1:$redis_port/0"

run_peer() {  # label, command...
    local label=$1
    shift
    redis-cli -p "$redis_port" flushall >/dev/null  # each peer registers its users its own way
    "$@" >"$dir/$label.log" 2>&1 &
    peer_pid=$!
    # Any answer will do (/me without a token is a 401): the peer is listening.
    await_server "http://127.0.0.1:$port/me" "$dir/$label.log" "$peer_pid" "$label" 30
    for scenario in verify refresh; do
        "$bench_dir/bench.sh" "http://127.0.0.1:$port" "$scenario" --redis-port "$redis_port" --label "$label" \
            --json-out "$out" --quiet
    done
    # uvicorn's workers are its children: stop the whole group.
    pkill -P "$peer_pid" 2>/dev/null || true
    kill "$peer_pid" 2>/dev/null || true
    wait "$peer_pid" 2>/dev/null || true
    peer_pid=""
}

for round in $(seq 1 "${ROUNDS:-2}"); do
    echo "round $round: authd" >&2
    BENCH_JSON=$out Benchmarks/service.sh verify refresh >/dev/null
    echo "round $round: fastapi" >&2
    run_peer fastapi "$venv/bin/uvicorn" --app-dir Benchmarks/Peers fastapi_app:app --host 127.0.0.1 \
        --port "$port" --workers 2 --no-access-log --log-level warning
    echo "round $round: express" >&2
    PORT=$port NODE_PATH=/usr/share/nodejs run_peer express node Benchmarks/Peers/express_server.js
done

python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
table = {}
for run in runs:
    table.setdefault((run["label"], run["scenario"]), []).append(run)
print(f"{'server':<8} {'scenario':<8} {'req/s':>8} {'p99 ms':>7} {'µs/req':>7} {'Redis µs':>8} {'× authd':>8} {'non-2xx':>7}")
for scenario in ["verify", "refresh"]:
    base = statistics.median(r["server_cpu_us_per_req"] for r in table.get(("authd", scenario), [{"server_cpu_us_per_req": 0}]))
    for label in ["authd", "fastapi", "express"]:
        rs = table.get((label, scenario))
        if not rs:
            continue
        med = lambda k: statistics.median(r.get(k, 0) or 0 for r in rs)
        cpu = med("server_cpu_us_per_req")
        print(f"{label:<8} {scenario:<8} {med('rps'):>8.0f} {med('lat_p99_us') / 1000:>7.1f} {cpu:>7.1f} "
              f"{med('redis_cpu_us_per_req'):>8.1f} {cpu / base if base else 0:>8.1f} {int(med('non2xx')):>7}")
print(f"raw runs: {sys.argv[1]}")
PY
