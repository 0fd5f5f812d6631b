"""The ``aiohttp.ClientSession`` a client owns: its connector, and no hidden re-sends.

aiohttp re-sends a request once, silently, when its connection turns out to be dropped (a
kept-alive connection the server had closed), but only for idempotent methods (GET, never a
POST: RFC 9112 §9.3.1), so a create is never re-sent by it.  The SDK has exactly one retry loop
(``Transport.call``: counted, backed off, reported as ``RetryScheduled`` events), so the owned
session also turns that hidden GET re-send off, with aiohttp's public client middlewares:
a dropped connection reaches aiohttp's loop as ``ConnectionDropped``, which it does not retry,
and the transport treats it like any other connection error.  A borrowed session keeps its
owner's behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp


class ConnectionDropped(aiohttp.ClientConnectionError):
    """The connection broke before a reply came (aiohttp does not re-send on this one)."""


async def _no_hidden_resend(
    request: aiohttp.ClientRequest,
    handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
) -> aiohttp.ClientResponse:
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise  # never connected: nothing was sent, and aiohttp does not re-send it either
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise ConnectionDropped(f"{type(exc).__name__}: {exc}") from exc


def owned_session(max_requests: int) -> aiohttp.ClientSession:
    """A new session for one client (create it inside the running loop)."""
    connector = aiohttp.TCPConnector(limit=max_requests)
    return aiohttp.ClientSession(connector=connector, middlewares=(_no_hidden_resend,))
