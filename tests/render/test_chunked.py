"""Chunked rendering: parts encoded on their own, cached, checked and joined by packet copy.

Every test reads the output back with a real decoder: frame counts and timestamps, the
decoded pixels of the joined file against each part decoded alone, which parts an edit
re-encodes, and what a killed or concurrent render leaves in the cache.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import pytest
from mp4probe import probe

import storyreel
from media import SegmentSpec, all_files, write_project, write_textured
from storyreel import PartCache
from storyreel.media.assemble import probe_part

FPS = 30
TEXTS = ["The lighthouse keeper counted ships.", "Fog rolled over the harbour at dusk.",
         "A bell rang twice from the old chapel.", "Nobody answered the radio that night.",
         "By morning the boats had all come home."]
SETTINGS = {"transitions": {"crossfade": 0.3}, "subtitles": {"enabled": True},
            "gap": 0.3}


def textured_project(folder: Path, seconds: float = 1.2, **settings: Any) -> Path:
    """Five segments of textured stills (real work for the encoder) with captions."""
    specs = [SegmentSpec(seconds=seconds, text=text) for text in TEXTS]
    manifest = write_project(folder, specs, settings={**SETTINGS, **settings},
                             width=192, height=108, fps=FPS)
    for i in range(len(specs)):
        write_textured(folder / "images" / f"{i + 1:03d}.png", (256, 144), seed=i)
    return manifest


def frame_hashes(path: Path) -> list[str]:
    """A hash of every decoded frame's planes, in display order."""
    with av.open(str(path)) as container:
        return [hashlib.sha256(b"".join(bytes(p) for p in frame.planes)).hexdigest()
                for frame in container.decode(video=0)]


def cached_parts(cache: Path) -> list[Path]:
    return sorted(cache.glob("parts/*/*.mp4"))


def test_joined_file_is_exact_cfr_and_each_part_decodes_the_same_alone(
        project_dir: Path, out_dir: Path) -> None:
    project = storyreel.load_project(textured_project(project_dir))
    result = storyreel.render(project, out_dir / "story.mp4")
    info = probe(result.path)
    assert info.frames == result.frames
    assert info.frame_times == [Fraction(i, FPS) for i in range(result.frames)]  # CFR, exact
    assert info.video_duration == Fraction(result.frames, FPS)
    parts = cached_parts(project_dir / ".storyreel-cache")
    assert result.chunks_encoded == len(parts) == len(TEXTS)
    assert result.chunks_reused == 0
    joined = frame_hashes(result.path)
    tiles = []
    for part in parts:
        alone = frame_hashes(part)
        assert alone, part
        start = joined.index(alone[0])
        assert joined[start:start + len(alone)] == alone, f"{part.name} differs once joined"
        tiles.append((start, start + len(alone)))
    tiles.sort()
    assert tiles[0][0] == 0 and tiles[-1][1] == len(joined)
    assert all(a[1] == b[0] for a, b in pairwise(tiles)), tiles


def test_rerender_without_changes_encodes_nothing(project_dir: Path, out_dir: Path) -> None:
    manifest = textured_project(project_dir)
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    seen: list[storyreel.Progress] = []
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4",
                             on_progress=seen.append)
    assert (again.chunks_encoded, again.chunks_reused) == (0, first.chunks_encoded)
    assert frame_hashes(again.path) == frame_hashes(first.path)
    assert any(p.message == f"All {first.chunks_encoded} parts reused" for p in seen)


def _edit(manifest: Path, index: int, **fields: Any) -> None:
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["segments"][index].update(fields)
    manifest.write_text(json.dumps(data), encoding="utf-8")


def _changed_frames(a: Path, b: Path) -> list[int]:
    old, new = frame_hashes(a), frame_hashes(b)
    assert len(old) == len(new)
    return [i for i, (x, y) in enumerate(zip(old, new, strict=True)) if x != y]


def _segment_frames(project: storyreel.Project) -> list[tuple[int, int]]:
    """(visible start, end) frame of each segment, from the render's own plan."""
    from storyreel.render.analysis import analyse_project
    from storyreel.timeline.story import build_story

    plan = build_story(project, analyse_project(project, speech=True)).plan
    return [(s.visible_start, s.end_frame) for s in plan.spans]


def test_editing_one_segments_text_reencodes_only_its_part(project_dir: Path,
                                                          out_dir: Path) -> None:
    manifest = textured_project(project_dir)
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    _edit(manifest, 2, text="A horn sounded once, far out at sea.")
    seen: list[storyreel.Progress] = []
    edited = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4",
                              on_progress=seen.append)
    assert (edited.chunks_encoded, edited.chunks_reused) == (1, first.chunks_encoded - 1)
    total = first.chunks_encoded
    assert any(p.message == f"Encoding 1 of {total} parts ({total - 1} reused)" for p in seen)
    changed = _changed_frames(first.path, edited.path)
    spans = _segment_frames(storyreel.load_project(manifest))
    assert changed, "the new caption is not in the picture"
    assert spans[2][0] <= changed[0] and changed[-1] < spans[2][1], (changed, spans[2])


