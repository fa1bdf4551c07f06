"""Still previews drawn by the engine: how a project's captions look, and how a segment's
picture is framed and moved (its first and last frame), before any render.

The frame is the project's first still (or a neutral gradient when it has none yet)
at the output size, with a caption from the first segment's text in the chosen style
(a word highlighted part-way through, as it looks while the voice speaks) and the
logo, both placed in the platform's safe area exactly as a render places them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Generic, Literal, TypeVar, assert_never

import numpy as np
from numpy.typing import NDArray

from storyreel.errors import MediaError
from storyreel.frames.card import card_planes
from storyreel.frames.kenburns import around, choose_motion, warp_into
from storyreel.frames.overlay import blend_into
from storyreel.frames.still import yuv420_to_rgb
from storyreel.frames.text import CaptionPainter
from storyreel.frames.video import VideoPicture
from storyreel.media.clip import ClipInfo, ClipReader, frame_within, probe_clip
from storyreel.media.focus import SEARCH_SIDE, decoded_focus, picture_focus
from storyreel.media.image import (
    Planes,
    decode_covering,
    even_ceil,
    frame_covering,
    load_cover_planes,
    load_framed,
    rgb_to_yuv420,
)
from storyreel.model.language import sample_caption
from storyreel.model.project import Project
from storyreel.model.visual import Card, Still, Video
from storyreel.render.decor import caption_style, logo_overlay
from storyreel.render.keys import FileDigests
from storyreel.timeline.captions import (
    POP_STEPS,
    CaptionState,
    CaptionWord,
    caption_states,
    caption_words,
    pop_groups,
    split_chunks,
)
from storyreel.timeline.framing import Focus
from storyreel.timeline.story import ClipFacts

__all__ = ["CLIP_FRAME_SIDE", "FILMSTRIP_FRAMES", "FILMSTRIP_HEIGHT", "SAMPLE_CAPTION",
           "StillCache", "StillDecoder", "StillLoader", "caption_preview", "clip_filmstrip",
           "clip_first_frame", "segment_frame"]

#: When in a caption its preview is drawn.
Moment = Literal["start", "middle", "end"]

#: How many frames a clip's filmstrip shows, spread across its trim.
FILMSTRIP_FRAMES = 4
#: A filmstrip frame's height in pixels (its width follows the clip's shape).
FILMSTRIP_HEIGHT = 72

#: The longest side of a clip's first frame drawn whole (:func:`clip_first_frame`).
CLIP_FRAME_SIDE = 960

#: The caption shown while the project has no text yet.
SAMPLE_CAPTION = "Your captions follow every word"

StillLoader = Callable[[Path, int, int, int], Planes]
"""Decodes a still to cover a size (as :func:`~storyreel.media.image.load_cover_planes`)."""
StillDecoder = Callable[[Path, int, int, int | None], NDArray[np.uint8]]
"""Decodes a whole still reduced to cover a size (as
:func:`~storyreel.media.image.decode_covering`)."""


class StillCache:
    """Stills decoded for previews, kept by the file's SHA-256 and the size drawn.

    A still is decoded once per size, however often its previews are drawn: one
    reduced decode of the whole picture (see
    :func:`~storyreel.media.image.decode_covering`) that its focus is searched in and
    that it is framed from, centred or around a focus, so a huge still is never decoded
    twice for a preview. The least recently used go first past ``max_bytes``. Each
    caller gets its own copy (previews draw on them). Safe to share between threads: a
    decode asked for while the same one runs waits for it rather than decoding again.

    Args:
        max_bytes: What the kept decodes may take together.
        decode: The decoder (default :func:`~storyreel.media.image.decode_covering`).
    """

    def __init__(self, max_bytes: int = 64 << 20,
                 decode: StillDecoder = decode_covering) -> None:
        self.max_bytes = max_bytes
        self.decode = decode
        self._sources: _Kept[tuple[str, int, int], NDArray[np.uint8]] = _Kept(max_bytes)
        self._framed: OrderedDict[tuple[str, int, int, Focus], tuple[Planes, Focus]] = (
            OrderedDict())
        self._found: dict[str, Focus | None] = {}
        self._digests = FileDigests()
        self._hashing = threading.Lock()
        self._lock = threading.Lock()
        self._running: dict[tuple[str, int, int], threading.Lock] = {}

    def __call__(self, path: Path, width: int, height: int, segment: int) -> Planes:
        """The still at ``path`` covering ``width`` x ``height``, decoded at most once.

        Raises:
            MediaError: The file cannot be read or decoded.
        """
        try:
            self.digest(path)
        except MediaError:  # the decoder's own error says why
            return frame_covering(self.decode(path, width, height, segment), width, height)[0]
        return frame_covering(self._source(path, width, height, segment), width, height)[0]

    def framed(self, path: Path, width: int, height: int, segment: int, focus: Focus
               ) -> tuple[Planes, Focus]:
        """The still cropped around ``focus`` (and where the focus lies in it), decoded
        at most once per size (the last few framings are kept).

        Raises:
            MediaError: The file cannot be read or decoded.
        """
        key = (self.digest(path), width, height, focus)
        with self._lock:
            kept = self._framed.get(key)
        if kept is None:
            kept = frame_covering(self._source(path, width, height, segment), width, height,
                                  focus)
            with self._lock:
                self._framed[key] = kept
                while len(self._framed) > 4:
                    self._framed.popitem(last=False)
        planes = kept[0]
        return Planes(planes.y.copy(), planes.u.copy(), planes.v.copy()), kept[1]

    def found_focus(self, path: Path, width: int | None = None, height: int | None = None,
                    segment: int | None = None) -> Focus | None:
        """The focus a render finds in the still (looked for once per file contents).

        Given the size the still is about to be framed to, the focus is searched in the
        reduced decode :meth:`framed` then crops from (when it is at least the search's
        size), not in a decode of its own.

        Raises:
            MediaError: The file cannot be read or decoded.
        """
        digest = self.digest(path)
        with self._lock:
            if digest in self._found:
                return self._found[digest]
        if width is None or height is None:
            found = picture_focus(path, segment)
        else:
            rgb = self._source(path, width, height, segment)
            # A decode smaller than the search's own size (a small still, or a small
            # preview of a large one) is searched as before, in a decode of its own.
            found = (decoded_focus(rgb) if max(rgb.shape[:2]) >= SEARCH_SIDE
                     else picture_focus(path, segment))
        with self._lock:
            self._found[digest] = found
        return found

    def digest(self, path: Path) -> str:
        """The file's SHA-256 (read again only when its length or time changed).

        Raises:
            MediaError: The file cannot be read.
        """
        with self._hashing:
            return self._digests(path)

    @property
    def kept_bytes(self) -> int:
        """What the kept decodes take now."""
        with self._lock:
            return self._sources.total

    def _source(self, path: Path, width: int, height: int, segment: int | None
                ) -> NDArray[np.uint8]:
        """The reduced decode of the whole still that covers ``width`` x ``height``, made
        by one caller at a time per file and size: callers asking for a decode under way
        wait for it."""
        key = (self.digest(path), width, height)
        with self._lock:
            running = self._running.setdefault(key, threading.Lock())
        with running:
            try:
                with self._lock:
                    rgb = self._sources.get(key)
                if rgb is None:
                    rgb = self.decode(path, width, height, segment)
                    with self._lock:
                        self._sources.put(key, rgb, rgb.nbytes)
            finally:
                with self._lock:
                    self._running.pop(key, None)
        return rgb


_K = TypeVar("_K")
_V = TypeVar("_V")


class _Kept(Generic[_K, _V]):
    """Values kept in least-recently-used order within a budget of bytes, their total
    kept exactly as they come and go (not thread-safe: its owner locks)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.total = 0
        self._values: OrderedDict[_K, tuple[_V, int]] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        """The value kept for ``key`` (now the most recently used), or ``None``."""
        kept = self._values.get(key)
        if kept is None:
            return None
        self._values.move_to_end(key)
        return kept[0]

    def put(self, key: _K, value: _V, size: int) -> None:
        """Keep ``value`` (``size`` bytes) for ``key``, replacing what it had; then drop
        the least recently used until the total is within the budget."""
        old = self._values.pop(key, None)
        if old is not None:
            self.total -= old[1]
        self._values[key] = (value, size)
        self.total += size
        while self.total > self.max_bytes:
            _, (_, dropped) = self._values.popitem(last=False)
            self.total -= dropped

    def sizes(self) -> list[int]:
        """The sizes of the values kept, least recently used first."""
        return [size for _, size in self._values.values()]


