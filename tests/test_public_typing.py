"""Users' type checkers check what they pass: `mypy --strict` on code that uses the SDK."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]

GOOD = """
    import kling_async as kling


    async def use(client: kling.KlingClient) -> bool:
        req: kling.Request = kling.OmniVideoRequest(prompt="a cat", aspect_ratio="16:9")
        await client.create_task(req)
        job = await client.submit(req, external_task_id="mine-1")
        client.submit_nowait(kling.TextToVideoRequest(prompt="p"))
        await client.submit_many([req, kling.ImageGenerationRequest(prompt="p")])
        await client.attach("videos/omni-video", task_id="1", request=req)
        async for finished in client.as_completed([job, req]):
            task = await finished.result()
            return task.done() and finished.done()
        return False
"""

BAD = """
    import kling_async as kling


    async def use(client: kling.KlingClient) -> None:
        await client.submit(42)
        await client.submit_many(["a prompt"])
"""


def _mypy() -> list[str]:
    found = shutil.which("mypy", path=str(pathlib.Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "mypy"]


def test_mypy_strict_checks_the_request_argument(tmp_path: pathlib.Path) -> None:
    """Under `mypy --strict`, correct calls of create_task/submit/submit_nowait/submit_many/
    attach/as_completed pass, and an int (or a str) where a request goes is an error."""
    good = tmp_path / "good_use.py"
    bad = tmp_path / "bad_use.py"
    good.write_text(textwrap.dedent(GOOD))
    bad.write_text(textwrap.dedent(BAD))
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    run = subprocess.run([*_mypy(), "--strict", "--no-error-summary", str(good), str(bad)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not [line for line in errors if "good_use.py" in line], run.stdout + run.stderr
    assert any('bad_use.py:6: error: Argument 1 to "submit"' in line and '"int"' in line
               for line in errors), run.stdout + run.stderr
    assert any("bad_use.py:7: error:" in line and '"str"' in line
               for line in errors), run.stdout + run.stderr
    assert len(errors) == 2, run.stdout + run.stderr
