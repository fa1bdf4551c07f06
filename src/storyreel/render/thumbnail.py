"""The cover picture written beside a video: a segment's picture and the title, large.

It is drawn at the size platforms ask for covers of the video's shape: 1280 x 720
for a landscape video (YouTube's), 1080 x 1920 for a vertical one and 1080 x 1080
for a square one. The picture is the chosen segment's (the first by default): a
still cropped around its focus, a clip's first trimmed frame framed as the video
frames it, or a card's colour. The title (the project's by default) is laid out by
the caption machinery (same fonts and fallbacks), large, with an outline, up to
three lines near the top, shrunk until it fits inside the safe area.
"""

from __future__ import annotations

from typing import assert_never

import numpy as np
from numpy.typing import NDArray
from PIL import ImageColor

from storyreel.frames.card import card_planes
from storyreel.frames.overlay import blend_into
from storyreel.frames.still import yuv420_to_rgb
from storyreel.frames.text import CaptionStyle, render_caption
from storyreel.frames.video import VideoPicture
from storyreel.media.image import Planes, encode_jpeg, load_framed
from storyreel.media.sidecar import THUMBNAIL_SUFFIX
from storyreel.model.project import Project, Thumbnail
from storyreel.model.visual import Card, Still, Video
from storyreel.timeline.story import Item, Story

__all__ = ["MAX_THUMBNAIL_BYTES", "THUMBNAIL_SUFFIX", "thumbnail_jpeg", "thumbnail_rgb",
           "thumbnail_size"]

#: YouTube's limit for a custom thumbnail.
MAX_THUMBNAIL_BYTES = 2_000_000
#: The title's size, as a share of the cover's shorter side.
TITLE_SIZE = 0.11
_TITLE_LINES = 3


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The cover's size for a ``width`` x ``height`` video."""
    if width > height:
        return 1280, 720
    return (1080, 1920) if width < height else (1080, 1080)


def thumbnail_jpeg(project: Project, story: Story) -> tuple[bytes, list[str]]:
    """The cover of ``project`` (one output's size and platform) as JPEG bytes within
    :data:`MAX_THUMBNAIL_BYTES`, and what drawing its title had to say.

    Raises:
        MediaError: The segment's picture or the caption font cannot be read.
    """
    rgb, warnings = thumbnail_rgb(project, story)
    return encode_jpeg(rgb, MAX_THUMBNAIL_BYTES), warnings


def thumbnail_rgb(project: Project, story: Story) -> tuple[NDArray[np.uint8], list[str]]:
    """The cover as an RGB picture, and what drawing its title had to say."""
    cover = project.settings.thumbnail or Thumbnail()
    segment = cover.segment - 1 if cover.segment <= len(project.segments) else 0
    width, height = thumbnail_size(project.width, project.height)
    item = story.items[story.item_span_of_segment(segment)]
    planes = _picture(project, item, segment, width, height)
    overlay, warnings = render_caption(cover.title or project.title, _title_style(project),
                                       width, height)
    blend_into((planes.y, planes.u, planes.v), overlay)
    return yuv420_to_rgb(planes.y, planes.u, planes.v), [f"thumbnail: {w}" for w in warnings]


def _title_style(project: Project) -> CaptionStyle:
    options = project.settings.subtitles
    return CaptionStyle(
        font=options.font, size=TITLE_SIZE, color=ImageColor.getrgb(options.color)[:3],
        outline=max(options.outline, 0.1),
        outline_color=ImageColor.getrgb(options.outline_color)[:3], position="top",
        max_lines=_TITLE_LINES, insets=project.settings.safe_insets,
        uppercase=options.uppercase)


def _picture(project: Project, item: Item, segment: int, width: int, height: int) -> Planes:
    """The segment's picture at the cover's size (its focus is the one the render used)."""
    visual = item.visual
    match visual:
        case Still():
            return load_framed(visual.image, width, height, segment + 1, visual.focus)[0]
        case Video():
            assert item.clip is not None
            planes = Planes(np.empty((height, width), np.uint8),
                            np.empty((height // 2, width // 2), np.uint8),
                            np.empty((height // 2, width // 2), np.uint8))
            picture = VideoPicture(visual, item.clip, width=width, height=height,
                                   fps=project.fps, shown_frames=1)
            try:
                picture.draw((planes.y, planes.u, planes.v), 0, 0.0)
            finally:
                picture.close()
            return planes
        case Card():
            settings = project.settings
            return card_planes(None, settings.background, settings.subtitles, width,
                               height)[0]
        case _:
            assert_never(visual)
