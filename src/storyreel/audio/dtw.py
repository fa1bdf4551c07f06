"""Word timings in any language: the recording warped onto the same text synthesised.

The aeneas method. espeak-ng (from its wheel) says the text in the narration's
language, and its word events tell where each word starts in that synthetic speech.
Both are turned into MFCCs (10 ms frames) and matched by dynamic time warping, within
a band around the diagonal so time and memory stay linear in the length; each word's
synthetic start and end are carried along the warping path onto the recording.

A warp always ends somewhere, also on other speech or noise. Whether the recording
speaks the text is told by warping it a second time, onto the synthetic speech reversed
in time: the same voice and sounds in the wrong order. Speech of the text follows the
right order far more closely than the reversed one; anything else follows both about
alike (:meth:`Warp.decoy_ratio`, measured by ``python -m bench.align --confidence``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
from numpy.typing import NDArray

from storyreel._jit import compiled
from storyreel.audio.dsp import resample_poly
from storyreel.errors import VoiceError
from storyreel.media import espeak

__all__ = ["Warp", "WarpFailed", "mfcc", "warp", "warp_spans"]

RATE = 48_000
_RATE = 16_000
_HOP = _RATE // 100  # 10 ms frames
_WINDOW = 400  # 25 ms
_FFT = 512
_MELS = 40
_COEFFICIENTS = 13
_SILENT = -1.0  # log energy (tenths of nats below the loudest frame) under which a frame is a pause
_UNLIKE = 0.9  # a warp whose likeness is above this did not follow speech of the text
_DECOY = 0.65  # a warp alone is trusted at or under this share of its reversed decoy's distance
_ORDERLESS = 1.0  # at or over it, the text reversed fits as well: no sign of the text's order
_BAND = 300  # frames either side of the diagonal (3 s), more for long recordings
F32 = NDArray[np.float32]
Span = tuple[int, int]


class WarpFailed(Exception):
    """The text could not be synthesised for warping (internal: the caller estimates)."""


def _mel_bank() -> F32:
    def mel(hz: NDArray[np.float64]) -> NDArray[np.float64]:
        return 2595 * np.log10(1 + hz / 700)

    edges_mel = np.linspace(0, mel(np.array([_RATE / 2.0]))[0], _MELS + 2)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    bins = np.floor((_FFT + 1) * edges / _RATE).astype(int)
    bank = np.zeros((_MELS, _FFT // 2 + 1), np.float32)
    for m in range(1, _MELS + 1):
        left, centre, right = bins[m - 1], bins[m], bins[m + 1]
        for k in range(left, centre):
            bank[m - 1, k] = (k - left) / max(1, centre - left)
        for k in range(centre, right):
            bank[m - 1, k] = (right - k) / max(1, right - centre)
    return bank


_BANK = _mel_bank()
#: Each filter of the bank weighs a run of consecutive FFT bins (454 of its 10,280
#: weights are not 0): the bins every filter weighs, filter after filter, the weights,
#: and where each filter's run starts. Weighing those bins and summing each run runs in
#: NumPy's own loops on the calling thread, not in OpenBLAS's pool of a thread per core:
#: words are found on a thread beside the encoder's, whose cores that pool would share.
_RUNS = [np.flatnonzero(row) for row in _BANK]
_BINS = np.concatenate(_RUNS)
_WEIGHTS = np.concatenate([row[run] for row, run in zip(_BANK, _RUNS, strict=True)])
_STARTS = np.cumsum([0] + [run.size for run in _RUNS[:-1]])
if not all(run.size for run in _RUNS):  # reduceat would give it its neighbour's first bin
    raise RuntimeError("a mel filter weighs no FFT bin")
#: c1 .. c12 of the orthonormal DCT-II of the 40 log mel energies, one row each.
_DCT = (np.sqrt(2 / _MELS) * np.cos(np.pi / _MELS * np.arange(1, _COEFFICIENTS)[:, None]
                                    * (np.arange(_MELS)[None, :] + 0.5))).astype(np.float32)


def mfcc(samples: F32, rate: int) -> F32:
    """MFCCs of mono ``samples`` every 10 ms (c1..c12, mean-normalised, plus log energy)."""
    audio = samples if rate == _RATE else resample_poly(samples, _RATE, rate)
    audio = np.asarray(audio, np.float32)
    frames = max(1, 1 + (audio.size - _WINDOW) // _HOP) if audio.size >= _WINDOW else 1
    padded = np.zeros(_HOP * (frames - 1) + _WINDOW, np.float32)
    padded[:min(audio.size, padded.size)] = audio[:padded.size]
    emphasised = np.append(padded[0], padded[1:] - 0.97 * padded[:-1])
    index = np.arange(_WINDOW)[None, :] + _HOP * np.arange(frames)[:, None]
    windowed = emphasised[index] * np.hamming(_WINDOW).astype(np.float32)
    power = np.abs(np.fft.rfft(windowed, _FFT)) ** 2 / _FFT
    energy = np.log(np.maximum(power.sum(axis=1), 1e-10))
    mel = np.add.reduceat(power[:, _BINS] * _WEIGHTS, _STARTS, axis=1)
    log_mel = np.log(np.maximum(mel, 1e-10)).astype(np.float32)
    cepstra = np.einsum("fm,cm->fc", log_mel, _DCT)  # einsum: its own loop, not BLAS's pool
    cepstra -= cepstra.mean(axis=0)
    loudness = (energy - energy.max()) / 10.0
    return np.column_stack([cepstra, loudness]).astype(np.float32)


#: Distances are summed as whole numbers of 1/65536, so that only two rows of costs need
#: keeping beside the moves (a byte a cell instead of five: a 10-minute narration's warp
#: holds 0.45 GB instead of 2.25 GB). The path is the float sums' on real speech.
_SCALE = 65536.0
_UNREACHED = 1 << 62  # the cost of a cell no path reaches (real costs stay below 2**50)


def _dtw_py(a: F32, b: F32, band: int) -> NDArray[np.int64]:
    """The first and last row of ``a`` the warping path matches to each column of ``b``
    (within ``band`` frames of the diagonal), or all -1 when the band cannot reach the end.

    Each cell keeps its best move (1: from the row before, 2: diagonally, 3: along the
    row); move 0 is the first cell's, and that of cells no path reaches."""
    n, m = a.shape[0], b.shape[0]
    width = 2 * band + 1
    before = np.full(width, _UNREACHED, np.int64)
    row = np.full(width, _UNREACHED, np.int64)
    moves = np.zeros((n, width), np.uint8)
    for i in range(n):
        centre = i * (m - 1) // max(1, n - 1)
        previous = (i - 1) * (m - 1) // max(1, n - 1)
        for w in range(width):
            row[w] = _UNREACHED
            j = centre - band + w
            if j < 0 or j >= m:
                continue
            d = np.float32(0.0)
            for k in range(a.shape[1]):
                diff = a[i, k] - b[j, k]
                d += diff * diff
            cell = np.int64(np.floor(np.float64(np.sqrt(d)) * _SCALE + 0.5))
            if i == 0 and j == 0:
                row[w] = cell
                continue
            best = _UNREACHED
            move = 0
            if i > 0:
                for step in range(2):  # (i-1, j) and (i-1, j-1)
                    pw = j - step - previous + band
                    if 0 <= pw < width and before[pw] < best:
                        best = before[pw]
                        move = 1 + step
            if w > 0 and row[w - 1] < best:  # (i, j-1)
                best = row[w - 1]
                move = 3
            if best < _UNREACHED:
                row[w] = best + cell
                moves[i, w] = move
        before, row = row, before
    rows = np.full((2, m), -1, np.int64)  # each column's first and last row on the path
    i, j = n - 1, m - 1
    while i >= 0 and j >= 0:
        w = j - i * (m - 1) // max(1, n - 1) + band
        if w < 0 or w >= width or (moves[i, w] == 0 and (i > 0 or j > 0)):
            return np.full((2, m), -1, np.int64)  # the band does not reach the end
        rows[0, j] = i
        if rows[1, j] < 0:
            rows[1, j] = i
        move = moves[i, w]
        if move == 0:
            break
        if move == 1:
            i -= 1
        elif move == 2:
            i -= 1
            j -= 1
        else:
            j -= 1
    return rows


