"""A crash-safe batch from a JSONL file, as a library call (``kling-async run`` does the same).

    python examples/batch_from_jsonl.py [jobs.jsonl] [out-folder]

Run it again after a crash or Ctrl-C: finished jobs are skipped, in-flight ones re-attached,
and only jobs never sent are submitted.
"""

import asyncio
import os
import sys
from pathlib import Path

import kling_async as kling
from kling_async.batch import ProgressDisplay, format_summary, load_jobs, run_batch

HERE = Path(__file__).parent


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


async def main(jobs_file: Path, out: Path) -> int:
    jobs = load_jobs(jobs_file)  # validates every line first: a bad file spends nothing
    async with kling.KlingClient.from_env(poll=poll_policy()) as client:
        result = await run_batch(client, jobs, out_dir=out, download=True,
                                 on_progress=ProgressDisplay(sys.stderr))
    print(format_summary(result.rows))
    return 0 if result.ok else 1


if __name__ == "__main__":
    jobs_path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "demo_jobs.jsonl"
    out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("batch-results")
    sys.exit(asyncio.run(main(jobs_path, out_dir)))
