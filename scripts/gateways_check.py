"""The shipped gateway configurations (deploy/gateways/) run for real: nginx and Caddy in front of an
app that echoes what reached it (scripts/gateway_app.py), each asking the same authd instance; the
check logs in, logs out and changes roles on another instance. scripts/gateways runs it. For each
gateway:

- a live token reaches the app, with authd's identity headers (user, roles, session, expiry);
- a client's own X-Auth-Request-* headers never reach the app, with a token or without;
- no token, a malformed one, a refresh token and an expired one are refused with 401 and the RFC
  6750 challenge, and never reach the app;
- /admin/ requires the role admin: 403 without it (never reaching the app), 200 once granted
  (`authd roles add`), 403 again on the very next request once taken away (`authd roles remove`);
- /account/ requires a second factor: 401 insufficient_user_authentication (RFC 9470) for a
  password-only session, 200 once it steps up (codes from oathtool);
- DPoP (RFC 9449): a token bound to a joserfc key passes with a fresh proof for the URI the
  client addressed at the gateway, and is refused (401 `invalid_dpop_proof` or `invalid_token`) with
  the same proof again, as a bearer token, or with a proof for another host;
- ROUNDS logouts on the other instance, each checked through the gateway on the very next
  request (after two requests that warmed the verify cache when it is on): all 401;
- with --down (Redis or authd stopped by the caller): each gateway's --expect status (503 when
  authd cannot ask Redis; nginx 503 and Caddy 502 when authd is gone), never 200, and the app
  sees nothing.

    python3 scripts/gateways_check.py --gateway nginx=URL --gateway caddy=URL --other URL \
        --app-log FILE --authd BIN --env-file FILE [--rounds N] [--down --expect NAME=STATUS ...]
"""

import argparse
import base64
import hashlib
import authd_http
import json
import os
import subprocess
import sys
import time
import uuid

from joserfc import jws
from joserfc.jwk import ECKey

PASSWORD = "correct horse battery"


class Failure(Exception):
    pass


