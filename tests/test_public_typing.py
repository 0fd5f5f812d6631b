"""Users' type checkers check what they pass: `mypy --strict` on code that uses the SDK."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]

CLIENT_CALLS = """
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

WRONG_CLIENT_CALLS = """
    import kling_async as kling


    async def use(client: kling.KlingClient) -> None:
        await client.submit(42)
        await client.submit_many(["a prompt"])
"""

PARTS = """
    import kling_async as kling

    SHOTS = [kling.Shot(index=1, prompt="a", duration="5"),
             kling.Shot(index=2, prompt="b", duration="5")]
    REQUESTS: list[kling.Request] = [
        kling.TextToVideoRequest(multi_shot=True, shot_type="customize", duration="10",
                                 multi_prompt=SHOTS),
        kling.OmniVideoRequest(
            prompt="<<<image_1>>> meets <<<element_1>>>", aspect_ratio="16:9",
            image_list=[kling.OmniVideoImage(image_url="https://x/i.png")],
            element_list=(kling.Element(element_id=829836802793406551),),
        ),
        kling.OmniImageRequest(prompt="<<<image_1>>>",
                               image_list=[kling.OmniImageItem(image="https://x/i.png")]),
        kling.ImageToVideoRequest(
            image="https://x/i.png", prompt="p",
            dynamic_masks=[kling.DynamicMask(mask="m", trajectories=[
                kling.TrajectoryPoint(x=1, y=2), kling.TrajectoryPoint(x=3, y=4)])],
        ),
    ]
"""

WRONG_PARTS = """
    import kling_async as kling

    REQUEST = kling.TextToVideoRequest(prompt="p", multi_prompt=["a shot"])
"""


def _mypy_errors(tmp_path: pathlib.Path, **snippets: str) -> tuple[list[str], str]:
    """``mypy --strict`` over one file per snippet (named by its key): its error lines, and
    its whole output for an assertion message."""
    files = []
    for name, text in snippets.items():
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(text))
        files.append(str(path))
    found = shutil.which("mypy", path=str(pathlib.Path(sys.executable).parent))
    mypy = [found] if found else [sys.executable, "-m", "mypy"]
    env = {**os.environ, "MYPYPATH": str(ROOT)}
    run = subprocess.run([*mypy, "--strict", "--no-error-summary", *files], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    output = run.stdout + run.stderr
    return [line for line in run.stdout.splitlines() if ": error:" in line], output


def test_mypy_strict_checks_the_request_argument(tmp_path: pathlib.Path) -> None:
    """Under `mypy --strict`, correct calls of create_task/submit/submit_nowait/submit_many/
    attach/as_completed pass, and an int (or a str) where a request goes is an error."""
    errors, output = _mypy_errors(tmp_path, good_use=CLIENT_CALLS, bad_use=WRONG_CLIENT_CALLS)
    assert not [line for line in errors if "good_use.py" in line], output
    assert any('bad_use.py:6: error: Argument 1 to "submit"' in line and '"int"' in line
               for line in errors), output
    assert any("bad_use.py:7: error:" in line and '"str"' in line for line in errors), output
    assert len(errors) == 2, output


def test_mypy_strict_accepts_requests_built_from_lists_of_parts(
    tmp_path: pathlib.Path,
) -> None:
    """Shots, images, elements and trajectory points passed as lists or tuples type-check
    under `mypy --strict`, and a str where a Shot goes is an error naming Shot."""
    errors, output = _mypy_errors(tmp_path, good_parts=PARTS, bad_parts=WRONG_PARTS)
    assert not [line for line in errors if "good_parts.py" in line], output
    assert len(errors) == 1, output
    assert "bad_parts.py:4: error:" in errors[0] and '"Shot"' in errors[0], output
