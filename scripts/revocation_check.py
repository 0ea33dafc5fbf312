"""Revocation across instances with the verify cache on, as a user scaling out would see it.

Two authd instances (C and D) share one Redis, both with AUTHD_VERIFY_CACHE=on. THREADS client
threads run at once, each with a user of its own. Every iteration:

1. gets a token pair (a login, or a refresh of the session it holds) on the revoker;
2. sends two GET /me to the verifier over a keep-alive connection, so that its cache is warm;
3. opens a fresh connection to the verifier;
4. revokes on the revoker, one kind in turn, and waits for the answer;
5. at once sends GET /me with the revoked token to the verifier on the fresh socket, then on the
   keep-alive one, then to the revoker. Any 200 is a stale accept.

Directions alternate (C revokes and D verifies, then the other way). The kinds: /revoke of the
access token, DELETE /logout, POST /logout with each scope, DELETE /sessions/{id}, a password
change, reuse of a rotated refresh token, the session cap evicting the oldest session, the
operator commands `authd sessions revoke` (a session, a user), and `authd roles remove`: a role
taken away, checked at the gateways' endpoint (GET /forward-auth?allowed_roles=ROLE, where 200 is a
stale accept and 403 the refusal) while the session lives on. Registered clients' own tokens
(grant_type=client_credentials, checked at GET /forward-auth): /revoke of one (`client-revoke`),
and `authd clients remove-secret` of the secret it was granted with (`cli-client`, whose secret is
added by `authd clients add-secret` first and used at once on the verifier: an addition is seen at
once too). An operator's `redis-cli DEL` is
checked apart: it has no barrier, so its promise is the lease bound (docs/OPERATIONS.md).

Prints one line per kind, the latency of the revocations' answers (p50/p99), and exits 1 on any
stale accept.

    python3 scripts/revocation_check.py --instance URL --instance URL --authd BIN \
        --redis-port PORT --prefix PREFIX [--revocations N] [--threads N]
"""

import argparse
import authd_http
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

PASSWORDS = ("correct horse battery", "another long password")


class Instance:
    def __init__(self, url):
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.url = url

    def connection(self):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection.connect()
        return connection


def call(connection, method, path, body=None, bearer=None, form=None):
    """One request on `connection`; returns (status, parsed JSON or None)."""
    reply = authd_http.call(connection, method, path, body, bearer=bearer, form=form)
    return reply.status, reply.json


def once(instance, method, path, **kwargs):
    connection = instance.connection()
    try:
        return call(connection, method, path, **kwargs)
    finally:
        connection.close()


class Failure(Exception):
    pass


