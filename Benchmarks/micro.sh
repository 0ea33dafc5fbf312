#!/usr/bin/env bash
# Runs the micro-benchmarks (ordo-one/benchmark, Benchmarks/Micro): token signing and verifying
# beside jwt-kit, and the Redis codec, with CPU time, wall time and malloc counts per operation.
#   Benchmarks/micro.sh                          # every benchmark
#   Benchmarks/micro.sh --filter 'TokenCodec.*'  # any other `swift package benchmark` options
# They are a package of their own, so the top-level build and CI never compile them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_system_packages libhiredis-dev libargon2-dev
cd Benchmarks/Micro
exec swift package --disable-sandbox benchmark "$@"
