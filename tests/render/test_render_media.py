"""Real renders of awkward inputs: every still mode and size, every narration format, unicode,
StoryFlow exports, and the full default settings."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from mp4probe import classify_frames, expected_frames, probe

import storyreel
from media import (
    PALETTE,
    all_files,
    write_audio_av,
    write_image,
    write_manifest,
    write_solid,
    write_tone_wav,
    write_wav,
)

PLAIN = {"preset": "ultrafast", "gap": 0.0, "transitions": {"crossfade": 0.0},
         "subtitles": {"enabled": False, "sidecar": False}, "loudness": {"enabled": False}}

STILLS = [
    ("rgba", ".png", (97, 61)),
    ("l", ".png", (33, 200)),
    ("cmyk", ".jpg", (300, 17)),
    ("gray16", ".png", (51, 51)),
    ("rgb48", ".png", (7, 3)),
    ("exif6", ".jpg", (40, 90)),
    ("p-transparent", ".png", (1, 1)),
    ("webp", ".webp", (1001, 999)),
    ("la", ".png", (64, 2)),
    ("progressive", ".jpg", (333, 187)),
]


def test_every_still_mode_and_odd_size_renders(project_dir: Path, out_dir: Path) -> None:
    colours = [PALETTE[i % 6] for i in range(len(STILLS))]
    grey = {"l", "gray16", "la", "p-transparent"}
    segments = []
    for i, (kind, suffix, size) in enumerate(STILLS):
        colour = (128, 128, 128) if kind in grey else colours[i]
        image = write_image(project_dir / f"s{i}{suffix}", size, kind, colour)
        audio = write_tone_wav(project_dir / f"s{i}.wav", 0.2)
        segments.append({"image": image.name, "audio": audio.name})
    manifest = write_manifest(project_dir, segments, width=128, height=72, fps=30,
                              settings=PLAIN)
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "stills.mp4")
    assert result.frames == 6 * len(STILLS)
    reference = [(128, 128, 128) if kind in grey else colours[i]
                 for i, (kind, _, _) in enumerate(STILLS)]
    # Transparent pixels composite onto black: that still is black, not grey.
    reference[6] = (0, 0, 0)
    palette = [*dict.fromkeys(reference)]
    found = classify_frames(result.path, palette)
    expected = [palette.index(reference[i]) for i in range(len(STILLS)) for _ in range(6)]
    assert found == expected


def test_every_narration_format_renders_in_one_project(project_dir: Path, out_dir: Path) -> None:
    folder = project_dir
    narrations = [
        write_tone_wav(folder / "a.wav", samples=4_000, rate=8_000, bits=16, channels=1),
        write_tone_wav(folder / "b.wav", samples=48_000, rate=96_000, bits=24, channels=2),
        write_tone_wav(folder / "c.wav", samples=11_025, rate=22_050, bits=32, channels=1),
        write_tone_wav(folder / "d.wav", samples=17_640, rate=44_100, float_format=True,
                       channels=2),
        write_audio_av(folder / "e.flac", 0.5, codec="flac", rate=44_100, channels=2),
        write_audio_av(folder / "f.mp3", 0.5, codec="libmp3lame", rate=44_100, channels=1),
        write_audio_av(folder / "g.ogg", 0.5, codec="libopus", rate=48_000, channels=2),
        write_wav(folder / "h.wav", np.full((3_200, 2), 0.1), 32_000, 16),
    ]
    segments = []
    for i, audio in enumerate(narrations):
        image = write_solid(folder / f"{i}.png", (64, 36), PALETTE[i])
        segments.append({"image": image.name, "audio": audio.name})
    manifest = write_manifest(folder, segments, width=128, height=72, fps=25,
                              settings={**PLAIN, "gap": 0.1})
    project = storyreel.load_project(manifest)
    analysis = storyreel.analyse_project(project)
    assert analysis.problems == []
    exact = [24_000, 24_000, 24_000, 19_200]
    assert analysis.narration_samples[:4] == pytest.approx(exact, abs=2)
    assert analysis.narration_samples[4:7] == pytest.approx([24_000] * 3, abs=2_400)
    assert analysis.narration_samples[7] == pytest.approx(4_800, abs=2)
    result = storyreel.render(project, out_dir / "voices.mp4")
    info = probe(result.path)
    ideal = sum(analysis.narration_samples) + 4_800 * len(narrations)
    assert info.frames == expected_frames(ideal, Fraction(25))
    assert abs(info.audio_duration - info.video_duration) <= Fraction(1, 25)
    assert sorted(set(classify_frames(result.path, list(PALETTE)))) == list(range(8))


def test_unicode_title_paths_and_text(tmp_path: Path) -> None:
    folder = tmp_path / "Histoires d'été — 物語 🌅"
    image = write_solid(folder / "images" / "première image ñ.png", (80, 45), PALETTE[0])
    audio = write_tone_wav(folder / "voix" / "narración 01 ü.wav", 0.3)
    text = "Il était une fois… 🐉 — «guillemets», 中文, עברית, Ελληνικά"
    manifest = write_manifest(folder, [{"image": "images/première image ñ.png",
                                        "audio": "voix/narración 01 ü.wav", "text": text}],
                              name="récit ✨.json", title="Ünïcødé — 物語 🌅", width=128,
                              height=72, settings=PLAIN)
    project = storyreel.load_project(manifest)
    assert project.segments[0].image == image.resolve()
    assert project.segments[0].audio == audio.resolve()
    result = storyreel.render(project, folder / "sortie" / "vidéo finale 🎬.mp4")
    assert result.path.name == "vidéo finale 🎬.mp4"
    assert probe(result.path).frames == 9
    default = storyreel.render(project)
    assert default.path.parent == folder.resolve() / "output"
    assert default.path.suffix == ".mp4"
    assert default.path.stem and default.path.stem.isascii()


def test_storyflow_export_renders_in_sequence_order(project_dir: Path, out_dir: Path) -> None:
    segments = []
    for i, seq in enumerate([2, 0, 1]):
        image = write_solid(project_dir / "media" / f"img{i}.png", (160, 90), PALETTE[seq])
        audio = write_tone_wav(project_dir / "media" / f"aud{i}.wav", 0.2 + 0.1 * seq)
        segments.append({
            "id": 100 + i, "sequence_index": seq, "text_content": f"Scene {seq}",
            "image_file": f"media/{image.name}", "audio_file": f"media/{audio.name}",
            "image_prompt": "a cinematic painting of an ancient city",
        })
    manifest = write_manifest(project_dir, segments, title="Aurelia", resolution_width=128,
                              resolution_height=72, framerate="30000/1001", settings=PLAIN)
    project = storyreel.load_project(manifest)
    result = storyreel.render(project, out_dir / "storyflow.mp4")
    fps = Fraction(30000, 1001)
    info = probe(result.path)
    assert (info.width, info.height, info.average_rate) == (128, 72, fps)
    bounds = [0]
    ideal = 0
    for seconds in (0.2, 0.3, 0.4):
        ideal += round(seconds * 48_000)
        bounds.append(math.floor(Fraction(ideal) * fps / 48_000 + Fraction(1, 2)))
    bounds[-1] = expected_frames(ideal, fps)
    expected = [k for k in range(3) for _ in range(bounds[k + 1] - bounds[k])]
    assert classify_frames(result.path, list(PALETTE[:3])) == expected


def test_full_default_settings_render(project_dir: Path, out_dir: Path) -> None:
    # Everything on as a user gets it (crossfades, captions, loudness...), at a tiny size.
    segments = []
    for i in range(3):
        image = write_solid(project_dir / f"{i}.jpg", (320, 180), PALETTE[i])
        audio = write_tone_wav(project_dir / f"{i}.wav", 0.5 + 0.2 * i, rate=44_100)
        segments.append({"image": image.name, "audio": audio.name,
                         "text": f"Segment number {i + 1} tells its part of the story."})
    manifest = write_manifest(project_dir, segments, title="Defaults", width=160, height=90,
                              settings={"preset": "ultrafast"})
    project = storyreel.load_project(manifest)
    result = storyreel.render(project, out_dir / "story.mp4")
    info = probe(result.path)
    assert (info.video_codec, info.profile, info.pix_fmt) == ("h264", "High", "yuv420p")
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("aac", 48_000, 2)
    assert info.boxes.index("moov") < info.boxes.index("mdat")
    assert info.frames == result.frames
    assert abs(info.audio_duration - info.video_duration) <= 1 / project.fps
    narration = sum(0.5 + 0.2 * i for i in range(3))
    assert float(info.video_duration) >= narration
    assert result.duration == pytest.approx(float(info.video_duration), abs=1e-3)
    assert "story.mp4" in all_files(out_dir)
    assert not [n for n in all_files(out_dir) if n.startswith(".")], "temp files left"
