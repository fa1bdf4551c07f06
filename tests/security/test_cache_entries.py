"""Reused cache entries are checked: each is stored with the SHA-256 of its contents, and
an entry that was damaged, scrambled, planted (a symlink) or that holds facts no
analysis can find is dropped and made again, never published."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray

import storyreel
from media import SegmentSpec, write_project
from storyreel.render.cache import PartCache

TEXTS = ["The keeper counted ships.", "Fog rolled over the harbour.", "A bell rang twice."]


def _decoded(path: Path) -> tuple[list[NDArray[np.uint8]], int]:
    """Every picture of the file and how many packets failed to decode."""
    frames, errors = [], 0
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            try:
                frames += [f.to_ndarray(format="gray") for f in packet.decode()]
            except av.error.InvalidDataError:
                errors += 1
    return frames, errors


def _entries(cache: PartCache, kind: str) -> list[Path]:
    suffix = {"parts": ".mp4", "sound": ".m4a", "facts": ".facts"}[kind]
    return sorted((cache.root / kind).rglob(f"*{suffix}"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def rendered(project_dir: Path, out_dir: Path) -> tuple[Path, PartCache, Path]:
    specs = [SegmentSpec(seconds=0.8, text=t) for t in TEXTS]
    manifest = write_project(project_dir, specs, settings={"subtitles": {"enabled": True}},
                             width=160, height=90, fps=25)
    cache = PartCache(out_dir / "cache")
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "first.mp4",
                             cache=cache)
    assert first.chunks_reused == 0
    return manifest, cache, out_dir / "first.mp4"


def _scramble_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 400] = bytes(range(256)) + bytes(144)
    path.write_bytes(bytes(data))


def _break_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:64] = b"\xff" * 64
    path.write_bytes(bytes(data))


def _plant_symlink(path: Path) -> None:
    outside = path.parents[3] / "outside.mp4"
    outside.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(outside)


@pytest.mark.parametrize("spoil", [_break_header, _scramble_middle, _plant_symlink],
                         ids=["broken header", "scrambled data", "planted symlink"])
@pytest.mark.parametrize("kind", ["parts", "sound"])
def test_a_spoilt_entry_is_made_again_and_never_published(
        rendered: tuple[Path, PartCache, Path], out_dir: Path, kind: str,
        spoil: Callable[[Path], None]) -> None:
    manifest, cache, first = rendered
    entry = _entries(cache, kind)[0]
    good = _sha(entry)
    spoil(entry)
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "again.mp4",
                             cache=cache)
    if kind == "parts":
        assert again.chunks_reused == len(_entries(cache, "parts")) - 1
    frames, errors = _decoded(out_dir / "again.mp4")
    reference, _ = _decoded(first)
    assert errors == 0 and len(frames) == len(reference)
    worst = max(float(np.abs(a.astype(np.int16) - b).mean()) for a, b in zip(
        frames, reference, strict=True))
    assert worst < 2.0
    # The entry was made again: a regular file inside the cache, as it was first made.
    assert not entry.is_symlink() and entry.is_file()
    assert _sha(entry) == good
    assert storyreel.render(storyreel.load_project(manifest), out_dir / "third.mp4",
                            cache=cache).chunks_reused == len(_entries(cache, "parts"))


def test_an_entry_from_before_checksums_is_made_again(tmp_path: Path) -> None:
    cache = PartCache(tmp_path / "cache")
    made = tmp_path / "made.bin"
    made.write_bytes(b"encoded part")
    cache.put("parts", "ab" * 20, made, {"warnings": ["w"]})
    assert cache.take("parts", "ab" * 20, tmp_path / "one") == {"warnings": ["w"]}
    notes = cache.path("parts", "ab" * 20).with_suffix(".json")
    notes.write_text(json.dumps({"warnings": []}), encoding="utf-8")  # no checksum
    assert cache.take("parts", "ab" * 20, tmp_path / "two") is None
    assert not (tmp_path / "two").exists()
    assert not cache.path("parts", "ab" * 20).exists()


def test_facts_with_an_absurd_length_are_found_again(
        rendered: tuple[Path, PartCache, Path], out_dir: Path) -> None:
    manifest, cache, _ = rendered
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4", cache=cache)
    for path in _entries(cache, "facts"):
        kept = json.loads(path.read_text(encoding="utf-8"))
        if "length" not in kept["facts"]:
            continue  # a picture's focus
        kept["facts"]["length"] = 365 * 24 * 3600 * 48_000  # a year, with a checksum to match
        kept["check"] = hashlib.sha256(json.dumps(kept["facts"], sort_keys=True).encode()
                                       ).hexdigest()
        path.write_text(json.dumps(kept), encoding="utf-8")
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "c.mp4", cache=cache)
    assert again.frames == first.frames
    assert again.words == first.words


def test_facts_that_do_not_match_their_checksum_are_dropped(
        rendered: tuple[Path, PartCache, Path], out_dir: Path) -> None:
    manifest, cache, _ = rendered
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4", cache=cache)
    path = next(p for p in _entries(cache, "facts")  # a narration's (not a picture's focus)
                if "length" in json.loads(p.read_text(encoding="utf-8"))["facts"])
    kept = json.loads(path.read_text(encoding="utf-8"))
    kept["facts"]["length"] += 48_000  # a second more, the checksum left as it was
    path.write_text(json.dumps(kept), encoding="utf-8")
    os.utime(path)
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "c.mp4", cache=cache)
    assert again.frames == first.frames
    assert json.loads(path.read_text(encoding="utf-8"))["facts"]["length"] == \
        kept["facts"]["length"] - 48_000
