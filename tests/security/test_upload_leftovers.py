"""An upload cut short by a server killed mid-copy leaves no temp file behind: the next
server on the data folder removes them before it serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from studiokit import Studio, png_bytes

from storyreel.service.uploads import temp_name


def test_the_next_server_removes_what_a_killed_upload_left(
        make_studio: Callable[..., Studio], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = make_studio(data_dir)
    project = first.create(1)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    assert first.upload(pid, sid, "image", png_bytes()).status_code == 200
    first.client.__exit__(None, None, None)  # the server stops
    folder = data_dir / "projects" / str(pid)
    kept = sorted(p for p in folder.rglob("*") if p.is_file())
    left = [temp_name(folder / sub) for sub in ("images", "audio", "assets")]
    for path in left:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"\0" * 1_000_000)  # what a kill -9 during the copy leaves
    outside = tmp_path / ".upload-0123456789abcdef.part"
    outside.write_bytes(b"not the studio's")
    second = make_studio(data_dir)
    assert second.client.get(f"/api/projects/{pid}/").status_code == 200
    assert not any(path.exists() for path in left)
    assert sorted(p for p in folder.rglob("*") if p.is_file()) == kept
    assert outside.exists()  # only the data folder's projects are swept
    assert second.client.get(f"/api/projects/{pid}/segments/{sid}/image/").status_code == 200
