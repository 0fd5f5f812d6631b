"""Every script in ``examples/`` runs to completion against the simulator."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

import kling_async
from kling_async.testing import KlingSimulator, SimulatorConfig

REPO = Path(kling_async.__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SCALE = 100.0
WEBHOOK_SECRET = "whsec_ZXhhbXBsZXMtd2ViaG9vay1zZWNyZXQtMzItYnl0ZXM="


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """The examples run against the simulator's default durations, sped up; its callbacks
    are signed with ``WEBHOOK_SECRET`` (given to the examples as ``KLING_WEBHOOK_SECRET``)."""
    return SimulatorConfig(time_scale=SCALE, seed=3, webhook_secrets=(WEBHOOK_SECRET,))


def _env(sim: KlingSimulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLING_")}
    return {**env, "KLING_BASE_URL": sim.base_url, "KLING_API_KEY": sim.api_key,
            "KLING_TIME_SCALE": str(SCALE), "KLING_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PYTHONPATH": str(REPO)}


def test_every_example_is_covered() -> None:
    """The parametrized list below names every example script."""
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(SCRIPTS)


SCRIPTS = {
    "quickstart.py": "succeed: http",
    "many_jobs.py": "'succeeded': 12",
    "batch_from_jsonl.py": "succeeded",
    "aiohttp_app.py": "succeeded: ['http",
    "test_with_simulator.py": "[100%]",
    "webhook_aiohttp.py": "3 jobs succeeded (seen through signed webhooks)",
    "webhook_asgi.py": "3 jobs succeeded (seen through signed webhooks)",
    "multi_elements.py": "edit succeed: http",
    "effects.py": "hug_pro: succeed http",
}


@pytest.mark.anyio
@pytest.mark.timeout(90)
@pytest.mark.parametrize("script", [pytest.param(name, id=name) for name in sorted(SCRIPTS)])
async def test_example_runs_against_the_simulator(
    script: str, sim: KlingSimulator, tmp_path: Path
) -> None:
    """The example exits 0 quickly with KLING_BASE_URL/KLING_API_KEY/KLING_TIME_SCALE set."""
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, str(EXAMPLES / script)], env=_env(sim), cwd=tmp_path, check=False,
        )
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, output
    assert SCRIPTS[script] in output, output
    assert sim.api_key not in output
    assert WEBHOOK_SECRET not in output


def test_packaged_demo_jobs_match_the_example() -> None:
    """``kling_async/cli/demo_jobs.jsonl`` is byte-identical to ``examples/demo_jobs.jsonl``."""
    packaged = Path(kling_async.__file__).parent / "cli" / "demo_jobs.jsonl"
    assert packaged.read_bytes() == (EXAMPLES / "demo_jobs.jsonl").read_bytes()
