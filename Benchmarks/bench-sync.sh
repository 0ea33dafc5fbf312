#!/usr/bin/env bash
# Says whether Benchmarks/bench (the copy the benchmarks run) differs from the shared load
# scenarios it was copied from (../shared/bench, or SHARED_BENCH); with --copy, copies them again.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED_BENCH:-../shared/bench}
[ -d "$shared" ] || { echo "no shared scenarios at $shared"; exit 0; }
if diff -r -x ORIGIN.md "$shared" Benchmarks/bench >/dev/null; then
    echo "Benchmarks/bench is the same as $shared"
elif [ "${1:-}" = --copy ]; then
    cp -r "$shared"/. Benchmarks/bench/ && chmod -R u+w Benchmarks/bench
    echo "copied $shared to Benchmarks/bench"
else
    diff -r -x ORIGIN.md "$shared" Benchmarks/bench || true
    echo "Benchmarks/bench differs from $shared; Benchmarks/bench-sync.sh --copy takes the shared one"
    exit 1
fi
