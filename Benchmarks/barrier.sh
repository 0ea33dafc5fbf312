#!/usr/bin/env bash
# The revocation barrier's cost, in one sitting: two authd builds (before and after), each with
# the verify cache off and on. For each: Benchmarks/revocation.sh (logout on one instance, verify on
# the other at once; the logout's round trip p50/p99, and Redis's CPU per logout), then the
# CPU per request (/healthz, verify, refresh) against the bare NIOHTTP1 floor with the cache on
# (Benchmarks/compare.sh).
#   Benchmarks/barrier.sh /tmp/authd-before .build/release/authd
# Environment: REVOCATION_ITERATIONS (default 1000), ROUNDS (compare.sh's, default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { sed -n 2,7p "$0"; exit 2; }
before=$(realpath "$1")
after=$(realpath "$2")
for cache in off on; do
    for build in before after; do
        bin=$before
        [ "$build" = after ] && bin=$after
        echo "== $build, AUTHD_VERIFY_CACHE=$cache"
        BENCH_BIN=$bin REVOCATION_CACHE=$cache REVOCATION_DIRECT_ONLY=1 \
            REVOCATION_ITERATIONS=${REVOCATION_ITERATIONS:-1000} Benchmarks/revocation.sh | grep -v '^{'
    done
done
echo "== CPU per request, the cache on, against the bare floor"
COMPARE_ENV_BEFORE=AUTHD_VERIFY_CACHE=on COMPARE_ENV_AFTER=AUTHD_VERIFY_CACHE=on \
    Benchmarks/compare.sh "$before" "$after" bare trivial verify refresh