def caption_preview(project: Project, load: StillLoader = load_cover_planes
                    ) -> NDArray[np.uint8]:
    """The preview frame of ``project`` as an ``(height, width, 3)`` RGB array.

    ``load`` decodes the still (a :class:`StillCache` keeps them between previews).

    Raises:
        MediaError: The caption font or the logo cannot be read.
    """
    text, language = _first_caption(project)
    return _decorated(project, _background(project, load), text, language=language)


def segment_frame(project: Project, index: int, *, end: bool,
                  load: StillLoader = load_cover_planes) -> NDArray[np.uint8]:
    """The first (or last) frame of segment ``index`` as the render draws it: the still
    framed and moved by its Ken Burns motion (a clip at its trim's first or last frame,
    a card as it renders), with that moment's caption and the logo.

    ``load`` decodes the still (a :class:`StillCache` keeps them between previews).

    Raises:
        MediaError: The still or clip, the caption font or the logo cannot be read.
    """
    segment = project.segments[index]
    visual = segment.visual
    match visual:
        case Still():
            frame = _still_frame(project, index, visual.image, end=end, load=load)
        case Video():
            frame = _clip_frame(project, visual, end=end)
        case Card():
            settings = project.settings
            frame, _ = card_planes(visual.title, settings.background, settings.subtitles,
                                   project.width, project.height, settings.safe_insets,
                                   project.language_of(index))
        case _:
            assert_never(visual)
    options = project.settings.subtitles
    language = project.language_of(index)
    chunks = split_chunks(segment.text, min_words=options.min_words,
                          max_words=options.max_words,
                          language=language) if segment.subtitles else []
    return _decorated(project, frame, (chunks[-1] if end else chunks[0]) if chunks else "",
                      "end" if end else "start", language=language)


