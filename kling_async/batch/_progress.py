"""Progress of a batch: ``BatchProgress`` snapshots, a terminal/log display, a summary table.

On a terminal the display is one live line drawn with ``rich``: it is fitted to the terminal's
width at every redraw (the least useful parts are left out on a narrow terminal, never wrapped),
its counts keep their columns (padded to the width of the total), result files are counted
apart from jobs, and each failure is printed as its own line above it as it happens.  It is
redrawn at most ``tty_interval`` seconds apart.  Elsewhere (a pipe, CI) it prints a plain log
line when the counts change, at most one per ``log_interval`` seconds, and one line per
failure.  Throughput is finished jobs per minute in this run; the ETA is the remaining jobs at
that rate.  Nothing printed here ever carries a key; text from the server is printed with its
control characters replaced (no escape sequence reaches the terminal).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import attrs
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.text import Text


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


#: The live bar's width bounds (characters); narrower than the minimum, it is left out.
_MIN_BAR, _MAX_BAR = 10, 30
#: The bar goes before the waiting count, after throughput and ETA, on a narrow terminal.
_BAR_PRIORITY = 5.5


def printable(text: str) -> str:
    """``text`` on one line with every control character (escape sequences, newlines) shown
    as ``?``: what a server sent cannot move the cursor or recolour the terminal."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _live_parts(p: BatchProgress) -> list[tuple[int, str, str]]:
    """The live line's parts after the bar: (priority: lower is left out first, text, style);
    every number is padded to the width of the total so the columns do not move."""
    w = len(str(p.total))
    parts = [
        (9, f"{p.finished:>{w}}/{p.total} jobs", "bold"),
        (8, f"ok {p.succeeded:>{w}}", "green"),
        (8, f"failed {p.failed:>{w}}", "red" if p.failed else ""),
        (6, f"running {p.submitted + p.processing:>{w}}", "cyan"),
        (5, f"waiting {p.queued + p.waiting:>{w}}", "dim"),
        (7, f"files {p.downloaded:>{w}}", "blue"),
    ]
    if p.download_errors:
        parts.append((7, f"file errors {p.download_errors}", "red"))
    parts.append((3, f"{p.per_minute:5.1f}/min", "dim"))
    parts.append((4, f"ETA {_duration(p.eta):>5}", "dim"))
    return parts


def live_line(p: BatchProgress, width: int) -> Text:
    """The live progress line, at most ``width`` cells: a bar, then jobs done, the counts by
    state, files downloaded, throughput and ETA; on a narrow terminal the lowest-priority
    parts (the bar among them) are left out, never wrapped."""
    parts = _live_parts(p)
    bar = True

    def length() -> int:
        texts = sum(len(text) for _, text, _ in parts) + 2 * max(0, len(parts) - 1)
        return texts + (_MIN_BAR + 1 if bar else 0)

    while length() > width and parts:
        lowest = min(parts, key=lambda part: part[0])
        if bar and _BAR_PRIORITY < lowest[0]:
            bar = False
        else:
            parts.remove(lowest)
    line = Text(no_wrap=True, overflow="crop")
    if bar:
        size = min(_MAX_BAR, _MIN_BAR + width - length())
        filled = int(size * p.finished / p.total) if p.total else size
        line.append("\u2501" * filled, "green")
        line.append("\u2501" * (size - filled), "grey37")
        line.append(" ")
    for i, (_, text, style) in enumerate(parts):
        if i:
            line.append("  ")
        line.append(text, style)
    line.truncate(width)
    return line


class _LiveLine:
    """A renderable that fits ``live_line`` to the width rich offers at each redraw."""

    def __init__(self, progress: BatchProgress) -> None:
        self.progress = progress

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield live_line(self.progress, options.max_width)


class ProgressDisplay:
    """Shows ``BatchProgress`` on ``stream``: a live line on a TTY, log lines otherwise;
    ``job_failed`` shows one line per failed job.  ``width`` fixes the terminal width (default:
    the terminal's own, followed as it changes)."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None,
                 tty_interval: float = 0.25, log_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, width: int | None = None):
        self._stream = stream if stream is not None else sys.stderr
        self._tty = tty if tty is not None else _isatty(self._stream)
        self._interval = tty_interval if self._tty else log_interval
        self._clock = clock
        self._last_at: float | None = None
        self._last_counts: tuple[int, ...] | None = None
        self._width = width
        self._live: Live | None = None
        self._console: Console | None = None

    def _live_console(self) -> Live:
        if self._live is None:
            self._console = Console(file=self._stream, force_terminal=True, width=self._width,
                                    highlight=False, markup=False, emoji=False)
            self._live = Live(console=self._console, auto_refresh=False, transient=False,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        return self._live

    def __call__(self, progress: BatchProgress, *, final: bool = False) -> None:
        now = self._clock()
        counts = progress.counts()
        if not self._due(now, counts, final):
            return
        self._last_at = now
        self._last_counts = counts
        if self._tty:
            live = self._live_console()
            live.update(_LiveLine(progress), refresh=True)
            if final:
                self.close()
            return
        self._stream.write(format_progress(progress) + "\n")
        self._stream.flush()

    def job_failed(self, job_id: str, reason: str) -> None:
        """One line for a job that failed (above the live line on a terminal)."""
        text = printable(f"failed: {job_id}: {reason}")
        if self._tty:
            self._live_console()
            assert self._console is not None
            self._console.print(Text(text, style="red"), no_wrap=True, overflow="ellipsis",
                                crop=True)
            return
        self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the live line (it stays on screen, followed by a newline); idempotent."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

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


def format_summary(rows: Sequence[dict[str, Any]], *, max_rows: int = 50,
                   width: int | None = None) -> str:
    """A plain-text table of ``results.jsonl`` rows: id, endpoint, status, files or error;
    with ``width`` (a terminal's), each row's last column is cut to fit it."""
    header = ("id", "endpoint", "status", "files / error")
    body = []
    for row in rows[:max_rows]:
        detail = ", ".join(row["files"]) if row["files"] else (row["error"] or "")
        if not detail and row["urls"]:
            detail = f"{len(row['urls'])} result URL(s), not downloaded"
        body.append((row["id"], row["endpoint"], row["status"], printable(detail)))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(3)]
    room = 70 if width is None else max(13, width - sum(widths) - 6)
    lines = []
    rule = (*("-" * w for w in widths), "-" * 13)
    for cells in [header, rule, *body]:
        left = "  ".join(c.ljust(w) for c, w in zip(cells[:3], widths, strict=True))
        detail = cells[3] if len(cells[3]) <= room else cells[3][:room - 3] + "..."
        lines.append(f"{left}  {detail}")
    if len(rows) > max_rows:
        lines.append(f"... and {len(rows) - max_rows} more (see results.jsonl)")
    return "\n".join(line.rstrip() for line in lines)
