"""Pieces of speech joined into one narration, written as they come.

Each piece a voice speaks starts and ends with some silence of its own. Where two
pieces meet, that silence is replaced by the pause the text calls for: at least a
sentence's pause after a sentence, a short clause pause after a clause, and no more
than the gap between two words where a piece was cut mid-clause. Speech edges next to
a replaced silence get a 5 ms fade, so no join clicks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from storyreel.voice.cache import NarrationWriter
from storyreel.voice.pieces import Cut

__all__ = ["CLAUSE_PAUSE", "SENTENCE_PAUSE", "WORD_GAP", "Joiner", "Placed"]

#: Shortest pause after a sentence, in seconds.
SENTENCE_PAUSE = 0.30
#: Pause after a clause: the voice's own, kept within these bounds (seconds).
CLAUSE_PAUSE = (0.15, 0.30)
#: Longest gap where a piece was cut between two words of a clause (seconds).
WORD_GAP = 0.05
_FADE = 0.005
_QUIET_DB = -40.0  # below the piece's peak: silence


class Placed:
    """Where a piece's samples landed: piece sample ``s`` is output sample ``offset + s``,
    and its speech fills output samples ``first`` to ``last``."""

    def __init__(self, offset: int, first: int, last: int) -> None:
        self.offset = offset
        self.first = first
        self.last = last

    def span(self, start: int, end: int) -> tuple[int, int]:
        """A span of piece samples as output samples, inside the piece's speech."""
        low = min(max(self.offset + start, self.first), self.last)
        return low, min(max(self.offset + end, low), self.last)


class Joiner:
    """Writes pieces of speech to a narration, each followed by the pause it calls for.

    Args:
        writer: Where the joined samples go.
    """

    def __init__(self, writer: NarrationWriter) -> None:
        self.writer = writer
        self.rate = 0
        self._written = 0
        self._pending: NDArray[np.float32] | None = None  # speech's last fade and the tail

    def add(self, samples: NDArray[np.float32], rate: int, after: Cut | None) -> Placed:
        """Append one piece; ``after`` says how the previous piece ended (``None``: first).

        Raises:
            OutputError: The cache folder cannot be written.
        """
        self.rate = self.rate or rate
        fade = max(1, int(_FADE * rate))
        lead, end = _speech(samples)
        if self._pending is None or after is None:
            body = samples[:end]
            offset = self._written
        else:
            gap = self._pause(after, max(0, len(self._pending) - fade + lead))
            self._flush(_faded(self._pending[:fade], out=True))
            self._flush(np.zeros(gap, np.float32))
            body = _faded(samples[lead:end], out=False, length=fade)
            offset = self._written - lead
        first = offset + lead
        keep = max(0, len(body) - fade)
        self._flush(body[:keep])
        self._pending = np.concatenate([body[keep:], samples[end:]])
        return Placed(offset, first, offset + end)

    def finish(self) -> None:
        """Write the last piece's end as the voice made it.

        Raises:
            OutputError: The cache folder cannot be written.
        """
        if self._pending is not None:
            self._flush(self._pending)
            self._pending = None

    def _pause(self, after: Cut, natural: int) -> int:
        seconds = natural / self.rate
        if after == Cut.SENTENCE:
            seconds = max(seconds, SENTENCE_PAUSE)
        elif after == Cut.CLAUSE:
            seconds = min(max(seconds, CLAUSE_PAUSE[0]), CLAUSE_PAUSE[1])
        else:
            seconds = min(seconds, WORD_GAP)
        return round(seconds * self.rate)

    def _flush(self, samples: NDArray[np.float32]) -> None:
        if len(samples):
            self.writer.write(samples, self.rate)
            self._written += len(samples)


def _speech(samples: NDArray[np.float32]) -> tuple[int, int]:
    """Where the speech in a piece starts and ends (all silence: an empty range)."""
    level = np.abs(samples)
    peak = float(level.max()) if len(level) else 0.0
    loud = np.flatnonzero(level > max(peak * 10 ** (_QUIET_DB / 20), 1e-4))
    if len(loud) == 0:
        return len(samples), len(samples)
    return int(loud[0]), int(loud[-1]) + 1


def _faded(samples: NDArray[np.float32], *, out: bool, length: int | None = None
           ) -> NDArray[np.float32]:
    """``samples`` with a linear fade (out: over all of them; in: over the first ``length``)."""
    result = samples.astype(np.float32, copy=True)
    count = len(result) if out else min(length or 0, len(result))
    ramp = np.linspace(0.0, 1.0, count, endpoint=False, dtype=np.float32)
    if out:
        result *= ramp[::-1]
    else:
        result[:count] *= ramp
    return result
