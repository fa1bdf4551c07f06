"""Project imports: StoryFlow JSON, StoryFlow's plain-text blocks, and zip bundles.

A zip bundle holds a storyreel manifest with its media, exactly what a CLI user
renders. Nothing is extracted by name: the manifest's media paths are looked up
as archive members, each member is copied (size-capped) to a server-made file
and checked like an upload.
"""

from __future__ import annotations

import posixpath
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from storyreel.errors import ManifestError, Problem, ValidationFailed
from storyreel.model.language import normalise_language
from storyreel.model.load import parse_json, project_from_dict
from storyreel.model.project import Project, Segment
from storyreel.service.options import asset_settings

__all__ = [
    "BundleMedia",
    "ImportFailed",
    "ParsedProject",
    "check_directory",
    "detect_kind",
    "parse_storyflow",
    "parse_text_blocks",
    "read_bundle",
    "split_story",
]

_MANIFEST_NAMES = ("story.json", "project.json", "manifest.json", "storyreel.json")
_MAX_MANIFEST = 20_000_000
_MAX_MEMBERS = 20_000
# Room in the central directory per member: its fixed 46 bytes plus a long name and extras.
_MAX_DIRECTORY = _MAX_MEMBERS * 1024
_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")
# The root the manifest's relative paths resolve against while checking a bundle.
_BUNDLE_ROOT = Path("/bundle-root")


