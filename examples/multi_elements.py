"""Multi-elements video editing: mark an element on a few frames, preview, then swap it.

    export KLING_API_KEY=...            # or KLING_ACCESS_KEY + KLING_SECRET_KEY
    python examples/multi_elements.py

The selection steps are synchronous calls on a session (``client.multi_elements.start``);
the edit itself is an ordinary task (``session.create`` returns a Job).  A step out of order
(a preview with nothing marked, a swap with nothing to swap) raises ``SelectionOrderError``
before anything is sent.  Against the offline simulator: run
``kling-async simulate --time-scale 50`` and set KLING_BASE_URL / KLING_API_KEY to what it
prints, plus KLING_TIME_SCALE=50.
"""

import asyncio
import os

import kling_async as kling

VIDEO = "https://example.com/dog-5s.mp4"  # .mp4/.mov, 2-5 s or 7-10 s, 720-2160 px
CAT = "https://example.com/cat.png"


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


async def main() -> None:
    async with kling.KlingClient.from_env(poll=poll_policy()) as client:
        session = await client.multi_elements.start(video_url=VIDEO)
        print(f"session {session.session_id}: {session.video.total_frame} frames")
        try:
            await session.preview()
        except kling.SelectionOrderError as exc:
            print(f"refused before any I/O: {exc.rule}")

        # Click on the dog in the first frame and again a second later (x, y in [0, 1]).
        fps = int(session.video.fps or 30)
        for frame in (0, fps):
            marked = await session.add_selection(frame, [(0.45, 0.6), (0.5, 0.7)])
            print(f"frame {marked.frame_index}: {len(marked.masks)} object(s) marked")
        preview = await session.preview()
        print(f"preview: {preview.video}")

        job = await session.create(edit_mode="swap", image_list=[CAT],
                                   prompt="swap the dog in <<<video_1>>> for <<<image_1>>>")
        task = await job.result()
        print(f"edit {task.status.value}: {task.urls[0]}")


if __name__ == "__main__":
    asyncio.run(main())
