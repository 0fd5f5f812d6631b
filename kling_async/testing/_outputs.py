"""What a simulated task makes, by its endpoint row's ``outputs`` (reference §3.3, §12.3).

One place renders a succeeded task's results in both wire shapes: the legacy ``task_result``
(``images``, ``videos``, ``audios``, ``voices``, ``elements``) with ``task_info.parent_video``,
and the new standard's ``outputs[]`` (types ``image``, ``video``, ``audio``, ``voice``,
``element``); and names the result files served for them under ``/__sim/files/{task_id}/``.

Per row: ``image_views`` (ai-multi-shot) gives each image item ``url_1`` .. ``url_N`` instead
of one ``url``; ``video_duration=False`` (effects) leaves ``duration`` out of videos;
``parent_video`` echoes the source video.  Voices and elements are made from the create body
(``voice_name``; ``element_name``, its references): ids are the task id with a suffix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeAlias

from .._endpoints import Endpoint


class SimTask(Protocol):
    """What rendering reads of a simulated task (``_tasks.SimTask``)."""

    task_id: str
    account: str
    body: Mapping[str, Any]
    row: Endpoint
    outputs: int
    watermark: bool
    video_seconds: float
    deleted: bool


#: Renders one output kind of a succeeded task (the task, the simulator's base URL).
Render: TypeAlias = Callable[[SimTask, str], list[dict[str, Any]]]


def _root(task: SimTask, base_url: str) -> str:
    return f"{base_url}/__sim/files/{task.task_id}"


def _seconds(task: SimTask) -> str:
    return f"{task.video_seconds:.1f}"


def file_names(task: SimTask) -> list[str]:
    """Names of the result files a succeeded task serves."""
    names: list[str] = []
    for kind in task.row.outputs:
        if kind == "image":
            names += _image_files(task)
        elif kind == "video":
            names += ["video.mp4", "video_watermark.mp4"] if task.watermark else ["video.mp4"]
        elif kind == "audio":
            names += ["audio.mp3", "audio.wav"]
        elif kind == "voice":
            names.append("voice_trial.mp3")
    if task.row.parent_video:
        names.append("parent_video.mp4")
    return names


def _image_files(task: SimTask) -> list[str]:
    views = task.row.image_views
    if views:
        return [f"image_{i}_{v}.png" for i in range(task.outputs) for v in range(1, views + 1)]
    names = [f"image_{i}.png" for i in range(task.outputs)]
    if task.watermark:
        names += [f"image_{i}_watermark.png" for i in range(task.outputs)]
    return names


def images(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    """Legacy ``images[]``: ``{index, url, watermark_url?}`` each, or with ``image_views``
    ``{index, url_1, url_2, url_3}``."""
    root = _root(task, base_url)
    views = task.row.image_views
    found: list[dict[str, Any]] = []
    for i in range(task.outputs):
        item: dict[str, Any] = {"index": i}
        if views:
            item.update({f"url_{v}": f"{root}/image_{i}_{v}.png" for v in range(1, views + 1)})
        else:
            item["url"] = f"{root}/image_{i}.png"
            if task.watermark:
                item["watermark_url"] = f"{root}/image_{i}_watermark.png"
        found.append(item)
    return found


def videos(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    """Legacy ``videos[]``: one ``{id, url, watermark_url?, duration?}``."""
    root = _root(task, base_url)
    video: dict[str, Any] = {"id": f"{task.task_id}0", "url": f"{root}/video.mp4"}
    if task.row.video_duration:
        video["duration"] = _seconds(task)
    if task.watermark:
        video["watermark_url"] = f"{root}/video_watermark.mp4"
    return [video]


def audios(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    """Legacy ``audios[]``: one ``{id, url_mp3, url_wav, duration_mp3, duration_wav}``."""
    root = _root(task, base_url)
    return [{"id": f"{task.task_id}1", "url_mp3": f"{root}/audio.mp3",
             "url_wav": f"{root}/audio.wav", "duration_mp3": _seconds(task),
             "duration_wav": _seconds(task)}]


def _made_status(task: SimTask) -> str:
    """A made voice's or element's legacy ``status``: ``succeed``, or ``deleted`` (§3.4)."""
    return "deleted" if task.deleted else "succeed"


def voices(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    """Legacy ``voices[]``: one ``{voice_id, voice_name, trial_url, owned_by, status}`` (the
    creator: the task's account)."""
    return [{"voice_id": voice_id_of(task), "voice_name": str(task.body.get("voice_name", "")),
             "trial_url": f"{_root(task, base_url)}/voice_trial.mp3",
             "owned_by": task.account, "status": _made_status(task)}]


#: The last digit of the ids a build task's voice and element get (task id + this digit).
VOICE_SUFFIX, ELEMENT_SUFFIX = "2", "3"


def voice_id_of(task: SimTask) -> str:
    """The id of the voice a custom-voice task makes."""
    return f"{task.task_id}{VOICE_SUFFIX}"


def element_id_of(task: SimTask) -> int | str:
    """The id of the element a custom-element task makes: a 64-bit integer when it fits, as
    Kling's are, else the same digits as text."""
    text = f"{task.task_id}{ELEMENT_SUFFIX}"
    return int(text) if text.isdigit() and int(text) < 2**63 else text


def elements(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    """Legacy ``elements[]``: one element made from the create body (§2.17)."""
    body = task.body
    element: dict[str, Any] = {
        "element_id": element_id_of(task),
        "element_name": str(body.get("element_name", "")),
        "element_description": str(body.get("element_description", "")),
        "reference_type": str(body.get("reference_type", "")),
        "element_image_list": _mapping(body.get("element_image_list")),
        "element_video_list": _mapping(body.get("element_video_list")),
        "tag_list": list(body.get("tag_list") or []),
        "owned_by": task.account,
        "status": _made_status(task),
    }
    voice_id = body.get("element_voice_id")
    if voice_id:
        element["element_voice_info"] = {"voice_id": str(voice_id), "voice_name": "",
                                         "trial_url": "", "owned_by": task.account}
    return [element]


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


#: The legacy ``task_result`` list of each output kind, under its own key.
_LEGACY: dict[str, tuple[str, Render]] = {
    "image": ("images", images), "video": ("videos", videos), "audio": ("audios", audios),
    "voice": ("voices", voices), "element": ("elements", elements),
}


def legacy_result(task: SimTask, base_url: str) -> dict[str, Any]:
    """The legacy ``task_result`` of a succeeded task."""
    result: dict[str, Any] = {}
    for kind in task.row.outputs:
        key, render = _LEGACY[kind]
        result[key] = render(task, base_url)
    return result


def parent_video(task: SimTask, base_url: str) -> dict[str, Any] | None:
    """``task_info.parent_video{id, url, duration}`` where the row echoes its source video."""
    if not task.row.parent_video:
        return None
    return {"id": f"{task.task_id}9", "url": f"{_root(task, base_url)}/parent_video.mp4",
            "duration": _seconds(task)}


def new_outputs(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    """The new standard's ``outputs[]`` of a succeeded task (§12.3)."""
    found: list[dict[str, Any]] = []
    for kind in task.row.outputs:
        found += _NEW[kind](task, base_url)
    return found


def _new_images(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    """Images: ``{url, watermark_url?}``; an item's views share a ``group_id``."""
    found: list[dict[str, Any]] = []
    for item in images(task, base_url):
        index = item.pop("index")
        if "url" in item:
            found.append({"type": "image", **item})
            continue
        found += [{"type": "image", "url": url, "group_id": f"{task.task_id}-{index}"}
                  for url in item.values()]
    return found


def _new_videos(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    return [{"type": "video", **video} for video in videos(task, base_url)]


def _new_audios(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    return [{"type": "audio", "id": a["id"], "mp3_url": a["url_mp3"], "wav_url": a["url_wav"],
             "mp3_duration": a["duration_mp3"], "wav_duration": a["duration_wav"]}
            for a in audios(task, base_url)]


def _new_voices(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    return [{"type": "voice", "id": v["voice_id"], "name": v["voice_name"],
             "url": v["trial_url"], "owned_by": v["owned_by"], "status": "succeeded"}
            for v in voices(task, base_url)]


def _references(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An element's materials as new-standard ``references[]``."""
    refs: list[dict[str, Any]] = []
    images_ = element["element_image_list"]
    if images_.get("frontal_image"):
        refs.append({"type": "image", "role": "frontal", "url": images_["frontal_image"]})
    refs += [{"type": "image", "role": "reference", "url": i.get("image_url")}
             for i in images_.get("refer_images") or [] if isinstance(i, Mapping)]
    refs += [{"type": "video", "role": "refer", "url": v.get("video_url")}
             for v in element["element_video_list"].get("refer_videos") or []
             if isinstance(v, Mapping)]
    voice = element.get("element_voice_info")
    if voice:
        refs.append({"type": "voice", "role": "refer", "id": voice["voice_id"]})
    return refs


def _new_elements(task: SimTask, base_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for e in elements(task, base_url):
        kind = ("video_character_elements" if e["reference_type"] == "video_refer"
                else "multi_image_elements")
        found.append({"type": "element", "id": str(e["element_id"]), "name": e["element_name"],
                      "description": e["element_description"], "element_type": kind,
                      "references": _references(e), "owned_by": e["owned_by"],
                      "status": "succeeded", "tags": []})
    return found


_NEW: dict[str, Render] = {
    "image": _new_images, "video": _new_videos, "audio": _new_audios, "voice": _new_voices,
    "element": _new_elements,
}
