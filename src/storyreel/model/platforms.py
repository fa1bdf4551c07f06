"""Platform presets: output size, frame rate, encode settings and the UI-safe area.

A preset fills in what a manifest leaves out (size, frame rate, bitrate) and, above all,
gives the *safe area*: the part of the frame the platform's own interface does not cover,
where captions and the logo are drawn. Insets are fractions of the frame's width (left,
right) and height (top, bottom). Where the figures come from:

- ``youtube`` and ``square``: no player interface over the picture while it plays; the
  title-safe area of SMPTE ST 2046-1 (90 % of each side: 5 % insets).
- ``tiktok``: TikTok Creative Center's safe-zone overlay for 1080x1920: the
  "Following / For You" tabs over the top (~8 %), the like/comment/share column on the
  right (~14 % of the width), caption, sound and navigation bars over the bottom ~22 %.
- ``reels``: Meta Business Help Center, Reels safe zones: keep text clear of the top 14 %,
  the bottom 35 % and 6 % at the sides; the right is widened to 14 % here because the
  like/comment/share column sits there.
- ``shorts``: YouTube Shorts player: the top bar (~8 %), the like/dislike/comment/share
  column on the right (~14 %), and the title, channel and subscribe rows over the bottom
  ~20 %.

Platforms change their interfaces; these are starting margins, and ``settings.safe_area``
overrides them.

Each preset also knows the longest video the platform takes (``longest``, seconds):
YouTube 12 hours (verified accounts; 15 minutes before verification), Shorts 3
minutes, TikTok 10 minutes (its in-app upload), Reels 3 minutes; ``square`` is
Instagram's feed, whose videos may run to 60 minutes. A render longer than its
platform's limit still completes, with a warning (:func:`length_warning`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

__all__ = ["PLATFORMS", "PLATFORM_NAMES", "Insets", "PlatformName", "PlatformPreset",
           "length_warning"]

PlatformName = Literal["youtube", "shorts", "tiktok", "reels", "square"]
PLATFORM_NAMES: tuple[str, ...] = PlatformName.__args__  # type: ignore[attr-defined]

Insets = tuple[float, float, float, float]
"""Left, top, right, bottom: the share of the frame's width or height kept clear."""


@dataclass(frozen=True)
class PlatformPreset:
    """What a platform preset sets.

    Attributes:
        width: Output width in pixels.
        height: Output height in pixels.
        fps: Frame rate.
        video_bitrate: H.264 bitrate in bits per second.
        safe: The UI-safe area's insets (left, top, right, bottom).
        caption_size: Caption text size (share of the frame's shorter side): larger on
            phones held upright, where captions are read at arm's length.
        longest: The longest video the platform takes, in seconds.
    """

    width: int
    height: int
    fps: Fraction
    video_bitrate: int
    safe: Insets
    caption_size: float = 0.055
    longest: int = 12 * 3600


_TITLE_SAFE: Insets = (0.05, 0.05, 0.05, 0.05)
_VERTICAL = 0.07  # caption size on 9:16 (76 px at 1080 wide)

PLATFORMS: dict[str, PlatformPreset] = {
    "youtube": PlatformPreset(1920, 1080, Fraction(30), 8_000_000, _TITLE_SAFE,
                              longest=12 * 3600),
    "shorts": PlatformPreset(1080, 1920, Fraction(30), 8_000_000, (0.06, 0.08, 0.14, 0.20),
                             _VERTICAL, longest=3 * 60),
    "tiktok": PlatformPreset(1080, 1920, Fraction(30), 8_000_000, (0.06, 0.08, 0.14, 0.22),
                             _VERTICAL, longest=10 * 60),
    "reels": PlatformPreset(1080, 1920, Fraction(30), 8_000_000, (0.06, 0.14, 0.14, 0.35),
                             _VERTICAL, longest=3 * 60),
    # Instagram's feed, where square videos are posted: up to 60 minutes.
    "square": PlatformPreset(1080, 1080, Fraction(30), 6_000_000, _TITLE_SAFE,
                             longest=60 * 60),
}


def length_warning(platform: str, seconds: Fraction | float) -> str | None:
    """A warning when a video of ``seconds`` is longer than ``platform`` takes, else
    ``None`` (also for a name that is no preset)."""
    preset = PLATFORMS.get(platform)
    if preset is None or seconds <= preset.longest:
        return None
    return (f"the video is {_clock(seconds)} long; {platform} takes videos up to "
            f"{_clock(preset.longest)}: cut it (--segments or --chapter) before uploading")


def _clock(seconds: Fraction | float) -> str:
    """``h:mm:ss`` or ``m:ss``, rounded down to the second."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
