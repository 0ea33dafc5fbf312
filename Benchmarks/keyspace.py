"""Issue 36, curve 1: verify and refresh as the keyspace grows. At each size (sessions already in
Redis: 0, 100k and 1M by default) it runs the shared `verify` and `refresh` scenarios
(Benchmarks/bench/bench.sh) ROUNDS times (3) and reads `used_memory`, then writes every figure
(each size's medians, and its rounds) to a JSON file.

    python3 Benchmarks/keyspace.py URL REDIS_PORT OUT.json [SIZE ...]

The sessions are filled fast and as logins write them: one real login's session hash and user
hash (`HGETALL`, every field a login writes) are copied under new names and ids, three sessions
a user, each with its index entry (`ZADD` to the user's sorted set, scored by the session's
expiry) and the login's TTLs, through `redis-cli --pipe` (about 4 commands a session).
"""

import json
import os
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sitting import bench  # noqa: E402  (the shared driver)

url, redis_port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sizes = [int(size) for size in sys.argv[4:]] or [0, 100_000, 1_000_000]
rounds = int(os.environ.get("ROUNDS", 3))
prefix = os.environ.get("AUTHD_KEY_PREFIX", "authd:")
here = os.path.dirname(os.path.abspath(__file__))


def redis(*command):
    done = subprocess.run(["redis-cli", "-p", str(redis_port), *map(str, command)], capture_output=True, text=True,
                          check=True)
    return done.stdout


def hgetall(key):
    lines = redis("HGETALL", key).splitlines()
    return dict(zip(lines[0::2], lines[1::2]))


def used_memory():
    for line in redis("INFO", "memory").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])


def resp(*parts):
    encoded = [str(part).encode() for part in parts]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in encoded)


# The templates: a real user and a real login of theirs.
template_user = "bench-keyspace"
bench.ensure_user(bench.Client(url), template_user)
user_fields = hgetall(f"{prefix}user:{{{template_user}}}")
session_ids = redis("ZRANGE", f"{prefix}sessions:{{{template_user}}}", 0, -1).split()
session_fields = hgetall(f"{prefix}session:{{{template_user}}}:{session_ids[0]}")
session_ttl = int(redis("TTL", f"{prefix}session:{{{template_user}}}:{session_ids[0]}"))
expiry = int(time.time()) + session_ttl
print(f"template: user hash {len(user_fields)} fields, session hash {len(session_fields)} fields, TTL {session_ttl} s")


def fill(start, end):
    """Sessions start..<end, three a user, as logins write them."""
    with subprocess.Popen(["redis-cli", "-p", str(redis_port), "--pipe"], stdin=subprocess.PIPE,
                          stdout=subprocess.DEVNULL) as pipe:
        batch = []
        for index in range(start, end):
            name = f"fill{index // 3:07d}"
            if index % 3 == 0:
                batch.append(resp("HSET", f"{prefix}user:{{{name}}}", *sum(user_fields.items(), ())))
            sid = uuid.uuid4().hex[:22]
            fields = dict(session_fields, rt=uuid.uuid4().hex[:22])
            key = f"{prefix}session:{{{name}}}:{sid}"
            batch.append(resp("HSET", key, *sum(fields.items(), ())))
            batch.append(resp("EXPIRE", key, session_ttl))
            batch.append(resp("ZADD", f"{prefix}sessions:{{{name}}}", expiry, sid))
            batch.append(resp("EXPIRE", f"{prefix}sessions:{{{name}}}", session_ttl))
            if len(batch) >= 20_000:
                pipe.stdin.write(b"".join(batch))
                batch = []
        pipe.stdin.write(b"".join(batch))


results = {"machine": os.uname().nodename, "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "sizes": []}
filled = 0
base_memory = used_memory()
for size in sizes:
    started = time.time()
    if size > filled:
        fill(filled, size)
        filled = size
    fill_s = time.time() - started
    # The fill's AOF rewrite, if it set one off, ends before the runs: it would take Redis's CPU.
    while any(line in ("aof_rewrite_in_progress:1", "aof_rewrite_scheduled:1")
              for line in redis("INFO", "persistence").splitlines()):
        time.sleep(1)
    keys = int(redis("DBSIZE"))
    memory = used_memory()
    row = {"sessions": size, "keys": keys, "used_memory": memory, "fill_s": round(fill_s, 1),
           "bytes_per_session": round((memory - base_memory) / size) if size else None}
    for scenario in ("verify", "refresh"):
        log = os.path.join(os.path.dirname(out) or ".", f".keyspace-{scenario}-{size}.jsonl")
        for _ in range(rounds):
            subprocess.run([os.path.join(here, "bench", "bench.sh"), url, scenario, "--redis-port", str(redis_port),
                            "--label", f"{scenario}-{size}", "--json-out", log, "--quiet"], check=True)
        with open(log) as lines:
            runs = [json.loads(line) for line in lines]
        os.remove(log)
        # Each figure the median of the rounds at this size; the rounds themselves are kept too.
        fields = ("rps", "server_cpu_us_per_req", "redis_cpu_us_per_req", "lat_p50_us", "lat_p99_us", "non2xx")
        row[scenario] = {name: statistics.median(run[name] for run in runs) for name in fields}
        row[scenario]["rounds"] = [{name: run[name] for name in fields} for run in runs]
    results["sizes"].append(row)
    print(f"{size:>9} sessions ({keys} keys, filled in {fill_s:.0f} s): used_memory {memory / 2**20:.1f} MiB"
          f" ({row['bytes_per_session'] or '-'} B/session); verify {row['verify']['server_cpu_us_per_req']:.1f} us"
          f" + Redis {row['verify']['redis_cpu_us_per_req']:.1f} us, p99 {row['verify']['lat_p99_us'] / 1000:.2f} ms;"
          f" refresh {row['refresh']['server_cpu_us_per_req']:.1f} us + Redis {row['refresh']['redis_cpu_us_per_req']:.1f} us,"
          f" p99 {row['refresh']['lat_p99_us'] / 1000:.2f} ms", flush=True)
with open(out, "w") as file:
    json.dump(results, file, indent=1)
    file.write("\n")
print(f"written: {out}")
