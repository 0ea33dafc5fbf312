"""Hostile clients against one authd process, its memory read from outside (/proc/PID/status).

    python3 scripts/memory_check.py --url URL --pid PID [--bound-mib N]

Two attacks, each by eight connections at once, while another client checks that authd still
answers:
  upgrade   GET /healthz with `Connection: Upgrade` and `Upgrade: websocket`, then bytes streamed
            for as long as authd takes them (up to 64 MiB a connection);
  pipeline  GET /sessions (about 46 KB each, the user has 100 sessions) pipelined for 10 s on a
            connection with a 4 KiB receive buffer that never reads.
Fails when authd's resident memory grows past the bound over its size before the attack, or when
the other client is not answered.
"""

import argparse

import authd_http
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def request(host, port, method, path, body=None, bearer=None):
    reply = authd_http.call(f"http://{host}:{port}", method, path, body, bearer=bearer)
    return reply.status, reply.raw


class Watch(threading.Thread):
    """Samples RSS every 50 ms, and checks every 250 ms that another client is answered."""

    def __init__(self, pid, host, port):
        super().__init__(daemon=True)
        self.pid, self.host, self.port = pid, host, port
        self.peak = 0.0
        self.unanswered = 0
        self.answered = 0
        self.stop = threading.Event()

    def run(self):
        last_probe = 0.0
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            if time.monotonic() - last_probe > 0.25:
                last_probe = time.monotonic()
                try:
                    status, _ = request(self.host, self.port, "GET", "/healthz")
                    if status == 200:
                        self.answered += 1
                    else:
                        self.unanswered += 1
                except OSError:
                    self.unanswered += 1
            time.sleep(0.05)


def upgrade_attack(host, port, per_connection):
    sock = socket.create_connection((host, port))
    sock.settimeout(2)
    sock.sendall(
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n")
    chunk = b"\x00" * 65536
    sent = 0
    try:
        while sent < per_connection:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # closed by authd, or it stopped taking bytes (the send timed out)
    finally:
        sock.close()
    return sent


def pipeline_attack(host, port, token, seconds):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.settimeout(0.5)
    one = f"GET /sessions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\r\n".encode()
    burst = one * 20
    end = time.monotonic() + seconds
    sent = 0
    try:
        while time.monotonic() < end:
            try:
                sock.sendall(burst)
                sent += 20
                time.sleep(1 / 15)  # about 300 requests a second
            except socket.timeout:
                pass  # authd stopped reading: the send buffer is full
    except OSError:
        pass
    finally:
        sock.close()
    return sent


def attack(name, pid, host, port, bound, target, args):
    time.sleep(0.5)
    before = rss_mib(pid)
    watch = Watch(pid, host, port)
    watch.start()
    results = [0] * 8

    def one(index):
        results[index] = target(*args)

    threads = [threading.Thread(target=one, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.5)
    watch.stop.set()
    watch.join()
    growth = watch.peak - before
    print(
        f"  {name}: RSS {before:.0f} MiB before, peak {watch.peak:.0f} MiB (+{growth:.0f} MiB, bound "
        f"+{bound} MiB); 8 connections sent {sum(results)} {'bytes' if name == 'upgrade' else 'requests'}; "
        f"another client answered {watch.answered} times, not answered {watch.unanswered}")
    failures = []
    if growth > bound:
        failures.append(f"{name}: RSS grew by {growth:.0f} MiB")
    if watch.unanswered or not watch.answered:
        failures.append(f"{name}: another client was not answered ({watch.unanswered} times)")
    return failures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--bound-mib", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=10)
    options = parser.parse_args()
    parsed = urllib.parse.urlsplit(options.url)
    host, port = parsed.hostname, parsed.port

    user = f"memory-{int(time.time())}"
    status, _ = request(host, port, "POST", "/users", {"username": user, "password": "correct horse battery"})
    assert status == 201, status
    token = None
    for _ in range(100):
        status, data = request(host, port, "POST", "/login", {"username": user, "password": "correct horse battery"})
        assert status == 200, (status, data)
        token = json.loads(data)["accessToken"]
    status, data = request(host, port, "GET", "/sessions", bearer=token)
    print(f"  GET /sessions: {status}, {len(data)} bytes")

    failures = []
    failures += attack("upgrade", options.pid, host, port, options.bound_mib, upgrade_attack, (host, port, 64 << 20))
    failures += attack(
        "pipeline", options.pid, host, port, options.bound_mib, pipeline_attack, (host, port, token, options.seconds))
    for failure in failures:
        print("FAILED: " + failure)
    if not failures:
        print("ok: memory stayed bounded and others were answered")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
