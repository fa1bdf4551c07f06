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
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

__all__ = ["PLATFORMS", "PLATFORM_NAMES", "Insets", "PlatformName", "PlatformPreset"]

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
    """

    width: int
    height: int
    fps: Fraction
    video_bitrate: int
    safe: Insets
    caption_size: float = 0.055


_TITLE_SAFE: Insets = (0.05, 0.05, 0.05, 0.05)
_VERTICAL = 0.07  # caption size on 9:16 (76 px at 1080 wide)

PLATFORMS: dict[str, PlatformPreset] = {
    "youtube": PlatformPreset(1920, 1080, Fraction(30), 8_000_000, _TITLE_SAFE),
    "shorts": PlatformPreset(1080, 1920, Fraction(30), 8_000_000, (0.06, 0.08, 0.14, 0.20),
                             _VERTICAL),
    "tiktok": PlatformPreset(1080, 1920, Fraction(30), 8_000_000, (0.06, 0.08, 0.14, 0.22),
                             _VERTICAL),
    "reels": PlatformPreset(1080, 1920, Fraction(30), 8_000_000, (0.06, 0.14, 0.14, 0.35),
                             _VERTICAL),
    "square": PlatformPreset(1080, 1080, Fraction(30), 6_000_000, _TITLE_SAFE),
}
