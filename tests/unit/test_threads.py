"""Render processes keep BLAS and OpenCV on the calling thread; other commands do not.

Each case runs in a fresh process: the settings are the process's own.
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

    main(sys.argv[1:])
    import scipy.linalg  # SciPy's own OpenBLAS, loaded after the command started
    print(json.dumps({
        "opencv": cv2.getNumThreads(),
        "blas": sorted({i["num_threads"] for i in threadpool_info()
                        if i["user_api"] == "blas"}),
        "blas_libraries": len([i for i in threadpool_info() if i["user_api"] == "blas"]),
        "env": os.environ.get("OPENBLAS_NUM_THREADS"),
    }))
""")

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                                reason="one core: the pools have one thread anyway")


def _pools_after(*argv: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")}
    done = subprocess.run([sys.executable, "-c", _CHILD, *argv], capture_output=True,
                          text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_render_process_runs_blas_and_opencv_on_the_calling_thread(tmp_path: Path) -> None:
    # A manifest that does not exist: the command fails after the process is set up.
    found = _pools_after("render", str(tmp_path / "missing.json"), "-o",
                         str(tmp_path / "out.mp4"), "--quiet")
    assert found["opencv"] == 1
    assert found["blas"] == [1]
    assert isinstance(found["blas_libraries"], int) and found["blas_libraries"] >= 2
    assert found["env"] == "1"
    assert not (tmp_path / "out.mp4").exists()


def test_other_commands_keep_the_libraries_defaults() -> None:
    found = _pools_after("schema")
    assert found["opencv"] != 1
    assert found["blas"] != [1]
    assert found["env"] is None
