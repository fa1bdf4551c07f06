"""Whoever can write to the workers' Redis must not run code, write outside the shared
folders, or be believed; and the Redis password never shows.

A real redis-server with a password (loopback, a free port, persistence off, stopped by
pid) and real ``storyreel worker`` processes sharing one folder; forged jobs and
answers are written into it the way anything with the password could.
"""

from __future__ import annotations

import json
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "distributed"))
pytest.importorskip("rq", reason="the workers extra (rq) is not installed")

from farmkit import RedisServer, Workers, fetch_job, parts_queue, running_redis, wait_for
from redis import Redis
from rq import Callback, Queue, Worker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.results import Result
from rq.serializers import JSONSerializer
from test_distributed import make_project

import storyreel
from storyreel.cli import main
from storyreel.distributed import QUEUE_NAME, RemoteParts, RemoteSpeaker
from storyreel.distributed.messages import part_request, speech_request
from storyreel.distributed.tasks import encode_remote, speak_remote, speech_identity
from storyreel.errors import WorkerError
from storyreel.model.project import Voice
from storyreel.render.keys import build_identity
from storyreel.render.parts import PartJob
from storyreel.voice.cache import NarrationCache
from storyreel.voice.narrate import Narrator

PASSWORD = "pw-7f3a91c2-never-shown"
TEXT = "The lighthouse stood alone on the cliff."


