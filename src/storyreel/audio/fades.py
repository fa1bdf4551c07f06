"""Equal-power fade curves for audio blocks, addressed by absolute sample positions.

A fade is described once on the timeline (``start`` sample and ``length`` in
samples) and evaluated on whatever block is being streamed, so the same fade gives
the same gains however the track is cut into blocks. The curves are a quarter sine
and cosine: the fade-in and fade-out gains at any position satisfy
``in**2 + out**2 == 1``, which keeps the power of two uncorrelated sounds constant
through a crossfade (no dip in the middle, as a linear crossfade would give).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "FadeDirection",
    "apply_fade",
    "block_positions",
    "crossfade",
    "equal_power_in",
    "equal_power_out",
]

FadeDirection = Literal["in", "out"]
"""``"in"`` rises from silence to full level, ``"out"`` falls from full level to silence."""

Positions = NDArray[np.integer[Any]]
Gains = NDArray[np.float32]
Samples = NDArray[np.float32]


def block_positions(block_start: int, length: int) -> NDArray[np.int64]:
    """The absolute sample positions of a block of ``length`` samples at ``block_start``."""
    return np.arange(block_start, block_start + length, dtype=np.int64)


def _phase(positions: Positions, start: int, length: int) -> NDArray[np.float64]:
    """Fade progress in [0, 1]: 0 at ``start`` and before, 1 from ``start + length`` on."""
    offset = positions.astype(np.float64) - float(start)
    if length <= 0:
        return (offset >= 0).astype(np.float64)
    return np.clip(offset / float(length), 0.0, 1.0)


def equal_power_in(positions: Positions, start: int, length: int) -> Gains:
    """Fade-in gains: 0 before ``start``, rising as a quarter sine, 1 from ``start + length``.

    Args:
        positions: Absolute sample positions (any shape).
        start: First sample of the fade.
        length: Fade length in samples; 0 gives a cut at ``start``.

    Returns:
        Gains in [0, 1], float32, same shape as ``positions``.
    """
    return np.sin(_phase(positions, start, length) * (np.pi / 2)).astype(np.float32)


def equal_power_out(positions: Positions, start: int, length: int) -> Gains:
    """Fade-out gains: 1 before ``start``, falling as a quarter cosine, 0 from ``start + length``.

    Args:
        positions: Absolute sample positions (any shape).
        start: First sample of the fade.
        length: Fade length in samples; 0 gives a cut at ``start``.

    Returns:
        Gains in [0, 1], float32, same shape as ``positions``; at every position
        ``equal_power_in(...)**2 + equal_power_out(...)**2 == 1`` for the same fade.
    """
    # sin of the remaining phase rather than cos, so the end of the fade is exactly 0.
    return np.sin((1.0 - _phase(positions, start, length)) * (np.pi / 2)).astype(np.float32)


def apply_fade(
    block: Samples,
    block_start: int,
    fade_start: int,
    fade_len: int,
    direction: FadeDirection,
) -> Samples:
    """Apply a fade to one block of a longer track.

    Samples before a fade-in are silenced and samples after a fade-out are silenced,
    so a fade-out at the end of a video also mutes anything past it.

    Args:
        block: Samples of shape ``(channels, n)``.
        block_start: Absolute position of the block's first sample.
        fade_start: Absolute position where the fade begins.
        fade_len: Fade length in samples.
        direction: ``"in"`` or ``"out"``.

    Returns:
        A new float32 array of the same shape (the input is not modified).
    """
    n = block.shape[-1]
    if direction not in ("in", "out"):
        raise ValueError(f"fade direction must be 'in' or 'out', not {direction!r}")
    positions = block_positions(block_start, n)
    curve = equal_power_in if direction == "in" else equal_power_out
    return (block * curve(positions, fade_start, fade_len)).astype(np.float32, copy=False)


def crossfade(
    outgoing: Samples,
    incoming: Samples,
    block_start: int,
    fade_start: int,
    fade_len: int,
) -> Samples:
    """Equal-power crossfade of two blocks covering the same positions.

    Args:
        outgoing: Samples of shape ``(channels, n)`` that fade out.
        incoming: Samples of the same shape that fade in.
        block_start: Absolute position of the blocks' first sample.
        fade_start: Absolute position where the crossfade begins.
        fade_len: Crossfade length in samples.

    Returns:
        ``outgoing * out + incoming * in`` as a new float32 array.
    """
    if outgoing.shape != incoming.shape:
        raise ValueError(f"crossfade blocks differ in shape: {outgoing.shape} vs {incoming.shape}")
    positions = block_positions(block_start, outgoing.shape[-1])
    gain_in = equal_power_in(positions, fade_start, fade_len)
    gain_out = equal_power_out(positions, fade_start, fade_len)
    return (outgoing * gain_out + incoming * gain_in).astype(np.float32, copy=False)
