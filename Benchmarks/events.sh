#!/usr/bin/env bash
# What security events cost on the hot paths: login, refresh and logout with AUTHD_EVENTS on and
# off, in one sitting, alternating (on, off, on, off). Each round runs the shared `refresh` and
# `login` load scenarios (server and Redis CPU per request under wrk) and the `capacity`
# measurements (authd's and Redis's CPU per login, refresh, logout and verify, one at a time, and
# the Redis commands each sends: verify must send no XADD). docs/PERFORMANCE.md quotes it.
#   Benchmarks/events.sh            # 2 rounds
# Environment: EVENTS_ROUNDS (default 2); the rest as Benchmarks/service.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
for round in $(seq 1 "${EVENTS_ROUNDS:-2}"); do
    for events in on off; do
        echo "== AUTHD_EVENTS=$events, round $round"
        AUTHD_EVENTS=$events AUTHD_LOGIN_THROTTLE=false BENCH_LABEL="authd events=$events" \
            Benchmarks/service.sh refresh login capacity
    done
done
