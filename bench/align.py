"""``python -m bench.align``: how well word timings match speech whose boundaries are known.

Each word of a sentence is synthesised on its own by a voice (Debian's ``flite`` voices
in English; espeak-ng from the ``espeakng-loader`` wheel in English, Spanish, German and
French; storyreel's built-in hibari voice in English), trimmed of its silence and joined to the next
with a random gap of 50-300 ms, so where every word starts is known to the sample.
The joined recording is then timed as a recorded narration is (``align_narration``)
and every word's start is compared with where it was put.

Reported per voice and language: the median and 95th percentile of the word-start
error, and the share of segments whose timings fell back to estimates.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from storyreel.audio.align import Aligner, align_narration
from storyreel.audio.speech import narration_speech
from storyreel.errors import VoiceError
from storyreel.media import espeak
from storyreel.voice.speaker import resample_to

__all__ = ["SENTENCES", "Case", "Voice", "espeak_voice", "flite_voice", "hibari_voice",
           "known_speech", "main", "measure", "voices"]

RATE = 48_000
SENTENCES: dict[str, tuple[str, ...]] = {
    "en": ("The storm came in from the sea before anyone could close the shutters.",
           "Nobody in the village slept that night.",
           "By morning the harbour was gone and the boats lay in the fields.",
           "Her grandmother kept a lamp burning in the window for the fishermen.",
           "They rebuilt the wall with stones carried up from the beach.",
           "A small brown dog followed the children to school every day.",
           "The old lighthouse keeper wrote letters that nobody ever answered.",
           "When the river froze the whole town walked across it to the market.",
           "Please bring warm bread and honey when you visit tomorrow.",
           "Quiet streets filled with music as the festival began."),
    "es": ("La tormenta llegó del mar antes de que nadie cerrara las ventanas.",
           "Nadie en el pueblo durmió aquella noche.",
           "Por la mañana el puerto había desaparecido por completo.",
           "Su abuela dejaba una lámpara encendida para los pescadores.",
           "Los niños caminaban juntos hasta la escuela cada mañana.",
           "Cuando el río se heló todo el pueblo cruzó hasta el mercado."),
    "de": ("Der Sturm kam vom Meer, bevor jemand die Fenster schließen konnte.",
           "Niemand im Dorf hat in dieser Nacht geschlafen.",
           "Am Morgen war der Hafen verschwunden und die Boote lagen auf den Feldern.",
           "Ihre Großmutter ließ eine Lampe für die Fischer brennen.",
           "Die Kinder gingen jeden Morgen zusammen zur Schule.",
           "Als der Fluss gefror, ging die ganze Stadt zu Fuß zum Markt."),
    "fr": ("La tempête est venue de la mer avant que quiconque ferme les volets.",
           "Personne au village n'a dormi cette nuit-là.",
           "Au matin le port avait disparu et les bateaux gisaient dans les champs.",
           "Sa grand-mère laissait une lampe allumée pour les pêcheurs.",
           "Les enfants marchaient ensemble jusqu'à l'école chaque matin.",
           "Quand la rivière a gelé toute la ville a marché jusqu'au marché."),
}
FLITE_VOICES = ("slt", "rms", "awb", "kal")
GAPS = (0.05, 0.3)  # seconds of silence between words, drawn uniformly


@dataclass(frozen=True)
class Voice:
    """A voice that says one word: returns its mono samples and their rate."""

    name: str
    language: str
    say: Callable[[str], tuple[NDArray[np.float32], int]]


@dataclass(frozen=True)
class Case:
    """One joined recording: its text, samples at 48 kHz and where each word starts."""

    text: str
    samples: NDArray[np.float32]
    starts: tuple[int, ...]


def flite_say(name: str, text: str) -> tuple[NDArray[np.float32], int]:
    """``text`` said by flite's voice ``name``: its samples (-1..1) and their rate."""
    with tempfile.TemporaryDirectory(prefix="flite-") as folder:
        out = Path(folder) / "said.wav"
        subprocess.run(["flite", "-voice", name, "-t", text, "-o", str(out)], check=True,
                       capture_output=True, timeout=60)
        with wave.open(str(out), "rb") as wav:
            rate = wav.getframerate()
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    return (pcm.astype(np.float32) / 32768.0), rate


def flite_voice(name: str) -> Voice:
    """One of Debian's flite voices (``flite -lv`` lists them)."""
    return Voice(f"flite {name}", "en", lambda word: flite_say(name, word))


def espeak_voice(language: str) -> Voice:
    """espeak-ng's voice for ``language`` (from the ``espeakng-loader`` wheel)."""
    def say(word: str) -> tuple[NDArray[np.float32], int]:
        speech = espeak.synthesise(word, language)
        return speech.samples, speech.rate

    return Voice(f"espeak-ng {language}", language, say)


