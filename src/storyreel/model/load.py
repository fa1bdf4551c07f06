"""Reading manifests: JSON files become validated :class:`Project` models."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel.errors import ManifestError, Problem, ValidationFailed
from storyreel.model.project import Project

__all__ = ["MAX_INTEGER_DIGITS", "MAX_JSON_DEPTH", "load_project", "parse_json",
           "problems_from", "project_from_dict"]

MAX_MANIFEST_BYTES = 20_000_000
#: Deepest nesting of objects and lists a manifest may have (real ones use four or five).
MAX_JSON_DEPTH = 32
#: Longest integer a manifest may hold, in digits (real ones need a handful).
MAX_INTEGER_DIGITS = 100


def load_project(path: str | Path) -> Project:
    """Read and validate a manifest; relative media paths resolve against its folder.

    Raises:
        ManifestError: The file cannot be read or is not a JSON object.
        ValidationFailed: The manifest's content is invalid (every problem is listed).
    """
    path = Path(path)
    try:
        text = _read_regular(path)
    except FileNotFoundError as exc:
        raise ManifestError("manifest file not found", path) from exc
    except IsADirectoryError as exc:
        raise ManifestError("manifest path is a folder, not a JSON file", path) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError("manifest is not UTF-8 text", path) from exc
    except OSError as exc:
        raise ManifestError(f"cannot read manifest ({exc.strerror})", path) from exc
    try:
        data = parse_json(text)
    except ManifestError as exc:
        raise ManifestError(str(exc), path) from exc
    project = project_from_dict(data, base_dir=path.resolve().parent)
    project._manifest = path.absolute()
    return project


def _read_regular(path: Path) -> str:
    """The text of a regular file of at most :data:`MAX_MANIFEST_BYTES`.

    The file is opened without blocking and checked to be a regular file before a byte
    is read, so a FIFO, a device (``/dev/zero``) or a folder is refused at once.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise ManifestError("manifest is not a regular file (a pipe, device or socket)",
                                path)
        if info.st_size > MAX_MANIFEST_BYTES:
            raise ManifestError("manifest is larger than 20 MB", path)
        raw = handle.read(MAX_MANIFEST_BYTES + 1)
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestError("manifest is larger than 20 MB", path)
    return raw.decode("utf-8-sig")


def parse_json(text: str | bytes) -> Any:
    """Parse manifest JSON, refusing what would break the steps after it.

    Refused: invalid JSON, nesting deeper than :data:`MAX_JSON_DEPTH`, integers longer
    than :data:`MAX_INTEGER_DIGITS` digits (Python refuses to convert those over 4,300),
    and text that is not Unicode (a lone surrogate such as ``"\\ud800"``, which cannot
    be stored or sent).

    Raises:
        ManifestError: Saying what is wrong, with the line and column for invalid JSON.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8-sig")
        data = json.loads(text, parse_int=_integer)
    except UnicodeDecodeError as exc:
        raise ManifestError("not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except RecursionError as exc:
        raise ManifestError(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep") from exc
    except _LongInteger as exc:
        raise _long_integer(str(text) if isinstance(text, str) else "", exc.digits) from None
    _check_tree(data)
    return data


class _LongInteger(Exception):
    def __init__(self, digits: str) -> None:
        self.digits = digits


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _LongInteger(digits)
    return int(digits)


def _long_integer(text: str, digits: str) -> ManifestError:
    """The error for an overlong integer, naming the key it is the value of when found."""
    where = ""
    at = text.find(digits)
    key = re.search(r'"((?:[^"\\]|\\.){1,100})"\s*:\s*$', text[max(0, at - 300):at])
    if key is not None:
        where = f' at "{key.group(1)}"'
    return ManifestError(f"JSON holds an integer of {len(digits.lstrip('-')):,} digits{where} "
                         f"(at most {MAX_INTEGER_DIGITS} are accepted)")


def _check_tree(data: Any) -> None:
    """Depth and text of every value, without recursion (a deep tree cannot overflow)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ManifestError(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((item, depth + 1))
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ManifestError("JSON holds text that is not valid Unicode (a lone surrogate "
                            f"escape such as \\u{ord(text[exc.start]):04x})") from exc


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
