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
from ._blocking import BlockingJob, BlockingKlingClient, run
from ._client import KlingClient
from ._config import DEFAULT_BASE_URL, Limits, Timeouts
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
    KlingWireWarning,
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
)
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
    ElementRequest,
    ElementTag,
    ElementVideos,
    ReferImage,
    ReferVideo,
)
from ._models.retired import (
    LegacyMotionControlRequest,
    LipSyncInput,
    LipSyncRequest,
    MultiImageToVideoRequest,
    ReferenceImage,
    VideoExtendRequest,
)
from ._models.standard import NewTextToVideoRequest, Options, TextToVideoSettings
from ._models.sync import (
    IdentifyFaceRequest,
    ImageRecognitionRequest,
    SelectionPoint,
    TextToSpeechRequest,
)
from ._models.task import Audio, Image, ParentVideo, Task, TaskStatus, Video
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
    "BlockingCallError",
    "BlockingJob",
    "BlockingKlingClient",
    "CameraConfig",
    "CameraControl",
    "ClientClosedError",
    "ClientStatistics",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ContentPolicyError",
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
    "ElementRequest",
    "ElementTag",
    "ElementVideos",
    "Elements",
    "Endpoint",
    "Event",
    "ExternalIdQuery",
    "Face",
    "FaceChoice",
    "FaceIdentification",
    "IdentifyFaceRequest",
    "Image",
    "ImageExpandRequest",
    "ImageGenerationRequest",
    "ImageRecognition",
    "ImageRecognitionRequest",
    "ImageToVideoRequest",
    "InvalidRequestError",
    "Job",
    "JobFailed",
    "JobState",
    "JobSubmitted",
    "JobSucceeded",
    "KlingClient",
    "KlingError",
    "KlingWireWarning",
    "LegacyMotionControlRequest",
    "Limits",
    "LipSyncInput",
    "LipSyncRequest",
    "ModelSpec",
    "MultiElements",
    "MultiElementsRequest",
    "MultiElementsSession",
    "MultiImageToImageRequest",
    "MultiImageToVideoRequest",
    "NewTextToVideoRequest",
    "NotFoundError",
    "OmniImageItem",
    "OmniImageRequest",
    "OmniVideoImage",
    "OmniVideoRequest",
    "OmniVideoVideo",
    "Options",
    "PackageDeduction",
    "ParentVideo",
    "PermissionDeniedError",
    "PollPolicy",
    "PromptLimits",
    "RateLimitError",
    "RateLimited",
    "RecognizedImage",
    "Reconciling",
    "ReferImage",
    "ReferVideo",
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
    "Voices",
    "WaitingForCapacity",
    "WatermarkInfo",
    "WrongEventLoopError",
    "current_prompt_limits",
    "dump_request",
    "known_models",
    "load_request",
    "model_spec",
    "parse_callback",
    "parse_task",
    "prompt_limits",
    "register_model",
    "run",
    "set_prompt_limits",
    "set_strict_effect_scenes",
    "strict_effect_scenes",
]
