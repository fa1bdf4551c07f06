"""Cache keys: a hash of everything that shapes an encoded part or the sound track.

A part's key covers what its frames are drawn from, in the part's own frame numbers
(so a part whose pictures only moved along the timeline, because an earlier
narration changed length, keeps its key): each picture's file contents, motion,
prepared size and where it shows; the captions on screen; every project-wide setting
that is not about sound (caption styles, the logo, safe areas); the font and logo
files; the fades; the output size, frame rate and encoder settings (threads
included); the versions of PyAV, FFmpeg and x264; and the drawing code itself. Any
field of the story this module does not know is hashed whole, so new inputs to the
frames (a new caption style's data) change the key rather than being missed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import av

from storyreel.errors import MediaError
from storyreel.frames.pictures import motion_of
from storyreel.media.encoder import EncoderSettings
from storyreel.model.project import Project
from storyreel.render.decor import fade_level
from storyreel.timeline.chunks import Chunk
from storyreel.timeline.story import Item, Story

__all__ = ["FileDigests", "build_identity", "focus_facts_key", "narration_facts_key", "part_key",
           "sound_key", "x264_build"]

_KNOWN_STORY_FIELDS = {"items", "plan", "captions", "chapters"}
_SOUND_SETTINGS = {"music", "loudness", "audio_bitrate", "gap"}
_DRAWING_CODE = ("frames", "media", "render/decor.py", "render/frames.py", "timeline")
_SOUND_CODE = ("audio", "media")
_FOCUS_CODE = ("media/focus.py", "media/image.py", "media/clipread.py")
_ANALYSIS_CODE = ("audio", "media", "render/analysis.py", "timeline/words.py", "voice/normalize.py")


class FileDigests:
    """Content hashes of input files, each file read once per render."""

    def __init__(self) -> None:
        self._known: dict[tuple[Path, int, int], str] = {}

    def __call__(self, path: Path) -> str:
        """The SHA-256 of the file's contents."""
        try:
            stat = path.stat()
            mark = (path, stat.st_size, stat.st_mtime_ns)
            if mark not in self._known:
                digest = hashlib.sha256()
                with path.open("rb") as fh:
                    while block := fh.read(1 << 20):
                        digest.update(block)
                self._known[mark] = digest.hexdigest()
        except OSError as exc:
            raise MediaError(f"cannot read file ({exc.strerror or exc})", path=path) from exc
        return self._known[mark]


def part_key(project: Project, story: Story, chunk: Chunk, settings: EncoderSettings,
             fades: tuple[int, int], digest: FileDigests) -> str:
    """The cache key of one encoded part."""
    start, end = chunk.start, chunk.end
    plan = story.plan
    shown = [s for s in plan.spans if s.end_frame > start and s.visible_start < end]
    subtitles = project.settings.subtitles
    logo = project.settings.logo
    captions = [dataclasses.replace(c, start=c.start - start, end=c.end - start)
                for c in story.captions if c.end > start and c.start < end]
    description = {
        "frames": chunk.frames,
        "pictures": [_picture(project, story, s.index, start, digest) for s in shown],
        "captions": [repr(c) for c in captions] if subtitles.enabled else [],
        # Every project-wide setting but the sound-only ones: caption styles, the logo,
        # safe areas and whatever is added later all shape the frames.
        "settings": project.settings.model_dump(mode="json", exclude=_SOUND_SETTINGS),
        # The platform's safe area is the preset's, in code the settings only name.
        "safe": project.settings.safe_insets,
        "font": digest(subtitles.font) if subtitles.font is not None else None,
        "logo": digest(logo.path) if logo is not None else None,
        "fades": [(f - start, fade_level(f, plan.total_frames, *fades))
                  for f in range(start, end) if fade_level(f, plan.total_frames, *fades) < 1],
        "story": _unknown_fields(story),
        "encoder": _encoder(settings),
        "code": _code_digest(_DRAWING_CODE),
    }
    return _hash(description)


def narration_facts_key(content: str, text: str, *, speech: bool, align: bool,
                        language: str = "en") -> str:
    """The key of what analysing a narration found: its contents' hash (``content``),
    the text it says and its language (alignment places its words), what was asked, and
    the code."""
    return _hash({"narration": content, "text": text if align else None, "speech": speech,
                  "language": language if align else None,
                  "align": align, "code": _code_digest(_ANALYSIS_CODE),
                  "versions": _aligner_version()})


