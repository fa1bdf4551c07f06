"""How the service is put together: no import circle, a worker without the web framework,
one guarded transition per job state, and one place for the words the page shows."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import storyreel.service
from storyreel.service.store import JobState, Store
from storyreel.words import PHASES, STATES

SERVICE = Path(storyreel.service.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``storyreel.service`` module a file imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("storyreel.service.")}


def test_the_service_modules_import_no_circle() -> None:
    graph = {f"storyreel.service.{p.stem}": _imports(p) for p in SERVICE.glob("*.py")
             if p.stem != "__init__"}
    assert len(graph) >= 15

    def visit(module: str, trail: list[str]) -> None:
        assert module not in trail, " -> ".join([*trail, module])
        for target in graph.get(module, ()):
            visit(target, [*trail, module])

    for module in graph:
        visit(module, [])


def test_the_render_process_loads_no_web_framework() -> None:
    code = ("import sys, storyreel.service.worker\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'starlette', 'uvicorn') or m == 'storyreel.service.app')\n"
            "print(','.join(loaded))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


@pytest.mark.parametrize(("start", "to", "allowed"), [
    (JobState.COMPLETED, JobState.PROCESSING, False),
    (JobState.CANCELLED, JobState.COMPLETED, False),
    (JobState.FAILED, JobState.QUEUED, False),
    (JobState.QUEUED, JobState.COMPLETED, False),
    (JobState.PROCESSING, JobState.COMPLETED, True),
    (JobState.QUEUED, JobState.CANCELLED, True),
])
def test_job_states_change_only_along_allowed_transitions(
        tmp_path: Path, start: JobState, to: JobState, allowed: bool) -> None:
    store = Store(tmp_path / "studio.db")
    try:
        project = store.create_project("x", {})
        job = store.create_job(project.id)
        path = {JobState.QUEUED: [], JobState.PROCESSING: [JobState.PROCESSING],
                JobState.COMPLETED: [JobState.PROCESSING, JobState.COMPLETED],
                JobState.CANCELLED: [JobState.CANCELLED],
                JobState.FAILED: [JobState.FAILED]}[start]
        for step in path:
            assert store._move(job.id, step)
        assert store._move(job.id, to) is allowed
        current = store.get_job(job.id)
        assert current is not None
        assert current.status == (to if allowed else start)
    finally:
        store.close()


def test_the_page_keeps_no_words_of_its_own_for_phases_and_states() -> None:
    script = (SERVICE / "static" / "app.js").read_text(encoding="utf-8")
    assert "/api/words/" in script
    own = [words for words in [*PHASES.values(), *STATES.values()]
           if len(words) > 6 and f'"{words}"' in script]
    assert own == []
