"""Render options and manifests: the studio's rows become the engine's validated Project.

The engine's models hold every bound; nothing here restates them. Options are
stored as the creator gave them (so engine defaults can improve later) and are
validated through :class:`storyreel.Project` on every change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel.errors import Problem, ValidationFailed
from storyreel.model.load import problems_from, project_from_dict
from storyreel.model.project import Project
from storyreel.service.narration import is_generated, narration_state
from storyreel.service.store import SegmentRow

__all__ = [
    "ASSET_KINDS",
    "OPTION_KEYS",
    "asset_settings",
    "build_manifest",
    "effective_options",
    "merge_options",
    "missing_media",
    "options_schema",
    "render_problems",
]

OPTION_KEYS = ("width", "height", "fps", "settings")
# Stands in for real media while only the options are validated.
_PLACEHOLDER = {"image": "placeholder.png", "audio": "placeholder.wav"}


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(options: dict[str, Any], project_dir: Path) -> Project:
    data = {key: options[key] for key in OPTION_KEYS if options.get(key) is not None}
    data["segments"] = [_PLACEHOLDER]
    try:
        project = Project.model_validate(data, context={"base_dir": project_dir})
    except ValidationError as exc:
        raise ValidationFailed(problems_from(exc)) from None
    outside = [path for path in _paths(project.settings.model_dump())
               if not path.resolve().is_relative_to(project_dir.resolve())]
    if outside:
        raise ValidationFailed([Problem("files used by the settings must be uploaded to the "
                                        "project; other paths are not allowed",
                                        field="settings")])
    return project


def _paths(value: Any) -> list[Path]:
    if isinstance(value, Path):
        return [value]
    if isinstance(value, dict):
        return [p for item in value.values() for p in _paths(item)]
    if isinstance(value, list | tuple):
        return [p for item in value for p in _paths(item)]
    return []


def merge_options(current: dict[str, Any], patch: dict[str, Any],
                  project_dir: Path) -> dict[str, Any]:
    """Apply a change to the stored options and validate the result.

    ``settings`` is merged key by key (nested objects too); other keys are replaced,
    and ``None`` removes a key (back to the engine default).

    Raises:
        ValidationFailed: The options are out of bounds (every problem is listed).
    """
    merged = dict(current)
    for key in OPTION_KEYS:
        if key not in patch:
            continue
        value = patch[key]
        if value is None:
            merged.pop(key, None)
        elif key == "settings":
            merged[key] = _deep_merge(merged.get(key) or {}, value)
            if value.get("platform") is not None:
                _yield_to_platform(merged, patch)
                merged[key].pop("platforms", None)  # one platform replaces several
            if "platforms" in value:
                _several_platforms(merged[key])
        else:
            merged[key] = value
    _validate(merged, project_dir)
    return merged


def _yield_to_platform(options: dict[str, Any], patch: dict[str, Any]) -> None:
    """A newly chosen platform brings its size, rate and bitrate unless the change sets them."""
    for key in ("width", "height", "fps"):
        if key not in patch:
            options.pop(key, None)
    if "video_bitrate" not in patch["settings"]:
        options["settings"].pop("video_bitrate", None)
    captions = options["settings"].get("subtitles")
    if isinstance(captions, dict) and "size" not in patch["settings"].get("subtitles", {}):
        captions.pop("size", None)


def _several_platforms(settings: dict[str, Any]) -> None:
    """Several platforms replace the one platform (the size stays: each video takes its
    platform's shape at its shorter side); an empty list is none."""
    if settings.get("platforms"):
        settings.pop("platform", None)
    else:
        settings.pop("platforms", None)


def effective_options(options: dict[str, Any], project_dir: Path) -> dict[str, Any]:
    """The options in effect (stored values over engine defaults), as JSON."""
    try:
        project = _validate(options, project_dir)
    except ValidationFailed:
        project = _validate({}, project_dir)
    dumped = project.model_dump(mode="json", include={"width", "height", "fps", "settings"})
    return dict(_relative(dumped, str(project_dir) + "/"))


def _relative(value: Any, prefix: str) -> Any:
    """File paths inside the project folder, shown relative to it (as they are stored)."""
    if isinstance(value, dict):
        return {key: _relative(item, prefix) for key, item in value.items()}
    if isinstance(value, list):
        return [_relative(item, prefix) for item in value]
    if isinstance(value, str) and value.startswith(prefix):
        return value.removeprefix(prefix)
    return value


#: What kind of file each file setting of the engine takes (others: any media).
ASSET_KINDS = {"music": "audio", "logo": "image", "intro": "video", "outro": "video",
               "watermark": "image"}


def _plain(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return _plain(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = [n for n in node.get("anyOf", []) if n.get("type") != "null"]
    return _plain(options[0], defs) if len(options) == 1 else node


def asset_settings() -> dict[str, str]:
    """Settings that hold a file (an object whose ``path`` is required), and the file kind.

    Read from the engine's model, so file settings it adds later are picked up.
    """
    schema = Project.model_json_schema()
    defs = schema.get("$defs", {})
    settings = _plain(schema["properties"]["settings"], defs)
    found = {}
    for name, node in settings.get("properties", {}).items():
        target = _plain(node, defs)
        path = target.get("properties", {}).get("path", {})
        if "path" in target.get("required", []) and _plain(path, defs).get("format") == "path":
            found[name] = ASSET_KINDS.get(name, "media")
    return found


def options_schema() -> dict[str, Any]:
    """JSON Schema of the render options (for forms that build themselves from it).

    File settings are marked with ``x-storyreel-asset`` (their kind of file): they are set
    by uploading to ``/api/projects/{id}/assets/{name}/``.
    """
    schema = Project.model_json_schema()
    properties = schema.get("properties", {})
    defs = schema.get("$defs", {})
    settings = properties.get("settings", {})
    settings_def = _plain(settings, defs)
    for name, kind in asset_settings().items():
        settings_def["properties"][name]["x-storyreel-asset"] = kind
    return {
        "type": "object",
        "properties": {key: properties[key] for key in OPTION_KEYS if key in properties},
        "$defs": defs,
    }


def missing_media(segment: SegmentRow, project_dir: Path) -> list[str]:
    """What a segment still lacks to render: ``image`` and/or ``audio``.

    A segment with a video shows it, and one with a title but no picture is a title
    card: neither lacks an image. A segment with text and no recording is not missing
    its narration: the voice speaks it when the project renders; a video with neither
    is an interlude and plays its own sound. A generated narration stands for its
    text, so without text it counts for nothing.
    """
    def present(name: str | None) -> bool:
        return bool(name) and (project_dir / str(name)).is_file()

    missing = []
    video = present(segment.video_file)
    if not (present(segment.image_file) or video or (segment.title or "").strip()):
        missing.append("image")
    recorded = present(segment.audio_file) and not is_generated(segment)
    if not recorded and not segment.text.strip() and not video:
        missing.append("audio")
    return missing


def _visual(segment: SegmentRow) -> dict[str, Any]:
    """A segment's visual as the manifest gives it: its image, its video with the clip
    options, or (with neither) a card with its title."""
    focus = {"focus": segment.focus} if segment.focus else {}
    if segment.image_file:
        return {"image": segment.image_file, **focus}
    if segment.video_file:
        return {"video": segment.video_file,
                **({"clip": segment.clip} if segment.clip else {}), **focus}
    return {"title": segment.title} if segment.title else {}


def build_manifest(title: str, options: dict[str, Any],
                   segments: list[SegmentRow]) -> dict[str, Any]:
    """The storyreel manifest of a project (media paths relative to its folder).

    A generated narration made from another text or voice is left out, so the segment
    is spoken from its text as it is now: no render can say the old words.
    """
    manifest: dict[str, Any] = {"title": title}
    manifest.update({key: options[key] for key in OPTION_KEYS if options.get(key) is not None})
    manifest["segments"] = [
        {**_visual(seg), "text": seg.text,
         **({"audio": seg.audio_file} if _usable_audio(seg, options) else {}),
         **({"chapter": seg.chapter} if seg.chapter else {}),
         **({"language": seg.language} if seg.language else {})}
        for seg in segments
    ]
    return manifest


def _usable_audio(segment: SegmentRow, options: dict[str, Any]) -> bool:
    return bool(segment.audio_file) and narration_state(segment, options) != "outdated"


def render_problems(title: str, options: dict[str, Any], segments: list[SegmentRow],
                    project_dir: Path) -> list[Problem]:
    """Everything that stops the project from rendering, naming each segment."""
    if not segments:
        return [Problem("the project has no segments yet; add at least one")]
    problems = []
    for number, segment in enumerate(segments, start=1):
        for what in missing_media(segment, project_dir):
            word = "an image" if what == "image" else "a narration recording or text"
            problems.append(Problem(f"needs {word}", number, None, what))
    if problems:
        return problems
    try:
        project_from_dict(build_manifest(title, options, segments), base_dir=project_dir)
    except ValidationFailed as exc:
        return exc.problems
    return []
