"""docs/PERFORMANCE.md's figures, drawn from the results the benchmark scripts recorded.

    python Benchmarks/plot.py RESULTS_DIR IMAGES_DIR

keyspace.json (Benchmarks/keyspace.sh) gives perf-keyspace.png: authd's and Redis's CPU per
request and the p99 of verify and refresh against the sessions in Redis, and the memory each
session takes. sessions_per_user.json (Benchmarks/sessions_per_user.sh) gives
perf-sessions-per-user.png: Redis's and authd's time per operation against a user's sessions.
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, images = sys.argv[1], sys.argv[2]


def keyspace(path, target):
    data = json.load(open(path))
    rows = data["sizes"]
    sessions = [max(row["sessions"], 1) for row in rows]
    labels = [f"{row['sessions']:,}" for row in rows]
    figure, (cpu, latency, memory) = plt.subplots(1, 3, figsize=(13, 4))
    for scenario, colour in (("verify", "tab:blue"), ("refresh", "tab:orange")):
        cpu.plot(labels, [row[scenario]["server_cpu_us_per_req"] for row in rows], "o-", color=colour,
                 label=f"{scenario}: authd (median; dots: rounds)")
        for label, row in zip(labels, rows):
            spread = [run["server_cpu_us_per_req"] for run in row[scenario].get("rounds", [])]
            cpu.plot([label] * len(spread), spread, ".", color=colour, alpha=0.4)
        cpu.plot(labels, [row[scenario]["redis_cpu_us_per_req"] for row in rows], "s--", color=colour,
                 label=f"{scenario}: Redis")
        latency.plot(labels, [row[scenario]["lat_p99_us"] / 1000 for row in rows], "o-", color=colour, label=scenario)
    cpu.set(title="CPU per request", xlabel="sessions in Redis", ylabel="µs")
    cpu.set_ylim(bottom=0)
    cpu.legend(fontsize=7, loc="lower left")
    latency.set(title="p99 latency (64 connections)", xlabel="sessions in Redis", ylabel="ms")
    latency.set_ylim(bottom=0)
    latency.legend(fontsize=8)
    measured = [row for row in rows if row["bytes_per_session"]]
    memory.bar([f"{row['sessions']:,}" for row in measured], [row["bytes_per_session"] for row in measured],
               color="tab:green")
    memory.set(title="used_memory per session", xlabel="sessions in Redis (3 a user)", ylabel="bytes")
    figure.suptitle(f"authd as the keyspace grows ({data['cores']} cores, {data['date'][:10]})")
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    print(f"drew {target}")


def sessions_per_user(path, target):
    data = json.load(open(path))
    rows = data["counts"]
    counts = [row["sessions"] for row in rows]
    figure, (redis, authd) = plt.subplots(1, 2, figsize=(11, 4))
    names = {"list": "GET /sessions", "login": "login", "logout_global": "logout, scope global",
             "password_change": "password change"}
    for key, label in names.items():
        redis.plot(counts, [row[key]["redis_us"] for row in rows], "o-", label=label)
        authd.plot(counts, [row[key]["authd_us"] / 1000 for row in rows], "o-", label=label)
    for axes in (redis, authd):
        axes.set_xscale("log")
        axes.set_xticks(counts, [str(count) for count in counts])
        axes.legend(fontsize=8)
    redis.set_ylim(bottom=0)
    authd.set_yscale("log")  # the password's hash (tens of ms) beside sub-millisecond requests
    redis.set(title="Redis: time in commands per operation", xlabel="sessions the user holds", ylabel="µs")
    authd.set(title="authd: CPU per operation (one at a time)", xlabel="sessions the user holds", ylabel="ms")
    figure.suptitle(f"What a user's sessions cost ({data['cores']} cores, {data['date'][:10]})")
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    print(f"drew {target}")


path = os.path.join(results, "sessions_per_user.json")
if os.path.exists(path):
    sessions_per_user(path, os.path.join(images, "perf-sessions-per-user.png"))
path = os.path.join(results, "keyspace.json")
if os.path.exists(path):
    keyspace(path, os.path.join(images, "perf-keyspace.png"))
