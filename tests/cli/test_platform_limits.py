"""Platform limits: a render longer than its platform takes completes, with one warning."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest
from PIL import Image

from media import write_tone_wav
from storyreel.cli import main
from storyreel.model.platforms import PLATFORMS, length_warning


def test_every_preset_knows_its_platform_s_longest_video() -> None:
    assert {name: p.longest for name, p in PLATFORMS.items()} == {
        "youtube": 12 * 3600, "shorts": 180, "tiktok": 600, "reels": 180, "square": 3600}


def test_the_warning_starts_one_frame_past_the_limit() -> None:
    assert length_warning("shorts", Fraction(180)) is None
    over = length_warning("shorts", Fraction(180) + Fraction(1, 30))
    assert over is not None and "shorts takes videos up to 3:00" in over
    assert "0:03:00" not in over and "3:00 long" in over  # 180.03 s shows as 3:00
    assert length_warning("youtube", 12 * 3600 + 1) == (
        "the video is 12:00:01 long; youtube takes videos up to 12:00:00: cut it "
        "(--segments or --chapter) before uploading")
    assert length_warning("tiktok", 599.9) is None
    assert length_warning("nowhere", 10**9) is None


def test_a_render_past_the_limit_completes_and_warns_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 181 s: over Shorts' 3 minutes; tiny and static, so cheap.
    Image.new("RGB", (64, 112), (90, 40, 160)).save(tmp_path / "a.png")
    write_tone_wav(tmp_path / "a.wav", 181.0)
    manifest = tmp_path / "story.json"
    manifest.write_text(json.dumps({
        "width": 64, "height": 112, "fps": 24,
        "segments": [{"image": "a.png", "audio": "a.wav"}],
        "settings": {"platform": "shorts", "preset": "ultrafast", "gap": 0.0,
                     "video_bitrate": 100_000, "ken_burns": {"direction": "none"},
                     "subtitles": {"enabled": False, "sidecar": False},
                     "loudness": {"enabled": False}}}), encoding="utf-8")
    out = tmp_path / "long.mp4"
    assert main(["render", str(manifest), "-o", str(out)]) == 0
    with av.open(str(out)) as container:
        assert container.duration is not None and container.duration / 1e6 > 180
    lines = [line for line in capsys.readouterr().err.splitlines() if "takes videos" in line]
    assert lines == ["storyreel: warning: the video is 3:01 long; shorts takes videos up to "
                     "3:00: cut it (--segments or --chapter) before uploading"]
