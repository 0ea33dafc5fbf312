"""What one user, one session and each operation cost Redis and authd: the inputs of docs/CAPACITY.md.

    AUTHD_LOGIN_THROTTLE=false Benchmarks/service.sh capacity

Run by Benchmarks/service.sh (as `python3 Benchmarks/capacity.py AUTHD_PORT REDIS_PORT AUTHD_PID`),
which starts a release build of authd and a throwaway Redis. It signs up users from several loopback addresses (sign-ups are limited per
address), logs each in three times, then reads:
- `MEMORY USAGE` of every key of each kind, and `used_memory` before and after;
- `INFO commandstats` around each operation run N times: Redis commands per operation (those a
  Lua script runs included), and `INFO cpu` for the CPU time of the whole redis-server, its
  network work included (microsecond resolution);
- authd's own CPU time (utime + stime from /proc) around the same N operations, one at a time,
  each on a new connection, so with no batching: an upper bound next to the wrk figures of
  the load scenarios, which are the ones to plan with.
"""

import http.client
import json
import os
import subprocess
import sys
import uuid

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "scripts"))
import authd_http  # noqa: E402  (scripts/authd_http.py)

authd_port, redis_port, authd_pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
USERS, SESSIONS, N = 300, 3, 900
PASSWORD = "correct horse battery"
TICKS = os.sysconf("SC_CLK_TCK")


def redis(*args):
    out = subprocess.run(["redis-cli", "-p", str(redis_port), *map(str, args)], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def call(method, path, body=None, bearer=None, address="127.0.0.1"):
    reply = authd_http.call(
        f"http://127.0.0.1:{authd_port}", method, path, body, bearer=bearer, timeout=60, source_address=address)
    return reply.status, reply.json


def authd_cpu_seconds():
    fields = open(f"/proc/{authd_pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def commandstats():
    stats = {}
    for line in redis("info", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, values = line[len("cmdstat_"):].split(":", 1)
            parts = dict(item.split("=") for item in values.split(","))
            stats[name] = (int(parts["calls"]), int(parts["usec"]))
    return stats


def redis_cpu_seconds():
    info = dict(line.split(":", 1) for line in redis("info", "cpu").splitlines() if ":" in line)
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def measure(name, operations):
    """Runs the operations (callables), and prints Redis commands, Redis CPU and authd CPU per op."""
    redis("config", "resetstat")
    before = (authd_cpu_seconds(), redis_cpu_seconds())
    for operation in operations:
        operation()
    after = (authd_cpu_seconds(), redis_cpu_seconds())
    authd_us = (after[0] - before[0]) * 1e6 / len(operations)
    redis_us = (after[1] - before[1]) * 1e6 / len(operations)
    stats = {k: v for k, v in commandstats().items() if not k.startswith(("config", "info"))}
    calls = sum(c for c, _ in stats.values()) / len(operations)
    detail = ", ".join(f"{k} {c / len(operations):.2f}" for k, (c, _) in sorted(stats.items()))
    print(f"{name:8} redis commands/op {calls:5.2f}  redis CPU µs/op {redis_us:6.1f}  authd CPU µs/op {authd_us:6.0f}  ({detail})")


def used_memory():
    return int(dict(line.split(":", 1) for line in redis("info", "memory").splitlines() if ":" in line)["used_memory"])


run = uuid.uuid4().hex[:6]
names = [f"cap{run}{i:03d}" for i in range(USERS)]
memory_before = used_memory()
for index, name in enumerate(names):
    status, _ = call("POST", "/users", {"username": name, "password": PASSWORD}, address=f"127.0.0.{2 + index // 15}")
    assert status == 201, status
memory_users = used_memory()

sessions = []


def log_in(name):
    def run_once():
        status, body = call("POST", "/login", {"username": name, "password": PASSWORD})
        assert status == 200, status
        sessions.append(body)
    return run_once


measure("login", [log_in(name) for name in names for _ in range(SESSIONS)])
memory_sessions = used_memory()

print()
print(f"used_memory: +{(memory_users - memory_before) / USERS:.0f} B per user (no session), "
      f"+{(memory_sessions - memory_users) / (USERS * SESSIONS):.0f} B per session")
for kind, pattern in [("user", "authd:user:*"), ("sessions index", "authd:sessions:*"), ("session", "authd:session:*")]:
    keys = [k for k in redis("--scan", "--pattern", pattern).splitlines() if run in k]
    sizes = [int(redis("memory", "usage", k)) for k in keys]
    print(f"MEMORY USAGE {kind:15} {len(keys):4} keys, mean {sum(sizes) / len(sizes):6.0f} B, max {max(sizes)} B")
print()

tokens = sessions[:N]
measure("verify", [lambda t=t: call("GET", "/me", bearer=t["accessToken"]) for t in tokens])


def refresh(token):
    def run_once():
        status, body = call("POST", "/token", {"token": token["refreshToken"]})
        assert status == 200, status
        token.update(body)
    return run_once


measure("refresh", [refresh(t) for t in tokens])
measure("logout", [lambda t=t: call("DELETE", "/logout", {"token": t["refreshToken"]}) for t in tokens])
