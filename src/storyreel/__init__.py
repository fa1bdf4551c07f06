"""storyreel: turn stills, narration and text into an upload-ready MP4.

>>> import storyreel
>>> project = storyreel.load_project("story.json")      # doctest: +SKIP
>>> result = storyreel.render(project, "story.mp4")     # doctest: +SKIP
"""

from storyreel.errors import (
    DiskFullError,
    EncoderError,
    ManifestError,
    MediaError,
    OutputError,
    PlatformFailed,
    Problem,
    ProjectError,
    RenderCancelled,
    RenderError,
    StoryreelError,
    StudioConfigError,
    ValidationFailed,
    VerificationError,
    VoiceError,
    WorkerError,
)
from storyreel.model import KenBurns, Project, RenderSettings, Segment, Voice, load_project
from storyreel.render import (
    EXPORT_MESSAGE,
    CancelToken,
    Progress,
    RenderedVideo,
    RenderResult,
    render,
)
from storyreel.render.analysis import Analysis, analyse_project
from storyreel.render.cache import PartCache

__version__ = "0.1.0"

__all__ = [
    "EXPORT_MESSAGE",
    "Analysis",
    "CancelToken",
    "DiskFullError",
    "EncoderError",
    "KenBurns",
    "ManifestError",
    "MediaError",
    "OutputError",
    "PartCache",
    "PlatformFailed",
    "Problem",
    "Progress",
    "Project",
    "ProjectError",
    "RenderCancelled",
    "RenderError",
    "RenderResult",
    "RenderSettings",
    "RenderedVideo",
    "Segment",
    "StoryreelError",
    "StudioConfigError",
    "ValidationFailed",
    "VerificationError",
    "Voice",
    "VoiceError",
    "WorkerError",
    "__version__",
    "analyse_project",
    "load_project",
    "render",
]
