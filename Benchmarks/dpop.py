"""Verify with a DPoP proof (RFC 9449) beside bearer verify and the bare floor, in one sitting.

Logs a user in with a proof of an ES256 key and of an Ed25519 key (the tokens are bound to them) and
once without (a bearer token), then runs, ROUNDS times, alternating: the bare NIOHTTP1 floor, bearer
verify (GET /me), and DPoP verify with each key, every request carrying a proof of its own
(Benchmarks/wrk/dpop.lua: made here in advance with the `cryptography` package, each used once).
Measures the server's and Redis's CPU per request with the shared driver's helpers
(Benchmarks/sitting.py) and prints the medians and their ratio to the floor.

    python Benchmarks/dpop.py URL REDIS_PORT BARE_URL BARE_PID
"""

import base64
import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.request
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sitting  # noqa: E402  (a sitting's runs and medians, with the shared driver's helpers)
from sitting import bench  # noqa: E402

url, redis_port, bare_url, bare_pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rounds = int(os.environ.get("ROUNDS", 3))
duration = int(os.environ.get("BENCH_DURATION", 5))
connections = int(os.environ.get("BENCH_CONNECTIONS", 64))
# Proofs per DPoP run: enough for 20000 req/s over the run (a run that uses them all reports 401s).
proofs_per_run = int(os.environ.get("DPOP_PROOFS", 20000 * duration))
here = os.path.dirname(os.path.abspath(__file__))
issuer = json.load(urllib.request.urlopen(url + "/.well-known/oauth-authorization-server"))["issuer"].rstrip("/")
tmp = tempfile.mkdtemp(prefix="dpop-bench-")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    def __init__(self, alg):
        self.alg = alg
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            numbers = self.private.public_key().public_numbers()
            self.jwk = {"crv": "P-256", "kty": "EC", "x": b64(numbers.x.to_bytes(32, "big")),
                        "y": b64(numbers.y.to_bytes(32, "big"))}
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            raw = self.private.public_key().public_bytes_raw()
            self.jwk = {"crv": "Ed25519", "kty": "OKP", "x": b64(raw)}
        self.header = b64(json.dumps({"typ": "dpop+jwt", "alg": alg, "jwk": self.jwk}).encode())

    def sign(self, data):
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private.sign(data)

    def proof(self, method, path, token=None, iat=None):
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": issuer + path, "iat": iat or int(time.time())}
        if token:
            claims["ath"] = b64(hashlib.sha256(token.encode()).digest())
        data = self.header + "." + b64(json.dumps(claims).encode())
        return data + "." + b64(self.sign(data.encode()))


def log_in(user, key=None):
    bench.ensure_user(bench.Client(url), user)  # registers the user when needed
    headers = {"Content-Type": "application/json"}
    if key:
        headers["DPoP"] = key.proof("POST", "/login")
    body = json.dumps({"username": user, "password": bench.BENCH_PASSWORD}).encode()
    answer = json.load(urllib.request.urlopen(urllib.request.Request(url + "/login", data=body, headers=headers)))
    assert answer["tokenType"] == ("DPoP" if key else "Bearer"), answer["tokenType"]
    path = os.path.join(tmp, f"token-{key.alg if key else 'bearer'}.txt")
    open(path, "w").write(answer["accessToken"] + "\n")
    return answer["accessToken"], path


keys = {alg: Key(alg) for alg in ("ES256", "EdDSA")}
bearer_file = log_in(bench.VERIFY_USER)[1]
bound = {alg: log_in(f"bench-dpop-{alg.lower()}", key) for alg, key in keys.items()}


def measure(script, arguments, target=url, pids=None, warm=True):
    return sitting.measure(script, arguments, target, redis_port, duration, connections, pids, warm)


def dpop_run(alg):
    """Proofs made now, dated 25 s ahead (within authd's 30 s leeway), so that they stay good for
    the 60 s of a proof's life after that: the making and the run fit in it."""
    key, (token, token_file) = keys[alg], bound[alg]
    iat = int(time.time()) + 25
    path = os.path.join(tmp, "proofs.txt")
    with open(path, "w") as out:
        for _ in range(proofs_per_run):
            out.write(key.proof("GET", "/me", token, iat) + "\n")
    return measure(os.path.join(here, "wrk", "dpop.lua"), [token_file, path, 2], warm=False)


runs = {"bare floor": [], "verify, bearer": [], "verify, DPoP ES256": [], "verify, DPoP EdDSA": []}
for round_ in range(rounds):
    runs["bare floor"].append(measure("verify.lua", [bearer_file, "/"], target=bare_url, pids=[bare_pid]))
    runs["verify, bearer"].append(measure("verify.lua", [bearer_file, "/me"]))
    runs["verify, DPoP ES256"].append(dpop_run("ES256"))
    runs["verify, DPoP EdDSA"].append(dpop_run("EdDSA"))
    sitting.report_round(runs, round_)
sitting.report_medians(runs, rounds, duration, connections, width=22)