_dtw = cast(Callable[[F32, F32, int], NDArray[np.int64]], compiled(_dtw_py))


def _likeness(ours: F32, theirs: F32, matched: NDArray[np.int64]) -> float:
    """The mean distance along the path over the mean distance between any two frames:
    speech of the text stays near 0.8 even in another voice, noise and tones near 1."""
    along = float(np.linalg.norm(theirs - ours[matched], axis=1).mean())
    rng = np.random.default_rng(0)
    i = rng.integers(0, ours.shape[0], 4000)
    j = rng.integers(0, theirs.shape[0], 4000)
    anywhere = float(np.linalg.norm(theirs[j] - ours[i], axis=1).mean())
    return along / max(anywhere, 1e-9)


@dataclass(frozen=True)
class Warp:
    """A recording warped onto the text said by espeak-ng: both MFCC sequences, the
    first and last recording frame matched to each synthetic frame (``rows``), and where
    each token sounds in the synthetic speech (samples at ``rate``)."""

    ours: F32
    theirs: F32
    rows: NDArray[np.int64]
    spans: list[Span | None]
    rate: int

    def placed(self) -> list[Span | None]:
        """Where each token is said in the recording (48 kHz samples).

        Raises:
            WarpFailed: The recording does not sound like speech at all (noise, a tone).
        """
        if _likeness(self.ours, self.theirs, self.rows[0]) > _UNLIKE:
            raise WarpFailed("the recording does not sound like its text")
        return _placed(self)

    def decoy_ratio(self) -> float:
        """The distance along the warp over that of a warp onto the same synthetic speech
        reversed in time: the same voice and sounds in the wrong order. Speech of the text
        matches its order far better (0.3-0.5 in espeak-ng's voice); other speech, noise
        and tones match either order about alike (0.8 and above, ``bench/REPORT.md``)."""
        speaking = self.theirs[:, -1] > _SILENT
        if not speaking.any():
            speaking = np.ones_like(speaking)
        along = _along(self.ours, self.theirs, self.rows[0], speaking)
        backwards = np.ascontiguousarray(self.theirs[::-1])
        rows = _dtw(self.ours, backwards, _band(self.ours))
        if rows[0, 0] < 0:  # cannot happen for a warp that reached its end: not trusted
            return 1.0
        return along / max(_along(self.ours, backwards, rows[0], speaking[::-1]), 1e-9)

    def speaks_text(self) -> bool:
        """Whether the warp alone can be trusted: the recording speaks the text."""
        return self.follows_text() == "sure"

    def follows_text(self) -> Literal["sure", "unsure", "no"]:
        """How far the warp shows that the recording speaks the text: ``sure`` (espeak-ng's
        own voice scores there), ``unsure`` (other voices speaking their text score
        there, 0.72-0.96, and so does much other speech), ``no`` (the text reversed
        fits at least as well)."""
        ratio = self.decoy_ratio()
        return "sure" if ratio <= _DECOY else "unsure" if ratio < _ORDERLESS else "no"