class Planted:
    """Pickles into a call of ``os.system``: unpickling it runs the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


def touch(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path, password=PASSWORD) as started:
        yield started


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    folder = tmp_path / "shared"
    folder.mkdir()
    return folder


@pytest.fixture
def pool(server: RedisServer, shared: Path) -> Iterator[Workers]:
    workers = Workers(server.url, shared)
    try:
        yield workers
    finally:
        workers.stop()


def ended(server: RedisServer, job_id: str) -> Job:
    """Wait until a worker has finished or failed the job; the job, as JSON."""
    connection = server.connection()

    def done() -> bool:
        return (job_id in FailedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()
                or job_id in FinishedJobRegistry(QUEUE_NAME, connection=connection)
                .get_job_ids())

    wait_for(done, f"job {job_id} to end")
    return fetch_job(job_id, connection)


def test_the_redis_needs_its_password_and_acl_users_work(server: RedisServer) -> None:
    """The fixture really asks for a password (else the tests below prove less), and an
    ACL user (``redis://user:password@``) connects as the default user does."""
    from storyreel.distributed.connection import connect

    no_password = server.url.replace(f":{PASSWORD}@", "")
    with pytest.raises(WorkerError, match="refused the connection") as refused:
        connect(no_password)
    assert str(refused.value).count("\n") == 0
    server.connection().acl_setuser("farm", enabled=True, passwords=["+acl-pw-9c1e"],
                                    keys=["*"], channels=["*"], commands=["+@all"])
    farm = server.url.replace(f":{PASSWORD}@", "farm:acl-pw-9c1e@")
    connect(farm).close()
    with pytest.raises(WorkerError, match=r"Redis at redis://farm:\*\*\*@127.0.0.1:\d+/0 "
                                          "refused the connection") as wrong:
        connect(farm.replace("acl-pw-9c1e", "acl-pw-wrong"))
    assert "acl-pw" not in str(wrong.value)


def test_a_render_through_a_password_protected_redis_works(
        server: RedisServer, pool: Workers, shared: Path) -> None:
    """What the refusals below must not break: genuine parts, JSON both ways."""
    import av

    pool.start("w1")
    project = make_project(shared, [0.6, 0.7])
    result = storyreel.render(project, shared / "out.mp4", cache=False,
                              parts=RemoteParts(server.url))
    assert result.chunks_encoded == 2
    with av.open(str(shared / "out.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == result.frames
    connection = server.connection()
    assert len(FinishedJobRegistry(QUEUE_NAME, connection=connection).get_job_ids()) == 2


# -- forged jobs: nothing runs --------------------------------------------------------------

def test_a_pickled_job_is_never_unpickled_by_a_worker(
        tmp_path: Path, server: RedisServer, pool: Workers) -> None:
    pool.start("w1")
    marker = tmp_path / "pickle-ran"
    pickled = Queue(QUEUE_NAME, connection=server.connection())  # RQ's default: pickle
    job = pickled.enqueue(encode_remote, Planted(touch(marker)), description="forged")
    assert ended(server, job.id).get_status() == JobStatus.FAILED
    assert not marker.exists()
    assert pool.processes["w1"].poll() is None  # the worker goes on


@pytest.mark.parametrize(("func", "options", "why"), [
    ("os.system", {}, "'os.system' is not one of storyreel's tasks"),
    ("posix.system", {}, "'posix.system' is not one of storyreel's tasks"),
    ("storyreel.distributed.tasks._encode_atomically", {}, "is not one of storyreel's tasks"),
    ("storyreel.distributed.tasks.speak_remote", {"on_success": Callback("os.system")},
     "it carries callbacks or webhooks"),
])
def test_a_json_job_naming_anything_else_fails_without_running(
        tmp_path: Path, server: RedisServer, pool: Workers, func: str,
        options: dict[str, Any], why: str) -> None:
    pool.start("w1")
    marker = tmp_path / "job-ran"
    queue = Queue(QUEUE_NAME, connection=server.connection(), serializer=JSONSerializer)
    job = queue.enqueue_call(func, args=[touch(marker)], **options,
                             description="forged\n\x1b[2Jstoryreel: all is well")
    failed = ended(server, job.id)
    assert failed.get_status() == JobStatus.FAILED
    assert not marker.exists()
    reason = failed.latest_result()
    assert reason is not None and why in (reason.exc_string or "")
    assert "nothing was run" in (reason.exc_string or "")
    assert "\x1b" not in pool.log("w1")  # the worker logs the job's description, cleaned
    assert "forged [2Jstoryreel: all is well" in pool.log("w1")


def _speak_job(server: RedisServer, request: dict[str, Any]) -> dict[str, Any]:
    queue = parts_queue(server.connection())
    job = queue.enqueue(speak_remote, json.dumps(request))
    finished = ended(server, job.id)
    assert finished.get_status() == JobStatus.FINISHED
    return dict(json.loads(finished.return_value()))


def _speech(shared: Path) -> dict[str, Any]:
    speech = Narrator(NarrationCache(shared)).job(TEXT, Voice(), 1)
    return dict(json.loads(speech_request(speech, str(shared), "0" * 32, speech_identity())))


def test_a_narration_key_or_root_outside_the_shared_folder_is_refused(
        tmp_path: Path, server: RedisServer, pool: Workers, shared: Path) -> None:
    pool.start("w1")
    outside = tmp_path / "outside"
    (outside / "narration").mkdir(parents=True)
    (shared / "link").symlink_to(outside, target_is_directory=True)
    good = _speech(shared)
    forged = [
        ({**good, "key": "../../outside/escape"}, "key"),
        ({**good, "key": "../" + good["key"][3:]}, "key"),
        ({**good, "root": str(outside)}, "outside the shared folders"),
        ({**good, "root": str(shared / "link")}, "outside the shared folders"),
        ({**good, "root": str(shared / ".." / "outside")}, "outside the shared folders"),
        ({**good, "voice": {**good["voice"], "engine": "piper",
                            "model": str(outside / "m.onnx")}}, "outside the shared folders"),
        ({**good, "text": 5}, "text"),
        ({**good, "segment": "1"}, "segment"),
        ({**good, "extra": 1}, "extra"),
    ]
    for request, why in forged:
        answer = _speak_job(server, request)
        assert set(answer) == {"error"}, answer
        assert "refused" in answer["error"] and why in answer["error"], answer
    assert sorted(p.name for p in tmp_path.rglob("*") if "escape" in p.name) == []
    assert list((outside / "narration").iterdir()) == []
    assert not (shared / "narration").exists()  # nothing was spoken for a forged request


def _planned_part(shared: Path, server: RedisServer) -> PartJob:
    """A real part of a real render (planned here; the render is stopped before it is
    sent)."""
    captured: list[PartJob] = []

    class Capture(RemoteParts):
        def __call__(self, jobs: Any, *args: Any) -> None:
            captured.extend(jobs)
            raise WorkerError("captured")

    project = make_project(shared, [0.6])
    with pytest.raises(WorkerError, match="captured"):
        storyreel.render(project, shared / "out.mp4", cache=False, parts=Capture(server.url))
    return captured[0]


def test_a_part_naming_paths_outside_the_shared_folder_is_refused(
        tmp_path: Path, server: RedisServer, pool: Workers, shared: Path) -> None:
    pool.start("w1")
    part = _planned_part(shared, server)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes((shared / "media/0.png").read_bytes())
    good = json.loads(part_request(part, "0" * 32, build_identity()))
    segment = good["project"]["segments"][0]
    forged = [
        ({**good, "path": str(outside / "part.mp4")}, "outside the shared folders"),
        ({**good, "path": str(shared / "part.sh")}, "not written to an .mp4 file"),
        ({**good, "project": {**good["project"], "segments": [{**segment,
                                                               "image": str(secret)}]}},
         "outside the shared folders"),
        ({**good, "settings": {**good["settings"], "fps": "1e999999999"}},
         "is not a number it can hold"),
        ({**good, "chunk": {**good["chunk"], "end": 10**9}}, "not inside the timeline"),
        ({**good, "settings": {**good["settings"], "preset": "x --evil"}}, "settings"),
        ({**good, "render_id": "../x"}, "render_id"),
        ({**good, "story": {**good["story"], "items": [{**good["story"]["items"][0],
                                                        "segment": 10**9}]}},
         "segments its project does not have"),
    ]
    texts = [(json.dumps(request), why) for request, why in forged]
    rate = json.dumps({**good, "settings": {**good["settings"], "fps": "1e999_999_999"}})
    texts += [(rate, "is not a number it can hold"),  # with underscores, and escaped:
              (rate.replace("1e999_999_999", "1\\u0065999_999_999"), "not a number")]
    queue = parts_queue(server.connection())
    for text, why in texts:
        job = queue.enqueue(encode_remote, text)
        finished = ended(server, job.id)
        answer = json.loads(finished.return_value())
        assert set(answer) == {"error"}, answer
        assert "refused" in answer["error"] and why in answer["error"], answer
    assert sorted(p.name for p in outside.iterdir()) == ["secret.png"]
    assert not list(shared.rglob("*.mp4"))


# -- forged answers: never used --------------------------------------------------------------

class _Raw:
    """Writes the bytes it is given as they are (a forger's serializer)."""

    @staticmethod
    def dumps(value: bytes) -> bytes:
        return value

    @staticmethod
    def loads(value: bytes) -> bytes:
        return value


def _forge_answers(server: RedisServer, answer: bytes) -> Callable[[], None]:
    """A fake worker: registered on the queue, it answers every job with ``answer``
    (raw bytes) without doing it. Returns what stops it."""
    connection = server.connection()
    fake = Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection,
                  name="forger")
    fake.register_birth()
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.05):
            for job_id in connection.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1):
                connection.lrem(f"rq:queue:{QUEUE_NAME}", 0, job_id)
                job = Job.fetch(job_id.decode(), connection=connection, serializer=_Raw)
                Result.create(job, Result.Type.SUCCESSFUL, ttl=600, return_value=answer)
                job.set_status(JobStatus.FINISHED)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join()
        fake.register_death()

    return halt


