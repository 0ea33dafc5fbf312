"""Logout on one instance, verify on another at once, many times: how often a revoked session is
still accepted (stale accepts) and how soon every instance rejects it. Stdlib only.

    python3 Benchmarks/revocation.py --iterations N --label NAME LOGOUT_URL VERIFY_URL

Per iteration: a fresh session (logged in beforehand); two verifies on VERIFY_URL (the second from
the instance's cache when AUTHD_VERIFY_CACHE is on); then a thread verifies in a tight loop on
VERIFY_URL, on its own kept-alive connection, while the main thread sends the logout to
LOGOUT_URL. The loop stops at its first 401.

- stale accept: a verify sent after the logout's 204 was received, answered 200. Goal: none.
- to reject: from the logout sent to the first 401 received from VERIFY_URL (an upper bound on
  when the other instance turned); beside it, the logout's own round trip.
Through nginx both URLs are nginx's; X-Upstream says which instance served each, and only the
iterations whose logout and verifies went to different instances count as cross-instance.
"""
import argparse
import concurrent.futures
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "scripts"))
import authd_http  # noqa: E402  (scripts/authd_http.py)

PASSWORD = "correct horse battery staple"


class Client:
    def __init__(self, base):
        self.conn = authd_http.connect(base, timeout=10)

    def call(self, method, path, body=None, token=None):
        reply = authd_http.call(self.conn, method, path, body, bearer=token)
        return reply.status, reply.raw, reply.headers.get("X-Upstream")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--label", default="run")
    parser.add_argument("--redis-port", type=int, help="report Redis's CPU per logout (one Redis only)")
    parser.add_argument("logout_url")
    parser.add_argument("verify_url")
    args = parser.parse_args()

    # Sessions first: logins cost a password hash each, so they are made up front, in parallel,
    # spread over users (each under the per-user session cap).
    users = [f"rev-{uuid.uuid4().hex[:10]}" for _ in range(max(1, args.iterations // 50 + 1))]
    setup = Client(args.logout_url)
    for user in users:
        status, raw, _ = setup.call("POST", "/users", {"username": user, "password": PASSWORD})
        assert status == 201, (status, raw)

    def login(index):
        client = Client(args.logout_url)
        status, raw, _ = client.call("POST", "/login", {"username": users[index % len(users)], "password": PASSWORD})
        assert status == 200, (status, raw)
        body = json.loads(raw)
        return body["accessToken"], body["refreshToken"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(login, range(args.iterations)))

    def redis_cpu():
        if not args.redis_port:
            return 0.0
        out = subprocess.run(["redis-cli", "-p", str(args.redis_port), "INFO", "cpu"], capture_output=True,
                             text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        return float(fields["used_cpu_sys"]) + float(fields["used_cpu_user"])

    logout_client = Client(args.logout_url)
    verify_client = Client(args.verify_url)
    cpu_before = redis_cpu()
    stale = 0
    cross = 0
    to_reject = []
    logout_trip = []
    verifies_per_iteration = []
    for access, refresh in sessions:
        for _ in range(2):
            status, raw, _ = verify_client.call("GET", "/me", token=access)
            assert status == 200, (status, raw)
        seen = []  # (sent, received, status, upstream)
        started = threading.Event()

        def poll():
            while True:
                sent = time.perf_counter_ns()
                status, _, upstream = verify_client.call("GET", "/me", token=access)
                seen.append((sent, time.perf_counter_ns(), status, upstream))
                started.set()
                if status != 200:
                    return

        poller = threading.Thread(target=poll)
        poller.start()
        started.wait()
        logout_sent = time.perf_counter_ns()
        status, raw, logout_upstream = logout_client.call("DELETE", "/logout", {"token": refresh})
        logout_received = time.perf_counter_ns()
        assert status == 204, (status, raw)
        poller.join()
        assert seen[-1][2] == 401, seen[-1]
        stale += sum(1 for sent, _, status, _ in seen if status == 200 and sent > logout_received)
        if logout_upstream is None or any(up != logout_upstream for _, _, _, up in seen):
            cross += 1
        to_reject.append((seen[-1][1] - logout_sent) / 1000)
        logout_trip.append((logout_received - logout_sent) / 1000)
        verifies_per_iteration.append(len(seen))

    redis_us = (redis_cpu() - cpu_before) * 1e6 / len(sessions)

    def summary(values):
        return (f"p50 {statistics.median(values):.0f} µs, p99 {percentile(values, 99):.0f} µs, "
                f"max {max(values):.0f} µs")

    print(f"{args.label}: {len(sessions)} logouts, {cross} across instances; stale accepts: {stale}")
    print(f"  logout round trip:           {summary(logout_trip)}")
    print(f"  logout sent to first 401:    {summary(to_reject)}")
    print(f"  verifies in flight per logout: median {statistics.median(verifies_per_iteration):.0f}")
    if args.redis_port:
        print(f"  Redis CPU per iteration (the logout, its two warm-up verifies and the polling ones): "
              f"{redis_us:.0f} µs")
    print(json.dumps({"label": args.label, "logouts": len(sessions), "cross": cross, "stale": stale,
                      "to_reject_us": {"p50": statistics.median(to_reject), "p99": percentile(to_reject, 99),
                                       "max": max(to_reject)},
                      "logout_us": {"p50": statistics.median(logout_trip), "p99": percentile(logout_trip, 99),
                                    "max": max(logout_trip)}}))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
