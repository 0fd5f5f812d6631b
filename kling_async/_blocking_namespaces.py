"""Blocking twins of ``KlingClient``'s namespaces and synchronous calls, for
``BlockingKlingClient``: ``elements``, ``voices``, ``multi_elements`` (and its sessions),
``account``, and ``text_to_speech``, ``identify_face``, ``recognize_image``.

Each class is a thin view of its async namespace: one method per async method, same names
and arguments, run on the blocking client's loop thread (``_portal.PortalThread``) and
returning plain values.  Jobs come back as ``BlockingJob``s, async iterators as plain
generators (leaving one early stops it).  A view keeps its client (so its loop) alive while
it is in use, as a job does; a call that waits, made on the client's own loop thread, raises
``BlockingCallError``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from typing import Any, Generic, TypeVar

from ._account import MAX_LIMIT, Account, BalanceDeduction, PackageDeduction, ResourcePack
from ._blocking_job import BlockingJob, JobOwner
from ._client import KlingClient
from ._errors import ValidationError
from ._models.editing import EditImage, EditMode
from ._models.resources import CustomVoiceRequest, ElementRequest
from ._models.sync import (
    IdentifyFaceRequest,
    ImageRecognitionRequest,
    SelectionPoint,
    TextToSpeechRequest,
)
from ._multi_elements import (
    EditVideo,
    MultiElements,
    MultiElementsSession,
    SelectionPreview,
    SelectionResult,
)
from ._policy import PollPolicy
from ._portal import PortalThread
from ._registry import Job
from ._replies import Deduction
from ._resources import (
    ElementDeletePath,
    ElementInfo,
    Elements,
    ResourceDeletion,
    VoiceInfo,
    Voices,
    _Resources,
)
from ._sync import FaceIdentification, ImageRecognition, Speech

T = TypeVar("T", VoiceInfo, ElementInfo)
_I = TypeVar("_I")
Time = int | _dt.datetime
Points = Iterable[SelectionPoint | tuple[float, float]]


class SynchronousCalls:
    """``text_to_speech``, ``identify_face``, ``recognize_image`` of ``BlockingKlingClient``:
    one POST each, the answer at once (see ``KlingClient.text_to_speech``)."""

    _loop: PortalThread
    _client: KlingClient

    def text_to_speech(self, request: TextToSpeechRequest) -> Speech:
        """``POST /v1/audio/tts``: the speech (``AmbiguousCallError`` if it may have been
        sent and charged)."""
        client = self._client
        return self._loop.run("text_to_speech()", lambda: client.text_to_speech(request))

    def identify_face(self, request: IdentifyFaceRequest) -> FaceIdentification:
        """``POST /v1/videos/identify-face``: the faces and the lip-sync ``session_id``."""
        client = self._client
        return self._loop.run("identify_face()", lambda: client.identify_face(request))

    def recognize_image(self, request: ImageRecognitionRequest) -> ImageRecognition:
        """``POST /v1/videos/image-recognize``: the image's segmentations."""
        client = self._client
        return self._loop.run("recognize_image()", lambda: client.recognize_image(request))


class _View:
    """What every view holds: the blocking client (kept alive) and its loop."""

    def __init__(self, owner: JobOwner, prefix: str) -> None:
        self._owner = owner
        self._loop: PortalThread = owner._loop
        self._prefix = prefix  # names calls in messages: "elements."

    def _run(self, what: str, call: Callable[[], Any]) -> Any:
        return self._loop.run(self._prefix + what, call)

    def _iterate(self, what: str, source: Callable[[], AsyncIterator[_I]]
                 ) -> Generator[_I, None, None]:
        """``source()``'s items, one per ``next()``; the generator keeps this view (so the
        client and its loop) alive while it is in use."""
        yield from self._loop.iterate(self._prefix + what, source)