FORGED_ANSWERS = [
    pytest.param("pickle", id="pickle"),
    pytest.param(json.dumps({"spoken": True}).encode(), id="json-object-not-text"),
    pytest.param(json.dumps(json.dumps({"spoken": 1})).encode(), id="json-wrong-type"),
    pytest.param(json.dumps(json.dumps({"spoken": True, "run": "x"})).encode(),
                 id="json-extra-field"),
    pytest.param(b"\x80\x04not json", id="bytes"),
]


@pytest.mark.parametrize("answer", FORGED_ANSWERS)
def test_a_forged_narration_answer_is_refused_by_the_sender(
        tmp_path: Path, server: RedisServer, shared: Path, answer: Any) -> None:
    marker = tmp_path / "answer-ran"
    if answer == "pickle":
        answer = pickle.dumps(Planted(touch(marker)))
    halt = _forge_answers(server, answer)
    try:
        narrator = Narrator(NarrationCache(shared), speaker=RemoteSpeaker(server.url))
        with pytest.raises(WorkerError, match="refused") as caught:
            narrator.speak(TEXT, Voice(), 1)
    finally:
        halt()
    assert not marker.exists()
    assert PASSWORD not in str(caught.value)
    assert not (shared / "narration").exists() or not list((shared / "narration").glob("*.wav"))


