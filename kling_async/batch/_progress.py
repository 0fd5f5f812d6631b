"""Progress of a batch: ``BatchProgress`` snapshots, a terminal/log display, a summary table.

On a terminal the display redraws one line (``\\r``) at most ``tty_interval`` seconds apart;
elsewhere it prints a plain log line when the counts change, at most one per
``log_interval`` seconds.  Throughput is finished jobs per minute in this run; the ETA is the
remaining jobs at that rate.  Nothing printed here ever carries a key.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import attrs


@attrs.frozen(kw_only=True)
class BatchProgress:
    """Counts by state at one instant of a batch run."""

    total: int
    queued: int = 0  # not yet handed to the client
    waiting: int = 0  # waiting for capacity, or the create is under way
    submitted: int = 0
    processing: int = 0
    succeeded: int = 0
    failed: int = 0
    downloaded: int = 0  # result files on disk
    download_errors: int = 0
    finished_this_run: int = 0
    elapsed: float = 0.0  # seconds since this run started

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def per_minute(self) -> float:
        return self.finished_this_run * 60.0 / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds until every job ended, at this run's rate (None before the first ends)."""
        rate = self.per_minute
        if rate <= 0:
            return None
        return (self.total - self.finished) * 60.0 / rate

    def counts(self) -> tuple[int, ...]:
        return (self.queued, self.waiting, self.submitted, self.processing, self.succeeded,
                self.failed, self.downloaded, self.download_errors)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    hours, rest = divmod(round(seconds), 3600)
    minutes = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{hours}:{minutes}" if hours else minutes


def format_progress(p: BatchProgress, width: int = 24) -> str:
    """One line: bar, done/total, counts by state, throughput and ETA."""
    filled = int(width * p.finished / p.total) if p.total else width
    bar = "#" * filled + "-" * (width - filled)
    parts = [f"[{bar}] {p.finished}/{p.total}"]
    if p.queued:
        parts.append(f"queued {p.queued}")
    parts += [f"waiting {p.waiting}", f"submitted {p.submitted}",
              f"processing {p.processing}", f"succeeded {p.succeeded}", f"failed {p.failed}",
              f"downloaded {p.downloaded}"]
    if p.download_errors:
        parts.append(f"download errors {p.download_errors}")
    parts.append(f"{p.per_minute:.1f} jobs/min")
    parts.append(f"ETA {_duration(p.eta)}")
    return " | ".join(parts)


class ProgressDisplay:
    """Shows ``BatchProgress`` on ``stream``: a redrawn line on a TTY, log lines otherwise."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 tty_interval: float = 0.25, log_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self._stream = stream if stream is not None else sys.stderr
        self._tty = tty if tty is not None else _isatty(self._stream)
        self._interval = tty_interval if self._tty else log_interval
        self._clock = clock
        self._last_at: float | None = None
        self._last_counts: tuple[int, ...] | None = None
        self._width = 0

    def __call__(self, progress: BatchProgress, *, final: bool = False) -> None:
        now = self._clock()
        counts = progress.counts()
        if not self._due(now, counts, final):
            return
        self._last_at = now
        self._last_counts = counts
        line = format_progress(progress)
        if self._tty:
            pad = max(0, self._width - len(line))
            self._stream.write("\r" + line + " " * pad)
            self._width = len(line)
            if final:
                self._stream.write("\n")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


    def _due(self, now: float, counts: tuple[int, ...], final: bool) -> bool:
        """Whether to show a snapshot: a log line only when the counts changed; and, before
        the final one, at most one per interval."""
        if counts == self._last_counts and not self._tty:
            return False
        too_soon = self._last_at is not None and now - self._last_at < self._interval
        return final or not too_soon


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def format_summary(rows: Sequence[dict[str, Any]], *, max_rows: int = 50) -> str:
    """A plain-text table of ``results.jsonl`` rows: id, endpoint, status, files or error."""
    header = ("id", "endpoint", "status", "files / error")
    body = []
    for row in rows[:max_rows]:
        detail = ", ".join(row["files"]) if row["files"] else (row["error"] or "")
        if not detail and row["urls"]:
            detail = f"{len(row['urls'])} result URL(s), not downloaded"
        if len(detail) > 70:
            detail = detail[:67] + "..."
        body.append((row["id"], row["endpoint"], row["status"], detail))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(3)]
    lines = []
    rule = (*("-" * w for w in widths), "-" * 13)
    for cells in [header, rule, *body]:
        left = "  ".join(c.ljust(w) for c, w in zip(cells[:3], widths, strict=True))
        lines.append(f"{left}  {cells[3]}")
    if len(rows) > max_rows:
        lines.append(f"... and {len(rows) - max_rows} more (see results.jsonl)")
    return "\n".join(line.rstrip() for line in lines)
