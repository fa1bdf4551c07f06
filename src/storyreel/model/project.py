"""The validated, frozen project model: the single source of bounds.

A manifest is JSON; relative media paths resolve against the manifest's folder
(passed as the ``base_dir`` validation context). StoryFlow exports are accepted
too: their field names are mapped onto ours before validation.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from storyreel.model.fps import FrameRate

__all__ = [
    "MAX_DIMENSION",
    "MIN_DIMENSION",
    "PRESETS",
    "Direction",
    "KenBurns",
    "Preset",
    "Project",
    "RenderSettings",
    "Segment",
]

MIN_DIMENSION = 64
MAX_DIMENSION = 7680
Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
PRESETS: tuple[str, ...] = Preset.__args__  # type: ignore[attr-defined]
Direction = Literal["auto", "in", "out", "none"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _resolve(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("path is empty")
        if "\x00" in value:
            raise ValueError("path contains a NUL byte")
        value = Path(value).expanduser()
    if isinstance(value, Path) and not value.is_absolute():
        base = (info.context or {}).get("base_dir")
        value = (Path(base) if base is not None else Path.cwd()) / value
    return value


class KenBurns(_Frozen):
    """Ken Burns motion: a slow, eased zoom combined with a pan.

    Attributes:
        zoom: Largest zoom factor reached (1.0 = no zoom). Motion moves between 1.0 and this.
        direction: ``in``, ``out``, ``auto`` (alternating, varied per segment) or ``none`` (static).
        pan: Whether the frame also drifts sideways/vertically while zooming.
        easing: ``ease-in-out`` (smooth start and stop) or ``linear``.
    """

    zoom: float = Field(1.15, ge=1.0, le=2.0)
    direction: Direction = "auto"
    pan: bool = True
    easing: Literal["ease-in-out", "linear"] = "ease-in-out"


class RenderSettings(_Frozen):
    """How a project is rendered; every field has a sensible default.

    Attributes:
        preset: libx264 speed/quality preset.
        video_bitrate: Target H.264 bitrate in bits per second.
        audio_bitrate: AAC bitrate in bits per second.
        gap: Silence between two narrations, in seconds (also after the last one).
        ken_burns: Project-wide motion; segments may override zoom and direction.
    """

    preset: Preset = "medium"
    video_bitrate: int = Field(8_000_000, ge=100_000, le=100_000_000)
    audio_bitrate: int = Field(192_000, ge=32_000, le=512_000)
    gap: float = Field(0.3, ge=0.0, le=10.0)
    ken_burns: KenBurns = KenBurns()


class Segment(BaseModel):
    """One still, its narration and the narration's text.

    Unknown fields (e.g. StoryFlow's ``image_prompt``) are kept and ignored.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    image: Path
    audio: Path
    text: str = Field("", max_length=20_000)
    chapter: str | None = Field(None, max_length=200)
    zoom: float | None = Field(None, ge=1.0, le=2.0)
    direction: Direction | None = None

    @model_validator(mode="before")
    @classmethod
    def _storyflow(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for ours, theirs in (("image", "image_file"), ("audio", "audio_file"),
                                 ("text", "text_content")):
                if ours not in data and data.get(theirs) is not None:
                    data[ours] = data.pop(theirs)
            if data.get("text") is None:
                data["text"] = ""
        return data

    _paths = field_validator("image", "audio", mode="before")(_resolve)


class Project(BaseModel):
    """A story: ordered segments plus output size, frame rate and render settings."""

    model_config = ConfigDict(frozen=True, extra="allow")

    title: str = Field("Untitled story", max_length=300)
    width: int = Field(1920, ge=MIN_DIMENSION, le=MAX_DIMENSION)
    height: int = Field(1080, ge=MIN_DIMENSION, le=MAX_DIMENSION)
    fps: FrameRate = Fraction(30)
    segments: list[Segment] = Field(min_length=1)
    settings: RenderSettings = RenderSettings()
    _base_dir: Path | None = PrivateAttr(None)

    @property
    def base_dir(self) -> Path:
        """Folder of the manifest this project was loaded from (default output goes here)."""
        return self._base_dir or Path.cwd()

    @model_validator(mode="before")
    @classmethod
    def _storyflow(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for ours, theirs in (("width", "resolution_width"), ("height", "resolution_height"),
                             ("fps", "framerate")):
            if ours not in data and data.get(theirs) is not None:
                data[ours] = data.pop(theirs)
        segments = data.get("segments")
        if isinstance(segments, list) and all(
            isinstance(s, dict) and "sequence_index" in s for s in segments
        ):
            data["segments"] = sorted(segments, key=lambda s: _order_key(s["sequence_index"]))
        return data

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(
                f"{value} is odd; H.264 in yuv420p needs an even size "
                f"(use {value - 1} or {value + 1})"
            )
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return value.strip() or "Untitled story"


def _order_key(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")
