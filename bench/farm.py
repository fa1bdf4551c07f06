"""``python -m bench.farm``: one render's parts encoded by N local workers through Redis.

Starts its own ``redis-server`` (loopback, persistence off) and N ``storyreel worker``
processes, renders the benchmark project with one encoder thread per part, and
reports for each N: wall time, parts and frames encoded per second, the CPU of the
submitter and of the workers (their work-horses included), and the submitter's
dispatch (queueing, following) and assembly (checking and joining the parts) CPU as
a share of the whole render's CPU. Per-part figures (frames, seconds on a worker)
feed the projection in ``bench/REPORT.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
from redis import Redis
from rq.registry import FinishedJobRegistry

import storyreel
from bench.measure import output_size
from bench.project import make_project
from bench.report import write_results
from storyreel.distributed import QUEUE_NAME, RemoteParts
from storyreel.distributed.jobs import SERIALIZER, StoryreelJob
from storyreel.render import job as render_job
from storyreel.render.parts import PartJob
from storyreel.render.progress import CancelToken

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def local_farm(workers: int, folder: Path, shared: Sequence[Path] = ()
               ) -> Iterator[tuple[str, list[psutil.Popen]]]:
    """A private redis-server and ``workers`` worker processes sharing ``folder`` (and
    ``shared``), all stopped on exit."""
    server, url = _own_redis(folder)
    procs: list[psutil.Popen] = []
    try:
        folders = [arg for path in (folder, *shared) for arg in ("--shared", str(path))]
        procs = [psutil.Popen([sys.executable, "-m", "storyreel", "worker", "--redis", url,
                               *folders, "--name", f"bench-{n}"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for n in range(workers)]
        connection = Redis.from_url(url)
        _until(lambda: len(connection.smembers(f"rq:workers:{QUEUE_NAME}")) == workers)
        connection.close()
        yield url, procs
    finally:  # whatever happened: every process stopped, the server last
        for proc in procs:
            _stop(proc)
        _stop(server)


def _stop(proc: subprocess.Popen[bytes] | psutil.Popen) -> None:
    """SIGTERM, and SIGKILL if that has not stopped it within 30 s."""
    with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
        proc.terminate()
    try:
        proc.wait(30)
    except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
            proc.kill()
        proc.wait()


def _own_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of this run on a free loopback port, answering as its own process
    (a port chosen free can be another program's by the time the server binds it)."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    for _ in range(3):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        server = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save",
                                   "", "--appendonly", "no", "--dir", str(folder)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            pid = redis_answering(server, url, _until)
        except BaseException:
            _stop(server)
            raise
        if pid == server.pid:
            return server, url
        _stop(server)
    raise RuntimeError("redis-server did not answer at its own port three times")


def redis_answering(process: subprocess.Popen[bytes], url: str,
                    until: Callable[[Callable[[], bool]], None]) -> int | None:
    """Wait (with ``until``, which polls a check) until a Redis answers at ``url`` or
    ``process`` has exited; the process id of the Redis that answered, ``None`` if
    ``process`` exited first. Not ``process``'s own id: the port was another's."""
    answered: list[int] = []

    def up_or_gone() -> bool:
        if process.poll() is not None:
            return True
        pid = _answering_pid(url)
        if pid is not None:
            answered.append(pid)
        return pid is not None

    until(up_or_gone)
    return answered[-1] if answered and process.poll() is None else None


def _answering_pid(url: str) -> int | None:
    """The process id of the Redis answering at ``url``, or None."""
    try:
        connection = Redis.from_url(url)
        try:
            return int(connection.info("server")["process_id"])
        finally:
            connection.close()
    except Exception:
        return None


def _until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("the farm did not come up")
        time.sleep(0.05)


class _Clock:
    """CPU seconds the calling thread spends inside the wrapped functions (the sound
    track is encoded on another thread meanwhile, and is not dispatch)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - start
        return timed


def _worker_cpu(procs: Sequence[psutil.Popen]) -> float:
    times = [p.cpu_times() for p in procs]
    return sum(t.user + t.system + t.children_user + t.children_system for t in times)


