"""Issue 36, curve 2: what a user's session count costs. For users holding 1, 10 and 100 sessions
(100 is the cap, AUTHD_MAX_SESSIONS_PER_USER) it measures the sessions list (`GET /sessions`), a
login (at the cap it ends the oldest session), logout with scope `global` and a password change
(both end every session): authd's CPU per operation and Redis's time in
commands per operation (`INFO commandstats` usec, the scripts' own commands included), one
operation at a time. authd's CPU is its threads' run time from /proc's schedstat. Writes the figures to a JSON file.

    python3 Benchmarks/sessions_per_user.py AUTHD_PORT REDIS_PORT AUTHD_PID OUT.json [COUNT ...]

Run by Benchmarks/sessions_per_user.sh with AUTHD_LOGIN_THROTTLE=false. Each user logs in once for
real; its other sessions are that session's hash copied under new ids with their index entries
(what a login writes), so that a user with 100 sessions takes no 100 Argon2 hashes to make.
"""

import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "scripts"))
import authd_http  # noqa: E402  (scripts/authd_http.py)

authd_port, redis_port, authd_pid, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
counts = [int(count) for count in sys.argv[5:]] or [1, 10, 100]
USERS = int(os.environ.get("USERS", 20))  # per count: half log out everywhere, half change password
LISTS = 10  # sessions lists per user
PASSWORD, NEW_PASSWORD = "correct horse battery", "a brand new passphrase"
PREFIX = "authd:"


def redis(*args):
    return subprocess.run(["redis-cli", "-p", str(redis_port), *map(str, args)], check=True, capture_output=True,
                          text=True).stdout.strip()


def call(method, path, body=None, bearer=None, address="127.0.0.1"):
    reply = authd_http.call(f"http://127.0.0.1:{authd_port}", method, path, body, bearer=bearer, timeout=60,
                            source_address=address)
    return reply.status, reply.json


def authd_cpu():
    """Seconds on a CPU of all authd's threads, in nanoseconds' resolution (schedstat): /proc's
    utime and stime count 10 ms ticks, too coarse for ten logouts."""
    total = 0
    for task in os.listdir(f"/proc/{authd_pid}/task"):
        try:
            total += int(open(f"/proc/{authd_pid}/task/{task}/schedstat").read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def redis_usec():
    total = 0
    for line in redis("info", "commandstats").splitlines():
        if line.startswith("cmdstat_") and not line.startswith(("cmdstat_info", "cmdstat_config")):
            total += int(dict(item.split("=") for item in line.split(":", 1)[1].split(","))["usec"])
    return total


def measure(operations):
    """authd CPU µs and Redis command µs per operation, over the operations run one at a time."""
    redis("config", "resetstat")
    before = authd_cpu()
    for operation in operations:
        operation()
    return {"authd_us": round((authd_cpu() - before) * 1e6 / len(operations), 1),
            "redis_us": round(redis_usec() / len(operations), 1), "operations": len(operations)}


def expect(status, wanted, what):
    if status != wanted:
        raise SystemExit(f"{what}: {status}, expected {wanted}")


def user_with_sessions(name, count, address):
    expect(call("POST", "/users", {"username": name, "password": PASSWORD}, address=address)[0], 201, "sign-up")
    status, tokens = call("POST", "/login", {"username": name, "password": PASSWORD}, address=address)
    expect(status, 200, "login")
    sid = call("GET", "/me", bearer=tokens["accessToken"])[1]["sessionId"]
    key = f"{PREFIX}session:{{{name}}}:{sid}"
    fields = redis("hgetall", key).splitlines()
    ttl, score = redis("ttl", key), redis("zscore", f"{PREFIX}sessions:{{{name}}}", sid)
    commands = []
    for _ in range(count - 1):
        copy = uuid.uuid4().hex[:22]
        commands.append(["hset", f"{PREFIX}session:{{{name}}}:{copy}", *fields])
        commands.append(["expire", f"{PREFIX}session:{{{name}}}:{copy}", ttl])
        commands.append(["zadd", f"{PREFIX}sessions:{{{name}}}", score, copy])
    if commands:
        subprocess.run(["redis-cli", "-p", str(redis_port)], input="\n".join(" ".join(c) for c in commands),
                       text=True, check=True, capture_output=True)
    return tokens


results = {"machine": os.uname().nodename, "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "users_per_count": USERS, "counts": []}
for count in counts:
    run = uuid.uuid4().hex[:6]
    users = []
    for index in range(USERS):
        # Sign-ups are limited per address: each user from an address of its own.
        address = f"127.0.{count % 250}.{index + 2}"
        name = f"spu-{run}-{index}"
        users.append((name, address, user_with_sessions(name, count, address)))
    held = int(redis("zcard", f"{PREFIX}sessions:{{{users[0][0]}}}"))
    row = {"sessions": count, "held": held}
    row["list"] = measure([lambda u=u: expect(call("GET", "/sessions", bearer=u[2]["accessToken"])[0], 200, "list")
                           for u in users for _ in range(LISTS)])
    row["login"] = measure([lambda u=u: expect(call("POST", "/login", {"username": u[0], "password": PASSWORD},
                                                    address=u[1])[0], 200, "login") for u in users])
    half = USERS // 2
    row["logout_global"] = measure([
        lambda u=u: expect(call("POST", "/logout", {"scope": "global"}, bearer=u[2]["accessToken"])[0], 204, "logout")
        for u in users[:half]])
    row["password_change"] = measure([
        lambda u=u: expect(call("POST", "/password", {"oldPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                                bearer=u[2]["accessToken"], address=u[1])[0], 204, "password")
        for u in users[half:]])
    results["counts"].append(row)
    print(f"{count:>4} sessions a user ({held} held): " + "; ".join(
        f"{name} authd {row[name]['authd_us']:.0f} us, Redis {row[name]['redis_us']:.1f} us"
        for name in ("list", "login", "logout_global", "password_change")), flush=True)
with open(out, "w") as file:
    json.dump(results, file, indent=1)
    file.write("\n")
print(f"written: {out}")
