"""A poster frame of a finished video: one picture from a third of the way in, as a JPEG."""

from __future__ import annotations

from pathlib import Path

import av
import av.error
from PIL import Image

from storyreel.errors import MediaError

__all__ = ["write_poster"]


def write_poster(video: Path, target: Path, longest: int = 480) -> None:
    """Decode one frame of ``video`` (a third of the way in) and save it as a small JPEG.

    Raises:
        MediaError: The video cannot be decoded.
    """
    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            if stream.duration and stream.time_base:
                container.seek(stream.duration // 3, stream=stream)
            frame = next(container.decode(stream))
            pixels = frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, StopIteration, IndexError) as exc:
        raise MediaError(f"no picture could be read from the video ({exc})",
                         path=video) from exc
    image = Image.fromarray(pixels)
    image.thumbnail((longest, longest))
    image.save(target, "JPEG", quality=82)
