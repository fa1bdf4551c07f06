"""Finding the point of a picture to keep in view when it is cropped: its focus.

Faces first, on a reduced grey copy of the picture, by two of OpenCV's frontal-face
cascades (their files ship in installed packages; nothing is downloaded): the LBP
cascade (the file scikit-image ships) proposes, and the Haar "alt2" cascade (the file
OpenCV ships) confirms. Each proposal's neighbourhood is searched again by the second
cascade at sizes near the proposal's: round a real face it fires a dozen times or
more, round a texture the first cascade mistook for one a few times at most, so only
proposals with at least :data:`_CONFIRMATIONS` of its detections count as faces. With
several faces the focus is the centre of the box holding them all, or of the largest
when they are spread over more than half the picture. Without a face it is the most
salient region: the peak of the spectral-residual saliency map (Hou and Zhang, CVPR
2007) when one stands out from the rest and is one region (not the edges of bands
across the picture, nor spots far apart). Without either, ``None``: the caller keeps
the centre.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from storyreel.errors import RenderError
from storyreel.media.clipread import frame_within
from storyreel.media.image import grey_within, load_reduced_grey
from storyreel.timeline.framing import Focus

__all__ = ["SEARCH_SIDE", "clip_focus", "decoded_focus", "find_focus", "picture_focus"]

#: Pictures are searched at this size (longest side, in pixels).
SEARCH_SIDE = 480
#: How much each cascade's window grows from one size to the next: the proposing
#: cascade over the whole picture, the confirming one round a proposal.
_PROPOSE_STEP = 1.05
_CONFIRM_STEP = 1.03
#: The confirming cascade's detections a proposal needs to be a face. Measured on
#: reduced copies of 26 pictures without a face (scikit-image's photographs and
#: collages of them) and 22 with one (a face of 43 to 145 pixels pasted at random into
#: such collages, scikit-image's astronaut, faces from its LFW sample): at most 6 on
#: the first, at least 15 on the second.
_CONFIRMATIONS = 12
#: Round a proposal the confirming cascade searches half its size beyond each side,
#: for faces from 0.6 to 1.6 times its size.
_MARGIN = 0.5
_SIZES = (0.6, 1.6)
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


_local = threading.local()


def _cascades() -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier]:
    """The proposing (LBP) and the confirming (Haar) frontal-face cascades, this
    thread's own (a cascade keeps the picture it searches: one per thread; 10 ms).

    Raises:
        RenderError: A cascade's file is missing or unreadable (a broken installation).
    """
    kept: tuple[cv2.CascadeClassifier, cv2.CascadeClassifier] | None = getattr(
        _local, "cascades", None)
    if kept is not None:
        return kept
    lbp = resources.files("skimage") / "data" / "lbpcascade_frontalface_opencv.xml"
    haar = resources.files("cv2") / "data" / "haarcascade_frontalface_alt2.xml"
    try:
        # scikit-image's copy misspells a tag its own reader ignores and OpenCV's needs:
        # it is read from memory with the tag mended.
        text = lbp.read_text(encoding="utf-8").replace("featuhreParams", "featureParams")
        storage = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
        proposer = cv2.CascadeClassifier()
        read = proposer.read(storage.getFirstTopLevelNode())
        confirmer = cv2.CascadeClassifier(str(haar))
    except (OSError, cv2.error) as exc:
        raise RenderError(f"the face cascades could not be read: {exc}") from exc
    if not read or proposer.empty() or confirmer.empty():
        raise RenderError(f"the face cascades could not be read ({lbp}, {haar})")
    _local.cascades = proposer, confirmer
    return proposer, confirmer


def _faces(grey: Grey) -> list[_Face]:
    """Faces found in ``grey``: proposals the confirming cascade found again at least
    :data:`_CONFIRMATIONS` times."""
    short = min(grey.shape)
    if short < 24:
        return []
    equalised = cv2.equalizeHist(grey)
    proposer, confirmer = _cascades()
    boxes, _ = proposer.detectMultiScale2(
        equalised, scaleFactor=_PROPOSE_STEP, minNeighbors=3,
        minSize=(max(20, short // 12),) * 2, maxSize=(short, short))
    faces = []
    for left, top, size, _ in (tuple(int(v) for v in box) for box in boxes):
        margin = round(size * _MARGIN)
        around = equalised[max(0, top - margin):top + size + margin,
                           max(0, left - margin):left + size + margin]
        smallest, largest = (round(size * share) for share in _SIZES)
        found = confirmer.detectMultiScale(
            around, scaleFactor=_CONFIRM_STEP, minNeighbors=0,
            minSize=(smallest, smallest), maxSize=(largest, largest))
        if len(found) >= _CONFIRMATIONS:
            faces.append((float(left), float(top), float(size), len(found)))
    return faces


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
