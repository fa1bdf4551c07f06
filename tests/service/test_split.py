"""A story pasted into a segment splits into segments by the text import's own rule; and
upload refusals read once."""

from __future__ import annotations

from pathlib import Path

from studiokit import Studio, png_bytes

from media import write_bomb_png
from storyreel.service.importers import parse_text_blocks

STORY = """Chapter: The keeper
Text: Every night the keeper climbed the tower.

One night, the light went out —
and the sea went quiet.

Image prompt: a dark sea
Text: Ships drifted, lost, toward the rocks: 東京丸 among them."""


def test_a_story_splits_as_its_import_would(studio: Studio) -> None:
    answer = studio.client.post("/api/stories/split/", json={"text": STORY})
    assert answer.status_code == 200, answer.text
    assert answer.json() == parse_text_blocks(STORY).segments  # one rule, one place
    assert [part["text"][:9] for part in answer.json()] == ["Every nig", "One night", "Ships dri"]
    single = studio.client.post("/api/stories/split/", json={"text": "One line.\nAnd another."})
    assert len(single.json()) == 1
    assert studio.client.post("/api/stories/split/", json={"text": " \n\n "}).json() == []
    assert answer.json()[1]["text"] == "One night, the light went out — and the sea went quiet."


def test_a_segment_keeps_the_first_part_and_the_rest_follow_it(studio: Studio) -> None:
    project = studio.create(3)
    pid = project["id"]
    first, second, third = (s["id"] for s in project["segment_list"])
    assert studio.upload(pid, second, "image", png_bytes()).status_code == 200
    answer = studio.client.post(f"/api/projects/{pid}/segments/{second}/split/",
                                json={"text": STORY})
    assert answer.status_code == 200, answer.text
    segments = answer.json()
    assert [s["number"] for s in segments] == [1, 2, 3, 4, 5]
    assert segments[0]["id"] == first and segments[4]["id"] == third
    kept = segments[1]
    assert kept["id"] == second and kept["image"] is not None  # its picture stays
    assert kept["text"] == "Every night the keeper climbed the tower."
    assert kept["chapter"] == "The keeper"
    assert segments[3]["image_prompt"] == "a dark sea"
    assert segments[3]["text"].endswith("東京丸 among them.")
    detail = studio.client.get(f"/api/projects/{pid}/").json()
    assert [s["id"] for s in detail["segment_list"]] == [s["id"] for s in segments]


def test_a_split_is_refused_when_there_is_nothing_to_split(studio: Studio) -> None:
    project = studio.create(1)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    refused = studio.client.post(f"/api/projects/{pid}/segments/{sid}/split/",
                                 json={"text": "Just one paragraph."})
    assert refused.status_code == 400
    assert "nothing to split" in refused.json()["detail"]
    missing = studio.client.post(f"/api/projects/{pid}/segments/{sid + 99}/split/",
                                 json={"text": STORY})
    assert missing.status_code == 404
    after = studio.client.get(f"/api/projects/{pid}/").json()["segment_list"]
    assert [s["text"] for s in after] == [project["segment_list"][0]["text"]]


def test_a_too_large_picture_is_said_once(studio: Studio, tmp_path: Path) -> None:
    project = studio.create(1)
    pid, sid = project["id"], project["segment_list"][0]["id"]
    bomb = write_bomb_png(tmp_path / "bomb.png", 9_000, 9_000).read_bytes()
    detail = studio.upload(pid, sid, "image", bomb).json()["detail"]
    assert detail.startswith("The image is too large (9000x9000")
    assert detail.lower().count("too large") == 1
