"""The fallback voice: espeak-ng speaks the languages no other installed voice speaks."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

import storyreel
from media import write_manifest, write_solid
from storyreel.cli import main
from storyreel.errors import NothingToSay, VoiceError
from storyreel.model.project import Voice
from storyreel.voice.engines import open_engine, spoken_by
from storyreel.voice.espeak import AUTO, EspeakEngine
from storyreel.voice.normalize import normalise

TEXT = "Hola, buenos días. El puerto había desaparecido por completo."


@pytest.fixture(scope="module")
def engine() -> EspeakEngine:
    return EspeakEngine()


def _onsets(samples: np.ndarray, rate: int) -> np.ndarray:
    """Where sound starts after at least 40 ms of quiet (10 ms frames)."""
    frame = rate // 100
    loud = np.sqrt(np.mean(samples[: samples.size // frame * frame].reshape(-1, frame) ** 2,
                           axis=1)) > 0.02
    return np.array([i * frame for i in range(4, loud.size)
                     if loud[i] and not loud[i - 4:i].any()])


def test_it_speaks_spanish_with_a_word_timing_per_token(engine: EspeakEngine) -> None:
    speech = engine.synthesise(TEXT, AUTO, 1.0, "es")
    tokens = TEXT.split()
    assert speech.words is not None
    assert [w.text for w in speech.words] == tokens
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and all(w.end > w.start for w in speech.words)
    assert np.abs(speech.samples).max() > 0.1
    assert 0.15 < speech.seconds / len(tokens) < 0.8  # speech, not silence or a click
    # a word after a pause ("El" after "días.") starts where the sound starts again
    pause_word = speech.words[3]
    onsets = _onsets(speech.samples, speech.rate)
    assert np.min(np.abs(onsets - pause_word.start)) <= 0.06 * speech.rate


def test_speed_and_language_change_what_is_said(engine: EspeakEngine) -> None:
    normal = engine.synthesise(TEXT, AUTO, 1.0, "es")
    fast = engine.synthesise(TEXT, AUTO, 1.5, "es")
    assert fast.seconds < 0.85 * normal.seconds
    german = engine.synthesise(TEXT, AUTO, 1.0, "de")
    assert german.samples.shape != normal.samples.shape or not np.array_equal(
        german.samples, normal.samples)


def test_nothing_to_say_and_unknown_voices_are_refused(engine: EspeakEngine) -> None:
    with pytest.raises(NothingToSay):
        engine.synthesise("… — ¡!", AUTO, 1.0, "es")
    with pytest.raises(VoiceError, match="no voice"):
        engine.synthesise("hola", "klingon-x", 1.0)
    with pytest.raises(VoiceError, match="does not speak"):
        engine.synthesise("hola", AUTO, 1.0, "tlh")


@pytest.mark.parametrize(("voice", "engine_name"), [
    (Voice(language="es"), "espeak"),
    (Voice(language="de-AT"), "espeak"),
    (Voice(voice="heart", language="fr"), "espeak"),
    (Voice(language="en-GB"), "hibari"),
    (Voice(), "hibari"),
    (Voice(engine="piper", language="es"), "piper"),  # a chosen engine is kept
])
def test_the_built_in_voice_gives_way_for_other_languages(voice: Voice,
                                                         engine_name: str) -> None:
    chosen = spoken_by(voice)
    assert chosen.engine == engine_name
    if engine_name == "espeak":
        assert chosen.voice is None and chosen.language == voice.language
        assert open_engine(chosen).name == "espeak"


def test_voices_lists_it_as_the_fallback_with_its_languages(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["voices"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("espeak: ready"):]
    assert "fallback" in section.splitlines()[1]
    languages = section.splitlines()[2]
    assert languages.startswith("  languages: ")
    assert {"es", "de", "fr", "hi", "ar", "cmn"} <= set(languages.split(": ")[1].split(", "))


def test_a_spanish_project_with_no_other_voice_is_spoken_by_espeak(tmp_path: Path) -> None:
    texts = ("Cuesta 1.234,50 € desde el 3 de mayo de 2024.", "Nadie durmió aquella noche.")
    segments = []
    for i, text in enumerate(texts):
        write_solid(tmp_path / f"{i}.png", (128, 72), (40 + 80 * i, 70, 90))
        segments.append({"image": f"{i}.png", "text": text})
    manifest = write_manifest(tmp_path, segments, width=128, height=72, fps=25,
                              settings={"preset": "ultrafast", "language": "es",
                                        "loudness": {"enabled": False}})
    project = storyreel.load_project(manifest)
    result = storyreel.render(project, tmp_path / "es.mp4")
    assert result.synthesised == [0, 1]
    assert [[w.text for w in t.words] for t in result.words] == [t.split() for t in texts]
    assert {t.source for t in result.words} == {"engine"}  # espeak-ng's own word events
    # the amount is said in Spanish: the narration is as long as espeak-ng saying it
    said = EspeakEngine().synthesise(normalise(texts[0], "es"), AUTO, 1.0, "es")
    first = result.words[0].words
    spoken_seconds = (first[-1].end - first[0].start) / 48_000
    assert abs(spoken_seconds - said.seconds) < 0.5
    with av.open(str(result.path)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac" and stream.rate == 48_000
        sound = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(stream)])
    assert np.abs(sound).max() > 0.05


@pytest.mark.parametrize("language", ["zh", "zh-Hans", "zh-yue", "es-MX", "pt-BR", "hi", "ar"])
def test_a_language_listed_only_by_a_voice_named_otherwise_is_spoken(
        engine: EspeakEngine, language: str) -> None:
    # espeak-ng lists "zh" among the languages of its voices "cmn" and "yue" but has no
    # voice of that name: the tag must still find a voice.
    text = "今天我们去山里旅行。" if language.startswith("zh") else "1 2 3"
    speech = engine.synthesise(text, AUTO, 1.0, language)
    assert speech.seconds > 0.3 and np.abs(speech.samples).max() > 0.1


def test_every_voice_the_picker_lists_can_speak(engine: EspeakEngine) -> None:
    listed = engine.voices()
    assert len(listed) > 100
    silent = []
    for info in listed:
        try:
            speech = engine.synthesise("1 2 3 hello", info.name, 1.0)
        except VoiceError as exc:
            silent.append(f"{info.name}: {exc}")
            continue
        if not np.abs(speech.samples).max() > 0.01:
            silent.append(f"{info.name}: silence")
    assert silent == []
