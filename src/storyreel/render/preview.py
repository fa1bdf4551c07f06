"""A still preview of how a project's captions look: one frame drawn by the engine.

The frame is the project's first still (or a neutral gradient when it has none yet)
at the output size, with a caption from the first segment's text in the chosen style
(a word highlighted part-way through, as it looks while the voice speaks) and the
logo, both placed in the platform's safe area exactly as a render places them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from storyreel.errors import MediaError
from storyreel.frames.overlay import blend_into
from storyreel.frames.still import yuv420_to_rgb
from storyreel.frames.text import CaptionPainter
from storyreel.media.image import Planes, load_cover_planes, rgb_to_yuv420
from storyreel.model.project import Project
from storyreel.render.decor import caption_style, logo_overlay
from storyreel.timeline.captions import POP_STEPS, CaptionState, pop_groups, split_chunks

__all__ = ["SAMPLE_CAPTION", "caption_preview"]

#: The caption shown while the project has no text yet.
SAMPLE_CAPTION = "Your captions follow every word"


def caption_preview(project: Project) -> NDArray[np.uint8]:
    """The preview frame of ``project`` as an ``(height, width, 3)`` RGB array.

    Raises:
        MediaError: The caption font or the logo cannot be read.
    """
    width, height = project.width, project.height
    settings = project.settings
    planes = _background(project)
    options = settings.subtitles
    if options.enabled:
        text = _first_caption(project)
        painter = CaptionPainter(text, caption_style(options, settings.safe_insets), width,
                                 height, look=options.style)
        blend_into((planes.y, planes.u, planes.v),
                   painter.overlay(preview_state(text.split(), options.style,
                                                 options.pop_words)))
    if settings.logo is not None:
        blend_into((planes.y, planes.u, planes.v),
                   logo_overlay(settings.logo, width, height, settings.safe_insets))
    return yuv420_to_rgb(planes.y, planes.u, planes.v)


def preview_state(words: list[str], look: str, group: int) -> CaptionState:
    """A caption's state part-way through: its second word spoken (or its only one)."""
    count = max(1, len(words))
    spoken = min(1, count - 1)
    if look == "pop":
        first, stop = pop_groups(words, group)[0] if words else (0, 1)
        return CaptionState(first, stop, min(spoken, stop - 1), POP_STEPS)
    if look == "karaoke":
        return CaptionState(0, count, spoken + 1, POP_STEPS)
    return CaptionState(0, count, spoken if look == "word" else -1, POP_STEPS)


def _first_caption(project: Project) -> str:
    options = project.settings.subtitles
    for segment in project.segments:
        chunks = split_chunks(segment.text, min_words=options.min_words,
                              max_words=options.max_words)
        if chunks:
            return chunks[0]
    return SAMPLE_CAPTION


def _background(project: Project) -> Planes:
    width, height = project.width, project.height
    try:
        return load_cover_planes(project.segments[0].image, width, height, 1)
    except MediaError:
        ramp = np.linspace(70, 150, height, dtype=np.float32)[:, None, None]
        rgb = np.broadcast_to(ramp * np.array([0.8, 0.9, 1.1], np.float32), (height, width, 3))
        return rgb_to_yuv420(np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8)))
