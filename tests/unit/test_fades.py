"""Equal-power fade curves evaluated per block at absolute sample positions."""

from __future__ import annotations

import numpy as np
import pytest

from storyreel.audio.fades import (
    FadeDirection,
    apply_fade,
    block_positions,
    crossfade,
    equal_power_in,
    equal_power_out,
)

RATE = 48_000


def _blocks(total: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(size, total - start)) for start in range(0, total, size)]


def test_in_and_out_keep_constant_power_everywhere() -> None:
    positions = np.arange(-500, 30_000)
    gain_in = equal_power_in(positions, 1_000, 24_000).astype(np.float64)
    gain_out = equal_power_out(positions, 1_000, 24_000).astype(np.float64)
    np.testing.assert_allclose(gain_in**2 + gain_out**2, 1.0, atol=1e-6)


def test_curves_start_and_end_at_the_right_levels() -> None:
    start, length = 2_000, 4_800
    positions = np.arange(0, 10_000)
    gain_in = equal_power_in(positions, start, length)
    gain_out = equal_power_out(positions, start, length)
    assert np.all(gain_in[: start + 1] == 0.0)
    assert np.all(gain_in[start + length :] == 1.0)
    assert np.all(gain_out[: start + 1] == 1.0)
    assert np.all(gain_out[start + length :] == 0.0)
    assert np.all(np.diff(gain_in) >= 0) and np.all(np.diff(gain_out) <= 0)
    middle = start + length // 2
    assert gain_in[middle] == pytest.approx(np.sqrt(0.5), abs=1e-4)  # -3 dB at the midpoint
    assert gain_out[start + length - 1] < 1e-3  # last sample of a fade-out is nearly silent


def test_zero_length_fade_is_a_cut() -> None:
    positions = np.arange(90, 110)
    np.testing.assert_array_equal(equal_power_in(positions, 100, 0), (positions >= 100) * 1.0)
    np.testing.assert_array_equal(equal_power_out(positions, 100, 0), (positions < 100) * 1.0)


@pytest.mark.parametrize("direction", ["in", "out"])
@pytest.mark.parametrize("size", [1, 7, 1_600, 4_801])
def test_apply_fade_does_not_depend_on_block_size(direction: FadeDirection, size: int) -> None:
    rng = np.random.default_rng(3)
    track = rng.uniform(-1, 1, (2, 12_000)).astype(np.float32)
    whole = apply_fade(track, 0, 3_000, 6_000, direction)
    pieces = [
        apply_fade(track[:, start : start + n], start, 3_000, 6_000, direction)
        for start, n in _blocks(track.shape[1], size)
    ]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)
    assert whole.dtype == np.float32 and whole.shape == track.shape


def test_apply_fade_silences_outside_the_faded_part() -> None:
    block = np.ones((2, 1_000), dtype=np.float32)
    faded_in = apply_fade(block, 10_000, 10_500, 200, "in")
    assert np.all(faded_in[:, :501] == 0) and np.all(faded_in[:, 700:] == 1)
    faded_out = apply_fade(block, 10_000, 10_500, 200, "out")
    assert np.all(faded_out[:, :501] == 1) and np.all(faded_out[:, 700:] == 0)
    assert np.all(block == 1)  # the input is left alone


def test_apply_fade_rejects_an_unknown_direction() -> None:
    with pytest.raises(ValueError, match="direction"):
        apply_fade(np.ones((2, 4), dtype=np.float32), 0, 0, 4, "sideways")  # type: ignore[arg-type]


def test_crossfade_of_uncorrelated_sounds_keeps_their_power() -> None:
    rng = np.random.default_rng(5)
    n = RATE
    first = rng.standard_normal((2, n)).astype(np.float32) * 0.1
    second = rng.standard_normal((2, n)).astype(np.float32) * 0.1
    mixed = crossfade(first, second, 0, 0, n)
    windows = mixed.reshape(2, 10, -1)
    levels = 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=(0, 2)) / 0.01)
    assert np.max(np.abs(levels)) < 0.3  # a linear crossfade would dip 3 dB in the middle
    np.testing.assert_array_equal(mixed[:, 0], first[:, 0])
    with pytest.raises(ValueError, match="shape"):
        crossfade(first, second[:, :10], 0, 0, n)


def test_block_positions_are_absolute() -> None:
    np.testing.assert_array_equal(block_positions(4_800, 3), [4_800, 4_801, 4_802])
    assert block_positions(0, 0).size == 0