def _along(ours: F32, theirs: F32, matched: NDArray[np.int64],
           frames: NDArray[np.bool_]) -> float:
    """The mean distance along a path over the synthetic ``frames``."""
    return float(np.linalg.norm(theirs[frames] - ours[matched[frames]], axis=1).mean())


def _band(ours: F32) -> int:
    return max(_BAND, int(ours.shape[0]) // 16)  # around the diagonal scaled to both lengths


def warp(tokens: Sequence[str], mono: F32, language: str) -> Warp:
    """``mono`` (48 kHz) warped onto ``tokens`` said by espeak-ng in ``language``.

    Raises:
        WarpFailed: espeak-ng cannot say the text or the warp does not reach its end.
    """
    try:
        voice = espeak.voice_for(language)
        synthetic, rate, spans = espeak.spoken_spans(tokens, voice)
    except VoiceError as exc:
        raise WarpFailed(str(exc)) from exc
    ours, theirs = mfcc(mono, RATE), mfcc(synthetic, rate)
    rows = _dtw(ours, theirs, _band(ours))
    if rows[0, 0] < 0:
        raise WarpFailed("the recording could not be warped onto the synthesised text")
    return Warp(ours, theirs, rows, spans, rate)


def warp_spans(tokens: Sequence[str], mono: F32, language: str) -> list[Span | None]:
    """Where each spoken token is said in ``mono`` (48 kHz), by warping onto espeak-ng.

    Args:
        tokens: The spoken form of each written token (numbers as words).
        mono: The recording at 48 kHz.
        language: The text's language (BCP 47).

    Raises:
        WarpFailed: espeak-ng cannot say the text, the warp does not reach its end, or
            the recording does not sound like the text (noise, a tone).
    """
    return warp(tokens, mono, language).placed()


def _placed(found: Warp) -> list[Span | None]:
    """Each token's synthetic start and end carried along the warp onto the recording."""
    ours, theirs, rows = found.ours, found.theirs, found.rows
    loud = ours[:, -1] > _SILENT
    per_frame = found.rate / 100

    def start(sample: int) -> int:
        """After the last pause among the frames matched to the word's first frame (a pause
        the synthetic speech does not make is matched there too)."""
        column = min(theirs.shape[0] - 1, int(sample / per_frame))
        first, last = int(rows[0, column]), int(rows[1, column])
        quiet = np.flatnonzero(~loud[first:last + 1])
        return min(last, first + (int(quiet[-1]) + 1 if quiet.size else 0)) * (RATE // 100)

    def end(sample: int) -> int:
        """At the first pause among the frames matched to the word's last frame."""
        column = min(theirs.shape[0] - 1, max(0, int(sample / per_frame) - 1))
        first, last = int(rows[0, column]), int(rows[1, column])
        quiet = np.flatnonzero(~loud[first:last + 1])
        return (first + int(quiet[0]) if quiet.size else last + 1) * (RATE // 100)

    return [None if s is None else (start(s[0]), max(start(s[0]) + 1, end(s[1])))
            for s in found.spans]
