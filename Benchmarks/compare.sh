#!/usr/bin/env bash
# Compares two authd binaries side by side in one sitting: runs Benchmarks/service.sh on each in
# turn, ROUNDS times (default 3), then prints the median of every figure per build and the ratio
# of the second to the first. The bare-NIO floor is measured in every round too.
#   cp .build/release/authd /tmp/authd-before   # ... change, rebuild ...
#   Benchmarks/compare.sh /tmp/authd-before .build/release/authd [scenario ...]
# Scenarios default to: bare trivial verify refresh.
# COMPARE_ENV_BEFORE / COMPARE_ENV_AFTER: settings for each side (space-separated NAME=VALUE), so that
# one binary can be compared with itself under two configurations, e.g. the verify cache off and on:
#   COMPARE_ENV_AFTER=AUTHD_VERIFY_CACHE=on Benchmarks/compare.sh .build/release/authd .build/release/authd
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,8p "$0"; exit 2; }
before=$(realpath "$1")
after=$(realpath "$2")
shift 2
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(bare trivial verify refresh)
out=$(mktemp -t authd-compare.XXXXXX.jsonl)
for round in $(seq 1 "${ROUNDS:-3}"); do
    for build in before after; do
        bin=$before
        settings=${COMPARE_ENV_BEFORE:-}
        if [ "$build" = after ]; then
            bin=$after
            settings=${COMPARE_ENV_AFTER:-}
        fi
        echo "round $round: $build ${settings}" >&2
        # shellcheck disable=SC2086 # the settings are NAME=VALUE words
        env $settings BENCH_BIN="$bin" BENCH_LABEL=$build BENCH_JSON="$out" Benchmarks/service.sh "${scenarios[@]}" >/dev/null
    done
done
python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
def key(run):
    label = run["label"]
    if label == "bare-nio":
        return "bare", "bare-nio"
    build, _, kind = label.partition("-")
    return build, kind or run["scenario"]
groups = {}
for run in runs:
    groups.setdefault(key(run), []).append(run)
fields = [("server_cpu_us_per_req", "server µs/req"), ("redis_cpu_us_per_req", "Redis µs/req"),
          ("rps", "req/s"), ("lat_p99_us", "p99 µs"), ("server_peak_rss_kb", "peak RSS kB")]
bare = statistics.median(r["server_cpu_us_per_req"] for r in groups.get(("bare", "bare-nio"), [])) \
    if ("bare", "bare-nio") in groups else None
print(f"{'scenario':<10} {'figure':<14} {'before':>10} {'after':>10} {'after/before':>12}")
for kind in ["bare-nio", "trivial", "verify", "refresh", "login"]:
    for name, title in fields:
        values = {}
        for build in ["before", "after"]:
            runs_ = groups.get(("bare", kind) if kind == "bare-nio" else (build, kind))
            if runs_:
                values[build] = statistics.median(r.get(name, 0) or 0 for r in runs_)
        if len(values) < 2:
            continue
        ratio = values["after"] / values["before"] if values["before"] else float("nan")
        print(f"{kind:<10} {title:<14} {values['before']:>10.1f} {values['after']:>10.1f} {ratio:>12.2f}")
    if kind == "bare-nio" and bare:
        print(f"(bare-NIO floor: {bare:.1f} µs/req; the ×bare figures below divide by it)")
for kind in ["trivial", "verify", "refresh"]:
    for build in ["before", "after"]:
        runs_ = groups.get((build, kind))
        if runs_ and bare:
            print(f"{kind:<10} {build:<7} {statistics.median(r['server_cpu_us_per_req'] for r in runs_) / bare:5.2f} × bare")
print(f"raw runs: {sys.argv[1]}")
PY
