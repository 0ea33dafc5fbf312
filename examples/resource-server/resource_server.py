"""A resource server that verifies authd's access tokens offline, and drops ended sessions at once.

It checks each token's signature against authd's JWKS, its issuer, audience and expiry (PyJWT),
with no call to authd per request. Alone, that would accept a logged-out session's tokens until
they expire. So a thread polls authd's revocation feed (RFC 8936; Security Event Tokens, RFC 8417,
with the CAEP `session-revoked` and `credential-change` types), verifies each SET with the same
JWKS, and keeps a denylist of ended sessions for as long as their tokens could live. The denylist
is written to STATE_FILE before the SETs are acknowledged, so a restart loses nothing.

It fails closed: when the feed has not been read for STALE_AFTER seconds (authd or the network
down), every request gets 503 rather than a token that may have been revoked meanwhile.

    AUTHD_URL=http://127.0.0.1:3000 FEED_CLIENT_ID=orders FEED_CLIENT_SECRET=... \
        python3 resource_server.py

Environment:
    AUTHD_URL           where authd is (default http://127.0.0.1:3000)
    AUTHD_ISSUER        the tokens' `iss` (default AUTHD_URL)
    AUTHD_AUDIENCE      the tokens' `aud` this server accepts (default authd)
    FEED_CLIENT_ID, FEED_CLIENT_SECRET
                        a client of authd's allowed to introspect (`authd clients add ID --may
                        introspect`): the feed's receiver
    PORT                where this server listens (default 8081)
    STATE_FILE          the denylist, kept across restarts (default denylist.json)
    TOKEN_LIFETIME      the longest an access token lives, AUTHD_ACCESS_TOKEN_TTL plus the clock
                        leeway (default 930 s): how long an entry is kept
    STALE_AFTER         seconds without a successful poll before refusing everything (default 10)

GET /resource with `Authorization: Bearer <access token>`: 200 {"sub", "sid"}, 401 for a bad or
ended token, 503 when the feed is stale.
"""

import base64
import json
import os
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

AUTHD = os.environ.get("AUTHD_URL", "http://127.0.0.1:3000").rstrip("/")
ISSUER = os.environ.get("AUTHD_ISSUER", AUTHD)
AUDIENCE = os.environ.get("AUTHD_AUDIENCE", "authd")
CLIENT_ID = os.environ["FEED_CLIENT_ID"]
CLIENT_SECRET = os.environ["FEED_CLIENT_SECRET"]
STATE_FILE = os.environ.get("STATE_FILE", "denylist.json")
TOKEN_LIFETIME = int(os.environ.get("TOKEN_LIFETIME", "930"))
STALE_AFTER = float(os.environ.get("STALE_AFTER", "10"))
ALGORITHMS = ["ES256", "RS256", "EdDSA"]
SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
CREDENTIAL_CHANGE = "https://schemas.openid.net/secevent/caep/event-type/credential-change"

keys = jwt.PyJWKClient(AUTHD + "/.well-known/jwks.json", cache_keys=True, lifespan=300)


def verified(token, types, audience, required):
    """The claims of a JWT signed by a key of authd's JWKS, of one of these `typ`s, for `audience`."""
    if jwt.get_unverified_header(token).get("typ", "").lower() not in types:
        raise ValueError(f"not a {' or '.join(types)}")
    return jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token).key,
        algorithms=ALGORITHMS,
        audience=audience,
        issuer=ISSUER,
        options={"require": required},
    )


class Denylist:
    """Ended sessions, and users all of whose tokens up to a time are revoked, each kept until no
    token it covers can still be valid."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.sessions = {}  # "sub|sid" -> keep until
        self.users = {}  # sub -> [[revoked at, kept session or None, keep until]]
        if os.path.exists(path):
            with open(path) as file:
                state = json.load(file)
            self.sessions, self.users = state["sessions"], state["users"]

    def refuses(self, claims):
        with self.lock:
            if f"{claims['sub']}|{claims.get('sid')}" in self.sessions:
                return True
            # A token issued in the second of a revocation is refused too: it may predate it.
            return any(
                claims["iat"] <= at and claims.get("sid") != kept for at, kept, _ in self.users.get(claims["sub"], [])
            )

    def apply(self, claims):
        """Takes one verified SET's event."""
        subject, events = claims["sub_id"], claims["events"]
        user = subject["user"] if subject.get("format") == "complex" else subject
        sub = user["sub"]
        session = subject.get("session", {}).get("id")
        until = time.time() + TOKEN_LIFETIME
        with self.lock:
            for kind, event in events.items():
                if kind == SESSION_REVOKED and session:
                    self.sessions[f"{sub}|{session}"] = until
                elif kind in (SESSION_REVOKED, CREDENTIAL_CHANGE):
                    kept = event.get("authd_kept_session") if kind == SESSION_REVOKED else None
                    self.users.setdefault(sub, []).append([event["event_timestamp"], kept, until])

    def save(self):
        now = time.time()
        with self.lock:
            self.sessions = {key: until for key, until in self.sessions.items() if until > now}
            self.users = {
                sub: [entry for entry in entries if entry[2] > now]
                for sub, entries in self.users.items()
                if any(entry[2] > now for entry in entries)
            }
            state = json.dumps({"sessions": self.sessions, "users": self.users})
        with open(self.path + ".tmp", "w") as file:
            file.write(state)
            file.flush()
            os.fsync(file.fileno())
        os.replace(self.path + ".tmp", self.path)


denylist = Denylist(STATE_FILE)
last_poll = 0.0  # when the feed was last read (0: not yet)


def poll_forever():
    """RFC 8936 long polls: acknowledge what was applied and saved, take what is new."""
    global last_poll
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    acks = []
    while True:
        try:
            body = json.dumps({"ack": acks, "maxEvents": 100, "returnImmediately": False}).encode()
            request = urllib.request.Request(
                AUTHD + "/sets/poll",
                data=body,
                method="POST",
                headers={"authorization": "Basic " + basic, "content-type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.load(response)
            applied = []
            for jti, token in answer["sets"].items():
                denylist.apply(verified(token, ("secevent+jwt",), CLIENT_ID, ["iat", "jti", "events", "sub_id"]))
                applied.append(jti)
            denylist.save()
            # Acknowledged in the next poll, once saved: a crash before that gets them again.
            acks = applied
            last_poll = time.time()
        except Exception as error:  # authd down, a bad answer: keep trying; the staleness check guards
            print(f"feed: {error}", flush=True)
            time.sleep(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/resource":
            return self.answer(404, {"error": "not_found"})
        if time.time() - last_poll > STALE_AFTER:
            return self.answer(
                503, {"error": "temporarily_unavailable", "error_description": "the revocation feed cannot be read"}
            )
        token = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
        try:
            # An access token (RFC 9068): a SET, which has no `exp`, never passes for one.
            claims = verified(token, ("at+jwt", "application/at+jwt"), AUDIENCE, ["exp", "iat", "sub", "sid"])
        except Exception:
            return self.answer(401, {"error": "invalid_token"})
        if denylist.refuses(claims):
            return self.answer(401, {"error": "invalid_token", "error_description": "session ended"})
        self.answer(200, {"sub": claims["sub"], "sid": claims["sid"]})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    threading.Thread(target=poll_forever, daemon=True).start()
    ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8081"))), Handler).serve_forever()
