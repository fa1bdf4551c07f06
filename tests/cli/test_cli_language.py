"""``--language`` on the command line: the language of the text, as ``settings.language``
would set it (the voice speaks it too); a bad tag is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from media import write_manifest, write_solid
from storyreel.cli import main
from storyreel.timeline.captions import caption_words, mark_words
from storyreel.words import WORDS_PER_SECOND

TEXT = "Hola, buenos días. Nadie durmió aquella noche."


def _project(folder: Path, **settings: Any) -> Path:
    write_solid(folder / "a.png", (128, 72), (40, 70, 90))
    return write_manifest(folder, [{"image": "a.png", "text": TEXT}], width=128, height=72,
                          fps=25, settings={"preset": "ultrafast",
                                            "loudness": {"enabled": False}, **settings})


def _render(folder: Path, *flags: str, **settings: Any) -> tuple[list[Any], np.ndarray]:
    manifest = _project(folder, **settings)
    out = folder / "out.mp4"
    assert main(["render", str(manifest), "-o", str(out), "-q", "--words-json",
                 *flags]) == 0
    words = json.loads((folder / "out.words.json").read_text(encoding="utf-8"))["words"]
    with av.open(str(out)) as container:
        sound = np.concatenate([f.to_ndarray().reshape(-1)
                                for f in container.decode(container.streams.audio[0])])
    return [(w["text"], w["start"], w["end"]) for w in words], sound


def test_the_flag_speaks_and_times_the_text_as_the_manifest_setting_would(
        tmp_path: Path) -> None:
    flagged = _render(tmp_path / "flag", "--language", "ES")
    written = _render(tmp_path / "manifest", language="es")
    english = _render(tmp_path / "default")
    assert flagged[0] == written[0]  # the same voice, the same word times
    assert flagged[1].shape == written[1].shape and np.allclose(flagged[1], written[1],
                                                                  atol=1e-3)
    assert flagged[0] != english[0]  # and not the English voice
    # the flag wins over the manifest's own language
    over = _render(tmp_path / "over", "--language", "es", language="de")
    assert over[0] == written[0]


@pytest.mark.parametrize("tag", ["klingon", "en_", "x" * 40])
def test_a_bad_tag_exits_2_in_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], tag: str) -> None:
    manifest = _project(tmp_path)
    out = tmp_path / "out.mp4"
    assert main(["render", str(manifest), "-o", str(out), "--language", tag]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "settings.language" in err
    assert not out.exists()


def test_validate_estimates_unspoken_segments_by_their_words(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Twenty Chinese words without a space: counted by spaces they would be 0.4 s.
    chinese = "今天我们去山里旅行。早上的阳光照在河面上，鸟儿在树上唱歌。" * 2  # noqa: RUF001
    write_solid(tmp_path / "a.png", (128, 72), (40, 70, 90))
    manifest = write_manifest(tmp_path, [{"image": "a.png", "text": chinese}], width=128,
                              height=72, settings={"language": "zh"})
    assert main(["validate", str(manifest)]) == 0
    out = capsys.readouterr().out
    words = len(caption_words(mark_words(chinese, "zh")))
    assert words >= 20
    assert f"1 to be spoken from their text, about {words / WORDS_PER_SECOND:.0f} s" in out
