"""Word-level caption styles and platform safe areas, read back from rendered MP4s."""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from numpy.typing import NDArray

import storyreel
from media import SegmentSpec, bursts, write_project, write_solid, write_wav
from storyreel.model.platforms import PLATFORMS

RATE = 48_000
FPS = 25
GREY = (110, 110, 110)
RED = (255, 0, 0)
# Four equally long "words": tone bursts with known starts, silence between them.
WORDS = "alpha bravo delta kilos"
BURSTS = [(0.20, 0.60), (0.90, 1.30), (1.60, 2.00), (2.30, 2.70)]
LENGTH = 3.0


def render(folder: Path, text: str, subtitles: dict[str, Any], **fields: Any
           ) -> tuple[storyreel.Project, storyreel.RenderResult]:
    spec = SegmentSpec(seconds=LENGTH, colour=GREY, text=text, image_size=(64, 64),
                       extra={"direction": "none"})
    settings = {"subtitles": {"enabled": True, "sidecar": True, **subtitles}, "gap": 0.2,
                **fields.pop("settings", {})}
    manifest = write_project(folder, [spec], settings=settings, **{"fps": FPS, **fields})
    write_wav(folder / "audio" / "001.wav", bursts(BURSTS, LENGTH, amplitude=0.4), RATE)
    project = storyreel.load_project(manifest)
    return project, storyreel.render(project, folder / "out" / "story.mp4")


def decode_rgb(path: Path) -> list[NDArray[np.int16]]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def red_mask(rgb: NDArray[np.int16]) -> NDArray[np.bool_]:
    return (rgb[:, :, 0] > 170) & (rgb[:, :, 1] < 100) & (rgb[:, :, 2] < 100)


@pytest.fixture(scope="module")
def word_render(tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[storyreel.Project, storyreel.RenderResult]:
    folder = tmp_path_factory.mktemp("word-style")
    return render(folder, WORDS, {"style": "word", "highlight_color": "#FF0000",
                                  "size": 0.12, "words_json": True}, width=480, height=180)


def test_sidecars_carry_the_word_times(
        word_render: tuple[storyreel.Project, storyreel.RenderResult]) -> None:
    _, result = word_render
    vtt = result.path.with_suffix(".vtt").read_text(encoding="utf-8")
    stamps = [float(m[0]) * 3600 + float(m[1]) * 60 + float(m[2])
              for m in re.findall(r"<(\d\d):(\d\d):(\d\d\.\d\d\d)>", vtt)]
    assert len(stamps) == 3  # every word after the cue's first
    for stamp, (start, _) in zip(stamps, BURSTS[1:], strict=True):
        assert abs(stamp - start) < 0.08, (stamp, start)
    srt = result.path.with_suffix(".srt").read_text(encoding="utf-8")
    assert "<" not in srt and WORDS in srt
    data = json.loads(result.path.with_suffix(".words.json").read_text(encoding="utf-8"))
    assert [w["text"] for w in data["words"]] == WORDS.split()
    for word, (start, end) in zip(data["words"], BURSTS, strict=True):
        assert abs(word["start"] - start) < 0.08 and abs(word["end"] - end) < 0.12, word
    assert sorted(p.name for p in result.sidecars) == [
        "story.srt", "story.vtt", "story.words.json"]


def word_spans(rgb: NDArray[np.int16]) -> list[tuple[int, int]]:
    """Column ranges of the caption's words: letters (white or red) split at the spaces."""
    letters = (rgb.min(axis=2) > 190) | red_mask(rgb)
    columns = np.flatnonzero(letters.sum(axis=0) >= 2)
    if columns.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(columns) > 8)  # a space is wider than a letter gap
    starts = [int(columns[0]), *(int(columns[i + 1]) for i in breaks)]
    ends = [*(int(columns[i]) + 1 for i in breaks), int(columns[-1]) + 1]
    return list(zip(starts, ends, strict=True))


def lit_words(rgb: NDArray[np.int16]) -> list[int]:
    """How many highlighted pixels each word of the caption holds, left to right."""
    red = red_mask(rgb).sum(axis=0)
    return [int(red[a:b].sum()) for a, b in word_spans(rgb)]


def test_the_spoken_word_is_highlighted_while_it_is_spoken(
        word_render: tuple[storyreel.Project, storyreel.RenderResult]) -> None:
    _, result = word_render
    frames = decode_rgb(result.path)
    for word, (start, end) in enumerate(BURSTS):
        # Frames well inside the word (timings are found in the sound: allow 60 ms).
        spoken = range(math.ceil((start + 0.06) * FPS), math.floor((end - 0.06) * FPS))
        assert len(spoken) >= 5
        for index in spoken:
            lit = lit_words(frames[index])
            assert len(lit) == 4, f"frame {index}: {len(lit)} words found, not 4"
            others = sum(lit) - lit[word]
            assert lit[word] > 30 and others < 3, f"frame {index}: word {word} not lit: {lit}"


