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

import contextlib
import threading
from collections.abc import Iterator
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
#: The confirming cascade's detections a proposal needs to be a face. Chosen on
#: reduced copies of 26 pictures without a face (scikit-image's photographs and
#: collages of them) and 22 with one (faces of 43 to 145 pixels at this size, pasted
#: at random into such collages; scikit-image's astronaut; faces of its LFW sample):
#: at most 6 on the first, at least 15 on the second. Checked on other seeds (26
#: without, 28 with, 4 of them at the picture's edges): at most 2, at least 23.
_CONFIRMATIONS = 12
#: Round a proposal the confirming cascade searches half its size beyond each side,
#: for faces from 0.6 to 1.6 times its size.
_MARGIN = 0.5
_SIZES = (0.6, 1.6)
#: The cascades' files: the LBP one in scikit-image's data, the Haar one in OpenCV's.
_LBP_FILE = "lbpcascade_frontalface_opencv.xml"
_HAAR_FILE = "haarcascade_frontalface_alt2.xml"
#: Cascade pairs kept between searches.
_KEPT_PAIRS = 2
#: The saliency map's side, and how far its peak must stand above its mean.
_SALIENCY_SIDE = 64
_SALIENT = 3.0
#: ... and how much of the picture's width or height its peak may span: one region.
_REGION = 0.4

Grey = NDArray[np.uint8]
_Face = tuple[float, float, float, int]  # left, top, size, hits
_Pair = tuple[cv2.CascadeClassifier, cv2.CascadeClassifier]  # proposing, confirming

_idle: list[_Pair] = []
_idle_lock = threading.Lock()


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


@contextlib.contextmanager
def _cascades() -> Iterator[_Pair]:
    """A proposing (LBP) and a confirming (Haar) frontal-face cascade for one search.

    A cascade keeps the picture it searches, so a pair serves one search at a time;
    pairs are kept for the next search (up to :data:`_KEPT_PAIRS`, about 7 MB each)
    and read anew (10 ms) when all are busy.

    Raises:
        RenderError: A cascade cannot be read (a broken installation).
    """
    with _idle_lock:
        pair = _idle.pop() if _idle else None
    if pair is None:
        pair = _read_cascades()
    try:
        yield pair
    finally:
        with _idle_lock:
            if len(_idle) < _KEPT_PAIRS:
                _idle.append(pair)


def _read_cascades() -> _Pair:
    try:
        lbp = (resources.files("skimage") / "data" / _LBP_FILE).read_text(encoding="utf-8")
        haar = (resources.files("cv2") / "data" / _HAAR_FILE).read_text(encoding="utf-8")
    except (OSError, ImportError, UnicodeDecodeError) as exc:
        raise RenderError(f"a face cascade could not be read: {exc}") from exc
    # scikit-image's copy misspells a tag its own reader ignores and OpenCV's needs.
    return _cascade(lbp.replace("featuhreParams", "featureParams"), _LBP_FILE), \
        _cascade(haar, _HAAR_FILE)


def _cascade(text: str, name: str) -> cv2.CascadeClassifier:
    try:
        storage = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
        cascade = cv2.CascadeClassifier()
        read = cascade.read(storage.getFirstTopLevelNode())
    except AttributeError as exc:  # an OpenCV 5 build without contrib's cascades
        raise RenderError("this OpenCV has no face cascades: storyreel needs "
                          "opencv-contrib-python-headless") from exc
    except (cv2.error, SystemError) as exc:
        raise RenderError(f"OpenCV could not read the face cascade {name}: {exc}") from exc
    if not read or cascade.empty():
        raise RenderError(f"OpenCV could not read the face cascade {name}")
    return cascade


def _faces(grey: Grey) -> list[_Face]:
    """Faces found in ``grey``: proposals the confirming cascade found again at least
    :data:`_CONFIRMATIONS` times."""
    short = min(grey.shape)
    if short < 24:
        return []
    equalised = cv2.equalizeHist(grey)
    with _cascades() as (proposer, confirmer):
        boxes, _ = proposer.detectMultiScale2(
            equalised, scaleFactor=_PROPOSE_STEP, minNeighbors=3,
            minSize=(max(20, short // 12),) * 2, maxSize=(short, short))
        if len(boxes) == 0:
            return []
        # Round a proposal at the picture's edge, the search area goes on in the edge's
        # pixels repeated: cut off, it would hold fewer of the sizes and places at which
        # the confirming cascade fires round a face (a third as many in a corner).
        reach = max(round(int(box[2]) * _MARGIN) for box in boxes)
        padded = cv2.copyMakeBorder(equalised, reach, reach, reach, reach, cv2.BORDER_REPLICATE)
        faces = []
        for box in boxes:
            left, top, size = (int(v) for v in box[:3])
            margin = round(size * _MARGIN)
            x, y = reach + left - margin, reach + top - margin
            around = padded[y:y + size + 2 * margin, x:x + size + 2 * margin]
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
