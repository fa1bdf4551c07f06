"""``python -m bench.voice_limits``: what the hardest texts within the limits cost the voice.

Each case speaks one hostile text with the built-in voice, through the narration cache
(speech, word timings and the cached file, as a render does), in a child process whose
peak resident memory and wall time are measured. The cases:

* **run-on**: words with no punctuation at all (one endless sentence);
* **marks-spread**: letters each carrying a combining acute accent (NFD text);
* **marks-stacked**: one word whose letter carries thousands of combining marks;
* **emoji-spaced** and **emoji-glued**: emoji between words, and glued into one token.

A case is stopped after ``--timeout`` seconds or at ``--max-mb`` of resident memory
(the table then says so and shows what it had reached).

``--source`` runs the cases against another checkout's ``src`` (e.g. an older commit
unpacked with ``git archive``), for before/after figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.measure import child_env, high_water_mark

__all__ = ["CASES", "main", "text_of"]

_WORDS = ["the", "old", "river", "kept", "running", "past", "the", "quiet", "town", "and",
          "over", "the", "hills"]


def _run_on(size: int) -> str:
    words = (_WORDS[i % len(_WORDS)] for i in range(size))
    return " ".join(words)[:size].strip()


def _marks_spread(size: int) -> str:
    return "Say " + "a\u0301" * size + " now."


def _marks_stacked(size: int) -> str:
    return "Say a" + "\u0301" * size + " now."


def _emoji_spaced(size: int) -> str:
    return " ".join(f"{_WORDS[i % len(_WORDS)]} \U0001F600" for i in range(size))


def _emoji_glued(size: int) -> str:
    return "Look " + "\U0001F600\U0001F3FD" * (size // 2) + " there."


#: Case name -> text of a given size (characters, marks or emoji).
CASES: dict[str, Callable[[int], str]] = {
    "run-on": _run_on, "marks-spread": _marks_spread, "marks-stacked": _marks_stacked,
    "emoji-spaced": _emoji_spaced, "emoji-glued": _emoji_glued,
}


def text_of(case: str, size: int) -> str:
    """The text of ``case`` at ``size``."""
    return CASES[case](size)


def _speak(case: str, size: int) -> None:
    """In the child: speak the text into a fresh cache and print what it cost."""
    from storyreel.model.project import Voice
    from storyreel.voice.cache import NarrationCache
    from storyreel.voice.narrate import Narrator

    text = text_of(case, size)
    with tempfile.TemporaryDirectory() as folder:
        narrator = Narrator(NarrationCache(Path(folder)))
        start = time.perf_counter()
        try:
            seconds = f"{narrator.speak(text, Voice()).seconds:.0f} s of speech"
        except Exception as exc:  # the figure is what it cost, whatever the outcome
            seconds = f"{type(exc).__name__}: {str(exc)[:80]}"
        wall = time.perf_counter() - start
    peak = high_water_mark() // 2**20  # MiB (VmHWM: ru_maxrss carries a forked parent's size)
    print(f"{case}\t{size}\t{len(text)}\t{wall:.1f}\t{peak}\t{seconds}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run every case (or those named) in a child process and print a Markdown table."""
    parser = argparse.ArgumentParser(prog="python -m bench.voice_limits")
    parser.add_argument("cases", nargs="*", metavar="CASE=SIZE",
                        default=["run-on=8000", "run-on=20000", "marks-spread=9995",
                                 "marks-stacked=10000", "emoji-spaced=2000",
                                 "emoji-glued=10000"])
    parser.add_argument("--source", type=Path, help="a checkout's src folder to measure")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds a case may run before it is stopped")
    parser.add_argument("--max-mb", type=float, default=6000.0,
                        help="resident memory (MB) at which a case is stopped")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _speak(args.child[0], int(args.child[1]))
        return 0
    env = child_env()
    if args.source:
        env["PYTHONPATH"] = os.pathsep.join((str(args.source.resolve()), env["PYTHONPATH"]))
    print("| case | size | characters | wall (s) | peak RSS (MB) | result |")
    print("|---|---:|---:|---:|---:|---|")
    for spec in args.cases:
        case, size = spec.split("=")
        print(_measure(case, int(size), env, args.timeout, args.max_mb * 1e6))
        sys.stdout.flush()
    return 0


def _measure(case: str, size: int, env: dict[str, str], timeout: float, most: float) -> str:
    """One case in a child: its table row, with the peak reached even when it is stopped
    (after ``timeout`` seconds, or at ``most`` bytes: a shared machine is not run out of
    memory)."""
    command = [sys.executable, "-m", "bench.voice_limits", "--child", case, str(size)]
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    peak = 0
    try:
        while (child.poll() is None and time.perf_counter() - start < timeout
               and peak < most):
            peak = max(peak, high_water_mark(child.pid))
            time.sleep(0.2)
        stopped = child.poll() is None
    finally:
        if child.poll() is None:
            child.kill()
        out, _ = child.communicate()
    wall = time.perf_counter() - start
    if stopped:
        why = f"at {peak / 1e6:.0f} MB" if peak >= most else f"after {timeout:.0f} s"
        return (f"| {case} | {size} | {len(text_of(case, size))} | > {wall:.0f} | "
                f"> {peak / 1e6:.0f} | stopped {why} |")
    row = out.strip().splitlines()[-1].split("\t")
    return f"| {case} | {size} | {row[2]} | {wall:.1f} | {int(row[4]) * 1.048576:.0f} | {row[5]} |"


if __name__ == "__main__":
    sys.exit(main())
