"""A lean HTTP/1.1 keep-alive client for load generation, on asyncio protocols.

aiohttp's client tops out near 3,000 requests/s on one core here, which is below what the servers
under test can take; this one does the least a client can (preformatted request bytes, a
Content-Length or chunked body read, no cookie jar, no redirects) so that the server, not the
load generator, is what gets measured. bench/api_bench.py reports the ceiling it reached against
a trivial server, so the reader can tell.
"""

from __future__ import annotations

import asyncio
import ssl


class ResponseError(Exception):
    pass


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ResponseError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            parsed = self._parse()
            if parsed is not None:
                self.waiter.set_result(parsed)

    def _parse(self) -> tuple[int, bytes] | None:
        """One complete response from the buffer (consumed), or None while it is incomplete."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        start = end + 4
        if "content-length" in headers:
            stop = start + int(headers["content-length"])
            if len(self.buffer) < stop:
                return None
            body = bytes(self.buffer[start:stop])
            del self.buffer[:stop]
            return status, body
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body_parts: list[bytes] = []
            pos = start
            while True:
                line_end = self.buffer.find(b"\r\n", pos)
                if line_end < 0:
                    return None
                size = int(bytes(self.buffer[pos:line_end]).split(b";")[0], 16)
                chunk_end = line_end + 2 + size + 2
                if len(self.buffer) < chunk_end:
                    return None
                if size == 0:
                    del self.buffer[:chunk_end]
                    return status, b"".join(body_parts)
                body_parts.append(bytes(self.buffer[line_end + 2 : line_end + 2 + size]))
                pos = chunk_end
        raise ResponseError("response without a length (this client needs keep-alive framing)")


class HttpClient:
    """One keep-alive connection; one request at a time (use many clients for concurrency)."""

    def __init__(self, host: str, port: int, ssl_ctx: ssl.SSLContext | None, headers: dict[str, str]) -> None:
        self.host, self.port, self.ssl_ctx = host, port, ssl_ctx
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self._conn: _Connection | None = None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port, ssl=self.ssl_ctx)
        return conn

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
        conn = self._conn
        assert conn.transport is not None
        head = f"{method} {path} HTTP/1.1\r\n{self._head}"
        if body:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        conn.waiter = asyncio.get_running_loop().create_future()
        conn.transport.write(head.encode("latin-1") + b"\r\n" + body)
        return await conn.waiter

    def close(self) -> None:
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()
        self._conn = None
