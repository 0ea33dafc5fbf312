"""The whole flow through nginx, checking that every authd instance agrees. Stdlib only.

    python3 scripts/cluster_check.py NGINX_URL INSTANCE_URL...
"""
import authd_http
import json
import sys
import urllib.parse
import uuid


def call(base, method, path, body=None, token=None):
    reply = authd_http.call(base, method, path, body, bearer=token, timeout=10)
    return reply.status, reply.json, reply.headers.get("X-Upstream")


failures = []
passes = []


def expect(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    (passes if condition else failures).append(what)


def main():
    lb, instances = sys.argv[1], sys.argv[2:]
    user = "cluster-" + uuid.uuid4().hex[:8]
    password = "cluster password " + uuid.uuid4().hex[:8]

    status, _, _ = call(lb, "POST", "/users", {"username": user, "password": password})
    expect(status == 201, f"sign-up through nginx: {status}")
    upstreams = set()
    logins = []
    for _ in range(len(instances) * 2):
        status, body, upstream = call(lb, "POST", "/login", {"username": user, "password": password})
        expect(status == 200, f"login through nginx ({upstream}): {status}")
        upstreams.add(upstream)
        logins.append(body)
    expect(len(upstreams) == len(instances), f"nginx spread logins over {len(upstreams)} instances")

    first = logins[0]
    for instance in instances:
        status, body, _ = call(instance, "GET", "/me", token=first["accessToken"])
        expect(status == 200 and body["username"] == user, f"{instance} accepts a token issued elsewhere")

    # A refresh chain hopping across instances through nginx.
    refresh = first["refreshToken"]
    for step in range(len(instances) * 2):
        status, body, upstream = call(lb, "POST", "/token", {"token": refresh})
        expect(status == 200, f"refresh {step} through nginx ({upstream}): {status}")
        refresh = body["refreshToken"]
        access = body["accessToken"]

    # Logout through nginx: every instance rejects at once.
    status, _, upstream = call(lb, "DELETE", "/logout", {"token": refresh})
    expect(status == 204, f"logout through nginx ({upstream}): {status}")
    for instance in instances:
        status, _, _ = call(instance, "GET", "/me", token=access)
        expect(status == 401, f"{instance} rejects the logged-out session: {status}")
        status, _, _ = call(instance, "POST", "/token", {"token": refresh})
        expect(status == 400, f"{instance} refuses its refresh token: {status}")

    # Revocation of another session through one instance is seen by all.
    other = logins[1]
    status, _, _ = call(instances[0], "POST", "/logout", {"scope": "global"}, token=other["accessToken"])
    expect(status == 204, f"global logout on {instances[0]}: {status}")
    for login in logins:
        for instance in instances:
            status, _, _ = call(instance, "GET", "/me", token=login["accessToken"])
            if status != 401:
                expect(False, f"{instance} still accepts a revoked session: {status}")
    expect(True, "every instance rejects every revoked session")

    status, body, _ = call(instances[-1], "GET", "/sessions", token=call(lb, "POST", "/login", {"username": user, "password": password})[1]["accessToken"])
    expect(status == 200 and len(body["sessions"]) == 1, "after a global logout a new login is the only session")
    expect(body["sessions"][0]["ip"] == "127.0.0.1", "the client IP comes through X-Forwarded-For")

    print(f"cluster check: {len(passes)} checks ok, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
