"""client.elements and client.voices: create (a task) -> get -> list -> delete round trips
against the simulator, presets, paging and validation before any I/O."""

from __future__ import annotations

from typing import Any

import pytest

import kling_async as kling
from kling_async.testing import KlingSimulator
from tests._scripted import Reply, ScriptedServer, ok
from tests._simhelpers import client_for

pytestmark = pytest.mark.anyio
IMG = "https://img.example/a.png"


def _element_request(name: str = "hero", **extra: Any) -> kling.ElementRequest:
    return kling.ElementRequest(
        element_name=name, element_description="our hero", reference_type="image_refer",
        element_image_list=kling.ElementImages(
            frontal_image=IMG,
            refer_images=[kling.ElementReferImage(image_url=IMG)]),
        tag_list=[kling.ElementTag(tag_id="o_102")], **extra)


async def _all(items: Any) -> list[Any]:
    return [item async for item in items]


async def test_an_element_round_trips_create_get_list_delete(sim: KlingSimulator) -> None:
    """An element built by a task is got by its task id, listed, and gone after delete."""
    async with client_for(sim) as client:
        job = await client.elements.create(_element_request())
        element = await client.elements.result(job, timeout=30)
        assert isinstance(element, kling.ElementInfo)
        assert (element.element_name, element.reference_type) == ("hero", "image_refer")
        assert element.element_id.isdigit() and element.status == "succeed"
        assert element.frontal_image == IMG and element.refer_images == (IMG,)
        assert element.tags == ("o_102",) and element.task_id == job.task_id
        assert job.task_id is not None
        assert await client.elements.get(job.task_id) == element
        assert [e.element_id for e in await _all(client.elements.list())] == [
            element.element_id]
        deletion = await client.elements.delete(element.element_id)
        assert deletion.task_status == "succeed"
        assert await _all(client.elements.list()) == []
        (gone,) = await _all(client.elements.list(include_deleted=True))
        assert gone.status == "deleted"
        assert (await client.elements.get(job.task_id)).status == "deleted"


async def test_a_voice_round_trips_create_get_list_delete(sim: KlingSimulator) -> None:
    """A voice built by a task is got, listed (pageSize up to 1000), and gone after delete."""
    async with client_for(sim) as client:
        job = await client.voices.create(kling.CustomVoiceRequest(
            voice_name="narrator", voice_url="https://snd.example/v.mp3"),
            external_task_id="voice-1")
        voice = await client.voices.result(job, timeout=30)
        assert isinstance(voice, kling.VoiceInfo)
        assert voice.voice_name == "narrator" and voice.owned_by != "kling"
        assert await client.voices.get("voice-1", external=True) == voice
        listed = await _all(client.voices.list(page_size=1000))
        assert [v.voice_id for v in listed] == [voice.voice_id]
        await client.voices.delete(voice.voice_id)
        assert await _all(client.voices.list()) == []
        with pytest.raises(kling.InvalidRequestError):
            await client.voices.delete(voice.voice_id)  # deleted already


async def test_the_other_element_delete_path_is_configurable(sim: KlingSimulator) -> None:
    """delete(path='general/delete-elements') uses the image pages' delete path."""
    async with client_for(sim) as client:
        element = await client.elements.result(
            await client.elements.create(_element_request()), timeout=30)
        await client.elements.delete(int(element.element_id), path="general/delete-elements")
        assert await _all(client.elements.list()) == []
    posts = {t for (m, t, _), n in sim.stats().requests.items() if m == "POST"}
    assert "/v1/general/delete-elements" in posts
    assert "/v1/general/delete-advanced-elements" not in posts


async def test_get_of_a_task_still_building_is_not_found(sim: KlingSimulator) -> None:
    """get() of a build task that has made nothing yet raises NotFoundError naming its status."""
    async with client_for(sim) as client:
        sim.configure(time_scale=0.001)  # the build will not end during this test
        job = await client.voices.create(kling.CustomVoiceRequest(
            voice_name="slow", video_id="v-1"))
        assert job.task_id is not None
        with pytest.raises(kling.NotFoundError, match="has made no voice"):
            await client.voices.get(job.task_id)


