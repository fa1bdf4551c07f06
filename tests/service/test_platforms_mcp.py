"""An agent chooses several platforms through ``storyreel mcp``: one video each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import av
from mcp import Client
from test_mcp import _json, _server


async def _choose(data_dir: Path) -> tuple[dict[str, object], dict[str, object]]:
    async with Client(_server(data_dir)) as client:
        project = _json(await client.call_tool(
            "create_project", {"title": "Harbour", "text": "Boats leave.\n\nGulls follow."}))
        several = _json(await client.call_tool("set_options", {
            "project_id": project["id"], "platform": "youtube, square"}))
        one = _json(await client.call_tool("set_options", {
            "project_id": project["id"], "platform": "shorts"}))
        return several["options"]["settings"], one["options"]["settings"]


def test_an_agent_chooses_several_platforms(tmp_path: Path) -> None:
    several, one = anyio.run(_choose, tmp_path / "data")
    assert several["platforms"] == ["youtube", "square"] and several["platform"] is None
    assert one["platform"] == "shorts" and one["platforms"] is None


async def _render_two(data_dir: Path) -> dict[str, Any]:
    async with Client(_server(data_dir)) as client:
        project = _json(await client.call_tool(
            "create_project", {"title": "Harbour", "text": "Boats leave."}))["id"]
        _json(await client.call_tool("set_options", {
            "project_id": project, "platform": "youtube,square", "width": 160, "height": 90,
            "settings": {"preset": "ultrafast"}}))
        _json(await client.call_tool("render_project", {"project_id": project, "draft": True}))
        status: dict[str, Any] = {}
        for _ in range(2400):  # the test's own timeout bounds the wait
            status = _json(await client.call_tool("project_status", {"project_id": project}))
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            await anyio.sleep(0.25)
        return status


def test_an_agent_finds_every_platforms_video(tmp_path: Path) -> None:
    status = anyio.run(_render_two, tmp_path / "data")
    assert status["status"] == "completed", status
    videos = status["videos"]
    assert [v["platform"] for v in videos] == ["youtube", "square"]
    assert status["path"] == videos[0]["path"]
    sizes = []
    for video in videos:
        path = Path(video["path"])
        assert path.is_file() and path.is_relative_to(tmp_path / "data")
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            sizes.append((stream.codec_context.width, stream.codec_context.height))
            assert sum(1 for _ in container.decode(video=0)) > 10
    assert sizes == [(160, 90), (90, 90)]
