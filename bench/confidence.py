"""``python -m bench.align --confidence``: which measure of the warp tells a recording that
speaks its text from one that does not.

Recordings that speak their text: each bench voice (flite, espeak-ng, the built-in hibari
voice) saying the sentences of :mod:`bench.align` word by word with known gaps, and
flite and hibari saying them as running speech. Recordings that do not: tone-burst and
speech-like narrations as the tests make them, white and pink noise, a chord pad, and
the same voices saying a different sentence from the text. Every recording is warped
onto its text said by espeak-ng and each candidate measure is printed per group, with
the lowest for the speaking recordings, the highest for the others, and the margin.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bench.align import (
    FLITE_VOICES,
    RATE,
    SENTENCES,
    Voice,
    espeak_voice,
    flite_say,
    flite_voice,
    hibari_voice,
    known_speech,
)
from storyreel.audio import dtw
from storyreel.voice.normalize import spoken_tokens
from storyreel.voice.speaker import resample_to

__all__ = ["MEASURES", "main", "measures"]

F32 = NDArray[np.float32]
SHIFTS = (-50, -40, -30, -20, 20, 30, 40, 50)  # frames (10 ms): 0.2-0.5 s either way


def _distances(w: dtw.Warp, shift: int) -> F32:
    rows = np.clip(w.rows[0] + shift, 0, w.ours.shape[0] - 1)
    return np.asarray(np.linalg.norm(w.theirs - w.ours[rows], axis=1), np.float32)


def _loud(w: dtw.Warp) -> NDArray[np.bool_]:
    return np.asarray(w.theirs[:, -1] > dtw._SILENT)


def likeness(w: dtw.Warp) -> float:
    """Today's global measure: path distance over any-pair distance."""
    return dtw._likeness(w.ours, w.theirs, w.rows[0])


def contrast(w: dtw.Warp) -> float:
    """Distance along the path over the same path shifted 0.2-0.5 s (speaking frames)."""
    loud = _loud(w)
    along = float(_distances(w, 0)[loud].mean())
    shifted = float(np.mean([_distances(w, k)[loud].mean() for k in SHIFTS]))
    return along / max(shifted, 1e-9)


def sharp_words(w: dtw.Warp) -> float:
    """Share of words whose path distance is lower than at every shift of 0.2-0.5 s."""
    loud = _loud(w)
    per_frame = w.rate / 100
    costs = {k: _distances(w, k) for k in (0, *SHIFTS)}
    sharp = total = 0
    for span in w.spans:
        if span is None:
            continue
        a, b = int(span[0] / per_frame), max(int(span[0] / per_frame) + 1, int(span[1] / per_frame))
        frames = np.arange(a, min(b, w.theirs.shape[0]))
        frames = frames[loud[frames]]
        if frames.size == 0:
            continue
        total += 1
        here = costs[0][frames].mean()
        sharp += all(here < costs[k][frames].mean() for k in SHIFTS)
    return sharp / max(total, 1)


def best_ratio(w: dtw.Warp) -> float:
    """Mean over speaking synthetic frames of the best distance to any recorded frame over
    the distance along the path."""
    loud = _loud(w)
    theirs = w.theirs[loud]
    best = np.full(theirs.shape[0], np.inf, np.float32)
    for at in range(0, w.ours.shape[0], 256):
        block = w.ours[at:at + 256]
        d = np.linalg.norm(theirs[:, None, :] - block[None, :, :], axis=2)
        best = np.minimum(best, d.min(axis=1))
    along = _distances(w, 0)[loud]
    return float((best / np.maximum(along, 1e-9)).mean())


