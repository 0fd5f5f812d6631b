"""Video effects (reference §2.9): ``POST /v1/videos/effects`` and the scene catalogue.

The scene list grows every few weeks, so it is data, not validation: ``EFFECT_SCENES`` maps each
documented scene (2026-09-20: 204 single-image and 15 dual-image scenes) to its input kind.  A
scene not in it is sent with a ``KlingWireWarning`` (it may be newer than this SDK) unless strict
checking is on (``strict_effect_scenes()`` or ``set_strict_effect_scenes(True)``); a scene
announced as discontinued is sent with a warning (the server will likely fail the task).
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Literal

import attrs

from .._errors import ValidationError
from .._validators import instance_of, len_between, one_of, required, to_tuple
from .._warnings import KlingWireWarning
from .fields import MODE, CallbackFields, each_text, exactly_one
from .parts import TEXT

EffectInputs = Literal["single", "dual"]

#: Single-image scenes (``input.image``), as listed on 2026-09-20.
SINGLE_IMAGE_SCENES: tuple[str, ...] = (
    "net_the_fish", "birthday_board", "summer_fireworks", "blow_blaze", "champagne_birthday",
    "pet_working_daily", "pet_roll_window", "pet_crash_earth", "makeup_style", "hair_dressup",
    "barbie_transform", "critter_paste", "wiggle_faces_pets", "paw_headbang", "food_splash",
    "dj_pet", "pet_diving", "disco_paws", "pet_fitness", "j_var_live", "pet_burst", "idol_live",
    "beast_striker", "african_sway", "jealousy_sway", "chubby_fish", "shrug_dance", "soccer_star",
    "bra_hot_dance", "arg_hot_dance", "fra_hot_dance", "bra_goal", "arg_goal", "por_goal",
    "victory_slide", "samba_fever", "bicycle_kick", "football_dance_2", "red_card_sent_off",
    "football_dance", "magic_world_vlog", "magic_world_vlog_9_16", "air_dunk",
    "whirling_beverage_9_16", "tennis_trend", "tennis_trend_9_16", "football_live_9_16",
    "whirling_beverage", "f1_live", "football_live", "spielberg_transition",
    "korean_baseball_9_16", "korean_baseball", "tiny_beast_printer", "landmark_reveal",
    "winter_charm", "flash_ride", "maestro_of_magic", "magic_carpet_ride", "good_luck_spirit",
    "shooting_star", "sparkler_wand", "sovereign_scepter", "dirt_rush", "return_of_the_king",
    "dance_with_dragon", "minimalist_light", "martial_meow", "sassy_shake",
    "knock_at_a_door_revenge", "palm_sized_figure_pro", "prank_box", "perler_beads",
    "spring_bloom", "get_rich_quick", "make_it_rain", "twist_shake", "the_hip_sway",
    "send_my_love", "funky_martian", "wealth_drive", "the_high_kick", "the_exercise",
    "lucky_veggie", "flash_drive", "shush_my_dreams", "advent_of_flora", "raid_check",
    "fortune_in_motion", "chinese_trend", "sedan_chair_dance", "skyfall", "good_luck_dance",
    "laicai_dance", "yangge_dance", "color_mixing", "lantern_festival_cuju", "unique_firework",
    "unique_spring_couplets", "horse_mask", "fortune_knocks_cartoon", "tangyuan_to_animal",
    "hot_feet_dance", "swag_dance", "pigeon_dance", "bloodline_dance", "chanel_dance",
    "cute_dance", "love_theme_song", "pumpitup_dance", "city_to_village", "fortune_god_transform",
    "new_year_feast", "ring_in_new", "horse_year_firework", "crystal_horse", "drunk_dance",
    "drunk_dance_pet", "daoma_dance", "bouncy_dance", "smooth_sailing_dance", "new_year_greeting",
    "lion_dance", "prosperity", "great_success", "golden_horse_fortune", "red_packet_box",
    "lucky_horse_year", "lucky_red_packet", "lucky_money_come", "lion_dance_pet",
    "dumpling_making_pet", "fish_making_pet", "pet_red_packet", "lantern_glow",
    "expression_challenge", "overdrive", "heart_gesture_dance", "poping", "martial_arts",
    "running", "nezha", "motorcycle_dance", "subject_3_dance", "ghost_step_dance",
    "phantom_jewel", "zoom_out", "dollar_rain_pro", "pet_bee_pro", "countdown_teleport",
    "santa_random_surprise", "magic_match_tree", "bullet_time_360", "happy_birthday",
    "birthday_star", "thumbs_up_pro", "tiger_hug_pro", "pet_lion_pro", "surprise_bouquet",
    "bouquet_drop", "glamour_photo_shoot", "box_of_joy", "first_toast_of_the_year",
    "my_santa_pic", "santa_gift", "steampunk_christmas", "snowglobe", "christmas_photo_shoot",
    "ornament_crash", "santa_express", "instant_christmas", "coronation_of_frost",
    "building_sweater", "spark_in_the_snow", "scarlet_and_snow", "bullet_time_lite",
    "jumping_ginger_joy", "pure_white_wings", "black_wings", "golden_wing", "pink_pink_wings",
    "venomous_spider", "throne_of_king", "luminous_elf", "woodland_elf", "guardian_spirit",
    "swish_swish", "snowboarding", "witch_transform", "vampire_transform",
    "pumpkin_head_transform", "demon_transform", "mummy_transform", "zombie_transform",
    "cute_pumpkin_transform", "halloween_escape", "pet_moto_rider", "running_man", "3d_cartoon_2",
    "pet_dance", "swing_swing", "day_to_night", "surfsurf", "skateskate",
)

#: Dual-image scenes (``input.images``: exactly two, left then right), as listed on 2026-09-20.
DUAL_IMAGE_SCENES: tuple[str, ...] = (
    "pet_skateboard", "daily_ootd", "toss_run", "switch_to_silk", "studio_look",
    "french_elegance", "finger_swipe", "smooth_transition", "kiss_pro", "snow_night_kiss",
    "eternal_kiss", "cheers_2026", "fight_pro", "hug_pro", "heart_gesture_pro",
)

#: Scenes announced as discontinued (reference §A); ``magic_match_tree`` is still listed.
DISCONTINUED_SCENES: frozenset[str] = frozenset({
    "celebration", "c4d_cartoon", "kiss", "fight", "hug", "thumbs_up", "tiger_hug", "pet_lion",
    "3d_cartoon_1", "magic_match_tree",
})


@attrs.frozen
class EffectScene:
    """One effect scene: its name, its input kind and whether it was announced discontinued."""

    name: str
    inputs: EffectInputs
    discontinued: bool = False


def _catalogue() -> Mapping[str, EffectScene]:
    scenes = {n: EffectScene(n, "single", n in DISCONTINUED_SCENES) for n in SINGLE_IMAGE_SCENES}
    scenes.update((n, EffectScene(n, "dual", n in DISCONTINUED_SCENES)) for n in DUAL_IMAGE_SCENES)
    scenes.update(
        (n, EffectScene(n, "single", True)) for n in DISCONTINUED_SCENES if n not in scenes
    )
    return MappingProxyType(scenes)


#: Every known scene by name (read-only).  Discontinued scenes are here with ``discontinued``.
EFFECT_SCENES: Mapping[str, EffectScene] = _catalogue()

_strict: contextvars.ContextVar[bool] = contextvars.ContextVar("kling_strict_scenes", default=False)


def set_strict_effect_scenes(strict: bool) -> None:
    """Process-wide: refuse (``ValidationError``) an effect scene not in ``EFFECT_SCENES``
    instead of warning; off by default because scenes are added weekly."""
    _strict.set(bool(strict))


@contextlib.contextmanager
def strict_effect_scenes(strict: bool = True) -> Iterator[None]:
    """``set_strict_effect_scenes`` for the current context only."""
    token = _strict.set(strict)
    try:
        yield
    finally:
        _strict.reset(token)


def _to_images(value: Iterable[str]) -> tuple[str, ...]:
    return to_tuple(value)


@attrs.frozen(kw_only=True)
class EffectInput:
    """``input`` of an effects request: ``image`` for a single-image scene, ``images`` (exactly
    two: left, right) for a dual-image one.  ``model_name``, ``mode`` and ``duration`` are the
    older per-scene fields some gateways still take (no longer documented officially)."""

    image: str | None = attrs.field(default=None, validator=TEXT)
    images: tuple[str, ...] = attrs.field(default=(), converter=_to_images,
                                          validator=[each_text, len_between(0, 2, "images")])
    model_name: str | None = attrs.field(default=None, validator=TEXT)
    mode: Literal["std", "pro"] | None = attrs.field(default=None, validator=MODE)
    duration: Literal["5", "10"] | None = attrs.field(default=None, validator=one_of("5", "10"))

    def __attrs_post_init__(self) -> None:
        which = exactly_one(self, "image", "images", prefix="input.")
        if which == "images" and len(self.images) != 2:
            raise ValidationError("input.images", "must hold exactly 2 images (left, right)",
                                  len(self.images))


@attrs.frozen(kw_only=True)
class EffectsRequest(CallbackFields):
    """``POST /v1/videos/effects`` (reference §2.9): a video effect applied to one or two images."""

    effect_scene: str = attrs.field(validator=TEXT)
    input: EffectInput = attrs.field(validator=[required(), instance_of(EffectInput)])

    def __attrs_post_init__(self) -> None:
        scene = EFFECT_SCENES.get(self.effect_scene)
        if scene is None:
            _unknown_scene(self.effect_scene)
            return
        if scene.discontinued:
            warnings.warn(KlingWireWarning(
                f"effect_scene {scene.name!r} was announced as discontinued: the server will "
                "probably fail the task"), stacklevel=4)
        wanted = "image" if scene.inputs == "single" else "images"
        if getattr(self.input, wanted) in (None, ()):
            raise ValidationError(f"input.{wanted}", f"is required by the {scene.inputs}-image "
                                  f"scene {scene.name!r}", None)


def _unknown_scene(name: str) -> None:
    if _strict.get():
        raise ValidationError("effect_scene", "is not a known scene (strict checking is on)",
                              name, hint="see kling_async.EFFECT_SCENES")
    warnings.warn(KlingWireWarning(
        f"effect_scene {name!r} is not in this SDK's scene list (scenes are added weekly): "
        "sent as given"), stacklevel=4)
