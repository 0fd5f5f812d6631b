"""A raw TCP server on 127.0.0.1 for replies no HTTP framework would send.

Each connection's request head (and a ``Content-Length`` body) is read and recorded, then
``respond(reader, writer)`` writes whatever it likes (a malformed status line, an endless
body...) and the connection is closed::

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 abc\\r\\n\\r\\n")

    async with RawServer(garbage) as server:
        ...  # KlingClient(base_url=server.url)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A TCP server answering every request with ``respond``; ``heads`` records request heads."""

    def __init__(self, respond: Respond) -> None:
        self._respond = respond
        self._server: asyncio.base_events.Server | None = None
        self.heads: list[bytes] = []
        self.port = 0

    @property
    def url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    await reader.readexactly(int(value))
            await self._respond(reader, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: that is what some tests want
        finally:
            writer.close()


def status_line_garbage(line: bytes) -> Respond:
    """Answer with ``line`` as the status line (and no headers)."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(line + b"\r\n\r\n")

    return respond


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request, then close the connection with a TCP reset."""
    transport = writer.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        import socket
        import struct

        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def endless_body(chunk: bytes = b" " * 65536, max_chunks: int = 100_000) -> Respond:
    """A 200 with a chunked body that goes on until the client leaves (bounded by
    ``max_chunks``)."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        for _ in range(max_chunks):
            if writer.is_closing():
                return
            writer.write(frame)
            await writer.drain()

    return respond


def declared_length(length: int, sent: bytes = b"{") -> Respond:
    """A 200 declaring ``Content-Length: length`` that sends only ``sent``, then stalls until
    the client leaves (at most 30 s)."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (length, sent))
        await writer.drain()
        await _until_the_client_leaves(reader, 30.0)

    return respond


def silent(seconds: float = 30.0) -> Respond:
    """Read the request and answer nothing for ``seconds`` (or until the client leaves)."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _until_the_client_leaves(reader, seconds)

    return respond


async def _until_the_client_leaves(reader: asyncio.StreamReader, seconds: float) -> None:
    try:
        await asyncio.wait_for(reader.read(), seconds)
    except asyncio.TimeoutError:
        pass
