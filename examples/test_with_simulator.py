"""Testing your own pipeline against the built-in simulator, with pytest.

    pytest examples/test_with_simulator.py      # or: python examples/test_with_simulator.py

Copy the two fixtures into your ``conftest.py``.  The simulator is offline and free; with a
high ``time_scale`` a "two minute" video takes about a second.
"""

from collections.abc import AsyncIterator

import pytest

import kling_async as kling
from kling_async.testing import KlingSimulator

TIME_SCALE = 200.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sim() -> AsyncIterator[KlingSimulator]:
    async with KlingSimulator(time_scale=TIME_SCALE, seed=1) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: KlingSimulator) -> AsyncIterator[kling.KlingClient]:
    async with kling.KlingClient(api_key=sim.api_key, base_url=sim.base_url,
                                 poll=kling.PollPolicy().scaled(TIME_SCALE)) as c:
        yield c


async def make_thumbnails(client: kling.KlingClient, prompts: list[str]) -> list[str]:
    """The pipeline under test: one image per prompt, their URLs in order."""
    jobs = await client.submit_many(kling.ImageGenerationRequest(prompt=p) for p in prompts)
    return [(await job.result()).urls[0] for job in jobs]


@pytest.mark.anyio
async def test_pipeline_makes_one_image_per_prompt(client: kling.KlingClient,
                                                   sim: KlingSimulator) -> None:
    urls = await make_thumbnails(client, ["a fox", "an owl", "a bear"])
    assert len(urls) == 3
    assert sim.stats().tasks_created == 3


@pytest.mark.anyio
async def test_pipeline_surfaces_failed_tasks(client: kling.KlingClient,
                                              sim: KlingSimulator) -> None:
    sim.configure(fail_rate=1.0)
    with pytest.raises(kling.TaskFailedError):
        await make_thumbnails(client, ["a fox"])


if __name__ == "__main__":
    import subprocess
    import sys

    # A fresh interpreter, so pytest imports (and rewrites) everything itself.
    raise SystemExit(subprocess.call(
        [sys.executable, "-m", "pytest", __file__, "-q", "-p", "no:cacheprovider"]))
