"""An agent chooses several platforms through ``storyreel mcp``: one video each."""

from __future__ import annotations

from pathlib import Path

import anyio
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