def test_editing_one_segments_picture_reencodes_the_parts_that_show_it(
        project_dir: Path, out_dir: Path) -> None:
    manifest = textured_project(project_dir)
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    write_textured(project_dir / "images" / "003.png", (256, 144), seed=99)
    edited = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4")
    # The part of segment 3 and the crossfade into it, at the end of segment 2's part.
    assert (edited.chunks_encoded, edited.chunks_reused) == (2, first.chunks_encoded - 2)
    changed = _changed_frames(first.path, edited.path)
    spans = _segment_frames(storyreel.load_project(manifest))
    assert changed[0] == spans[2][0] and changed[-1] == spans[2][1] - 1, (changed, spans)
    assert len(changed) == spans[2][1] - spans[2][0]


def test_a_part_with_other_headers_is_encoded_again_not_copied(project_dir: Path,
                                                               out_dir: Path) -> None:
    manifest = textured_project(project_dir)
    first = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4")
    parts = cached_parts(project_dir / ".storyreel-cache")
    victim = parts[1]
    frames = probe_part(victim, Fraction(FPS)).frames
    _encode_foreign_part(victim, frames)  # same frame count, other SPS/PPS
    assert probe_part(victim, Fraction(FPS)).headers != probe_part(parts[0], Fraction(FPS)).headers
    again = storyreel.render(storyreel.load_project(manifest), out_dir / "b.mp4")
    assert (again.chunks_encoded, again.chunks_reused) == (1, first.chunks_encoded - 1)
    assert frame_hashes(again.path) == frame_hashes(first.path)
    headers = {probe_part(p, Fraction(FPS)).headers for p in cached_parts(victim.parents[2])}
    assert len(headers) == 1, "the mismatched part is still cached"


def _encode_foreign_part(path: Path, frames: int) -> None:
    path.unlink()  # the cache entry is a hard link; write a new file, not through it
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 192, 108, "yuv420p"
        stream.options = {"preset": "ultrafast", "x264-params": "ref=1:bframes=0:8x8dct=0"}
        for i in range(frames):
            frame = av.VideoFrame(192, 108, "yuv420p")
            for plane in frame.planes:
                memoryview(plane)[:] = bytes([i % 250]) * plane.buffer_size
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_no_cache_keeps_nothing(project_dir: Path, out_dir: Path) -> None:
    manifest = textured_project(project_dir)
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "a.mp4", cache=False)
    assert result.chunks_encoded == len(TEXTS)
    assert not (project_dir / ".storyreel-cache").exists()
    assert all_files(out_dir) == {"a.mp4"}


def test_two_renders_share_one_cache_at_once(project_dir: Path, out_dir: Path,
                                              tmp_path: Path) -> None:
    manifest = textured_project(project_dir)
    cache = PartCache(tmp_path / "shared")
    results: dict[str, storyreel.RenderResult] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results[name] = storyreel.render(storyreel.load_project(manifest),
                                             out_dir / f"{name}.mp4", cache=cache)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 2
    assert frame_hashes(results["a"].path) == frame_hashes(results["b"].path)
    assert len(cached_parts(cache.root)) == len(TEXTS)
    assert not list(cache.root.glob("work/*")) and not list(cache.root.glob("tmp/*"))
    third = storyreel.render(storyreel.load_project(manifest), out_dir / "c.mp4", cache=cache)
    assert (third.chunks_encoded, third.chunks_reused) == (0, len(TEXTS))


def test_renders_starting_together_never_sweep_each_others_work_folder(
        tmp_path: Path) -> None:
    """Each render sweeps the work folders killed renders left as it starts; one that
    is starting at that moment must not look like one of them."""
    cache = PartCache(tmp_path / "cache")
    failures: list[str] = []

    def start_many() -> None:
        for _ in range(200):
            try:
                with cache.workspace() as work:
                    (work / "part.mp4").write_bytes(b"part")
                    assert (work / "part.mp4").read_bytes() == b"part"
            except Exception as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=start_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert not list((tmp_path / "cache" / "work").iterdir())
    assert not list((tmp_path / "cache" / "new").iterdir())


