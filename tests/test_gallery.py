"""``gallery.html`` (issue 18): one self-contained static page beside ``results.jsonl``, a card
per job with its result, filterable by status, with everything from the server or the user
escaped and nothing loaded from elsewhere but the results themselves."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import attrs
import pytest

from kling_async import KlingClient
from kling_async.batch import (
    GALLERY_NAME,
    BatchJob,
    JobRecord,
    JournalStatus,
    parse_jobs,
    render_gallery,
    run_batch,
)
from kling_async.batch._gallery import cost_of
from kling_async.testing import KlingSimulator

from ._simhelpers import POLL


class Page(HTMLParser):
    """Every start tag with its attributes, the text, and the cards' statuses."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]

    def cards(self) -> list[dict[str, str | None]]:
        return [a for a in self.all("article") if "card" in (a.get("class") or "").split()]

    def sources(self) -> list[str]:
        return [str(a["src"]) for _, a in self.tags if a.get("src") is not None]


def _self_contained(page: Page) -> None:
    """One inline script, no external script or style, a CSP, no event-handler attribute."""
    assert len(page.all("script")) == 1 and page.all("script")[0].get("src") is None
    assert not page.all("link") and not page.all("iframe") and not page.all("object")
    assert any(a.get("http-equiv") == "Content-Security-Policy" for a in page.all("meta"))
    assert not [name for _, a in page.tags for name in a if name.startswith("on")]
    filters = [a.get("data-filter") for a in page.all("button")]
    assert filters[0] == "all"


JOBS = [
    {"id": "cat", "endpoint": "images/generations", "request": {"prompt": "a cat"}},
    {"id": "sea", "endpoint": "videos/omni-video",
     "request": {"prompt": "the sea", "aspect_ratio": "16:9", "duration": "5"}},
    {"id": "tag", "endpoint": "images/generations",
     "request": {"prompt": '"><script>alert(1)</script>'}},
]


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_a_run_writes_a_card_per_job_with_its_downloaded_result(tmp_path: Path) -> None:
    """After a run with downloads: a card per job in input order, each result from its
    downloaded file (a relative name that exists), prompts escaped, the page self-contained;
    a resumed run writes it again."""
    import json

    jobs = parse_jobs([json.dumps(j) for j in JOBS], source="test")
    out = tmp_path / "out"
    async with KlingSimulator(time_scale=50.0, seed=7, image_median=2, video_median=3) as sim:
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=POLL) as client:
            result = await run_batch(client, jobs, out_dir=out, download=True)
            assert result.ok
            page_path = out / GALLERY_NAME
            page = Page(page_path.read_text(encoding="utf-8"))
            page_path.unlink()
            await run_batch(client, jobs, out_dir=out, download=True)  # resume: rewritten
    assert page_path.is_file()
    cards = page.cards()
    assert [c["data-status"] for c in cards] == ["succeeded"] * 3
    assert '"><script>alert(1)</script>' in page.text
    _self_contained(page)
    files = {f for row in result.rows for f in row["files"]}
    assert sorted(page.sources()) == sorted(files) and all((out / f).is_file() for f in files)
    assert len(page.all("video")) == 1 and len(page.all("img")) == 2
    assert all("controls" in v for v in page.all("video"))


@pytest.mark.anyio
@pytest.mark.timeout(60)
async def test_a_card_shows_the_journaled_cost_as_units_not_as_a_raw_object(
        tmp_path: Path) -> None:
    """Each finished card's cost reads as the results' cost does ("N units"), not as the
    journaled cost object's Python text."""
    import json
    import re

    jobs = parse_jobs([json.dumps(j) for j in JOBS], source="test")
    async with KlingSimulator(time_scale=50.0, seed=7, image_median=2, video_median=3) as sim:
        async with KlingClient(api_key=sim.api_key, base_url=sim.base_url, poll=POLL) as client:
            result = await run_batch(client, jobs, out_dir=tmp_path)
    shown = re.findall(r'<span class="cost">([^<]*)</span>',
                       (tmp_path / GALLERY_NAME).read_text(encoding="utf-8"))
    units = [row["cost"]["units"] for row in result.rows if row["cost"]]
    assert units and shown == [f"{u} units" for u in units]


def _job(job_id: str, prompt: Any, endpoint: str = "images/generations") -> BatchJob:
    return BatchJob(id=job_id, endpoint=endpoint, request=None, payload={"prompt": prompt})


def test_hostile_text_and_urls_are_escaped_or_left_out() -> None:
    """Ids, prompts and errors are text, never markup; only http/https URLs and plain file
    names of the folder become a src (javascript:, data:, a path out of the folder do not);
    a failed card shows its reason; the status filter lists each status."""
    evil_url = 'https://cdn.example/a.png?q="><script>x()</script>'
    urls = ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", evil_url,
            "https://cdn.example/b.mp3", "https://cdn.example/c.png")
    ok = JobRecord(job_id="ok", endpoint="images/generations", external_task_id="e1",
                   status=JournalStatus.SUCCEEDED, urls=urls,
                   files={"https://cdn.example/c.png": "../../etc/passwd"},
                   task={"final_unit_deduction": "8"})
    bad = JobRecord(job_id="<i>bad</i>", endpoint="videos/omni-video", external_task_id="e2",
                    status=JournalStatus.FAILED, error="<img src=x onerror=alert(1)>")
    jobs = [_job("ok", "<svg onload=alert(1)>"), _job("<i>bad</i>", None, "videos/omni-video"),
            _job("never", "x")]
    rows: list[dict[str, Any]] = [
        {"id": "ok", "status": "succeeded", "error": None},
        {"id": "<i>bad</i>", "status": "failed", "error": bad.error},
        {"id": "never", "status": "not_sent", "error": "not sent: <u>why</u>"}]
    page = Page(render_gallery(jobs, rows, {"ok": ok, "<i>bad</i>": bad}))
    _self_contained(page)
    assert [c["data-status"] for c in page.cards()] == ["succeeded", "failed", "not_sent"]
    assert sorted(page.sources()) == sorted([evil_url, "https://cdn.example/b.mp3",
                                             "https://cdn.example/c.png"])
    assert len(page.all("audio")) == 1
    for text in ("<svg onload=alert(1)>", "<i>bad</i>", "<img src=x onerror=alert(1)>",
                 "not sent: <u>why</u>", "8 units"):
        assert text in page.text
    assert not page.all("svg") and not page.all("i") and not page.all("u")
    filters = [a.get("data-filter") for a in page.all("button")]
    assert filters == ["all", "failed", "not_sent", "succeeded"]


def test_cost_prefers_a_typed_cost_and_falls_back_to_the_deduction() -> None:
    """A task's ``cost`` (attribute or key) wins; else ``final_unit_deduction``; else none."""

    @attrs.frozen
    class Priced:
        cost: float | None
        final_unit_deduction: str | None = "3"

    assert cost_of({"final_unit_deduction": "1.5"}) == "1.5 units"
    assert cost_of({"cost": 2, "final_unit_deduction": "1.5"}) == "2 units"
    assert cost_of(Priced(cost=4.0)) == "4.0 units"
    assert cost_of(Priced(cost=None)) == "3 units"
    assert cost_of({}) is None and cost_of(None) is None
