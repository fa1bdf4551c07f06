"""Any moment of the video, drawn: ``GET /api/projects/{id}/frame.jpg?t=`` against a real
render of the same project, decoded frame by frame."""

from __future__ import annotations

import io
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from studiokit import Studio, png_bytes, zip_bundle

from storyreel import load_project, render
from storyreel.demo import write_speechlike_wav
from storyreel.frames.still import yuv420_to_rgb
from storyreel.media.encoder import plane_views
from storyreel.render.moment import Timeline, plan_moments

WIDTH, HEIGHT, FPS = 320, 180, 25
TEXTS = ["The river bends under an old stone bridge.",
         "Lanterns glow along the quiet harbour wall.",
         "Morning light finds the empty market square."]
HIGHLIGHT = (255, 0, 0)


def _still(seed: int) -> bytes:
    """A smooth two-way gradient with a few soft blobs: motion shows, JPEG keeps it well."""
    yy, xx = np.mgrid[0:360, 0:640].astype(np.float32)
    rng = np.random.default_rng(seed)
    rgb = np.stack([xx / 640 * 200 + 30, yy / 360 * 180 + 40,
                    (xx + yy) / 1000 * 150 + 50], axis=2)
    for _ in range(5):
        cx, cy, r = rng.uniform(60, 580), rng.uniform(40, 320), rng.uniform(25, 60)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[:, :, None]
        rgb = rgb * (1 - blob) + blob * rng.uniform(0, 255, 3)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _story_files(folder: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A three-segment story: stills with Ken Burns motion (the first around its focus),
    narrations, crossfades, word captions in red and a logo."""
    files: dict[str, bytes] = {}
    segments = []
    for number, text in enumerate(TEXTS, start=1):
        wav = folder / f"n{number}.wav"
        write_speechlike_wav(wav, 2.0, seed=number)
        files[f"story/audio/{number}.wav"] = wav.read_bytes()
        files[f"story/images/{number}.png"] = _still(number)
        segments.append({"image": f"images/{number}.png", "audio": f"audio/{number}.wav",
                         "text": text, **({"focus": [0.25, 0.3]} if number == 1 else {})})
    files["story/logo.png"] = png_bytes((64, 32), (250, 250, 250))
    manifest = {
        "title": "Harbour", "width": WIDTH, "height": HEIGHT, "fps": FPS,
        "settings": {"preset": "ultrafast", "video_bitrate": 6_000_000,
                     "transitions": {"crossfade": 0.6},
                     "ken_burns": {"zoom": 1.3},
                     "subtitles": {"style": "word", "highlight_color": "#FF0000",
                                   "size": 0.08},
                     "logo": {"path": "logo.png", "scale": 0.15},
                     "loudness": {"enabled": False}},
        "segments": segments,
    }
    return manifest, files


@pytest.fixture
def harbour(studio: Studio, tmp_path: Path) -> tuple[int, Path]:
    """The story imported into the studio, and the same story on disk."""
    manifest, files = _story_files(tmp_path)
    response = studio.client.post("/api/projects/", content=zip_bundle(manifest, files),
                                  headers={"content-type": "application/zip"})
    assert response.status_code == 201, response.text
    pid = int(response.json()["id"])
    listed = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"]
    assert [s.get("focus") for s in listed] == [[0.25, 0.3], None, None]
    disk = tmp_path / "disk"
    for name, data in files.items():
        target = disk / name.removeprefix("story/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (disk / "story.json").write_text(json.dumps(manifest), encoding="utf-8")
    return pid, disk / "story.json"


def _decoded_frames(path: Path) -> list[NDArray[np.uint8]]:
    """Every frame of a video, decoded and turned to RGB as the engine turns its frames."""
    with av.open(str(path)) as container:
        return [yuv420_to_rgb(*plane_views(frame.reformat(format="yuv420p")))
                for frame in container.decode(video=0)]


def _psnr(a: NDArray[np.uint8], b: NDArray[np.uint8]) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def _get(studio: Studio, pid: int, t: str, **params: Any) -> Any:
    return studio.client.get(f"/api/projects/{pid}/frame.jpg", params={"t": t, **params})


def _jpeg(response: Any) -> NDArray[np.uint8]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))


def _moments_of_interest(timeline: Timeline) -> dict[str, int]:
    """A Ken Burns mid-point, a frame inside a crossfade, and a frame of a caption whose
    third word is lit."""
    story = timeline.story
    first, second = story.plan.spans[0], story.plan.spans[1]
    middle = (first.first_frame + first.end_frame) // 2
    fading = second.visible_start + second.crossfade // 2
    assert second.crossfade >= 4 and second.visible_start < fading < second.first_frame
    caption = next(c for c in story.captions if c.segment == 2 and len(c.words) >= 3)
    word = caption.words[2]
    return {"ken burns": middle, "crossfade": fading,
            "caption": (word.start + word.end) // 2}


def test_a_frame_is_the_frame_of_the_render_at_that_time(studio: Studio,
                                                         harbour: tuple[int, Path],
                                                         tmp_path: Path) -> None:
    pid, manifest = harbour
    project = load_project(manifest)
    result = render(project, tmp_path / "out.mp4", cache=False)
    decoded = _decoded_frames(result.path)
    timeline = plan_moments(project)
    assert timeline.total_frames == result.frames == len(decoded)
    assert timeline.estimated == ()
    grid = studio.client.get(f"/api/projects/{pid}/frames/").json()
    assert (grid["frames"], grid["fps"], grid["estimated"]) == (result.frames, "25", [])
    # Each segment starts on the frame of its narration's first sample in the render.
    starts = [round(Fraction(s, 48_000) * FPS) for s in result.narration_starts]
    assert [s["frame"] for s in grid["segments"]][1:] == starts[1:]
    assert grid["segments"][0]["frame"] == 0
    scores = {}
    for what, index in _moments_of_interest(timeline).items():
        t = str(float(Fraction(index) / FPS))
        response = _get(studio, pid, t)
        assert response.headers["X-Storyreel-Frame"] == str(index)
        assert "X-Storyreel-Estimated" not in response.headers
        drawn = _jpeg(response)
        assert drawn.shape == (HEIGHT, WIDTH, 3)
        scores[what] = _psnr(drawn, decoded[index])
        # Not any frame: its neighbours a few frames off differ more.
        assert scores[what] > _psnr(drawn, decoded[max(0, index - 6)]) + 3, what
        if what == "caption":
            low = drawn[HEIGHT * 2 // 3:].astype(int)  # the caption's lines
            red = (low[:, :, 0] > 140) & (low[:, :, 1] < 70) & (low[:, :, 2] < 70)
            assert red.sum() > 40  # the word spoken at that moment, lit
    assert min(scores.values()) > 35, scores


def test_a_time_is_rounded_once_to_the_nearest_frame(studio: Studio,
                                                     harbour: tuple[int, Path]) -> None:
    pid, _ = harbour
    for t, index in (("0", 0), ("0.019", 0), ("0.02", 1), ("1.04", 26), ("1.059", 26),
                     ("1e-99999999999", 0)):
        response = _get(studio, pid, t)
        assert response.status_code == 200, (t, response.text)
        assert response.headers["X-Storyreel-Frame"] == str(index), t


HOSTILE = ["nan", "NaN", "sNaN", "inf", "-inf", "Infinity", "-1", "-0.001", "1e308", "-1e308",
           "abc", "", " ", "0x10", "1" * 40, "3 s", "1e999999999", "1,5", "\u0661"]


def test_a_time_that_is_not_a_moment_of_the_video_is_a_422(studio: Studio,
                                                           harbour: tuple[int, Path]) -> None:
    pid, _ = harbour
    for t in HOSTILE:
        response = _get(studio, pid, t)
        assert response.status_code == 422, (t, response.text)
        detail = response.json()["detail"]
        assert "number of seconds" in detail or "the video lasts 7.520 s" in detail, detail


def test_the_end_of_the_video_is_outside_and_its_last_frame_inside(
        studio: Studio, harbour: tuple[int, Path]) -> None:
    pid, manifest = harbour
    total = plan_moments(load_project(manifest)).total_frames
    end = Fraction(total, FPS)
    assert _get(studio, pid, str(float(end))).status_code == 422
    detail = _get(studio, pid, str(float(end) + 5)).json()["detail"]
    assert f"{float(end):.3f} s" in detail  # says how long the video is
    last = _get(studio, pid, str(float(end - Fraction(1, 1000))))
    assert last.headers["X-Storyreel-Frame"] == str(total - 1)


def test_the_width_can_be_chosen_within_bounds(studio: Studio,
                                               harbour: tuple[int, Path]) -> None:
    pid, _ = harbour
    assert _jpeg(_get(studio, pid, "1", w=160)).shape == (90, 160, 3)
    assert _jpeg(_get(studio, pid, "1", w=1280)).shape == (HEIGHT, WIDTH, 3)  # never larger
    assert _get(studio, pid, "1", w=8).status_code == 400
    assert _get(studio, pid, "1", w=99999).status_code == 400
    assert studio.client.get("/api/projects/999/frame.jpg?t=1").status_code == 404


def test_segments_not_spoken_yet_are_timed_from_their_words(studio: Studio) -> None:
    words = "one two three four five six seven eight nine ten"  # 10 words: 4 s at 2.5/s
    project = studio.create(segments=0, segments_list=None)
    pid = project["id"]
    for _ in range(2):
        studio.client.post(f"/api/projects/{pid}/segments/", json={"text": words})
    sid = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][0]["id"]
    assert studio.upload(pid, sid, "image", png_bytes(), "a.png").status_code == 200
    response = _get(studio, pid, "5")
    drawn = _jpeg(response)
    assert response.headers["X-Storyreel-Estimated"] == "1,2"
    assert response.headers["X-Storyreel-Frame"] == "125"
    # The second segment has no picture yet: neutral grey, under its caption.
    assert abs(float(np.median(drawn)) - 128) < 6
    past = _get(studio, pid, "30")
    assert past.status_code == 422
    lasts = float(past.json()["detail"].split("lasts ")[1].split(" s")[0])
    assert 8.6 <= lasts < 9.5  # two narrations of 4 s, each with its pause after it


def test_a_platform_frame_is_that_platforms_video_at_that_time(studio: Studio,
                                                              harbour: tuple[int, Path],
                                                              tmp_path: Path) -> None:
    # A render for several platforms gives each its shape at the project's shorter side
    # (shorts: 180x320 from 320x180), its safe area and caption size, on one timeline.
    pid, manifest = harbour
    shorts = load_project(manifest).for_platform("shorts")
    result = render(shorts, tmp_path / "shorts.mp4", cache=False)
    decoded = _decoded_frames(result.path)
    timeline = plan_moments(shorts)
    scores = {}
    for what, index in _moments_of_interest(timeline).items():
        response = _get(studio, pid, str(float(Fraction(index) / FPS)), platform="shorts")
        assert response.headers["X-Storyreel-Frame"] == str(index)
        drawn = _jpeg(response)
        assert drawn.shape == (WIDTH, HEIGHT, 3)  # standing up
        scores[what] = _psnr(drawn, decoded[index])
        assert scores[what] > _psnr(drawn, decoded[max(0, index - 6)]) + 3, what
    assert min(scores.values()) > 35, scores
    # The landscape video's frame at the same time is another picture.
    plain = _jpeg(_get(studio, pid, "1"))
    assert plain.shape == (HEIGHT, WIDTH, 3)
    assert _get(studio, pid, "1", platform="vine").status_code == 400


def test_the_grid_says_where_a_draft_starts_each_segment(studio: Studio,
                                                         tmp_path: Path) -> None:
    # Lengths whose frames a draft counts segment by segment differently from the final
    # video at 29.97 fps (where a draft starts them is checked against a decoded draft in
    # tests/render/test_draft_grid_moments.py).
    files: dict[str, bytes] = {}
    segments = []
    for number in range(1, 6):
        wav = tmp_path / f"n{number}.wav"
        write_speechlike_wav(wav, 0.517, seed=number)
        files[f"story/audio/{number}.wav"] = wav.read_bytes()
        files[f"story/images/{number}.png"] = png_bytes((64, 36), (40 * number, 90, 160))
        segments.append({"image": f"images/{number}.png", "audio": f"audio/{number}.wav",
                         "text": "Words."})
    manifest = {"title": "Grid", "width": 128, "height": 72, "fps": "30000/1001",
                "settings": {"gap": 0.1, "transitions": {"crossfade": 0.0}},
                "segments": segments}
    response = studio.client.post("/api/projects/", content=zip_bundle(manifest, files),
                                  headers={"content-type": "application/zip"})
    assert response.status_code == 201, response.text
    grid = studio.client.get(f"/api/projects/{response.json()['id']}/frames/").json()
    disk = tmp_path / "disk"
    for name, data in files.items():
        (disk / name.removeprefix("story/")).parent.mkdir(parents=True, exist_ok=True)
        (disk / name.removeprefix("story/")).write_bytes(data)
    (disk / "story.json").write_text(json.dumps(manifest), encoding="utf-8")
    timeline = plan_moments(load_project(disk / "story.json"))
    story, draft = timeline.story, timeline.draft_plan
    spans = [story.item_span_of_segment(i) for i in range(5)]
    final = [float(story.plan.seconds(story.plan.spans[s].first_frame)) for s in spans]
    drafted = [float(draft.seconds(draft.spans[s].first_frame)) for s in spans]
    assert final != drafted
    assert [s["seconds"] for s in grid["segments"]] == final
    assert [s["draft_seconds"] for s in grid["segments"]] == drafted
