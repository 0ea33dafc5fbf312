"""The revocation feed and the example resource server, beside a running authd (scripts/feed).

1. The feed's refusals: a poll without client credentials (401), with a wrong secret (401), and
   one acknowledging a SET delivered to another client (400, and nothing is acknowledged: the
   other client still gets it).
2. The resource server (examples/resource-server/, PyJWT and the JWKS, no call to authd per
   request) accepts a fresh token; 8 clients at once then log in, check a token there, log out on
   authd and time how long until the resource server refuses it: p50 and p99 over LOGOUTS.
3. It is restarted (the state file kept), a session is logged out while it is down: every revoked
   token sampled is still refused after the restart, the one of the logout it missed too.
4. authd is stopped: the resource server refuses (503) within its STALE_AFTER, plus margin.

    python3 scripts/feed_check.py --authd URL --authd-bin BIN --authd-pid PID --resource-port PORT \
        --state FILE [--logouts N]
"""

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time

from authd_http import call

PASSWORD = "correct horse battery"
STALE_AFTER = 3


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def basic(client, secret):
    return {"authorization": "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()}


def poll(authd, headers, body):
    return call(authd, "POST", "/sets/poll", body=body, headers=headers)


def add_client(args, name):
    out = subprocess.run(
        [args.authd_bin, "clients", "add", name, "--may", "introspect", "--json", "--env-file", args.env_file],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["client_secret"]


def wait_until(what, seconds, condition):
    """Waits for `condition`, checking every 10 ms; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.01)
    fail(f"{what} not within {seconds} s")


def login(authd, user):
    reply = call(authd, "POST", "/login", {"username": user, "password": PASSWORD})
    if reply.status != 200:
        fail(f"login of {user}: {reply.status} {reply.raw[:200]}")
    return reply.json


def refusals(args):
    rs_secret = add_client(args, "orders")
    other_secret = add_client(args, "other")
    for headers, why in (({}, "no credentials"), (basic("orders", "wrong" * 9), "a wrong secret")):
        reply = poll(args.authd, headers, {"returnImmediately": True})
        if reply.status != 401 or reply.json.get("error") != "invalid_client":
            fail(f"a poll with {why}: {reply.status} {reply.raw[:200]}")
    print("feed: a poll without credentials, or with a wrong secret: 401 invalid_client")
    call(args.authd, "POST", "/users", {"username": "probe", "password": PASSWORD})
    tokens = login(args.authd, "probe")
    call(args.authd, "DELETE", "/logout", {"token": tokens["refreshToken"]})
    mine = poll(args.authd, basic("orders", rs_secret), {"returnImmediately": True, "maxEvents": 10}).json["sets"]
    if len(mine) != 1:
        fail(f"the logout's SET: {mine}")
    jti = next(iter(mine))
    reply = poll(args.authd, basic("other", other_secret), {"returnImmediately": True, "ack": [jti]})
    if reply.status != 400 or reply.json.get("error") != "invalid_request":
        fail(f"another client's acknowledgement: {reply.status} {reply.raw[:200]}")
    again = poll(args.authd, basic("orders", rs_secret), {"returnImmediately": True}).json["sets"]
    if list(again) != [jti]:
        fail(f"after another client's acknowledgement, orders's SET should still be pending: {again}")
    print("feed: another client's acknowledgement: 400 invalid_request, and nothing acknowledged")
    return rs_secret


class ResourceServer:
    def __init__(self, args, secret):
        self.args, self.secret, self.process = args, secret, None
        self.url = f"http://127.0.0.1:{args.resource_port}"

    def start(self):
        env = dict(os.environ, AUTHD_URL=self.args.authd, FEED_CLIENT_ID="orders", FEED_CLIENT_SECRET=self.secret,
                   PORT=str(self.args.resource_port), STATE_FILE=self.args.state, STALE_AFTER=str(STALE_AFTER),
                   TOKEN_LIFETIME="630")
        env.pop("AUTHD_ISSUER", None)
        self.process = subprocess.Popen([sys.executable, "examples/resource-server/resource_server.py"], env=env)
        wait_until("the resource server", 30, lambda: self.status("x") in (401, 503))
        wait_until("the resource server's first poll", 30, lambda: self.status("x") == 401)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)

    def status(self, token):
        try:
            return call(self.url, "GET", "/resource", bearer=token, timeout=10).status
        except OSError:
            return None


def logouts(args, server, count, threads=8):
    latencies, revoked, errors = [], [], []
    lock = threading.Lock()

    def client(index):
        user = f"user{index}"
        call(args.authd, "POST", "/users", {"username": user, "password": PASSWORD})
        for _ in range(count // threads):
            try:
                tokens = login(args.authd, user)
                if server.status(tokens["accessToken"]) != 200:
                    raise RuntimeError("a fresh token refused")
                if call(args.authd, "DELETE", "/logout", {"token": tokens["refreshToken"]}).status != 204:
                    raise RuntimeError("logout")
                start = time.monotonic()
                while server.status(tokens["accessToken"]) != 401:
                    if time.monotonic() - start > 30:
                        raise RuntimeError("a logged-out token still accepted after 30 s")
                    time.sleep(0.002)
                with lock:
                    latencies.append(time.monotonic() - start)
                    revoked.append(tokens["accessToken"])
            except Exception as error:
                with lock:
                    errors.append(str(error))
                return

    workers = [threading.Thread(target=client, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        fail(f"{len(errors)} clients failed: {errors[:3]}")
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"resource server: {len(latencies)} logouts on authd refused there after p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    return revoked


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--authd", required=True)
    parser.add_argument("--authd-bin", required=True)
    parser.add_argument("--authd-pid", type=int, required=True)
    parser.add_argument("--resource-port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--logouts", type=int, default=600)
    parser.add_argument("--env-file", default="/dev/null")
    args = parser.parse_args()

    secret = refusals(args)
    server = ResourceServer(args, secret)
    server.start()
    try:
        revoked = logouts(args, server, args.logouts)

        # A restart, with a logout while it is down.
        server.stop()
        missed = login(args.authd, "user0")
        call(args.authd, "DELETE", "/logout", {"token": missed["refreshToken"]})
        server.start()
        sample = revoked[:: max(1, len(revoked) // 50)] + [missed["accessToken"]]
        wait_until("the missed logout after the restart", 30, lambda: server.status(missed["accessToken"]) == 401)
        accepted = [token for token in sample if server.status(token) != 401]
        if accepted:
            fail(f"{len(accepted)} of {len(sample)} revoked tokens accepted after the restart")
        print(f"resource server restarted: {len(sample)} revoked tokens still refused, "
              "the logout made while it was down too")

        # Fails closed.
        live = login(args.authd, "user1")["accessToken"]
        if server.status(live) != 200:
            fail("a live token refused before authd stops")
        os.kill(args.authd_pid, signal.SIGTERM)
        took = wait_until("503 with authd down", STALE_AFTER + 30, lambda: server.status(live) == 503)
        print(f"authd stopped: the resource server refuses every token (503) after {took:.1f} s "
              f"(STALE_AFTER={STALE_AFTER})")
    finally:
        server.stop()
    print("feed: ok")


if __name__ == "__main__":
    main()
