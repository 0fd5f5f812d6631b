"""Video effects: pick scenes from the catalogue, one image or two, and run them together.

    export KLING_API_KEY=...            # or KLING_ACCESS_KEY + KLING_SECRET_KEY
    python examples/effects.py

``kling.EFFECT_SCENES`` maps every documented scene to its input kind ("single": one image,
``input.image``; "dual": two, ``input.images`` = [left, right]).  A scene newer than this SDK
is still sent, with a ``KlingWireWarning``; inside ``kling.strict_effect_scenes()`` it is
refused before anything is sent.  Against the offline simulator: run
``kling-async simulate --time-scale 50`` and set KLING_BASE_URL / KLING_API_KEY to what it
prints, plus KLING_TIME_SCALE=50.
"""

import asyncio
import os
import warnings

import kling_async as kling

LEFT = "https://example.com/left.png"
RIGHT = "https://example.com/right.png"


def poll_policy() -> kling.PollPolicy:
    """The default polling schedule, sped up for a time-scaled simulator (KLING_TIME_SCALE)."""
    scale = float(os.environ.get("KLING_TIME_SCALE") or 0)
    return kling.PollPolicy().scaled(scale) if scale > 0 else kling.PollPolicy()


def effect(scene_name: str) -> kling.EffectsRequest:
    """An effects request shaped by the scene's input kind."""
    scene = kling.EFFECT_SCENES[scene_name]
    if scene.inputs == "dual":
        return kling.EffectsRequest(effect_scene=scene.name,
                                    input=kling.EffectInput(images=[LEFT, RIGHT]))
    return kling.EffectsRequest(effect_scene=scene.name, input=kling.EffectInput(image=LEFT))


async def main() -> None:
    dual = sorted(name for name, s in kling.EFFECT_SCENES.items() if s.inputs == "dual")
    print(f"{len(kling.EFFECT_SCENES)} scenes, {len(dual)} of them take two images")

    # A scene newer than this SDK's list: sent anyway, with a warning ...
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kling.EffectsRequest(effect_scene="brand_new_scene",
                             input=kling.EffectInput(image=LEFT))
    print(f"unknown scene: {caught[0].category.__name__}")
    # ... or refused before any I/O when strict checking is on.
    with kling.strict_effect_scenes():
        try:
            kling.EffectsRequest(effect_scene="brand_new_scene",
                                 input=kling.EffectInput(image=LEFT))
        except kling.ValidationError as exc:
            print(f"strict: {exc.field} refused")

    requests = [effect("color_mixing"), effect("hug_pro")]
    async with kling.KlingClient.from_env(poll=poll_policy()) as client:
        async for job in client.as_completed(requests):
            task = await job.result()
            scene = job.request.effect_scene if job.request is not None else "?"
            print(f"{scene}: {task.status.value} {task.urls[0]}")


if __name__ == "__main__":
    asyncio.run(main())
