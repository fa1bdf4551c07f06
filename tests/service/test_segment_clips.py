"""The studio and a segment's visual: clips uploaded, checked and shown, clip options and
titles edited, cards that need no picture, and a render that reads the clip back."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from studiokit import Studio, png_bytes, wait_status, wav_bytes, zip_bundle

from media import read_counter, write_clip


def clip_bytes(tmp_path: Path, frames: int = 20, name: str = "clip.mp4") -> bytes:
    return write_clip(tmp_path / name, frames=frames, fps=Fraction(10), size=(160, 90),
                      sound_seconds=frames / 10).read_bytes()


def segment_of(studio: Studio, pid: int, number: int = 0) -> dict[str, object]:
    return dict(studio.client.get(f"/api/projects/{pid}/").json()["segment_list"][number])


def test_a_clip_upload_answers_its_length_size_and_rate(studio: Studio, tmp_path: Path) -> None:
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    answer = studio.upload(pid, sid, "video", clip_bytes(tmp_path), name="harbour.mp4")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["kind"] == "video"
    assert (body["width"], body["height"], body["fps"]) == (160, 90, 10.0)
    assert body["duration"] == 2.0
    segment = segment_of(studio, pid)
    video = segment["video"]
    assert isinstance(video, dict) and video["duration"] == 2.0 and video["fps"] == 10.0
    assert segment["image"] is None and segment["missing"] == [] and segment["clip"] is None
    assert studio.client.get(str(video["url"])).status_code == 200
    # the stage shows the clip's first and last frames as the render frames them
    for at, counter in (("start", 0), ("end", 19)):
        preview = studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png?at={at}")
        assert preview.status_code == 200
        grey = np.asarray(Image.open(io.BytesIO(preview.content)).convert("L"))
        assert read_counter(grey) == counter


def test_clip_options_and_titles_are_edited_and_checked(studio: Studio, tmp_path: Path) -> None:
    project = studio.create(segments=2)
    pid, (first, second) = project["id"], [s["id"] for s in project["segment_list"]]
    assert studio.upload(pid, first, "video", clip_bytes(tmp_path)).status_code == 200
    url = f"/api/projects/{pid}/segments/{first}/"
    edited = studio.client.patch(url, json={"clip": {"start": 0.5, "fit": "loop",
                                                     "crop": "blur"}})
    assert edited.status_code == 200, edited.text
    assert edited.json()["clip"] == {"start": 0.5, "fit": "loop", "crop": "blur"}
    for bad in ({"start": 2, "end": 1}, {"fit": "stretch"}, {"zoom": 5}, {"speed": 2}):
        refused = studio.client.patch(url, json={"clip": bad})
        assert refused.status_code == 400, bad
    assert segment_of(studio, pid)["clip"] == {"start": 0.5, "fit": "loop", "crop": "blur"}
    # a segment with neither picture nor clip is a title card: it needs no image
    assert segment_of(studio, pid, 1)["missing"] == ["image"]
    titled = studio.client.patch(f"/api/projects/{pid}/segments/{second}/",
                                 json={"title": "Part two"})
    assert titled.status_code == 200 and titled.json()["title"] == "Part two"
    assert titled.json()["missing"] == []
    card = studio.client.get(f"/api/projects/{pid}/segments/{second}/preview.png")
    assert card.status_code == 200
    picture = np.asarray(Image.open(io.BytesIO(card.content)).convert("RGB"))
    assert (picture.min(axis=2) > 200).sum() > 100  # the title, drawn large


def test_a_clip_that_does_not_play_keeps_the_previous_visual(studio: Studio,
                                                             tmp_path: Path) -> None:
    project = studio.create()
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert studio.upload(pid, sid, "video", clip_bytes(tmp_path)).status_code == 200
    before = segment_of(studio, pid)
    folder = studio.data_dir / "projects" / str(pid) / "video"
    files = sorted(folder.iterdir())
    data = clip_bytes(tmp_path, 40, "long.mp4")
    for bad in (b"", b"not a video at all\n" * 50, data[: len(data) * 2 // 3],
                png_bytes()):
        refused = studio.upload(pid, sid, "video", bad, name="clip.mp4")
        assert refused.status_code in (400, 413), refused.text
        assert segment_of(studio, pid)["video"] == before["video"]
        assert sorted(folder.iterdir()) == files
    # a still replaces the clip (a segment shows one visual), and its file goes
    assert studio.upload(pid, sid, "image", png_bytes()).status_code == 200
    after = segment_of(studio, pid)
    assert after["video"] is None and after["image"] is not None
    assert list(folder.iterdir()) == []


def test_a_studio_render_shows_the_trimmed_clip(studio: Studio, tmp_path: Path) -> None:
    project = studio.create(segments=1, settings={"preset": "ultrafast", "gap": 0.0,
                                                  "subtitles": {"enabled": False},
                                                  "transitions": {"crossfade": 0.0}},
                            fps=10, width=160, height=90)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert studio.upload(pid, sid, "video", clip_bytes(tmp_path, 30)).status_code == 200
    # an interlude: no text, no recording; it lasts its trimmed clip
    patched = studio.client.patch(f"/api/projects/{pid}/segments/{sid}/",
                                  json={"text": "", "clip": {"start": 1.0}})
    assert patched.status_code == 200 and patched.json()["missing"] == []
    assert studio.client.post(f"/api/projects/{pid}/render/", json={}).status_code == 202
    status = wait_status(studio.client, pid, timeout=120)
    assert status["status"] == "completed", status
    renders = studio.client.get(f"/api/projects/{pid}/renders/").json()
    video = studio.client.get(renders[0]["download_url"])
    path = tmp_path / "out.mp4"
    path.write_bytes(video.content)
    with av.open(str(path)) as container:
        shown = [read_counter(f.to_ndarray(format="gray")) for f in container.decode(video=0)]
    assert shown == list(range(10, 30))


def test_a_bundle_brings_its_clips_cards_and_clip_options(studio: Studio,
                                                          tmp_path: Path) -> None:
    manifest = {"title": "Bundled footage", "width": 320, "height": 180, "segments": [
        {"title": "Part one", "text": "It began at the harbour."},
        {"video": "clips/harbour.mp4", "audio": "audio/a.wav",
         "clip": {"start": 0.5, "fit": "loop", "volume": None}},
        {"video": "clips/harbour.mp4"}]}  # the same clip again: one file kept
    data = zip_bundle(manifest, {"story/clips/harbour.mp4": clip_bytes(tmp_path),
                                 "story/audio/a.wav": wav_bytes(tmp_path, 0.6)})
    response = studio.client.post("/api/projects/", files={
        "file": ("bundle.zip", data, "application/zip")})
    assert response.status_code == 201, response.text
    card, looped, interlude = response.json()["segment_list"]
    assert card["title"] == "Part one" and card["video"] is None and card["missing"] == []
    assert looped["clip"] == {"start": 0.5, "fit": "loop", "volume": None}
    assert looped["video"]["duration"] == 2.0 and interlude["video"]["fps"] == 10.0
    assert interlude["missing"] == []  # an interlude: no narration needed
    folder = studio.data_dir / "projects" / str(response.json()["id"]) / "video"
    assert len(list(folder.iterdir())) == 1


def test_a_clips_first_frame_is_served_whole_for_its_focus(studio: Studio,
                                                          tmp_path: Path) -> None:
    """The picture a clip's focus is chosen on: the first frame of its trim, uncropped
    (a 16:9 clip in a vertical project), at its own size when small."""
    project = studio.create(width=180, height=320)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    url = f"/api/projects/{pid}/segments/{sid}/clip-frame.png"
    assert studio.client.get(url).status_code == 404  # no clip yet
    assert studio.upload(pid, sid, "video", clip_bytes(tmp_path)).status_code == 200
    first = studio.client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(first.content))
    assert picture.size == (160, 90)
    assert read_counter(np.asarray(picture.convert("L"))) == 0
    # Trimmed to start at 0.7 s: the frame there (10 fps).
    trimmed = studio.client.patch(f"/api/projects/{pid}/segments/{sid}/",
                                  json={"clip": {"start": 0.7}})
    assert trimmed.status_code == 200, trimmed.text
    later = Image.open(io.BytesIO(studio.client.get(url).content))
    assert read_counter(np.asarray(later.convert("L"))) == 7
    # Its focus is set as a still's is, and the video frames the clip around it.
    left = studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png?at=start")
    focused = studio.client.patch(f"/api/projects/{pid}/segments/{sid}/",
                                  json={"focus": [0.95, 0.5]})
    assert focused.status_code == 200 and focused.json()["focus"] == [0.95, 0.5]
    right = studio.client.get(f"/api/projects/{pid}/segments/{sid}/preview.png?at=start")
    shown = [np.asarray(Image.open(io.BytesIO(r.content)).convert("L"), dtype=np.int16)
             for r in (left, right)]
    assert np.abs(shown[0] - shown[1]).mean() > 5  # another part of the frame is kept
    # A trim that starts past the clip's end: a 400 naming the segment, not the file's
    # place in the studio's data folder.
    past = studio.client.patch(f"/api/projects/{pid}/segments/{sid}/",
                               json={"clip": {"start": 5.0}})
    assert past.status_code == 200, past.text
    for what in ("clip-frame.png", "filmstrip.png"):
        refused = studio.client.get(f"/api/projects/{pid}/segments/{sid}/{what}")
        assert refused.status_code == 400, refused.text
        detail = refused.json()["detail"]
        assert "segment 1: the clip's trim starts at 5 s, after its end (2 s)" in detail
        assert str(studio.data_dir) not in detail and "/" not in detail
