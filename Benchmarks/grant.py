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
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sitting  # noqa: E402  (a sitting's runs and medians, with the shared driver's helpers)
from sitting import bench  # noqa: E402

url, authd, redis_port, env_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
bare_url, bare_pid = sys.argv[5], int(sys.argv[6])
rounds = int(os.environ.get("ROUNDS", 3))
duration = int(os.environ.get("BENCH_DURATION", 10))
connections = int(os.environ.get("BENCH_CONNECTIONS", 64))
here = os.path.dirname(os.path.abspath(__file__))

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
    return sitting.measure(script, arguments, target, redis_port, duration, connections, pids)


runs = {"bare floor": [], "grant": [], "verify, client's token (/forward-auth)": [],
        "verify, user's token (/forward-auth)": []}
for round_ in range(rounds):
    runs["bare floor"].append(measure("verify.lua", [token_file, "/"], target=bare_url, pids=[bare_pid]))
    runs["grant"].append(measure(os.path.join(here, "wrk", "client_credentials.lua"), [credentials]))
    runs["verify, client's token (/forward-auth)"].append(measure("verify.lua", [token_file, "/forward-auth"]))
    runs["verify, user's token (/forward-auth)"].append(measure("verify.lua", [user_file, "/forward-auth"]))
    sitting.report_round(runs, round_)
sitting.report_medians(runs, rounds, duration, connections)
