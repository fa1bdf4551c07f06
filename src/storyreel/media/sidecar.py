"""Files written beside the video: SRT and WebVTT captions, YouTube chapter lists.

Every file is written atomically (a hidden temp file in the target folder, then
``os.replace``), in UTF-8 with ``\\n`` line endings. Times are exact ``Fraction``
seconds and are rounded once, here, to the millisecond (captions) or floored to
the second (chapters).

YouTube chapters: YouTube only shows chapters when the first starts at 00:00,
there are at least three, and each lasts at least 10 seconds. A first chapter
that starts later is moved to 00:00 (it then also covers the opening) with a
warning; the other rules cannot be fixed without losing a title, so the list is
still written as given and each broken rule is reported as a warning.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from storyreel.errors import output_error
from storyreel.model.project import printable
from storyreel.timeline.words import WORD_BREAK as _MARK

__all__ = [
    "THUMBNAIL_SUFFIX",
    "Cue",
    "TimedWord",
    "format_srt",
    "format_vtt",
    "format_words_json",
    "parse_srt",
    "parse_vtt",
    "sidecar_path",
    "write_bytes_atomic",
    "write_srt",
    "write_text_atomic",
    "write_vtt",
    "youtube_chapters",
]

Cue = tuple[Fraction, Fraction, str]
"""A caption: start and end in seconds from the start of the video, and its text."""

TimedWord = tuple[Fraction, Fraction, str]
"""A word of a caption: start and end in seconds from the start of the video, its text."""

#: YouTube's chapter rules.
MIN_CHAPTERS = 3
MIN_CHAPTER_SECONDS = 10

# Read once at import: os.umask() is process-wide and not safe to toggle from threads.
_UMASK = os.umask(0o022)
os.umask(_UMASK)

_STAMP = r"(?:(\d+):)?(\d{2}):(\d{2})[,.](\d{3})"
_TIMING = re.compile(rf"^\s*{_STAMP}\s*-->\s*{_STAMP}")
_CUE_TIMESTAMP = re.compile(r"<(?:\d+:)?\d{2}:\d{2}\.\d{3}>")


#: The cover picture's name beside the video: ``story.mp4`` -> ``story-thumbnail.jpg``.
THUMBNAIL_SUFFIX = "-thumbnail.jpg"


def sidecar_path(video: Path, suffix: str) -> Path:
    """The file beside ``video`` named like it: ``story.mp4`` + ``.srt`` -> ``story.srt``."""
    return video.with_name(video.stem + suffix)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` in UTF-8, atomically (temp file beside it, then replace).

    Raises:
        OutputError: The folder is missing or not writable, or the disk is full.
    """
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file beside it, flushed, then replace).

    Raises:
        OutputError: The folder is missing or not writable, or the disk is full.
    """
    fd = -1
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            fd = -1  # owned by the file object from here on
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, path)
        tmp = ""
    except OSError as exc:
        raise output_error(exc, path) from exc
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            Path(tmp).unlink(missing_ok=True)


def write_srt(path: Path, cues: Sequence[Cue]) -> None:
    """Write ``cues`` as a SubRip (``.srt``) file.

    Raises:
        OutputError: The file cannot be written.
    """
    write_text_atomic(path, format_srt(cues))


def write_vtt(path: Path, cues: Sequence[Cue],
              words: Sequence[Sequence[TimedWord]] | None = None) -> None:
    """Write ``cues`` as a WebVTT (``.vtt``) file (with word timestamps when given).

    Raises:
        OutputError: The file cannot be written.
    """
    write_text_atomic(path, format_vtt(cues, words))


def format_srt(cues: Sequence[Cue]) -> str:
    """SubRip text for ``cues``: numbered blocks with ``HH:MM:SS,mmm`` times.

    Cues with blank text are left out; a cue shorter than a millisecond after
    rounding lasts one millisecond.
    """
    blocks = []
    for number, (start, end, text) in enumerate(_clean(cues), start=1):
        timing = f"{_stamp(start, ',')} --> {_stamp(end, ',')}"
        blocks.append(f"{number}\n{timing}\n{text.replace(_MARK, '')}\n")
    return "\n".join(blocks)


def format_vtt(cues: Sequence[Cue], words: Sequence[Sequence[TimedWord]] | None = None) -> str:
    """WebVTT text for ``cues``: a ``WEBVTT`` header, then blocks with ``HH:MM:SS.mmm`` times.

    Args:
        cues: The captions.
        words: The words of each cue (one list per cue, in order): each word after the
            first gets an inline ``<HH:MM:SS.mmm>`` cue timestamp at its start, so players
            and editors can follow the voice word by word. A cue whose words do not
            spell its text is written without them.
    """
    blocks = ["WEBVTT\n"]
    for index, (start, end, text) in enumerate(cues):
        cleaned = _clean([(start, end, text)])
        if not cleaned:
            continue
        lo, hi, body = cleaned[0]
        timed = words[index] if words is not None and index < len(words) else ()
        blocks.append(f"{_stamp(lo, '.')} --> {_stamp(hi, '.')}\n"
                      f"{_timed_body(body, timed, lo, hi)}\n")
    return "\n".join(blocks)


# A caption's words: the pieces between spaces and the zero-width spaces that mark the
# words of Chinese, Japanese or Thai text. The marks are for the engine's line breaking
# and word highlight: the files carry the text as written, without them.
_WORD = re.compile(f"[^\\s{_MARK}]+")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timed_body(body: str, words: Sequence[TimedWord], lo: int, hi: int) -> str:
    """``body`` escaped, with a cue timestamp before each word that starts inside the cue."""
    spans = [m.span() for m in _WORD.finditer(body)]
    if not words or [w for _, _, w in words] != [body[a:b] for a, b in spans]:
        return _escape(body.replace(_MARK, ""))
    pieces, last, done = [], lo, 0
    for (start, _, word), (a, b) in zip(words, spans, strict=True):
        pieces.append(_escape(body[done:a].replace(_MARK, "")))  # the space before the word
        at = _millis(start)
        if last < at < hi:
            pieces.append(f"<{_stamp(at, '.')}>{_escape(word)}")
            last = at
        else:
            pieces.append(_escape(word))
        done = b
    return "".join(pieces)


def format_words_json(words: Sequence[tuple[TimedWord, int, int]], fps: Fraction) -> str:
    """Every spoken word with its times, as JSON for editors and other tools.

    Args:
        words: ``(word, segment, cue)`` for each word: the segment (1-based) and the
            caption (1-based, as numbered in the SRT) it belongs to.
        fps: The video's frame rate.

    Returns:
        ``{"fps": "30", "words": [{"text", "start", "end", "segment", "cue"}, ...]}``
        with times in seconds, rounded to the millisecond.
    """
    entries = [
        {"text": text, "start": _millis(start) / 1000, "end": _millis(end) / 1000,
         "segment": segment, "cue": cue}
        for (start, end, text), segment, cue in words
    ]
    return json.dumps({"fps": str(fps), "words": entries}, ensure_ascii=False, indent=1) + "\n"


def _clean(cues: Sequence[Cue]) -> list[tuple[int, int, str]]:
    out = []
    for start, end, text in cues:
        lines = [" ".join(line.split()) for line in printable(text).splitlines()]
        body = "\n".join(line for line in lines if line).replace("-->", "->")
        if not body:
            continue
        lo = _millis(start)
        out.append((lo, max(_millis(end), lo + 1), body))
    return out


def _millis(seconds: Fraction) -> int:
    if seconds < 0:
        raise ValueError(f"caption time {seconds} s is negative")
    return math.floor(Fraction(seconds) * 1000 + Fraction(1, 2))


def _stamp(ms: int, sep: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{millis:03d}"


def parse_srt(text: str) -> list[Cue]:
    """Read the cues back from SubRip text (numbering and formatting tags are kept as text)."""
    return _parse(text.lstrip("\ufeff"), vtt=False)


def parse_vtt(text: str) -> list[Cue]:
    """Read the cues back from WebVTT text.

    Raises:
        ValueError: The text does not start with the ``WEBVTT`` signature.
    """
    text = text.lstrip("\ufeff")
    if not re.match(r"WEBVTT(?:[ \t]|$)", text.split("\n", 1)[0]):
        raise ValueError("not a WebVTT file: the first line must be 'WEBVTT'")
    return _parse(text, vtt=True)


def _parse(text: str, *, vtt: bool) -> list[Cue]:
    cues: list[Cue] = []
    for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        for i, line in enumerate(lines):
            match = _TIMING.match(line)
            if match:
                body = "\n".join(lines[i + 1 :])
                if vtt:
                    body = _CUE_TIMESTAMP.sub("", body)
                    body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                cues.append((_seconds(match.groups()[:4]), _seconds(match.groups()[4:]), body))
                break
    return cues


def _seconds(parts: Sequence[str | None]) -> Fraction:
    hours, minutes, seconds, millis = (int(p) if p else 0 for p in parts)
    return Fraction((hours * 3600 + minutes * 60 + seconds) * 1000 + millis, 1000)


def youtube_chapters(
    chapters: Sequence[tuple[Fraction, str]], total_seconds: Fraction
) -> tuple[str, list[str]]:
    """The chapter list for a YouTube description, and warnings about YouTube's rules.

    Each line is ``MM:SS Title`` (``H:MM:SS Title`` from one hour on), times
    floored to the second. A first chapter after 00:00 is moved to 00:00.

    Args:
        chapters: ``(start_seconds, title)`` pairs in playing order.
        total_seconds: Duration of the whole video (ends the last chapter).

    Returns:
        The text (one line per chapter, ending with a newline; empty without
        chapters) and a list of warnings; YouTube shows no chapters while any
        rule warning remains.
    """
    warnings: list[str] = []
    items = []
    for start, title in chapters:
        name = " ".join(title.split())
        if name:
            items.append((math.floor(start), name))
        else:
            warnings.append(f"chapter at {_clock(math.floor(start))} has no title; left out")
    if not items:
        return "", warnings
    if items != sorted(items, key=lambda item: item[0]):
        raise ValueError("chapters must be given in playing order")
    if items[0][0] > 0:
        warnings.append(
            f"first chapter '{items[0][1]}' moved from {_clock(items[0][0])} to 00:00 "
            "(YouTube needs the first chapter at 00:00)"
        )
        items[0] = (0, items[0][1])
    warnings += _rule_warnings(items, math.floor(total_seconds))
    text = "".join(f"{_clock(start)} {name}\n" for start, name in items)
    return text, warnings


def _rule_warnings(items: list[tuple[int, str]], total: int) -> list[str]:
    warnings = []
    if len(items) < MIN_CHAPTERS:
        warnings.append(
            f"only {len(items)} chapter(s): YouTube shows chapters only when there are "
            f"at least {MIN_CHAPTERS}"
        )
    ends = [start for start, _ in items[1:]] + [total]
    short = [
        f"'{name}' at {_clock(start)} ({max(0, end - start)} s)"
        for (start, name), end in zip(items, ends, strict=True)
        if end - start < MIN_CHAPTER_SECONDS
    ]
    if short:
        warnings.append(
            f"YouTube needs every chapter to last at least {MIN_CHAPTER_SECONDS} s; "
            f"too short: {', '.join(short)}"
        )
    return warnings


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
