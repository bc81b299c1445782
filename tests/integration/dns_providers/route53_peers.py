"""A Route 53 API for the tests: moto in server mode on a free port, and a proxy that throttles.

The proxy stands between boto3 and moto and answers the first N ChangeResourceRecordSets
requests with Route 53's own Throttling (or PriorRequestNotComplete) error, so the provider's
backoff is exercised at the HTTP boundary, as AWS would exercise it. It also measures every change
request on the wire (resource records and value characters, an UPSERT counting twice, as Route 53
counts them), and can absorb change requests itself with Route 53's success answer: moto spends
time linear in the zone's size on every change, so 10,000 of them would take it most of a minute.
"""

from __future__ import annotations

import http.client
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from moto.server import ThreadedMotoServer

from tests.integration.dns_providers.rfc2136_peers import free_port

NS = "{https://route53.amazonaws.com/doc/2013-04-01/}"
CHANGE_OK_XML = """<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
<ChangeInfo><Id>/change/C{n}</Id><Status>INSYNC</Status><SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt>
</ChangeInfo></ChangeResourceRecordSetsResponse>"""
ERROR_XML = """<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"""


class MotoRoute53:
    def __init__(self) -> None:
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server.start()
        # moto keeps its state in the process, shared by every server a test run starts: begin
        # each test with an empty Route 53 (else "find the zone by name" may pick an old zone)
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=10).read()

    def stop(self) -> None:
        self.server.stop()


@dataclass(frozen=True)
class WireChange:
    """One ChangeResourceRecordSets request as sent: its changes, records and value characters."""

    changes: int
    records: int
    chars: int


def measure(body: bytes) -> WireChange:
    root = ET.fromstring(body)
    changes = records = chars = 0
    for change in root.iter(f"{NS}Change"):
        weight = 2 if change.findtext(f"{NS}Action") == "UPSERT" else 1
        values = [v.text or "" for v in change.iter(f"{NS}Value")]
        changes += 1
        records += weight * len(values)
        chars += weight * sum(len(v) for v in values)
    return WireChange(changes, records, chars)


@dataclass
class ThrottleState:
    fail_changes: int = 0  # how many ChangeResourceRecordSets requests still get the error below
    code: str = "Throttling"
    message: str = "Rate exceeded"
    absorb_changes: bool = False  # answer change requests here instead of forwarding them to moto
    change_requests: list[WireChange] = field(default_factory=list)  # change requests that got through
    throttled: int = 0  # change requests answered with the error
    lock: threading.Lock = field(default_factory=threading.Lock)


class ThrottlingProxy:
    """Forwards every request to `upstream_port`; throttles change requests while told to."""

    def __init__(self, upstream_port: int) -> None:
        self.state = ThrottleState()
        state, upstream = self.state, upstream_port

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib's name
                return

            def _answer(self, status: int, text: str) -> None:
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                is_change = self.command == "POST" and self.path.rstrip("/").endswith("/rrset")
                if is_change:
                    with state.lock:
                        throttle = state.fail_changes > 0
                        if throttle:
                            state.fail_changes -= 1
                            state.throttled += 1
                        else:
                            state.change_requests.append(measure(body))
                            n = len(state.change_requests)
                    if throttle:
                        self._answer(400, ERROR_XML.format(code=state.code, message=state.message))
                        return
                    if state.absorb_changes:
                        self._answer(200, CHANGE_OK_XML.format(n=n))
                        return
                conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_DELETE = _forward  # noqa: N815 - BaseHTTPRequestHandler's names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="throttling-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)
