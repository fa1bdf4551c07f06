"""The studio and several platforms: choosing them, each one's frame, one job making a video
each, and every video listed, played and downloaded with its platform."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image
from studiokit import Studio, wait_status

from storyreel.render.progress import Progress
from storyreel.service.jobs import overall_percent

PLATFORMS = ["youtube", "shorts", "square"]
SIZES = {"youtube": (320, 180), "shorts": (180, 320), "square": (180, 180)}


def options(studio: Studio, project_id: int, settings: dict[str, object]) -> dict[str, object]:
    response = studio.client.patch(f"/api/projects/{project_id}/", json={"settings": settings})
    assert response.status_code == 200, response.text
    return dict(response.json()["options"])


def test_several_platforms_replace_one_and_one_replaces_several(studio: Studio) -> None:
    pid = studio.create()["id"]
    chosen = options(studio, pid, {"platform": "tiktok"})
    assert chosen["settings"]["platform"] == "tiktok"  # type: ignore[index]
    several = options(studio, pid, {"platforms": PLATFORMS})
    assert several["settings"]["platforms"] == PLATFORMS  # type: ignore[index]
    assert several["settings"]["platform"] is None  # type: ignore[index]
    one = options(studio, pid, {"platform": "reels"})
    assert one["settings"]["platforms"] is None  # type: ignore[index]
    assert one["settings"]["platform"] == "reels"  # type: ignore[index]
    options(studio, pid, {"platforms": PLATFORMS})
    none = options(studio, pid, {"platforms": None})
    assert none["settings"]["platforms"] is None  # type: ignore[index]
    bad = studio.client.patch(f"/api/projects/{pid}/",
                              json={"settings": {"platforms": ["youtube", "myspace"]}})
    assert bad.status_code == 400
    assert [p["field"] for p in bad.json()["problems"]] == ["settings.platforms.1"]


def test_the_words_give_each_platforms_shape_and_safe_area(studio: Studio) -> None:
    words = studio.client.get("/api/words/").json()
    assert words["platforms"]["shorts"] == {"width": 1080, "height": 1920,
                                            "safe": [0.06, 0.08, 0.14, 0.2]}
    fields = [f["path"] for group in words["options"] for f in group["fields"]]
    assert "settings.platforms" in fields
    assert set(words["choices"]["settings.platforms"]) == set(words["platforms"])


def test_a_segments_frame_in_each_platforms_shape(studio: Studio) -> None:
    project = studio.ready()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    options(studio, pid, {"platforms": PLATFORMS})
    for name, size in SIZES.items():
        answer = studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png"
                                   f"?platform={name}")
        assert answer.status_code == 200, answer.text
        assert Image.open(io.BytesIO(answer.content)).size == size
    unknown = studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png"
                                "?platform=myspace")
    assert unknown.status_code in (400, 422)


def test_one_job_makes_a_video_for_each_platform(studio: Studio) -> None:
    project = studio.ready(segments=2, seconds=0.8)
    pid = project["id"]
    options(studio, pid, {"platforms": PLATFORMS})
    started = studio.client.post(f"/api/projects/{pid}/render/")
    assert started.status_code in (200, 201, 202), started.text
    status = wait_status(studio.client, pid, timeout=180)
    assert status["status"] == "completed", status
    history = studio.client.get(f"/api/projects/{pid}/renders/").json()
    assert [v["platform"] for v in history] == PLATFORMS
    assert len({v["job_id"] for v in history}) == 1  # one job
    durations = set()
    for video in history:
        assert (video["width"], video["height"]) == SIZES[video["platform"]]
        played = studio.client.get(video["video_url"])
        assert played.status_code == 200
        with av.open(io.BytesIO(played.content)) as container:
            stream = container.streams.video[0]
            size = (stream.codec_context.width, stream.codec_context.height)
            frame = next(container.decode(stream)).to_ndarray(format="rgb24")
            durations.add(container.duration)
        assert size == SIZES[video["platform"]]
        assert frame.shape[:2] == size[::-1] and np.asarray(frame).std() > 1
        download = studio.client.get(video["download_url"])
        assert download.status_code == 200 and download.content == played.content
        assert f"-{video['platform']}.mp4" in download.headers["content-disposition"]
        assert studio.client.get(video["poster_url"]).status_code == 200
        captions = studio.client.get(video["captions_url"])
        assert captions.status_code == 200 and "speaks" in captions.text
    assert len(durations) == 1  # one timeline
    job = history[0]["job_id"]
    assert studio.client.get(f"/api/renders/{job}/video/?platform=reels").status_code == 404
    gallery = [v for v in studio.client.get("/api/renders/").json() if v["job_id"] == job]
    assert [(v["platform"], v["video_url"]) for v in gallery] == [
        (v["platform"], v["video_url"]) for v in history]


def test_one_bar_covers_every_video() -> None:
    names = ["youtube", "shorts", "square"]
    percent, seen = 0.0, []
    for index, name in enumerate(names):
        for done in (0, 50, 100):
            update = Progress("export", done, 100, output=name, output_index=index, outputs=3)
            percent = overall_percent(update, percent)
            seen.append(percent)
    assert seen == sorted(seen) and len(set(seen)) == 7  # it moves on through every video
    assert seen[2] == pytest.approx(10 + 87 / 3) and seen[-1] == 97.0
    alone = overall_percent(Progress("export", 50, 100))
    assert alone == pytest.approx(10 + 87 / 2)  # one video: as before
