"""Progress during a real render: phases in order, the export message first, throttled."""

from __future__ import annotations

import time
from pathlib import Path

import storyreel
from media import ProjectFactory, all_files
from storyreel import EXPORT_MESSAGE, Progress


def collect(make_project: ProjectFactory, out_dir: Path, seconds: list[float], **fields: object
            ) -> tuple[list[Progress], list[set[str]], storyreel.RenderResult, float]:
    seen: list[Progress] = []
    files_at_export: list[set[str]] = []

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.message == EXPORT_MESSAGE and not files_at_export:
            files_at_export.append(all_files(out_dir))

    project = make_project(seconds, **fields)
    start = time.monotonic()
    result = storyreel.render(project, out_dir / "story.mp4", on_progress=on_progress)
    return seen, files_at_export, result, time.monotonic() - start


def test_phases_and_export_message(make_project: ProjectFactory, out_dir: Path) -> None:
    seen, files_at_export, result, _ = collect(make_project, out_dir, [0.4, 0.5, 0.3])
    phases = [p.phase for p in seen]
    order = [phase for i, phase in enumerate(phases) if i == 0 or phases[i - 1] != phase]
    assert order == ["analyse", "export", "verify", "done"]
    export = [p for p in seen if p.phase == "export"]
    assert export[0].message == EXPORT_MESSAGE
    assert export[0].done == 0, "the export message comes before any frame is encoded"
    assert files_at_export == [set()], "nothing is written before the export message"
    assert {p.total for p in export} == {result.frames}
    assert export[-1].done == result.frames
    dones = [p.done for p in export]
    assert dones == sorted(dones)
    analyse = [p for p in seen if p.phase == "analyse"]
    assert analyse[-1].done == analyse[-1].total == 3


def test_last_update_says_done(make_project: ProjectFactory, out_dir: Path) -> None:
    seen, _, result, _ = collect(make_project, out_dir, [0.3])
    last = seen[-1]
    assert last.phase == "done"
    assert last.fraction == 1.0, f"a finished render should read 100 %, got {last}"
    assert result.path.name in last.message


def test_updates_are_throttled_and_carry_rate_and_eta(make_project: ProjectFactory,
                                                      out_dir: Path) -> None:
    seen, _, result, elapsed = collect(make_project, out_dir, [20.0], width=160, height=90)
    export = [p for p in seen if p.phase == "export"]
    assert result.frames == 609
    assert len(export) <= elapsed / 0.1 + 4, f"{len(export)} updates in {elapsed:.2f} s"
    middle = [p for p in export if 0 < p.done < p.total]
    for p in middle:
        assert p.rate is not None and p.rate > 0
        assert p.eta is not None and p.eta >= 0
        assert 0 < p.fraction < 1
