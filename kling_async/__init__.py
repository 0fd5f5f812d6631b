"""kling_async: an asyncio-first SDK for the Kling AI image and video generation API.

Quick start::

    import kling_async as kling

    async with kling.KlingClient.from_env() as client:
        req = kling.OmniVideoRequest(prompt="a cat dancing", aspect_ratio="16:9")
        job = await client.submit(req)
        task = await job.result(timeout=900)

From a plain script or a notebook, without asyncio::

    task = kling.run(kling.OmniVideoRequest(prompt="a cat dancing"), timeout=900)

    with kling.BlockingKlingClient.from_env() as client:
        for job in client.as_completed(requests):
            print(job.task_id, job.status)

Everything public is re-exported here; the modules behind it are private.
"""

from ._account import (
    Account,
    BalanceDeduction,
    DeductionDetail,
    PackageDeduction,
    ResourcePack,
)
from ._blocking import BlockingKlingClient, run
from ._blocking_job import BlockingJob
from ._blocking_namespaces import (
    BlockingAccount,
    BlockingElements,
    BlockingMultiElements,
    BlockingMultiElementsSession,
    BlockingVoices,
)
from ._buckets import concurrency_bucket
from ._client import KlingClient
from ._config import DEFAULT_BASE_URL, Limits, Timeouts
from ._costs import Charge, Cost
from ._endpoints import ENDPOINTS, Endpoint, Request
from ._errors import (
    AccountError,
    AmbiguousSubmissionError,
    APIError,
    AuthenticationError,
    BlockingCallError,
    ClientClosedError,
    ConcurrencyLimitError,
    ConfigurationError,
    ContentPolicyError,
    DuplicateExternalIdError,
    InvalidRequestError,
    KlingError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    ServerError,
    SubmissionAbortedError,
    SubmissionInterruptedError,
    SubmissionTimeoutError,
    TaskError,
    TaskFailedError,
    TaskTimeoutError,
    TransportError,
    ValidationError,
    WrongEventLoopError,
)
from ._events import (
    Event,
    JobFailed,
    JobSubmitted,
    JobSucceeded,
    RateLimited,
    Reconciling,
    RetryScheduled,
    StatusChanged,
    WaitingForCapacity,
    WebhookReceived,
)
from ._fleet import FleetWorker, PostgresStore
from ._logging import configure_from_env as _configure_logging_from_env
from ._models.audio import TextToAudioRequest, VideoToAudioRequest
from ._models.avatar import AdvancedLipSyncRequest, AvatarRequest, FaceChoice
from ._models.catalog import (
    ModelSpec,
    PromptLimits,
    current_prompt_limits,
    known_models,
    model_spec,
    prompt_limits,
    register_model,
    set_prompt_limits,
)
from ._models.editing import EditImage, MultiElementsRequest
from ._models.effects import (
    EFFECT_SCENES,
    EffectInput,
    EffectScene,
    EffectsRequest,
    set_strict_effect_scenes,
    strict_effect_scenes,
)
from ._models.image_tools import (
    AiMultiShotRequest,
    ImageExpandRequest,
    MultiImageToImageRequest,
    SubjectImage,
    VirtualTryOnRequest,
)
from ._models.images import ImageGenerationRequest, OmniImageRequest
from ._models.parts import (
    CameraConfig,
    CameraControl,
    DynamicMask,
    Element,
    OmniImageItem,
    OmniVideoImage,
    OmniVideoVideo,
    Shot,
    TrajectoryPoint,
    Voice,
    WatermarkInfo,
)
from ._models.resources import (
    ELEMENT_TAGS,
    CustomVoiceRequest,
    ElementImages,
    ElementReferImage,
    ElementReferVideo,
    ElementRequest,
    ElementTag,
    ElementVideos,
)
from ._models.retired import (
    LegacyMotionControlRequest,
    LipSyncInput,
    LipSyncRequest,
    MultiImageToVideoRequest,
    ReferenceImage,
    VideoExtendRequest,
)
from ._models.standard import (
    BaseVideo,
    ContentItem,
    ElementItem,
    FeatureVideo,
    FirstFrame,
    ImageToVideoSettings,
    LastFrame,
    MotionControlRequest,
    MotionControlSettings,
    MotionImage,
    MotionVideo,
    NewImageToVideoRequest,
    NewModelSpec,
    NewOmniVideoRequest,
    NewTextToVideoRequest,
    OmniVideoSettings,
    Options,
    PromptItem,
    ReferImage,
    TextToVideoSettings,
    VoiceItem,
    known_new_models,
    new_model_spec,
)
from ._models.sync import (
    IdentifyFaceRequest,
    ImageRecognitionRequest,
    SelectionPoint,
    TextToSpeechRequest,
)
from ._models.task import (
    Audio,
    ElementReference,
    ElementResult,
    Image,
    ParentVideo,
    Task,
    TaskStatus,
    Video,
    VoiceResult,
)
from ._models.videos import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest
from ._multi_elements import (
    EditVideo,
    MultiElements,
    MultiElementsSession,
    SelectionMask,
    SelectionOrderError,
    SelectionPreview,
    SelectionRejectedError,
    SelectionResult,
)
from ._policy import Backoff, PollPolicy, RetryPolicy
from ._queries import TaskPage
from ._registry import Job, JobState
from ._replies import Deduction
from ._resources import ElementInfo, Elements, ResourceDeletion, VoiceInfo, Voices
from ._results import parse_callback, parse_task
from ._settings import ExternalIdQuery
from ._sync import (
    AmbiguousCallError,
    Face,
    FaceIdentification,
    ImageRecognition,
    RecognizedImage,
    Speech,
    SpeechAudio,
)
from ._warnings import KlingWireWarning
from ._webhook_adapters import aiohttp_webhook_handler, asgi_webhook_app
from ._webhooks import WEBHOOK_OUTCOMES
from ._wire import dump_request, load_request
from ._wiring import ClientStatistics

