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

from ._blocking import BlockingJob, BlockingKlingClient, run
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
)
from ._fleet import FleetWorker, PostgresStore
from ._logging import configure_from_env as _configure_logging_from_env
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
from ._models.standard import NewTextToVideoRequest, Options, TextToVideoSettings
from ._models.task import Audio, Image, ParentVideo, Task, TaskStatus, Video
from ._models.videos import ImageToVideoRequest, OmniVideoRequest, TextToVideoRequest
from ._policy import Backoff, PollPolicy, RetryPolicy
from ._queries import TaskPage
from ._registry import Job, JobState
from ._results import parse_callback, parse_task
from ._settings import ExternalIdQuery
from ._wire import KlingWireWarning, dump_request, load_request
from ._wiring import ClientStatistics

_configure_logging_from_env()  # KLING_LOG=debug|info

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AccountError",
    "AmbiguousSubmissionError",
    "Audio",
    "AuthenticationError",
    "Backoff",
    "BlockingCallError",
    "BlockingJob",
    "BlockingKlingClient",
    "CameraConfig",
    "CameraControl",
    "Charge",
    "ClientClosedError",
    "ClientStatistics",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ContentPolicyError",
    "Cost",
    "DEFAULT_BASE_URL",
    "DuplicateExternalIdError",
    "DynamicMask",
    "ENDPOINTS",
    "Element",
    "Endpoint",
    "Event",
    "ExternalIdQuery",
    "FleetWorker",
    "Image",
    "ImageGenerationRequest",
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
    "Limits",
    "ModelSpec",
    "NewTextToVideoRequest",
    "NotFoundError",
    "OmniImageItem",
    "OmniImageRequest",
    "OmniVideoImage",
    "OmniVideoRequest",
    "OmniVideoVideo",
    "Options",
    "ParentVideo",
    "PermissionDeniedError",
    "PollPolicy",
    "PostgresStore",
    "PromptLimits",
    "RateLimitError",
    "RateLimited",
    "Reconciling",
    "Request",
    "ResponseDecodeError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "RetryScheduled",
    "ServerError",
    "Shot",
    "StatusChanged",
    "SubmissionAbortedError",
    "SubmissionInterruptedError",
    "SubmissionTimeoutError",
    "Task",
    "TaskError",
    "TaskFailedError",
    "TaskPage",
    "TaskStatus",
    "TaskTimeoutError",
    "TextToVideoRequest",
    "TextToVideoSettings",
    "Timeouts",
    "TrajectoryPoint",
    "TransportError",
    "ValidationError",
    "Video",
    "Voice",
    "WaitingForCapacity",
    "WatermarkInfo",
    "WrongEventLoopError",
    "concurrency_bucket",
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
]
