"""Many jobs at once: the client keeps within the account's concurrency and hands results
back as they finish.

    python examples/many_jobs.py
"""

import asyncio
import os

import kling_async as kling


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


async def main() -> None:
    prompts = [f"a watercolor of a lighthouse, variation {i}" for i in range(12)]
    requests = [kling.ImageGenerationRequest(prompt=p, aspect_ratio="16:9") for p in prompts]
    async with kling.KlingClient.from_env(poll=poll_policy()) as client:
        async for job in client.as_completed(requests):
            try:
                task = await job.result()
            except kling.TaskError as exc:
                print(f"{job.task_id}: failed: {exc}")
                continue
            print(f"{task.task_id}: {', '.join(task.urls)}")
        print(client.statistics().jobs_by_state)


if __name__ == "__main__":
    asyncio.run(main())
