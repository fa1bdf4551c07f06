"""Run a command as a child process and measure wall time, CPU time and peak memory.

Peak memory is the largest sum of resident set sizes of the child and all its
descendants seen while polling (MoviePy runs ffmpeg beside Python, and both count),
and never less than the largest per-process high-water mark (``VmHWM``, exact even
between polls). ``wait4``'s ``ru_maxrss`` is not used: on Linux it carries the
forked parent's size from before ``exec``. CPU time is user + system time of the
child and every descendant it waited for.
"""

from __future__ import annotations

import argparse
import compileall
import functools
import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["BenchmarkFailed", "Sample", "child_env", "emit", "high_water_mark", "output_size",
           "run_measured"]

ROOT = Path(__file__).resolve().parent.parent

_POLL = 0.05


class BenchmarkFailed(RuntimeError):
    """A measured command exited with an error."""


@dataclass(frozen=True)
class Sample:
    """One measured run.

    Attributes:
        wall: Elapsed seconds from start to exit.
        cpu: User + system CPU seconds of the process tree.
        peak_rss_mb: Peak resident memory of the process tree, in MB (10^6 bytes).
        others_load: Share of the machine's CPU capacity (0..1) used by other processes
            during the run; anything above a few percent means the timing was disturbed.
    """

    wall: float
    cpu: float
    peak_rss_mb: float
    others_load: float = 0.0


def emit(result: object, path: Path | None) -> None:
    """Print a benchmark's figures as JSON, and write them to ``path`` when given."""
    text = json.dumps(result, indent=1)
    if path is not None:
        path.write_text(text, encoding="utf-8")
    print(text)


def compile_sources(package: Path) -> None:
    """Write the bytecode of ``package``'s modules, as installing it does.

    A child that finds none compiles every module it imports, on every start (0.1-0.2 s
    for storyreel's CLI), and writes none where ``PYTHONDONTWRITEBYTECODE`` is set: a
    cost an installed copy does not have.
    """
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"{package} does not compile")


@functools.cache
def _storyreel_compiled() -> None:
    import storyreel

    compile_sources(Path(storyreel.__file__).parent)


def child_env() -> dict[str, str]:
    """This environment, with the checkout first on ``PYTHONPATH`` (for ``-m bench.*``
    and ``-m storyreel`` children), and storyreel's bytecode written."""
    _storyreel_compiled()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def output_size(text: str) -> tuple[int, int]:
    """A ``WxH`` command-line argument (both even, as 4:2:0 video needs)."""
    width, height = (int(part) for part in text.lower().split("x"))
    if width % 2 or height % 2:
        raise argparse.ArgumentTypeError("width and height must be even")
    return width, height


def _busy() -> float:
    """CPU seconds all cores have spent busy since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def high_water_mark(pid: int | str = "self") -> int:
    """Peak resident memory of one live process since its ``exec``, in bytes (0 if unknown)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_peak(proc: psutil.Process) -> int:
    """Current total RSS of the tree, or the largest member's high-water mark if higher."""
    total, largest = 0, 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
        largest = max(largest, high_water_mark(member.pid))
    return max(total, largest)


def run_measured(
    command: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
    log: Path | None = None,
) -> Sample:
    """Run ``command`` to completion and measure it.

    Args:
        command: Program and arguments.
        env: Environment for the child (default: inherited).
        cwd: Working directory for the child.
        log: File that receives the child's stdout and stderr.

    Returns:
        The run's :class:`Sample`.

    Raises:
        BenchmarkFailed: The command exited with a non-zero status (its output's tail is shown).
    """
    log_file = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    busy = _busy()
    start = time.perf_counter()
    child = subprocess.Popen(list(command), env=env, cwd=cwd, stdout=log_file,
                             stderr=subprocess.STDOUT)
    try:
        watched = psutil.Process(child.pid)
        peak = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                wall = time.perf_counter() - start
                break
            peak = max(peak, _tree_peak(watched))
            time.sleep(_POLL)
        child.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if child.returncode is None:
            child.kill()
            child.wait()
        if log_file is not subprocess.DEVNULL:
            log_file.close()  # type: ignore[union-attr]
    busy = _busy() - busy
    if child.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log is not None else ""
        raise BenchmarkFailed(f"{' '.join(command)} exited with {child.returncode}\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    others = max(0.0, busy - cpu) / (wall * (psutil.cpu_count() or 1))
    return Sample(wall, cpu, peak / 1e6, min(1.0, others))
