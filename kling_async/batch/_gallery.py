"""``gallery.html``: one self-contained static page of a batch's results, beside
``results.jsonl``.

A card per job (in input order): its id, prompt, status, cost when known, and the result itself
(``<img>``, an inline ``<video controls>`` or ``<audio controls>`` player), from the downloaded
file (a relative link) when there is one, else from the result URL; a failed job shows its
reason.  Buttons filter the cards by status (a small inline script; without it every card
shows).  No server, no CDN, no external script or style.

Everything from the server or the user (ids, prompts, errors, URLs) is HTML-escaped; a result
is embedded only from an ``http``/``https`` URL or a plain file name of the output folder; and
a Content-Security-Policy lets run only the page's own script and style (by their hashes), so
even a mistake in escaping could not run anything.  Written atomically (temp file + rename) at
the end of every run and resume.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .._costs import Cost, CostTally, parse_cost
from ._fetch import plain_name
from ._jobsfile import BatchJob
from ._storage import write_atomically
from ._store import JobRecord
from ._text import escape_surrogates

GALLERY_NAME = "gallery.html"

_IMAGE = frozenset({"png", "jpg", "jpeg", "webp", "gif", "bmp", "avif"})
_VIDEO = frozenset({"mp4", "webm", "mov", "m4v", "ogv"})
_AUDIO = frozenset({"mp3", "wav", "m4a", "aac", "ogg", "oga", "flac", "opus"})

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem;background:#f4f4f5;color:#18181b}
h1{font-size:1.2rem}nav button{margin:0 .3rem .6rem 0;padding:.3rem .7rem;cursor:pointer}
nav button[aria-pressed=true]{background:#18181b;color:#fff}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.8rem}
.card{background:#fff;border-radius:8px;padding:.6rem;box-shadow:0 1px 3px #0002;
overflow-wrap:anywhere}.card[hidden]{display:none}
.card h2{font-size:.95rem;margin:.4rem 0}.media img,.media video{width:100%;border-radius:4px}
.media audio{width:100%}.status{font-weight:600}.s-succeeded .status{color:#15803d}
.s-failed .status,.error{color:#b91c1c}.prompt{font-size:.85rem;color:#3f3f46}
.meta{font-size:.8rem;color:#52525b}.none{color:#71717a;font-style:italic}
""".strip()

_SCRIPT = """
(function(){var b=document.querySelectorAll('nav button'),c=document.querySelectorAll('.card');
function show(s){c.forEach(function(e){e.hidden=!(s==='all'||e.dataset.status===s);});
b.forEach(function(e){e.setAttribute('aria-pressed',String(e.dataset.filter===s));});}
b.forEach(function(e){e.addEventListener('click',function(){show(e.dataset.filter);});});
show('all');})();
""".strip()


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _csp() -> str:
    """Only this page's own script and style run; media from the folder or http(s)."""
    return (f"default-src 'none'; script-src 'sha256-{_digest(_SCRIPT)}'; "
            f"style-src 'sha256-{_digest(_STYLE)}'; img-src 'self' file: http: https:; "
            "media-src 'self' file: http: https:")


def _e(value: object) -> str:
    """HTML-escaped text (quotes too), with lone surrogates shown as escapes."""
    return html.escape(escape_surrogates(str(value)), quote=True)


def cost_of(task: Any) -> str | None:
    """The cost of a task as text, or None when unknown: a typed ``cost`` (an attribute of a
    ``Task`` or a key of its dict) when there is one, else Kling's ``final_unit_deduction``
    (units).  A ``Cost`` (or its ``to_dict()``, as journaled) reads as ``CostTally.summary``
    does (``"4 units"``).  The one place that knows where a cost is found."""
    if task is None:
        return None
    if isinstance(task, Mapping):
        found = task.get("cost")
        found = task.get("final_unit_deduction") if found is None else found
    else:
        found = getattr(task, "cost", None)
        found = getattr(task, "final_unit_deduction", None) if found is None else found
    if found is None or found == "":
        return None
    if isinstance(found, (str, int, float)):
        return f"{found} units"
    cost = found if isinstance(found, Cost) else parse_cost(found)
    if cost is None:
        return None
    tally = CostTally()
    tally.add(cost)
    return tally.summary()


