"""The app's icons: the sizes and transparency Teams requires, and that they are the drawn ones."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from pathlib import Path

import pytest

from manifest import draw_icons
from tests.manifest.pngread import Image, PngError, read_png

MANIFEST_DIR = Path(draw_icons.__file__).resolve().parent
WHITE = (255, 255, 255)


@pytest.fixture(scope="module")
def color() -> Image:
    """The committed full-colour icon."""
    return read_png((MANIFEST_DIR / "color.png").read_bytes())


@pytest.fixture(scope="module")
def outline() -> Image:
    """The committed outline icon."""
    return read_png((MANIFEST_DIR / "outline.png").read_bytes())


def test_icon_files_are_the_ones_the_manifest_names() -> None:
    """The template points at the two committed files."""
    template = json.loads((MANIFEST_DIR / "manifest.template.json").read_text(encoding="utf-8"))
    assert template["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_color_icon_is_192_square_opaque_and_drawn(color: Image) -> None:
    """192×192, every pixel opaque, and a real picture: mostly the accent green, with white."""
    assert (color.width, color.height) == (192, 192)
    pixels = color.all_pixels()
    assert all(alpha == 255 for *_, alpha in pixels)
    counts = Counter((red, green, blue) for red, green, blue, _ in pixels)
    accent_green = draw_icons.CITY_GREEN
    assert 0.5 < counts[accent_green] / len(pixels) < 0.9
    assert 0.1 < counts[WHITE] / len(pixels) < 0.5


def test_color_icon_background_is_the_accent_colour(color: Image) -> None:
    """The corners show the manifest's accentColor, so the tile and the icon match."""
    template = json.loads((MANIFEST_DIR / "manifest.template.json").read_text(encoding="utf-8"))
    accent = template["accentColor"]
    expected = tuple(int(accent[i : i + 2], 16) for i in (1, 3, 5))
    for x, y in ((0, 0), (191, 0), (0, 191), (191, 191)):
        assert color.pixels[y][x][:3] == expected


def test_outline_icon_is_32_square_white_on_transparent(outline: Image) -> None:
    """32×32 with alpha; every pixel is either fully transparent or white, as Teams requires."""
    assert (outline.width, outline.height) == (32, 32)
    assert outline.has_alpha
    pixels = outline.all_pixels()
    offending = [pixel for pixel in pixels if pixel[3] != 0 and pixel[:3] != WHITE]
    assert offending == []
    transparent = sum(1 for pixel in pixels if pixel[3] == 0)
    solid = sum(1 for pixel in pixels if pixel[3] == 255)
    # a line drawing: a clear background with a visible, mostly solid symbol
    assert transparent > len(pixels) / 2
    assert solid > 60
    for x, y in ((0, 0), (31, 0), (31, 31)):
        assert outline.pixels[y][x][3] == 0


def test_committed_icons_are_what_draw_icons_draws(color: Image, outline: Image) -> None:
    """Re-running ``python -m manifest.draw_icons`` would change nothing: the PNGs match the code."""
    drawn_color = [
        tuple((*row[x * 3 : x * 3 + 3], 255) for x in range(draw_icons.COLOR_SIZE))
        for row in draw_icons.draw_color()
    ]
    drawn_outline = [
        tuple(tuple(row[x * 4 : x * 4 + 4]) for x in range(draw_icons.OUTLINE_SIZE))
        for row in draw_icons.draw_outline()
    ]
    assert list(color.pixels) == drawn_color
    assert list(outline.pixels) == drawn_outline


def test_png_reader_refuses_a_damaged_file() -> None:
    """The reader checks CRCs, so it cannot quietly accept a broken icon."""
    data = bytearray((MANIFEST_DIR / "outline.png").read_bytes())
    data[50] ^= 0xFF  # inside the compressed image data
    with pytest.raises((PngError, zlib.error)):
        read_png(bytes(data))
