"""``BlockingKlingClient``'s namespaces (elements, voices, multi_elements, account) and
synchronous calls (text_to_speech...) against the simulator, from plain threads.

The simulator serves from its own thread and event loop, so these tests are plain
synchronous code, as a user's script would be.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal

import kling_async as kling
from kling_async import BlockingCallError, BlockingJob, BlockingKlingClient, Event, JobSubmitted
from kling_async.testing import KlingSimulator
from tests._simhelpers import FAST_RETRY, POLL, SIM_CONFIG

pytestmark = pytest.mark.timeout(60)
IMG = "https://img.example/a.png"
VIDEO = "https://vid.example/a.mp4"
START, END = 0, 253402300799999


@contextmanager
def serving() -> Iterator[KlingSimulator]:
    """A time-scaled simulator serving from its own thread and event loop."""
    simulator = KlingSimulator(config=SIM_CONFIG)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(simulator):
        yield simulator


def settings(sim: KlingSimulator) -> dict[str, Any]:
    return {"api_key": sim.api_key, "base_url": sim.base_url, "poll": POLL,
            "retry": FAST_RETRY, "reconcile_delay": 0}


@pytest.fixture
def sim() -> Iterator[KlingSimulator]:
    with serving() as simulator:
        yield simulator


@pytest.fixture
def client(sim: KlingSimulator) -> Iterator[BlockingKlingClient]:
    with BlockingKlingClient(**settings(sim)) as blocking:
        yield blocking


def element_request(name: str = "hero") -> kling.ElementRequest:
    return kling.ElementRequest(
        element_name=name, element_description="our hero", reference_type="image_refer",
        element_image_list=kling.ElementImages(
            frontal_image=IMG, refer_images=[kling.ElementReferImage(image_url=IMG)]),
        tag_list=[kling.ElementTag(tag_id="o_102")])


def requests_sent(sim: KlingSimulator) -> int:
    return sum(sim.stats().requests.values())


def test_an_element_round_trips_create_result_get_list_delete(
        client: BlockingKlingClient) -> None:
    """elements.create returns a BlockingJob; result, get, list and delete block and return
    plain values; list is a plain iterator."""
    job = client.elements.create(element_request())
    assert isinstance(job, BlockingJob) and job.task_id is not None
    element = client.elements.result(job, timeout=30)
    assert isinstance(element, kling.ElementInfo)
    assert element.element_name == "hero" and element.task_id == job.task_id
    assert client.elements.get(job.task_id) == element
    assert [e.element_id for e in client.elements.list()] == [element.element_id]
    deletion = client.elements.delete(element.element_id)
    assert isinstance(deletion, kling.ResourceDeletion) and deletion.task_status == "succeed"
    assert list(client.elements.list()) == []
    (gone,) = client.elements.list(include_deleted=True)
    assert gone.status == "deleted"


def test_a_voice_round_trips_create_result_get_list_delete(client: BlockingKlingClient) -> None:
    """voices: the same round trip, get by external id, and presets as a plain iterator."""
    job = client.voices.create(kling.CustomVoiceRequest(
        voice_name="narrator", voice_url="https://snd.example/v.mp3"), external_task_id="v-1")
    assert isinstance(job, BlockingJob) and job.external_task_id == "v-1"
    voice = client.voices.result(job, timeout=30)
    assert isinstance(voice, kling.VoiceInfo) and voice.voice_name == "narrator"
    assert client.voices.get("v-1", external=True) == voice
    with pytest.raises(kling.ValidationError, match=r"from this client's voices.create\(\)"):
        client.voices.result(job.task_id)  # type: ignore[arg-type]
    assert [v.voice_id for v in client.voices.list(page_size=1000)] == [voice.voice_id]
    client.voices.delete(voice.voice_id)
    assert list(client.voices.list()) == []
    assert [v.owned_by for v in client.voices.presets()] == ["kling"] * 3


def test_the_synchronous_calls_return_their_answers(client: BlockingKlingClient) -> None:
    """text_to_speech, identify_face and recognize_image block and return typed answers."""
    speech = client.text_to_speech(kling.TextToSpeechRequest(
        text="Hello there, this is a test.", voice_id="oversea_male1", voice_language="en"))
    assert isinstance(speech, kling.Speech) and speech.cost.units == Decimal("0.05")
    (audio,) = speech.audios
    assert audio.url.startswith("http")
    faces = client.identify_face(kling.IdentifyFaceRequest(video_id="v-1"))
    assert isinstance(faces, kling.FaceIdentification) and faces.session_id
    found = client.recognize_image(kling.ImageRecognitionRequest(image=IMG))
    assert isinstance(found, kling.ImageRecognition) and found.of_type("head_seg") is not None


def test_a_multi_elements_session_in_order_ends_in_a_succeeded_edit(
        sim: KlingSimulator, client: BlockingKlingClient) -> None:
    """start -> add -> delete -> add -> preview -> create: typed answers, a BlockingJob."""
    session = client.multi_elements.start(video_url=VIDEO)
    assert isinstance(session, kling.BlockingMultiElementsSession)
    assert session.session_id and session.video.total_frame == 150
    added = session.add_selection(0, [(0.5, 0.5), kling.SelectionPoint(x=0.1, y=0.2)])
    assert isinstance(added, kling.SelectionResult) and added.frame_index == 0
    session.delete_selection(0, [(0.5, 0.5)])
    session.add_selection(12, [(1.0, 0.0)])
    assert set(session.selection) == {0, 12}
    assert session.session_id in repr(session)
    preview = session.preview()
    assert preview.video is not None and preview.video.startswith("http")
    job = session.create(edit_mode="swap", prompt="swap <<<image_1>>> in", image_list=[IMG])
    assert isinstance(job, BlockingJob)
    assert job.result(timeout=30).status is kling.TaskStatus.SUCCEED
    (record,) = [t for t in sim.tasks() if t.endpoint == "videos/multi-elements"]
    assert record.body["session_id"] == session.session_id
    assert isinstance(session.clear_selection(), kling.Deduction) and session.selection == {}


def test_a_multi_elements_step_out_of_order_is_refused_before_any_io(
        sim: KlingSimulator, client: BlockingKlingClient) -> None:
    """preview, a removal and a delete before any selection raise SelectionOrderError and
    send nothing."""
    session = client.multi_elements.start(video_id="v-1")
    before = requests_sent(sim)
    with pytest.raises(kling.SelectionOrderError) as caught:
        session.preview()
    assert caught.value.field == "preview"
    with pytest.raises(kling.SelectionOrderError, match="add_selection first"):
        session.create(edit_mode="removal", prompt="remove it")
    with pytest.raises(kling.SelectionOrderError) as caught:
        session.delete_selection(0, [(0.5, 0.5)])
    assert caught.value.field == "frame_index"
    assert requests_sent(sim) == before


def test_account_costs_and_deductions(client: BlockingKlingClient) -> None:
    """account.costs returns typed packs; package_deductions follows the cursor as a plain
    iterator and leaving it early stops it; costs_interval reads and sets through."""
    client.submit(kling.ImageGenerationRequest(prompt="a fox", n=2, model_name="kling-v1")
                  ).result(timeout=30)
    client.submit(kling.ImageGenerationRequest(prompt="a cat")).result(timeout=30)
    packs = client.account.costs(START, END)
    assert all(isinstance(p, kling.ResourcePack) for p in packs)
    image = {p.resource_pack_name: p for p in packs}["sim image pack"]
    assert image.remaining_quantity is not None and image.remaining_quantity < 10000
    found = list(client.account.package_deductions(START, END, limit=1))
    assert len(found) == 2 and all(isinstance(d, kling.PackageDeduction) for d in found)
    details = client.account.package_deductions(START, END, limit=1)
    assert next(details).task_id in {d.task_id for d in found}
    details.close()  # leaving early: the listing stops; the client goes on
    assert [d.task_id for d in client.account.package_deductions(START, END)] != []
    account = client.account
    account.costs_interval = 0.25
    assert client.account.costs_interval == 0.25


def test_namespace_calls_on_the_clients_own_thread_are_refused(sim: KlingSimulator) -> None:
    """Namespace calls and the synchronous calls made from an on_event handler (the client's
    own loop thread) raise BlockingCallError naming the call, instead of hanging."""
    refused: list[str] = []
    holder: list[BlockingKlingClient] = []
    calls: list[Callable[[BlockingKlingClient, str], object]] = [
        lambda c, task_id: c.elements.get(task_id),
        lambda c, task_id: next(c.voices.list()),
        lambda c, task_id: c.account.costs(START, END),
        lambda c, task_id: next(c.account.balance_deductions(START, END)),
        lambda c, task_id: c.multi_elements.start(video_id="v-1"),
        lambda c, task_id: c.text_to_speech(kling.TextToSpeechRequest(text="hi", voice_id="v")),
    ]

    def on_event(event: Event) -> None:
        if isinstance(event, JobSubmitted) and not refused:
            for call in calls:
                try:
                    call(holder[0], event.task_id)
                except BlockingCallError as exc:
                    refused.append(str(exc))

    with BlockingKlingClient(**settings(sim), on_event=on_event) as client:
        holder.append(client)
        client.submit(kling.ImageGenerationRequest(prompt="x")).result(timeout=30)
    assert len(refused) == len(calls)
    assert [message.split(" waits")[0] for message in refused] == [
        "elements.get()", "voices.list()", "account.costs()", "account.balance_deductions()",
        "multi_elements.start()", "text_to_speech()"]


def test_an_iterator_keeps_a_client_left_open_alive_until_it_is_closed(
        sim: KlingSimulator) -> None:
    """An iterator from a never-closed client's namespace keeps it open while in use; once
    it is closed and nothing else refers to the client, its thread stops."""
    before = set(threading.enumerate())
    presets = BlockingKlingClient(**settings(sim)).elements.presets(page_size=1)
    assert next(presets).owned_by == "kling"
    presets.close()
    assert set(threading.enumerate()) == before


PAIRS = [
    (kling.Elements, kling.BlockingElements), (kling.Voices, kling.BlockingVoices),
    (kling.MultiElements, kling.BlockingMultiElements),
    (kling.MultiElementsSession, kling.BlockingMultiElementsSession),
    (kling.Account, kling.BlockingAccount),
]


@pytest.mark.parametrize(("async_class", "blocking_class"), PAIRS,
                         ids=[pair[1].__name__ for pair in PAIRS])
def test_every_async_namespace_method_has_a_blocking_twin(async_class: type,
                                                          blocking_class: type) -> None:
    """Each public method of an async namespace exists on its blocking twin with the same
    parameters (names, kinds, defaults)."""
    for name, method in inspect.getmembers(async_class, inspect.isfunction):
        if name.startswith("_"):
            continue
        twin = getattr(blocking_class, name, None)
        assert twin is not None, f"{blocking_class.__name__}.{name} is missing"
        ours = [(p.name, p.kind, p.default) for p in inspect.signature(twin).parameters.values()]
        theirs = [(p.name, p.kind, p.default)
                  for p in inspect.signature(method).parameters.values()]
        assert ours == theirs, name


def test_the_client_has_every_namespace_and_synchronous_call() -> None:
    """BlockingKlingClient offers the async client's namespaces and synchronous calls."""
    for name in ("elements", "voices", "multi_elements", "account"):
        assert isinstance(inspect.getattr_static(BlockingKlingClient, name), property), name
    for name in ("text_to_speech", "identify_face", "recognize_image"):
        ours = inspect.signature(getattr(BlockingKlingClient, name)).parameters
        theirs = inspect.signature(getattr(kling.KlingClient, name)).parameters
        assert list(ours) == list(theirs), name
