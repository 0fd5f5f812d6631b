"""Quickstart: submit one video, wait for it, print the result URL.

    export KLING_API_KEY=...            # or KLING_ACCESS_KEY + KLING_SECRET_KEY
    python examples/quickstart.py

Against the offline simulator: run ``kling-async simulate --time-scale 50`` and set
KLING_BASE_URL / KLING_API_KEY to what it prints, plus KLING_TIME_SCALE=50.
"""

import asyncio
import os

import kling_async as kling


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


async def main() -> None:
    async with kling.KlingClient.from_env(poll=poll_policy()) as client:
        request = kling.OmniVideoRequest(prompt="a cat dancing", aspect_ratio="16:9",
                                         duration="5")
        job = await client.submit(request)
        print(f"submitted task {job.task_id}")
        task = await job.result()
        print(f"{task.status.value}: {task.urls[0]}")


if __name__ == "__main__":
    asyncio.run(main())