def _clip_frame(project: Project, visual: Video, *, end: bool) -> Planes:
    """A clip's trim's first or last frame, framed as the render frames it."""
    info = probe_clip(visual.video)
    start, stop = visual.clip.trim
    length = (stop if stop is not None else info.duration) - start
    shown = max(1, int(length * project.fps))
    frame = _blank(project.width, project.height)
    picture = VideoPicture(visual, ClipFacts(length, info.width, info.height), width=project.width,
                           height=project.height, fps=project.fps, shown_frames=shown)
    try:
        picture.draw((frame.y, frame.u, frame.v), shown - 1 if end else 0, 1.0 if end else 0.0)
    finally:
        picture.close()
    return frame


def clip_filmstrip(visual: Video, *, count: int = FILMSTRIP_FRAMES,
                   height: int = FILMSTRIP_HEIGHT, segment: int | None = None
                   ) -> NDArray[np.uint8]:
    """``count`` frames of a clip side by side as an RGB array, taken at the middles of
    ``count`` equal stretches of its trim: what the trimmed clip shows, at a glance.

    Raises:
        MediaError: The clip cannot be read, or its trim starts after its end.
    """
    info = probe_clip(visual.video)
    start, end = _trimmed(visual, info, segment)
    size = (max(2, 2 * round(height * info.width / info.height / 2)), height)
    tiles = []
    with ClipReader(visual.video, start=start, end=end, size=size, read_ahead=2) as reader:
        for k in range(count):
            at = start + (end - start) * Fraction(2 * k + 1, 2 * count)
            planes = reader.frame_at(at).planes(*size)
            tiles.append(yuv420_to_rgb(planes.y, planes.u, planes.v))
    return np.ascontiguousarray(np.concatenate(tiles, axis=1))


def clip_first_frame(visual: Video, *, longest: int = CLIP_FRAME_SIDE,
                     segment: int | None = None) -> NDArray[np.uint8]:
    """The first frame of a clip's trim, whole and upright (not cropped to the video's
    shape), as an RGB array at most ``longest`` pixels on its longest side: the frame its
    focus is found on, to choose the focus on.

    Raises:
        MediaError: The clip cannot be read, or its trim starts after its end (naming
            ``segment``, 1-based, when given).
    """
    info = probe_clip(visual.video)
    start, _ = _trimmed(visual, info, segment)
    planes = frame_within(visual.video, start, info.width, info.height, longest)
    return yuv420_to_rgb(planes.y, planes.u, planes.v)


def _trimmed(visual: Video, info: ClipInfo, segment: int | None) -> tuple[Fraction, Fraction]:
    """Where the clip's trim starts and ends within the clip as it is.

    Raises:
        MediaError: The trim starts at or after the clip's end.
    """
    start, stop = visual.clip.trim
    end = info.duration if stop is None else min(stop, info.duration)
    if end <= start:
        raise MediaError(f"the clip's trim starts at {float(start):g} s, after its end "
                         f"({float(info.duration):g} s)", path=visual.video, segment=segment)
    return start, end


