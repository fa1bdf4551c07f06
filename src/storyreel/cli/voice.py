"""The voice commands: ``voices``, ``say`` and ``narrate``, and the render's voice flags."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from storyreel.model.project import ENGINES, MAX_SPEED, MIN_SPEED, Voice

__all__ = ["add_voice_commands", "cmd_narrate", "cmd_say", "cmd_voices", "voice_flags",
           "voice_overrides"]


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(f"speed must be {MIN_SPEED:g}-{MAX_SPEED:g}")
    return value


def voice_flags(parser: argparse.ArgumentParser | Any, *,
                language_flag: str = "--language") -> None:
    """The voice flags; their ranges come from the model.

    Args:
        parser: The parser or argument group to add them to.
        language_flag: The flag of the voice's own language: ``--voice-language`` where
            ``--language`` names the language of the text (``render``).
    """
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="voice engine for segments without a recording (default hibari)")
    parser.add_argument("--voice", default=None, help="voice name (see: storyreel voices)")
    parser.add_argument("--speed", type=_speed, default=None,
                        help=f"speaking rate {MIN_SPEED:g}-{MAX_SPEED:g} (default 1.0)")
    parser.add_argument(language_flag, dest="voice_language", default=None,
                        help="the voice's language code, e.g. en-us")
    parser.add_argument("--voice-model", type=Path, default=None, metavar="FILE",
                        help="Kokoro or Piper model file (.onnx)")
    parser.add_argument("--voice-file", type=Path, default=None, metavar="FILE",
                        help="Kokoro voices file (voices-v1.0.bin)")


def voice_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``settings.voice`` fields given on the command line."""
    given = {"engine": args.engine, "voice": args.voice, "speed": args.speed,
             "language": args.voice_language,
             "model": str(args.voice_model.expanduser().absolute()) if args.voice_model else None,
             "voices": str(args.voice_file.expanduser().absolute()) if args.voice_file else None}
    return {key: value for key, value in given.items() if value is not None}


def add_voice_commands(sub: Any) -> None:
    """Register ``voices``, ``say`` and ``narrate``."""
    voices = sub.add_parser("voices", help="list voice engines, their voices and what is missing")
    voices.add_argument("--voice-model", type=Path, default=None, metavar="FILE",
                        help="Kokoro or Piper model file to check")
    voices.add_argument("--voice-file", type=Path, default=None, metavar="FILE",
                        help="Kokoro voices file to check")
    say = sub.add_parser("say", help="speak a text to a WAV file, to audition a voice")
    say.add_argument("text", help="what to say")
    say.add_argument("-o", "--output", type=Path, required=True, help="WAV file to write")
    voice_flags(say)
    narrate = sub.add_parser("narrate", help="write the narration WAV of every segment that has "
                                             "text but no recording, beside the manifest")
    narrate.add_argument("manifest", type=Path)
    voice_flags(narrate)


def cmd_voices(args: argparse.Namespace, console: Console) -> int:
    """Print every engine: ready or not (and why), its voices and languages."""
    from storyreel.voice.engines import engine_statuses

    fields = {"model": args.voice_model, "voices": args.voice_file}
    base = Voice(**{k: str(v.expanduser().absolute()) for k, v in fields.items() if v})
    for status in engine_statuses(base):
        state = f"ready ({status.version})" if status.ready else "not available"
        print(f"{status.name}: {state}")
        if not status.ready:
            print(f"  why: {status.reason}")
            print(f"  to use it: {status.hint}")
        if status.name == "espeak" and status.ready:  # one voice per language: too many to list
            print("  the fallback voice: speaks text in a language no other voice here speaks")
            print(f"  languages: {', '.join(status.languages)}")
            continue
        for voice in status.voices:
            mark = "" if voice.available else "  [not installed]"
            print(f"  {voice.name:<14} {voice.language:<6} {voice.description}{mark}")
        if status.languages:
            print(f"  languages: {', '.join(status.languages)}")
    return 0


def cmd_say(args: argparse.Namespace, console: Console) -> int:
    """Speak ``args.text`` into ``args.output``."""
    from storyreel.voice.narrate import Narrator, export_narration

    voice = Voice(**voice_overrides(args))
    narration = Narrator().speak(args.text, voice)
    export_narration(narration.entry, args.output)
    console.print(f"Wrote {args.output} ({narration.seconds:.1f} s)", markup=False)
    return 0


def cmd_narrate(args: argparse.Namespace, console: Console) -> int:
    """Write ``narration/NN.wav`` beside the manifest for each segment without a recording."""
    from storyreel.errors import ValidationFailed, VoiceError
    from storyreel.model.load import load_project
    from storyreel.voice.narrate import Narrator, export_narration, needs_voice

    project = load_project(args.manifest)
    base = project.settings.voice.model_copy(update=voice_overrides(args))
    folder = project.base_dir / "narration"
    narrator = Narrator()
    problems = []
    for number, segment in enumerate(project.segments, start=1):
        if not needs_voice(segment):
            print(f"segment {number}: skipped, it has a recording ({segment.audio})")
            continue
        try:
            narration = narrator.speak(segment.text, segment.voice_of(base), number)
        except VoiceError as exc:
            problems.append(exc.problem)
            continue
        target = folder / f"{number:02d}.wav"
        export_narration(narration.entry, target)
        print(f"segment {number}: wrote {target} ({narration.seconds:.1f} s)")
    if problems:
        raise ValidationFailed(problems)
    return 0
