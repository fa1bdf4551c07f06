"""``python -m bench.draft``: from an edit in the studio to the draft that shows it.

A studio (``storyreel serve`` as a child process, on a free loopback port, with a data
folder and narration cache of its own) creates the 6-segment sample project and renders
a first draft. Then, five times: one segment's text is edited through the HTTP API, a
draft is requested, and the clock stops when the status says it is completed. Each
draft's breakdown comes from the job's own record (the status's ``timings``).

Then a new 10-segment project (the sample's stills and texts, four more segments) is
imported into a fresh studio and its first draft is rendered; the same project in
another fresh studio gets a final render first. Both speak every narration, so the
draft is compared with what the final render of a new project costs.

``--cold`` serves with a fresh render process per job (the studio before it kept one
ready), for a before/after comparison on the same machine.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.measure import child_env
from bench.report import write_results

__all__ = ["main", "run_scenario"]

ROOT = Path(__file__).resolve().parent.parent
#: Steps of a draft in the order they happen (``sound`` overlaps ``parts``).
STEPS = ("worker", "speak", "narrate", "analyse", "loudness", "sound", "parts", "assemble",
         "verify", "publish", "finish")
#: Not a step: CPU seconds of the render process over the job (all threads).
CPU = "cpu"
_EDITS = (
    "At first light the stones of the valley glowed like embers.",
    "The river carried old songs down from the hills to the sea.",
    "Vines had swallowed the walls, but the gate still stood.",
    "Every night the keeper sang, and the city listened.",
    "Under the stars the streets seemed to breathe once more.",
)
_MORE = (
    "Far above, an owl circled the broken tower twice.",
    "A lantern flickered in a window no one had opened for years.",
    "The keeper's song rose, and the stones answered.",
    "By morning, the valley was not as quiet as before.",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Studio:
    """A studio server in a child process and a client on it."""

    def __init__(self, client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
        self.client = client
        self.process = process

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.client.request(method, path, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def status(self, project: int) -> dict[str, Any]:
        return dict(self.call("GET", f"/api/projects/{project}/status/"))

    def render(self, project: int, *, draft: bool, poll: float = 0.02) -> dict[str, Any]:
        """Request a render and wait until it ends; returns the final status."""
        job = self.call("POST", f"/api/projects/{project}/render/", json={"draft": draft})
        job_id = job["job_id"]
        while True:
            status = self.status(project)
            if status["job_id"] == job_id and status["status"] in ("completed", "failed",
                                                                    "cancelled"):
                if status["status"] != "completed":
                    raise RuntimeError(f"render {job_id} {status['status']}: "
                                       f"{status['error']}")
                return status
            time.sleep(poll)


@contextmanager
def studio(data: Path, cold: bool) -> Iterator[Studio]:
    """Serve a studio on ``data`` until the block ends (its cache in ``data/cache``)."""
    port = _free_port()
    env = {**child_env(), "STORYREEL_CACHE_DIR": str(data / "voice-cache")}
    command = [sys.executable, "-m", "bench.draft", "--serve", str(data), "--port", str(port)]
    log = (data.parent / f"{data.name}.log").open("wb")
    process = subprocess.Popen([*command, *(["--cold"] if cold else [])], env=env,
                               stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/api/projects/").raise_for_status()
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the studio did not start") from None
                    time.sleep(0.1)
            yield Studio(client, process)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_quiet(process: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    """Wait until the studio and its render process use (almost) no CPU: warmed up."""
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        family = [parent, *parent.children(recursive=True)]
        before = sum(p.cpu_times().user + p.cpu_times().system for p in family)
        time.sleep(0.5)
        after = sum(p.cpu_times().user + p.cpu_times().system for p in family
                    if p.is_running())
        if after - before < 0.05:
            return


def _row(total: float, patch: float, timings: dict[str, float]) -> dict[str, Any]:
    steps = {name: timings.get(name, 0.0) for name in STEPS}
    overlapped = max(steps["parts"], steps["sound"])
    accounted = patch + overlapped + sum(
        v for k, v in steps.items() if k not in ("parts", "sound", "loudness"))
    return {"total": total, "patch": patch, **steps, "other": max(0.0, total - accounted),
            CPU: timings.get(CPU, 0.0)}


def edit_loop(data: Path, cold: bool, edits: int) -> dict[str, Any]:
    """The sample project: a first draft, then ``edits`` one-segment edits, each drafted."""
    with studio(data, cold) as s:
        _wait_quiet(s.process)
        project = s.call("POST", "/api/projects/sample/")
        pid, segments = project["id"], project["segment_list"]
        started = time.perf_counter()
        first = s.render(pid, draft=True)
        first_row = _row(time.perf_counter() - started, 0.0, first.get("timings") or {})
        rows = []
        for n in range(edits):
            _wait_quiet(s.process, 10)
            segment = segments[(n * 2 + 1) % len(segments)]
            started = time.perf_counter()
            s.call("PATCH", f"/api/projects/{pid}/segments/{segment['id']}/",
                   json={"text": _EDITS[n % len(_EDITS)] + f" ({n + 1})"})
            patched = time.perf_counter() - started
            status = s.render(pid, draft=True)
            rows.append(_row(time.perf_counter() - started, patched,
                             status.get("timings") or {}))
            print(f"edit {n + 1}: {rows[-1]['total']:.2f} s ({status['detail']})", flush=True)
    return {"first_draft": first_row, "edits": rows, "median": _stat(rows, 0.5),
            "p90": _stat(rows, 0.9)}


def _stat(rows: list[dict[str, Any]], q: float) -> dict[str, float]:
    """Per column, the ``q`` quantile (0.5: the median) over the rows."""
    out = {}
    for key in rows[0]:
        values = sorted(row[key] for row in rows)
        out[key] = statistics.median(values) if q == 0.5 else \
            values[min(len(values) - 1, round(q * (len(values) - 1)))]
    return out


def _bundle(folder: Path) -> bytes:
    """The sample project with four more segments, as a zip bundle."""
    from storyreel.demo import make_demo_project

    manifest = make_demo_project(folder)
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for n, text in enumerate(_MORE):
        data["segments"].append({"image": data["segments"][n]["image"], "text": text})
    manifest.write_text(json.dumps(data), encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.rglob("*"):
            if path.is_file():
                archive.write(path, f"story/{path.relative_to(folder)}")
    return buffer.getvalue()


def new_project(work: Path, cold: bool, draft: bool) -> dict[str, Any]:
    """A new 10-segment project's first render (draft or final) in a fresh studio."""
    with tempfile.TemporaryDirectory(dir=work) as temp:
        bundle = _bundle(Path(temp) / "story")
        data = Path(temp) / "data"
        with studio(data, cold) as s:
            _wait_quiet(s.process)
            project = s.call("POST", "/api/projects/",
                             files={"file": ("story.zip", bundle, "application/zip")})
            started = time.perf_counter()
            status = s.render(project["id"], draft=draft)
            return _row(time.perf_counter() - started, 0.0, status.get("timings") or {})