def run_once(manifest: Path, workers: int, work: Path) -> dict[str, Any]:
    """One distributed render of ``manifest`` on ``workers`` local workers."""
    project = storyreel.load_project(manifest)
    dispatch, assembly = _Clock(), _Clock()
    with (local_farm(workers, work, [manifest.parent]) as (url, procs),
          contextlib.ExitStack() as undo):
        remote = _TimedParts(url, dispatch)
        for name, clock in (("assemble", assembly), ("probe_part", assembly)):
            original = getattr(render_job, name)
            setattr(render_job, name, clock.wrap(original))
            undo.callback(setattr, render_job, name, original)
        cpu0, wall0, workers0 = time.process_time(), time.monotonic(), _worker_cpu(procs)
        result = storyreel.render(project, work / f"farm-{workers}.mp4", cache=False,
                                  parts=remote)
        wall = time.monotonic() - wall0
        head, tail = remote.span[0] - wall0, wall0 + wall - remote.span[1]
        submitter, worker_cpu = time.process_time() - cpu0, _worker_cpu(procs) - workers0
        per_part = _per_part(url)
    total_cpu = submitter + worker_cpu
    return {"workers": workers, "wall": wall, "frames": result.frames,
            "parts": result.chunks_encoded, "submitter_cpu": submitter,
            "worker_cpu": worker_cpu, "dispatch_cpu": dispatch.seconds,
            "assembly_cpu": assembly.seconds, "before_parts": head, "after_parts": tail,
            "overhead_share": (dispatch.seconds + assembly.seconds) / total_cpu,
            "parts_per_second": result.chunks_encoded / wall,
            "frames_per_second": result.frames / wall, "per_part": per_part}


class _TimedParts(RemoteParts):
    """Parts on the workers, one encoder thread each; the submitter's CPU meanwhile."""

    def __init__(self, url: str, clock: _Clock) -> None:
        super().__init__(url, threads=1)
        self.clock = clock
        self.span = (0.0, 0.0)  # when the parts were sent, and when the last was back

    def __call__(self, jobs: Sequence[PartJob], cancel: CancelToken,
                 on_frame: Callable[[], None],
                 on_part: Callable[[PartJob, list[str]], None]) -> None:
        start = time.monotonic()
        self.clock.wrap(super().__call__)(jobs, cancel, on_frame, on_part)
        self.span = (start, time.monotonic())


def _per_part(url: str) -> list[dict[str, float]]:
    connection = Redis.from_url(url)
    jobs = [StoryreelJob.fetch(i, connection=connection, serializer=SERIALIZER)
            for i in FinishedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()]
    rows = []
    for job in jobs:
        if job.started_at and job.ended_at:
            rows.append({"frames": float(job.meta.get("frames", 0)),
                         "seconds": (job.ended_at - job.started_at).total_seconds()})
    return rows


def markdown(runs: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """The results as a Markdown table plus the per-part figures."""
    lines = [f"Distributed render: {args.segments} segments, {args.size[0]}x{args.size[1]} "
             f"{args.fps} fps, preset {args.preset}, one encoder thread per part, "
             "workers on this machine", "",
             "| workers | wall s | parts | parts/s | frames/s | submitter CPU s | "
             "workers CPU s | dispatch CPU s | assembly CPU s | overhead share | "
             "before parts s | after parts s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['workers']} | {r['wall']:.1f} | {r['parts']} | "
                     f"{r['parts_per_second']:.2f} | {r['frames_per_second']:.1f} | "
                     f"{r['submitter_cpu']:.1f} | {r['worker_cpu']:.1f} | "
                     f"{r['dispatch_cpu']:.2f} | {r['assembly_cpu']:.2f} | "
                     f"{100 * r['overhead_share']:.2f} % | {r['before_parts']:.2f} | "
                     f"{r['after_parts']:.2f} |")
    parts = runs[0]["per_part"]
    if parts:
        rates = [p["frames"] / p["seconds"] for p in parts if p["seconds"] > 0]
        lines += ["", f"Per part (1 worker): {len(parts)} parts, median "
                  f"{statistics.median(p['frames'] for p in parts):.0f} frames, "
                  f"longest {max(p['seconds'] for p in parts):.2f} s, median "
                  f"{statistics.median(rates):.1f} frames/s on one thread"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; writes ``farm.json`` and ``farm.md`` to ``--out``."""
    parser = argparse.ArgumentParser(prog="python -m bench.farm", description=__doc__)
    parser.add_argument("--segments", type=int, default=12)
    parser.add_argument("--size", type=output_size, default=(640, 360))
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    width, height = args.size
    project = make_project(args.work / "farm", args.segments, width, height, args.fps,
                           seconds=4.0)
    manifest = project.manifest
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["settings"]["preset"] = args.preset
    manifest.write_text(json.dumps(data), encoding="utf-8")
    runs = [run_once(manifest, n, args.work) for n in args.workers]
    write_results(args.out, "farm", runs, markdown(runs, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
