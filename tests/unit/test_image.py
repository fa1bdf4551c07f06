"""Stills: every common mode and format decoded once, upright, fitted to cover the frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media import (
    write_bomb_png,
    write_exif_rotated_jpeg,
    write_image,
    write_solid,
    write_zero_length,
)
from storyreel import MediaError
from storyreel.media.image import load_cover_planes, probe_image, rgb_to_yuv420


def bt709(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """Limited-range BT.709 Y'CbCr of an 8-bit RGB colour."""
    r, g, b = (c / 255 for c in rgb)
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 16 + 219 * y, 128 + 224 * (b - y) / 1.8556, 128 + 224 * (r - y) / 1.5748


def plane_means(path: Path, width: int = 64, height: int = 36) -> tuple[float, float, float]:
    planes = load_cover_planes(path, width, height, 1)
    assert planes.y.shape == (height, width)
    assert planes.u.shape == planes.v.shape == (height // 2, width // 2)
    assert planes.y.dtype == np.uint8
    return float(planes.y.mean()), float(planes.u.mean()), float(planes.v.mean())


@pytest.mark.parametrize(
    ("kind", "suffix", "tolerance"),
    [
        ("rgb", ".png", 1.5),
        ("rgb", ".jpg", 3),
        ("rgba", ".png", 1.5),
        ("p", ".png", 8),
        ("cmyk", ".jpg", 4),
        ("progressive", ".jpg", 3),
        ("webp", ".webp", 4),
        ("bmp", ".bmp", 1.5),
        ("tiff", ".tif", 1.5),
        ("gif", ".gif", 8),
        ("rgb48", ".png", 1.5),
        ("exif6", ".jpg", 3),
    ],
)
def test_colour_modes_keep_their_colour(tmp_path: Path, kind: str, suffix: str,
                                        tolerance: float) -> None:
    colour = (200, 60, 40)
    path = write_image(tmp_path / f"still{suffix}", (90, 70), kind, colour)
    expected = bt709(colour)
    assert plane_means(path) == pytest.approx(expected, abs=tolerance)


@pytest.mark.parametrize("kind", ["l", "la", "gray16"])
def test_grey_modes_become_neutral_grey(tmp_path: Path, kind: str) -> None:
    path = write_image(tmp_path / "grey.png", (50, 40), kind, (128, 128, 128))
    y, u, v = plane_means(path)
    assert y == pytest.approx(bt709((128, 128, 128))[0], abs=2)
    assert u == pytest.approx(128, abs=1.5) and v == pytest.approx(128, abs=1.5)


def test_dark_16_bit_png_stays_dark(tmp_path: Path) -> None:
    # 16-bit level 200 of 65535 is near black, not the 8-bit value 200.
    path = tmp_path / "dark16.png"
    Image.fromarray(np.full((40, 60), 200, dtype=np.uint16)).save(path)
    y, _, _ = plane_means(path)
    assert y < 20


def test_transparent_pixels_become_black(tmp_path: Path) -> None:
    path = write_solid(tmp_path / "clear.png", (40, 40), (255, 255, 255, 0), "RGBA")
    y, u, v = plane_means(path)
    assert y == pytest.approx(16, abs=1.5)
    assert (u, v) == pytest.approx((128, 128), abs=1.5)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    red, blue = (230, 20, 20), (20, 20, 230)
    path = write_exif_rotated_jpeg(tmp_path / "phone.jpg", (60, 120), red, blue)
    with Image.open(path) as stored:
        assert stored.size == (120, 60), "stored sideways"
    assert probe_image(path) == (60, 120)
    planes = load_cover_planes(path, 64, 128, 1)
    top = planes.v[: planes.v.shape[0] // 2 - 4].mean()
    bottom = planes.u[planes.u.shape[0] // 2 + 4 :].mean()
    assert top > 200, "red must be at the top once upright"
    assert bottom > 200, "blue must be at the bottom once upright"


@pytest.mark.parametrize("size", [(1, 1), (3, 1000), (1000, 3), (7, 5), (1001, 999), (2, 2)])
def test_odd_source_sizes_cover_the_frame(tmp_path: Path, size: tuple[int, int]) -> None:
    path = write_solid(tmp_path / "odd.png", size, (60, 180, 90))
    for width, height in ((64, 36), (128, 72), (72, 128)):
        planes = load_cover_planes(path, width, height, 2)
        assert planes.size == (width, height)
        assert planes.y.mean() == pytest.approx(bt709((60, 180, 90))[0], abs=1.5)


def test_cover_crops_the_centre(tmp_path: Path) -> None:
    # A wide still: left third red, middle green, right third blue; a square frame keeps green.
    strip = Image.new("RGB", (300, 100), (0, 200, 0))
    strip.paste((200, 0, 0), (0, 0, 100, 100))
    strip.paste((0, 0, 200), (200, 0, 300, 100))
    path = tmp_path / "wide.png"
    strip.save(path)
    planes = load_cover_planes(path, 64, 64, 1)
    assert planes.y.mean() == pytest.approx(bt709((0, 200, 0))[0], abs=2)


def test_probe_reads_size_without_decoding(tmp_path: Path) -> None:
    path = write_solid(tmp_path / "a.jpg", (321, 123), (1, 2, 3))
    assert probe_image(path, 1) == (321, 123)


def test_decompression_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = write_bomb_png(tmp_path / "bomb.png")
    assert path.stat().st_size < 200_000
    with pytest.raises(MediaError) as info:
        probe_image(path, 4)
    assert info.value.segment == 4 and info.value.path == path
    assert "too large" in str(info.value)
    with pytest.raises(MediaError, match="too large"):
        load_cover_planes(path, 64, 36, 4)


def test_image_just_over_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    path = write_bomb_png(tmp_path / "big.png", 10_000, 8_500)  # 85 MP, under Pillow's warning
    with pytest.raises(MediaError, match="too large"):
        probe_image(path, 1)


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"hello, I am a text file", "not a supported image"), (b"", "not a supported image")],
)
def test_not_an_image(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(MediaError, match=words) as info:
        probe_image(path, 3)
    assert info.value.segment == 3
    assert info.value.problem.path == path


def test_zero_length_image(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        probe_image(write_zero_length(tmp_path / "empty.jpg"), 1)


def test_missing_image(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="not found") as info:
        probe_image(tmp_path / "nope.png", 7)
    assert info.value.segment == 7


def test_image_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        probe_image(tmp_path, 1)


def test_truncated_jpeg_fails_as_media_error(tmp_path: Path) -> None:
    path = write_solid(tmp_path / "whole.jpg", (400, 300), (10, 120, 200), quality=95)
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, quality=95)
    data = path.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError) as info:
        load_cover_planes(cut, 64, 36, 5)
    assert info.value.segment == 5 and info.value.path == cut


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_truncated_image_is_a_media_error_when_probed(tmp_path: Path, suffix: str) -> None:
    # Validation must name a truncated still, not crash with a bare OSError from Pillow.
    noise = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    whole = tmp_path / f"whole{suffix}"
    Image.fromarray(noise).save(whole)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 3])
    try:
        probe_image(cut, 6)
    except MediaError as exc:
        assert exc.segment == 6 and exc.path == cut
    else:  # a probe may pass a truncated file; the full decode must then name it
        with pytest.raises(MediaError):
            load_cover_planes(cut, 64, 36, 6)


