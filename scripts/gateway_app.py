"""The app behind the gateways in scripts/gateways: answers every request with 200 and a JSON echo
of its method, path and headers, and appends the same as one JSON line to LOG, so that a check can
tell what reached it (and that a refused request never did). Standard library only.

    python3 scripts/gateway_app.py PORT LOG
"""
import http.server
import json
import sys
import threading

lock = threading.Lock()


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        seen = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        body = json.dumps(seen).encode()
        with lock, open(sys.argv[2], "a") as log:
            log.write(json.dumps(seen) + "\n")
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer

    def log_message(self, *arguments):
        pass


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
