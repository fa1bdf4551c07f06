"""Render processes keep BLAS and OpenCV on the calling thread; other commands, and a
count the user set, are left alone.

Each case runs in a fresh process: the settings are the process's own. Each is compared
with a process that only imports the CLI (the libraries' own defaults for this machine's
CPUs, affinity and limits).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_CHILD = textwrap.dedent("""
    import json, os, sys
    import cv2
    from threadpoolctl import threadpool_info
    from storyreel.cli.main import main

    if sys.argv[1:]:
        main(sys.argv[1:])
    import scipy.linalg  # SciPy's own OpenBLAS, loaded after the command started
    print(json.dumps({
        "opencv": cv2.getNumThreads(),
        "blas": sorted({i["num_threads"] for i in threadpool_info()
                        if i["user_api"] == "blas"}),
        "env": os.environ.get("OPENBLAS_NUM_THREADS"),
    }))
""")

_OURS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")


def _pools_after(*argv: str, env: dict[str, str] | None = None) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    done = subprocess.run([sys.executable, "-c", _CHILD, *argv], capture_output=True,
                          text=True, timeout=300, check=False, env={**clean, **(env or {})})
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def defaults() -> dict[str, object]:
    found = _pools_after()
    if found["opencv"] == 1 and found["blas"] == [1]:
        pytest.skip("one CPU for this process: the pools have one thread anyway")
    return found


def _render(tmp_path: Path) -> tuple[str, ...]:
    # A manifest that does not exist: the command fails after the process is set up.
    return ("render", str(tmp_path / "missing.json"), "-o", str(tmp_path / "out.mp4"),
            "--quiet")


def test_a_render_process_runs_blas_and_opencv_on_the_calling_thread(
        tmp_path: Path, defaults: dict[str, object]) -> None:
    found = _pools_after(*_render(tmp_path))
    assert found == {"opencv": 1, "blas": [1], "env": "1"}
    assert not (tmp_path / "out.mp4").exists()


def test_other_commands_keep_the_libraries_defaults(defaults: dict[str, object]) -> None:
    assert _pools_after("schema") == defaults


def test_a_count_the_user_set_is_kept(tmp_path: Path, defaults: dict[str, object]) -> None:
    found = _pools_after(*_render(tmp_path),
                         env={"OPENBLAS_NUM_THREADS": "2", "OPENCV_FOR_THREADS_NUM": "2"})
    assert found == {"opencv": 2, "blas": [2], "env": "2"}
