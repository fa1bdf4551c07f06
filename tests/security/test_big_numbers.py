"""Numbers too big for what stores them are refused as invalid input, in words: a
manifest's 4,301-digit integer, a segment id past SQLite's 64 bits."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from studiokit import Studio

from storyreel.cli import main
from storyreel.errors import ManifestError
from storyreel.model.load import MAX_INTEGER_DIGITS, parse_json

HUGE = "9" * 4_400


@pytest.mark.parametrize("where", ["width", "settings.gap", "segments.zoom", "unknown"])
def test_a_manifest_integer_of_thousands_of_digits_is_invalid(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    Image.new("RGB", (64, 36)).save(tmp_path / "a.png")
    zoom = f', "zoom": {HUGE}' if where == "segments.zoom" else ""
    segment = '{"image": "a.png", "text": "Hi there."' + zoom + "}"
    fields = {"width": f'"width": {HUGE}, ', "settings.gap": f'"settings": {{"gap": {HUGE}}}, ',
              "unknown": f'"extra": -{HUGE}, '}.get(where, "")
    manifest = tmp_path / "story.json"
    manifest.write_text(f'{{{fields}"segments": [{segment}]}}', encoding="utf-8")
    for command in (["validate", str(manifest)], ["render", str(manifest), "--no-cache"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "4,400 digits" in err and "internal error" not in err
        assert len(err.strip().splitlines()) == 1


def test_ordinary_numbers_still_parse() -> None:
    digits = "7" * MAX_INTEGER_DIGITS
    assert parse_json(f'{{"a": {digits}, "b": -12, "c": 1.5e3}}') == {
        "a": int(digits), "b": -12, "c": 1500.0}
    with pytest.raises(ManifestError, match="digits"):
        parse_json(f'[{digits}7]')


def test_segment_ids_past_64_bits_are_a_client_error(studio: Studio) -> None:
    project = studio.create(2)
    pid = project["id"]
    ids = [s["id"] for s in project["segment_list"]]
    for value in (2**63, 2**64 + 5, 10**30, 0, -(2**63) - 1):
        narrate = studio.client.post(f"/api/projects/{pid}/narrate/",
                                     json={"segment_id": value})
        assert 400 <= narrate.status_code < 500, narrate.text
        order = studio.client.put(f"/api/projects/{pid}/segments/order/",
                                  json={"order": [ids[1], value]})
        assert 400 <= order.status_code < 500, order.text
    after = studio.client.get(f"/api/projects/{pid}/").json()
    assert [s["id"] for s in after["segment_list"]] == ids
    body = '{"title": "Big", "width": ' + HUGE + "}"
    created = studio.client.post("/api/projects/", content=body,
                                 headers={"content-type": "application/json"})
    assert 400 <= created.status_code < 500
