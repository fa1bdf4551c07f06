"""Progress as data: throttled, first and last update of a phase always sent, rate and ETA."""

from __future__ import annotations

import time

import pytest

from storyreel import EXPORT_MESSAGE, Progress
from storyreel.render.progress import ProgressReporter


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)  # the module reads time.monotonic()
    return fake


def test_updates_are_throttled_but_first_and_last_are_sent(clock: Clock) -> None:
    seen: list[Progress] = []
    reporter = ProgressReporter(seen.append, interval=0.1)
    reporter.phase("export", 1000, EXPORT_MESSAGE)
    for done in range(1, 1001):
        clock.now += 0.001  # 1000 frames in 1 s
        reporter.update(done)
    assert seen[0] == Progress("export", 0, 1000, None, None, EXPORT_MESSAGE)
    assert seen[-1].done == 1000
    assert 9 <= len(seen) <= 13, "about one update per 0.1 s plus the first and last"
    dones = [p.done for p in seen]
    assert dones == sorted(dones)
    assert all(p.phase == "export" and p.message == EXPORT_MESSAGE for p in seen)


def test_rate_and_eta(clock: Clock) -> None:
    seen: list[Progress] = []
    reporter = ProgressReporter(seen.append, interval=0.0)
    reporter.phase("export", 300, "Exporting")
    clock.now += 2.0
    reporter.update(100)
    last = seen[-1]
    assert last.rate == pytest.approx(50.0)
    assert last.eta == pytest.approx(4.0)
    assert last.fraction == pytest.approx(1 / 3)


def test_force_bypasses_the_throttle(clock: Clock) -> None:
    seen: list[Progress] = []
    reporter = ProgressReporter(seen.append, interval=10.0)
    reporter.phase("analyse", 5, "Checking media...")
    reporter.update(1)
    reporter.update(2, force=True)
    assert [p.done for p in seen] == [0, 2]


def test_each_phase_starts_with_an_update(clock: Clock) -> None:
    seen: list[Progress] = []
    reporter = ProgressReporter(seen.append, interval=10.0)
    for phase in ("analyse", "export", "verify"):
        reporter.phase(phase, 3, phase)
    assert [(p.phase, p.done) for p in seen] == [("analyse", 0), ("export", 0), ("verify", 0)]


def test_no_callback_is_fine(clock: Clock) -> None:
    reporter = ProgressReporter(None)
    reporter.phase("export", 10, EXPORT_MESSAGE)
    reporter.update(10)


def test_fraction_bounds() -> None:
    assert Progress("export", 0, 0).fraction == 1.0
    assert Progress("export", 5, 4).fraction == 1.0
    assert Progress("export", 1, 4).fraction == 0.25


def test_progress_is_plain_immutable_data() -> None:
    progress = Progress("export", 1, 2, 3.0, 4.0, "m")
    with pytest.raises(AttributeError):
        progress.done = 2  # type: ignore[misc]
    assert EXPORT_MESSAGE == "Exporting final MP4..."
