"""What is drawn over the pictures: captions, the logo, fades from and to black.

Called on the frame producer's thread, once per frame, in frame order. Each state of a
caption (a word lit, a group popped in) is rasterised once, when it first appears, and
blended only over its own rectangle. Captions and the logo stay in the safe area.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageColor, ImageOps

from storyreel.errors import MediaError
from storyreel.frames.blend import fade_black, smooth
from storyreel.frames.captions import CaptionTrack
from storyreel.frames.overlay import (
    Overlay,
    blend_into,
    corner_position,
    inside_safe_area,
    overlay_from_rgba,
)
from storyreel.frames.text import CaptionPainter, CaptionStyle
from storyreel.media.encoder import PlaneViews
from storyreel.model.platforms import Insets
from storyreel.model.project import Logo, Project, Subtitles
from storyreel.timeline.story import Caption, Story, seconds_to_frames

__all__ = ["Decorator", "caption_style", "fade_frames", "fade_level", "logo_overlay"]


def fade_frames(project: Project) -> tuple[int, int]:
    """The fade in and the fade out of ``project``, in frames."""
    fades, fps = project.settings.transitions, project.fps
    return seconds_to_frames(fades.fade_in, fps), seconds_to_frames(fades.fade_out, fps)


def fade_level(frame: int, total: int, fade_in: int, fade_out: int) -> float:
    """Brightness of ``frame`` under the fades (1 = unchanged, 0 = black)."""
    level = 1.0
    if frame < fade_in:
        level = smooth((frame + 1) / (fade_in + 1))
    if total - frame <= fade_out:
        level = min(level, smooth((total - frame - 1) / (fade_out + 1)))
    return level


def caption_style(options: Subtitles, insets: Insets | None = None) -> CaptionStyle:
    """The text style the manifest's subtitle options describe, inside ``insets``."""
    position = options.position
    return CaptionStyle(
        font=options.font,
        size=options.size,
        color=ImageColor.getrgb(options.color)[:3],
        outline=options.outline,
        outline_color=ImageColor.getrgb(options.outline_color)[:3],
        box=options.box,
        box_color=ImageColor.getrgb(options.box_color)[:3],
        box_opacity=options.box_opacity,
        position=position,
        max_lines=options.max_lines,
        insets=insets,
        uppercase=options.uppercase,
        highlight=ImageColor.getrgb(options.highlight_color)[:3],
        highlight_box=options.highlight_box,
        highlight_box_color=(ImageColor.getrgb(options.highlight_box_color)[:3]
                             if options.highlight_box_color else None),
    )


def logo_overlay(logo: Logo, width: int, height: int, insets: Insets | None = None) -> Overlay:
    """The watermark, scaled to its share of the frame width and placed in its corner.

    With ``insets`` (a platform's safe area) the logo is kept inside that area.
    """
    try:
        with Image.open(logo.path) as image:
            rgba = ImageOps.exif_transpose(image).convert("RGBA")
    except OSError as exc:
        raise MediaError(f"cannot read logo ({exc})", path=logo.path) from exc
    logo_w = max(2, round(width * logo.scale))
    logo_h = max(2, round(rgba.height * logo_w / rgba.width))
    if logo_h > height:
        logo_w, logo_h = max(2, round(logo_w * height / logo_h)), height
    scaled = rgba.resize((logo_w, logo_h), Image.Resampling.LANCZOS)
    x, y = corner_position((logo_w, logo_h), logo.corner, round(height * logo.margin),
                           width, height)
    if insets is not None:
        x, y = inside_safe_area((x, y, logo_w, logo_h), insets, width, height)
    return overlay_from_rgba(np.asarray(scaled), x, y, width, height, logo.opacity)


class Decorator:
    """Draws captions, logo and fades over frame ``i`` of a story.

    Frames come in order in a render; a preview may ask for any frame, in any order.
    """

    def __init__(self, project: Project, story: Story, fade_in: int, fade_out: int) -> None:
        self._warnings: list[str] = []
        self._width, self._height = project.width, project.height
        settings = project.settings
        self._captions: tuple[Caption, ...] = (
            story.captions if settings.subtitles.enabled else ()
        )
        self._style = caption_style(settings.subtitles, settings.safe_insets)
        self._languages = [project.language_of(i) for i in range(len(project.segments))]
        self._look = settings.subtitles.style
        self._pop = settings.subtitles.pop_words
        self._next = 0
        self._last = -1  # the frame drawn last
        self._current: CaptionTrack[Caption] | None = None
        self._logo = (
            logo_overlay(settings.logo, project.width, project.height, settings.safe_insets)
            if settings.logo is not None else None
        )
        self._total = story.plan.total_frames
        self._fade_in, self._fade_out = fade_in, fade_out

    @property
    def active(self) -> bool:
        """Whether anything is drawn at all."""
        return bool(self._captions or self._logo or self._fade_in or self._fade_out)

    def __call__(self, frame: int, views: PlaneViews) -> None:
        overlay = self._caption_at(frame)
        if overlay is not None:
            blend_into(views, overlay)
        if self._logo is not None:
            blend_into(views, self._logo)
        level = fade_level(frame, self._total, self._fade_in, self._fade_out)
        if level < 1.0:
            fade_black(views, level)

    def _caption_at(self, frame: int) -> Overlay | None:
        if frame < self._last:  # a preview went back in time: walk the captions again
            self._next, self._current = 0, None
        self._last = frame
        if self._current is not None and self._current.end <= frame:
            self._note(self._current)
            self._current = None
        while self._next < len(self._captions) and self._captions[self._next].start <= frame:
            caption = self._captions[self._next]
            self._next += 1
            if caption.end > frame:
                if self._current is not None:
                    self._note(self._current)
                style = replace(self._style,
                                language=self._languages[caption.segment])
                painter = CaptionPainter(caption.text, style, self._width, self._height,
                                         look=self._look)
                self._current = CaptionTrack(caption, painter, self._look, self._pop)
        return self._current.overlay(frame) if self._current is not None else None

    @property
    def warnings(self) -> list[str]:
        """Problems met drawing the captions so far (missing characters, shrunk text)."""
        return self._warnings + (self._notes(self._current) if self._current else [])

    def _note(self, track: CaptionTrack[Caption]) -> None:
        self._warnings += self._notes(track)

    @staticmethod
    def _notes(track: CaptionTrack[Caption]) -> list[str]:
        return [f"segment {track.caption.segment + 1}: {n}" for n in track.painter.warnings]
