"""Word timings by forced alignment, and their graceful fallback to estimates."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.typing import NDArray

from media import speech_regions
from storyreel.audio.align import Aligner, align_narration, timings_from_spans
from storyreel.voice.hibari import HibariEngine
from storyreel.voice.speaker import resample_to

RATE = 48_000
PHRASES = ("The storm came in from the sea.",
           "Nobody in the village slept that night.",
           "By morning the harbour was gone.")
SILENCES = (0.35, 0.9, 0.6)  # before each phrase, in seconds


@pytest.fixture(scope="module")
def aligner() -> Aligner:
    return Aligner()


def _trimmed(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    """The phrase without its leading and trailing silence (so its start is known exactly)."""
    loud = np.flatnonzero(np.abs(samples) > 0.01 * np.abs(samples).max())
    return samples[loud[0]:loud[-1] + 1]


@pytest.fixture(scope="module")
def joined() -> tuple[NDArray[np.float32], list[int]]:
    engine = HibariEngine()
    parts: list[NDArray[np.float32]] = []
    starts = []
    at = 0
    for phrase, silence in zip(PHRASES, SILENCES, strict=True):
        speech = engine.synthesise(phrase, "heart", 1.0)
        voice = _trimmed(resample_to(speech.samples, speech.rate, RATE))
        gap = np.zeros(round(silence * RATE), np.float32)
        parts += [gap, voice]
        starts.append(at + gap.size)
        at += gap.size + voice.size
    parts.append(np.zeros(RATE // 2, np.float32))
    return np.concatenate(parts), starts


def test_each_phrase_starts_within_80_ms_of_where_it_was_placed(
        joined: tuple[NDArray[np.float32], list[int]], aligner: Aligner) -> None:
    audio, starts = joined
    text = " ".join(PHRASES)
    stereo = np.stack([audio, audio])
    timings, why = align_narration(text, stereo, speech_regions(stereo, RATE), aligner)
    assert why is None
    assert timings.source == "aligned"
    assert [w.text for w in timings.words] == text.split()
    firsts = np.cumsum([0] + [len(p.split()) for p in PHRASES[:-1]])
    assert len(firsts) == len(starts) == 3
    errors_ms = [abs(timings.words[i].start - start) * 1000 / RATE
                 for i, start in zip(firsts, starts, strict=True)]
    assert max(errors_ms) <= 80, errors_ms
    assert all(b.start >= a.end for a, b in itertools.pairwise(timings.words))


def test_numbers_and_abbreviations_align_through_their_spoken_form(aligner: Aligner) -> None:
    engine = HibariEngine()
    from storyreel.voice.normalize import normalise

    text = "Dr. Lee was born in 1984."
    speech = engine.synthesise(normalise(text), "heart", 1.0)
    audio = resample_to(speech.samples, speech.rate, RATE)
    timings, why = align_narration(text, audio, speech_regions(np.stack([audio, audio]), RATE),
                                   aligner)
    assert why is None
    assert [w.text for w in timings.words] == text.split()
    year = timings.words[-1]
    assert year.text == "1984."
    assert (year.end - year.start) / RATE > 0.4  # "nineteen eighty-four" takes a while


def test_a_recording_that_is_not_the_text_falls_back_to_estimates(aligner: Aligner) -> None:
    t = np.arange(2 * RATE) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    tone[RATE // 2: RATE // 2 + RATE // 4] = 0
    stereo = np.stack([tone, tone])
    timings, why = align_narration("a tone is not these words at all", stereo,
                                   speech_regions(stereo, RATE), aligner)
    assert timings.source == "estimated"
    assert why
    assert len(timings.words) == 8


@pytest.mark.parametrize(("text", "language"), [("Xylqor vbnmzt grrk plov.", "en"),
                                                ("Привет, как дела", "ru"),
                                                ("Привет, как дела", "en")])
def test_noise_under_any_text_degrades_to_estimates(aligner: Aligner, text: str,
                                                    language: str) -> None:
    audio = np.random.default_rng(1).standard_normal(RATE).astype(np.float32) * 0.1
    timings, why = align_narration(text, audio, [(0, RATE)], aligner, language)
    assert timings.source == "estimated"
    assert why is not None and "does not sound like its text" in why
    assert len(timings.words) == len(text.split())


def test_unplaced_tokens_share_the_time_between_their_neighbours() -> None:
    timings = timings_from_spans("one — two three", [(100, 200), None, (400, 500), None], 1000)
    words = timings.words
    assert [w.text for w in words] == ["one", "—", "two", "three"]
    assert (words[1].start, words[1].end) == (200, 400)
    assert (words[3].start, words[3].end) == (500, 1000)
    assert all(w.end > w.start for w in words)


def test_a_word_the_dictionary_lacks_is_aligned_by_its_pronunciation(
        aligner: Aligner) -> None:
    text = "The ship sailed to Quorvalia before the winter storms."
    speech = HibariEngine().synthesise(text, "heart", 1.0)
    audio = resample_to(speech.samples, speech.rate, RATE)
    stereo = np.stack([audio, audio])
    timings, note = align_narration(text, stereo, speech_regions(stereo, RATE), aligner)
    assert timings.source == "aligned"
    assert note is None  # nothing left to place between neighbours
    words = timings.words
    assert len(words) == 9
    name = words[4]
    assert words[3].end <= name.start < name.end <= words[5].start
    # "Quorvalia" (four syllables) is said longer than "to" and "ship" around it
    assert name.end - name.start > max(words[3].end - words[3].start,
                                       words[1].end - words[1].start)
