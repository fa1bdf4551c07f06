"""Atomic output: hidden temp beside the target, os.replace, stale temps swept, OS errors named."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storyreel import DiskFullError, OutputError
from storyreel.errors import output_error
from storyreel.render.output import TEMP_SUFFIX, check_output_dir, publish, sweep_stale, temp_output


def dead_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_is_hidden_beside_the_target_and_removed(tmp_path: Path) -> None:
    target = tmp_path / "story.mp4"
    with temp_output(target) as temp:
        assert temp.parent == tmp_path
        assert temp.name.startswith(".")
        assert temp.name.endswith(TEMP_SUFFIX)
        assert str(os.getpid()) in temp.name
        temp.write_bytes(b"partial")
    assert not temp.exists()
    assert not target.exists()


def test_temp_is_removed_when_the_body_fails(tmp_path: Path) -> None:
    target = tmp_path / "story.mp4"
    with pytest.raises(KeyboardInterrupt), temp_output(target) as temp:
        temp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_two_temps_for_one_target_differ(tmp_path: Path) -> None:
    target = tmp_path / "story.mp4"
    with temp_output(target) as a, temp_output(target) as b:
        assert a != b


def test_publish_replaces_atomically_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "story.mp4"
    target.write_bytes(b"old")
    with temp_output(target) as temp:
        temp.write_bytes(b"new")
        os.chmod(temp, 0o600)
        publish(temp, target)
    assert target.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert list(tmp_path.iterdir()) == [target]


def test_publish_failure_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    target = tmp_path / "story.mp4"

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with temp_output(target) as temp:
        temp.write_bytes(b"x")
        with pytest.raises(OutputError, match="not writable"):
            publish(temp, target)
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_temps_of_dead_processes_only(tmp_path: Path) -> None:
    dead = tmp_path / f".story.mp4.{dead_pid()}-0badc0de{TEMP_SUFFIX}"
    alive = tmp_path / f".story.mp4.{os.getppid()}-0123abcd{TEMP_SUFFIX}"
    mine = tmp_path / f".other.mp4.{os.getpid()}-deadbeef{TEMP_SUFFIX}"
    unrelated = [tmp_path / "story.mp4", tmp_path / ".story.mp4.12-zz.part",
                 tmp_path / f"notes{TEMP_SUFFIX}"]
    for path in (dead, alive, mine, *unrelated):
        path.write_bytes(b"x")
    assert sweep_stale(tmp_path) == [dead]
    assert sorted(tmp_path.iterdir()) == sorted([alive, mine, *unrelated])


def test_sweep_removes_day_old_temps_even_of_live_pids(tmp_path: Path) -> None:
    old = tmp_path / f".story.mp4.{os.getppid()}-0123abcd{TEMP_SUFFIX}"
    old.write_bytes(b"x")
    stamp = time.time() - 2 * 24 * 3600
    os.utime(old, (stamp, stamp))
    assert sweep_stale(tmp_path) == [old]


def test_sweep_of_a_missing_folder_is_harmless(tmp_path: Path) -> None:
    assert sweep_stale(tmp_path / "nope") == []


def test_output_folder_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "story.mp4"
    check_output_dir(target)
    assert target.parent.is_dir()


def test_output_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OutputError) as info:
        check_output_dir(blocker / "out" / "story.mp4")
    assert isinstance(info.value, OSError)
    assert blocker.read_text() == "a file, not a folder"


def test_output_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="folder"):
        check_output_dir(tmp_path)


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (errno.ENOSPC, DiskFullError, "disk full"),
        (errno.EDQUOT, DiskFullError, "disk full"),
        (errno.EACCES, OutputError, "not writable"),
        (errno.EROFS, OutputError, "not writable"),
        (errno.ENOENT, OutputError, "does not exist"),
        (errno.EIO, OutputError, "cannot write"),
    ],
)
def test_os_errors_are_translated_in_words(code: int, kind: type[OutputError], words: str) -> None:
    error = output_error(OSError(code, os.strerror(code)), Path("/x/story.mp4"))
    assert type(error) is kind
    assert words in str(error)
    assert "/x/story.mp4" in str(error)
    assert error.errno == code


def test_temp_name_fits_the_file_system_for_long_targets(tmp_path: Path) -> None:
    # A 250-byte target name is legal (NAME_MAX is 255); its temp name must be too.
    for name in ("a" * 246 + ".mp4", "é" * 123 + ".mp4"):
        target = tmp_path / name
        with temp_output(target) as temp:
            assert len(os.fsencode(temp.name)) <= 255
            temp.write_bytes(b"x")
            publish(temp, target)
        assert target.read_bytes() == b"x"


def test_cleanup_failure_does_not_hide_the_original_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    with pytest.raises(RuntimeError, match="the real failure"):  # noqa: SIM117
        with temp_output(tmp_path / "story.mp4") as temp:
            temp.write_bytes(b"partial")
            monkeypatch.setattr(Path, "unlink", refuse)
            raise RuntimeError("the real failure")
