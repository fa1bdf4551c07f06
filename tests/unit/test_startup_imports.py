"""Start-up: what importing the package and starting a render loads on the main thread.

Forced alignment brings Numba and pocketsphinx; a render whose narrations are aligned
while the first parts are encoded imports them on the thread that aligns, and
``storyreel --help`` never needs them. Finding words needs none of SciPy's signal,
FFT and sparse packages (0.8 s to import, before the first frame).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

_HEAVY = ("scipy.signal", "scipy.fft", "scipy.sparse", "numba", "storyreel.audio.align",
          "storyreel.audio.dtw", "pocketsphinx")


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
    assert {"storyreel.audio.align", "numba"} <= aligned
    assert not aligned & {"scipy.signal", "scipy.fft", "scipy.sparse"}


def test_finding_a_narrations_speech_and_words_imports_none_of_scipys_heavy_parts(
        tmp_path: Path) -> None:
    """Speech detection, resampling for pocketsphinx, pocketsphinx's alignment and the
    warp, on real speech (the built-in voice, made beforehand in this process)."""
    from storyreel.voice.hibari import HibariEngine

    text = "We left the harbour before dawn, when the water was still."
    speech = HibariEngine().synthesise(text, "heart", 1.0)
    recording = tmp_path / "speech.npy"
    np.save(recording, speech.samples.astype(np.float32))
    code = f"""
import numpy as np
from storyreel.audio.align import align_narration
from storyreel.audio.speech import narration_speech
from storyreel.render.analysis import new_aligner
from storyreel.voice.speaker import resample_to
mono = resample_to(np.load({str(recording)!r}), {speech.rate}, 48_000)
length, speech = narration_speech([mono[None, :]])
assert length == mono.size and speech, speech
timings, why = align_narration({text!r}, mono, speech, new_aligner())
assert why is None and timings.source == "aligned", (why, timings.source)
assert len(timings.words) == {len(text.split())}
"""
    loaded = _loaded_after(code)
    assert {"storyreel.audio.align", "storyreel.audio.dtw", "pocketsphinx"} <= loaded
    assert not loaded & {"scipy.signal", "scipy.fft", "scipy.sparse"}