class _BlockingResources(_View, Generic[T]):
    """The shared part of ``BlockingElements`` and ``BlockingVoices``."""

    def __init__(self, owner: JobOwner, resources: _Resources[T], name: str) -> None:
        super().__init__(owner, name + ".")
        self._resources: _Resources[T] = resources

    def get(self, task_id: str, *, external: bool = False) -> T:
        """The one made by task ``task_id`` (``external=True``: by its ``external_task_id``);
        ``NotFoundError`` while it has made none."""
        resources = self._resources
        found: T = self._run("get()", lambda: resources.get(task_id, external=external))
        return found

    def result(self, job: BlockingJob, *, timeout: float | None = None) -> T:
        """Block until the create ``job`` ends (``TaskFailedError`` if the build failed);
        what it made."""
        resources, inner = self._resources, self._unwrap(job)
        made: T = self._run("result()", lambda: resources.result(inner, timeout=timeout))
        return made

    def list(self, *, page_size: int = 30, include_deleted: bool = False,
             max_pages: int | None = None) -> Generator[T, None, None]:
        """Every one of the account's, newest first (deleted ones only with
        ``include_deleted=True``)."""
        resources = self._resources
        return self._iterate("list()", lambda: resources.list(
            page_size=page_size, include_deleted=include_deleted, max_pages=max_pages))

    def presets(self, *, page_size: int = 30, max_pages: int | None = None
                ) -> Generator[T, None, None]:
        """Kling's official ones."""
        resources = self._resources
        return self._iterate("presets()", lambda: resources.presets(
            page_size=page_size, max_pages=max_pages))

    def _unwrap(self, job: BlockingJob) -> Job:
        if not isinstance(job, BlockingJob) or job._loop is not self._loop:
            raise ValidationError("job", f"must be a BlockingJob from this client's "
                                  f"{self._prefix}create()", type(job).__name__)
        return job._job

    def _wrap_create(self, submit: Callable[[], Any]) -> BlockingJob:
        return BlockingJob(self._run("create()", submit), self._owner)


class BlockingElements(_BlockingResources[ElementInfo]):
    """``client.elements`` of ``BlockingKlingClient`` (see ``Elements``)."""

    def __init__(self, owner: JobOwner, elements: Elements) -> None:
        super().__init__(owner, elements, "elements")
        self._elements = elements

    def create(self, request: ElementRequest, *, external_task_id: str | None = None,
               poll: PollPolicy | None = None) -> BlockingJob:
        """Submit the element's build; its ``BlockingJob`` once the server accepted it."""
        elements = self._elements
        return self._wrap_create(lambda: elements.create(
            request, external_task_id=external_task_id, poll=poll))

    def delete(self, element_id: str | int, *,
               path: ElementDeletePath = "general/delete-advanced-elements"
               ) -> ResourceDeletion:
        """Delete a custom element; ``path`` picks the documented delete path."""
        elements = self._elements
        deleted: ResourceDeletion = self._run("delete()", lambda: elements.delete(
            element_id, path=path))
        return deleted


class BlockingVoices(_BlockingResources[VoiceInfo]):
    """``client.voices`` of ``BlockingKlingClient`` (see ``Voices``)."""

    def __init__(self, owner: JobOwner, voices: Voices) -> None:
        super().__init__(owner, voices, "voices")
        self._voices = voices

    def create(self, request: CustomVoiceRequest, *, external_task_id: str | None = None,
               poll: PollPolicy | None = None) -> BlockingJob:
        """Submit the voice's build; its ``BlockingJob`` once the server accepted it."""
        voices = self._voices
        return self._wrap_create(lambda: voices.create(
            request, external_task_id=external_task_id, poll=poll))

    def delete(self, voice_id: str) -> ResourceDeletion:
        """Delete a custom voice."""
        voices = self._voices
        deleted: ResourceDeletion = self._run("delete()", lambda: voices.delete(voice_id))
        return deleted


class BlockingMultiElements(_View):
    """``client.multi_elements`` of ``BlockingKlingClient``: starts editing sessions."""

    def __init__(self, owner: JobOwner, multi: MultiElements) -> None:
        super().__init__(owner, "multi_elements.")
        self._multi = multi

    def start(self, *, video_id: str | None = None, video_url: str | None = None
              ) -> BlockingMultiElementsSession:
        """``init-selection`` of a ``video_id`` or a ``video_url`` (exactly one); the
        session that edits it."""
        multi = self._multi
        editing: MultiElementsSession = self._run("start()", lambda: multi.start(
            video_id=video_id, video_url=video_url))
        return BlockingMultiElementsSession(self._owner, editing)


