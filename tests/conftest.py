"""Shared fixtures: generated projects, and a guard that fails any test which logs an error."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import storyreel
from media import ProjectFactory, SegmentSpec, write_project
from storyreel import Project


@pytest.fixture(autouse=True)
def no_error_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if anything logged at ERROR or above while it ran.

    Tests that expect an error log can clear ``caplog`` after checking it.
    """
    caplog.set_level(logging.INFO)
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, "logged at ERROR: " + "; ".join(
        f"{r.name}: {r.getMessage()}" for r in errors
    )


@pytest.fixture(autouse=True, scope="session")
def narration_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Synthesised narrations go to a cache of the test run's own, never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("STORYREEL_CACHE_DIR")
    os.environ["STORYREEL_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("STORYREEL_CACHE_DIR", None)
    else:
        os.environ["STORYREEL_CACHE_DIR"] = previous


@pytest.fixture(autouse=True, scope="session")
def default_thread_pools() -> Iterator[None]:
    """The CLI's render commands, called in this process, leave the test process's BLAS
    and OpenCV pools (and the environment later child processes get) as they were: those
    settings are a render process's own, and tests/unit/test_threads.py checks them in
    processes of their own."""
    cli_main = importlib.import_module("storyreel.cli.main")  # not the package's main()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_main, "one_thread_pools", lambda: None)
        yield


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """An empty folder for a generated project (manifest, images/, audio/)."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def make_project(project_dir: Path) -> ProjectFactory:
    """Build a small project in ``project_dir`` and load it.

    Call as ``make_project([0.5, 0.7], fps=25, settings={"gap": 0.1})``; items may be
    :class:`media.SegmentSpec` for full control.
    """

    def build(specs: Sequence[SegmentSpec | float], *, settings: dict[str, Any] | None = None,
              **fields: Any) -> Project:
        manifest = write_project(project_dir, specs, settings=settings, **fields)
        return storyreel.load_project(manifest)

    return build


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty folder for render outputs (separate from the inputs, to spot leftovers)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder



def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``pytest -n N --dist loadgroup`` (as ``./run tests`` runs): each file's tests
    stay in one process, and the browser tests all in the same one, one file after
    another (two pages driving two studios at once slow each other past their waits)."""
    for item in items:
        path = Path(str(item.fspath))
        group = "browser" if path.name.startswith("test_browser") else str(path)
        item.add_marker(pytest.mark.xdist_group(group))
