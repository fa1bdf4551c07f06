"""The public API: a small, explicit, sorted ``__all__`` whose members exist and are typed."""

from __future__ import annotations

import importlib
import inspect
import re
import types
from dataclasses import fields
from importlib import resources

import storyreel
from storyreel import errors


def isort_key(name: str) -> tuple[int, str]:
    """The order of ruff's RUF022: CONSTANTS, then Classes, then everything else."""
    if name.isupper() or re.fullmatch(r"[A-Z0-9_]+", name):
        group = 0
    elif name[0].isupper():
        group = 1
    else:
        group = 2
    return group, name


def test_all_is_sorted_and_unique() -> None:
    assert storyreel.__all__ == sorted(storyreel.__all__, key=isort_key)
    assert len(set(storyreel.__all__)) == len(storyreel.__all__)


def test_exported_members_exist() -> None:
    for name in storyreel.__all__:
        assert hasattr(storyreel, name), name


def test_every_public_member_is_exported() -> None:
    public = {
        name for name, value in vars(storyreel).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public <= set(storyreel.__all__)


def test_documented_entry_points_are_exported() -> None:
    for name in ("load_project", "render", "Progress", "RenderResult", "analyse_project",
                 "Analysis", "Project", "StoryreelError", "ProjectError", "ManifestError",
                 "ValidationFailed", "MediaError", "RenderError", "EncoderError", "OutputError",
                 "DiskFullError", "VerificationError", "RenderCancelled", "VoiceError",
                 "WorkerError", "Voice", "PartCache"):
        assert name in storyreel.__all__, name


def test_error_tree() -> None:
    tree = {
        errors.ProjectError: (errors.StoryreelError, ValueError),
        errors.ManifestError: (errors.ProjectError,),
        errors.ValidationFailed: (errors.ProjectError,),
        errors.MediaError: (errors.ProjectError,),
        errors.RenderError: (errors.StoryreelError, RuntimeError),
        errors.EncoderError: (errors.RenderError,),
        errors.OutputError: (errors.RenderError, OSError),
        errors.DiskFullError: (errors.OutputError,),
        errors.VerificationError: (errors.RenderError,),
        errors.RenderCancelled: (errors.StoryreelError,),
        errors.VoiceError: (errors.ProjectError,),
        errors.WorkerError: (errors.RenderError,),
    }
    for cls, parents in tree.items():
        for parent in parents:
            assert issubclass(cls, parent), (cls, parent)
    assert not issubclass(errors.RenderCancelled, errors.RenderError)
    assert not issubclass(errors.RenderCancelled, errors.ProjectError)


def test_every_module_all_lists_existing_names() -> None:
    # ``storyreel.render`` is the function; the subpackage is reached through importlib.
    names = ["storyreel.errors", "storyreel.model", "storyreel.render", "storyreel.timeline.plan",
             "storyreel.render.analysis", "storyreel.media.image", "storyreel.media.audio",
             "storyreel.frames.kenburns", "storyreel.render.output", "storyreel.voice.narrate",
             "storyreel.voice.cache", "storyreel.voice.normalize", "storyreel.audio.align",
             "storyreel.distributed", "storyreel.cli.batch"]
    for module in map(importlib.import_module, names):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_render_signature() -> None:
    params = inspect.signature(storyreel.render).parameters
    assert list(params)[:2] == ["project", "output"]
    assert params["output"].default is None
    assert params["on_progress"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["cancel"].kind is inspect.Parameter.KEYWORD_ONLY
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_result_and_progress_fields() -> None:
    assert {f.name for f in fields(storyreel.RenderResult)} >= {
        "path", "size", "duration", "frames", "fps", "warnings"}
    assert [f.name for f in fields(storyreel.Progress)][:6] == [
        "phase", "done", "total", "rate", "eta", "message"]
    assert {f.name for f in fields(storyreel.Analysis)} >= {
        "problems", "narration_samples", "image_sizes"}


def test_package_is_typed() -> None:
    assert (resources.files("storyreel") / "py.typed").is_file()


def test_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", storyreel.__version__)
