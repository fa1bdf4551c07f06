"""Title cards: the project's background colour with a segment's title drawn large.

The title is laid out by the caption machinery (same fonts, fallbacks, outline and
wrapping), centred, at most three lines, inside the safe area; captions are drawn
over the card as over any picture.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageColor

from storyreel.frames.overlay import blend_into
from storyreel.frames.text import CaptionStyle, render_caption
from storyreel.media.encoder import PlaneViews
from storyreel.media.image import Planes, rgb_to_yuv420
from storyreel.model.platforms import Insets
from storyreel.model.project import Subtitles
from storyreel.timeline.captions import mark_words

__all__ = ["TITLE_SIZE", "CardPicture", "card_planes"]

#: A card's title size, as a share of the frame's shorter side (three times a caption's).
TITLE_SIZE = 0.12
_TITLE_LINES = 3


def card_planes(title: str | None, background: str, options: Subtitles, width: int,
                height: int, insets: Insets | None = None, language: str = "en"
                ) -> tuple[Planes, list[str]]:
    """The card's picture and the warnings drawing its title gave.

    Raises:
        MediaError: The caption font cannot be read.
    """
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = ImageColor.getrgb(background)[:3]
    planes = rgb_to_yuv420(rgb)
    if not title or not title.strip():
        return planes, []
    style = CaptionStyle(
        font=options.font, size=TITLE_SIZE, color=ImageColor.getrgb(options.color)[:3],
        outline=options.outline, outline_color=ImageColor.getrgb(options.outline_color)[:3],
        position="center", max_lines=_TITLE_LINES, insets=insets,
        uppercase=options.uppercase, language=language)
    overlay, warnings = render_caption(mark_words(title, language), style, width, height)
    blend_into((planes.y, planes.u, planes.v), overlay)
    return planes, warnings


class CardPicture:
    """A card: the same picture on every frame."""

    def __init__(self, planes: Planes) -> None:
        self._planes = planes

    def draw(self, dest: PlaneViews, index: int, t: float) -> None:
        """Copy the card into ``dest``."""
        for plane, source in zip(dest, (self._planes.y, self._planes.u, self._planes.v),
                                 strict=True):
            np.copyto(plane, source)

    def close(self) -> None:
        """Nothing to release."""