class BlockingMultiElementsSession(_View):
    """A ``MultiElementsSession`` for synchronous code: the same steps, in the same order
    (``SelectionOrderError`` before any I/O otherwise)."""

    def __init__(self, owner: JobOwner, editing: MultiElementsSession) -> None:
        super().__init__(owner, "MultiElementsSession.")
        self._editing = editing

    @property
    def session_id(self) -> str:
        return self._editing.session_id

    @property
    def video(self) -> EditVideo:
        return self._editing.video

    @property
    def cost(self) -> Deduction:
        """What init-selection cost."""
        return self._editing.cost

    @property
    def selection(self) -> dict[int, tuple[SelectionPoint, ...]]:
        """The marked points by frame, as the server holds them (a copy)."""
        editing = self._editing
        return self._loop.read(lambda: editing.selection)

    def __repr__(self) -> str:
        return "<Blocking" + repr(self._editing)[1:]

    def add_selection(self, frame_index: int, points: Points) -> SelectionResult:
        """Mark the element under ``points`` on frame ``frame_index``."""
        editing = self._editing
        added: SelectionResult = self._run("add_selection()", lambda: editing.add_selection(
            frame_index, points))
        return added

    def delete_selection(self, frame_index: int, points: Points) -> SelectionResult:
        """Unmark ``points`` (exactly as added) on frame ``frame_index``."""
        editing = self._editing
        deleted: SelectionResult = self._run(
            "delete_selection()", lambda: editing.delete_selection(frame_index, points))
        return deleted

    def clear_selection(self) -> Deduction:
        """Unmark everything (allowed at any time); the cost."""
        cost: Deduction = self._run("clear_selection()", self._editing.clear_selection)
        return cost

    def preview(self) -> SelectionPreview:
        """The video with the marked elements masked; needs a selection."""
        shown: SelectionPreview = self._run("preview()", self._editing.preview)
        return shown

    def create(self, *, edit_mode: EditMode, prompt: str,
               image_list: Iterable[EditImage | str] = (), poll: PollPolicy | None = None,
               **fields: Any) -> BlockingJob:
        """Submit the edit (see ``MultiElementsSession.create``); its ``BlockingJob``."""
        editing = self._editing
        job = self._run("create()", lambda: editing.create(
            edit_mode=edit_mode, prompt=prompt, image_list=image_list, poll=poll, **fields))
        return BlockingJob(job, self._owner)


class BlockingAccount(_View):
    """``client.account`` of ``BlockingKlingClient``: ``costs``, ``balance_deductions``,
    ``package_deductions`` (see ``Account``)."""

    def __init__(self, owner: JobOwner, account: Account) -> None:
        super().__init__(owner, "account.")
        self._account = account

    @property
    def costs_interval(self) -> float:
        """Seconds between the starts of two ``costs`` calls (Kling: QPS <= 1)."""
        return self._account.costs_interval

    @costs_interval.setter
    def costs_interval(self, seconds: float) -> None:
        self._account.costs_interval = seconds

    def costs(self, start_time: Time, end_time: Time, resource_pack_name: str | None = None
              ) -> tuple[ResourcePack, ...]:
        """The account's resource packs in ``[start_time, end_time]``."""
        account = self._account
        packs: tuple[ResourcePack, ...] = self._run("costs()", lambda: account.costs(
            start_time, end_time, resource_pack_name))
        return packs

    def balance_deductions(self, start_time: Time, end_time: Time, *,
                           api_key_names: Iterable[str] = (), limit: int = MAX_LIMIT
                           ) -> Generator[BalanceDeduction, None, None]:
        """Cash deductions, newest first as Kling sends them."""
        account = self._account
        return self._iterate("balance_deductions()", lambda: account.balance_deductions(
            start_time, end_time, api_key_names=api_key_names, limit=limit))

    def package_deductions(
        self, start_time: Time, end_time: Time, *, api_key_names: Iterable[str] = (),
        product_types: Iterable[str] = (), package_names: Iterable[str] = (),
        package_ids: Iterable[str] = (), limit: int = MAX_LIMIT,
    ) -> Generator[PackageDeduction, None, None]:
        """Units deductions from resource packs."""
        account = self._account
        return self._iterate("package_deductions()", lambda: account.package_deductions(
            start_time, end_time, api_key_names=api_key_names, product_types=product_types,
            package_names=package_names, package_ids=package_ids, limit=limit))
