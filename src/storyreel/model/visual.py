"""What a segment shows: exactly one visual, from a closed set of small frozen types.

``Visual`` is the union of :class:`Still` (an ``image``), :class:`Video` (a ``video``
with its ``clip`` options) and :class:`Card` (neither: the project's background colour
with the segment's ``title``). Code that must treat them differently matches on the
type and ends with ``assert_never``, so mypy names every place a new kind must be
handled; everything else asks the visual: the files it reads (:meth:`files`), what
else shapes its picture (:meth:`shape`), whether it is moving footage (``moves``) and
the level of its own sound (:meth:`sound_gain`).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CROPS", "FITS", "MAX_CLIP_ZOOM", "Card", "ClipOptions", "Crop", "Fit", "FocusPoint",
           "Still", "Video", "Visual"]

Fit = Literal["freeze", "loop", "speed", "extend"]
FITS: tuple[str, ...] = Fit.__args__  # type: ignore[attr-defined]
Crop = Literal["cover", "contain", "blur"]
CROPS: tuple[str, ...] = Crop.__args__  # type: ignore[attr-defined]
#: The largest push-in on a clip: a gentle move, not a crop of the footage.
MAX_CLIP_ZOOM = 1.5
#: A trim point beyond this many seconds cannot be in a clip storyreel accepts.
_MAX_TRIM = 86_400.0


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClipOptions(_Frozen):
    """How a segment's video clip is trimmed, fitted to its segment, framed and heard.

    Attributes:
        start: Where the clip starts, in seconds of the clip.
        end: Where it ends, in seconds of the clip (default: its end).
        fit: When the trimmed clip is shorter than its segment: ``freeze`` (hold the
            last frame), ``loop``, ``speed`` (slowed to fill, never below half speed,
            then frozen) or ``extend`` (the segment lasts as long as the clip). A clip
            longer than its segment is cut at the segment's end.
        volume: The clip's own sound in dB; ``null`` mutes it. Left out: muted under a
            narration, 0 dB in an interlude (a video with neither text nor recording).
        crop: ``cover`` (fill the frame), ``contain`` (letterboxed on black) or ``blur``
            (contained over a blurred, darkened copy of itself).
        zoom: A slow push-in over the segment up to this factor (none by default).
    """

    start: float = Field(0.0, ge=0.0, le=_MAX_TRIM)
    end: float | None = Field(None, gt=0.0, le=_MAX_TRIM)
    fit: Fit = "freeze"
    volume: float | None = Field(None, ge=-60.0, le=12.0)
    crop: Crop = "cover"
    zoom: float | None = Field(None, ge=1.0, le=MAX_CLIP_ZOOM)

    @model_validator(mode="after")
    def _trim(self) -> ClipOptions:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"clip end ({self.end:g} s) must be after its start "
                             f"({self.start:g} s)")
        return self

    @property
    def trim(self) -> tuple[Fraction, Fraction | None]:
        """The trim as exact times: the decimals written in the manifest (``end``: ``None``
        for the clip's end)."""
        end = Fraction(str(self.end)) if self.end is not None else None
        return Fraction(str(self.start)), end

    def sound_gain(self, *, interlude: bool) -> float | None:
        """The level of the clip's own sound in dB, or ``None`` when it is muted."""
        if "volume" in self.model_fields_set:
            return self.volume
        return 0.0 if interlude else None


class _Visual(_Frozen):
    #: Whether the picture is moving footage (decoded frame by frame).
    moves: ClassVar[bool] = False
    _file_fields: ClassVar[tuple[str, ...]] = ()

    def files(self) -> tuple[Path, ...]:
        """The files the picture is drawn from (their contents key the cache)."""
        return tuple(getattr(self, name) for name in self._file_fields)

    def shape(self) -> dict[str, Any]:
        """Everything but its files that shapes the picture, as JSON data."""
        return {"kind": type(self).__name__,
                **self.model_dump(mode="json", exclude=set(self._file_fields))}

    def sound_gain(self, *, interlude: bool) -> float | None:
        """The level of the visual's own sound in dB, ``None`` for none."""
        return None


#: A point of a picture, as shares (0-1) of its width and height.
FocusPoint = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]


class Still(_Visual):
    """A still image, moved by the segment's Ken Burns motion.

    Attributes:
        image: The picture.
        focus: The point kept in view when it is cropped (its centre when ``None``).
    """

    image: Path
    focus: FocusPoint | None = None
    _file_fields: ClassVar[tuple[str, ...]] = ("image",)


class Video(_Visual):
    """A video clip, trimmed and fitted to its segment.

    Attributes:
        video: The clip.
        clip: How it is trimmed, fitted, framed and heard.
        focus: The point kept in view when it is cropped (its centre when ``None``).
    """

    video: Path
    clip: ClipOptions = ClipOptions()
    focus: FocusPoint | None = None
    moves: ClassVar[bool] = True
    _file_fields: ClassVar[tuple[str, ...]] = ("video",)

    def shape(self) -> dict[str, Any]:
        """Everything but its file and its sound that shapes the picture."""
        shape = super().shape()
        shape["clip"].pop("volume")
        return shape

    def sound_gain(self, *, interlude: bool) -> float | None:
        """The clip's own sound level (see :meth:`ClipOptions.sound_gain`)."""
        return self.clip.sound_gain(interlude=interlude)


class Card(_Visual):
    """The project's background colour with the segment's title drawn large (if any)."""

    title: str | None = None


Visual = Still | Video | Card
