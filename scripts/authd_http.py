"""The one HTTP helper of the check and benchmark scripts: a request with an optional JSON or form
body and bearer token, its reply parsed when it is JSON. Standard library only.

    from authd_http import call, connect
    reply = call("http://127.0.0.1:8080", "POST", "/login", {"username": "u", "password": "p"})
    reply.status, reply.json, reply.raw, reply.headers
"""
import http.client
import json
import urllib.parse
from typing import Any, NamedTuple


class Reply(NamedTuple):
    status: int
    json: Any
    raw: bytes
    headers: http.client.HTTPMessage


def connect(url, timeout=30, source_address=None):
    """A keep-alive connection to the server of `url`."""
    parsed = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(
        parsed.hostname, parsed.port, timeout=timeout, source_address=(source_address, 0) if source_address else None
    )


def call(target, method, path, body=None, bearer=None, form=None, headers=None, timeout=30, source_address=None):
    """One request. `target` is a base URL (a connection for this request only) or an open
    connection from `connect` (kept open). `body` goes as JSON, `form` as form fields."""
    connection = target if isinstance(target, http.client.HTTPConnection) else connect(target, timeout, source_address)
    sent = dict(headers or {})
    data = None
    if bearer:
        sent["authorization"] = f"Bearer {bearer}"
    if form is not None:
        data = urllib.parse.urlencode(form)
        sent["content-type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body)
        sent["content-type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read()
    finally:
        if connection is not target:
            connection.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Reply(response.status, parsed, raw, response.headers)
