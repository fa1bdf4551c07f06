"""The track's sounds: each read in order, added where it is placed, and closed."""

from __future__ import annotations

import numpy as np
import pytest

from storyreel.audio.track import Placement, Track
from storyreel.media.audio import CHANNELS


class _Stream:
    """A sound of value ``key + 1`` that records when it is open."""

    open_now = 0
    most_open = 0

    def __init__(self, key: int, fail_on_read: int = 0) -> None:
        self.key, self.fail_on_read, self.reads, self.closes = key, fail_on_read, 0, 0
        _Stream.open_now += 1
        _Stream.most_open = max(_Stream.most_open, _Stream.open_now)

    @property
    def closed(self) -> bool:
        return self.closes > 0

    def read(self, n: int) -> np.ndarray:
        assert not self.closed, "read after close"
        self.reads += 1
        if self.reads == self.fail_on_read:
            raise OSError("the disk went away")
        return np.full((CHANNELS, n), self.key + 1, np.float32)

    def close(self) -> None:
        self.closes += 1
        if self.closes == 1:
            _Stream.open_now -= 1


@pytest.fixture(autouse=True)
def _counts() -> None:
    _Stream.open_now = _Stream.most_open = 0


def test_many_short_sounds_in_one_block_are_open_one_at_a_time() -> None:
    # 45 sounds of 100 samples, 20 apart, all inside one read: as 0.2 s narrations are in
    # a 10 s block of the sound track.
    placements = [Placement(k, 120 * k, 100) for k in range(45)]
    streams: list[_Stream] = []

    def load(key: int) -> _Stream:
        streams.append(_Stream(key))
        return streams[-1]

    track = Track(placements, load, total=120 * 45)
    block = track.read_until(120 * 45)
    assert _Stream.most_open == 1
    assert all(s.closes == 1 for s in streams) and len(streams) == 45
    for k in range(45):
        assert np.all(block[:, 120 * k: 120 * k + 100] == k + 1)
        assert np.all(block[:, 120 * k + 100: 120 * (k + 1)] == 0)


def test_a_sound_going_on_past_a_read_stays_open_until_it_ends() -> None:
    placements = [Placement(0, 0, 300), Placement(1, 50, 20), Placement(2, 100, 20)]
    streams: dict[int, _Stream] = {}

    def load(key: int) -> _Stream:
        streams[key] = _Stream(key)
        return streams[key]

    track = Track(placements, load, total=400)
    first = track.read_until(200)
    assert not streams[0].closed and streams[1].closed and streams[2].closed
    assert _Stream.most_open == 2  # the long one and one short one at a time
    assert np.all(first[:, 50:70] == 1 + 2) and np.all(first[:, 100:120] == 1 + 3)
    rest = track.read_until(400)
    assert streams[0].closed
    assert np.all(rest[:, :100] == 1) and np.all(rest[:, 100:] == 0)


@pytest.mark.parametrize(("failing", "fail_on_read"), [(2, 1), (0, 2)])
def test_a_failing_sound_leaves_nothing_open(failing: int, fail_on_read: int) -> None:
    # A new sound failing on its first read, or a long one on its second while another
    # long one is still open and a short one waits to start.
    placements = [Placement(0, 0, 500), Placement(1, 100, 450), Placement(2, 200, 50),
                  Placement(3, 350, 10)]
    streams: list[_Stream] = []

    def load(key: int) -> _Stream:
        streams.append(_Stream(key, fail_on_read if key == failing else 0))
        return streams[-1]

    track = Track(placements, load, total=600)
    with pytest.raises(OSError, match="disk"):
        track.read_until(300)
        track.read_until(600)
    track.close()  # as the sound track's owner does on error
    assert streams and all(s.closes == 1 for s in streams)
    assert _Stream.open_now == 0