def focus_facts_key(content: str, at: str | None) -> str:
    """The key of a picture's found focus: its contents' hash (``content``), the moment
    of a clip it was looked for at (``at``, ``None`` for a still), and the code."""
    return _hash({"focus": content, "at": at, "code": _code_digest(_FOCUS_CODE)})


def sound_key(project: Project, story: Story, settings: EncoderSettings,
              digest: FileDigests) -> str:
    """The cache key of the encoded sound track (loudness measurement included)."""
    s = project.settings
    sources = [_item_sound_digest(project, item, digest) for item in story.items]
    description = {
        "plan": repr(story.plan),
        "items": repr(story.items),
        "sources": sources,
        "music": [s.music.model_dump(mode="json"), digest(s.music.path)] if s.music else None,
        "loudness": s.loudness.model_dump(mode="json"),
        "transitions": s.transitions.model_dump(mode="json"),
        "bitrate": settings.audio_bitrate,
        "rate": settings.sample_rate,
        "versions": _versions(),
        "code": _code_digest(_SOUND_CODE),
    }
    return _hash(description)


def _item_sound_digest(project: Project, item: Item, digest: FileDigests) -> list[str]:
    """The digests of an item's sounds: its narration, and its visual's files when the
    visual's own sound is heard (the level is in the item)."""
    narration = project.segments[item.segment].audio if item.segment is not None else None
    sources = [digest(narration)] if narration is not None else []
    if item.gain is not None:
        sources += [digest(path) for path in item.visual.files()]
    return sources


def _picture(project: Project, story: Story, position: int, start: int,
             digest: FileDigests) -> dict[str, Any]:
    span, item = story.plan.spans[position], story.items[position]
    where = {"visible": span.visible_start - start, "first": span.first_frame - start,
             "end": span.end_frame - start, "crossfade": span.crossfade}
    return {**where, "visual": item.visual.shape(),
            "files": [digest(path) for path in item.visual.files()],
            "clip": repr(item.clip), **motion_of(project, item)}


def _unknown_fields(story: Story) -> dict[str, str]:
    return {f.name: repr(getattr(story, f.name)) for f in dataclasses.fields(story)
            if f.name not in _KNOWN_STORY_FIELDS}


def _encoder(settings: EncoderSettings) -> dict[str, Any]:
    fields = dataclasses.asdict(settings)
    fields["fps"] = str(settings.fps)
    return {**fields, "x264": settings.x264_options(stitchable=True), "versions": _versions()}


def build_identity() -> dict[str, str]:
    """What must match for two machines to encode identical parts: the storyreel,
    PyAV, FFmpeg and x264 versions and the drawing code (all in every part's key)."""
    from storyreel import __version__

    return {"storyreel": __version__, **_versions(), "code": _code_digest(_DRAWING_CODE)}


@functools.cache
def _versions() -> dict[str, str]:
    libs = {name: ".".join(map(str, v)) for name, v in sorted(av.library_versions.items())}
    return {"pyav": av.__version__, "x264": x264_build(), **libs}


@functools.cache
def _aligner_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{version('pocketsphinx')}/{version('espeakng-loader')}"
    except PackageNotFoundError:
        return "none"


@functools.cache
def x264_build() -> str:
    """The linked libx264's build, as it writes it into every stream (``164 r3108 31e19f9``)."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 64, 64, "yuv420p"
    ctx.options = {"preset": "ultrafast"}
    frame = av.VideoFrame(64, 64, "yuv420p")
    for plane in frame.planes:
        memoryview(plane)[:] = b"\x80" * plane.buffer_size
    data = b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])
    found = re.search(rb"x264 - core (\d+[^-]*)-", data)
    return found.group(1).decode("ascii", "replace").strip() if found else "unknown"


@functools.cache
def _code_digest(parts: Iterable[str]) -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for part in parts:
        base = package / part
        files = sorted(base.rglob("*.py")) if base.is_dir() else [base]
        for file in files:
            digest.update(str(file.relative_to(package)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _hash(description: dict[str, Any]) -> str:
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]
