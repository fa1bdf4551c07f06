"""The streamed mix: exact length and alignment, with and without the limiter's delay."""

from __future__ import annotations

import numpy as np
import pytest

from storyreel.audio.mix import Mix
from storyreel.audio.track import Placement


def impulses(length: int, at: list[int]) -> np.ndarray:
    out = np.zeros((2, length), dtype=np.float32)
    out[:, at] = 0.5
    return out


@pytest.mark.parametrize("ceiling", [None, -1.0])
@pytest.mark.parametrize("step", [1600, 1601, 4000, 20_000])
def test_mix_is_exactly_as_long_as_the_timeline_and_aligned(ceiling: float | None,
                                                            step: int) -> None:
    sound = impulses(8000, [0, 3999, 7999])
    mix = Mix([Placement(0, 4234, 8000), Placement(1, 12_000, 8000)], lambda key: sound,
              20_000, ceiling_dbtp=ceiling)
    blocks = []
    position = 0
    while position < mix.total:
        position = min(position + step, mix.total)
        blocks.append(mix.read_until(position))
    blocks.append(mix.read_until(mix.total))  # asking again for the end adds nothing
    blocks.append(mix.read_until(mix.total + 500))
    out = np.concatenate(blocks, axis=1)
    assert out.shape == (2, 20_000)
    peaks = np.flatnonzero(np.abs(out[0]) > 0.1)
    assert peaks.tolist() == [4234, 8233, 12_000, 12_233, 15_999, 19_999]
