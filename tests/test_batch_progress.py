"""The progress display: one redrawn line on a terminal, throttled log lines elsewhere."""

from __future__ import annotations

import io
import re
from typing import Any

import attrs
import pytest

from kling_async.batch import BatchProgress, ProgressDisplay, format_summary
from kling_async.batch._progress import format_progress, live_line


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _progress(succeeded: int, elapsed: float = 30.0) -> BatchProgress:
    return BatchProgress(total=10, waiting=2, submitted=1, processing=3, succeeded=succeeded,
                         failed=1, downloaded=succeeded, finished_this_run=succeeded + 1,
                         elapsed=elapsed)


def test_progress_line_has_counts_throughput_and_eta() -> None:
    """Counts by state, jobs per minute and the ETA at that rate."""
    p = _progress(3)
    assert p.per_minute == 8.0 and p.eta == 45.0
    line = format_progress(p)
    for part in ("4/10", "waiting 2", "submitted 1", "processing 3", "succeeded 3",
                 "failed 1", "downloaded 3", "8.0 jobs/min", "ETA 00:45"):
        assert part in line


def _screen_lines(text: str) -> list[str]:
    """What a terminal shows of ``text``, line by line and redraw by redraw (escape sequences
    removed, split at every carriage return and newline)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return [part for part in re.split(r"[\r\n]", plain) if part]


def test_terminal_redraws_one_line_at_most_four_times_a_second() -> None:
    """On a TTY: a live line redrawn at most every 0.25 s (a snapshot too soon is skipped),
    ended by a newline; the cursor is shown again at the end."""
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(out, tty=True, clock=clock, width=80)
    show(_progress(1))
    clock.now = 0.1
    show(_progress(2))  # too soon: skipped
    clock.now = 0.3
    show(_progress(3))
    show(_progress(5), final=True)
    text = out.getvalue()
    lines = _screen_lines(text)
    assert any("ok  1" in line for line in lines) and any("ok  3" in line for line in lines)
    assert not any("ok  2" in line for line in lines)
    assert "ok  5" in lines[-1] and text.removesuffix("\x1b[?25h").endswith("\n")
    show.close()  # idempotent


@pytest.mark.parametrize("width", [40, 80, 120])
def test_live_line_fits_the_width_and_keeps_its_columns(width: int) -> None:
    """The live line never exceeds the terminal width (parts are left out instead), and its
    counts are padded to the width of the total: the text does not shift as they grow."""
    big = BatchProgress(total=300, queued=100, waiting=5, submitted=10, processing=30,
                        succeeded=140, failed=15, downloaded=138, download_errors=2,
                        finished_this_run=155, elapsed=60)
    small = attrs.evolve(big, succeeded=1, failed=0, downloaded=1, finished_this_run=1)
    for p in (big, small):
        assert len(live_line(p, width).plain) <= width
    assert len(live_line(big, width).plain) == len(live_line(small, width).plain)
    assert "files 138" in live_line(big, 80).plain  # files are counted apart from jobs
    assert "155/300 jobs" in live_line(big, 80).plain


def test_failures_are_shown_one_line_each_without_control_characters() -> None:
    """``job_failed`` prints one line per failed job with its reason (above the live line on
    a TTY, cut to the width); escape sequences from the server are shown as ``?``."""
    out = io.StringIO()
    show = ProgressDisplay(out, tty=True, width=60)
    show(_progress(1))
    show.job_failed("job-7", "TaskFailedError: risk \x1b[2J control " + "x" * 100)
    show(_progress(2), final=True)
    lines = _screen_lines(out.getvalue())
    failed = [line for line in lines if line.startswith("failed: job-7: TaskFailedError")]
    assert len(failed) == 1 and "?[2J" in failed[0] and "\x1b[2J" not in out.getvalue()
    assert all(len(line) <= 60 for line in lines)
    plain = io.StringIO()
    ProgressDisplay(plain, tty=False).job_failed("job-8", "NotFoundError: gone\nsecond")
    assert plain.getvalue() == "failed: job-8: NotFoundError: gone?second\n"


def test_log_lines_only_on_change_and_at_most_one_per_second() -> None:
    """Not a TTY: a plain line when counts change, never two within a second."""
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(out, tty=False, clock=clock)
    show(_progress(1))
    clock.now = 0.5
    show(_progress(2))  # changed, but too soon
    clock.now = 2.0
    show(_progress(1))  # unchanged since the last line
    clock.now = 3.0
    show(_progress(2))
    assert "\r" not in out.getvalue() and len(out.getvalue().splitlines()) == 2



def test_final_log_line_is_never_throttled_nor_repeated() -> None:
    """Not a TTY: the final snapshot is written at once when its counts changed (however
    soon), and not written again when they did not."""
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(out, tty=False, clock=clock)
    show(_progress(1))
    clock.now = 0.1
    show(_progress(2), final=True)  # changed: written despite the interval
    clock.now = 5.0
    show(_progress(2), final=True)  # unchanged: not repeated
    assert len(out.getvalue().splitlines()) == 2

def test_summary_table_shows_files_or_error() -> None:
    """One row per job: id, endpoint, status, then its files or its error."""
    rows: list[dict[str, Any]] = [
        {"id": "a", "endpoint": "images/generations", "status": "succeeded", "urls": ["u"],
         "files": ["a.png"], "error": None},
        {"id": "b", "endpoint": "videos/omni-video", "status": "failed", "urls": [],
         "files": [], "error": "TaskFailedError: risk control"},
    ]
    table = format_summary(rows).splitlines()
    assert table[0].split() == ["id", "endpoint", "status", "files", "/", "error"]
    assert table[2].split() == ["a", "images/generations", "succeeded", "a.png"]
    assert table[3].endswith("TaskFailedError: risk control")