class Client(threading.Thread):
    """One user's loop; see the module's description."""

    def __init__(self, index, run, instances, kinds, rounds, options, results):
        super().__init__(daemon=True)
        self.index, self.instances, self.kinds, self.rounds = index, instances, kinds, rounds
        self.options, self.results = options, results
        self.user = f"race-{run}-{index}"
        self.password = PASSWORDS[0]
        # Live sessions of the user, oldest first: dicts of access, refresh.
        self.sessions = []
        self.keep = {}
        # A registered client of this thread's (client ids and user names share one namespace).
        self.client_id = f"svc-{run}-{index}"
        self.client_secret = None

    def keepalive(self, instance):
        if instance.url not in self.keep:
            self.keep[instance.url] = instance.connection()
        return self.keep[instance.url]

    def verify(self, instance, token, fresh=None, path="/me"):
        """GET `path`; on the keep-alive connection unless a fresh one is given. Reconnects once."""
        connection = fresh or self.keepalive(instance)
        try:
            return call(connection, "GET", path, bearer=token)[0]
        except (http.client.HTTPException, OSError):
            if fresh:
                raise
            self.keep.pop(instance.url).close()
            return call(self.keepalive(instance), "GET", path, bearer=token)[0]

    def login(self, instance):
        status, body = once(instance, "POST", "/login", body={"username": self.user, "password": self.password})
        if status != 200:
            raise Failure(f"login {self.user}: {status} {body}")
        session = {"access": body["accessToken"], "refresh": body["refreshToken"]}
        self.sessions.append(session)
        return session

    def current(self, instance):
        """The newest session with a fresh access token: a refresh, or a login when there is none."""
        if not self.sessions:
            return self.login(instance)
        session = self.sessions[-1]
        status, body = once(instance, "POST", "/token", body={"token": session["refresh"]})
        if status != 200:
            raise Failure(f"refresh {self.user}: {status} {body}")
        session["previous"] = session["refresh"]
        session["access"], session["refresh"] = body["accessToken"], body["refreshToken"]
        return session

    def warm(self, verifier, session, path="/me"):
        """Two verifies of `path` on the verifier's keep-alive connection; notes the session's id."""
        connection = self.keepalive(verifier)
        for _ in range(2):
            status, body = call(connection, "GET", path, bearer=session["access"])
            if status != 200:
                raise Failure(f"verify of {path} before revocation on {verifier.url}: {status}")
            if body:
                session["id"] = body["sessionId"]

    def exists(self, session_id):
        key = f"{self.options.prefix}session:{{{self.user}}}:{session_id}"
        done = subprocess.run(
            ["redis-cli", "-c", "-p", str(self.options.redis_port), "EXISTS", key], check=True, capture_output=True,
            text=True)
        return done.stdout.strip() == "1"

    def run(self):
        try:
            self.prepare()
            for round in range(self.rounds):
                revoker, verifier = self.instances[round % 2], self.instances[1 - round % 2]
                kind = self.kinds[(self.index + round) % len(self.kinds)]
                self.iteration(kind, revoker, verifier)
        except Exception as error:  # noqa: BLE001: reported, and the run fails
            self.results.error(f"{self.user}: {type(error).__name__}: {error}")

    def prepare(self):
        status, body = once(self.instances[0], "POST", "/users", body={"username": self.user, "password": self.password})
        if status != 201:
            raise Failure(f"sign-up {self.user}: {status} {body}")
        if any(kind.startswith(("client", "cli-client")) for kind in self.kinds):
            added = json.loads(self.operate("clients", "add", self.client_id, "--may", "token", "--json"))
            self.client_secret = added["client_secret"]

    def operate(self, *arguments):
        done = subprocess.run(
            [self.options.authd, *arguments, "--env-file", self.options.env_file], capture_output=True, text=True,
            env=self.options.operator_env, timeout=60)
        if done.returncode != 0:
            raise Failure(f"authd {' '.join(arguments)}: {done.returncode} {done.stderr}")
        return done.stdout

    def client_iteration(self, kind, revoker, verifier):
        """A client's own token: granted on the revoker, warmed on the verifier, then revoked."""
        secret, secret_id, granter = self.client_secret, None, revoker
        if kind == "cli-client":
            # A secret added is seen at once too: the grant goes to the verifier, whose cache held
            # the client's record without it.
            added = json.loads(self.operate("clients", "add-secret", self.client_id, "--json"))
            secret, secret_id, granter = added["client_secret"], added["secret_id"], verifier
        status, body = once(
            granter, "POST", "/token",
            form={"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": secret})
        if status != 200:
            raise Failure(f"client_credentials {self.client_id}: {status} {body}")
        token = {"access": body["access_token"]}
        path = "/forward-auth"
        self.warm(verifier, token, path)
        fresh = verifier.connection()
        started = time.monotonic()
        if kind == "cli-client":
            self.operate("clients", "remove-secret", self.client_id, secret_id)
        else:
            status, _ = once(revoker, "POST", "/revoke", form={"token": token["access"]})
            if status != 200:
                raise Failure(f"/revoke of a client's token on {revoker.url}: {status}")
        latency = time.monotonic() - started
        try:
            statuses = [
                self.verify(verifier, token["access"], fresh=fresh, path=path),
                self.verify(verifier, token["access"], path=path),
                self.verify(revoker, token["access"], path=path),
            ]
        finally:
            fresh.close()
        self.results.record(kind, f"{revoker.port}->{verifier.port}", statuses, latency)

    def iteration(self, kind, revoker, verifier):
        if kind in ("client-revoke", "cli-client"):
            return self.client_iteration(kind, revoker, verifier)
        path = "/me"
        if kind == "cli-role":
            # Granted, then a token issued with it; the removal must reach every cache at once.
            self.operate("roles", "add", self.user, "member")
            path = "/forward-auth?allowed_roles=member"
        session = self.current(revoker)
        # The sessions whose tokens the revocation must end, each warmed in the verifier's cache.
        doomed = [session]
        if kind in ("cap", "logout-others"):
            # Two sessions: a login at the cap (2) evicts one of them; "others" ends the older.
            if len(self.sessions) < 2:
                self.login(revoker)
            doomed = self.sessions[:2] if kind == "cap" else self.sessions[:1]
        for target in doomed:
            self.warm(verifier, target, path)
        fresh = verifier.connection()
        started = time.monotonic()
        evicted = self.revoke(kind, revoker)
        latency = time.monotonic() - started
        if kind == "cap":
            doomed = [evicted]
        doomed = [target["access"] for target in doomed]
        statuses = []
        try:
            for token in doomed:
                statuses.append(self.verify(verifier, token, fresh=fresh, path=path))
                statuses.append(self.verify(verifier, token, path=path))
                statuses.append(self.verify(revoker, token, path=path))
        finally:
            fresh.close()
        self.results.record(kind, f"{revoker.port}->{verifier.port}", statuses, latency)

    def revoke(self, kind, revoker):
        session = self.sessions[-1]
        if kind == "revoke":
            status, _ = once(revoker, "POST", "/revoke", form={"token": session["access"]})
            expected = 200
        elif kind == "logout-delete":
            status, _ = once(revoker, "DELETE", "/logout", body={"token": session["refresh"]})
            expected = 204
            self.sessions.pop()
        elif kind in ("logout-local", "logout-global"):
            scope = kind.split("-")[1]
            status, _ = once(revoker, "POST", "/logout", body={"token": session["refresh"], "scope": scope})
            expected = 204
            if scope == "local":
                self.sessions.pop()
            else:
                self.sessions.clear()
        elif kind == "logout-others":
            status, _ = once(revoker, "POST", "/logout", body={"scope": "others"}, bearer=session["access"])
            expected = 204
            del self.sessions[:-1]
        elif kind == "end-session":
            _, me = once(revoker, "GET", "/me", bearer=session["access"])
            status, _ = once(revoker, "DELETE", f"/sessions/{me['sessionId']}", bearer=session["access"])
            expected = 204
            self.sessions.pop()
        elif kind == "password":
            new = PASSWORDS[1] if self.password == PASSWORDS[0] else PASSWORDS[0]
            status, _ = once(
                revoker, "POST", "/password", body={"oldPassword": self.password, "newPassword": new},
                bearer=session["access"])
            expected = 204
            self.password = new
            self.sessions.clear()
        elif kind == "reuse":
            status, _ = once(revoker, "POST", "/token", body={"token": session["previous"]})
            expected = 400
            self.sessions.pop()
        elif kind == "cap":
            # The login at the cap ends the session closest to expiry (among equals, either):
            # Redis says which one.
            older = self.sessions[:2]
            self.login(revoker)
            gone = [target for target in older if not self.exists(target["id"])]
            if len(gone) != 1:
                raise Failure(f"the login at the cap ended {len(gone)} sessions")
            self.sessions.remove(gone[0])
            return gone[0]
        elif kind in ("cli-session", "cli-user"):
            _, me = once(revoker, "GET", "/me", bearer=session["access"])
            if kind == "cli-session":
                arguments = ["sessions", "revoke", self.user, me["sessionId"]]
                self.sessions.pop()
            else:
                arguments = ["sessions", "revoke", self.user]
                self.sessions.clear()
            self.operate(*arguments)
            return
        elif kind == "cli-role":
            # The session lives on; only the role is gone.
            self.operate("roles", "remove", self.user, "member")
            return
        else:
            raise Failure(f"unknown kind {kind}")
        if status != expected:
            raise Failure(f"{kind} on {revoker.url}: {status}, expected {expected}")


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}
        self.stale = []
        self.errors = []
        self.latencies = {}

    def record(self, kind, direction, statuses, latency):
        with self.lock:
            count, stale = self.by_kind.get(kind, (0, 0))
            bad = sum(1 for status in statuses if status == 200)
            self.by_kind[kind] = (count + 1, stale + (1 if bad else 0))
            self.latencies.setdefault(kind, []).append(latency)
            if bad or any(status not in (200, 401, 403) for status in statuses):
                self.stale.append((kind, direction, statuses))

    def error(self, text):
        with self.lock:
            self.errors.append(text)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def operator_delete(instances, options):
    """An operator's DEL of a session key: no barrier, so what it promises is the lease bound.
    Returns how many of the immediate checks were accepted (information) and fails if any check
    after the bound is."""
    instance, other = instances
    user = f"race-del-{os.getpid()}"
    once(instance, "POST", "/users", body={"username": user, "password": PASSWORDS[0]})
    immediate = 0
    for _ in range(options.deletes):
        _, body = once(instance, "POST", "/login", body={"username": user, "password": PASSWORDS[0]})
        access = body["accessToken"]
        _, me = once(instance, "GET", "/me", bearer=access)
        for target in (instance, other):
            for _ in range(2):
                once(target, "GET", "/me", bearer=access)
        key = f"{options.prefix}session:{{{user}}}:{me['sessionId']}"
        subprocess.run(
            ["redis-cli", "-c", "-p", str(options.redis_port), "DEL", key], check=True, capture_output=True)
        immediate += sum(1 for target in (instance, other) if once(target, "GET", "/me", bearer=access)[0] == 200)
        time.sleep(options.lease_ms / 1000 + 0.1)
        for target in (instance, other):
            status = once(target, "GET", "/me", bearer=access)[0]
            if status != 401:
                raise Failure(f"DEL: {status} from {target.url} after the lease bound")
    return immediate


