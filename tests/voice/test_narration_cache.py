"""The narration cache: keyed by what shapes a narration, atomic, capped, shared safely."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from storyreel.media.audio import decode_audio
from storyreel.voice.cache import NarrationCache, narration_key

SAMPLES = (0.2 * np.sin(np.arange(22_050) / 5.0)).astype(np.float32)


def test_key_changes_with_everything_that_shapes_the_narration() -> None:
    base = dict(engine="hibari", version="0.2.1", voice="heart", speed=1.0, language=None,
                text="Hello.")
    keys = {narration_key(**base)}  # type: ignore[arg-type]
    for field, other in (("engine", "kokoro"), ("version", "0.2.2"), ("voice", "emma"),
                         ("speed", 1.1), ("language", "en-gb"), ("text", "Hello!")):
        keys.add(narration_key(**{**base, field: other}))  # type: ignore[arg-type]
    assert len(keys) == 7
    assert narration_key(**base) == narration_key(**base)  # type: ignore[arg-type]


def test_put_then_get_reads_back_the_same_narration(tmp_path: Path) -> None:
    cache = NarrationCache(tmp_path)
    entry = cache.put("k1", SAMPLES, 22_050, [(0, 100), None], "aligned")
    again = cache.get("k1")
    assert again is not None
    assert again.spans == [(0, 100), None] and again.source == "aligned"
    decoded = decode_audio(again.wav)
    assert abs(decoded.shape[1] - 2 * SAMPLES.size * 48_000 // 44_100) <= 4
    assert entry.wav == again.wav
    assert sorted(p.name for p in cache.folder.iterdir()) == ["k1.json", "k1.wav"]


def test_a_damaged_or_half_entry_is_a_miss(tmp_path: Path) -> None:
    cache = NarrationCache(tmp_path)
    cache.put("k1", SAMPLES, 22_050, [], "engine")
    (cache.folder / "k1.json").write_text("{not json")
    assert cache.get("k1") is None
    cache.put("k2", SAMPLES, 22_050, [], "engine")
    (cache.folder / "k2.wav").unlink()
    assert cache.get("k2") is None


def test_the_cap_removes_least_recently_used_entries(tmp_path: Path) -> None:
    one = NarrationCache(tmp_path).put("a", SAMPLES, 22_050, [], "engine").wav.stat().st_size
    cache = NarrationCache(tmp_path, max_bytes=int(2.5 * one))
    cache.put("b", SAMPLES, 22_050, [], "engine")
    os.utime(cache.folder / "a.wav", (1, 1))  # "a" was used longest ago
    cache.put("c", SAMPLES, 22_050, [], "engine")
    assert cache.get("a") is None
    assert cache.get("b") is not None and cache.get("c") is not None


def test_a_held_narration_survives_another_render_trimming_the_cache(tmp_path: Path) -> None:
    cache = NarrationCache(tmp_path)
    entry = cache.put("a", SAMPLES, 22_050, [], "engine")
    with cache.hold() as holder:
        kept = holder.keep(entry)
        NarrationCache(tmp_path, max_bytes=0).trim()
        assert cache.get("a") is None
        assert decode_audio(kept).shape[1] > 0
    assert not kept.exists()
    assert [p.name for p in cache.folder.iterdir()] == []


def test_two_writers_of_the_same_narration_leave_one_whole_entry(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(20):
                NarrationCache(tmp_path).put("same", SAMPLES, 22_050, [(0, 1)], "engine")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entry = NarrationCache(tmp_path).get("same")
    assert entry is not None
    assert decode_audio(entry.wav).shape[1] > 40_000
    assert sorted(p.name for p in entry.wav.parent.iterdir()) == ["same.json", "same.wav"]


def test_an_unwritable_cache_is_an_output_error(tmp_path: Path) -> None:
    from storyreel.errors import OutputError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError):
        NarrationCache(blocker).put("k", SAMPLES, 22_050, [], "engine")