def envelope(w: dtw.Warp) -> float:
    """Correlation of the synthetic and recorded loudness along the path."""
    a, b = w.theirs[:, -1], w.ours[w.rows[0], -1]
    if a.std() < 1e-6 or b.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def spectral(w: dtw.Warp) -> float:
    """Correlation of the synthetic and recorded spectral slope (c1: voiced vs fricative)
    along the path, over speaking frames."""
    loud = _loud(w)
    a, b = w.theirs[loud, 0], w.ours[w.rows[0][loud], 0]
    if a.size < 3 or a.std() < 1e-6 or b.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _along(ours: F32, theirs: F32, loud: NDArray[np.bool_]) -> float:
    band = max(dtw._BAND, ours.shape[0] // 16)
    rows = dtw._dtw(ours, theirs, band)
    if rows[0, 0] < 0:
        return float("inf")
    return float(np.linalg.norm(theirs - ours[rows[0]], axis=1)[loud].mean())


def reversed_decoy(w: dtw.Warp) -> float:
    """Distance along the path over that of the warp onto the synthetic speech reversed
    in time (the same voice and sounds, in the wrong order): :meth:`dtw.Warp.decoy_ratio`,
    the measure storyreel uses."""
    return w.decoy_ratio()


def rotated_decoy(w: dtw.Warp) -> float:
    """Distance along the path over that of the warp onto the synthetic speech with its
    second half said first."""
    loud = _loud(w)
    along = float(_distances(w, 0)[loud].mean())
    half = w.theirs.shape[0] // 2
    order = np.r_[half:w.theirs.shape[0], 0:half]
    return along / _along(w.ours, np.ascontiguousarray(w.theirs[order]), loud[order])


def _normalised(x: F32) -> F32:
    loud = x[:, -1] > dtw._SILENT
    part = x[loud] if loud.sum() > 2 else x
    out = (x - part.mean(axis=0)) / np.maximum(part.std(axis=0), 1e-3)
    return np.ascontiguousarray(out, np.float32)


def reversed_cmvn(w: dtw.Warp) -> float:
    """:func:`reversed_decoy` on features of unit variance (both warps redone)."""
    ours, theirs = _normalised(w.ours), _normalised(w.theirs)
    loud = _loud(w)
    return _along(ours, theirs, loud) / _along(ours, np.ascontiguousarray(theirs[::-1]),
                                               loud[::-1])


def _deltas(x: F32) -> F32:
    padded = np.pad(x, ((2, 2), (0, 0)), mode="edge")
    d = (padded[3:-1] - padded[1:-3] + 2 * (padded[4:] - padded[:-4])) / 10
    return np.ascontiguousarray(np.column_stack([x, d]), np.float32)


def _redone(ours: F32, theirs: F32, loud: NDArray[np.bool_]) -> float:
    return _along(ours, theirs, loud) / _along(ours, np.ascontiguousarray(theirs[::-1]),
                                               loud[::-1])


def reversed_deltas(w: dtw.Warp) -> float:
    """:func:`reversed_decoy` on the features with their deltas (both warps redone)."""
    return _redone(_deltas(w.ours), _deltas(w.theirs), _loud(w))


def reversed_spectrum(w: dtw.Warp) -> float:
    """:func:`reversed_decoy` on c2..c12 alone (no loudness, no spectral tilt)."""
    return _redone(np.ascontiguousarray(w.ours[:, 1:12]),
                   np.ascontiguousarray(w.theirs[:, 1:12]), _loud(w))


MEASURES: dict[str, tuple[Callable[[dtw.Warp], float], bool]] = {
    # name: (measure, whether higher means "speaks its text")
    "likeness": (likeness, False),
    "contrast": (contrast, False),
    "sharp_words": (sharp_words, True),
    "best_ratio": (best_ratio, True),
    "envelope": (envelope, True),
    "spectral": (spectral, True),
    "reversed": (reversed_decoy, False),
    "rotated": (rotated_decoy, False),
    "reversed_cmvn": (reversed_cmvn, False),
    "reversed_deltas": (reversed_deltas, False),
    "reversed_spectrum": (reversed_spectrum, False),
}


def measures(text: str, samples: F32, language: str) -> dict[str, float] | None:
    """Every candidate for ``samples`` warped onto ``text``, or ``None`` when it cannot be."""
    try:
        w = dtw.warp(spoken_tokens(text, language), samples, language)
    except dtw.WarpFailed:
        return None
    return {name: round(f(w), 3) for name, (f, _) in MEASURES.items()}


def _running(voice: Voice, text: str) -> F32:
    samples, rate = voice.say(text)
    pad = np.zeros(int(0.3 * RATE), np.float32)
    return np.concatenate([pad, resample_to(samples.astype(np.float32), rate, RATE), pad])


def _flite_running(name: str, text: str) -> F32:
    samples, rate = flite_say(name, text)
    pad = np.zeros(int(0.3 * RATE), np.float32)
    return np.concatenate([pad, resample_to(samples, rate, RATE), pad])


def _bursts(spans: list[tuple[float, float]], total: float, freq: float = 220.0) -> F32:
    n = round(total * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    for start, end in spans:
        a, b = round(start * RATE), round(end * RATE)
        ramp = np.minimum(1.0, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / 240)
        voice = sum(np.sin(2 * math.pi * freq * k * t[a:b]) / k for k in range(1, 5))
        out[a:b] = 0.4 * ramp * voice / 2
    return out.astype(np.float32)


def _speechlike(seconds: float, seed: int) -> F32:
    from storyreel.demo import write_speechlike_wav

    with tempfile.TemporaryDirectory(prefix="speechlike-") as folder:
        path = Path(folder) / "s.wav"
        write_speechlike_wav(path, seconds, seed=seed)
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    return resample_to((pcm / 32768).astype(np.float32), rate, RATE)


def _pink(seconds: float, seed: int) -> F32:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    pink = np.asarray(np.fft.irfft(spectrum, n), np.float64)
    peak = float(np.abs(pink).max())
    return np.asarray(0.2 * pink / peak, np.float32)


def _chords(seconds: float) -> F32:
    t = np.arange(int(seconds * RATE)) / RATE
    chords = ((220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63))
    out = np.zeros(t.size)
    step = t.size // len(chords)
    for i, chord in enumerate(chords):
        part = t[i * step:(i + 1) * step]
        out[i * step:(i + 1) * step] = sum(np.sin(2 * math.pi * f * part) for f in chord)
    return (0.1 * out).astype(np.float32)


def _gated(samples: F32, seed: int) -> F32:
    """``samples`` with word-like gaps (150-400 ms on, 50-300 ms off)."""
    rng = np.random.default_rng(seed)
    gate = np.zeros(samples.size, np.float32)
    at = int(0.3 * RATE)
    while at < samples.size - int(0.3 * RATE):
        on = int(rng.uniform(0.15, 0.4) * RATE)
        gate[at:at + on] = 1
        at += on + int(rng.uniform(0.05, 0.3) * RATE)
    return samples * gate


Row = tuple[str, str, bool, dict[str, float] | None]


def _speaking(sentences: int) -> Iterator[Row]:
    hibari = hibari_voice()
    voices = [flite_voice(n) for n in FLITE_VOICES]
    voices += [espeak_voice(lang) for lang in ("en", "es", "de", "fr")]
    voices += [hibari] if hibari is not None else []
    for voice in voices:
        rng = np.random.default_rng(7)
        texts = SENTENCES[voice.language][:sentences]
        for index, text in enumerate(texts):
            case = known_speech(text, voice, rng)
            yield voice.name, "speaks", True, measures(text, case.samples, voice.language)
            other = known_speech(texts[(index + 1) % len(texts)], voice, rng)
            yield (voice.name, "other sentence", False,
                   measures(text, other.samples, voice.language))
        if voice.name.startswith("flite") or voice is hibari:
            for index, text in enumerate(texts):
                following = texts[(index + 1) % len(texts)]
                if voice is hibari:
                    running, said = _running(voice, text), _running(voice, following)
                else:
                    name = voice.name.split()[-1]
                    running, said = _flite_running(name, text), _flite_running(name, following)
                yield voice.name, "running speaks", True, measures(text, running, "en")
                yield voice.name, "running other", False, measures(text, said, "en")


def _not_speaking() -> Iterator[Row]:
    texts = [t for lang in ("en", "es") for t in SENTENCES[lang][:3]]
    short = ["Part 0", "Hello world", "A quiet morning"]
    for i, text in enumerate(texts + short):
        lang = "es" if text in SENTENCES["es"] else "en"
        seconds = 1.0 + 0.12 * len(text.split()) * 3
        spans = [(0.1 + 0.5 * k, 0.45 + 0.5 * k) for k in range(int(seconds / 0.5) - 1)]
        yield "bursts", "bursts", False, measures(text, _bursts(spans, seconds), lang)
        yield "bursts", "one burst", False, measures(
            text, _bursts([(0.1, seconds - 0.2)], seconds, 310.0), lang)
        yield "speechlike", "speechlike", False, measures(text, _speechlike(seconds, i), lang)
        noise = np.random.default_rng(i).standard_normal(int(seconds * RATE)).astype(np.float32)
        yield "noise", "white", False, measures(text, 0.1 * noise, lang)
        yield "noise", "white gated", False, measures(text, _gated(0.1 * noise, i), lang)
        yield "noise", "pink gated", False, measures(text, _gated(_pink(seconds, i), i), lang)
        yield "music", "chords", False, measures(text, _chords(seconds), lang)


def main(sentences: int | None = None, out: Path | None = None) -> int:
    """Print every measure per group and the separation of each."""
    rows: list[Row] = []
    for row in [*_speaking(sentences or 10), *_not_speaking()]:
        rows.append(row)
        print(row, flush=True)
    table: dict[str, dict[str, float]] = {}
    for name, (_, higher) in MEASURES.items():
        good = [r[3][name] for r in rows if r[2] and r[3] is not None]
        bad = [r[3][name] for r in rows if not r[2] and r[3] is not None]
        worst_good = min(good) if higher else max(good)
        best_bad = max(bad) if higher else min(bad)
        margin = worst_good - best_bad if higher else best_bad - worst_good
        table[name] = {"speaks_worst": worst_good, "others_best": best_bad,
                       "margin": round(margin, 3),
                       "speaks_median": statistics.median(good),
                       "others_median": statistics.median(bad)}
        print(name, table[name])
    groups: dict[tuple[str, str, bool], list[dict[str, float]]] = {}
    for voice, kind, speaks, values in rows:
        if values is not None:
            groups.setdefault((voice, kind, speaks), []).append(values)
    for (voice, kind, speaks), group in groups.items():
        line = " ".join(f"{n}={min(g[n] for g in group):.2f}..{max(g[n] for g in group):.2f}"
                        for n in MEASURES)
        print(f"{voice:>14} {kind:>15} {'yes' if speaks else 'no '} n={len(group)} {line}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "align_confidence.json").write_text(
            json.dumps({"rows": rows, "separation": table}, indent=1), encoding="utf-8")
    return 0