_configure_logging_from_env()  # KLING_LOG=debug|info

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Account",
    "AccountError",
    "AdvancedLipSyncRequest",
    "AiMultiShotRequest",
    "AmbiguousCallError",
    "AmbiguousSubmissionError",
    "Audio",
    "AuthenticationError",
    "AvatarRequest",
    "Backoff",
    "BalanceDeduction",
    "BaseVideo",
    "BlockingAccount",
    "BlockingCallError",
    "BlockingElements",
    "BlockingJob",
    "BlockingKlingClient",
    "BlockingMultiElements",
    "BlockingMultiElementsSession",
    "BlockingVoices",
    "CameraConfig",
    "CameraControl",
    "Charge",
    "ClientClosedError",
    "ClientStatistics",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ContentItem",
    "ContentPolicyError",
    "Cost",
    "CustomVoiceRequest",
    "DEFAULT_BASE_URL",
    "Deduction",
    "DeductionDetail",
    "DuplicateExternalIdError",
    "DynamicMask",
    "EFFECT_SCENES",
    "ELEMENT_TAGS",
    "ENDPOINTS",
    "EditImage",
    "EditVideo",
    "EffectInput",
    "EffectScene",
    "EffectsRequest",
    "Element",
    "ElementImages",
    "ElementInfo",
    "ElementItem",
    "ElementReferImage",
    "ElementReferVideo",
    "ElementReference",
    "ElementRequest",
    "ElementResult",
    "ElementTag",
    "ElementVideos",
    "Elements",
    "Endpoint",
    "Event",
    "ExternalIdQuery",
    "Face",
    "FaceChoice",
    "FaceIdentification",
    "FeatureVideo",
    "FirstFrame",
    "FleetWorker",
    "IdentifyFaceRequest",
    "Image",
    "ImageExpandRequest",
    "ImageGenerationRequest",
    "ImageRecognition",
    "ImageRecognitionRequest",
    "ImageToVideoRequest",
    "ImageToVideoSettings",
    "InvalidRequestError",
    "Job",
    "JobFailed",
    "JobState",
    "JobSubmitted",
    "JobSucceeded",
    "KlingClient",
    "KlingError",
    "KlingWireWarning",
    "LastFrame",
    "LegacyMotionControlRequest",
    "Limits",
    "LipSyncInput",
    "LipSyncRequest",
    "ModelSpec",
    "MotionControlRequest",
    "MotionControlSettings",
    "MotionImage",
    "MotionVideo",
    "MultiElements",
    "MultiElementsRequest",
    "MultiElementsSession",
    "MultiImageToImageRequest",
    "MultiImageToVideoRequest",
    "NewImageToVideoRequest",
    "NewModelSpec",
    "NewOmniVideoRequest",
    "NewTextToVideoRequest",
    "NotFoundError",
    "OmniImageItem",
    "OmniImageRequest",
    "OmniVideoImage",
    "OmniVideoRequest",
    "OmniVideoSettings",
    "OmniVideoVideo",
    "Options",
    "PackageDeduction",
    "ParentVideo",
    "PermissionDeniedError",
    "PollPolicy",
    "PostgresStore",
    "PromptItem",
    "PromptLimits",
    "RateLimitError",
    "RateLimited",
    "RecognizedImage",
    "Reconciling",
    "ReferImage",
    "ReferenceImage",
    "Request",
    "ResourceDeletion",
    "ResourcePack",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "RetryScheduled",
    "SelectionMask",
    "SelectionOrderError",
    "SelectionPoint",
    "SelectionPreview",
    "SelectionRejectedError",
    "SelectionResult",
    "ServerError",
    "Shot",
    "Speech",
    "SpeechAudio",
    "StatusChanged",
    "SubjectImage",
    "SubmissionAbortedError",
    "SubmissionInterruptedError",
    "SubmissionTimeoutError",
    "Task",
    "TaskError",
    "TaskFailedError",
    "TaskPage",
    "TaskStatus",
    "TaskTimeoutError",
    "TextToAudioRequest",
    "TextToSpeechRequest",
    "TextToVideoRequest",
    "TextToVideoSettings",
    "Timeouts",
    "TrajectoryPoint",
    "TransportError",
    "ValidationError",
    "Video",
    "VideoExtendRequest",
    "VideoToAudioRequest",
    "VirtualTryOnRequest",
    "Voice",
    "VoiceInfo",
    "VoiceItem",
    "VoiceResult",
    "Voices",
    "WEBHOOK_OUTCOMES",
    "WaitingForCapacity",
    "WatermarkInfo",
    "WebhookReceived",
    "WrongEventLoopError",
    "aiohttp_webhook_handler",
    "asgi_webhook_app",
    "concurrency_bucket",
    "current_prompt_limits",
    "dump_request",
    "known_models",
    "known_new_models",
    "load_request",
    "model_spec",
    "new_model_spec",
    "parse_callback",
    "parse_task",
    "prompt_limits",
    "register_model",
    "run",
    "set_prompt_limits",
    "set_strict_effect_scenes",
    "strict_effect_scenes",
]
