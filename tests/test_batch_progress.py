"""The progress display: one redrawn line on a terminal, throttled log lines elsewhere."""

from __future__ import annotations

import io
from typing import Any

from kling_async.batch import BatchProgress, ProgressDisplay, format_summary
from kling_async.batch._progress import format_progress


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


def test_terminal_redraws_one_line_at_most_four_times_a_second() -> None:
    """On a TTY: ``\\r`` redraws, throttled to 0.25 s, a newline only at the end."""
    out, clock = io.StringIO(), Clock()
    show = ProgressDisplay(out, tty=True, clock=clock)
    show(_progress(1))
    clock.now = 0.1
    show(_progress(2))  # too soon: skipped
    clock.now = 0.3
    show(_progress(2))
    show(_progress(5), final=True)
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1


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