def isolated(instances, options, isolate, restore, label, accepted):
    """Sessions warmed on the second instance, which is then isolated (`isolate()`); every session
    is revoked on the first, four threads at once, each revocation timed; then `restore()`, and
    every revoked token is checked on the second instance at once. `accepted(status)` says which
    answers would be a stale accept. Returns a failure text or None."""
    revoker, isolated_instance = instances
    user = f"race-{label}-{os.getpid()}"
    once(revoker, "POST", "/users", body={"username": user, "password": PASSWORDS[0]})
    # The cap (2) would end them: one user a session.
    sessions = []
    for index in range(options.isolated_sessions):
        name = f"{user}-{index}"
        once(revoker, "POST", "/users", body={"username": name, "password": PASSWORDS[0]})
        _, body = once(revoker, "POST", "/login", body={"username": name, "password": PASSWORDS[0]})
        for _ in range(2):
            status, _ = once(isolated_instance, "GET", "/me", bearer=body["accessToken"])
            if status != 200:
                return f"{label}: verify before isolating: {status}"
        sessions.append(body)
    isolate()
    latencies = []
    lock = threading.Lock()
    failures = []

    def revoke(chunk):
        for session in chunk:
            started = time.monotonic()
            status, _ = once(revoker, "DELETE", "/logout", body={"token": session["refreshToken"]})
            elapsed = time.monotonic() - started
            with lock:
                latencies.append(elapsed)
                if status != 204:
                    failures.append(f"logout: {status}")

    threads = [threading.Thread(target=revoke, args=(sessions[index::4],)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    restore()
    statuses = [once(isolated_instance, "GET", "/me", bearer=session["accessToken"])[0] for session in sessions]
    bound = options.lease_ms / 1000 * 1.5 + 1.0
    print(
        f"  {label}: {len(sessions)} logouts on the other instance answered in p50 "
        f"{percentile(latencies, 0.5) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"(bound {bound * 1000:.0f} ms); afterwards the {label} instance answered {sorted(set(statuses))}")
    if failures:
        return f"{label}: {failures[:3]}"
    if max(latencies) > bound:
        return f"{label}: a revocation took {max(latencies):.2f} s, past the bound of {bound:.2f} s"
    stale = [status for status in statuses if accepted(status)]
    if stale:
        return f"{label}: {len(stale)} revoked tokens accepted: {statuses}"
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--instance", action="append", required=True)
    parser.add_argument("--authd", required=True)
    parser.add_argument("--redis-port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--revocations", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--deletes", type=int, default=5)
    parser.add_argument("--lease-ms", type=int, default=1000)
    parser.add_argument("--kinds", default="")
    parser.add_argument("--scenario", choices=["race", "frozen", "cut"], default="race")
    parser.add_argument("--pid", type=int, help="the second instance's process (frozen)")
    parser.add_argument("--proxy-pid", type=int, help="the proxy between the second instance and Redis (cut)")
    parser.add_argument("--isolated-sessions", type=int, default=40)
    parser.add_argument("--env-file", required=True, help="an empty .env file for the operator commands")
    options = parser.parse_args()
    options.operator_env = {
        "PATH": os.environ["PATH"], "REDIS_URL": options.redis_url, "AUTHD_KEY_PREFIX": options.prefix,
        "LOG_LEVEL": "error",
    }
    if os.environ.get("REDIS_CLUSTER_NODES"):
        options.operator_env["REDIS_CLUSTER_NODES"] = os.environ["REDIS_CLUSTER_NODES"]
    instances = [Instance(url) for url in options.instance]
    if options.scenario == "frozen":
        # SIGSTOP the second instance; SIGCONT it once the revocations are answered. The resumed
        # instance must not accept a token revoked while it was stopped.
        failure = isolated(
            instances, options, lambda: os.kill(options.pid, signal.SIGSTOP),
            lambda: os.kill(options.pid, signal.SIGCONT), "frozen", lambda status: status == 200)
        print(failure or "ok: a frozen instance held no revocation back, and accepted none after")
        return 1 if failure else 0
    if options.scenario == "cut":
        # The proxy between the second instance and Redis stops forwarding (nothing is closed).
        # While cut off, the instance must accept nothing revoked after the cut (a 503 is no
        # accept); once the link is back, it must recover by itself.
        failure = isolated(
            instances, options, lambda: os.kill(options.proxy_pid, signal.SIGUSR1), lambda: None, "cut-off",
            lambda status: status == 200)
        os.kill(options.proxy_pid, signal.SIGUSR2)
        if not failure:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if once(instances[1], "GET", "/readyz")[0] == 200:
                    break
                time.sleep(0.2)
            else:
                failure = "cut-off: the instance did not become ready again within 60 s of the link's return"
        print(failure or "ok: a cut-off instance accepted nothing revoked after the cut, and recovered")
        return 1 if failure else 0
    # /revoke is the cheapest kind (no password hashed, no new login): it stands between the others,
    # so that half the revocations are of single access tokens and half end sessions.
    kinds = options.kinds.split(",") if options.kinds else [
        "revoke", "logout-delete", "revoke", "logout-local", "revoke", "logout-global", "revoke", "end-session",
        "revoke", "reuse", "revoke", "cap", "revoke", "logout-others", "revoke", "password",
        "revoke", "logout-delete", "revoke", "end-session", "revoke", "reuse", "revoke", "cap",
        "revoke", "cli-role", "revoke", "client-revoke", "revoke", "cli-client",
    ]
    rounds = max(1, options.revocations // options.threads)
    results = Results()
    run = f"{os.getpid()}-{int(time.time())}"
    clients = [Client(index, run, instances, kinds, rounds, options, results) for index in range(options.threads)]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    # The operator commands start a process each: a few of them, after the storm, with the storm's
    # users' sessions still being answered from the caches.
    cli = Client(options.threads, run, instances, ["cli-session", "cli-user"], 20, options, results)
    cli.start()
    cli.join()
    elapsed = time.monotonic() - started
    total = sum(count for count, _ in results.by_kind.values())
    for kind, (count, stale) in sorted(results.by_kind.items()):
        print(f"  {kind:14} {count:5} revocations, {stale} with a stale accept")
    print(f"  {total} revocations in {elapsed:.0f} s by {options.threads} threads")
    for kind in ("revoke", "logout-delete"):
        latencies = results.latencies.get(kind, [])
        print(
            f"  {kind} answered in p50 {percentile(latencies, 0.5) * 1000:.2f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms")
    immediate = operator_delete(instances, options) if options.deletes else 0
    if options.deletes:
        print(f"  redis-cli DEL: {options.deletes} sessions, rejected by both after the lease bound "
              f"({immediate} immediate checks accepted, which DEL does not promise)")
    for kind, direction, statuses in results.stale[:20]:
        print(f"  STALE {kind} {direction}: {statuses}")
    for error in results.errors[:20]:
        print(f"  ERROR {error}")
    stale = sum(stale for _, stale in results.by_kind.values())
    if results.errors or results.stale or total < options.revocations * 0.99:
        print(f"FAILED: {stale} of {total} revocations had a stale accept, {len(results.errors)} errors")
        return 1
    print(f"ok: 0 stale accepts in {total} revocations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
