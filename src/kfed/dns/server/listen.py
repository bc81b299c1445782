"""Binding a DNS server's UDP and TCP listeners to one port (the same port on both, as DNS needs)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Awaitable, Callable

UDP_RECEIVE_BUFFER = 4 << 20  # absorbs bursts while the loop is busy (e.g. rendering a transfer)

TcpHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def udp_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def bind_udp_and_tcp(host: str, port: int, serve_tcp: TcpHandler) -> tuple[socket.socket, asyncio.Server, int]:
    """A bound UDP socket and a listening TCP server on the same port. With port 0, the port the
    kernel gives for UDP is tried for TCP too, a few times over, until both are free."""
    for _ in range(50 if port == 0 else 1):
        udp_sock = udp_socket(host, port)
        bound = int(udp_sock.getsockname()[1])
        try:
            tcp = await asyncio.start_server(serve_tcp, host, bound, reuse_address=True, backlog=128)
        except OSError as e:
            udp_sock.close()
            if port == 0 and e.errno == errno.EADDRINUSE:
                continue
            raise
        return udp_sock, tcp, bound
    raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")