class Check:
    def __init__(self, options):
        self.options = options
        self.run = f"{os.getpid()}-{int(time.time())}"
        self.gateways = dict(entry.split("=", 1) for entry in options.gateway)
        self.count = 0

    def seen(self, marker):
        """What the app received with X-Test-Id `marker`, or None."""
        with open(self.options.app_log) as log:
            for line in log:
                received = json.loads(line)
                if received["headers"].get("x-test-id") == marker:
                    return received
        return None

    def through(self, gateway, path, token=None, headers=None, method="GET"):
        """A request through the gateway, marked; returns (reply, what the app saw or None)."""
        marker = uuid.uuid4().hex
        sent = {"x-test-id": marker, **(headers or {})}
        reply = authd_http.call(self.gateways[gateway], method, path, bearer=token, headers=sent)
        self.count += 1
        return reply, self.seen(marker)

    def expect(self, condition, text):
        if not condition:
            raise Failure(text)

    def allowed(self, gateway, path, token, user, roles="", headers=None):
        reply, seen = self.through(gateway, path, token, headers)
        self.expect(reply.status == 200, f"{gateway} {path}: {reply.status} {reply.raw[:200]!r}, expected 200")
        self.expect(seen is not None, f"{gateway} {path}: 200 but the app saw nothing")
        got = seen["headers"]
        self.expect(got.get("x-auth-request-user") == user, f"{gateway}: the app saw user {got.get('x-auth-request-user')!r}")
        self.expect(
            got.get("x-auth-request-preferred-username") == user, f"{gateway}: preferred username {got!r}")
        self.expect(got.get("x-auth-request-groups", "") == roles, f"{gateway}: groups {got.get('x-auth-request-groups')!r}, expected {roles!r}")
        return got

    def refused(self, gateway, path, token, status, challenge=None, headers=None):
        reply, seen = self.through(gateway, path, token, headers)
        self.expect(reply.status == status, f"{gateway} {path}: {reply.status}, expected {status}")
        self.expect(seen is None, f"{gateway} {path}: refused with {status}, yet the app saw it")
        if challenge:
            got = reply.headers.get("www-authenticate") or ""
            self.expect(challenge in got, f"{gateway} {path}: WWW-Authenticate {got!r} lacks {challenge!r}")

    def operate(self, *arguments):
        done = subprocess.run(
            [self.options.authd, *arguments, "--env-file", self.options.env_file], capture_output=True, text=True,
            timeout=60)
        self.expect(done.returncode == 0, f"authd {' '.join(arguments)}: {done.returncode} {done.stderr}")

    def login(self, user):
        reply = authd_http.call(self.options.other, "POST", "/login", {"username": user, "password": PASSWORD})
        self.expect(reply.status == 200, f"login {user}: {reply.status} {reply.raw!r}")
        return reply.json

    def step_up(self, access):
        """Enrols a TOTP factor for the session's user, and returns a step-up's access token."""
        call = lambda method, path, body: authd_http.call(self.options.other, method, path, body, bearer=access)
        begun = call("POST", "/mfa/totp", {"password": PASSWORD})
        self.expect(begun.status == 200, f"enrolment: {begun.status} {begun.raw!r}")
        code = subprocess.run(
            ["oathtool", "--totp", "--base32", begun.json["secret"]], capture_output=True, text=True, check=True,
            timeout=30).stdout.strip()
        confirmed = call("POST", "/mfa/totp/confirm", {"code": code})
        self.expect(confirmed.status == 200, f"confirmation: {confirmed.status} {confirmed.raw!r}")
        # The confirmation spent this step's code: a recovery code steps up at once.
        stepped = call("POST", "/mfa/step-up", {"recovery_code": confirmed.json["recovery_codes"][0]})
        self.expect(stepped.status == 200, f"step-up: {stepped.status} {stepped.raw!r}")
        return stepped.json["accessToken"]

    def dpop(self, gateway):
        """A DPoP-bound token through the gateway: the proof is for the gateway's URI."""
        key = ECKey.generate_key("P-256")

        def proof(method, url, token=None):
            claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
            if token:
                digest = hashlib.sha256(token.encode()).digest()
                claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
            return jws.serialize_compact(header, json.dumps(claims), key, algorithms=["ES256"])

        user = self.user(f"{gateway}-dpop")
        issuer = authd_http.call(self.options.other, "GET", "/.well-known/oauth-authorization-server").json["issuer"]
        reply = authd_http.call(
            self.options.other, "POST", "/login", {"username": user, "password": PASSWORD},
            headers={"dpop": proof("POST", issuer + "/login")})
        self.expect(reply.status == 200 and reply.json["tokenType"] == "DPoP", f"DPoP login: {reply.raw!r}")
        access = reply.json["accessToken"]
        url = self.gateways[gateway] + "/orders"
        good = {"authorization": f"DPoP {access}", "dpop": proof("GET", url, access)}
        self.allowed(gateway, "/orders?page=2", None, user, headers=good)
        self.refused(gateway, "/orders", None, 401, 'error="invalid_dpop_proof"', headers=good)
        self.refused(gateway, "/orders", access, 401, 'error="invalid_token"')
        elsewhere = {"authorization": f"DPoP {access}", "dpop": proof("GET", "http://elsewhere.example/orders", access)}
        self.refused(gateway, "/orders", None, 401, 'error="invalid_dpop_proof"', headers=elsewhere)

    def user(self, name):
        user = f"gw-{name}-{self.run}"
        reply = authd_http.call(self.options.other, "POST", "/users", {"username": user, "password": PASSWORD})
        self.expect(reply.status == 201, f"sign-up {user}: {reply.status}")
        return user

    def gateway(self, gateway, expiring):
        user = self.user(gateway)
        pair = self.login(user)
        access, refresh = pair["accessToken"], pair["refreshToken"]
        me = authd_http.call(self.options.other, "GET", "/me", bearer=access).json

        got = self.allowed(gateway, "/hello?x=1", access, user)
        self.expect(got.get("x-auth-request-session-id") == me["sessionId"], f"{gateway}: session id {got!r}")
        self.expect(got.get("x-auth-request-expires") == str(me["expiresAt"]), f"{gateway}: expiry {got!r}")

        forged = {
            "X-Auth-Request-User": "root", "X-Auth-Request-Groups": "admin", "X-Auth-Request-Email": "root@example",
            "X-Auth-Request-Session-Id": "forged", "X-Auth-Request-Access-Token": "forged",
        }
        got = self.allowed(gateway, "/hello", access, user, headers=forged)
        for name in ("x-auth-request-email", "x-auth-request-access-token"):
            self.expect(name not in got, f"{gateway}: the client's {name} reached the app")
        self.expect(got.get("x-auth-request-session-id") == me["sessionId"], f"{gateway}: forged session id passed")
        self.refused(gateway, "/hello", None, 401, 'Bearer realm="authd"', headers=forged)

        self.refused(gateway, "/hello", "not.a.token", 401, 'error="invalid_token"')
        self.refused(gateway, "/hello", refresh, 401, 'error="invalid_token"')

        # Roles: /admin/ requires admin.
        self.refused(gateway, "/admin/panel", access, 403, 'error="insufficient_scope"')
        self.operate("roles", "add", user, "admin")
        self.allowed(gateway, "/admin/panel", access, user, roles="admin")
        self.allowed(gateway, "/hello", access, user, roles="admin")
        self.operate("roles", "remove", user, "admin")
        self.refused(gateway, "/admin/panel", access, 403, 'error="insufficient_scope"')
        self.allowed(gateway, "/hello", access, user)

        self.dpop(gateway)

        # Logouts on the other instance, each refused at the gateway on the very next request.
        for round in range(self.options.rounds):
            pair = self.login(user)
            for _ in range(2):
                self.allowed(gateway, f"/warm/{round}", pair["accessToken"], user)
            reply = authd_http.call(self.options.other, "DELETE", "/logout", {"token": pair["refreshToken"]})
            self.expect(reply.status == 204, f"logout: {reply.status}")
            self.refused(gateway, f"/after-logout/{round}", pair["accessToken"], 401, 'error="invalid_token"')

        # A second factor (last: a login then needs a code): /account/ asks for one; the session enrols (oathtool's code) and steps up.
        self.refused(gateway, "/account/keys", access, 401, 'error="insufficient_user_authentication"')
        stepped = self.step_up(access)
        self.allowed(gateway, "/account/keys", stepped, user)
        self.refused(gateway, "/account/keys", access, 401, 'error="insufficient_user_authentication"')

        # Expired: a token from the start of the run, once its expiry has passed.
        wait = expiring["expiresAt"] + 1 - time.time()
        if wait > 0:
            time.sleep(wait)
        self.refused(gateway, "/hello", expiring["accessToken"], 401, "access token expired")

    def down(self, gateway, token, status):
        self.refused(gateway, "/hello", token, status)
        self.refused(gateway, "/admin/panel", token, status)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gateway", action="append", required=True, help="NAME=URL")
    parser.add_argument("--other", required=True, help="another authd instance of the deployment")
    parser.add_argument("--app-log", required=True)
    parser.add_argument("--authd", required=True)
    parser.add_argument("--env-file", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--down", action="store_true")
    parser.add_argument("--expect", action="append", default=[], help="NAME=STATUS, with --down")
    parser.add_argument("--token-file", help="where a live token is kept for --down")
    options = parser.parse_args()
    check = Check(options)
    try:
        if options.down:
            with open(options.token_file) as file:
                token = file.read().strip()
            expected = {name: int(status) for name, status in (entry.split("=") for entry in options.expect)}
            for gateway in check.gateways:
                check.down(gateway, token, expected[gateway])
            print(f"  ok: {', '.join(f'{name} {status}' for name, status in expected.items())}; "
                  f"the app saw none of {check.count} requests")
            return 0
        # The expiry check's token first: its 10 s run out while the rest is checked.
        expiring = {name: check.login(check.user(f"{name}-expiring")) for name in check.gateways}
        for name, pair in expiring.items():
            me = authd_http.call(options.other, "GET", "/me", bearer=pair["accessToken"]).json
            pair["expiresAt"] = me["expiresAt"]
        for gateway in check.gateways:
            started = time.monotonic()
            check.gateway(gateway, expiring[gateway])
            print(f"  {gateway}: ok ({options.rounds} logouts refused on the next request; "
                  f"{time.monotonic() - started:.1f} s)")
        if options.token_file:
            with open(options.token_file, "w") as file:
                file.write(check.login(check.user("kept"))["accessToken"])
    except Failure as failure:
        print(f"FAILED: {failure}")
        return 1
    print(f"  ok: {check.count} requests through {', '.join(check.gateways)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
