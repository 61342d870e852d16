"""moto's S3 server on 127.0.0.1, and a proxy in front of it that misbehaves on demand.

The proxy is a stdlib HTTP server in a thread. It relays every request to moto, except
that it can answer 503 SlowDown (to the first N requests, or always for some keys),
cut a body off halfway (a connection reset mid-body, which botocore does not retry), or
say nothing at all until the client gives up (a server that times out). It logs every
request, so a test can count the downloads of each key.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import boto3
from moto.server import ThreadedMotoServer

CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}
SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te",
               "trailer", "upgrade", "content-length", "date", "server"}


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """moto's server on a free port of 127.0.0.1, and its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def admin_client(endpoint: str, session: boto3.session.Session | None = None):
    """A client with the fake credentials, for tests to set buckets up (not the code under
    test, which finds credentials in the environment)."""
    return (session or boto3.session.Session()).client("s3", endpoint_url=endpoint,
                                                       **CREDENTIALS)


@dataclass
class Faults:
    """What the proxy does wrong. Keys are matched against the end of the request path."""

    fail_first: int = 0  # answer 503 SlowDown to this many requests, then behave
    always_503: set[str] = field(default_factory=set)
    cut: dict[str, int] = field(default_factory=dict)  # key -> GETs left to cut mid-body
    hang: set[str] = field(default_factory=set)  # keys never answered
    hang_seconds: float = 2.0


class FaultyProxy:
    """An HTTP proxy in front of ``upstream`` (moto) that injects :class:`Faults`.

    Example:
        >>> proxy = FaultyProxy(endpoint).start()
        >>> proxy.faults.cut["photos/a.png"] = 2   # the next two GETs break off
        >>> proxy.gets("photos/a.png")
        3
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.faults = Faults()
        self.log: list[tuple[str, str, str]] = []  # (method, path, what the proxy did)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> FaultyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def gets(self, key: str) -> int:
        """How many GETs of ``key`` (not of the listing) reached the proxy."""
        return sum(1 for method, path, _ in self.log if method == "GET" and _is(path, key))

    def count(self, action: str) -> int:
        return sum(1 for *_, done in self.log if done == action)

    def listings(self) -> int:
        return sum(1 for _, path, _ in self.log if "list-type=2" in path)

    def decide(self, method: str, path: str) -> str:
        """What to do with this request: relay, 503, cut or hang (and log it)."""
        with self._lock:
            faults = self.faults
            action = "relay"
            if faults.fail_first > 0:
                faults.fail_first -= 1
                action = "503"
            elif any(_is(path, key) for key in faults.always_503):
                action = "503"
            elif any(_is(path, key) for key in faults.hang):
                action = "hang"
            elif method == "GET":
                key = next((k for k, left in faults.cut.items() if left and _is(path, k)), None)
                if key is not None:
                    faults.cut[key] -= 1
                    action = "cut"
            self.log.append((method, path, action))
            return action

    def forward(self, method: str, path: str, headers, body: bytes):
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(method, path, body=body or None, headers=sent)
            response = connection.getresponse()
            payload = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, payload
        finally:
            connection.close()


def _is(path: str, key: str) -> bool:
    return unquote(urlsplit(path).path).endswith("/" + key)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks for)
        self._relay()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET  # noqa: N815

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def _relay(self) -> None:
        proxy: FaultyProxy = self.server.proxy  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        action = proxy.decide(self.command, self.path)
        if action == "503":
            self._send(503, [("Content-Type", "application/xml")], SLOW_DOWN)
        elif action == "hang":
            time.sleep(proxy.faults.hang_seconds)
            self.close_connection = True
        else:
            status, headers, payload = proxy.forward(self.command, self.path, self.headers, body)
            if action == "cut":
                self._send(status, headers, payload, cut_at=len(payload) // 2)
            else:
                self._send(status, headers, payload)

    def _send(self, status: int, headers, payload: bytes, cut_at: int | None = None) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload if cut_at is None else payload[:cut_at])
        if cut_at is not None:  # the rest never comes: the connection drops mid-body
            self.wfile.flush()
            self.close_connection = True
