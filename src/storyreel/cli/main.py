"""Argument parsing and the commands behind it.

Exit codes: 0 success, 2 invalid input or usage, 1 render failure, 130 interrupted.
Errors are one readable line each; ``STORYREEL_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from PIL import Image
from rich.console import Console

from storyreel import __version__
from storyreel._malloc import tune_malloc
from storyreel._threads import one_thread_pools
from storyreel.cli.voice import (
    add_voice_commands,
    cmd_narrate,
    cmd_say,
    cmd_voices,
    voice_flags,
    voice_overrides,
)
from storyreel.credentials import redact, redis_url
from storyreel.errors import (
    ProjectError,
    RenderCancelled,
    RenderError,
    StoryreelError,
    ValidationFailed,
    WorkerError,
)
from storyreel.model.fps import parse_fps
from storyreel.model.platforms import PLATFORM_NAMES
from storyreel.model.project import CAPTION_LOOKS, PRESETS
from storyreel.words import creator_message

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


class _UsageError(Exception):
    pass


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"size {text!r} is not WIDTHxHEIGHT, e.g. 1920x1080") from exc
    return width, height


def _fps(text: str) -> str:
    try:
        parse_fps(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def build_parser() -> argparse.ArgumentParser:
    """The ``storyreel`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="storyreel",
        description="Turn stills, narration and text into an upload-ready MP4.",
    )
    parser.add_argument("--version", action="version", version=f"storyreel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser("render", help="render project manifests to MP4")
    render.add_argument("manifest", type=Path, nargs="*",
                        help="project manifest (JSON); several render one after another")
    render.add_argument("--batch", type=Path, metavar="FILE",
                        help="render the projects a file lists: one manifest per line, or "
                             'JSON Lines ({"manifest": ..., "output": ..., overrides})')
    render.add_argument("--redis", metavar="URL",
                        help="encode the parts and speak the narrations on storyreel workers "
                             "through Redis (redis://host:6379/0); needs storyreel[workers]")
    _redis_file_option(render)
    _render_options(render)
    _cut_options(render)

    validate = sub.add_parser("validate", help="check a manifest and its media, list every problem")
    validate.add_argument("manifest", type=Path)

    demo = sub.add_parser("demo", help="build a sample project and render it")
    demo.add_argument("-o", "--output", type=Path, default=Path("storyreel-demo.mp4"),
                      help="output MP4 (default: ./storyreel-demo.mp4)")
    demo.add_argument("--project-dir", type=Path, default=Path("storyreel-demo"),
                      help="where the sample media and manifest are written")
    _render_options(demo, output=False)

    sub.add_parser("schema", help="print the manifest's JSON Schema")
    export = sub.add_parser("export", help="write the story as an editable timeline "
                                           "(OpenTimelineIO, FCPXML, Kdenlive, EDL)")
    export.add_argument("manifest", type=Path)
    export.add_argument("--to", dest="format", required=True, metavar="FORMAT",
                        help="otio, fcpxml, kdenlive or edl")
    export.add_argument("-o", "--output", type=Path, required=True, help="timeline file")
    export.add_argument("--relative", action="store_true",
                        help="media paths relative to the timeline's folder (default absolute)")
    add_voice_commands(sub)

    cache = sub.add_parser("cache", help="show (or clear) a project's cache of encoded parts")
    cache.add_argument("manifest", type=Path,
                       help="project manifest; its cache is .storyreel-cache/ beside it")
    cache.add_argument("--clear", action="store_true", help="remove every cached part")

    serve = sub.add_parser("serve", help="start the local studio (web page + HTTP API)")
    serve.add_argument("--host", default=os.environ.get("STORYREEL_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("STORYREEL_PORT", "8000")),
                       help="TCP port (default: $STORYREEL_PORT or 8000; 0: any free one, "
                            "shown in the address printed)")
    serve.add_argument("--data-dir", type=Path, default=None,
                       help="data folder (default: $STORYREEL_DATA_DIR or a per-user folder)")
    serve.add_argument("--token", default=None,
                       help="access token, required when binding beyond 127.0.0.1 "
                            "(default: $STORYREEL_TOKEN)")
    serve.add_argument("--max-jobs", type=int, default=1, help="renders run at once (default 1)")
    serve.add_argument("--redis", metavar="URL", default=None,
                       help="encode the renders' parts and speak narrations on storyreel "
                            "workers through this Redis (default: $STORYREEL_REDIS); needs "
                            "storyreel[workers]")
    _redis_file_option(serve)

    mcp = sub.add_parser("mcp", help="serve the studio's projects and renders to agents as "
                                      "MCP tools (stdio); needs storyreel[mcp]")
    mcp.add_argument("--data-dir", type=Path, default=None,
                     help="data folder (default: $STORYREEL_DATA_DIR or a per-user folder)")
    mcp.add_argument("--port", type=int, default=None,
                     help="serve streamable HTTP at http://127.0.0.1:PORT/mcp (loopback "
                          "only; 0: any free port, shown in the address printed) instead of "
                          "stdio")

    worker = sub.add_parser("worker", help="encode parts and speak narrations sent through "
                                           "Redis")
    worker.add_argument("--redis", metavar="URL", default=None,
                        help="the Redis the renders use, e.g. redis://host:6379/0 "
                             "(default: $STORYREEL_REDIS)")
    _redis_file_option(worker)
    worker.add_argument("--shared", metavar="DIR", type=Path, action="append", default=[],
                        help="a folder the renders share (project media, caches); the worker "
                             "reads and writes only inside these (repeat for several)")
    worker.add_argument("--name", default=None, help="worker name (default: host and pid)")
    worker.add_argument("--burst", action="store_true",
                        help="stop once the queue is empty instead of waiting for work")
    return parser


def _redis_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redis-url-file", metavar="FILE", type=Path, default=None,
                        help="read the Redis URL (and its password) from this file, so it "
                             "is not in the process arguments")


def _redis_sources(args: argparse.Namespace) -> None:
    """Settle ``args.redis`` from ``--redis``, ``--redis-url-file`` or, for the studio and
    the worker, ``$STORYREEL_REDIS``."""
    if hasattr(args, "redis_url_file"):
        args.redis = redis_url(args.redis, args.redis_url_file,
                               environment=args.command in ("serve", "worker"))


def _cut_options(parser: argparse.ArgumentParser) -> None:
    cuts = parser.add_argument_group("cuts (a video of some segments, with its own timing)")
    chosen = cuts.add_mutually_exclusive_group()
    chosen.add_argument("--segments", metavar="LIST",
                        help="render only these segments: 3, 2-5, 2- or 1,4-6 (default "
                             "output: <title>-segments-LIST.mp4)")
    chosen.add_argument("--chapter", metavar="NAME",
                        help="render only the segments of this chapter")


def _render_options(parser: argparse.ArgumentParser, *, output: bool = True) -> None:
    if output:
        parser.add_argument("-o", "--output", type=Path, default=None,
                            help="output MP4 (default: output/<title>.mp4 beside the manifest)")
    parser.add_argument("--preset", choices=PRESETS, default=None,
                        help="libx264 preset (default: medium)")
    parser.add_argument("--fps", type=_fps, default=None, help="frame rate, e.g. 30 or 29.97")
    parser.add_argument("--size", type=_size, default=None, metavar="WxH",
                        help="output size, e.g. 1920x1080 or 1080x1920")
    parser.add_argument("--draft", action="store_true",
                        help="quick 480p preview at the fastest preset")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.add_argument("--no-cache", action="store_true",
                        help="encode every part again and keep none (the cache is "
                             ".storyreel-cache/ beside the manifest)")
    look = parser.add_argument_group("captions, transitions, sound and branding")
    look.add_argument("--no-subtitles", action="store_true",
                      help="do not burn in captions (sidecar .srt/.vtt are still written)")
    look.add_argument("--no-sidecars", action="store_true", help="do not write .srt/.vtt files")
    look.add_argument("--platform", metavar="NAME",
                      help=f"platform preset: {', '.join(PLATFORM_NAMES)} (size, frame rate, "
                           "bitrate and the safe area for captions and logo); several, "
                           "comma-separated, write one video each: <name>-<platform>.mp4")
    look.add_argument("--language", metavar="TAG",
                      help="the language of the text, a BCP 47 tag such as es, hi, zh-Hans "
                           "(overrides settings.language; segments with their own keep it)")
    look.add_argument("--caption-style", metavar="STYLE",
                      help=f"captions: {', '.join(CAPTION_LOOKS)} (default phrase)")
    look.add_argument("--highlight-color", metavar="COLOUR",
                      help="colour of the spoken word, e.g. '#FFD400' or 'yellow'")
    look.add_argument("--highlight-box", action="store_true", default=None,
                      help="a rounded box behind the spoken word (in the highlight colour, "
                           "or in --highlight-box-color with the word in the highlight colour)")
    look.add_argument("--highlight-box-color", metavar="COLOUR",
                      help="colour of the box behind the spoken word")
    look.add_argument("--caption-size", type=float, metavar="SHARE",
                      help="text size as a share of the frame's shorter side (default 0.055)")
    look.add_argument("--caption-box", action="store_true", default=None,
                      help="a translucent box behind the captions")
    look.add_argument("--box-color", metavar="COLOUR", help="colour of that box")
    look.add_argument("--box-opacity", type=float, metavar="0-1", help="opacity of that box")
    look.add_argument("--uppercase", action="store_true", default=None,
                      help="captions in capitals")
    look.add_argument("--words-json", action="store_true", default=None,
                      help="also write <name>.words.json: every word with its times")
    look.add_argument("--crossfade", type=float, metavar="SECONDS",
                      help="crossfade between segments (0 for cuts)")
    look.add_argument("--fade-in", type=float, metavar="SECONDS", help="fade in from black")
    look.add_argument("--fade-out", type=float, metavar="SECONDS", help="fade out to black")
    look.add_argument("--music", type=Path, metavar="FILE", help="background music")
    look.add_argument("--music-volume", type=float, metavar="DB",
                      help="music level in dB (default -18)")
    look.add_argument("--loudness", type=float, metavar="LUFS",
                      help="loudness target (default -14 LUFS)")
    look.add_argument("--no-loudness", action="store_true", help="do not normalise loudness")
    look.add_argument("--logo", type=Path, metavar="FILE", help="watermark image (PNG)")
    look.add_argument("--logo-corner", choices=("top-left", "top-right", "bottom-left",
                                                "bottom-right"), help="watermark corner")
    look.add_argument("--thumbnail", action="store_true", default=None,
                      help="also write a cover picture beside the video "
                           "(<name>-thumbnail.jpg)")
    look.add_argument("--intro", type=Path, metavar="FILE", help="clip played before the story")
    look.add_argument("--outro", type=Path, metavar="FILE", help="clip played after the story")
    voice_flags(parser.add_argument_group("voice (segments without a recording)"),
                language_flag="--voice-language")


def run() -> NoReturn:
    """The ``storyreel`` program: :func:`main`, then the process ends with its exit code.

    Its last step freezes the garbage collector's objects: the interpreter's final
    collection then skips them. A render leaves hundreds of thousands behind (Numba's
    compiler alone makes most of them), and collecting them took a third of a second
    after the work was done. Nothing is lost: every file, process and socket a command
    used has an owner that closed it, and exit handlers (logging's flush) still run.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (:func:`run` is the program)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage
        return int(exc.code or 0)
    tune_malloc()
    if args.command in _RENDERS:
        one_thread_pools()
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    debug = os.environ.get("STORYREEL_DEBUG", "") not in ("", "0")
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="storyreel: %(message)s")
    # Oversized stills get storyreel's own one-line error; Pillow's warning is noise here.
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        with _INTERRUPTS.installed():
            _redis_sources(args)
            return _COMMANDS[args.command](args, console)
    except KeyboardInterrupt:
        console.print("storyreel: interrupted; nothing was written", style="yellow")
        return EXIT_INTERRUPTED
    except RenderCancelled as exc:
        why = "interrupted" if _INTERRUPTS.cancel.is_set() else str(exc)
        kept = ", ".join(str(path) for path in exc.kept)
        written = f"only the videos finished before were kept: {kept}" if kept else \
            "nothing was written"
        console.print(f"storyreel: {why}; {written}", style="yellow")
        return EXIT_INTERRUPTED
    except ValidationFailed as exc:
        _debug(debug)
        for problem in exc.problems:
            worded = replace(problem, message=creator_message(problem.message))
            console.print(f"storyreel: error: {worded}", style="red", markup=False)
        return EXIT_INVALID
    except (ProjectError, _UsageError) as exc:
        _debug(debug)
        console.print(f"storyreel: error: {exc}", style="red", markup=False)
        return EXIT_INVALID
    except WorkerError as exc:  # Redis or the workers: not always during a render
        _debug(debug)
        console.print(f"storyreel: error: {redact(str(exc))}", style="red", markup=False)
        return EXIT_FAILED
    except (RenderError, StoryreelError) as exc:
        _debug(debug)
        console.print(f"storyreel: render failed: {redact(str(exc))}", style="red",
                      markup=False)
        return EXIT_FAILED
    except OSError as exc:  # e.g. the demo's project folder cannot be written
        _debug(debug)
        where = f": {exc.filename}" if exc.filename else ""
        console.print(f"storyreel: error: {exc.strerror or exc}{where}", style="red",
                      markup=False)
        return EXIT_FAILED
    except Exception as exc:  # a bug: one line, the traceback with STORYREEL_DEBUG=1
        _debug(debug)
        console.print(f"storyreel: internal error: {type(exc).__name__}: "
                      f"{redact(str(exc))} "
                      "(set STORYREEL_DEBUG=1 for the traceback)", style="red", markup=False)
        return EXIT_FAILED


def _debug(enabled: bool) -> None:
    if enabled:
        traceback.print_exc()


class _Interrupts:
    """Ctrl-C and SIGTERM: a cancel request while a render runs, KeyboardInterrupt otherwise.

    Raising from a signal handler mid-render is unreliable: the exception can land in a
    finaliser or a weakref callback, where Python prints and ignores it, and the render
    carries on to publish. A render instead watches :attr:`cancel` at frame boundaries
    and stops cleanly; a second signal while it stops raises as usual.
    """

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self._rendering = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self._rendering and not self.cancel.is_set():
            self.cancel.set()
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Route SIGINT and SIGTERM here (only possible on the main thread)."""
        self.cancel.clear()
        try:
            previous = {sig: signal.signal(sig, self.handler)
                        for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread
            yield
            return
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def rendering(self) -> Iterator[threading.Event]:
        """While inside, a signal sets the returned event instead of raising."""
        self._rendering = True
        try:
            yield self.cancel
        finally:
            self._rendering = False


_INTERRUPTS = _Interrupts()


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {"preset": args.preset, "fps": args.fps, "draft": args.draft}
    if args.size:
        overrides["width"], overrides["height"] = args.size
    subtitles = _given(enabled=False if args.no_subtitles else None,
                       sidecar=False if args.no_sidecars else None,
                       style=args.caption_style, highlight_color=args.highlight_color,
                       highlight_box=args.highlight_box,
                       highlight_box_color=args.highlight_box_color, size=args.caption_size,
                       box=args.caption_box, box_color=args.box_color,
                       box_opacity=args.box_opacity, uppercase=args.uppercase,
                       words_json=args.words_json)
    if args.no_subtitles and args.caption_style is None:
        subtitles["style"] = "phrase"  # nothing burned in: the manifest's style has no use
    if args.platform is not None:
        names = [name.strip() for name in args.platform.split(",") if name.strip()]
        overrides["platforms" if len(names) > 1 else "platform"] = (
            names if len(names) > 1 else args.platform.strip(" ,"))
    if args.language is not None:
        overrides["language"] = args.language
    transitions = _given(crossfade=args.crossfade, fade_in=args.fade_in, fade_out=args.fade_out)
    music = _given(path=_absolute(args.music), volume=args.music_volume)
    loudness = _given(target=args.loudness, enabled=False if args.no_loudness else None)
    logo = _given(path=_absolute(args.logo), corner=args.logo_corner)
    for key, value in (("subtitles", subtitles), ("transitions", transitions),
                       ("music", music), ("loudness", loudness), ("logo", logo)):
        if value:
            overrides[key] = value
    if args.thumbnail:
        overrides["thumbnail"] = {}  # merged with the manifest's segment and title
    if args.intro:
        overrides["intro"] = {"path": _absolute(args.intro)}
    if args.outro:
        overrides["outro"] = {"path": _absolute(args.outro)}
    if voice := voice_overrides(args):
        overrides["voice"] = voice
    return overrides


def _given(**options: Any) -> dict[str, Any]:
    return {key: value for key, value in options.items() if value is not None}


def _absolute(path: Path | None) -> str | None:
    """Paths on the command line are relative to the current folder, not the manifest's."""
    return str(path.expanduser().absolute()) if path is not None else None


def _render_and_report(
    project: Any, output: Path | None, args: argparse.Namespace, console: Console,
    extra: dict[str, Any] | None = None,
) -> str:
    """Render one project with the command line's options; returns its summary line."""
    from storyreel.render import render

    overrides = _merge(_overrides(args), extra or {})
    parts = _remote_parts(args)
    narrator = _remote_narrator(args, project)
    show_bar = console.is_terminal and not args.quiet
    if show_bar:
        from storyreel.cli.bar import ProgressBar

        with ProgressBar(console) as bar, _INTERRUPTS.rendering() as cancel:
            result = render(project, output, on_progress=bar, cancel=cancel,
                            cache=not args.no_cache, parts=parts, narrator=narrator,
                            **overrides)
    else:
        with _INTERRUPTS.rendering() as cancel:
            result = render(project, output, cancel=cancel, cache=not args.no_cache,
                            parts=parts, narrator=narrator, **overrides)
    minutes, seconds = divmod(result.duration, 60)
    videos = [f"{v.path} ({v.width}x{v.height}, {v.size / 1e6:.1f} MB)" for v in result.videos]
    shown = (f"{result.path} ({result.size_mb:.1f} MB, " if len(videos) < 2
             else f"{len(videos)} videos: {', '.join(videos)} (")
    line = (f"{shown}{int(minutes)}:{seconds:04.1f}, "
            f"{result.frames} frames; {result.chunks_encoded} parts encoded, "
            f"{result.chunks_reused} reused)")
    if not args.quiet:
        console.print(f"Rendered {line}", markup=False)
        for warning in result.warnings:
            console.print(f"storyreel: warning: {warning}", style="yellow", markup=False)
    return line


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``; nested option groups merge key by key."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        merged[key] = ({**current, **value} if isinstance(current, dict)
                       and isinstance(value, dict) else value)
    return merged


def _remote_parts(args: argparse.Namespace) -> Any:
    """The dispatcher that sends parts to workers through Redis (``None``: encode here)."""
    if getattr(args, "redis", None) is None:
        return None
    from storyreel.distributed import RemoteParts

    return RemoteParts(args.redis)


def _remote_narrator(args: argparse.Namespace, project: Any) -> Any:
    """With ``--redis``, a narrator whose texts are spoken by the workers into the
    project's ``.storyreel-cache/narration`` (beside the manifest, so in the folder the
    workers share); ``None``: speak here."""
    if getattr(args, "redis", None) is None:
        return None
    from storyreel.distributed import RemoteSpeaker
    from storyreel.render.pipeline import default_cache
    from storyreel.voice.cache import NarrationCache
    from storyreel.voice.narrate import Narrator

    return Narrator(NarrationCache(default_cache(project).root),
                    speaker=RemoteSpeaker(args.redis))


def _cmd_render(args: argparse.Namespace, console: Console) -> int:
    from storyreel.cli.batch import (
        BatchEntry,
        check_output,
        inputs_of,
        print_summary,
        read_batch,
        run_batch,
    )
    from storyreel.model.load import load_project

    entries = [BatchEntry(path) for path in args.manifest]
    if args.batch is not None:
        entries += read_batch(args.batch)
    if not entries:
        raise _UsageError("render needs a manifest (or several, or --batch FILE)")
    if len(entries) == 1:
        entry = entries[0]
        project, output = _cut(load_project(entry.manifest), entry.output or args.output, args)
        _render_and_report(project, output, args, console, entry.overrides)
        return EXIT_OK
    if args.output is not None:
        raise _UsageError("-o names one video; a batch writes each beside its manifest "
                          '(or where a JSON line\'s "output" says)')

    owned = inputs_of(entries, load_project)  # no entry may replace what another reads

    def render_one(entry: BatchEntry, number: int, total: int) -> str:
        if not args.quiet:
            console.rule(f"Project {number} of {total}: {entry.manifest}", style="cyan")
        project, output = _cut(load_project(entry.manifest), entry.output, args)
        check_output(_outputs(project, output), owned)
        return _render_and_report(project, output, args, console, entry.overrides)

    def on_failure(entry: BatchEntry, detail: str) -> None:
        console.print(f"storyreel: {entry.manifest}: failed: {detail}", style="red",
                      markup=False)

    outcomes = run_batch(entries, render_one, on_failure)
    print_summary(console, outcomes)
    return EXIT_OK if all(o.ok for o in outcomes) else EXIT_FAILED


def _cut(project: Any, output: Path | None, args: argparse.Namespace) -> tuple[Any, Path | None]:
    """The project cut to ``--segments`` or ``--chapter`` (as it is without either), and
    its output: the one given, else the full render's name with what was cut added."""
    from storyreel.model.cuts import chapter_numbers, segment_numbers
    from storyreel.render.pipeline import default_output, slugify

    if args.segments is not None:
        numbers = segment_numbers(args.segments, len(project.segments))
        label = f"segments-{_ranges(numbers)}"
    elif args.chapter is not None:
        numbers, label = chapter_numbers(project, args.chapter), slugify(args.chapter)
    else:
        return project, output
    if output is None:
        whole = default_output(project, draft=args.draft)
        stem = whole.name.removesuffix(".mp4").removesuffix(".draft")
        output = whole.with_name(f"{stem}-{label}{'.draft' if args.draft else ''}.mp4")
    return project.cut(numbers), output


def _ranges(numbers: list[int]) -> str:
    """``[1, 4, 5, 6]`` as ``1+4-6``."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return "+".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _outputs(project: Any, output: Path | None) -> list[Path]:
    """The video a render of ``project`` writes and the files it may write beside it."""
    from storyreel.render.pipeline import default_output, output_targets, written_files

    target = output if output is not None else default_output(project)
    return [file for _, video in output_targets(project, target) for file in written_files(video)]


def _cmd_validate(args: argparse.Namespace, console: Console) -> int:
    from storyreel.model.load import load_project
    from storyreel.render.analysis import analyse_project
    from storyreel.voice.narrate import needs_voice
    from storyreel.words import estimated_seconds

    project = load_project(args.manifest)
    analysis = analyse_project(project)
    if analysis.problems:
        raise ValidationFailed(analysis.problems)
    seconds = sum(analysis.narration_samples) / 48_000
    size = f"{project.width}x{project.height} @ {float(project.fps):g} fps"
    if project.settings.outputs:  # several platforms: each video's own size
        shapes = (project.for_platform(name) for name in project.settings.outputs)
        size = ", ".join(f"{p.settings.platform} {p.width}x{p.height}" for p in shapes) + \
            f" @ {float(project.fps):g} fps"
    spoken = [i for i, segment in enumerate(project.segments) if needs_voice(segment)]
    about = sum(estimated_seconds(project.segments[i].text, project.language_of(i))
                for i in spoken)
    voiced = (f" ({len(spoken)} to be spoken from their text, about {about:.0f} s)"
              if spoken else "")
    print(f"{args.manifest}: OK, {len(project.segments)} segments{voiced}, "
          f"{seconds:.1f} s of recorded narration, {size}")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from storyreel.demo import make_demo_project
    from storyreel.model.load import load_project

    if not args.quiet:
        console.print(f"Building the sample project in {args.project_dir}/", markup=False)
    manifest = make_demo_project(args.project_dir)
    _render_and_report(load_project(manifest), args.output, args, console)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace, console: Console) -> int:
    from storyreel.model.load import load_project

    try:
        from storyreel.export import FORMATS, export_project
    except ImportError as exc:
        raise _UsageError(f"export needs the 'export' extra (pip install "
                          f"'storyreel[export]'): {exc}") from exc
    if args.format not in FORMATS:  # before the manifest is read or a voice speaks
        raise _UsageError(f"unknown export format {args.format!r}: choose one of "
                          f"{', '.join(FORMATS)}")
    result = export_project(load_project(args.manifest), args.output, args.format,
                            relative=args.relative)
    for warning in result.warnings:
        console.print(f"storyreel: note: {warning}", style="yellow", markup=False)
    beside = f" (captions: {result.captions.name})" if result.captions else ""
    print(f"{result.path}: {result.clips} clips, {result.frames} frames at "
          f"{result.fps} fps{beside}")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace, console: Console) -> int:
    from storyreel.model.schema import manifest_schema

    print(json.dumps(manifest_schema(), indent=2))
    return EXIT_OK


def _cmd_cache(args: argparse.Namespace, console: Console) -> int:
    from storyreel.model.load import load_project
    from storyreel.render.pipeline import default_cache

    cache = default_cache(load_project(args.manifest))
    if args.clear:
        before = cache.stats().entries
        freed = cache.clear()
        left = cache.stats().entries
        removed = f"removed {_count(before - left, 'entry', 'entries')} ({freed / 1e6:.1f} MB)"
        if left:
            from storyreel.errors import OutputError

            raise OutputError(f"{removed}, but {_count(left, 'entry', 'entries')} could not "
                              "be removed (is the cache folder read-only?)", cache.root)
        print(f"{cache.root}: cleared, {removed}")
        return EXIT_OK
    stats = cache.stats()
    kinds = stats.kinds
    held = (f" ({_count(kinds.get('parts', 0), 'part')}, "
            f"{_count(kinds.get('sound', 0), 'sound track')}, "
            f"{_count(kinds.get('facts', 0), 'media analysis', 'media analyses')})"
            if stats.entries else "")
    print(f"{stats.root}: {stats.entries} entries{held}, {stats.size / 1e6:.1f} MB "
          f"(limit {stats.max_bytes / 1e9:g} GB)")
    return EXIT_OK


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _cmd_serve(args: argparse.Namespace, console: Console) -> int:
    try:
        from storyreel.service import run_server
        from storyreel.service.config import check_config, env_token
    except ImportError as exc:  # pragma: no cover - optional pieces missing
        raise _UsageError(f"the studio is not available: {exc}") from exc
    token = args.token or env_token()
    try:  # before the address is shown: a studio that cannot start has none
        check_config(host=args.host, port=args.port, token=token, max_jobs=args.max_jobs)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    if args.redis:
        from storyreel.credentials import REDIS_URL_ENV
        from storyreel.distributed.connection import connect

        connect(args.redis).close()  # fail now, in one line, rather than in every render
        os.environ[REDIS_URL_ENV] = args.redis  # read by each render's process

    def listening(port: int) -> None:  # the port bound (any free one for --port 0)
        url = f"http://{shown_host}:{port}/" + (f"?token={token}" if token else "")
        console.print(f"storyreel studio at {url} (Ctrl-C to stop)", markup=False)

    try:
        run_server(host=args.host, port=args.port, data_dir=args.data_dir, token=token,
                   max_jobs=args.max_jobs, on_listening=listening)
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    return EXIT_OK


def _cmd_mcp(args: argparse.Namespace, console: Console) -> int:
    try:
        from storyreel.service.config import default_data_dir
        from storyreel.service.mcp_server import serve_http, serve_stdio
    except ImportError as exc:
        raise _UsageError(f"the MCP server needs the 'mcp' extra (pip install "
                          f"'storyreel[mcp]'): {exc}") from exc
    data_dir = args.data_dir or default_data_dir()
    if args.port is None:
        serve_stdio(data_dir)
    elif not 0 <= args.port <= 65535:
        raise _UsageError(f"--port {args.port} is not a port number (0-65535)")
    else:
        def listening(port: int) -> None:  # the port bound (any free one for --port 0)
            console.print(f"storyreel MCP server at http://127.0.0.1:{port}/mcp "
                          "(Ctrl-C to stop)", markup=False)

        try:
            serve_http(data_dir, args.port, on_listening=listening)
        except ValueError as exc:  # the port cannot be bound
            raise _UsageError(str(exc)) from exc
    return EXIT_OK


def _cmd_worker(args: argparse.Namespace, console: Console) -> int:
    from storyreel.distributed import run_worker
    from storyreel.distributed.connection import connect
    from storyreel.distributed.worker import shared_folders

    if not args.redis:
        raise _UsageError("name the Redis with --redis URL, --redis-url-file FILE or "
                          "$STORYREEL_REDIS")
    shared = shared_folders(args.shared)  # before the banner, like an unreachable Redis
    connect(args.redis).close()
    folders = ", ".join(str(f) for f in shared.folders)
    console.print(f"storyreel worker on {redact(args.redis)}, sharing {folders} "
                  "(Ctrl-C to stop)", markup=False)
    run_worker(args.redis, shared=args.shared, name=args.name, burst=args.burst)
    return EXIT_OK


_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "render": _cmd_render,
    "validate": _cmd_validate,
    "demo": _cmd_demo,
    "export": _cmd_export,
    "mcp": _cmd_mcp,
    "schema": _cmd_schema,
    "cache": _cmd_cache,
    "serve": _cmd_serve,
    "worker": _cmd_worker,
    "voices": cmd_voices,
    "say": cmd_say,
    "narrate": cmd_narrate,
}

#: The commands whose process exists to render (see :func:`one_thread_pools`).
_RENDERS = frozenset({"render", "demo", "worker"})
