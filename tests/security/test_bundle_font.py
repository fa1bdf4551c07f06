"""A zip bundle's caption font is imported with it: stored in the project, checked to be
a font, and used by the engine, never left as a path to a file that is not there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studiokit import FakeRunner, Studio, png_bytes, zip_bundle

import storyreel

FONT = Path(storyreel.__file__).parent / "fonts" / "DejaVuSans-Bold.ttf"


def _post_zip(studio: Studio, data: bytes) -> Any:
    return studio.client.post("/api/projects/", files={"file": ("b.zip", data, "application/zip")})


def _manifest(font: str) -> dict[str, Any]:
    return {"width": 320, "height": 180, "settings": {
        "preset": "ultrafast", "subtitles": {"enabled": True, "font": font, "size": 0.08}},
        "segments": [{"image": "a.png", "text": "Words in the bundle's own font."}]}


def test_the_caption_font_comes_with_the_bundle(make_studio: Any) -> None:
    studio = make_studio(runner=FakeRunner())
    answer = _post_zip(studio, zip_bundle(_manifest("fonts/Caption Bold.ttf"), {
        "story/a.png": png_bytes(), "story/fonts/Caption Bold.ttf": FONT.read_bytes()}))
    assert answer.status_code == 201, answer.text[:300]
    project = answer.json()
    font = project["options"]["settings"]["subtitles"]["font"]
    assert font.startswith("assets/font-") and font.endswith("-caption-bold.ttf")
    stored = studio.data_dir / "projects" / str(project["id"]) / font
    assert stored.read_bytes() == FONT.read_bytes()
    preview = studio.client.get(f"/api/projects/{project['id']}/preview.png")
    assert preview.status_code == 200  # the engine draws the caption with it
    assert studio.client.post(f"/api/projects/{project['id']}/render/").status_code == 202


def test_a_bundle_whose_font_is_missing_or_not_a_font_is_refused(make_studio: Any) -> None:
    studio = make_studio(runner=FakeRunner())
    missing = _post_zip(studio, zip_bundle(_manifest("fonts/gone.ttf"),
                                           {"story/a.png": png_bytes()}))
    assert missing.status_code == 400
    assert "font" in missing.text and "not in the zip" in missing.text
    fake = _post_zip(studio, zip_bundle(_manifest("fonts/fake.ttf"), {
        "story/a.png": png_bytes(), "story/fonts/fake.ttf": png_bytes()}))
    assert fake.status_code == 400 and "not a usable TTF/OTF font" in fake.text
    outside = _post_zip(studio, zip_bundle(_manifest("../../etc/fonts/x.ttf"),
                                           {"story/a.png": png_bytes()}))
    assert outside.status_code == 400
    assert studio.client.get("/api/projects/").json() == []
    assert not list((studio.data_dir / "projects").rglob("*.ttf"))