def test_unsupported_but_readable_format(tmp_path: Path) -> None:
    path = tmp_path / "still.ico"
    Image.new("RGB", (32, 32), (1, 2, 3)).save(path)
    with pytest.raises(MediaError, match="unsupported image format"):
        probe_image(path, 1)


def test_rgb_to_yuv_bt709_limited_range() -> None:
    for colour in ((0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255)):
        planes = rgb_to_yuv420(np.full((4, 6, 3), colour, np.uint8))
        got = (planes.y.mean(), planes.u.mean(), planes.v.mean())
        assert got == pytest.approx(bt709(colour), abs=1.0)
    with pytest.raises(ValueError):
        rgb_to_yuv420(np.zeros((5, 6, 3), np.uint8))


def test_a_sound_file_is_decoded_once_until_it_changes(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A studio plans a timeline on every preview: a TIFF (checked by decoding it whole)
    is decoded again only when the file changes, and a file broken since is refused."""
    import storyreel.media.image as image

    path = tmp_path / "still.tiff"
    Image.new("RGB", (300, 200), (10, 200, 30)).save(path)
    loads: list[Path] = []
    real = image._probe

    def counting(path: Path, segment: int | None) -> tuple[int, int]:
        loads.append(path)
        return real(path, segment)

    monkeypatch.setattr(image, "_probe", counting)
    assert [probe_image(path) for _ in range(3)] == [(300, 200)] * 3
    assert len(loads) == 1
    Image.new("RGB", (64, 48), (10, 200, 30)).save(path)  # written anew
    assert probe_image(path) == (64, 48)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # cut short since
    with pytest.raises(MediaError, match="corrupt or truncated"):
        probe_image(path)
    assert len(loads) == 3
