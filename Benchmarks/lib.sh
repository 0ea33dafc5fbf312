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