def test_cache_survives_a_killed_render(project_dir: Path, out_dir: Path) -> None:
    manifest = textured_project(project_dir, seconds=2.5, preset="medium")
    script = ("import sys, storyreel\n"
              "storyreel.render(storyreel.load_project(sys.argv[1]), sys.argv[2])\n")
    child = subprocess.Popen([sys.executable, "-c", script, str(manifest),
                              str(out_dir / "killed.mp4")])
    cache = project_dir / ".storyreel-cache"
    try:
        for _ in range(1200):  # until one part is stored and the next is being encoded
            if cached_parts(cache) and child.poll() is None:
                break
            try:
                child.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
        assert child.poll() is None, "the render finished before it could be killed"
        child.kill()
    finally:
        child.wait()
    stored = cached_parts(cache)
    assert 1 <= len(stored) < len(TEXTS)
    for part in stored:  # only complete parts were ever given their name
        info = probe_part(part, Fraction(FPS))
        assert info.frames > 0 and info.starts_with_keyframe
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "story.mp4")
    assert result.chunks_reused == len(stored)
    assert result.chunks_reused + result.chunks_encoded == len(TEXTS)
    assert probe(result.path).frames == result.frames
    assert all_files(out_dir) == {"story.mp4"}
    assert not list(cache.glob("work/*")), "the killed render's work folder was not swept"


def test_cache_evicts_least_recently_used(tmp_path: Path) -> None:
    import os

    cache = PartCache(tmp_path / "c", max_bytes=2500)
    source = tmp_path / "part.mp4"
    source.write_bytes(b"x" * 1000)
    for n, key in enumerate(("aa01", "bb02", "cc03")):
        cache.put("parts", key, source, {"warnings": []})
        os.utime(cache.path("parts", key), (1000 + n, 1000 + n))
    assert cache.take("parts", "aa01", tmp_path / "taken.mp4") == {"warnings": []}
    assert cache.evict() == 1000
    assert not cache.path("parts", "bb02").exists()  # the oldest use went first
    assert cache.path("parts", "aa01").exists() and cache.path("parts", "cc03").exists()
    assert not cache.path("parts", "bb02").with_suffix(".json").exists()
    stats = cache.stats()
    assert (stats.entries, stats.size) == (2, 2000)
    assert cache.clear() == 2000
    assert cache.stats().entries == 0
    assert cache.take("parts", "cc03", tmp_path / "gone.mp4") is None


@pytest.fixture
def browser_page() -> Any:
    """A headless Chromium page (Debian's ``chromium`` through playwright's driver)."""
    import os
    import shutil

    chromium = os.environ.get("STORYREEL_CHROMIUM") or shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the 'playwright' package is not installed")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, headless=True,
                                         args=["--no-sandbox", "--disable-gpu",
                                               "--autoplay-policy=no-user-gesture-required"])
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_joined_file_plays_to_the_end_in_chromium(project_dir: Path, out_dir: Path,
                                                   browser_page: Any) -> None:
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    project = storyreel.load_project(textured_project(project_dir))
    result = storyreel.render(project, out_dir / "story.mp4")
    assert result.chunks_encoded == len(TEXTS)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(out_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        page = browser_page
        page.goto(url + "/")
        page.set_content(f'<video id="v" muted src="{url}/story.mp4"></video>')
        page.evaluate("""() => { const v = document.getElementById('v');
            window.ended = false; v.addEventListener('ended', () => { window.ended = true; });
            v.playbackRate = 4; return v.play(); }""")
        page.wait_for_function("window.ended || document.getElementById('v').error",
                               timeout=60_000)
        state = page.evaluate("""() => { const v = document.getElementById('v');
            return {error: v.error && v.error.message, time: v.currentTime,
                    duration: v.duration,
                    frames: v.getVideoPlaybackQuality().totalVideoFrames}; }""")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert state["error"] is None, state
    assert abs(state["time"] - result.duration) < 0.1, state
    assert abs(state["duration"] - result.duration) < 0.1, state


def test_each_part_uses_one_slice_thread_per_core(project_dir: Path, out_dir: Path) -> None:
    # More slice threads than cores leave one core with two slices of every frame while
    # the other waits; libx264 itself picks one per core. Its options are in the stream.
    from storyreel.media.encoder import EncoderSettings
    from storyreel.render.parts import machine_cores, pool_threads

    base = EncoderSettings(192, 108, Fraction(FPS))
    assert pool_threads(base, 1, 2).threads == 2
    assert pool_threads(base, 2, 16).threads == 8
    assert pool_threads(base, 3, 2).threads == 1
    # (libx264 caps slice threads at a quarter of the macroblock rows: a 360-row frame.)
    manifest = write_project(project_dir, [SegmentSpec(seconds=0.4)], width=640, height=360,
                             fps=FPS)
    write_textured(project_dir / "images" / "001.png", (640, 360))
    result = storyreel.render(storyreel.load_project(manifest), out_dir / "threads.mp4",
                              cache=False)
    options = result.path.read_bytes().split(b"x264 - core", 1)[1][:2000]
    assert f" threads={min(machine_cores(), 5)} ".encode() in options
    assert b" sliced_threads=1 " in options