def safe_src(url: str) -> str | None:
    """``url`` if a page may load it: an absolute ``http``/``https`` URL without whitespace
    or control characters (else None: ``javascript:``, ``data:``, ``file:``... are not)."""
    if not isinstance(url, str) or any(c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _kind(name: str, default: str) -> str:
    """``image``, ``video`` or ``audio`` from a file name's or URL path's extension."""
    ext = urlsplit(name).path.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in _IMAGE:
        return "image"
    if ext in _VIDEO:
        return "video"
    if ext in _AUDIO:
        return "audio"
    return default


def _media(src: str, kind: str, alt: str) -> str:
    if kind == "video":
        return f'<video controls preload="metadata" src="{_e(src)}"></video>'
    if kind == "audio":
        return f'<audio controls preload="metadata" src="{_e(src)}"></audio>'
    return f'<img loading="lazy" src="{_e(src)}" alt="{_e(alt)}">'


def _results(job: BatchJob, record: JobRecord | None, prompt: str) -> list[str]:
    """The card's players: each result from its downloaded file, else its URL."""
    if record is None:
        return []
    default = "video" if job.endpoint.startswith("videos/") else "image"
    shown = []
    for url in record.urls:
        name = record.files.get(url)
        if name is not None and plain_name(name):
            shown.append(_media(quote(name), _kind(name, default), prompt))
            continue
        src = safe_src(url)
        if src is not None:
            shown.append(_media(src, _kind(src, default), prompt))
        else:
            shown.append(f'<p class="none">result URL not shown (not http/https): '
                         f"{_e(url[:200])}</p>")
    return shown


def _card(job: BatchJob, row: Mapping[str, Any], record: JobRecord | None) -> str:
    prompt = job.payload.get("prompt") if isinstance(job.payload, Mapping) else None
    prompt_text = prompt if isinstance(prompt, str) else ""
    status = str(row.get("status") or "unknown")
    media = _results(job, record, prompt_text) or ['<p class="none">no result</p>']
    lines = [f'<article class="card s-{_e(status)}" data-status="{_e(status)}">',
             f'<div class="media">{"".join(media)}</div>',
             f"<h2>{_e(job.id)}</h2>",
             f'<p class="status">{_e(status)}</p>']
    meta = [_e(job.endpoint)]
    cost = cost_of(record.task if record is not None else None)
    if cost is not None:
        meta.append(f'<span class="cost">{_e(cost)}</span>')
    lines.append(f'<p class="meta">{" &middot; ".join(meta)}</p>')
    if prompt_text:
        lines.append(f'<p class="prompt">{_e(prompt_text)}</p>')
    if row.get("error"):
        lines.append(f'<p class="error">{_e(row["error"])}</p>')
    lines.append("</article>")
    return "\n".join(lines)


def _filters(rows: Sequence[Mapping[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        status = str(row.get("status") or "unknown")
        counts[status] = counts.get(status, 0) + 1
    buttons = [f'<button type="button" data-filter="all">all ({len(rows)})</button>']
    buttons += [f'<button type="button" data-filter="{_e(s)}">{_e(s)} ({n})</button>'
                for s, n in sorted(counts.items())]
    return f"<nav>{''.join(buttons)}</nav>"


def render_gallery(jobs: Sequence[BatchJob], rows: Sequence[Mapping[str, Any]],
                   records: Mapping[str, JobRecord], *, title: str = "kling-async batch") -> str:
    """The page: ``rows`` (as in ``results.jsonl``, one per job of ``jobs``, same order) with
    the journal's ``records`` for the results and costs."""
    cards = [_card(job, row, records.get(job.id)) for job, row in zip(jobs, rows, strict=True)]
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_csp())}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head><body>",
        f"<h1>{_e(title)}: {len(rows)} jobs</h1>",
        _filters(rows),
        "<main>", *cards, "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
        "",
    ])


def write_gallery(path: Path, jobs: Sequence[BatchJob], rows: Sequence[Mapping[str, Any]],
                  records: Iterable[JobRecord]) -> None:
    """Write ``render_gallery`` at ``path`` atomically (temp file + rename);
    ``BatchStorageError`` if it cannot be written (the old page, if any, stays whole)."""
    text = render_gallery(jobs, rows, {r.job_id: r for r in records})
    write_atomically(path, (text,))
