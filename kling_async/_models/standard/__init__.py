"""Requests of the new API design standard (2026): the model is in the path, not the body.

Reference §10-§11.  A body is ``prompt`` (text-to-video) or ``contents[]`` (typed items, see
``contents``), plus ``settings`` (per family, see ``settings``) and ``options``.  Each request
class (``requests``) serves one path family (``text-to-video``) for every model; its ``model``
field picks the path (``/text-to-video/kling-3.0-turbo``) and is never sent in the body.  What
each model accepts is one table (``specs``); the rules that read it are ``rules`` and ``omni``.
"""

from __future__ import annotations

from .contents import (
    CONTENT_TYPES,
    BaseVideo,
    ContentItem,
    ElementItem,
    FeatureVideo,
    FirstFrame,
    LastFrame,
    MotionImage,
    MotionVideo,
    PromptItem,
    ReferImage,
    VoiceItem,
)
from .requests import (
    NEW_REQUEST_TYPES,
    NOT_WIRE,
    MotionControlRequest,
    NewImageToVideoRequest,
    NewOmniVideoRequest,
    NewTextToVideoRequest,
    is_wire_field,
)
from .settings import (
    ImageToVideoSettings,
    MotionControlSettings,
    OmniVideoSettings,
    Options,
    TextToVideoSettings,
)
from .specs import (
    FAMILIES,
    NEW_MODEL_SPECS,
    NewModelSpec,
    known_new_models,
    new_model_spec,
)

#: The documented text-to-video models (reference §11.1).
TEXT_TO_VIDEO_MODELS = known_new_models("text-to-video")

__all__ = [
    "CONTENT_TYPES",
    "FAMILIES",
    "NEW_MODEL_SPECS",
    "NEW_REQUEST_TYPES",
    "NOT_WIRE",
    "TEXT_TO_VIDEO_MODELS",
    "BaseVideo",
    "ContentItem",
    "ElementItem",
    "FeatureVideo",
    "FirstFrame",
    "ImageToVideoSettings",
    "LastFrame",
    "MotionControlRequest",
    "MotionControlSettings",
    "MotionImage",
    "MotionVideo",
    "NewImageToVideoRequest",
    "NewModelSpec",
    "NewOmniVideoRequest",
    "NewTextToVideoRequest",
    "OmniVideoSettings",
    "Options",
    "PromptItem",
    "ReferImage",
    "TextToVideoSettings",
    "VoiceItem",
    "is_wire_field",
    "known_new_models",
    "new_model_spec",
]
