"""``client.elements`` and ``client.voices``: custom elements and voices (reference §2.11,
§2.17) as small typed namespaces.

- ``create(request)``: the build is a task; returns its ``Job`` (``client.submit``), whose
  ``result()`` is the ``Task``.  ``await client.elements.result(job)`` waits for it and
  returns the ``ElementInfo`` it made (one GET more).
- ``get(task_id)``: Kling looks elements and voices up by the id (or ``external_task_id``, with
  ``external=True``) of the task that made them; there is no lookup by element or voice id.
  ``NotFoundError`` while the task has made nothing (still running, or failed).
- ``list()``: every element or voice of the account, newest first, as an async iterator over
  items; pages of ``page_size`` (legacy ``pageNum``/``pageSize``: elements [1, 500], voices
  [1, 1000]; page numbers up to 1000), until a short page.  Deleted ones (``status``
  ``deleted``) are skipped unless ``include_deleted=True``.
- ``presets()``: Kling's official ones, the same way.
- ``delete(id)``: ``POST /v1/general/delete-voices`` or, for elements,
  ``/v1/general/delete-advanced-elements`` (the video pages) by default or
  ``/v1/general/delete-elements`` (the image pages) with ``path=``; the docs contradict each
  other.  Deleting is idempotent, so it is retried like a query.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Generic, Literal, TypeVar

import attrs

from ._endpoints import quote_segment
from ._errors import NotFoundError, ResponseDecodeError, ValidationError
from ._models.resources import CustomVoiceRequest, ElementRequest
from ._policy import PollPolicy
from ._registry import Job
from ._replies import items, mapping, text
from ._wiring import ClientCalls

_ID = 256
MAX_PAGE_NUM = 1000


@attrs.frozen(kw_only=True)
class VoiceInfo:
    """A voice: ``voice_id`` (what ``voice_list`` and TTS take), name, a trial audio URL,
    ``owned_by`` (``"kling"`` for official voices, else the creator's id), ``status``
    (``succeed``, or ``deleted``) and the id of the task that made it (None for presets)."""

    voice_id: str
    voice_name: str | None = None
    trial_url: str | None = None
    owned_by: str | None = None
    status: str | None = None
    task_id: str | None = None


@attrs.frozen(kw_only=True)
class ElementInfo:
    """An element (custom subject): ``element_id`` (kept as text: 64-bit ids), name,
    description, ``reference_type`` (``image_refer`` | ``video_refer``), its reference
    images or videos, the bound voice, tag ids, ``owned_by``, ``status`` and the id of the
    task that made it (None for presets)."""

    element_id: str
    element_name: str | None = None
    element_description: str | None = None
    reference_type: str | None = None
    frontal_image: str | None = None
    refer_images: tuple[str, ...] = ()
    refer_videos: tuple[str, ...] = ()
    voice: VoiceInfo | None = None
    tags: tuple[str, ...] = ()
    owned_by: str | None = None
    status: str | None = None
    task_id: str | None = None


@attrs.frozen(kw_only=True)
class ResourceDeletion:
    """What a delete returns: the id and status of the deletion task Kling reports."""

    task_id: str | None = None
    task_status: str | None = None


def parse_voice(item: Mapping[str, Any], task_id: str | None = None) -> VoiceInfo | None:
    """A ``voices[]`` item (or an ``element_voice_info``); None without a ``voice_id``."""
    voice_id = text(item.get("voice_id"), _ID)
    if voice_id is None:
        return None
    return VoiceInfo(voice_id=voice_id, voice_name=text(item.get("voice_name")),
                     trial_url=text(item.get("trial_url")), owned_by=text(item.get("owned_by"),
                                                                          _ID),
                     status=text(item.get("status"), 32), task_id=task_id)


def _urls(raw: Any, key: str) -> tuple[str, ...]:
    return items(raw, lambda item: text(item.get(key)))


def parse_element(item: Mapping[str, Any], task_id: str | None = None) -> ElementInfo | None:
    """An ``elements[]`` item; None without an ``element_id``."""
    element_id = text(item.get("element_id"), _ID)
    if element_id is None:
        return None
    images, videos = mapping(item.get("element_image_list")), mapping(
        item.get("element_video_list"))
    return ElementInfo(
        element_id=element_id, element_name=text(item.get("element_name")),
        element_description=text(item.get("element_description")),
        reference_type=text(item.get("reference_type"), 32),
        frontal_image=text(images.get("frontal_image")),
        refer_images=_urls(images.get("refer_images"), "image_url"),
        refer_videos=_urls(videos.get("refer_videos"), "video_url"),
        voice=parse_voice(mapping(item.get("element_voice_info"))),
        tags=_urls(item.get("tag_list"), "tag_id"),
        owned_by=text(item.get("owned_by"), _ID), status=text(item.get("status"), 32),
        task_id=task_id)


T = TypeVar("T", VoiceInfo, ElementInfo)
Calls = Callable[[], ClientCalls]
Submit = Callable[..., Awaitable[Job]]


@attrs.frozen
class _Kind(Generic[T]):
    """What differs between voices and elements: paths, result key, parser, page limit."""

    name: str  # the create endpoint: general/custom-voices
    presets: str
    delete: str
    key: str  # task_result key: voices | elements
    id_field: str  # voice_id | element_id
    parse: Callable[[Mapping[str, Any], str | None], T | None]
    max_page_size: int


def _made(kind: _Kind[T], task: Mapping[str, Any]) -> tuple[T, ...]:
    """What one task object (or presets item) holds."""
    task_id = text(task.get("task_id"), _ID)
    made: tuple[T, ...] = items(mapping(task.get("task_result")).get(kind.key),
                                lambda item: kind.parse(item, task_id))
    return made


class _Resources(Generic[T]):
    """The shared namespace behind ``client.voices`` and ``client.elements``."""

    def __init__(self, kind: _Kind[T], calls: Calls, submit: Submit) -> None:
        self._kind: _Kind[T] = kind
        self._calls = calls
        self._submit = submit

    async def _create(self, request: Any, external_task_id: str | None,
                      poll: PollPolicy | None) -> Job:
        return await self._submit(request, external_task_id=external_task_id, poll=poll)

    async def get(self, task_id: str, *, external: bool = False) -> T:
        """The one made by task ``task_id`` (``external=True``: by its ``external_task_id``);
        ``NotFoundError`` while it has made none."""
        kind = self._kind
        path = f"/v1/{kind.name}/{quote_segment(task_id)}"
        params = {"external_task_id": "true"} if external else None
        data = await self._calls().call("GET", path, params=params)
        found = _made(kind, mapping(data))
        if not found:
            status = text(mapping(data).get("task_status"), 32)
            raise NotFoundError(f"task {task_id!r} has made no {kind.key[:-1]} "
                                f"(task_status {status})", http_status=None, code=None)
        return found[0]

    async def result(self, job: Job, *, timeout: float | None = None) -> T:
        """Wait for the create ``job`` (``job.result(timeout)``: ``TaskFailedError`` if the
        build failed) and return what it made."""
        task = await job.result(timeout=timeout)
        return await self.get(task.task_id)

    async def list(self, *, page_size: int = 30, include_deleted: bool = False,
                   max_pages: int | None = None) -> AsyncIterator[T]:
        """Every one of the account's, newest first (see the module docstring)."""
        pages = self._pages(f"/v1/{self._kind.name}", page_size, max_pages)
        async with contextlib.aclosing(pages):
            async for item in pages:
                if include_deleted or item.status != "deleted":
                    yield item

    async def presets(self, *, page_size: int = 30, max_pages: int | None = None
                      ) -> AsyncIterator[T]:
        """Kling's official ones."""
        pages = self._pages(f"/v1/{self._kind.presets}", page_size, max_pages)
        async with contextlib.aclosing(pages):
            async for item in pages:
                yield item

    async def _delete(self, path: str, resource_id: str) -> ResourceDeletion:
        if not isinstance(resource_id, str) or not resource_id.strip():
            raise ValidationError(self._kind.id_field, "must be a non-empty string",
                                  resource_id)
        data = mapping(await self._calls().call(
            "POST", f"/v1/{path}", body={self._kind.id_field: resource_id}))
        return ResourceDeletion(task_id=text(data.get("task_id"), _ID),
                        task_status=text(data.get("task_status"), 32))

    async def _pages(self, path: str, page_size: int, max_pages: int | None
                     ) -> AsyncGenerator[T, None]:
        _check_paging(page_size, self._kind.max_page_size, max_pages)
        calls = self._calls()
        last = MAX_PAGE_NUM if max_pages is None else min(MAX_PAGE_NUM, max_pages)
        for page in range(1, last + 1):
            data = await calls.call("GET", path, params={"pageNum": str(page),
                                                         "pageSize": str(page_size)})
            if not isinstance(data, list):
                raise ResponseDecodeError(f"GET {path}: the page is not a list")
            for task in data[:page_size]:
                for item in _made(self._kind, mapping(task)):
                    yield item
            if len(data) < page_size:
                return


def _check_paging(page_size: int, high: int, max_pages: int | None) -> None:
    _check_count("page_size", page_size, high)
    if max_pages is not None:
        _check_count("max_pages", max_pages, MAX_PAGE_NUM)


def _check_count(name: str, value: int, top: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise ValidationError(name, f"must be a whole number in [1, {top}]", value)


VOICES: _Kind[VoiceInfo] = _Kind("general/custom-voices", "general/presets-voices",
                                 "general/delete-voices", "voices", "voice_id", parse_voice,
                                 1000)
ELEMENTS: _Kind[ElementInfo] = _Kind(
    "general/advanced-custom-elements", "general/advanced-presets-elements",
    "general/delete-advanced-elements", "elements", "element_id", parse_element, 500)
ElementDeletePath = Literal["general/delete-advanced-elements", "general/delete-elements"]


class Voices(_Resources[VoiceInfo]):
    """``client.voices``: custom voices (create, get, list, delete) and the presets."""

    def __init__(self, calls: Calls, submit: Submit) -> None:
        super().__init__(VOICES, calls, submit)

    async def create(self, request: CustomVoiceRequest, *, external_task_id: str | None = None,
                     poll: PollPolicy | None = None) -> Job:
        """Submit the voice's build (``client.submit``); the ``Job``."""
        if not isinstance(request, CustomVoiceRequest):
            raise ValidationError("request", "must be a CustomVoiceRequest",
                                  type(request).__name__)
        return await self._create(request, external_task_id, poll)

    async def delete(self, voice_id: str) -> ResourceDeletion:
        """Delete a custom voice (``POST /v1/general/delete-voices``)."""
        return await self._delete(self._kind.delete, voice_id)


class Elements(_Resources[ElementInfo]):
    """``client.elements``: custom elements (create, get, list, delete) and the presets."""

    def __init__(self, calls: Calls, submit: Submit) -> None:
        super().__init__(ELEMENTS, calls, submit)

    async def create(self, request: ElementRequest, *, external_task_id: str | None = None,
                     poll: PollPolicy | None = None) -> Job:
        """Submit the element's build (``client.submit``); the ``Job``."""
        if not isinstance(request, ElementRequest):
            raise ValidationError("request", "must be an ElementRequest",
                                  type(request).__name__)
        return await self._create(request, external_task_id, poll)

    async def delete(self, element_id: str | int, *,
                     path: ElementDeletePath = "general/delete-advanced-elements"
                     ) -> ResourceDeletion:
        """Delete a custom element; ``path`` picks the documented delete path."""
        if path not in ("general/delete-advanced-elements", "general/delete-elements"):
            raise ValidationError("path", "must be 'general/delete-advanced-elements' or "
                                  "'general/delete-elements'", path)
        if isinstance(element_id, int):  # a 64-bit id as Kling's results send it
            if isinstance(element_id, bool):
                raise ValidationError("element_id", "must be a string or an int", element_id)
            return await self._delete(path, str(element_id))
        return await self._delete(path, element_id)
