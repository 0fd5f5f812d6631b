"""Reading a reply body to its end, against a raw TCP server on 127.0.0.1: a body that comes in
pieces is read whole; a body cut short (the connection closes before its declared length, or
before a chunked body's last chunk) is a typed failure, never a short read taken as the reply.
"""

from __future__ import annotations

import asyncio
import json

import anyio
import anyio.lowlevel
import pytest

import kling_async as kling
from kling_async import Backoff, KlingClient, RetryPolicy, Timeouts
from tests._rawserver import RawServer, Respond
from tests._scripted import ok, task_json

pytestmark = pytest.mark.anyio

ATTEMPTS = 2
EXT = "ext-reading-1"
BODY = json.dumps(ok(task_json("t-1", "succeed"))).encode()


def make_client(url: str) -> KlingClient:
    async def no_wait(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    return KlingClient(
        api_key="test-key", base_url=url, sleep=no_wait,
        retry=RetryPolicy(max_attempts=ATTEMPTS, backoff=Backoff(initial=0.001, maximum=0.01)),
        timeouts=Timeouts(connect=2.0, total=10.0),
    )


def head(*fields: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json", *fields, "", ""]
    return "\r\n".join(lines).encode()


def in_pieces(chunked: bool) -> Respond:
    """The whole reply, its body written in pieces a moment apart."""
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(BODY)}"
        writer.write(head(framing))
        for start in range(0, len(BODY), 16):
            piece = BODY[start:start + 16]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
            await asyncio.sleep(0.005)
        if chunked:
            writer.write(b"0\r\n\r\n")
    return respond


def cut_short(chunked: bool) -> Respond:
    """Half the body, then the connection closes (the declared length, or the last chunk,
    never comes)."""
    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        half = BODY[: len(BODY) // 2]
        if chunked:
            writer.write(head("Transfer-Encoding: chunked") + b"%x\r\n%s\r\n" % (len(half), half))
        else:
            writer.write(head(f"Content-Length: {len(BODY)}") + half)
        await writer.drain()
        await asyncio.sleep(0.05)
    return respond


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_that_comes_in_pieces_is_read_whole(chunked: bool) -> None:
    """A reply body written in many small pieces is read to its end and decoded."""
    async with RawServer(in_pieces(chunked)) as raw, make_client(raw.url) as client:
        with anyio.fail_after(20):
            task = await client.get_task("images/generations", "t-1")
    assert task.task_id == "t-1" and task.status is kling.TaskStatus.SUCCEED
    assert len(raw.heads) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_get_whose_body_is_cut_short_is_retried_then_a_transport_error(
    chunked: bool,
) -> None:
    """A GET reply whose body stops before its end is no reply: retried, then a TransportError."""
    async with RawServer(cut_short(chunked)) as raw, make_client(raw.url) as client:
        with anyio.fail_after(20), pytest.raises(kling.TransportError):
            await client.get_task("images/generations", "t-1")
    assert len(raw.heads) == ATTEMPTS


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_create_whose_body_is_cut_short_is_ambiguous(chunked: bool) -> None:
    """A create reply whose body stops before its end may have created the task: ambiguous,
    never re-sent."""
    async with RawServer(cut_short(chunked)) as raw, make_client(raw.url) as client:
        with anyio.fail_after(20), pytest.raises(kling.AmbiguousSubmissionError) as caught:
            await client.create_task(kling.ImageGenerationRequest(prompt="a cat"),
                                     external_task_id=EXT)
    assert caught.value.external_task_id == EXT
    assert len(raw.heads) == 1
