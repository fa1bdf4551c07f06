"""Long narrations are streamed: memory does not grow with their length, and a file that
declares an absurd length is refused before it is decoded."""

from __future__ import annotations

import tracemalloc
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import storyreel
from media import write_audio_av, write_project
from storyreel.audio.mix import Mix
from storyreel.audio.track import Placement
from storyreel.errors import MediaError
from storyreel.media.audio import SAMPLE_RATE, AudioReader
from storyreel.render import analysis as analysis_module
from storyreel.render.analysis import analyse_project
from storyreel.service.errors import UploadRejected
from storyreel.service.limits import Limits
from storyreel.service.uploads import check_audio

MINUTES = 10
MB = 1 << 20


def _long_narration(path: Path, minutes: int = MINUTES) -> Path:
    """A long, small file: 8 kHz mono of a quiet hum with pauses (10 MB for 10 minutes)."""
    rate = 8000
    second = (np.sin(np.arange(rate) * 2 * np.pi * 220 / rate) * 3000).astype("<i2")
    second[rate // 2:] = 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(second.tobytes() * (minutes * 60))
    return path


def _peak(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def narration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _long_narration(tmp_path_factory.mktemp("long") / "long.wav")


def test_analysis_streams_a_long_narration(narration: Path, tmp_path: Path) -> None:
    manifest = write_project(tmp_path, [0.5], settings={"subtitles": {"enabled": True}})
    project = storyreel.load_project(manifest)
    analyse_project(project, speech=True)  # loads what analysis imports before measuring
    data = project.model_dump(mode="json")
    data["segments"][0]["audio"] = str(narration)
    project = storyreel.Project.model_validate(data)
    found: list[object] = []
    # Held whole at 48 kHz stereo, the narration alone would take 230 MB.
    peak = _peak(lambda: found.append(analyse_project(project, speech=True)))
    analysis = found[0]
    assert isinstance(analysis, type(analyse_project(project, speech=False)))
    assert analysis.problems == []
    assert analysis.narration_samples == [MINUTES * 60 * SAMPLE_RATE]
    assert len(analysis.speech[0]) > MINUTES * 50  # the hum is heard every second
    # At most the first two minutes are held (in mono) for forced alignment, dropped once
    # the narration turns out longer: bounded whatever the length.
    assert peak < 60 * MB, f"analysis peaked at {peak / MB:.0f} MB"


def test_the_mix_streams_a_long_narration(narration: Path) -> None:
    total = MINUTES * 60 * SAMPLE_RATE
    blocks = 0

    def play() -> None:
        nonlocal blocks
        placements = [Placement(0, 0, total)]
        with Mix(placements, lambda key: AudioReader(narration), total) as mix:
            position = 0
            while position < total:
                position = min(position + SAMPLE_RATE, total)
                block = mix.read_until(position)
                assert block.shape[0] == 2 and np.isfinite(block).all()
                blocks += 1

    peak = _peak(play)
    assert blocks == MINUTES * 60
    assert peak < 40 * MB, f"the mix peaked at {peak / MB:.0f} MB"


def test_uploads_are_checked_in_constant_memory(narration: Path) -> None:
    found: list[object] = []
    peak = _peak(lambda: found.append(check_audio(narration, Limits())))
    assert len(found) == 1 and getattr(found[0], "samples", 0) == MINUTES * 60 * SAMPLE_RATE
    assert peak < 20 * MB


def _lying_flac(path: Path, declared_hours: float) -> Path:
    """Two seconds of FLAC whose header (STREAMINFO) declares ``declared_hours`` of sound."""
    write_audio_av(path, 2.0, codec="flac", rate=8000, channels=1)
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    info = 8  # the STREAMINFO block follows the signature and its 4-byte header
    packed = int.from_bytes(data[info + 13 : info + 18], "big")  # ends with 36 bits of count
    total = int(declared_hours * 3600 * 8000)
    data[info + 13 : info + 18] = ((packed & ~((1 << 36) - 1)) | total).to_bytes(5, "big")
    path.write_bytes(bytes(data))
    return path


def test_declared_length_is_refused_before_decoding(tmp_path: Path) -> None:
    liar = _lying_flac(tmp_path / "liar.flac", declared_hours=10)
    with pytest.raises(MediaError, match="longer than") as caught:
        AudioReader(liar, max_seconds=3600)
    assert caught.value.path == liar
    with pytest.raises(UploadRejected, match="longer than"):
        check_audio(liar, Limits(audio_seconds=3600))


def test_length_is_counted_too_when_the_container_does_not_say(tmp_path: Path) -> None:
    narration = _long_narration(tmp_path / "one-minute.wav", 1)
    with AudioReader(narration, max_seconds=None) as reader:
        assert reader.declared_seconds == pytest.approx(60)
    with AudioReader(narration, max_seconds=None) as reader:
        reader.max_seconds = 30  # as if the container had stated nothing
        with pytest.raises(MediaError, match="longer than"):
            for _ in reader.blocks():
                pass
        assert reader.samples_read <= 31 * SAMPLE_RATE


def test_only_short_narrations_are_held_for_alignment(narration: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = write_project(tmp_path, [0.5], settings={"subtitles": {"enabled": True}})
    data = storyreel.load_project(manifest).model_dump(mode="json")
    data["segments"][0]["audio"] = str(narration)
    data["segments"][0]["text"] = "A hum that goes on and on."
    project = storyreel.Project.model_validate(data)
    monkeypatch.setattr(analysis_module, "_ALIGN_SECONDS", 60)  # the narration lasts ten minutes
    aligned: list[int] = []
    import storyreel.audio.align as align_module  # imported by the analysis where it aligns

    monkeypatch.setattr(align_module, "align_narration",
                        lambda text, mono, *rest: aligned.append(len(mono)))
    analysis = analyse_project(project, speech=True)
    assert aligned == []  # never held whole
    assert analysis.narration_samples == [MINUTES * 60 * SAMPLE_RATE]
    assert len(analysis.words) == 1 and analysis.words[0].source == "estimated"
    assert any("not aligned" in warning for warning in analysis.warnings)