def run_scenario(work: Path, cold: bool, edits: int, new: bool = True) -> dict[str, Any]:
    """Every measurement (``new``: also the new 10-segment project's); seconds."""
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as temp:
        result = edit_loop(Path(temp) / "data", cold, edits)
    if new:
        result["new_draft"] = new_project(work, cold, draft=True)
        result["new_final"] = new_project(work, cold, draft=False)
        result["new_draft_vs_final"] = (result["new_draft"]["total"]
                                        / result["new_final"]["total"])
    result["cold"] = cold
    result["others_load"] = os.getloadavg()[0]
    return result


def markdown(result: dict[str, Any]) -> str:
    """The figures as a Markdown section."""
    mode = "a fresh render process per job" if result["cold"] else "the warm render process"
    columns = ["total", "patch", *STEPS, "other", CPU]
    lines = [f"#### Edit to draft, 6-segment sample ({mode})", "",
             "| draft | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]

    def row(name: str, values: dict[str, float]) -> str:
        return f"| {name} | " + " | ".join(f"{values[c]:.2f}" for c in columns) + " |"

    lines.append(row("first", result["first_draft"]))
    lines += [row(f"edit {n}", r) for n, r in enumerate(result["edits"], 1)]
    lines += [row("**median**", result["median"]), row("p90", result["p90"])]
    if "new_draft" not in result:
        return "\n".join(lines) + "\n"
    lines += ["", f"New 10-segment project: first draft {result['new_draft']['total']:.1f} s, "
              f"final render {result['new_final']['total']:.1f} s "
              f"({100 * result['new_draft_vs_final']:.0f} %); 1-minute load average "
              f"{result['others_load']:.1f} at the end.", "",
              "| new project | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns),
              row("first draft", result["new_draft"]), row("final render", result["new_final"])]
    return "\n".join(lines) + "\n"


def serve(data: Path, port: int, cold: bool) -> int:
    """The studio of the scenario (``--cold``: a fresh render process per job)."""
    import uvicorn

    from storyreel.service import create_app
    from storyreel.service.jobs import ProcessRunner

    app = create_app(data, runner=ProcessRunner() if cold else None)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes ``draft.json``/``draft.md`` (``draft-cold.*`` with
    ``--cold``) to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.draft", description=__doc__)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--cold", action="store_true",
                        help="a fresh render process per job (the studio before)")
    parser.add_argument("--no-new", action="store_true",
                        help="skip the new 10-segment project's draft and final render")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        return serve(args.serve, args.port, args.cold)
    args.out.mkdir(parents=True, exist_ok=True)
    result = run_scenario(args.work.resolve(), args.cold, args.edits, not args.no_new)
    name = "draft-cold" if args.cold else "draft"
    write_results(args.out, name, result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
