"""Caption rendering: layout, safe area, no clipping, font fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from storyreel.errors import MediaError
from storyreel.frames import text as text_module
from storyreel.frames.overlay import blend_into
from storyreel.frames.text import (
    DEFAULT_FONT,
    CaptionImage,
    CaptionStyle,
    Position,
    caption_image,
    render_caption,
)

SIZES = [(1280, 720), (1920, 1080), (3840, 2160), (1080, 1920)]
SENTENCE = "Deep in the heart of the valley, the first light touched the ancient stones."


def _tiny_font(path: Path, extra: str = "") -> Path:
    """A font with only A, B, space and ``extra``: everything else must come from a fallback."""
    names = [".notdef", "space", "A", "B"] + [f"uni{ord(c):04X}" for c in extra]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({0x20: "space", 0x41: "A", 0x42: "B"}
                              | {ord(c): f"uni{ord(c):04X}" for c in extra})
    glyphs = {}
    for name in names:
        pen = TTGlyphPen(None)
        if name != "space":
            pen.moveTo((50, 0))
            pen.lineTo((50, 700))
            pen.lineTo((550, 700))
            pen.lineTo((550, 0))
            pen.closePath()
        glyphs[name] = pen.glyph()
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (600, 50) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Tiny", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.save(str(path))
    return path


def _inside_safe(image: CaptionImage, width: int, height: int, safe: float = 0.9) -> None:
    h, w = image.rgba.shape[:2]
    assert image.x % 2 == 0 and image.y % 2 == 0
    assert image.x >= width * (1 - safe) / 2 and image.x + w <= width * (1 + safe) / 2
    assert image.y >= height * (1 - safe) / 2 and image.y + h <= height * (1 + safe) / 2


def _border_clear(rgba: NDArray[np.uint8]) -> None:
    alpha = rgba[:, :, 3]
    assert not alpha[0].any() and not alpha[-1].any()
    assert not alpha[:, 0].any() and not alpha[:, -1].any()


def _reference_ink(line: str, px: int, stroke: int) -> int:
    """Pixels inked by ``line`` (fill and outline) on a canvas far larger than needed."""
    font = ImageFont.truetype(str(DEFAULT_FONT), px)
    size = (px * (len(line) + 4), px * 4)
    fill, outline = Image.new("L", size, 0), Image.new("L", size, 0)
    ImageDraw.Draw(fill).text((px * 2, px * 2), line, fill=255, font=font, anchor="ls")
    ImageDraw.Draw(outline).text((px * 2, px * 2), line, fill=0, font=font, anchor="ls",
                                 stroke_width=stroke, stroke_fill=255)
    return int(np.count_nonzero(np.maximum(np.asarray(fill), np.asarray(outline))))


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_sizes_safe_area_and_two_lines(width: int, height: int) -> None:
    image = caption_image(SENTENCE, CaptionStyle(), width, height)
    assert 1 <= len(image.lines) <= 2
    assert " ".join(image.lines) == SENTENCE
    assert image.warnings == ()
    _inside_safe(image, width, height)
    _border_clear(image.rgba)
    asked = round(0.05 * min(width, height))
    assert 0.6 * asked <= image.font_px <= asked
    bottom = image.y + image.rgba.shape[0]
    assert bottom >= height * 0.95 - 0.02 * height  # sits at the bottom of the safe area


def test_size_scales_with_the_frame() -> None:
    px = [caption_image("A short line", CaptionStyle(), w, h).font_px for w, h in SIZES[:3]]
    assert px == [36, 54, 108]


def test_wraps_after_punctuation_when_balanced() -> None:
    image = caption_image(SENTENCE, CaptionStyle(), 1920, 1080)
    assert image.lines == ("Deep in the heart of the valley,",
                           "the first light touched the ancient stones.")


@pytest.mark.parametrize("outline", [0.0, 0.08, 0.25])
def test_descenders_accents_and_outline_never_clipped(outline: float) -> None:
    line = "Ågÿpjq|Ç ÉQ"
    image = caption_image(line, CaptionStyle(outline=outline, size=0.08), 1920, 1080)
    assert image.lines == (line,)
    _border_clear(image.rgba)
    stroke = round(outline * image.font_px)
    assert np.count_nonzero(image.rgba[:, :, 3]) == _reference_ink(line, image.font_px, stroke)


def test_colours_fill_and_outline() -> None:
    style = CaptionStyle(color=(250, 200, 10), outline=0.15, outline_color=(0, 0, 255),
                         size=0.1)
    rgba = caption_image("HI", style, 1280, 720).rgba
    alpha = rgba[:, :, 3]
    solid = rgba[alpha == 255][:, :3].astype(np.float64)
    fill, edge = np.array([250, 200, 10.0]), np.array([0, 0, 255.0])
    assert (np.abs(solid - fill).max(axis=1) == 0).sum() > 100  # the inside of the letters
    assert (np.abs(solid - edge).max(axis=1) == 0).sum() > 100  # the outline
    # Opaque pixels between the two are mixes of fill and outline, nothing else (no dark fringe).
    t = np.clip((solid - edge) @ (fill - edge) / ((fill - edge) @ (fill - edge)), 0, 1)
    nearest = edge + t[:, None] * (fill - edge)
    assert np.abs(solid - nearest).max() <= 2


def test_translucent_box() -> None:
    style = CaptionStyle(box=True, box_opacity=0.5, box_color=(10, 20, 30), outline=0.0)
    image = caption_image("Box", style, 1920, 1080)
    pad = round(0.3 * image.font_px)
    inner = image.rgba[image.rgba.shape[0] // 2, 1 + pad // 2 + 2]  # left of the text
    assert abs(int(inner[3]) - 128) <= 1 and tuple(int(v) for v in inner[:3]) == (10, 20, 30)
    _inside_safe(image, 1920, 1080)


@pytest.mark.parametrize("position", ["top", "center", 0.3])
def test_positions(position: Position) -> None:
    image = caption_image("Where am I", CaptionStyle(position=position), 1920, 1080)
    middle = image.y + image.rgba.shape[0] / 2
    if position == "top":
        assert image.y <= 54 + 6
    else:
        target = 540 if position == "center" else 0.3 * 1080
        assert abs(middle - target) <= 8
    _inside_safe(image, 1920, 1080)


def test_position_clamped_into_safe_area() -> None:
    image = caption_image("Low", CaptionStyle(position=1.0), 1920, 1080)
    _inside_safe(image, 1920, 1080)


def test_very_long_text_warns_and_stays_inside() -> None:
    text = " ".join(["remembered"] * 60)
    image = caption_image(text, CaptionStyle(), 1920, 1080)
    assert len(image.lines) > 2
    assert image.warnings and "too long" in image.warnings[0]
    _inside_safe(image, 1920, 1080)
    _border_clear(image.rgba)
    assert " ".join(image.lines) == text


def test_single_long_word_is_shrunk_not_clipped() -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    image = caption_image(word, CaptionStyle(), 1080, 1920)
    assert image.lines == (word,)
    _inside_safe(image, 1080, 1920)
    _border_clear(image.rgba)


def test_empty_text() -> None:
    for blank in ("", "   \n "):
        overlay, warnings = render_caption(blank, CaptionStyle(), 1920, 1080)
        assert overlay.empty and warnings == []


def test_render_caption_blends_white_text() -> None:
    overlay, warnings = render_caption("Hello there", CaptionStyle(), 1920, 1080)
    assert warnings == [] and not overlay.empty
    planes = (np.full((1080, 1920), 16, np.uint8), np.full((540, 960), 128, np.uint8),
              np.full((540, 960), 128, np.uint8))
    blend_into(planes, overlay)
    x, y, w, h = overlay.rect
    region = planes[0][y : y + h, x : x + w]
    assert region.max() >= 233  # white fill, limited range
    assert planes[0][:y].max() == 16 and planes[0][y + h :].max() == 16


def test_user_font_falls_back_to_default_for_missing_characters(tmp_path: Path) -> None:
    tiny = _tiny_font(tmp_path / "tiny.ttf")
    plain = caption_image("AB AB", CaptionStyle(font=tiny), 1920, 1080)
    accented = caption_image("AB AB é", CaptionStyle(font=tiny), 1920, 1080)
    assert accented.warnings == ()
    assert accented.lines == ("AB AB é",)
    assert np.count_nonzero(accented.rgba[:, :, 3]) > np.count_nonzero(plain.rgba[:, :, 3])


def test_characters_no_font_has_are_reported_not_boxed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_module, "_system_fonts", lambda code: ())
    monkeypatch.setattr(text_module, "_KNOWN_FALLBACKS", [])
    tiny = _tiny_font(tmp_path / "tiny.ttf")
    image = caption_image("AB \U00012000 AB", CaptionStyle(font=tiny), 1920, 1080)
    assert len(image.warnings) == 1 and "U+12000" in image.warnings[0]
    assert image.lines == ("AB  AB",)
    only = caption_image("\U00012000", CaptionStyle(), 1920, 1080)
    assert only.rgba.size == 0 and "U+12000" in only.warnings[0]


def test_fallback_found_by_scanning_font_folders_without_fontconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "fonts" / "nested"
    folder.mkdir(parents=True)
    _tiny_font(folder / "CuneiformOnly-Bold.ttf", extra="\U00012000")
    (folder / "broken.ttf").write_bytes(b"\0" * 100)
    monkeypatch.setattr("storyreel.frames.text.shutil.which", lambda name: None)
    monkeypatch.setattr(text_module, "_FONT_DIRS", (str(tmp_path / "fonts"),))
    monkeypatch.setattr(text_module, "_KNOWN_FALLBACKS", [])
    text_module._system_fonts.cache_clear()
    text_module._font_index.cache_clear()
    try:
        image = caption_image("AB \U00012000 AB", CaptionStyle(), 1920, 1080)
        assert image.warnings == () and image.lines == ("AB \U00012000 AB",)
        found = text_module._KNOWN_FALLBACKS
        assert found == [(str(folder / "CuneiformOnly-Bold.ttf"), 0)]
    finally:
        text_module._system_fonts.cache_clear()
        text_module._font_index.cache_clear()


def test_cjk_falls_back_to_the_bundled_font() -> None:
    text = "长江是中国最长的河流，全长约六千三百公里。"  # noqa: RUF001
    image = caption_image(text, CaptionStyle(), 1080, 1920)
    assert image.warnings == ()
    assert "".join(image.lines) == text
    assert all(not line.startswith("，") for line in image.lines)  # noqa: RUF001
    _inside_safe(image, 1080, 1920)
    _border_clear(image.rgba)
    assert np.count_nonzero(image.rgba[:, :, 3]) > 1000


def test_bad_font_and_bad_style(tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        caption_image("x", CaptionStyle(font=tmp_path / "missing.ttf"), 1920, 1080)
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font at all")
    with pytest.raises(MediaError):
        caption_image("x", CaptionStyle(font=junk), 1920, 1080)
    with pytest.raises(ValueError):
        CaptionStyle(size=0.0)
    with pytest.raises(ValueError):
        CaptionStyle(position="middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CaptionStyle(position=1.5)
