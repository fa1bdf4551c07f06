"""Previews cost bounded memory in the studio server: large stills are decoded reduced,
decoded stills are kept by file digest and size, and only a few previews are drawn at
once (the others wait their turn, or are answered 503 with Retry-After)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from studiokit import Studio, png_bytes, serve_studio

import storyreel
from storyreel.errors import MediaError
from storyreel.media.focus import SEARCH_SIDE, picture_focus
from storyreel.media.image import decode_covering, load_cover_planes, load_framed
from storyreel.render.preview import StillCache
from storyreel.service.studio import PREVIEW_SLOTS

MB = 1 << 20
#: An 80-megapixel float TIFF decoded whole cost about 2 GB per preview, three at once 6.5 GB.
SERVER_BOUND = 1000 * MB

_MAKE_FLOAT_TIFF = """
import sys
from PIL import Image
image = Image.linear_gradient("L").resize((10000, 8000)).convert("F")
image.save(sys.argv[1], format="TIFF", compression="tiff_deflate")
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(storyreel.__file__).parents[1]),
                                         env.get("PYTHONPATH", "")])
    return env


def _peak(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


@pytest.fixture(scope="module")
def float_tiff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 80-megapixel float TIFF of about 600 kB, made in a child (320 MB to draw)."""
    path = tmp_path_factory.mktemp("big") / "float.tif"
    subprocess.run([sys.executable, "-c", _MAKE_FLOAT_TIFF, str(path)], check=True, env=_env())
    assert path.stat().st_size < 2 * MB
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_previews_of_a_huge_still_stay_in_bounded_server_memory(float_tiff: Path,
                                                                tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server, url = serve_studio(data_dir, env=_env())
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            project = client.post("/api/projects/", json={
                "title": "Big", "width": 1280, "height": 720,
                "segments": [{"text": f"Part {i} of it."} for i in range(3)]}).json()
            pid = project["id"]
            for segment in project["segment_list"]:
                sent = client.post(f"/api/projects/{pid}/segments/{segment['id']}/image/",
                                   files={"file": ("big.tif", float_tiff.read_bytes())})
                assert sent.status_code == 200, sent.text
    finally:
        server.terminate()
        server.wait()
    # A fresh server: its peak is what the previews cost, not the uploads.
    server, url = serve_studio(data_dir, env=_env())
    try:
        base = f"{url}/api/projects/{pid}"
        urls = [f"{base}/preview.png"] + [
            f"{base}/segments/{s['id']}/preview.png?at={at}"
            for s in project["segment_list"] for at in ("start", "end")]
        with ThreadPoolExecutor(len(urls)) as pool:
            answers = list(pool.map(lambda url: httpx.get(url, timeout=300), urls))
        peak = _peak(server.pid)
    finally:
        server.terminate()
        server.wait()
    assert [a.status_code for a in answers] == [200] * len(urls)
    for answer in answers:
        picture = Image.open(io.BytesIO(answer.content))
        assert picture.size == (640, 360)
        pixels = np.asarray(picture.convert("L"), dtype=np.float64)
        assert pixels.std() > 10  # the gradient is there, not a blank stand-in
    assert peak < SERVER_BOUND, f"the server peaked at {peak / MB:.0f} MB"


class _Spy:
    """The real decoder, counting the decodes running at once and holding them until
    released."""

    def __init__(self) -> None:
        self.calls: list[Path] = []
        self.running = 0
        self.most = 0
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, path: Path, width: int, height: int, segment: int | None
                 ) -> NDArray[np.uint8]:
        with self._lock:
            self.calls.append(path)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.release.wait(60)
            return decode_covering(path, width, height, segment)
        finally:
            with self._lock:
                self.running -= 1


def _wait_for(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, "the previews never started"
        time.sleep(0.01)


def _project(studio: Studio, segments: int) -> tuple[int, list[int]]:
    project = studio.create(segments)
    ids = [s["id"] for s in project["segment_list"]]
    for number, sid in enumerate(ids):
        image = png_bytes((800, 600), (30 * number, 90, 160))
        assert studio.upload(project["id"], sid, "image", image).status_code == 200
    return project["id"], ids


def test_only_a_few_previews_are_drawn_at_once_and_the_rest_wait(studio: Studio) -> None:
    pid, ids = _project(studio, 6)
    spy = _Spy()
    studio.app.state.studio.stills = StillCache(decode=spy)
    urls = [f"/api/projects/{pid}/segments/{sid}/preview.png" for sid in ids]
    with ThreadPoolExecutor(len(urls)) as pool:
        pending = [pool.submit(studio.client.get, url) for url in urls]
        _wait_for(lambda: spy.running == PREVIEW_SLOTS)
        spy.release.set()
        answers = [p.result() for p in pending]
    assert [a.status_code for a in answers] == [200] * len(urls)
    assert spy.most == PREVIEW_SLOTS
    assert len(spy.calls) == len(urls)


def test_past_the_wait_a_preview_is_answered_503_with_retry_after(studio: Studio) -> None:
    pid, (sid,) = _project(studio, 1)
    engine = studio.app.state.studio
    engine.preview_wait = 0
    for _ in range(PREVIEW_SLOTS):
        assert engine.preview_slots.acquire(timeout=5)
    try:
        busy = studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png")
        assert busy.status_code == 503
        assert int(busy.headers["retry-after"]) > 0
        assert "try again" in busy.json()["detail"]
    finally:
        for _ in range(PREVIEW_SLOTS):
            engine.preview_slots.release()
    assert studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png").status_code == 200


def test_a_still_is_decoded_once_per_size_until_its_file_changes(studio: Studio) -> None:
    pid, (sid,) = _project(studio, 1)
    spy = _Spy()
    spy.release.set()
    studio.app.state.studio.stills = StillCache(decode=spy)
    url = f"/api/projects/{pid}/segments/{sid}/preview.png"
    first = studio.client.get(url)
    again = [studio.client.get(url + "?at=end"), studio.client.get(url)]
    assert len(spy.calls) == 1  # the first and last frames share the decoded still
    assert first.content == again[1].content
    image = png_bytes((800, 600), (250, 250, 20))
    assert studio.upload(pid, sid, "image", image).status_code == 200
    changed = studio.client.get(url)
    assert len(spy.calls) == 2
    assert changed.content != first.content
    studio.client.get(f"/api/projects/{pid}/preview.png")  # another size: decoded anew
    assert len(spy.calls) == 3


def test_the_cache_keeps_to_its_size(tmp_path: Path) -> None:
    paths = []
    for number in range(4):
        path = tmp_path / f"{number}.png"
        Image.new("RGB", (400, 300), (number * 50, 0, 0)).save(path)
        paths.append(path)
    spy = _Spy()
    spy.release.set()
    one = 400 * 300 * 3  # bytes of one decoded still (RGB; too small to be reduced)
    cache = StillCache(max_bytes=2 * one, decode=spy)
    for path in paths + paths[-2:]:
        cache(path, 320, 180, 1)
    assert len(spy.calls) == 4  # the last two were still kept
    cache(paths[0], 320, 180, 1)
    assert len(spy.calls) == 5  # the first had gone
    drawn = cache(paths[0], 320, 180, 1)
    drawn.y[:] = 0  # a caller draws on its copy, never on the kept still
    assert cache(paths[0], 320, 180, 1).y.max() > 0


def _face_still(path: Path, size: tuple[int, int]) -> Path:
    """A wide still, larger than the previews, with a real face right of centre."""
    skimage_data = pytest.importorskip("skimage.data")
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.dstack([60 + xs * 80 // width, 110 + ys * 60 // height,
                         90 + 0 * xs]).astype(np.uint8)
    face = np.asarray(skimage_data.astronaut())[30:210, 130:310]
    side = height * 3 // 10
    left, top = width * 3 // 4, height // 3
    picture[top:top + side, left:left + side] = cv2.resize(face, (side, side),
                                                          interpolation=cv2.INTER_AREA)
    Image.fromarray(picture).save(path)
    return path


def test_a_preview_searches_the_focus_in_the_decode_it_frames(tmp_path: Path) -> None:
    path = _face_still(tmp_path / "wide.png", (2880, 1620))
    spy = _Spy()
    spy.release.set()
    cache = StillCache(decode=spy)
    found = cache.found_focus(path, 672, 378, 1)
    assert found is not None
    framed, inside = cache.framed(path, 672, 378, 1, found)
    again = cache(path, 672, 378, 1)  # centred, from the same decode
    assert len(spy.calls) == 1
    # What a render finds in a decode of its own, within a pixel of the search's size.
    alone = picture_focus(path)
    assert alone is not None
    assert max(abs(a - b) for a, b in zip(found, alone, strict=True)) * SEARCH_SIDE <= 1.0
    expected, expected_inside = load_framed(path, 672, 378, 1, found)
    assert np.array_equal(framed.y, expected.y) and np.array_equal(framed.u, expected.u)
    assert inside == expected_inside
    assert np.array_equal(again.y, load_cover_planes(path, 672, 378, 1).y)


def test_previews_asking_for_a_decode_under_way_wait_for_it(tmp_path: Path) -> None:
    path = _face_still(tmp_path / "wide.png", (1600, 900))
    spy = _Spy()
    cache = StillCache(decode=spy)
    with ThreadPoolExecutor(4) as pool:
        pending = [pool.submit(cache.found_focus, path, 672, 378, 1),
                   pool.submit(cache, path, 672, 378, 1),
                   pool.submit(cache, path, 672, 378, 1),
                   pool.submit(cache.found_focus, path, 672, 378, 1)]
        _wait_for(lambda: spy.running == 1)
        spy.release.set()
        results = [p.result() for p in pending]
    assert len(spy.calls) == 1
    assert results[0] == results[3]


def test_the_kept_bytes_add_up_as_decodes_come_go_and_fail(tmp_path: Path) -> None:
    sizes = [(400, 300), (630, 350), (500, 500), (360, 640)]  # none can be halved
    paths = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"{number}.png"
        Image.new("RGB", size, (number * 50, 10, 0)).save(path)
        paths.append(path)
    spy = _Spy()
    spy.release.set()
    budget = 2 * 640 * 360 * 3
    cache = StillCache(max_bytes=budget, decode=spy)
    kept: list[Path] = []  # least recently used first: the cache's rule, done by hand
    weight = {p: s[0] * s[1] * 3 for p, s in zip(paths, sizes, strict=True)}
    asked = [0, 1, 0, 2, 3, 1, 3, 0, 2, 2, 1]
    for number in asked:
        path = paths[number]
        decoded = len(spy.calls)
        cache(path, 320, 180, 1)
        assert len(spy.calls) == decoded + (path not in kept)
        kept = [p for p in kept if p != path] + [path]
        while sum(weight[p] for p in kept) > budget:
            kept.pop(0)
        assert cache.kept_bytes == sum(weight[p] for p in kept)
    paths[0].write_bytes(b"not a picture any more")
    with pytest.raises(MediaError):
        cache(paths[0], 320, 180, 1)
    assert cache.kept_bytes == sum(weight[p] for p in kept if p != paths[0])
    huge = tmp_path / "huge.png"
    Image.new("RGB", (2000, 350)).save(huge)  # over the whole budget: drawn, not kept
    cache(huge, 320, 180, 1)
    assert cache.kept_bytes == 0
