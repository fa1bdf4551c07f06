"""Start-up: what importing the package and starting a render loads on the main thread.

Forced alignment brings Numba and SciPy's signal tools (over a second of CPU at every
start); a render whose narrations are aligned while the first parts are encoded
imports them on the thread that aligns, and ``storyreel --help`` never needs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_HEAVY = ("scipy.signal", "numba", "storyreel.audio.align", "storyreel.audio.dtw",
          "pocketsphinx")


def _loaded_after(code: str) -> set[str]:
    """The heavy modules loaded once ``code`` has run in a fresh interpreter."""
    report = f"print(json.dumps(sorted(set(sys.modules) & {set(_HEAVY)!r})))"
    probe = f"{code}\nimport json, sys\n{report}"
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, check=True, timeout=120)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_package_and_the_cli_loads_no_aligner() -> None:
    assert _loaded_after("import storyreel, storyreel.cli.main") == set()


def test_a_render_job_imports_the_aligner_only_when_it_aligns() -> None:
    code = ("import storyreel.render.job, storyreel.render.ahead, storyreel.voice.narrate, "
            "storyreel.voice.speaker")
    assert _loaded_after(code) == set()
    aligned = _loaded_after("from storyreel.render.analysis import new_aligner\nnew_aligner()")
    assert {"storyreel.audio.align", "scipy.signal"} <= aligned
