"""The command line as a user meets it: exit codes, messages, outputs, progress, signals."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from storyreel.cli import main
from storyreel.demo import write_speechlike_wav
from storyreel.words import phase_words

CLI = [sys.executable, "-m", "storyreel"]


def make_project(folder: Path, *, segments: int = 2, seconds: float = 0.6, **extra: object) -> Path:
    (folder / "media").mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(segments):
        Image.new("RGB", (200 + 10 * i, 150), (40 * i, 90, 160)).save(folder / f"media/{i}.png")
        write_speechlike_wav(folder / f"media/{i}.wav", seconds, seed=i)
        items.append({"image": f"media/{i}.png", "audio": f"media/{i}.wav", "text": f"Part {i}"})
    manifest = folder / "story.json"
    data: dict[str, object] = {"title": "Night Train to Zürich", "width": 160, "height": 96,
                               "fps": 25, "segments": items,
                               "settings": {"preset": "ultrafast"}}
    data.update(extra)
    manifest.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return manifest


def test_render_default_output_beside_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    manifest = make_project(tmp_path)
    assert main(["render", str(manifest)]) == 0
    out = tmp_path / "output" / "night-train-to-zurich.mp4"
    assert out.is_file()
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.width == 160
    assert "Rendered" in capsys.readouterr().err
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_second_render_reuses_parts_and_cache_command_shows_and_clears(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path, segments=3, seconds=1.2)
    out = str(tmp_path / "a.mp4")
    assert main(["render", str(manifest), "-o", out]) == 0
    assert "3 parts encoded, 0 reused" in capsys.readouterr().err
    assert main(["render", str(manifest), "-o", out]) == 0
    assert "0 parts encoded, 3 reused" in capsys.readouterr().err
    assert main(["render", str(manifest), "-o", out, "--no-cache"]) == 0
    assert "3 parts encoded, 0 reused" in capsys.readouterr().err
    assert main(["cache", str(manifest)]) == 0
    shown = capsys.readouterr().out
    assert ".storyreel-cache" in shown
    # 3 parts, the sound track, what was found in the 3 narrations and the 3 stills' focus
    assert "10 entries (3 parts, 1 sound track, 6 media analyses)" in shown
    assert main(["cache", str(manifest), "--clear"]) == 0
    assert "cleared" in capsys.readouterr().out
    assert main(["cache", str(manifest)]) == 0
    assert "0 entries, 0.0 MB" in capsys.readouterr().out
    assert main(["render", str(manifest), "-o", out]) == 0
    assert "3 parts encoded, 0 reused" in capsys.readouterr().err


def test_render_options_override_manifest(tmp_path: Path) -> None:
    manifest = make_project(tmp_path)
    out = tmp_path / "custom.mp4"
    code = main(["render", str(manifest), "-o", str(out), "--size", "128x72", "--fps", "29.97",
                 "--preset", "superfast", "-q"])
    assert code == 0
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (128, 72)
        assert video.average_rate == Fraction(30000, 1001)


def test_draft_renders_small_preview(tmp_path: Path) -> None:
    manifest = make_project(tmp_path, width=1280, height=720)
    out = tmp_path / "draft.mp4"
    assert main(["render", str(manifest), "--draft", "-o", str(out), "-q"]) == 0
    with av.open(str(out)) as container:
        ctx = container.streams.video[0].codec_context
        assert (ctx.width, ctx.height) == (854, 480)


def test_validate_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path, segments=3)
    (tmp_path / "media/0.png").unlink()
    (tmp_path / "media/2.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    assert main(["validate", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "segment 1 image" in err and "0.png" in err
    assert "segment 3 audio" in err and "2.wav" in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 2


def test_validate_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path)
    assert main(["validate", str(manifest)]) == 0
    assert "OK, 2 segments" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "needle"),
    [("{not json", "not valid JSON"), ("[1, 2]", "JSON object"),
     ('{"segments": []}', "no segments")],
)
def test_bad_manifest_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         content: str, needle: str) -> None:
    manifest = tmp_path / "bad.json"
    manifest.write_text(content)
    assert main(["render", str(manifest)]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err
    assert "Traceback" not in err


def test_missing_manifest_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(tmp_path / "nope.json")]) == 2
    assert "manifest file not found" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render"]) == 2
    assert main(["render", "x.json", "--size", "big"]) == 2
    assert main(["render", "x.json", "--fps", "0"]) == 2
    assert main(["render", "x.json", "--preset", "warp"]) == 2


@pytest.mark.parametrize(
    ("flags", "needle"),
    [(["--highlight-color", "notacolour"], "highlight_color: 'notacolour' is not a colour"),
     (["--platform", "myspace"], "settings.platform: must be 'youtube'"),
     (["--caption-style", "word", "--no-subtitles"], "caption style 'word' needs captions"),
     (["--caption-style", "bouncy"], "subtitles.style: must be 'phrase'")],
)
def test_bad_caption_settings_are_one_line_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], needle: str
) -> None:
    manifest = make_project(tmp_path)
    assert main(["render", str(manifest), "-q", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert needle in err
    assert not (tmp_path / "output").exists()


def test_platform_and_caption_flags(tmp_path: Path) -> None:
    manifest = make_project(tmp_path)
    out = tmp_path / "tall.mp4"
    code = main(["render", str(manifest), "-o", str(out), "-q", "--platform", "tiktok",
                 "--size", "180x320", "--caption-style", "karaoke", "--highlight-color", "red",
                 "--uppercase", "--words-json"])
    assert code == 0
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (180, 320)
        assert stream.average_rate == 30  # the platform's rate: the manifest's 25 is replaced
    words = json.loads((tmp_path / "tall.words.json").read_text(encoding="utf-8"))["words"]
    assert [w["text"] for w in words] == ["Part", "0", "Part", "1"]
    assert "<00:" in (tmp_path / "tall.vtt").read_text(encoding="utf-8")


def test_odd_size_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = make_project(tmp_path)
    assert main(["render", str(manifest), "--size", "161x96"]) == 2
    assert "161 is odd" in capsys.readouterr().err


def test_unwritable_output_is_render_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    manifest = make_project(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["render", str(manifest), "-o", str(blocker / "out.mp4")]) == 1
    err = capsys.readouterr().err
    assert "render failed" in err and str(blocker) in err


def test_debug_env_shows_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "STORYREEL_DEBUG": "1"}
    proc = subprocess.run([*CLI, "render", str(tmp_path / "nope.json")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


def test_schema_command_prints_shipped_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from storyreel.model.schema import shipped_schema

    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == shipped_schema()


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    manifest = make_project(tmp_path, segments=2, seconds=1.0)
    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on a pseudo-terminal
        os.execv(sys.executable, [*CLI, "render", str(manifest), "-o", str(tmp_path / "t.mp4")])
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = output.decode("utf-8", "replace")
    assert phase_words("export") in text  # the phase, in the words shared with the studio
    assert "parts (0 reused)" in text
    assert "100%" in text


def test_piped_output_is_quiet_apart_from_summary(tmp_path: Path) -> None:
    manifest = make_project(tmp_path)
    proc = subprocess.run([*CLI, "render", str(manifest), "-o", str(tmp_path / "p.mp4")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    summary, *rest = proc.stderr.splitlines()
    assert summary.startswith("Rendered")
    # The generated "speech" is not the text: the warnings say which segments' word
    # timings are estimated (the warp may place a short text on speech-like noise).
    assert 1 <= len(rest) <= 2
    assert all(line.startswith("storyreel: warning: segment ") for line in rest)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_signal_mid_render_exits_130_and_leaves_nothing(tmp_path: Path, signum: int) -> None:
    manifest = make_project(tmp_path, segments=3, seconds=6.0, width=640, height=360,
                            settings={"preset": "medium"})
    out = tmp_path / "out" / "story.mp4"
    proc = subprocess.Popen([*CLI, "render", str(manifest), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until a part is being encoded: mid-export
            if any(tmp_path.glob(".storyreel-cache/work/*/part-*.mp4")):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert list(out.parent.iterdir()) == []


def test_demo_command_renders(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    code = main(["demo", "-o", str(out), "--project-dir", str(tmp_path / "demo"), "--draft", "-q"])
    assert code == 0
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.height == 480
        assert len(container.streams.audio) == 1


def test_serve_refuses_a_public_address_without_token(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    env_token = os.environ.pop("STORYREEL_TOKEN", None)
    try:
        code = main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "data")])
    finally:
        if env_token is not None:
            os.environ["STORYREEL_TOKEN"] = env_token
    assert code == 2
    assert "without an access token" in capsys.readouterr().err


def test_serve_starts_and_answers(tmp_path: Path) -> None:
    """``--port 0`` takes a free port, and the address printed is the one listened on."""
    import socket
    import urllib.request

    proc = subprocess.Popen([*CLI, "serve", "--port", "0", "--data-dir",
                             str(tmp_path / "data")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        said = proc.stderr.readline()  # the first line; the test's timeout bounds the wait
        found = re.search(r"studio at (http://127\.0\.0\.1:(\d+)/) \(Ctrl-C to stop\)", said)
        assert found, said
        url, port = found.group(1), int(found.group(2))
        assert port != 0
        with urllib.request.urlopen(f"{url}api/projects/", timeout=30) as response:
            assert json.loads(response.read().decode()) == []
        # The port is taken: a second studio on it says so in one line.
        again = subprocess.run([*CLI, "serve", "--port", str(port), "--data-dir",
                                str(tmp_path / "other")], capture_output=True, text=True,
                               timeout=60)
        assert again.returncode == 2
        assert again.stderr.strip() == (
            f"storyreel: error: cannot listen on 127.0.0.1:{port}: Address already in use")
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # the first studio still listens
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, rest = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, rest = proc.communicate()
    # Ctrl-C is how a studio is stopped: a clean end, not an interrupted render.
    assert proc.returncode == 0, rest
    assert "interrupted" not in rest


def test_validate_finds_truncated_jpeg_and_broken_font(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.ttf").write_bytes(b"\x00\x01\x00\x00 definitely not a font")
    manifest = make_project(tmp_path, settings={"subtitles": {"font": "bad.ttf"}})
    jpeg = tmp_path / "media" / "1.jpg"
    Image.new("RGB", (640, 480), (10, 200, 30)).save(jpeg, quality=95)
    jpeg.write_bytes(jpeg.read_bytes()[: jpeg.stat().st_size // 2])
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["segments"][1]["image"] = "media/1.jpg"
    manifest.write_text(json.dumps(data), encoding="utf-8")
    assert main(["validate", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "segment 2 image" in err and "truncated" in err
    assert "settings.subtitles.font" in err and "bad.ttf" in err


def test_draft_does_not_overwrite_the_final_render(tmp_path: Path) -> None:
    manifest = make_project(tmp_path)
    assert main(["render", str(manifest), "-q"]) == 0
    assert main(["render", str(manifest), "--draft", "-q"]) == 0
    names = sorted(p.name for p in (tmp_path / "output").iterdir() if p.suffix == ".mp4")
    assert names == ["night-train-to-zurich.draft.mp4", "night-train-to-zurich.mp4"]


def test_demo_into_unwritable_folder_is_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["demo", "--project-dir", str(blocker / "demo"), "-o", str(tmp_path / "d.mp4")])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and str(blocker) in err


@pytest.mark.parametrize(("argv", "code"), [(["schema"], 0), (["render", "nope.json"], 2)])
def test_the_program_exits_with_the_commands_code_its_objects_frozen(
        tmp_path: Path, argv: list[str], code: int) -> None:
    """``storyreel`` (``cli.run``) ends with main's exit code, its output flushed, and the
    collector's objects frozen, so the interpreter's last collection skips them."""
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print('frozen:', gc.get_freeze_count() > 0, "
             "file=sys.stderr))\n"
             f"sys.argv = ['storyreel', *{argv!r}]\n"
             "from storyreel.cli import run\n"
             "run()\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.strip().endswith("frozen: True")
    if code == 0:
        assert json.loads(proc.stdout)["title"]  # the whole schema, flushed
    else:
        assert "nope.json" in proc.stderr
