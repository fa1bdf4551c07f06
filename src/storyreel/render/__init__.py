"""The render orchestrator: progress, cancellation, atomic output, verification."""

from storyreel.render.pipeline import CancelToken, RenderedVideo, RenderResult, render
from storyreel.render.progress import EXPORT_MESSAGE, Progress, ProgressCallback

__all__ = [
    "EXPORT_MESSAGE",
    "CancelToken",
    "Progress",
    "ProgressCallback",
    "RenderResult",
    "RenderedVideo",
    "render",
]