def test_no_highlight_before_the_first_word_and_the_layout_never_moves(
        word_render: tuple[storyreel.Project, storyreel.RenderResult]) -> None:
    _, result = word_render
    frames = decode_rgb(result.path)
    first_word = math.floor(BURSTS[0][0] * FPS) - 2
    assert not red_mask(frames[first_word]).any()
    # The black outline (drawn the same around every word) stays put in every frame.
    shown = [i for i, rgb in enumerate(frames) if red_mask(rgb).sum() > 30]
    assert len(shown) > 40
    ink = [rgb.max(axis=2) < 40 for rgb in (frames[i] for i in shown)]
    columns = [np.flatnonzero(mask.any(axis=0)) for mask in ink]
    rows = [np.flatnonzero(mask.any(axis=1)) for mask in ink]
    assert len(columns) == len(rows) == len(shown)
    for edges in ([c[0] for c in columns], [c[-1] for c in columns], [r[0] for r in rows],
                  [r[-1] for r in rows]):
        assert max(edges) - min(edges) <= 1, "the caption moved (beyond the codec's 1 px)"


def test_karaoke_fills_the_words_spoken_so_far(tmp_path: Path) -> None:
    _, result = render(tmp_path, WORDS, {"style": "karaoke", "highlight_color": "#FF0000",
                                         "size": 0.12}, width=480, height=180)
    frames = decode_rgb(result.path)
    for word, (start, end) in enumerate(BURSTS):
        lit = lit_words(frames[round((start + end) / 2 * FPS)])
        assert len(lit) == 4, lit
        assert all(count > 30 for count in lit[: word + 1]), (word, lit)
        assert all(count < 3 for count in lit[word + 1 :]), (word, lit)


def test_pop_shows_a_few_words_at_a_time_and_scales_them_in(tmp_path: Path) -> None:
    text = "alpha bravo, delta kilos"
    _, result = render(tmp_path, text, {"style": "pop", "pop_words": 2, "size": 0.1},
                       width=320, height=180)
    frames = decode_rgb(result.path)

    def ink_width(rgb: NDArray[np.int16]) -> int:
        cols = np.flatnonzero((rgb.min(axis=2) > 200).any(axis=0))
        return int(cols[-1] - cols[0]) if cols.size else 0

    first = ink_width(frames[round(1.2 * FPS)])  # "alpha bravo," on screen
    second = ink_width(frames[round(2.5 * FPS)])  # "delta kilos"
    assert first > 0 and second > 0
    # A group starts smaller and grows to its size over its first frames.
    group_start = next(i for i in range(round(1.4 * FPS), round(2.3 * FPS))
                       if ink_width(frames[i]) != first)
    growing = [ink_width(frames[group_start + k]) for k in range(4)]
    assert growing[0] < growing[-1] and growing == sorted(growing), growing
    phrase_frame = decode_rgb(render(tmp_path / "phrase", text, {"size": 0.1},
                                     width=320, height=180)[1].path)[round(1.2 * FPS)]
    assert first < ink_width(phrase_frame) * 0.75


@pytest.mark.parametrize("platform", ["shorts", "tiktok", "reels"])
def test_captions_and_logo_stay_out_of_the_platform_ui(tmp_path: Path, platform: str) -> None:
    logo = write_solid(tmp_path / "logo.png", (40, 20), (0, 0, 255))
    text = "Captions on a tall video stay clear of the buttons and the bars below them."
    _, result = render(tmp_path, text, {"style": "word", "highlight_color": "#FF0000",
                                        "box": True, "size": 0.07, "max_words": 14},
                       width=270, height=480,
                       settings={"platform": platform,
                                 "logo": {"path": str(logo), "corner": "top-right",
                                          "margin": 0.0, "opacity": 1.0}})
    frames = decode_rgb(result.path)
    left, top, right, bottom = PLATFORMS[platform].safe
    allowed = np.zeros((480, 270), bool)
    allowed[math.floor(480 * top): math.ceil(480 * (1 - bottom)),
            math.floor(270 * left): math.ceil(270 * (1 - right))] = True
    drawn = logo = 0
    for rgb in frames:
        changed = np.abs(rgb - np.array(GREY, np.int16)).max(axis=2) > 40
        drawn += int(changed.sum())
        logo += int(((rgb[:, :, 2] > 200) & (rgb[:, :, 0] < 60)).sum())
        assert not (changed & ~allowed).any(), f"{platform}: pixels drawn in the UI zones"
    assert drawn > 1000 and logo > 300 * len(frames)  # captions and the (blue) logo


def test_a_preset_sets_size_rate_and_bitrate_and_what_is_set_wins() -> None:
    base = {"segments": [{"image": "a.png", "audio": "a.wav"}]}
    shorts = storyreel.Project.model_validate({**base, "settings": {"platform": "shorts"}})
    assert (shorts.width, shorts.height, shorts.fps) == (1080, 1920, Fraction(30))
    assert shorts.settings.safe_insets == PLATFORMS["shorts"].safe
    assert shorts.settings.subtitles.size == PLATFORMS["shorts"].caption_size > 0.055
    own = storyreel.Project.model_validate(
        {**base, "width": 720, "fps": 25,
         "settings": {"platform": "shorts", "video_bitrate": 2_000_000,
                      "subtitles": {"size": 0.05}, "safe_area": {"bottom": 0.3}}})
    assert (own.width, own.height, own.fps) == (720, 1920, Fraction(25))
    assert own.settings.video_bitrate == 2_000_000 and own.settings.subtitles.size == 0.05
    assert own.settings.safe_insets == (0.05, 0.05, 0.05, 0.3)