def test_a_forged_part_answer_is_refused_by_the_sender(
        tmp_path: Path, server: RedisServer, shared: Path) -> None:
    marker = tmp_path / "answer-ran"
    project = make_project(shared, [0.6])
    halt = _forge_answers(server, pickle.dumps(Planted(touch(marker))))
    try:
        with pytest.raises(WorkerError, match="refused the answer"):
            storyreel.render(project, shared / "out.mp4", cache=False,
                             parts=RemoteParts(server.url))
    finally:
        halt()
    assert not marker.exists()
    assert not (shared / "out.mp4").exists()


# -- the password never shows ---------------------------------------------------------------

def test_a_wrong_password_is_one_line_that_does_not_show_it(
        tmp_path: Path, server: RedisServer) -> None:
    wrong = server.url.replace(PASSWORD, "wrong-secret-123")
    make_project(tmp_path, [0.6])
    for command in (["worker", "--redis", wrong, "--shared", str(tmp_path)],
                    ["render", str(tmp_path / "story.json"), "--redis", wrong]):
        done = subprocess.run([sys.executable, "-m", "storyreel", *command],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "refused the connection (wrong or missing user and password)" in lines[0]
        assert "redis://:***@127.0.0.1" in lines[0]
        assert "wrong-secret-123" not in done.stderr + done.stdout


def test_the_worker_takes_its_url_from_a_file_and_its_banner_hides_the_password(
        tmp_path: Path, server: RedisServer, shared: Path) -> None:
    url_file = tmp_path / "redis-url"
    url_file.write_text(f"# the farm\n{server.url}\n", encoding="utf-8")
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "storyreel", "worker", "--redis-url-file", str(url_file),
             "--shared", str(shared), "--name", "banner"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={k: v for k, v in os.environ.items() if k != "STORYREEL_REDIS"})
    try:
        connection = server.connection()
        wait_for(lambda: any(w.name == "banner" for w in Worker.all(connection=connection)),
                 "the worker to register")
        arguments = Path(f"/proc/{worker.pid}/cmdline").read_bytes()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.send_signal(signal.SIGTERM)  # a second one: cold shutdown
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    text = log.read_text(errors="replace")
    assert f"storyreel worker on {server.url.replace(PASSWORD, '***')}" in text
    assert PASSWORD not in text
    assert PASSWORD.encode() not in arguments


