"""Project imports: StoryFlow JSON, StoryFlow's plain-text blocks, and zip bundles.

A zip bundle holds a storyreel manifest with its media, exactly what a CLI user
renders. Nothing is extracted by name: the manifest's media paths are looked up
as archive members, each member is copied (size-capped) to a server-made file
and checked like an upload.
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from storyreel.errors import ManifestError, Problem, ValidationFailed
from storyreel.model.load import project_from_dict
from storyreel.model.project import Project
from storyreel.service.options import asset_settings

__all__ = [
    "BundleMedia",
    "ImportFailed",
    "ParsedProject",
    "detect_kind",
    "parse_json",
    "parse_text_blocks",
    "read_bundle",
]

_MANIFEST_NAMES = ("story.json", "project.json", "manifest.json", "storyreel.json")
_MAX_MANIFEST = 20_000_000
_MAX_MEMBERS = 20_000
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
    """

    title: str
    options: dict[str, Any] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    media: list[BundleMedia] = field(default_factory=list)
    assets: dict[str, tuple[zipfile.ZipInfo, dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class BundleMedia:
    """Archive members of one segment's image and narration (none: spoken from its text)."""

    image: zipfile.ZipInfo
    audio: zipfile.ZipInfo | None


def detect_kind(head: bytes) -> str:
    """``zip``, ``json`` or ``text``, decided by the first bytes of the content."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if stripped[:1] in (b"{", b"[") else "text"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def parse_json(data: Any) -> ParsedProject:
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
    for segment in segments:
        text = segment.get("text", segment.get("text_content"))
        parsed.segments.append({
            "text": _text(text),
            "chapter": _text(segment.get("chapter")) or None,
            "image_prompt": _text(segment.get("image_prompt")) or None,
        })
    return parsed


def _order(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


_HEADER = re.compile(
    r"^\s*(?:#+\s*|\[)?\s*(?:segment|scene|part|section|shot)\s*#?\s*\d*\s*[:.)\]-]?\s*\]?\s*$",
    re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*(?:-{3,}|={3,}|\*{3,}|_{3,})\s*$")
_LABEL = re.compile(
    r"^\s*(text|text[ _]content|narration|script|voice[ -]?over|image[ _]prompt|prompt|"
    r"image|visual|chapter|heading|title)\s*:\s?(.*)$", re.IGNORECASE)
_FIELD = {"text": "text", "text content": "text", "text_content": "text", "narration": "text",
          "script": "text", "voiceover": "text", "voice over": "text", "voice-over": "text",
          "image prompt": "image_prompt", "image_prompt": "image_prompt", "prompt": "image_prompt",
          "image": "image_prompt", "visual": "image_prompt", "chapter": "chapter",
          "heading": "chapter", "title": "chapter"}


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
        match = _LABEL.match(lines[first])
        if match and match.group(1).lower() == "title":
            title = match.group(2).strip() or title
            lines = lines[first + 1:]
    explicit = any(_HEADER.match(line) or _SEPARATOR.match(line) for line in lines)
    blocks: list[list[str]] = [[]]
    for line in lines:
        boundary = (_HEADER.match(line) or _SEPARATOR.match(line)) if explicit \
            else not line.strip()
        if boundary:
            blocks.append([])
        else:
            blocks[-1].append(line)
    parsed = ParsedProject(title[:300])
    for block in blocks:
        segment = _parse_block(block)
        if segment is not None:
            parsed.segments.append(segment)
    if not parsed.segments:
        raise ImportFailed("No segments were found in the text. Separate segments with blank "
                           "lines or 'Segment 1', 'Segment 2'... headers.")
    return parsed


def _parse_block(block: list[str]) -> dict[str, Any] | None:
    fields: dict[str, list[str]] = {"text": [], "image_prompt": [], "chapter": []}
    current = "text"
    for line in block:
        match = _LABEL.match(line)
        if match:
            current = _FIELD[match.group(1).lower()]
            line = match.group(2)
        if line.strip():
            fields[current].append(line.strip())
    text = " ".join(fields["text"])
    if not (text or fields["image_prompt"]):
        return None
    return {"text": text[:20_000],
            "image_prompt": " ".join(fields["image_prompt"])[:20_000] or None,
            "chapter": " ".join(fields["chapter"])[:200] or None}


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
    parsed = parse_json(data)
    parsed.title = project.title
    by_name = {_clean(m.filename): m for m in members}
    folder = PurePosixPath(_clean(manifest.filename)).parent
    problems: list[Problem] = []
    for number, segment in enumerate(project.segments, start=1):
        found: list[zipfile.ZipInfo | None] = []
        for what in ("image", "audio"):
            path = getattr(segment, what)
            member = None if path is None else _member(path, folder, by_name)
            if member is None and path is not None:
                problems.append(Problem(f"the {what} file named in the manifest is not in the "
                                        "zip", number, None, what))
            found.append(member)
        if found[0] is not None and (found[1] is not None or segment.audio is None):
            parsed.media.append(BundleMedia(found[0], found[1]))
    problems += _bundle_assets(project, parsed, folder, by_name)
    if problems:
        raise ImportFailed("Some media of the bundle are missing.", problems)
    return parsed


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
        return json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(f"The manifest {PurePosixPath(member.filename).name} is not valid "
                           f"JSON ({exc}).") from None
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise ImportFailed(f"The zip is damaged or encrypted ({exc}).") from None


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