def hibari_voice() -> Voice | None:
    """storyreel's built-in English voice, or ``None`` where it is not installed."""
    try:
        from storyreel.voice.hibari import DEFAULT_VOICE, HibariEngine

        engine = HibariEngine()
    except VoiceError:
        return None

    def say(word: str) -> tuple[NDArray[np.float32], int]:
        speech = engine.synthesise(word, DEFAULT_VOICE, 1.0, "en")
        return speech.samples, speech.rate

    return Voice("hibari", "en", say)


def voices() -> list[Voice]:
    """Every measured voice found on this machine (flite's only where it is installed)."""
    found = [flite_voice(name) for name in FLITE_VOICES] if shutil.which("flite") else []
    found += [espeak_voice(language) for language in ("en", "es", "de", "fr")]
    hibari = hibari_voice()
    return found + ([hibari] if hibari is not None else [])


def _trimmed(samples: NDArray[np.float32]) -> NDArray[np.float32]:
    loud = np.flatnonzero(np.abs(samples) > 0.02 * max(float(np.abs(samples).max()), 1e-6))
    return samples[loud[0]:loud[-1] + 1] if loud.size else samples[:0]


def _plain(word: str) -> str:
    return word.strip(".,;:!?\"'()")


def known_speech(text: str, voice: Voice, rng: np.random.Generator) -> Case:
    """``text`` said word by word by ``voice``, joined with random gaps of :data:`GAPS`."""
    parts: list[NDArray[np.float32]] = [np.zeros(int(0.3 * RATE), np.float32)]
    starts = []
    at = parts[0].size
    for index, word in enumerate(text.split()):
        samples, rate = voice.say(_plain(word))
        spoken = _trimmed(resample_to(samples.astype(np.float32), rate, RATE))
        if index:
            gap = np.zeros(int(rng.uniform(*GAPS) * RATE), np.float32)
            parts.append(gap)
            at += gap.size
        starts.append(at)
        parts.append(spoken)
        at += spoken.size
    parts.append(np.zeros(int(0.3 * RATE), np.float32))
    return Case(text, np.concatenate(parts), tuple(starts))


def measure(case: Case, aligner: Aligner, language: str) -> tuple[list[float], bool]:
    """Each word's start error in ms, and whether the timings fell back to estimates."""
    speech = narration_speech([case.samples[np.newaxis, :]], RATE)[1]
    timings, _ = align_narration(case.text, case.samples, speech, aligner, language)
    errors = [abs(word.start - start) * 1000 / RATE
              for word, start in zip(timings.words, case.starts, strict=True)]
    return errors, timings.source == "estimated"


def run(sentences: int | None = None, seed: int = 7) -> list[dict[str, object]]:
    """One row per voice: its word-start errors and the share of segments estimated."""
    aligner = Aligner()
    rows: list[dict[str, object]] = []
    for voice in voices():
        rng = np.random.default_rng(seed)
        errors: list[float] = []
        fell_back = 0
        texts = SENTENCES[voice.language][:sentences]
        for text in texts:
            found, estimated = measure(known_speech(text, voice, rng), aligner, voice.language)
            errors += found
            fell_back += estimated
        rows.append({"voice": voice.name, "language": voice.language, "segments": len(texts),
                     "words": len(errors),
                     "median_ms": round(statistics.median(errors), 1),
                     "p95_ms": round(float(np.percentile(errors, 95)), 1),
                     "fallback": round(fell_back / len(texts), 2)})
        print(f"{voice.name:>14} {voice.language}: median {rows[-1]['median_ms']} ms, "
              f"p95 {rows[-1]['p95_ms']} ms, fallback {fell_back}/{len(texts)}", flush=True)
    return rows


def table(rows: Sequence[dict[str, object]]) -> str:
    """The rows as a markdown table."""
    lines = ["| voice | language | segments | words | median start error ms | p95 ms | "
             "fallback |", "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['voice']} | {r['language']} | {r['segments']} | {r['words']} | "
              f"{r['median_ms']} | {r['p95_ms']} | {100 * float(str(r['fallback'])):.0f} % |"
              for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every voice, print the table and write ``align.json`` and ``align.md``."""
    parser = argparse.ArgumentParser(prog="python -m bench.align", description=__doc__)
    parser.add_argument("--sentences", type=int, default=None,
                        help="sentences per voice (default all: 10 English, 6 otherwise)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--confidence", action="store_true",
                        help="measure how well each candidate measure of the warp tells "
                             "recordings that speak their text from others (bench.confidence)")
    args = parser.parse_args(argv)
    if args.confidence:
        from bench import confidence

        return confidence.main(args.sentences, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = run(args.sentences)
    (args.out / "align.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    (args.out / "align.md").write_text(table(rows) + "\n", encoding="utf-8")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
