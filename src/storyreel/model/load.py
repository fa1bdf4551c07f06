"""Reading manifests: JSON files become validated :class:`Project` models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel.errors import ManifestError, Problem, ValidationFailed
from storyreel.model.project import Project

__all__ = ["load_project", "problems_from", "project_from_dict"]

MAX_MANIFEST_BYTES = 20_000_000


def load_project(path: str | Path) -> Project:
    """Read and validate a manifest; relative media paths resolve against its folder.

    Raises:
        ManifestError: The file cannot be read or is not a JSON object.
        ValidationFailed: The manifest's content is invalid (every problem is listed).
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError("manifest is larger than 20 MB", path)
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ManifestError("manifest file not found", path) from exc
    except IsADirectoryError as exc:
        raise ManifestError("manifest path is a folder, not a JSON file", path) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError("manifest is not UTF-8 text", path) from exc
    except OSError as exc:
        raise ManifestError(f"cannot read manifest ({exc.strerror})", path) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", path
        ) from exc
    return project_from_dict(data, base_dir=path.resolve().parent)


def project_from_dict(data: Any, *, base_dir: Path | None = None) -> Project:
    """Validate a manifest already parsed from JSON.

    Args:
        data: The manifest object.
        base_dir: Folder that relative media paths resolve against (default: current folder).
    """
    if not isinstance(data, dict):
        raise ManifestError("manifest must be a JSON object with a 'segments' list")
    base = base_dir or Path.cwd()
    try:
        project = Project.model_validate(data, context={"base_dir": base})
    except ValidationError as exc:
        raise ValidationFailed(problems_from(exc)) from exc
    project._base_dir = base
    return project


def problems_from(exc: ValidationError) -> list[Problem]:
    """Turn pydantic's errors into problems that name the segment (1-based) and field."""
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        segment = None
        if len(loc) >= 2 and loc[0] == "segments" and isinstance(loc[1], int):
            segment = loc[1] + 1
            loc = loc[2:]
        field = ".".join(str(part) for part in loc) or None
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "too_short" and field == "segments":
            message = "the project has no segments"
        problems.append(Problem(message, segment, None, field))
    return problems
