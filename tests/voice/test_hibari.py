"""The built-in voice: plausible, audible, deterministic speech, offline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from storyreel.errors import VoiceError
from storyreel.media.audio import SAMPLE_RATE, decode_audio
from storyreel.model.project import Voice
from storyreel.voice.cache import NarrationCache
from storyreel.voice.hibari import HibariEngine, hibari_status
from storyreel.voice.narrate import Narrator

TEXT = "The old lighthouse keeper climbed the stairs every night for forty years."
_NETWORK_EVENTS = ("socket.__new__", "socket.connect", "socket.getaddrinfo", "urllib.Request")
_seen: list[str] = []
_watching = [False]


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _watching[0] and event in _NETWORK_EVENTS:
        _seen.append(event)


sys.addaudithook(_audit)


@pytest.fixture(scope="module")
def engine() -> HibariEngine:
    return HibariEngine()


@pytest.fixture
def no_network() -> Iterator[list[str]]:
    """Records every socket or URL the process opens while the test runs."""
    _seen.clear()
    _watching[0] = True
    try:
        yield _seen
    finally:
        _watching[0] = False


def test_speech_is_plausible_audible_and_read_back(tmp_path: Path) -> None:
    narrator = Narrator(NarrationCache(tmp_path))
    narration = narrator.speak(TEXT, Voice())
    samples = decode_audio(narration.entry.wav)  # read back with the real decoder
    seconds = samples.shape[1] / SAMPLE_RATE
    words = len(TEXT.split())
    assert 2.0 <= words / seconds <= 4.0
    rms_db = 20 * np.log10(np.sqrt(np.mean(samples[0] ** 2)))
    peak = float(np.max(np.abs(samples)))
    assert -35.0 < rms_db < -6.0
    assert 0.05 < peak <= 1.0
    loud = np.abs(samples[0]) > 0.02  # not silent: sound across most of the narration
    assert loud[: samples.shape[1] // 2].any() and loud[samples.shape[1] // 2:].any()


def test_same_text_gives_the_same_samples(engine: HibariEngine) -> None:
    first = engine.synthesise("Hello there, friend.", "heart", 1.0)
    second = engine.synthesise("Hello there, friend.", "heart", 1.0)
    assert first.rate == 24_000
    assert first.samples.size > first.rate // 2
    assert np.array_equal(first.samples, second.samples)


def test_speed_changes_the_length(engine: HibariEngine) -> None:
    slow = engine.synthesise("A slow and careful sentence.", "heart", 0.7)
    fast = engine.synthesise("A slow and careful sentence.", "heart", 1.5)
    assert slow.samples.size > 1.6 * fast.samples.size


def test_no_socket_is_opened_while_synthesising(engine: HibariEngine, tmp_path: Path,
                                                no_network: list[str]) -> None:
    fresh = HibariEngine()
    fresh.synthesise("Nothing leaves this machine.", "heart", 1.0)
    Narrator(NarrationCache(tmp_path)).speak("Nor does this sentence.", Voice())
    with pytest.raises(VoiceError, match="never downloads"):
        engine.synthesise("Hello.", "emma", 1.0)
    assert no_network == []


@pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare(1) on this machine")
def test_say_works_without_a_network(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("user network namespaces are not allowed here")
    out = tmp_path / "say.wav"
    env = {"STORYREEL_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin",
           "HOME": str(tmp_path)}
    done = subprocess.run(["unshare", "-rn", sys.executable, "-m", "storyreel", "say",
                           "Spoken with no network at all.", "-o", str(out)],
                          capture_output=True, text=True, env=env, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert decode_audio(out).shape[1] > SAMPLE_RATE


def test_only_voices_inside_the_package_are_offered(engine: HibariEngine) -> None:
    voices = {v.name: v for v in engine.voices()}
    assert voices["heart"].available
    assert len(voices) >= 2
    assert [v for v in voices.values() if not v.available]
    status = hibari_status()
    assert status.ready and status.version == "0.2.1"
    assert "en-us" in status.languages


@pytest.mark.parametrize(("text", "voice", "language", "message"), [
    ("🐉 🌅 ✨", "heart", None, "no English words"),
    ("Привет, как дела", "heart", None, "no English words"),
    ("Hello.", "nobody", None, "no voice 'nobody'"),
    ("Hello.", "heart", "fr-fr", "speaks en-US, not fr-fr"),
])
def test_text_or_voice_it_cannot_speak_is_one_clear_error(
        engine: HibariEngine, text: str, voice: str, language: str | None, message: str) -> None:
    with pytest.raises(VoiceError, match=message):
        engine.synthesise(text, voice, 1.0, language)


def test_cancel_between_sentences_stops_and_writes_nothing(tmp_path: Path) -> None:
    from storyreel.errors import RenderCancelled

    calls: list[int] = []

    def cancel() -> None:
        calls.append(1)
        if len(calls) == 2:  # after the first sentence, before the second
            raise RenderCancelled("render cancelled")

    text = "The first sentence is spoken. The second one never is. Nor is the third."
    narrator = Narrator(NarrationCache(tmp_path))
    with pytest.raises(RenderCancelled):
        narrator.speak(text, Voice(), 1, cancel)
    assert len(calls) == 2
    assert not (tmp_path / "narration").exists() or list((tmp_path / "narration").iterdir()) == []
