"""A draft's loudness gain, from its narrations measured one by one and remembered.

A final render measures the whole mix before it sets the gain: exact, and a pass over
the whole sound track after any change. A draft takes the gain from its narrations
alone. Each narration's K-weighted gating blocks are measured once and kept under the
hash of its contents, so after an edit only the new narration is measured; joined,
they give the narrations' integrated loudness (the gates drop the silence between
them). Music, a clip's own sound and the fades are left out: under the voice they move
the loudness little, so a draft lands within :data:`DRAFT_LOUDNESS_TOLERANCE` of the
target where the narration carries the sound (the final render's tolerance is the
meter's own). The limiter still holds a draft's peaks under the ceiling.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storyreel.audio.limiter import normalise_gain_db
from storyreel.audio.loudness import LoudnessMeter, gated_loudness
from storyreel.media.audio import CHANNELS, SAMPLE_RATE, AudioReader
from storyreel.model.project import Project
from storyreel.render.analysis import FactStore

__all__ = ["DRAFT_LOUDNESS_TOLERANCE", "DraftGain", "draft_gain"]

#: How far (LU) a draft's integrated loudness may land from the target on a narrated
#: project with music under the voice.
DRAFT_LOUDNESS_TOLERANCE = 1.5
# Bump when what is kept changes.
_VERSION = 1
#: Silence measured before and after a narration: a gating block's length, less a step.
_EDGE_SECONDS = 0.3


@dataclass(frozen=True)
class DraftGain:
    """The gain a draft applies, and how it was found.

    Attributes:
        gain_db: Gain to apply to the mix.
        lufs: The narrations' integrated loudness (``-inf``: none, or silent).
        measured: Narrations decoded and measured for it.
        recalled: Narrations whose blocks came from the store.
    """

    gain_db: float
    lufs: float
    measured: int
    recalled: int


def draft_gain(project: Project, store: FactStore | None,
               digest: Callable[[Path], str]) -> DraftGain:
    """The gain that brings the project's narrations to its loudness target.

    Args:
        project: A project whose narrated segments all have their recording.
        store: Keeps each narration's blocks by its contents' hash (``None``: measure all).
        digest: Hashes a file's contents.
    """
    parts: list[np.ndarray] = []
    measured = recalled = 0
    for number, segment in enumerate(project.segments, start=1):
        if segment.audio is None:
            continue
        key = _key(digest(segment.audio))
        kept = store.recall(key) if store is not None else None
        blocks = _blocks_from(kept)
        if blocks is None:
            blocks = _measure(segment.audio, number)
            measured += 1
            if store is not None:
                store.remember(key, {"blocks": blocks.tolist()})
        else:
            recalled += 1
        parts.append(blocks)
    lufs = gated_loudness(np.concatenate(parts)) if parts else -math.inf
    gain = normalise_gain_db(lufs, project.settings.loudness.target)
    return DraftGain(gain, lufs, measured, recalled)


def _key(content: str) -> str:
    return hashlib.sha256(f"narration-blocks:{_VERSION}:{content}".encode()).hexdigest()


def _measure(path: Path, number: int) -> np.ndarray:
    """The narration's gating blocks, with silence around it so that the blocks across its
    ends count as they do in the mix."""
    meter = LoudnessMeter(true_peak=False)
    edge = np.zeros((CHANNELS, round(_EDGE_SECONDS * SAMPLE_RATE)), dtype=np.float32)
    meter.add(edge)
    with AudioReader(path, segment=number) as reader:
        for block in reader.blocks():
            meter.add(block)
    meter.add(edge)
    return meter.block_powers()


def _blocks_from(kept: dict[str, object] | None) -> np.ndarray | None:
    """The kept blocks, or ``None`` when there are none or they do not read."""
    if kept is None or not isinstance(kept.get("blocks"), list):
        return None
    try:
        blocks = np.asarray(kept["blocks"], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if blocks.ndim != 1 or not np.all(np.isfinite(blocks)) or np.any(blocks < 0):
        return None
    return blocks
