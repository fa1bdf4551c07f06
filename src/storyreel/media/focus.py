"""Finding the point of a picture to keep in view when it is cropped: its focus.

Faces first: OpenCV's LBP frontal-face cascade (the file scikit-image ships, run by
scikit-image's detector; nothing is downloaded) on a reduced grey copy of the
picture. A cascade fires many times around a real face and only a few times on a
texture, so only places where it fired at least :data:`_FACE_HITS` times count as
faces. With several faces the focus is the centre of the box holding them all, or of
the largest when they are spread over more than half the picture. Without a face it
is the most salient region: the peak of the spectral-residual saliency map (Hou and
Zhang, CVPR 2007) when one stands out from the rest and is one region (not the edges
of bands across the picture, nor spots far apart). Without either, ``None``: the
caller keeps the centre.
"""

from __future__ import annotations

import functools
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

from storyreel.media.clipread import frame_within
from storyreel.media.image import grey_within, load_reduced_grey
from storyreel.timeline.framing import Focus

if TYPE_CHECKING:
    from skimage.feature import Cascade

__all__ = ["SEARCH_SIDE", "clip_focus", "decoded_focus", "find_focus", "picture_focus"]

#: Pictures are searched at this size (longest side, in pixels).
SEARCH_SIDE = 480
#: Raw detections a face needs (textures give a few, faces dozens).
_FACE_HITS = 7
#: The saliency map's side, and how far its peak must stand above its mean.
_SALIENCY_SIDE = 64
_SALIENT = 3.0
#: ... and how much of the picture's width or height its peak may span: one region.
_REGION = 0.4

Grey = NDArray[np.uint8]
_Face = tuple[float, float, float, int]  # left, top, size, hits


def picture_focus(path: Path, segment: int | None = None) -> Focus | None:
    """The focus of a still image (see :func:`find_focus`), from a reduced decode.

    Raises:
        MediaError: The image cannot be read.
    """
    return find_focus(load_reduced_grey(path, SEARCH_SIDE, segment))


def decoded_focus(rgb: NDArray[np.uint8]) -> Focus | None:
    """The focus of a still already decoded upright to RGB (a reduced decode made for
    drawing it, at least :data:`SEARCH_SIDE` on its longest side, gives what
    :func:`picture_focus` finds), without decoding the file again."""
    return find_focus(grey_within(rgb, SEARCH_SIDE))


def clip_focus(path: Path, start: Fraction, width: int, height: int) -> Focus | None:
    """The focus of a clip (its upright picture ``width`` x ``height``): of its frame
    at ``start``, the first of its trim.

    Raises:
        MediaError: The clip cannot be read.
    """
    return find_focus(np.ascontiguousarray(frame_within(path, start, width, height, SEARCH_SIDE).y))


def find_focus(grey: Grey) -> Focus | None:
    """The focus of a grey picture: its faces', else its salient region's, else ``None``."""
    faces = _faces(grey)
    if faces:
        return _faces_focus(faces, grey.shape[1], grey.shape[0])
    return _salient_focus(grey)


@functools.cache
def _detector() -> Cascade:
    from skimage import data
    from skimage.feature import Cascade

    return Cascade(data.lbp_frontal_face_cascade_filename())  # type: ignore[no-untyped-call]


def _faces(grey: Grey) -> list[_Face]:
    """Faces found in ``grey``: each a cluster of at least :data:`_FACE_HITS` detections."""
    short = min(grey.shape)
    if short < 24:
        return []
    equalised = cv2.equalizeHist(grey)
    found = _detector().detect_multi_scale(
        img=equalised, scale_factor=1.08, step_ratio=1,
        min_size=(max(20, short // 12),) * 2, max_size=(short, short),
        min_neighbor_number=1, intersection_score_threshold=1.01)
    clusters: list[list[tuple[float, float, float]]] = []
    for hit in found:
        box = (float(hit["c"]), float(hit["r"]), float(hit["width"]))
        home = next((c for c in clusters if _near(box, c)), None)
        if home is None:
            clusters.append([box])
        else:
            home.append(box)
    faces = []
    for cluster in clusters:
        if len(cluster) >= _FACE_HITS:
            left, top, size = np.mean(np.asarray(cluster), axis=0)
            faces.append((float(left), float(top), float(size), len(cluster)))
    return faces


def _near(box: tuple[float, float, float], cluster: list[tuple[float, float, float]]) -> bool:
    """Whether ``box`` marks the same face as ``cluster``: its centre within a third of
    the cluster's size of the cluster's centre, and a size not far from it."""
    left, top, size = np.mean(np.asarray(cluster), axis=0)
    x, y, s = box
    near_x = abs(x + s / 2 - left - size / 2) < size / 3
    near_y = abs(y + s / 2 - top - size / 2) < size / 3
    return bool(near_x and near_y and 0.6 < s / size < 1.6)


def _faces_focus(faces: list[_Face], width: int, height: int) -> Focus:
    left = min(f[0] for f in faces)
    top = min(f[1] for f in faces)
    right = max(f[0] + f[2] for f in faces)
    bottom = max(f[1] + f[2] for f in faces)
    if right - left > width / 2 or bottom - top > height / 2:
        left, top, size, _ = max(faces, key=lambda f: (f[2], f[3]))
        right, bottom = left + size, top + size
    return ((left + right) / 2 / width, (top + bottom) / 2 / height)


def _salient_focus(grey: Grey) -> Focus | None:
    """The peak of the spectral-residual saliency map, when it stands out."""
    height, width = grey.shape
    scale = _SALIENCY_SIDE / max(width, height)
    small = cv2.resize(grey, (max(8, round(width * scale)), max(8, round(height * scale))),
                       interpolation=cv2.INTER_AREA).astype(np.float64)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3), borderType=cv2.BORDER_REFLECT)
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = cv2.GaussianBlur(saliency, (0, 0), sigmaX=small.shape[1] / 16)
    mean = float(saliency.mean())
    if mean <= 0 or float(saliency.max()) < _SALIENT * mean:
        return None
    peak = saliency >= 0.6 * saliency.max()
    ys, xs = np.nonzero(peak)
    if np.ptp(xs) + 1 > _REGION * peak.shape[1] or np.ptp(ys) + 1 > _REGION * peak.shape[0]:
        return None  # edges across the picture (bands, a horizon), or far-apart spots
    weights = np.where(peak, saliency, 0.0)
    rows, cols = np.indices(weights.shape)
    total = float(weights.sum())
    x = (float((weights * cols).sum()) / total + 0.5) / small.shape[1]
    y = (float((weights * rows).sum()) / total + 0.5) / small.shape[0]
    return (min(1.0, max(0.0, x)), min(1.0, max(0.0, y)))
