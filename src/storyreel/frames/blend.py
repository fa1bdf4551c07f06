"""Blends on YUV planes: crossfades between pictures and fades from/to black."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["BLACK", "crossfade", "fade_black", "smooth"]

PlaneSet = tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8]]

#: Limited-range YUV black.
BLACK = (16.0, 128.0, 128.0)


def smooth(x: float) -> float:
    """Ease a linear 0..1 ramp (raised cosine), so fades start and end gently."""
    x = min(1.0, max(0.0, x))
    return 0.5 - 0.5 * math.cos(math.pi * x)


def crossfade(dest: PlaneSet, incoming: PlaneSet, alpha: float) -> None:
    """Blend ``incoming`` over ``dest`` in place: ``dest = (1 - alpha) dest + alpha incoming``."""
    for plane, other in zip(dest, incoming, strict=True):
        out = cv2.addWeighted(plane, 1.0 - alpha, other, alpha, 0.0, dst=plane)
        if out is not plane:
            np.copyto(plane, out)


def fade_black(dest: PlaneSet, level: float) -> None:
    """Scale the picture towards black in place (``level`` 1 = unchanged, 0 = black)."""
    if level >= 1.0:
        return
    for plane, black in zip(dest, BLACK, strict=True):
        out = cv2.addWeighted(plane, level, plane, 0.0, black * (1.0 - level), dst=plane)
        if out is not plane:
            np.copyto(plane, out)
