"""Another site cannot make the studio work: previews and voice samples asked for by a page
of another origin are refused before anything is decoded or spoken, and samples are
kept in the studio's data folder, not the user's cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from studiokit import Studio, png_bytes

from storyreel.media.image import decode_covering
from storyreel.render.preview import StillCache

FOREIGN = [
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},
    {"origin": "http://evil.example"},
    {"origin": "null"},
    {"origin": "http://127.0.0.1:8000"},
]
OWN = [{"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"},
       {"origin": "http://127.0.0.1"}, {}]


class _Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: Path, width: int, height: int, segment: int | None
                 ) -> NDArray[np.uint8]:
        self.calls += 1
        return decode_covering(path, width, height, segment)


def _previews(studio: Studio) -> tuple[list[str], _Counting]:
    project = studio.create(1)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert studio.upload(pid, sid, "image", png_bytes()).status_code == 200
    counting = _Counting()
    studio.app.state.studio.stills = StillCache(decode=counting)
    return [f"/api/projects/{pid}/preview.png",
            f"/api/projects/{pid}/segments/{sid}/preview.png?at=end"], counting


@pytest.mark.parametrize("headers", FOREIGN, ids=lambda h: ":".join(*h.items()))
def test_previews_for_another_site_start_nothing(studio: Studio,
                                                 headers: dict[str, str]) -> None:
    urls, counting = _previews(studio)
    for url in urls:
        for method in ("GET", "HEAD"):
            answer = studio.client.request(method, url, headers=headers)
            assert answer.status_code == 403
    assert counting.calls == 0


def test_previews_for_the_studio_page_are_drawn(studio: Studio) -> None:
    urls, counting = _previews(studio)
    for headers in OWN:
        for url in urls:
            answer = studio.client.get(url, headers=headers)
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "image/png"
    assert counting.calls == 2  # one still, two sizes; the rest came from the cache


def test_voice_samples_for_another_site_are_refused_and_kept_in_the_data_folder(
        studio: Studio, narration_cache: Path) -> None:
    def spoken(folder: Path) -> list[Path]:
        return sorted(folder.rglob("*.wav"))

    before = spoken(narration_cache)
    url = "/api/voices/sample/?speed=1.25"
    for headers in FOREIGN:
        assert studio.client.get(url, headers=headers).status_code == 403
    assert spoken(studio.data_dir) == [] and spoken(narration_cache) == before
    answer = studio.client.get(url, headers={"sec-fetch-site": "same-origin"})
    assert answer.status_code == 200 and answer.content[:4] == b"RIFF"
    kept = spoken(studio.data_dir / "cache")
    assert len(kept) == 1 and kept[0].read_bytes() == answer.content
    assert spoken(narration_cache) == before
