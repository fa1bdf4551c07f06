"""A cache that cannot be written does not stop a render (it goes on without it, with a
warning), and ``cache --clear`` says what it removed and what it could not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import pytest

import storyreel
from storyreel.cli import main
from storyreel.render.cache import PartCache

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from test_cli import make_project


def _frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@contextmanager
def _immutable(folder: Path) -> Iterator[None]:
    """``folder`` and all it holds made unwritable, even for root (chattr +i), for the
    block."""
    made = subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True,
                          check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not available here ({made.stderr.decode().strip()})")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)


def test_a_render_goes_on_without_a_cache_it_cannot_write(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    manifest = make_project(tmp_path / "p", segments=2)
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the cache's folder should be")
    result = storyreel.render(storyreel.load_project(manifest), tmp_path / "a.mp4",
                              cache=PartCache(blocked / "cache"))
    assert _frames(tmp_path / "a.mp4") == result.frames
    assert any("cannot be written" in w and "without it" in w for w in result.warnings)
    assert blocked.read_text().startswith("a file")


def test_a_read_only_cache_is_read_around_not_written(tmp_path: Path) -> None:
    manifest = make_project(tmp_path / "p", segments=2)
    cache = PartCache(tmp_path / "cache")
    first = storyreel.render(storyreel.load_project(manifest), tmp_path / "a.mp4", cache=cache)
    held = cache.stats()
    with _immutable(cache.root):
        again = storyreel.render(storyreel.load_project(manifest), tmp_path / "b.mp4",
                                 cache=cache)
    assert _frames(tmp_path / "b.mp4") == first.frames == again.frames
    assert any("cannot be written" in w for w in again.warnings)
    assert cache.stats().entries == held.entries


def test_cache_clear_says_what_it_could_not_remove(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path, segments=2)
    assert main(["render", str(manifest), "-o", str(tmp_path / "a.mp4")]) == 0
    cache = tmp_path / ".storyreel-cache"
    entries = PartCache(cache).stats().entries
    assert entries > 0
    capsys.readouterr()
    with _immutable(cache / "parts"):
        assert main(["cache", str(manifest), "--clear"]) == 1
        err = capsys.readouterr().err
    parts = len(list((cache / "parts").rglob("*.mp4")))
    assert parts >= 1
    assert f"removed {_entries(entries - parts)}" in err
    assert f"but {_entries(parts)} could not be removed" in err
    assert "cleared" not in err
    assert main(["cache", str(manifest), "--clear"]) == 0
    assert f"cleared, removed {_entries(parts)}" in capsys.readouterr().out


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"
