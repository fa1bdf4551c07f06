"""A single frame as a picture: YUV 4:2:0 planes back to RGB (for stills and previews)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from storyreel.media.image import RGB_TO_YUV709

__all__ = ["yuv420_to_rgb"]

# The exact inverse of the encoder's BT.709 limited-range matrix.
_FORWARD = RGB_TO_YUV709[:, :3].astype(np.float64)
_INVERSE = np.linalg.inv(_FORWARD)
_YUV_TO_RGB = np.hstack([_INVERSE, -_INVERSE @ RGB_TO_YUV709[:, 3:].astype(np.float64)]
                        ).astype(np.float32)


def yuv420_to_rgb(y: NDArray[np.uint8], u: NDArray[np.uint8], v: NDArray[np.uint8]
                  ) -> NDArray[np.uint8]:
    """An ``(h, w, 3)`` RGB picture from BT.709 limited-range YUV 4:2:0 planes."""
    height, width = y.shape
    full = (width, height)
    yuv = np.dstack([
        y, cv2.resize(u, full, interpolation=cv2.INTER_LINEAR),
        cv2.resize(v, full, interpolation=cv2.INTER_LINEAR),
    ]).astype(np.float32)
    rgb = np.asarray(cv2.transform(yuv, _YUV_TO_RGB), np.float32)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
