"""The messages workers and senders exchange, and the one redaction of URLs: hostile
values refused before use, passwords never shown (no Redis needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rq", reason="the workers extra (rq) is not installed")

from storyreel.credentials import redact, redis_url
from storyreel.distributed.messages import (
    Shared,
    read_part_answer,
    read_speech_answer,
    read_speech_request,
    speech_request,
)
from storyreel.errors import WorkerError
from storyreel.model.project import Voice
from storyreel.voice.speaker import SpeechJob


@pytest.mark.parametrize(("text", "shown"), [
    ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://alice:s3cret@host/0", "redis://alice:***@host/0"),
    ("rediss://alice:p@ss@w:rd@host:6380/0?ssl_ca_certs=/ca.pem",
     "rediss://alice:***@host:6380/0?ssl_ca_certs=/ca.pem"),
    ("redis://tokenonly@host/0", "redis://***@host/0"),
    ("redis://host/0?password=s3cret&db=1", "redis://host/0?password=***&db=1"),
    ("lost Redis at redis://u:s3cret@h/0: and redis://:x@y/1 too",
     "lost Redis at redis://u:***@h/0: and redis://:***@y/1 too"),
    ("redis://host:6379/0", "redis://host:6379/0"),
    ("no url here: a@b", "no url here: a@b"),
    ("ünïcode redis://ü:ß€@hôst/0", "ünïcode redis://ü:***@hôst/0"),
])
def test_redact_hides_every_password(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert redact(shown) == shown  # idempotent


def test_the_redis_url_comes_from_the_argument_a_file_or_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYREEL_REDIS", "redis://:env@h/0")
    url_file = tmp_path / "url"
    url_file.write_text("# comment\n\n  redis://:file@h/0  \nignored\n", encoding="utf-8")
    assert redis_url("redis://:arg@h/0", url_file) == "redis://:arg@h/0"
    assert redis_url(None, url_file) == "redis://:file@h/0"
    assert redis_url() == "redis://:env@h/0"
    assert redis_url(environment=False) is None
    monkeypatch.delenv("STORYREEL_REDIS")
    assert redis_url() is None
    (tmp_path / "empty").write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(WorkerError, match="holds no URL"):
        redis_url(None, tmp_path / "empty")
    with pytest.raises(WorkerError, match="cannot read the Redis URL file"):
        redis_url(None, tmp_path / "missing")


def _request(root: Path, changes: dict[str, Any] | None = None) -> str:
    speech = SpeechJob("ab" * 20, "Hello there.", Voice(), 1)
    message = json.loads(speech_request(speech, str(root), "0" * 32, {"build": "1"}))
    return json.dumps({**message, **(changes or {})})


def test_a_valid_narration_request_reads_back(tmp_path: Path) -> None:
    speech, root, render_id, identity = read_speech_request(_request(tmp_path),
                                                            Shared.of([tmp_path]))
    assert speech == SpeechJob("ab" * 20, "Hello there.", Voice(), 1)
    assert (root, render_id, identity) == (tmp_path.resolve(), "0" * 32, {"build": "1"})


@pytest.mark.parametrize("changes", [
    {"key": "../" + "a" * 37}, {"key": "A" * 40}, {"key": "a" * 41}, {"key": 5},
    {"render_id": "../../x"}, {"text": "x" * 20_001}, {"text": None}, {"segment": True},
    {"segment": 10**4000}, {"identity": {str(i): "x" for i in range(65)}},
    {"voice": {"engine": "os.system"}}, {"voice": {"speed": "1e999999999"}},
    {"root": "relative/cache"}, {"root": "/etc"}, {"root": "/tmp/a\x00b"}, {"unexpected": 1},
])
def test_a_hostile_narration_request_is_refused(tmp_path: Path,
                                                changes: dict[str, Any]) -> None:
    with pytest.raises(WorkerError, match="refused"):
        read_speech_request(_request(tmp_path, changes), Shared.of([tmp_path]))


def test_a_narration_folder_linked_out_of_the_shared_folder_is_refused(
        tmp_path: Path) -> None:
    shared, outside = tmp_path / "shared", tmp_path / "outside"
    shared.mkdir()
    outside.mkdir()
    (shared / "narration").symlink_to(outside, target_is_directory=True)
    with pytest.raises(WorkerError, match="outside the shared folders"):
        read_speech_request(_request(shared), Shared.of([shared]))
    loop = shared / "loop"
    loop.symlink_to(loop)
    with pytest.raises(WorkerError, match="refused"):
        read_speech_request(_request(loop), Shared.of([shared]))


@pytest.mark.parametrize("text", [
    b'{"key": 1}', {"key": "x"}, "[" * 100_000, '{"a": ' + "9" * 5000 + "}", "not json",
])
def test_a_request_that_is_not_a_message_is_refused(tmp_path: Path, text: Any) -> None:
    with pytest.raises(WorkerError, match="refused"):
        read_speech_request(text, Shared.of([tmp_path]))


@pytest.mark.parametrize("answer", [
    {"spoken": True}, '{"spoken": 1}', '{"spoken": true, "error": "x"}', '{"error": 3}',
    '{"voice_error": "' + "x" * 5000 + '"}', "null", b'{"spoken": true}', None,
])
def test_a_forged_speech_answer_is_refused(answer: Any) -> None:
    with pytest.raises(WorkerError, match="refused an answer"):
        read_speech_answer(answer, "narration 1")


def test_genuine_answers_read_back() -> None:
    assert read_speech_answer('{"spoken": false}', "n").model_dump() == {"spoken": False}
    assert read_part_answer('{"error": "render cancelled"}', "p").model_dump() == {
        "error": "render cancelled"}
    done = read_part_answer('{"encoded": true, "warnings": ["ü"]}', "p")
    assert done.model_dump() == {"encoded": True, "warnings": ["ü"]}
