"""Faces in a picture's focus search: found where they were put, and not in photographs
without one (scikit-image's own photographs, which ship in its wheel)."""

from __future__ import annotations

import functools
import threading

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from skimage import data  # a dependency: it ships the proposing cascade's file

from storyreel.errors import RenderError
from storyreel.media import focus
from storyreel.media.focus import SEARCH_SIDE, find_focus
from storyreel.media.image import grey_within

#: scikit-image's photographs without a face (the cat is a cat).
_WITHOUT = ("brick", "coffee", "chelsea", "coins", "grass", "gravel", "horse",
            "hubble_deep_field", "immunohistochemistry", "moon", "page", "retina", "rocket",
            "text", "logo", "clock", "cell")
_STRIP = 120  # the height of each photograph's strip in a collage


@functools.cache
def rgb(name: str) -> NDArray[np.uint8]:
    picture = np.asarray(getattr(data, name)())
    if picture.ndim == 2:
        picture = np.dstack([picture] * 3)
    return np.ascontiguousarray(picture[..., :3].astype(np.uint8))


def collage(width: int, height: int, seed: int) -> NDArray[np.uint8]:
    """Strips of the photographs without a face, side by side, at their own size."""
    rng = np.random.default_rng(seed)
    photos = [rgb(name) for name in _WITHOUT]  # read once (cached)
    canvas = np.zeros((height, width, 3), np.uint8)
    for y in range(0, height, _STRIP):
        x = 0
        while x < width:
            photo = photos[int(rng.integers(len(photos)))]
            top = int(rng.integers(max(1, photo.shape[0] - _STRIP + 1)))
            strip = photo[top:top + _STRIP]
            h, w = min(strip.shape[0], height - y), min(strip.shape[1], width - x)
            canvas[y:y + h, x:x + w] = strip[:h, :w]
            x += w
    return canvas


@functools.cache
def faces() -> tuple[NDArray[np.uint8], ...]:
    """The astronaut's face and three faces of scikit-image's LFW sample (25 pixels, grey)."""
    found = [np.asarray(data.astronaut())[30:210, 130:310]]
    lfw = data.lfw_subset()[:100]  # the first hundred are faces
    found += [np.dstack([(lfw[i] * 255).astype(np.uint8)] * 3) for i in (0, 21, 42)]
    return tuple(found)


@pytest.mark.parametrize("seed", range(8))
def test_a_face_pasted_into_photographs_is_the_focus(seed: int) -> None:
    rng = np.random.default_rng(seed)
    picture = collage(1280, 720, 100 + seed)
    face = faces()[seed % 4]
    size = int(rng.integers(120, 400))
    left, top = int(rng.integers(0, 1280 - size)), int(rng.integers(0, 720 - size))
    picture[top:top + size, left:left + size] = cv2.resize(
        face, (size, size), interpolation=cv2.INTER_CUBIC)
    found = find_focus(grey_within(picture, SEARCH_SIDE))
    assert found is not None
    assert left < found[0] * 1280 < left + size, (found, left, size)
    assert top < found[1] * 720 < top + size, (found, top, size)


@pytest.mark.parametrize("name", _WITHOUT)
def test_a_photograph_without_a_face_has_none(name: str) -> None:
    assert focus._faces(grey_within(rgb(name), SEARCH_SIDE)) == []


@pytest.mark.parametrize("seed", range(4))
def test_a_collage_without_a_face_has_none(seed: int) -> None:
    assert focus._faces(grey_within(collage(1600, 1200 if seed % 2 else 900, seed),
                                    SEARCH_SIDE)) == []


def test_two_faces_far_apart_focus_on_the_larger() -> None:
    picture = collage(1280, 720, 7)
    face = faces()[0]
    picture[60:260, 60:260] = cv2.resize(face, (200, 200), interpolation=cv2.INTER_AREA)
    picture[300:660, 860:1220] = cv2.resize(face, (360, 360), interpolation=cv2.INTER_AREA)
    found = find_focus(grey_within(picture, SEARCH_SIDE))
    assert found is not None
    assert 860 < found[0] * 1280 < 1220 and 300 < found[1] * 720 < 660


@pytest.mark.parametrize(("left", "top"), [(0, 0), (1280 - 260, 720 - 260), (500, 0),
                                          (0, 300)], ids=["top-left", "bottom-right", "top",
                                                          "left"])
def test_a_face_at_the_picture_s_edge_is_found(left: int, top: int) -> None:
    """Round a face at the edge the confirming search goes on in the edge's pixels."""
    picture = collage(1280, 720, 11)
    picture[top:top + 260, left:left + 260] = cv2.resize(
        faces()[0], (260, 260), interpolation=cv2.INTER_AREA)
    found = find_focus(grey_within(picture, SEARCH_SIDE))
    assert found is not None
    assert left < found[0] * 1280 < left + 260 and top < found[1] * 720 < top + 260


@pytest.mark.parametrize("shape", [(1, 1), (1, 480), (480, 1), (23, 480), (24, 24), (2, 3)])
def test_tiny_and_thin_pictures_have_no_face(shape: tuple[int, int]) -> None:
    grey = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert focus._faces(grey) == []


@pytest.mark.parametrize(("lbp", "haar"), [("missing.xml", focus._HAAR_FILE),
                                           (focus._LBP_FILE, "__init__.py")],
                         ids=["missing", "not-a-cascade"])
def test_a_cascade_that_cannot_be_read_is_a_render_error(
        monkeypatch: pytest.MonkeyPatch, lbp: str, haar: str) -> None:
    monkeypatch.setattr(focus, "_idle", [])
    monkeypatch.setattr(focus, "_LBP_FILE", lbp)
    monkeypatch.setattr(focus, "_HAAR_FILE", haar)
    picture = collage(640, 360, 3)
    with pytest.raises(RenderError, match="face cascade"):
        focus._faces(grey_within(picture, SEARCH_SIDE))


def test_searches_on_several_threads_find_what_one_finds() -> None:
    """A cascade pair serves one search at a time: four threads at once find what one finds."""
    pictures = []
    for seed in range(4):
        picture = collage(960, 540, 200 + seed)
        picture[100:340, 200 + 100 * seed:440 + 100 * seed] = cv2.resize(
            faces()[0], (240, 240), interpolation=cv2.INTER_AREA)
        pictures.append(grey_within(picture, SEARCH_SIDE))
    alone = [find_focus(p) for p in pictures]
    assert all(point is not None for point in alone)
    together: dict[int, object] = {}
    errors: list[BaseException] = []

    def search(i: int) -> None:
        try:
            for _ in range(3):
                together[i] = find_focus(pictures[i])
        except BaseException as exc:  # reported below, not lost on the thread
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [together[i] for i in range(4)] == alone
    assert len(focus._idle) <= focus._KEPT_PAIRS
