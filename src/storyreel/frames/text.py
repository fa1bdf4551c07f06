"""Caption rendering: text to an overlay, with FreeType, at any output size.

A caption is laid out at a size relative to the frame, wrapped to at most two
balanced lines (shrunk when it does not fit), drawn as white text with an
outline and/or on a translucent box, and placed inside the title-safe area. The
bitmap always holds the full ink: descenders, accents above capitals and the
outline are measured (``getbbox`` with the stroke) before anything is drawn.

Fonts: the vendored DejaVu Sans Bold by default, or the user's TTF/OTF. A
character the font lacks is drawn with the first font that has it: the vendored
font (first for Latin, Greek and Cyrillic), the Noto fonts every install has (one per
script, :mod:`storyreel.frames.fontset`; the caption's language picks the Han face), then
the system's fonts (found with fontconfig's ``fc-list`` when present, else by scanning
the usual font folders). Punctuation, digits and spaces stay in the font of the letters
before them, so a right-to-left line is one run that FreeType, HarfBuzz and FriBiDi
(Pillow's raqm layout) shape and order as a whole. A character no font has is left out
and named in a warning, never drawn as an empty box.

Words are the pieces between spaces and zero-width spaces (U+200B): the caption
splitter puts the latter between the words of Chinese, Japanese and Thai text, so lines
break and words light up at word boundaries in scripts written without spaces.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import struct
import subprocess
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from fontTools.ttLib import TTFont, TTLibError
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont, features

from storyreel.errors import MediaError
from storyreel.frames.fontset import BUNDLED_WEIGHT, bundled_fonts, is_bundled
from storyreel.frames.overlay import Overlay, overlay_from_rgba
from storyreel.media.files import check_regular_file
from storyreel.timeline.captions import POP_STEPS, CaptionState

__all__ = [
    "DEFAULT_FONT",
    "UNSHAPED",
    "CaptionImage",
    "CaptionPainter",
    "CaptionStyle",
    "Position",
    "caption_image",
    "check_font",
    "render_caption",
]

#: The font used when the style names none (DejaVu Sans Bold, vendored).
DEFAULT_FONT = Path(__file__).resolve().parent.parent / "fonts" / "DejaVuSans-Bold.ttf"

Colour = tuple[int, int, int]
Position = Literal["bottom", "center", "top"] | float
Font = ImageFont.FreeTypeFont
FontKey = tuple[str, int]  # file, index in a collection
ZWSP = "\N{ZERO WIDTH SPACE}"  # a word boundary in text written without spaces
_GAPS = " " + ZWSP
_WORD = re.compile(f"[^\\s{ZWSP}]+")

# Fallback fonts found so far: later captions try them before asking the system again.
_KNOWN_FALLBACKS: list[FontKey] = []
# FreeType faces are cached and shared; Pillow does not promise they are thread-safe.
_LOCK = threading.Lock()
_MIN_SHRINK = 0.6  # below this share of the asked size, more lines beat smaller text
_SMALLEST_PX = 6
_FONT_DIRS = (
    "/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
    "/System/Library/Fonts", "/Library/Fonts", "~/Library/Fonts",
    os.path.join(os.environ.get("WINDIR", "C:\\Windows"), "Fonts"),
)
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
_MAX_SCANNED = 1500
# What fontTools and FreeType raise on files that are not usable fonts.
_FONT_ERRORS = (OSError, TTLibError, ValueError, KeyError, AssertionError, struct.error)


@dataclass(frozen=True)
class CaptionStyle:
    """How captions look.

    Attributes:
        font: A TTF/OTF/TTC file, or ``None`` for the vendored DejaVu Sans Bold.
        size: Text size as a share of the frame's shorter side (its height in
            landscape), e.g. 0.05 is 54 px at 1080p and 108 px at 4K.
        color: Text colour (RGB).
        outline: Outline width as a share of the text size (0 for none).
        outline_color: Outline colour (RGB).
        box: Draw a translucent box behind the text.
        box_color: Box colour (RGB).
        box_opacity: Box opacity, 0..1.
        box_padding: Space between text and box edge, as a share of the text size.
        position: ``"bottom"``, ``"center"``, ``"top"``, or the height (0 = top,
            1 = bottom) of the caption's middle as a share of the frame height.
        max_lines: Most lines before the text is shrunk.
        safe_area: Share of the frame's width and height the caption stays inside
            (0.9: the title-safe area of SMPTE ST 2046-1), when ``insets`` is not given.
        opacity: Opacity of the whole caption, 0..1.
        insets: The safe area as shares kept clear at the left, top, right and bottom
            (a platform's UI-safe area); overrides ``safe_area``.
        uppercase: Draw the text in capitals.
        highlight: Colour of highlighted words (RGB).
        highlight_box: Mark highlighted words with a rounded box behind them.
        highlight_box_color: That box's colour; ``None``: ``highlight``, the letters
            keeping ``color``. With a colour of its own, the letters take ``highlight``.
        language: The text's language (BCP 47): picks the face of Han characters.
    """

    font: Path | None = None
    size: float = 0.05
    color: Colour = (255, 255, 255)
    outline: float = 0.08
    outline_color: Colour = (0, 0, 0)
    box: bool = False
    box_color: Colour = (0, 0, 0)
    box_opacity: float = 0.6
    box_padding: float = 0.3
    position: Position = "bottom"
    max_lines: int = 2
    safe_area: float = 0.9
    opacity: float = 1.0
    insets: tuple[float, float, float, float] | None = None
    uppercase: bool = False
    highlight: Colour = (255, 212, 0)
    highlight_box: bool = False
    highlight_box_color: Colour | None = None
    language: str = "en"

    def __post_init__(self) -> None:
        checks = {
            "size": 0.005 <= self.size <= 0.3,
            "outline": 0.0 <= self.outline <= 0.3,
            "box_opacity": 0.0 <= self.box_opacity <= 1.0,
            "box_padding": 0.0 <= self.box_padding <= 2.0,
            "max_lines": self.max_lines >= 1,
            "safe_area": 0.5 <= self.safe_area <= 1.0,
            "opacity": 0.0 <= self.opacity <= 1.0,
            "position": isinstance(self.position, str) or 0.0 <= self.position <= 1.0,
            "insets": self.insets is None or (
                all(0.0 <= v < 0.5 for v in self.insets)
                and self.insets[0] + self.insets[2] <= 0.8
                and self.insets[1] + self.insets[3] <= 0.8),
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"caption style {name} out of range: {getattr(self, name)!r}")
        if isinstance(self.position, str) and self.position not in ("bottom", "center", "top"):
            raise ValueError(f"caption position must be bottom, center, top or 0..1: "
                             f"{self.position!r}")


@dataclass(frozen=True, eq=False)
class CaptionImage:
    """A rendered caption before conversion to YUV.

    Attributes:
        rgba: Straight RGBA bitmap, shape ``(h, w, 4)`` (``(0, 0, 4)`` when empty).
        x: Left edge in the frame (even).
        y: Top edge in the frame (even).
        lines: The text of each drawn line.
        font_px: The font size used, in pixels.
        warnings: Problems worth telling the user (missing characters, shrunk text).
    """

    rgba: NDArray[np.uint8]
    x: int
    y: int
    lines: tuple[str, ...] = ()
    font_px: int = 0
    warnings: tuple[str, ...] = field(default=())


def render_caption(
    text: str, style: CaptionStyle, frame_w: int, frame_h: int
) -> tuple[Overlay, list[str]]:
    """Render ``text`` as an overlay for ``frame_w`` x ``frame_h`` frames.

    Returns:
        The overlay (empty for blank text) and warnings for the user.

    Raises:
        MediaError: The style's font file is missing or not a font.
    """
    image = caption_image(text, style, frame_w, frame_h)
    overlay = overlay_from_rgba(image.rgba, image.x, image.y, frame_w, frame_h, style.opacity)
    return overlay, list(image.warnings)


def caption_image(text: str, style: CaptionStyle, frame_w: int, frame_h: int) -> CaptionImage:
    """Lay out and draw ``text``; see :func:`render_caption`.

    Raises:
        MediaError: The style's font file is missing or not a font.
    """
    with _LOCK:
        return _caption_image(text, style, frame_w, frame_h)


def _caption_image(
    text: str, style: CaptionStyle, frame_w: int, frame_h: int,
    marks: frozenset[int] = frozenset(),
) -> CaptionImage:
    chain = _FontChain(style.font, style.language)
    warnings: list[str] = []
    layout = _prepare(text, chain, style, frame_w, frame_h, warnings)
    return _image(layout, chain, style, frame_w, frame_h, marks, warnings)


def _prepare(
    text: str, chain: _FontChain, style: CaptionStyle, frame_w: int, frame_h: int,
    warnings: list[str],
) -> _Layout | None:
    """The layout of ``text`` (``None`` when nothing is drawn); problems go to ``warnings``."""
    clean = " ".join(unicodedata.normalize("NFC", text).split())
    runs, missing = chain.runs(clean.upper() if style.uppercase else clean)
    if missing:
        names = ", ".join(f"'{c}' (U+{ord(c):04X})" for c in sorted(set(missing)))
        warnings.append(f"no available font has these caption characters, left out: {names}")
    if not _shaped() and any(_needs_shaping(c) for c in clean):
        warnings.append(UNSHAPED)
    if not any(run.strip() for run, _ in runs):
        return None
    return _fit(runs, chain, style, frame_w, frame_h, warnings)


def _image(
    layout: _Layout | None, chain: _FontChain, style: CaptionStyle, frame_w: int,
    frame_h: int, marks: frozenset[int], warnings: list[str],
) -> CaptionImage:
    if layout is None:
        return CaptionImage(np.zeros((0, 0, 4), np.uint8), 0, 0, warnings=tuple(warnings))
    rgba = _draw(layout, chain, style, marks)
    x, y = _place(layout, style, frame_w, frame_h)
    lines = tuple("".join(run for run, _ in line) for line in layout.lines)
    return CaptionImage(rgba, x, y, lines, layout.px, tuple(warnings))


class CaptionPainter:
    """One caption in every state it takes: laid out once, each state drawn once.

    ``word`` and ``karaoke`` keep the whole caption's layout and change only colours,
    so the text never moves while its words light up; ``pop`` lays out each group of
    words on its own and scales it in over its first frames.
    """

    def __init__(self, text: str, style: CaptionStyle, frame_w: int, frame_h: int, *,
                 look: str = "phrase") -> None:
        self._text, self._style, self._size, self._look = text, style, (frame_w, frame_h), look
        self._words = _WORD.findall(text)
        self._spans = [m.span() for m in _WORD.finditer(text)]
        self._chain = _FontChain(style.font, style.language)
        self.warnings: list[str] = []
        self._layouts: dict[tuple[int, int], _Layout | None] = {}
        self._cache: dict[CaptionState, Overlay] = {}

    def overlay(self, state: CaptionState) -> Overlay:
        """The overlay of ``state`` (rasterised on first use, then reused)."""
        cached = self._cache.get(state)
        if cached is None:
            with _LOCK:
                cached = self._cache[state] = self._draw_state(state)
        return cached

    def _layout(self, state: CaptionState) -> _Layout | None:
        shown = (state.first, state.stop) if self._look == "pop" else (0, len(self._words))
        if shown not in self._layouts:
            a, b = shown
            text = self._text[self._spans[a][0] : self._spans[b - 1][1]] if (
                self._look == "pop" and b > a) else self._text
            self._layouts[shown] = _prepare(text, self._chain, self._style, *self._size,
                                            self.warnings)
        return self._layouts[shown]

    def _draw_state(self, state: CaptionState) -> Overlay:
        frame_w, frame_h = self._size
        first = state.first if self._look == "pop" else 0
        if self._look == "karaoke":
            marks = frozenset(range(state.mark))
        elif self._look in ("word", "pop") and state.mark >= first:
            marks = frozenset([state.mark - first])
        else:
            marks = frozenset()
        image = _image(self._layout(state), self._chain, self._style, frame_w, frame_h, marks,
                       [])
        rgba, x, y = image.rgba, image.x, image.y
        if state.grow < POP_STEPS and rgba.size:
            rgba, x, y = _scaled(rgba, x, y, 1.0 - 0.24 * (POP_STEPS - state.grow) / POP_STEPS)
        return overlay_from_rgba(rgba, x, y, frame_w, frame_h, self._style.opacity)


def _scaled(rgba: NDArray[np.uint8], x: int, y: int, scale: float
            ) -> tuple[NDArray[np.uint8], int, int]:
    """``rgba`` scaled about its centre (premultiplied, so edges do not darken)."""
    height, width = rgba.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(rgba).convert("RGBa")
    small = image.resize(size, Image.Resampling.BICUBIC).convert("RGBA")
    return (np.asarray(small, np.uint8), x + (width - size[0]) // 2,
            y + (height - size[1]) // 2)


# --- fonts ----------------------------------------------------------------------------------


class _FontChain:
    """The main font, then fallbacks, each known with the characters it has.

    ``keys`` holds the user's font (if any), the vendored font, the bundled fonts for
    the language, then system fonts as characters call for them.
    """

    def __init__(self, font: Path | None, language: str = "en") -> None:
        self.keys: list[FontKey] = []
        if font is not None:
            check_font(font)
            self.keys.append((str(font), 0))
        self._vendored = len(self.keys)
        self.keys.append((str(DEFAULT_FONT), 0))
        self.keys += [key for key in bundled_fonts(language) if key not in self.keys]
        own = list(range(len(self.keys)))
        # Outside Latin, Greek and Cyrillic the script's own Noto face draws before DejaVu.
        self._script_first = [i for i in own if i != self._vendored] + [self._vendored]

    def runs(self, text: str) -> tuple[list[tuple[str, int]], list[str]]:
        """``text`` cut into ``(run, font index)`` pieces, and the characters no font has."""
        runs: list[tuple[str, int]] = []
        missing: list[str] = []
        for char in text:
            index = self._font_for(char, runs[-1][1] if runs else 0)
            if index is None:
                if not _ignorable(char):
                    missing.append(char)
                continue
            if runs and runs[-1][1] == index:
                runs[-1] = (runs[-1][0] + char, index)
            else:
                runs.append((char, index))
        return runs, missing

    def _font_for(self, char: str, current: int) -> int | None:
        code = ord(char)
        if char in _GAPS or _ignorable(char) or unicodedata.combining(char):
            return current if code in _cmap(self.keys[current]) or char in _GAPS else None
        if not unicodedata.category(char).startswith("L") and code in _cmap(
                self.keys[current]):
            return current  # punctuation and digits keep the run (and its direction) whole
        order = range(len(self.keys)) if _vendored_first(code) else self._script_first
        for index in order:
            if code in _cmap(self.keys[index]):
                return index
        known = [key for key in _KNOWN_FALLBACKS if code in _cmap(key)]
        for key in known or list(_system_fonts(code)):
            if key not in _KNOWN_FALLBACKS:
                _KNOWN_FALLBACKS.append(key)
            if key not in self.keys:
                self.keys.append(key)
            return self.keys.index(key)
        return None

    def font(self, index: int, px: int) -> Font:
        path, face = self.keys[index]
        return _load(path, face, px)


def _vendored_first(code: int) -> bool:
    """Latin, Greek, Cyrillic and general punctuation: DejaVu's own ground."""
    return code < 0x0530 or 0x1D00 <= code < 0x2C00 or 0xA640 <= code < 0xA800


#: Said when text that needs shaping (Arabic, Hebrew, Indic...) cannot be shaped.
UNSHAPED = ("captions in this script are drawn unshaped and left to right: Pillow's text "
            "layout needs the FriBiDi library (Debian/Ubuntu: apt install libfribidi0; "
            "macOS: brew install fribidi)")


@functools.cache
def _shaped() -> bool:
    """Whether Pillow lays text out with raqm (HarfBuzz shaping, FriBiDi ordering).

    Pillow's wheels carry raqm and HarfBuzz but load FriBiDi from the system.
    """
    return bool(features.check_feature("raqm"))


def _needs_shaping(char: str) -> bool:
    """Right-to-left letters, or a script whose letters change shape (Indic, Myanmar,
    Khmer): drawn wrong without shaping."""
    code = ord(char)
    return (unicodedata.bidirectional(char) in ("R", "AL") or 0x0900 <= code <= 0x0DFF
            or 0x1000 <= code <= 0x109F or 0x1780 <= code <= 0x17FF)


def _ignorable(char: str) -> bool:
    return unicodedata.category(char) == "Cf" or 0xFE00 <= ord(char) <= 0xFE0F


def check_font(path: Path) -> None:
    """Raise :class:`MediaError` unless ``path`` is a font FreeType can use."""
    check_regular_file(path, "caption font")
    try:
        _cmap((str(path), 0))
        _load(str(path), 0, 12)
    except _FONT_ERRORS as exc:
        raise MediaError(f"not a usable TTF/OTF font ({exc})", path=path) from exc


@functools.lru_cache(maxsize=128)
def _cmap(key: FontKey) -> frozenset[int]:
    path, index = key
    with TTFont(path, fontNumber=index, lazy=True) as font:
        cmap = font.getBestCmap() or {}
        return frozenset(cmap)


@functools.lru_cache(maxsize=128)
def _load(path: str, index: int, px: int) -> Font:
    font = ImageFont.truetype(path, size=px, index=index)
    if is_bundled(path):  # variable Noto: set in the vendored font's bold weight
        axes = font.get_variation_axes()
        font.set_variation_by_axes([
            min(max(BUNDLED_WEIGHT, a["minimum"] or 0), a["maximum"] or BUNDLED_WEIGHT)
            if a["name"] in (b"Weight", "Weight") else a["default"] or 0 for a in axes])
    return font


@functools.lru_cache(maxsize=1024)
def _system_fonts(code: int) -> tuple[FontKey, ...]:
    """System fonts that have ``code`` and load at any size, best first (bold sans)."""
    if shutil.which("fc-list"):
        candidates = _fc_list(code)
    else:
        candidates = [(key, label) for key, label, codes in _font_index()
                      if _has(codes, code)]
    usable = []
    for key, _ in sorted(candidates, key=lambda c: _rank(c[1])):
        try:
            if code in _cmap(key) and _load(*key, 24).getbbox(chr(code)) is not None:
                usable.append(key)
        except _FONT_ERRORS:
            continue  # bitmap-only (colour emoji) or broken font
        if len(usable) == 2:
            break
    return tuple(usable)


def _fc_list(code: int) -> list[tuple[FontKey, str]]:
    try:
        done = subprocess.run(
            ["fc-list", "--format", "%{file}\t%{index}\t%{family}\t%{style}\n",
             f":charset={code:x}"],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    out = []
    for line in done.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0].lower().endswith(_FONT_SUFFIXES):
            index = int(parts[1]) if parts[1].isdigit() else 0
            out.append(((parts[0], index), f"{parts[2]} {parts[3]}"))
    return out


@functools.lru_cache(maxsize=1)
def _font_index() -> tuple[tuple[FontKey, str, NDArray[np.int32]], ...]:
    """Without fontconfig: every font in the usual folders with its sorted code points."""
    out: list[tuple[FontKey, str, NDArray[np.int32]]] = []
    for folder in _FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() not in _FONT_SUFFIXES or len(out) >= _MAX_SCANNED:
                continue
            try:
                with TTFont(str(path), fontNumber=0, lazy=True) as font:
                    codes = np.array(sorted(font.getBestCmap() or {}), np.int32)
            except _FONT_ERRORS:
                continue
            out.append(((str(path), 0), path.stem, codes))
    return tuple(out)


def _has(codes: NDArray[np.int32], code: int) -> bool:
    at = int(np.searchsorted(codes, code))
    return at < codes.size and int(codes[at]) == code


def _rank(label: str) -> tuple[int, int, str]:
    low = label.lower()
    slanted = any(w in low for w in ("italic", "oblique", "light", "thin", "mono"))
    weight = 0 if "bold" in low else 1
    return (1 if slanted else 0, weight, low)


# --- layout -----------------------------------------------------------------------------------

Run = tuple[str, int]  # text, font index
Rect = tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class _Layout:
    """Lines placed in layout space: the first baseline is at ``ascent``, lines centred."""

    lines: list[list[Run]]
    px: int
    stroke: int
    pad: int
    origins: list[tuple[float, float]]  # (x, baseline) of each line
    block: Rect  # the box (or the text with its outline): what placement aligns
    canvas: Rect  # everything drawn: block and ink, with a clear 1 px border
    words: list[tuple[int, Rect]]  # word index and its advance box over its line's band
    word_pad: tuple[int, int]  # how far a highlight box reaches past a word's box


def _fit(
    runs: list[Run], chain: _FontChain, style: CaptionStyle, frame_w: int, frame_h: int,
    warnings: list[str],
) -> _Layout | None:
    """The largest size whose wrap fits the safe area; more lines only below 60 %."""
    asked = max(_SMALLEST_PX, round(style.size * min(frame_w, frame_h)))
    floor_px = max(_SMALLEST_PX, round(asked * _MIN_SHRINK))
    x0, y0, x1, y1 = _safe_rect(style, frame_w, frame_h)
    safe = (x1 - x0, y1 - y0)
    tokens = list(_tokens(runs))
    text = _plain(runs)[:60]
    for px in _sizes(asked, floor_px):
        layout = _layout_at(tokens, chain, style, px, style.max_lines, safe)
        if layout is not None:
            return layout
    for px in _sizes(floor_px, _SMALLEST_PX):
        layout = _layout_at(tokens, chain, style, px, None, safe)
        if layout is not None:
            warnings.append(
                f"caption too long for {style.max_lines} line(s) at a readable size, drawn on "
                f"{len(layout.lines)} lines at {px} px: {text!r}"
            )
            return layout
    warnings.append(f"caption does not fit in the frame at any size, left out: {text!r}")
    return None


def _sizes(start: int, stop: int) -> Iterator[int]:
    px = start
    while px > stop:
        yield px
        px = max(stop, min(px - 1, math.floor(px * 0.94)))
    yield stop


def _plain(runs: list[Run]) -> str:
    return "".join(run for run, _ in runs)


def _tokens(runs: list[Run]) -> Iterator[list[Run]]:
    """Unbreakable pieces (words, single CJK characters), each keeping its trailing space."""
    token: list[Run] = []
    prev = ""
    segmented = any(ZWSP in run for run, _ in runs)
    for run, index in runs:
        for char in run:
            if token and _break_before(prev, char, segmented):
                yield token
                token = []
            if token and token[-1][1] == index:
                token[-1] = (token[-1][0] + char, index)
            else:
                token.append((char, index))
            prev = char
    if token:
        yield token


def _break_before(prev: str, char: str, segmented: bool = False) -> bool:
    """Whether a line may break between ``prev`` and ``char``.

    After a space, always; after a zero-width space (a word boundary the splitter
    marked) unless ``char`` may not start a line; with no such marks in the text,
    also between two wide (CJK) characters, never before closing punctuation or
    after opening punctuation.
    """
    if prev == " ":
        return char not in _GAPS
    if prev == ZWSP:
        return char not in _GAPS and not _closing(char)
    if char in _GAPS or segmented:
        return False
    if _closing(char) or unicodedata.category(prev) in ("Ps", "Pi"):
        return False  # no line may start with closing punctuation or end with an opening one
    return _wide(prev) or _wide(char)


def _closing(char: str) -> bool:
    return unicodedata.category(char) in ("Pe", "Pf", "Po", "Mn", "Mc", "Me", "Cf", "Lm")


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _layout_at(
    tokens: list[list[Run]], chain: _FontChain, style: CaptionStyle, px: int,
    max_lines: int | None, safe: tuple[float, float],
) -> _Layout | None:
    """The layout at ``px``, or None when it does not fit ``safe`` (width, height)."""
    stroke = round(style.outline * px) if style.outline > 0 else 0
    pad = round(style.box_padding * px) if style.box else 0
    limit = safe[0] - 2 * (stroke + pad) - 2
    full = [_width(token, chain, px) for token in tokens]
    bare = [_width(_strip(token), chain, px) for token in tokens]
    lines = _wrap(full, bare, [_after_punctuation(t) for t in tokens], limit, max_lines)
    if lines is None:
        return None
    runs = [_strip(_join(tokens[a:b])) for a, b in lines]
    spaced = [True] + [_plain(tokens[b - 1]).endswith(tuple(_GAPS)) for _, b in lines[:-1]]
    word_pad = (round(0.2 * px), round(0.06 * px)) if style.highlight_box else (0, 0)
    layout = _geometry(runs, chain, px, stroke, pad, spaced, word_pad)
    left, top, right, bottom = layout.canvas
    return layout if right - left <= safe[0] and bottom - top <= safe[1] else None


def _width(token: list[Run], chain: _FontChain, px: int) -> float:
    return sum(chain.font(index, px).getlength(run) for run, index in token if run)


def _strip(runs: list[Run]) -> list[Run]:
    out = list(runs)
    while out and not out[-1][0].rstrip():
        out.pop()
    if out:
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
    return out


def _join(tokens: list[list[Run]]) -> list[Run]:
    out: list[Run] = []
    for token in tokens:
        for run, index in token:
            if out and out[-1][1] == index:
                out[-1] = (out[-1][0] + run, index)
            else:
                out.append((run, index))
    return out


def _after_punctuation(token: list[Run]) -> bool:
    text = "".join(run for run, _ in token).rstrip()
    return bool(text) and unicodedata.category(text[-1]) in ("Po", "Pe", "Pf")


def _wrap(
    full: list[float], bare: list[float], punct: list[bool], limit: float,
    max_lines: int | None,
) -> list[tuple[int, int]] | None:
    """Token ranges per line: one line, else the best two, else greedy lines.

    Two lines are balanced, preferably broken after punctuation, and the lower
    line is not the shorter one when that can be helped.
    """
    count = len(full)
    if any(width > limit for width in bare):
        return None
    prefix = [0.0]
    for width in full:
        prefix.append(prefix[-1] + width)

    def span(a: int, b: int) -> float:
        return prefix[b - 1] - prefix[a] + bare[b - 1]

    if span(0, count) <= limit:
        return [(0, count)]
    if max_lines is not None and max_lines <= 2:
        if max_lines == 1:
            return None
        scored = [
            (_two_line_cost(span(0, k), span(k, count), punct[k - 1]), k)
            for k in range(1, count)
            if span(0, k) <= limit and span(k, count) <= limit
        ]
        if not scored:
            return None
        best = min(scored)[1]
        return [(0, best), (best, count)]
    lines, start = [], 0
    for end in range(1, count + 1):
        if end < count and span(start, end + 1) > limit:
            lines.append((start, end))
            start = end
    lines.append((start, count))
    return lines if max_lines is None or len(lines) <= max_lines else None


def _two_line_cost(upper: float, lower: float, punct: bool) -> float:
    longest = max(upper, lower)
    return longest * (1.0 if punct else 1.15) + (0.03 * longest if upper > lower else 0.0)


def _geometry(
    lines: list[list[Run]], chain: _FontChain, px: int, stroke: int, pad: int,
    spaced: list[bool], word_pad: tuple[int, int],
) -> _Layout:
    used = {index for line in lines for _, index in line} or {0}
    metrics = [chain.font(index, px).getmetrics() for index in used]
    ascent = max(m[0] for m in metrics)
    pitch = ascent + max(m[1] for m in metrics)
    widths = [sum(chain.font(i, px).getlength(run) for run, i in line) for line in lines]
    block_w = max(widths)
    # Whole-pixel origins keep the hinted glyphs on the pixel grid: crisper edges.
    origins = [(float(round((block_w - w) / 2)), float(ascent + n * pitch))
               for n, w in enumerate(widths)]
    grow = pad + stroke
    block: Rect = (-grow, -grow, block_w + grow, pitch * len(lines) + grow)
    ink: list[Rect] = [block]
    for line, (x, base) in zip(lines, origins, strict=True):
        for run, index, at in _placed(line, chain, px, x):
            font = chain.font(index, px)
            left, top, right, bottom = font.getbbox(run, anchor="ls", stroke_width=stroke)
            ink.append((at + left, base + top, at + right, base + bottom))
    bands = [(base - ascent, base - ascent + pitch) for _, base in origins]
    words = _word_boxes(lines, chain, px, origins, bands, spaced)
    ink += [(r[0] - word_pad[0], r[1] - word_pad[1], r[2] + word_pad[0], r[3] + word_pad[1])
            for _, r in words if any(word_pad)]
    canvas = (
        math.floor(min(r[0] for r in ink)) - 1, math.floor(min(r[1] for r in ink)) - 1,
        math.ceil(max(r[2] for r in ink)) + 1, math.ceil(max(r[3] for r in ink)) + 1,
    )
    return _Layout(lines, px, stroke, pad, origins, block, canvas, words, word_pad)


def _word_boxes(
    lines: list[list[Run]], chain: _FontChain, px: int, origins: list[tuple[float, float]],
    bands: list[tuple[float, float]], spaced: list[bool],
) -> list[tuple[int, Rect]]:
    """Each word's advance box (a word cut across lines gives one box per line).

    Words are the pieces of the caption's text between spaces and zero-width spaces,
    counted in reading order; in a right-to-left run the first word is the rightmost.
    """
    boxes: list[tuple[int, Rect]] = []
    index = -1
    for line, (x, _), (top, bottom), after_space in zip(lines, origins, bands, spaced,
                                                        strict=True):
        gap = after_space
        for text, font_index, left in _placed(line, chain, px, x):
            font = chain.font(font_index, px)
            width, rtl = font.getlength(text), _rtl(text)
            for match in _WORD.finditer(text):
                a, b = match.span()
                x0, x1 = font.getlength(text[:a]), font.getlength(text[:b])
                if rtl:
                    x0, x1 = width - x1, width - x0
                rect = (left + x0, top, left + x1, bottom)
                if gap or a > 0 or index < 0:
                    index += 1
                    boxes.append((index, rect))
                else:  # the same word, continued in another font
                    last = boxes[-1][1]
                    boxes[-1] = (index, (min(last[0], rect[0]), top, max(last[2], rect[2]),
                                         bottom))
                gap = False
            gap = gap or (bool(text) and text[-1] in _GAPS)
    return boxes


def _placed(line: list[Run], chain: _FontChain, px: int, x: float
            ) -> list[tuple[str, int, float]]:
    """Each run of ``line`` with its left edge, in reading order.

    A line whose text starts right to left has its runs placed from the right (each run
    is shaped and ordered within itself by the layout engine).
    """
    count = len(line)
    order = range(count - 1, -1, -1) if _rtl(_plain(line)) else range(count)
    lefts = [0.0] * count
    for at in order:
        lefts[at] = x
        x += chain.font(line[at][1], px).getlength(line[at][0])
    return [(text, index, left) for (text, index), left in zip(line, lefts, strict=True)]


def _rtl(text: str) -> bool:
    """Whether ``text``'s first strong character is right to left (Arabic, Hebrew, ...) and
    the layout engine orders it so (without raqm, text is drawn in logical order)."""
    if not _shaped():
        return False
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


# --- drawing and placement -------------------------------------------------------------------


def _draw(
    layout: _Layout, chain: _FontChain, style: CaptionStyle, marks: frozenset[int] = frozenset()
) -> NDArray[np.uint8]:
    """The straight-alpha RGBA bitmap of ``layout`` (its canvas rectangle).

    Words whose index is in ``marks`` are highlighted: their letters in the highlight
    colour, or a rounded box in that colour behind them.
    """
    left, top, right, bottom = layout.canvas
    size = (int(right - left), int(bottom - top))
    fill = Image.new("L", size, 0)
    outline = Image.new("L", size, 0) if layout.stroke else None
    for line, (x, base) in zip(layout.lines, layout.origins, strict=True):
        for run, index, run_x in _placed(line, chain, layout.px, x):
            font = chain.font(index, layout.px)
            at = (run_x - left, base - top)
            ImageDraw.Draw(fill).text(at, run, fill=255, font=font, anchor="ls")
            if outline is not None:
                ImageDraw.Draw(outline).text(at, run, fill=255, font=font, anchor="ls",
                                             stroke_width=layout.stroke, stroke_fill=255)
    f = np.asarray(fill, np.float32) / np.float32(255.0)
    colour = np.broadcast_to(np.array(style.color, np.float32), (*f.shape, 3))
    if marks and (not style.highlight_box or style.highlight_box_color is not None):
        lit = _word_mask(layout, size, marks, (2, 0), 0) > 0.5
        colour = np.where(lit[:, :, None], np.array(style.highlight, np.float32), colour)
    alpha = f
    if outline is not None:
        s = np.maximum(np.asarray(outline, np.float32) / np.float32(255.0), f)
        alpha = f + s * (np.float32(1.0) - f)
        colour = _mix(colour, f, np.array(style.outline_color, np.float32), s * (1 - f), alpha)
    unders = []
    if marks and style.highlight_box:
        radius = max(2, layout.px // 5)
        unders.append((_word_mask(layout, size, marks, layout.word_pad, radius),
                       style.highlight_box_color or style.highlight))
    if style.box:
        unders.append((_box_mask(layout, size) * np.float32(style.box_opacity), style.box_color))
    for b, under_colour in unders:
        under = b * (np.float32(1.0) - alpha)
        total = alpha + under
        colour = _mix(colour, alpha, np.array(under_colour, np.float32), under, total)
        alpha = total
    rgba = np.empty((size[1], size[0], 4), np.uint8)
    rgba[:, :, :3] = np.clip(np.rint(colour), 0, 255)
    rgba[:, :, 3] = np.clip(np.rint(alpha * 255.0), 0, 255)
    return rgba


def _mix(
    top: NDArray[np.float32], top_a: NDArray[np.float32], under: NDArray[np.float32],
    under_a: NDArray[np.float32], total: NDArray[np.float32],
) -> NDArray[np.float32]:
    """Colour of ``top`` over ``under`` with the given (already combined) weights."""
    weight = np.maximum(total, np.float32(1e-6))[:, :, None]
    mixed = (top * top_a[:, :, None] + under * under_a[:, :, None]) / weight
    return mixed.astype(np.float32, copy=False)


def _word_mask(
    layout: _Layout, size: tuple[int, int], marks: frozenset[int], pad: tuple[int, int],
    radius: int,
) -> NDArray[np.float32]:
    """1 over the boxes of the words in ``marks`` (grown by ``pad``), 0 elsewhere."""
    left, top, _, _ = layout.canvas
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for index, (x0, y0, x1, y1) in layout.words:
        if index in marks:
            rect = (round(x0 - pad[0] - left), round(y0 - pad[1] - top),
                    round(x1 + pad[0] - left) - 1, round(y1 + pad[1] - top) - 1)
            draw.rounded_rectangle(rect, radius=radius, fill=255)
    return np.asarray(mask, np.float32) / 255.0


def _box_mask(layout: _Layout, size: tuple[int, int]) -> NDArray[np.float32]:
    left, top, _, _ = layout.canvas
    x0, y0, x1, y1 = layout.block
    mask = Image.new("L", size, 0)
    rect = (round(x0 - left), round(y0 - top), round(x1 - left) - 1, round(y1 - top) - 1)
    ImageDraw.Draw(mask).rounded_rectangle(rect, radius=max(1, layout.pad // 2), fill=255)
    return np.asarray(mask, np.float32) / 255.0


def _place(layout: _Layout, style: CaptionStyle, frame_w: int, frame_h: int) -> tuple[int, int]:
    """Even top-left corner of the canvas in the frame, inside the safe area."""
    left, top, right, bottom = layout.canvas
    x0, y0, x1, y1 = (v - o for v, o in zip(layout.block, (left, top, left, top), strict=True))
    width, height = right - left, bottom - top
    safe_x0, safe_y0, safe_x1, safe_y1 = _safe_rect(style, frame_w, frame_h)
    x = (safe_x0 + safe_x1) / 2 - (x0 + x1) / 2
    if style.position == "bottom":
        y = safe_y1 - y1
    elif style.position == "top":
        y = safe_y0 - y0
    else:
        middle = 0.5 if style.position == "center" else float(style.position)
        y = frame_h * middle - (y0 + y1) / 2
    return (_even_within(x, safe_x0, safe_x1 - width, frame_w - width),
            _even_within(y, safe_y0, safe_y1 - height, frame_h - height))


def _safe_rect(style: CaptionStyle, frame_w: int, frame_h: int) -> Rect:
    """The rectangle captions stay inside: ``(x0, y0, x1, y1)`` in frame pixels."""
    if style.insets is None:
        edge = (1 - style.safe_area) / 2
        left = top = right = bottom = edge
    else:
        left, top, right, bottom = style.insets
    return (frame_w * left, frame_h * top, frame_w * (1 - right), frame_h * (1 - bottom))


def _even_within(value: float, low: float, high: float, frame_room: float) -> int:
    """``value`` rounded to even and kept in [low, high] (or at least inside the frame)."""
    lo, hi = 2 * math.ceil(low / 2), 2 * math.floor(high / 2)
    if lo > hi:
        lo, hi = 0, max(0, 2 * math.floor(frame_room / 2))
    return min(max(2 * round(value / 2), lo), hi)
