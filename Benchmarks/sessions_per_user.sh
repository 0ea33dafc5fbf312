#!/usr/bin/env bash
# Issue 36's second curve: the sessions list, login, logout with scope global and a password change
# for users holding 1, 10 and 100 sessions (Benchmarks/sessions_per_user.py), one operation at a time,
# against a release build with a Redis of its own and the login throttle off. The figures go to
# Benchmarks/results/sessions_per_user.json (Benchmarks/plot.sh draws them).
#   Benchmarks/sessions_per_user.sh [COUNT ...]
# Environment: BENCH_PORT (8098), BENCH_REDIS_PORT (6388), BENCH_BIN, USERS (20 per count),
#              SPU_OUT (the JSON file), AUTHD_* settings.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. Benchmarks/lib.sh
export AUTHD_LOGIN_THROTTLE=false
start_sitting 8098 6388
python3 Benchmarks/sessions_per_user.py "$port" "$redis_port" "$authd_pid" \
    "${SPU_OUT:-Benchmarks/results/sessions_per_user.json}" "$@"
