"""Using the client inside an aiohttp web app: one client for the app's lifetime.

    python examples/aiohttp_app.py --serve      # serve on http://127.0.0.1:8080
    curl -X POST localhost:8080/images -d '{"prompt": "a red fox"}'
    curl localhost:8080/images/<task_id>

Without ``--serve`` it starts the app on a free port, generates one image through it and
exits (a self-check).  (FastAPI is the same: open the client in the lifespan handler.)
"""

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

import kling_async as kling

CLIENT = web.AppKey("kling_client", kling.KlingClient)


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


async def kling_client(app: web.Application) -> AsyncIterator[None]:
    """Open one client when the app starts, close it when the app stops."""
    async with kling.KlingClient.from_env(poll=poll_policy()) as client:
        app[CLIENT] = client
        yield


async def create_image(request: web.Request) -> web.Response:
    body = await request.json()
    try:
        image = kling.load_request("images/generations", body)
    except kling.ValidationError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    job = await request.app[CLIENT].submit(image)
    return web.json_response({"task_id": job.task_id}, status=202)


async def image_status(request: web.Request) -> web.Response:
    client = request.app[CLIENT]
    task_id = request.match_info["task_id"]
    job = client.job(task_id=task_id)
    if job is None:
        return web.json_response({"error": "unknown task"}, status=404)
    task = job.task
    return web.json_response({
        "task_id": task_id, "state": job.status.value,
        "urls": list(task.urls) if task is not None else [],
    })


def make_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(kling_client)
    app.router.add_post("/images", create_image)
    app.router.add_get("/images/{task_id}", image_status)
    return app


async def self_check() -> None:
    runner = web.AppRunner(make_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/images", json={"prompt": "a red fox"}) as resp:
                task_id = (await resp.json())["task_id"]
            print(f"submitted {task_id}")
            while True:
                async with http.get(f"{base}/images/{task_id}") as resp:
                    state = await resp.json()
                if state["state"] in ("succeeded", "failed"):
                    break
                await asyncio.sleep(0.1)
            print(f"{state['state']}: {state['urls']}")
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    if "--serve" in sys.argv:
        web.run_app(make_app(), host="127.0.0.1", port=8080)
    else:
        asyncio.run(self_check())
