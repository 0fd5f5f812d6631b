"""Kling's webhooks in an aiohttp app: a job ends the moment Kling calls back, not at its next poll.

    export KLING_WEBHOOK_URL=https://your.host/kling/webhook  # this app's route, public
    export KLING_WEBHOOK_SECRET=whsec_...  # Kling console: Basic Settings -> Webhook
    python examples/webhook_aiohttp.py --serve  # serve on http://127.0.0.1:8080

Every create then carries ``callback_url=$KLING_WEBHOOK_URL``; each signed callback is verified
(Standard Webhooks) and ends its job at once.  Without a secret (a gateway that does not sign),
each job's URL carries a token instead and a callback makes the client re-query that job.
Polling goes on as a safety net either way: no job depends on a callback arriving.

Without ``--serve`` it serves on a free loopback port, runs three image jobs through it against
``KLING_BASE_URL`` (the simulator, ``kling-async simulate --webhook-secret whsec_...``) and exits.
"""

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator

from aiohttp import web

import kling_async as kling

CLIENT = web.AppKey("kling_client", kling.KlingClient)


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


def make_app(webhook_url: str | None = None) -> web.Application:
    """The app: one client for its lifetime, and the webhook route Kling calls back."""
    client = kling.KlingClient.from_env(poll=poll_policy(), webhook_url=webhook_url)

    async def open_client(app: web.Application) -> AsyncIterator[None]:
        async with client:
            yield

    app = web.Application()
    app[CLIENT] = client
    app.cleanup_ctx.append(open_client)
    app.router.add_post("/kling/webhook", kling.aiohttp_webhook_handler(client))
    return app


async def self_check() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = make_app(f"http://127.0.0.1:{port}/kling/webhook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # opens the client
    await web.SockSite(runner, sock).start()
    try:
        client = app[CLIENT]
        jobs = await client.submit_many(
            [kling.ImageGenerationRequest(prompt=f"a red fox, take {n}") for n in range(3)])
        for job in jobs:
            await job.result()
        await asyncio.sleep(0.2)  # let the last callbacks arrive
        stats = client.statistics()
        applied, poked = stats.webhooks["applied"], stats.webhooks["poked"]
        how = "signed webhooks" if applied else "callbacks and re-queries" if poked else "polls"
        print(f"{len(jobs)} jobs succeeded (seen through {how}); webhooks: {applied} applied, "
              f"{poked} re-queries; {stats.polls} polls")
    finally:
        await runner.cleanup()  # closes the client


if __name__ == "__main__":
    if "--serve" in sys.argv:
        web.run_app(make_app(), host="127.0.0.1", port=8080)
    else:
        asyncio.run(self_check())