class ImportFailed(Exception):
    """The import cannot be used; the message and problems are for the creator."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


@dataclass
class ParsedProject:
    """What an import yields before it is stored.

    Attributes:
        title: Project title.
        options: Render options (width, height, fps, settings).
        segments: Segment fields (text, chapter, image_prompt) in order.
        media: Per segment, the archive members holding its image and audio (bundles only).
        assets: File settings (music, logo...) whose files are archive members: the member
            and the setting's other fields (bundles only; not in ``options``).
        font: The archive member of the caption font (bundles only; not in ``options``).
    """

    title: str
    options: dict[str, Any] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    media: list[BundleMedia] = field(default_factory=list)
    assets: dict[str, tuple[zipfile.ZipInfo, dict[str, Any]]] = field(default_factory=dict)
    font: zipfile.ZipInfo | None = None


@dataclass(frozen=True)
class BundleMedia:
    """Archive members of one segment's picture (an image or a video; neither: a title
    card) and narration (none: spoken from its text)."""

    image: zipfile.ZipInfo | None
    audio: zipfile.ZipInfo | None
    video: zipfile.ZipInfo | None = None


def detect_kind(head: bytes) -> str:
    """``zip``, ``json`` or ``text``, decided by the first bytes of the content."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if stripped[:1] in (b"{", b"[") else "text"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def parse_storyflow(data: Any) -> ParsedProject:
    """A StoryFlow export (``text_content``, ``image_prompt``) or a studio project body.

    Raises:
        ImportFailed: Not a JSON object with a list of segments.
    """
    if not isinstance(data, dict):
        raise ImportFailed("The JSON must be an object with a \"segments\" list.")
    segments = data.get("segments", [])
    if not isinstance(segments, list) or not all(isinstance(s, dict) for s in segments):
        raise ImportFailed("\"segments\" must be a list of objects.")
    if segments and all("sequence_index" in s for s in segments):
        segments = sorted(segments, key=lambda s: _order(s["sequence_index"]))
    parsed = ParsedProject(_text(data.get("title")).strip() or "Untitled story")
    parsed.options = {key: data[key] for key in ("width", "height", "fps", "settings")
                      if data.get(key) is not None}
    for key, theirs in (("width", "resolution_width"), ("height", "resolution_height"),
                        ("fps", "framerate")):
        if key not in parsed.options and data.get(theirs) is not None:
            parsed.options[key] = data[theirs]
    for number, segment in enumerate(segments, start=1):
        text = segment.get("text", segment.get("text_content"))
        parsed.segments.append({
            "text": _text(text),
            "chapter": _text(segment.get("chapter")) or None,
            "image_prompt": _text(segment.get("image_prompt")) or None,
            **_language(segment.get("language"), number),
        })
    return parsed


def _language(value: Any, number: int) -> dict[str, str]:
    """A segment's own language, normalised (nothing when it has none)."""
    if value is None:
        return {}
    try:
        return {"language": normalise_language(_text(value))}
    except ValueError as exc:
        raise ImportFailed(f"Segment {number}: {exc}") from None


def _order(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


# Block headers: "Segment 3", "## Scene 2:", "[Part 4]", "Shot #5 -"... Matched by hand, not
# by a regular expression, so the cost stays linear in the line whatever it holds.
_HEADER_WORDS = ("segment", "scene", "part", "section", "shot")
_HEADER_ENDS = ":.)]-"
_SEPARATOR_CHARS = frozenset("-=*_")
_FIELD = {"text": "text", "text content": "text", "text_content": "text", "narration": "text",
          "script": "text", "voiceover": "text", "voice over": "text", "voice-over": "text",
          "image prompt": "image_prompt", "image_prompt": "image_prompt", "prompt": "image_prompt",
          "image": "image_prompt", "visual": "image_prompt", "chapter": "chapter",
          "heading": "chapter", "title": "chapter"}


def _is_header(line: str) -> bool:
    rest = line.strip()
    if rest.startswith("#"):
        rest = rest.lstrip("#")
    elif rest.startswith("["):
        rest = rest[1:]
    rest = rest.lstrip()
    word = next((w for w in _HEADER_WORDS if rest[:len(w)].lower() == w), None)
    if word is None:
        return False
    rest = rest[len(word):].lstrip()
    rest = rest.removeprefix("#").lstrip()
    digits = len(rest) - len(rest.lstrip("0123456789"))
    rest = rest[digits:].lstrip()
    if rest[:1] and rest[0] in _HEADER_ENDS:
        rest = rest[1:].lstrip()
    return rest in ("", "]")


def _is_separator(line: str) -> bool:
    rest = line.strip()
    return len(rest) >= 3 and len(set(rest)) == 1 and rest[0] in _SEPARATOR_CHARS


def _label(line: str) -> tuple[str, str] | None:
    """``(label, value)`` of a ``Label: value`` line, or ``None`` when it has no known label."""
    head, colon, value = line.partition(":")
    label = head.strip().lower()
    if not colon or label not in _FIELD:
        return None
    return label, value[1:] if value[:1].isspace() else value


def parse_text_blocks(text: str) -> ParsedProject:
    """StoryFlow's plain-text block format.

    Blocks are separated by ``Segment N`` / ``Scene N`` headers, ``---`` lines, or (when
    neither is used) blank lines. In a block, ``Text:``/``Narration:`` lines hold the
    narration, ``Image prompt:``/``Prompt:`` the picture's description and
    ``Chapter:`` a heading; unlabelled lines are narration. A ``Title:`` line before
    the first block names the project.

    Raises:
        ImportFailed: No segment was found.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    title = "Untitled story"
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        label = _label(lines[first])
        if label is not None and label[0] == "title":
            title = label[1].strip() or title
            lines = lines[first + 1:]
    marked = [_is_header(line) or _is_separator(line) for line in lines]
    explicit = any(marked)
    blocks: list[list[str]] = [[]]
    for line, mark in zip(lines, marked, strict=True):
        boundary = mark if explicit else not line.strip()
        if boundary:
            blocks.append([])
        else:
            blocks[-1].append(line)
    parsed = ParsedProject(title)
    for block in blocks:
        segment = _parse_block(block)
        if segment is not None:
            parsed.segments.append(segment)
    if not parsed.segments:
        raise ImportFailed("No segments were found in the text. Separate segments with blank "
                           "lines or 'Segment 1', 'Segment 2'... headers.")
    return parsed


def split_story(text: str) -> list[dict[str, Any]]:
    """The segments a story pasted into the studio becomes, by the text import's rule
    (:func:`parse_text_blocks`): ``text``, ``image_prompt`` and ``chapter`` of each, in
    order; none when it holds no text."""
    try:
        return parse_text_blocks(text).segments
    except ImportFailed:
        return []


def _parse_block(block: list[str]) -> dict[str, Any] | None:
    fields: dict[str, list[str]] = {"text": [], "image_prompt": [], "chapter": []}
    current = "text"
    for line in block:
        label = _label(line)
        if label is not None:
            current = _FIELD[label[0]]
            line = label[1]
        if line.strip():
            fields[current].append(line.strip())
    text = " ".join(fields["text"])
    if not (text or fields["image_prompt"]):
        return None
    return {"text": text, "image_prompt": " ".join(fields["image_prompt"]) or None,
            "chapter": " ".join(fields["chapter"]) or None}


def check_directory(source: IO[bytes]) -> None:
    """Refuse a zip with too many members, reading only its end records.

    ``zipfile.ZipFile`` reads and parses the whole central directory as it opens, so a
    small archive listing a million members would cost hundreds of megabytes first.

    Raises:
        ImportFailed: More than 20 000 members, or a central directory too large to hold
            only that many.
    """
    source.seek(0, 2)
    size = source.tell()
    tail_start = max(0, size - _END.size - 0xFFFF)
    source.seek(tail_start)
    tail = source.read()
    at = tail.rfind(b"PK\x05\x06")
    source.seek(0)
    if at < 0 or len(tail) - at < _END.size:
        return  # not a zip zipfile can open either: it says so
    _, _, _, _, entries, directory, _, _ = _END.unpack_from(tail, at)
    if (entries == 0xFFFF or directory == 0xFFFFFFFF) and at >= _END64_LOCATOR.size:
        _, _, offset, _ = _END64_LOCATOR.unpack_from(tail, at - _END64_LOCATOR.size)
        if 0 <= offset <= size - _END64.size:
            source.seek(offset)
            record = source.read(_END64.size)
            source.seek(0)
            if record[:4] == b"PK\x06\x06":
                entries, directory = _END64.unpack(record)[7:9]
    if entries > _MAX_MEMBERS or directory > _MAX_DIRECTORY:
        raise ImportFailed(f"The zip holds too many files (over {_MAX_MEMBERS}).")


def read_bundle(archive: zipfile.ZipFile, max_total: int) -> ParsedProject:
    """Read a zip bundle's manifest and find each segment's media members.

    Raises:
        ImportFailed: No manifest, an invalid one, or media missing from the archive
            (every problem is listed).
    """
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > _MAX_MEMBERS:
        raise ImportFailed(f"The zip holds too many files (over {_MAX_MEMBERS}).")
    if sum(m.file_size for m in members) > max_total:
        raise ImportFailed(f"The zip unpacks to more than {max_total / 1e6:g} MB.")
    manifest = _find_manifest(members)
    data = _load_manifest(archive, manifest)
    try:
        project = project_from_dict(data, base_dir=_BUNDLE_ROOT)
    except (ValidationFailed, ManifestError) as exc:
        listed = exc.problems if isinstance(exc, ValidationFailed) else [Problem(str(exc))]
        raise ImportFailed("The bundle's manifest is not valid.", listed) from None
    parsed = parse_storyflow(data)
    parsed.title = project.title
    by_name = {_clean(m.filename): m for m in members}
    folder = PurePosixPath(_clean(manifest.filename)).parent
    problems: list[Problem] = []
    for number, segment in enumerate(project.segments, start=1):
        found: dict[str, zipfile.ZipInfo | None] = {}
        for what in ("image", "audio", "video"):
            path = getattr(segment, what)
            found[what] = None if path is None else _member(path, folder, by_name)
            if found[what] is None and path is not None:
                problems.append(Problem(f"the {what} file named in the manifest is not in the "
                                        "zip", number, None, what))
        parsed.media.append(BundleMedia(**found))
        _visual_fields(parsed.segments[number - 1], segment)
    problems += _bundle_assets(project, parsed, folder, by_name)
    problems += _bundle_font(project, parsed, folder, by_name)
    if problems:
        raise ImportFailed("Some media of the bundle are missing.", problems)
    return parsed


def _visual_fields(fields: dict[str, Any], segment: Segment) -> None:
    """Keep a segment's card title and clip options with its other fields."""
    if segment.title:
        fields["title"] = segment.title
    if segment.clip is not None:
        fields["clip"] = segment.clip.model_dump(mode="json", exclude_unset=True)
    if segment.focus is not None:
        fields["focus"] = list(segment.focus)


def _bundle_assets(project: Project, parsed: ParsedProject, folder: PurePosixPath,
                   by_name: dict[str, zipfile.ZipInfo]) -> list[Problem]:
    """Move file settings out of the options: their files are attached from the archive."""
    problems = []
    settings = parsed.options.get("settings")
    for name in asset_settings():
        path = getattr(getattr(project.settings, name, None), "path", None)
        if not isinstance(path, Path) or not isinstance(settings, dict):
            continue
        raw = settings.pop(name)
        member = _member(path, folder, by_name)
        if member is None:
            problems.append(Problem(f"the {name} file named in the manifest is not in the zip",
                                    field=f"settings.{name}"))
            continue
        fields = {k: v for k, v in raw.items() if k != "path"} if isinstance(raw, dict) else {}
        parsed.assets[name] = (member, fields)
    return problems


def _bundle_font(project: Project, parsed: ParsedProject, folder: PurePosixPath,
                 by_name: dict[str, zipfile.ZipInfo]) -> list[Problem]:
    """Move the caption font out of the options: its file is attached from the archive."""
    font = project.settings.subtitles.font
    settings = parsed.options.get("settings")
    subtitles = settings.get("subtitles") if isinstance(settings, dict) else None
    if font is None or not isinstance(subtitles, dict):
        return []
    subtitles.pop("font", None)
    parsed.font = _member(font, folder, by_name)
    if parsed.font is None:
        return [Problem("the caption font named in the manifest is not in the zip",
                        field="settings.subtitles.font")]
    return []


def _clean(name: str) -> str:
    return posixpath.normpath(name.replace("\\", "/")).lstrip("/")


def _find_manifest(members: list[zipfile.ZipInfo]) -> zipfile.ZipInfo:
    candidates = [m for m in members if m.filename.lower().endswith(".json")
                  and "__MACOSX" not in m.filename and not _clean(m.filename).startswith("..")]
    if not candidates:
        raise ImportFailed("The zip has no storyreel manifest (a .json file such as "
                           "story.json).")
    candidates.sort(key=lambda m: (_clean(m.filename).count("/"),
                                   PurePosixPath(m.filename).name.lower() not in _MANIFEST_NAMES,
                                   m.filename))
    return candidates[0]


def _load_manifest(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Any:
    if member.file_size > _MAX_MANIFEST:
        raise ImportFailed("The manifest in the zip is larger than 20 MB.")
    try:
        with archive.open(member) as handle:
            raw = read_capped(handle, _MAX_MANIFEST)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError,
            zlib.error) as exc:
        raise ImportFailed(f"The zip is damaged or encrypted ({exc}).") from exc
    try:
        return parse_json(raw)
    except ManifestError as exc:
        raise ImportFailed(f"The manifest {PurePosixPath(member.filename).name} is not usable: "
                           f"{exc}.") from exc


def _member(path: Path, folder: PurePosixPath,
            by_name: dict[str, zipfile.ZipInfo]) -> zipfile.ZipInfo | None:
    try:
        relative = path.relative_to(_BUNDLE_ROOT)
    except ValueError:
        return None  # an absolute path outside the bundle
    name = _clean(str(folder / PurePosixPath(relative.as_posix())))
    if name.startswith("../") or name == "..":
        return None
    return by_name.get(name)


def read_capped(handle: IO[bytes], cap: int) -> bytes:
    """Read at most ``cap`` bytes; more means the content lied about its size."""
    data = handle.read(cap + 1)
    if len(data) > cap:
        raise ImportFailed(f"A file in the zip is larger than {cap / 1e6:g} MB.")
    return data
