"""Small bar charts as PNG, drawn with the standard library only (zlib), for the digest card.

The charts carry no text: the card puts the Japanese labels next to them, so no font is
needed on the server. Palette PNGs of a few hundred bytes fit in a ``data:`` URI.
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Sequence

# Palette index -> RGB. Teams' light theme greys and its accent purple.
_PALETTE = (
    (255, 255, 255),  # 0 background
    (200, 198, 196),  # 1 bars
    (98, 100, 167),  # 2 latest bar (Teams purple)
    (225, 223, 221),  # 3 baseline and hidden ("<5") bars
    (196, 49, 75),  # 4 marked date
)
BACKGROUND, BAR, LATEST, FAINT, MARK = range(5)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(pixels: Sequence[bytes | bytearray], width: int) -> bytes:
    """A palette PNG from rows of palette indices (one byte per pixel)."""
    header = struct.pack(">IIBBBBB", width, len(pixels), 8, 3, 0, 0, 0)
    palette = b"".join(bytes(rgb) for rgb in _PALETTE)
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)  # filter type 0 on every row
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"PLTE", palette)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def bar_chart_png(
    values: Sequence[float | None],
    *,
    width: int = 360,
    height: int = 96,
    marked: Sequence[int] = (),
) -> bytes:
    """Bars for ``values`` (None: no data or hidden, drawn as a faint stub), the last one highlighted.

    ``marked`` are indexes of bars to underline in red (an admin's marked date falls there).
    """
    rows = [bytearray(width) for _ in range(height)]
    count = max(1, len(values))
    pad = 4
    baseline = height - 6
    top = pad
    slot = (width - 2 * pad) / count
    gap = max(1, int(slot * 0.2))
    highest = max((v for v in values if v is not None), default=0.0) or 1.0

    def fill(x0: int, y0: int, x1: int, y1: int, colour: int) -> None:
        for y in range(max(0, y0), min(height, y1)):
            row = rows[y]
            row[max(0, x0) : min(width, x1)] = bytes([colour]) * (min(width, x1) - max(0, x0))

    fill(pad, baseline, width - pad, baseline + 1, FAINT)
    for index, value in enumerate(values):
        x0 = int(pad + index * slot + gap / 2)
        x1 = max(x0 + 1, int(pad + (index + 1) * slot - gap / 2))
        if value is None:
            fill(x0, baseline - 3, x1, baseline, FAINT)
        else:
            bar_height = max(1 if value > 0 else 0, round((baseline - top) * max(0.0, value) / highest))
            colour = LATEST if index == len(values) - 1 else BAR
            fill(x0, baseline - bar_height, x1, baseline, colour)
        if index in marked:
            fill(x0, baseline + 2, x1, baseline + 5, MARK)
    return encode_png(rows, width)


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for an Adaptive Card Image."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