def test_the_cli_error_hides_the_password(
        tmp_path: Path, server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    """No worker listens: the error names the Redis, without its password."""
    make_project(tmp_path, [0.6])
    url_file = tmp_path / "redis-url"
    url_file.write_text(server.url, encoding="utf-8")
    code = main(["render", str(tmp_path / "story.json"), "--redis-url-file", str(url_file),
                 "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "no storyreel worker listens on redis://:***@127.0.0.1" in err
    assert PASSWORD not in err


def test_the_studio_job_error_and_its_database_hide_the_password(
        server: RedisServer, make_studio: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve --redis`` hands the URL to each render's process; with no worker the
    render fails, and the error the studio shows and keeps names the Redis without its
    password."""
    from studiokit import wait_status

    monkeypatch.setenv("STORYREEL_REDIS", server.url)
    studio = make_studio()
    project = studio.ready(1, seconds=0.5)
    assert studio.client.post(f"/api/projects/{project['id']}/render/").status_code == 202
    status = wait_status(studio.client, project["id"], timeout=120)
    assert status["status"] == "failed", status
    shown = json.dumps(status)
    assert "no storyreel worker listens on redis://:***@127.0.0.1" in shown
    assert PASSWORD not in shown
    for file in Path(studio.data_dir).rglob("*"):
        if file.is_file():
            assert PASSWORD.encode() not in file.read_bytes(), file


# -- TLS -------------------------------------------------------------------------------------

def _certificates(folder: Path) -> Path:
    """A private CA and a certificate for 127.0.0.1 signed by it (openssl); the CA file."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("STORYREEL_REQUIRE_REDIS"):
            pytest.fail("openssl is required here but not installed")
        pytest.skip("openssl is not installed (Debian: apt install openssl)")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    for command in (
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=storyreel test CA"],
        ["req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"],
    ):
        subprocess.run([openssl, *command], cwd=folder, check=True, capture_output=True)
    return folder / "ca.pem"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """redis-server speaking only TLS, with a password: its rediss:// URL (without the
    CA) and the CA file."""
    from farmkit import free_port

    folder = tmp_path / "tls"
    folder.mkdir()
    ca = _certificates(folder)
    port = free_port()
    with running_redis(folder, password=PASSWORD, listen=[
            "--port", "0", "--tls-port", str(port), "--tls-cert-file", "server.pem",
            "--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.pem",
            "--tls-auth-clients", "no"],
            url=f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"):
        yield f"rediss://:{PASSWORD}@127.0.0.1:{port}/0", ca


def test_workers_and_senders_speak_tls_and_check_the_certificate(
        tmp_path: Path, tls_server: tuple[str, Path], shared: Path) -> None:
    from storyreel.distributed.connection import connect

    url, ca = tls_server
    with pytest.raises(WorkerError) as unverified:  # a certificate nobody vouches for
        connect(url)
    assert "cannot reach Redis at rediss://:***@127.0.0.1" in str(unverified.value)
    assert PASSWORD not in str(unverified.value)
    with pytest.raises(WorkerError, match="cannot reach Redis"):  # plain text to a TLS port
        connect(url.replace("rediss://", "redis://"))

    checked = f"{url}?ssl_ca_certs={ca}"
    url_file = tmp_path / "redis-url"
    url_file.write_text(checked, encoding="utf-8")
    pool = Workers(checked, shared)
    worker = subprocess.Popen(
        [sys.executable, "-m", "storyreel", "worker", "--redis-url-file", str(url_file),
         "--shared", str(shared), "--name", "tls"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    pool.processes["tls"], pool.sessions = worker, [worker.pid]
    try:
        connection = Redis.from_url(checked)
        wait_for(lambda: any(w.name == "tls" for w in Worker.all(connection=connection)),
                 "the worker to register over TLS")
        narrator = Narrator(NarrationCache(shared / "cache"), speaker=RemoteSpeaker(checked))
        narration = narrator.speak(TEXT, Voice(), 1)
    finally:
        pool.stop()
    assert narration.seconds > 1
    assert len(list((shared / "cache" / "narration").glob("*.wav"))) == 1
