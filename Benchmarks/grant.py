"""The client-credentials grant under load, beside verify, in one sitting.

Registers a client (`authd clients add bench-svc-PID --may token`) and a user, then runs, ROUNDS
times, alternating: the bare NIOHTTP1 floor (a static 200), the grant
(Benchmarks/wrk/client_credentials.lua), and verify at GET /forward-auth with the grant's token and
with the user's, measuring the server's and Redis's CPU per request with the shared driver's own
helpers (Benchmarks/bench/bench.py). Prints the medians and their ratio to the floor.

    python3 Benchmarks/grant.py URL AUTHD_BIN REDIS_PORT ENV_FILE BARE_URL BARE_PID
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
import bench  # noqa: E402  (the shared driver: its wrk runner and CPU sampling)

url, authd, redis_port, env_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
bare_url, bare_pid = sys.argv[5], int(sys.argv[6])
rounds = int(os.environ.get("ROUNDS", 3))
duration = int(os.environ.get("BENCH_DURATION", 10))
connections = int(os.environ.get("BENCH_CONNECTIONS", 64))
here = os.path.dirname(os.path.abspath(__file__))
port = urllib.parse.urlsplit(url).port

issued = json.loads(subprocess.run(
    [authd, "clients", "add", f"bench-svc-{os.getpid()}", "--may", "token", "--json", "--env-file", env_file],
    check=True, capture_output=True, text=True).stdout)
tmp = tempfile.mkdtemp(prefix="grant-bench-")
credentials = os.path.join(tmp, "client.txt")
open(credentials, "w").write(f"{issued['client_id']}:{issued['client_secret']}\n")
request = urllib.request.Request(
    url + "/token", data=b"grant_type=client_credentials",
    headers={"Authorization": "Basic " + __import__("base64").b64encode(
        f"{issued['client_id']}:{issued['client_secret']}".encode()).decode()})
token_file = os.path.join(tmp, "token.txt")
open(token_file, "w").write(json.load(urllib.request.urlopen(request))["access_token"] + "\n")
user_file = os.path.join(tmp, "user.txt")
open(user_file, "w").write(bench.ensure_user(bench.Client(url), bench.VERIFY_USER)["accessToken"] + "\n")


def measure(script, arguments, target=url, pids=None):
    bench.run_wrk(target, script, arguments, 2, connections, 2, 30)  # warm-up
    time.sleep(0.5)
    servers, redis = bench.proc_tree(pids or bench.listening_pids(port)), bench.listening_pids(redis_port)
    s0, r0 = bench.sample(servers), bench.sample(redis)
    result = bench.run_wrk(target, script, arguments, duration, connections, 2, 30)
    s1, r1 = bench.sample(servers), bench.sample(redis)
    count = max(1, result["requests"])
    return {
        "rps": result["rps"], "non2xx": result["non2xx"], "p99_ms": result["lat_p99_us"] / 1000,
        "server_us": bench.delta_s(s0, s1) / count * 1e6, "redis_us": bench.delta_s(r0, r1) / count * 1e6,
    }


runs = {"bare floor": [], "grant": [], "verify, client's token (/forward-auth)": [],
        "verify, user's token (/forward-auth)": []}
for round_ in range(rounds):
    runs["bare floor"].append(measure("verify.lua", [token_file, "/"], target=bare_url, pids=[bare_pid]))
    runs["grant"].append(measure(os.path.join(here, "wrk", "client_credentials.lua"), [credentials]))
    runs["verify, client's token (/forward-auth)"].append(measure("verify.lua", [token_file, "/forward-auth"]))
    runs["verify, user's token (/forward-auth)"].append(measure("verify.lua", [user_file, "/forward-auth"]))
    for name, results in runs.items():
        last = results[-1]
        print(f"  round {round_ + 1} {name}: {last['rps']:.0f} req/s, server {last['server_us']:.1f} us/req, "
              f"redis {last['redis_us']:.1f} us/req, p99 {last['p99_ms']:.2f} ms, non-2xx {last['non2xx']}")
print(f"medians of {rounds} rounds ({duration} s, {connections} connections):")
floor = statistics.median(r["server_us"] for r in runs["bare floor"])
for name, results in runs.items():
    server = statistics.median(r["server_us"] for r in results)
    redis = statistics.median(r["redis_us"] for r in results)
    print(f"  {name:40} server {server:6.1f} us/req ({server / floor:.2f}x floor)  redis {redis:5.1f} us/req"
          f"  ({1e6 / server:,.0f} per CPU-second)  p99 {statistics.median(r['p99_ms'] for r in results):.2f} ms"
          f"  non-2xx {sum(r['non2xx'] for r in results)}")
