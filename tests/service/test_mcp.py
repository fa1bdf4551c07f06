"""``storyreel mcp`` as an agent meets it: an MCP client from the official SDK starts the
server over stdio, takes a story from text to a finished draft, and gets tool errors for
bad arguments with the studio's own messages."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio
import av
import opentimelineio as otio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

STORY = ("The night train leaves Zürich at ten.\n\n"
         "By midnight the valley is dark.\n\n"
         "At dawn the mountains appear.")


def _server(data_dir: Path, home: Path | None = None) -> StdioServerParameters:
    environment = dict(os.environ) if home is None else {**os.environ, "HOME": str(home)}
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "storyreel", "mcp", "--data-dir", str(data_dir)],
                                 env=environment)


def _json(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def _error(result: Any) -> str:
    assert result.is_error
    text: str = result.content[0].text
    return text


async def _story_to_draft(data_dir: Path) -> dict[str, Any]:
    async with Client(_server(data_dir)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"create_project", "add_visual", "list_voices", "set_options",
                "render_project", "project_status", "list_projects"} <= tools
        created = _json(await client.call_tool(
            "create_project", {"title": "Night Train", "text": STORY}))
        project = created["id"]
        assert created["segments"] == 3
        assert _json(await client.call_tool("list_projects", {})) == [
            {"id": project, "title": "Night Train", "status": "none", "segments": 3}]
        voices = _json(await client.call_tool("list_voices", {}))
        assert any(v["name"] == "hibari" and v["ready"] and v["voices"] for v in voices)
        _json(await client.call_tool("set_options", {
            "project_id": project, "width": 160, "height": 90, "caption_style": "word",
            "settings": {"preset": "ultrafast"}}))
        assert _json(await client.call_tool("project_status", {"project_id": project}))[
            "status"] == "none"
        _json(await client.call_tool("render_project", {"project_id": project,
                                                        "draft": True}))
        status: dict[str, Any] = {}
        seen: set[str] = set()
        for _ in range(2400):  # the test's own timeout bounds the wait
            status = _json(await client.call_tool("project_status", {"project_id": project}))
            seen.add(status["status"])
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            await anyio.sleep(0.25)
        resource = await client.read_resource(f"storyreel://projects/{project}")
        detail = json.loads(resource.contents[0].text)
        assert detail["title"] == "Night Train" and len(detail["segment_list"]) == 3
        status["seen"] = sorted(seen)
        status["export"] = _json(await client.call_tool("export_timeline", {
            "project_id": project, "format": "otio",
            "path": str(data_dir.parent / "edit" / "night train.otio")}))
        return status


def test_agent_takes_a_story_from_text_to_a_draft(tmp_path: Path) -> None:
    status = anyio.run(_story_to_draft, tmp_path / "data")
    assert status["status"] == "completed", status
    assert set(status["seen"]) <= {"queued", "running", "completed"}
    assert status["progress"] == 100
    path = Path(status["path"])
    assert path.is_file() and path.is_relative_to(tmp_path / "data")
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (160, 90)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 25  # three spoken sentences
    exported = status["export"]  # the same story as an editable timeline (the final size)
    timeline = otio.adapters.read_from_file(exported["path"])
    pictures = list(timeline.tracks[0].find_clips())
    assert exported["clips"] == len(pictures) == 3
    assert [clip.name for clip in pictures] == ["Night Train"] * 3  # cards, titled
    voices = list(timeline.tracks[1].find_clips())
    assert len(voices) == 3
    for voice in voices:  # the studio's spoken narrations, in its data folder
        spoken = Path(unquote(urlparse(voice.media_reference.target_url).path))
        assert spoken.is_file() and spoken.is_relative_to(tmp_path / "data")
    assert Path(exported["captions"]).read_text(encoding="utf-8").count(" --> ") >= 3


async def _bad_arguments(data_dir: Path, picture: Path) -> list[str]:
    async with Client(_server(data_dir, home=picture.parent)) as client:
        messages = [_error(await client.call_tool("create_project", {"title": "Empty"}))]
        project = _json(await client.call_tool(
            "create_project", {"title": "Two", "text": "One.\n\nTwo."}))["id"]
        messages += [
            _error(await client.call_tool("add_visual", {"project_id": project, "segment": 9,
                                                         "path": str(picture)})),
            _error(await client.call_tool("add_visual", {"project_id": project, "segment": 1,
                                                         "path": str(data_dir / "none.png")})),
            _error(await client.call_tool("set_options", {"project_id": project,
                                                          "caption_style": "sparkle"})),
            _error(await client.call_tool("render_project", {"project_id": 999})),
            _error(await client.call_tool("project_status", {"project_id": "first"})),
            _error(await client.call_tool("create_project", {"title": "x" * 100_000,
                                                             "text": "Hello."})),
            _error(await client.call_tool("export_timeline", {
                "project_id": project, "format": "premiere", "path": str(data_dir / "a")})),
            _error(await client.call_tool("export_timeline", {  # a folder, not a file
                "project_id": project, "format": "otio", "path": str(data_dir)})),
            _error(await client.call_tool("export_timeline", {  # the studio's own file
                "project_id": project, "format": "otio", "path": str(data_dir / "studio.db")})),
        ]
        added = _json(await client.call_tool("add_visual", {  # as an agent may write it
            "project_id": project, "segment": 2, "path": f"~/{picture.name}"}))
        assert added["number"] == 2 and added["image"] is not None
        return messages


def test_bad_arguments_are_tool_errors_with_the_studio_s_messages(tmp_path: Path) -> None:
    from PIL import Image

    picture = tmp_path / "still.png"
    Image.new("RGB", (160, 90), (200, 40, 40)).save(picture)
    messages = anyio.run(_bad_arguments, tmp_path / "data", picture)
    empty, segment, missing, style, unknown, typed, long_title, premiere, over, studio = (
        messages)
    assert "Give the story's text or a manifest" in empty
    assert "The project has no segment 9 (it has 2)." in segment
    assert "none.png cannot be read" in missing
    # the API's message and problem, from the model's bounds
    assert "Some options are not valid." in style and "settings.subtitles.style" in style
    assert "This project does not exist" in unknown
    assert "project_id" in typed and "valid integer" in typed
    assert "too long" in long_title and '"field": "title"' in long_title
    assert "Unknown timeline format 'premiere': choose one of otio, fcpxml" in premiere
    assert "The timeline could not be written: output path is a folder" in over
    assert "the studio's data folder" in studio and "choose a path outside it" in studio
    assert (tmp_path / "data" / "studio.db").read_bytes().startswith(b"SQLite format 3")


def test_mcp_command_needs_its_folder_argument(capsys: pytest.CaptureFixture[str]) -> None:
    from storyreel.cli import main

    assert main(["mcp", "--data-dir"]) == 2
    assert "--data-dir" in capsys.readouterr().err


async def _over_http(url: str) -> dict[str, Any]:
    async with Client(url) as client:
        created: dict[str, Any] = _json(await client.call_tool(
            "create_project", {"title": "By HTTP", "text": "One line."}))
        return created


def test_streamable_http_on_loopback_refuses_other_hosts(tmp_path: Path) -> None:
    """``--port 0``: any free port, the address printed is the one listened on; other
    hosts' names and other sites' pages are refused; Ctrl-C is a clean end."""
    import httpx

    server = subprocess.Popen([sys.executable, "-m", "storyreel", "mcp", "--data-dir",
                               str(tmp_path / "data"), "--port", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        said = server.stderr.readline()  # its first line; the test's timeout bounds the wait
        found = re.search(r"MCP server at (http://127\.0\.0\.1:(\d+)/mcp) \(Ctrl-C", said)
        assert found, said
        url, port = found.group(1), int(found.group(2))
        assert port != 0
        assert anyio.run(_over_http, url)["segments"] == 1
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"Accept": "application/json, text/event-stream"}
        rebound = httpx.post(url, json=hello, headers={**headers, "Host": f"evil.test:{port}"})
        assert rebound.status_code == 421  # Misdirected Request: not this server's name
        foreign = httpx.post(url, json=hello, headers={**headers, "Origin": "http://evil.test"})
        assert foreign.status_code == 403
        # The port is taken: a second server on it says so in one line.
        again = subprocess.run([sys.executable, "-m", "storyreel", "mcp", "--data-dir",
                                str(tmp_path / "other"), "--port", str(port)],
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 2
        assert again.stderr.strip() == (
            f"storyreel: error: cannot listen on 127.0.0.1:{port}: Address already in use")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            _, rest = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, rest = server.communicate()
    assert server.returncode == 0, rest