def _blank(width: int, height: int) -> Planes:
    return Planes(np.empty((height, width), np.uint8),
                  np.empty((height // 2, width // 2), np.uint8),
                  np.empty((height // 2, width // 2), np.uint8))


def _still_frame(project: Project, index: int, image: Path, *, end: bool,
                 load: StillLoader) -> Planes:
    """A still framed and moved by its Ken Burns motion, at its start or end."""
    segment = project.segments[index]
    kb = project.settings.ken_burns
    zoom = segment.zoom if segment.zoom is not None else kb.zoom
    motion = choose_motion(index, zoom=zoom, direction=segment.direction or kb.direction,
                           pan=kb.pan, eased=kb.easing == "ease-in-out")
    scale = 1.0 if motion.static else zoom
    width, height = project.width, project.height
    size = (even_ceil(width * scale), even_ceil(height * scale))
    focus = segment.focus or (load.found_focus(image, *size, index + 1)
                              if isinstance(load, StillCache) else None)
    if focus is None:
        source = load(image, *size, index + 1)
    else:
        source, inside = (load.framed(image, *size, index + 1, focus) if isinstance(
            load, StillCache) else load_framed(image, *size, index + 1, focus))
        motion = around(motion, inside)
    frame = _blank(width, height)
    warp_into(source, (frame.y, frame.u, frame.v), motion, 1.0 if end else 0.0)
    return frame


def _decorated(project: Project, planes: Planes, text: str,
               moment: Moment = "middle", *, language: str = "en") -> NDArray[np.uint8]:
    """``planes`` with a caption of ``text`` at ``moment`` and the logo, as RGB."""
    width, height = project.width, project.height
    settings = project.settings
    options = settings.subtitles
    if options.enabled and text:
        style = replace(caption_style(options, settings.safe_insets), language=language)
        painter = CaptionPainter(text, style, width, height, look=options.style)
        blend_into((planes.y, planes.u, planes.v),
                   painter.overlay(preview_state(caption_words(text), options.style,
                                                 options.pop_words, moment)))
    if settings.logo is not None:
        blend_into((planes.y, planes.u, planes.v),
                   logo_overlay(settings.logo, width, height, settings.safe_insets))
    return yuv420_to_rgb(planes.y, planes.u, planes.v)


def preview_state(words: list[str], look: str, group: int,
                  moment: Moment = "middle") -> CaptionState:
    """A caption's state at ``moment``: ``start``, the frame its first word is spoken (a
    segment's first frame); ``end``, its last word spoken and settled (its last frame);
    ``middle``, part-way through, its second word spoken (or its only one), which shows
    a style best."""
    if moment != "middle":
        # The renderer's own rule, on words one frame apart: its first or its last state.
        timed = [CaptionWord(word, i, i + 1) for i, word in enumerate(words or [""])]
        states = caption_states(timed, 0, len(timed) + POP_STEPS + 1, look, group=group)
        return states[0 if moment == "start" else -1][1]
    count = max(1, len(words))
    spoken = min(1, count - 1)
    if look == "pop":
        first, stop = pop_groups(words, group)[0] if words else (0, 1)
        return CaptionState(first, stop, min(spoken, stop - 1), POP_STEPS)
    if look == "karaoke":
        return CaptionState(0, count, spoken + 1, POP_STEPS)
    return CaptionState(0, count, spoken if look == "word" else -1, POP_STEPS)


def _first_caption(project: Project) -> tuple[str, str]:
    """The first caption of the story and its language (a sample when there is none)."""
    options = project.settings.subtitles
    for index, segment in enumerate(project.segments):
        language = project.language_of(index)
        chunks = split_chunks(segment.text, min_words=options.min_words,
                              max_words=options.max_words, language=language)
        if chunks:
            return chunks[0], language
    language = project.settings.language
    return sample_caption(language), language


def _background(project: Project, load: StillLoader) -> Planes:
    width, height = project.width, project.height
    try:
        first = project.segments[0].visual
        if not isinstance(first, Still):
            raise MediaError("the first segment shows no still", path=Path())
        return load(first.image, width, height, 1)
    except MediaError:
        ramp = np.linspace(70, 150, height, dtype=np.float32)[:, None, None]
        rgb = np.broadcast_to(ramp * np.array([0.8, 0.9, 1.1], np.float32), (height, width, 3))
        return rgb_to_yuv420(np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8)))