async def test_presets_are_iterated(sim: KlingSimulator) -> None:
    """presets() yields the official elements and voices, page by page."""
    async with client_for(sim) as client:
        elements = await _all(client.elements.presets(page_size=2))
        voices = await _all(client.voices.presets())
    assert [e.owned_by for e in elements] == ["kling"] * 3
    assert elements[0].tags == ("o_101",)
    assert [v.voice_id for v in voices] == ["preset_voice_1", "preset_voice_2",
                                            "preset_voice_3"]
    gets = sum(n for (m, t, _), n in sim.stats().requests.items()
               if m == "GET" and t == "/v1/general/advanced-presets-elements")
    assert gets == 2  # a full page of 2, then a short one


async def test_list_pages_until_a_short_page(sim: KlingSimulator) -> None:
    """list() reads pageNum 1, 2... of page_size until a page comes back short."""
    async with client_for(sim) as client:
        jobs = [await client.elements.create(_element_request(f"e{i}")) for i in range(3)]
        for job in jobs:
            await job.result(timeout=30)
        names = [str(e.element_name) async for e in client.elements.list(page_size=2)]
    assert sorted(names) == ["e0", "e1", "e2"]


@pytest.mark.parametrize(("call", "field"), [
    (lambda c: c.voices.list(page_size=1001), "page_size"),
    (lambda c: c.elements.list(page_size=501), "page_size"),
    (lambda c: c.elements.presets(page_size=0), "page_size"),
    (lambda c: c.elements.list(max_pages=0), "max_pages"),
])
async def test_paging_limits_are_checked_before_any_io(sim: KlingSimulator, call: Any,
                                                       field: str) -> None:
    """A page size past Kling's limit (voices 1000, elements 500) sends nothing."""
    async with client_for(sim) as client:
        with pytest.raises(kling.ValidationError) as caught:
            await _all(call(client))
    assert caught.value.field == field
    assert sum(sim.stats().requests.values()) == 0


async def test_bad_arguments_are_refused_before_any_io(sim: KlingSimulator) -> None:
    """A wrong request class, an empty id or an unknown delete path raise ValidationError."""
    async with client_for(sim) as client:
        with pytest.raises(kling.ValidationError):
            await client.voices.create(_element_request())  # type: ignore[arg-type]
        with pytest.raises(kling.ValidationError):
            await client.elements.delete(" ")
        with pytest.raises(kling.ValidationError):
            await client.elements.delete("1", path="general/nope")  # type: ignore[arg-type]
        with pytest.raises(kling.ValidationError):
            await client.elements.get("..")
    assert sum(sim.stats().requests.values()) == 0


async def test_hostile_element_items_are_skipped(server: ScriptedServer) -> None:
    """Items without an id, or not objects, are skipped; a 64-bit id is kept exactly."""
    big = 829836802793406551
    server.script("GET", "/v1/general/advanced-custom-elements", Reply(json=ok([
        {"task_id": "t1", "task_result": {"elements": [
            {"element_id": big, "element_name": "a", "status": "succeed",
             "element_voice_info": {"voice_id": "v9", "owned_by": "kling"}},
            {"element_name": "no id"}, "junk", {"element_id": True}]}},
        "junk", {"task_result": "junk"}])))
    async with kling.KlingClient(api_key="k", base_url=server.url,
                                 allow_insecure_http=True) as client:
        found = await _all(client.elements.list())
    assert [e.element_id for e in found] == [str(big)]
    assert found[0].voice is not None and found[0].voice.voice_id == "v9"


async def test_a_gateway_base_url_serves_elements_too(sim: KlingSimulator) -> None:
    """Through a /kling gateway prefix the build's element is listed and deleted the same way."""
    async with client_for(sim, base_url=sim.gateway_url) as client:
        element = await client.elements.result(
            await client.elements.create(_element_request()), timeout=30)
        assert [e.element_id async for e in client.elements.list()] == [element.element_id]
        await client.elements.delete(element.element_id)
        assert await _all(client.elements.list()) == []
    templates = {t for (_, t, _), n in sim.stats().requests.items()}
    assert "/kling/v1/general/delete-advanced-elements" in templates
