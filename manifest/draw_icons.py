"""Draw the app's two Teams icons and write them as PNG files next to this module.

Run ``python -m manifest.draw_icons`` after changing a shape or a colour; the PNGs it writes are
committed, so building the app package needs neither this script nor an imaging library.

The picture is a speech bubble with a check mark: the policy's いいね！ instead of a written
承知しました. Shapes are signed distance functions, so edges are anti-aliased without
supersampling and without Pillow (the standard library's zlib and struct are enough).
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLOR_SIZE = 192
OUTLINE_SIZE = 32

# The accent colour of the manifest; a calm green that reads well behind white on Teams' tiles.
CITY_GREEN = (0x1B, 0x8A, 0x4B)
WHITE = (0xFF, 0xFF, 0xFF)

Point = tuple[float, float]
Distance = Callable[[float, float], float]


def rounded_box(cx: float, cy: float, half_w: float, half_h: float, radius: float) -> Distance:
    """Signed distance to a rectangle with rounded corners (negative inside)."""

    def distance(x: float, y: float) -> float:
        qx = abs(x - cx) - half_w + radius
        qy = abs(y - cy) - half_h + radius
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        return outside + min(max(qx, qy), 0.0) - radius

    return distance


def polygon(points: list[Point]) -> Distance:
    """Signed distance to a closed polygon (negative inside), after Inigo Quilez's sdPolygon."""

    def distance(x: float, y: float) -> float:
        best = (x - points[0][0]) ** 2 + (y - points[0][1]) ** 2
        sign = 1.0
        j = len(points) - 1
        for i, (vx, vy) in enumerate(points):
            wx, wy = points[j]
            ex, ey = wx - vx, wy - vy
            px, py = x - vx, y - vy
            t = min(max((px * ex + py * ey) / (ex * ex + ey * ey), 0.0), 1.0)
            dx, dy = px - ex * t, py - ey * t
            best = min(best, dx * dx + dy * dy)
            above, below, turn = y >= vy, y < wy, ex * py - ey * px > 0
            if (above and below and turn) or (not above and not below and not turn):
                sign = -sign
            j = i
        return sign * math.sqrt(best)

    return distance


def stroke_path(points: list[Point], width: float) -> Distance:
    """Signed distance to a polyline drawn with the given width and round caps and joins."""

    def distance(x: float, y: float) -> float:
        best = math.inf
        for (ax, ay), (bx, by) in itertools.pairwise(points):
            ex, ey = bx - ax, by - ay
            t = min(max(((x - ax) * ex + (y - ay) * ey) / (ex * ex + ey * ey), 0.0), 1.0)
            best = min(best, math.hypot(x - ax - ex * t, y - ay - ey * t))
        return best - width / 2

    return distance


def union(*shapes: Distance) -> Distance:
    """The shape covered by any of the given shapes."""
    return lambda x, y: min(shape(x, y) for shape in shapes)


def coverage(shape: Distance, x: int, y: int) -> float:
    """How much of the pixel at column x, row y the shape covers, from 0 to 1."""
    return min(max(0.5 - shape(x + 0.5, y + 0.5), 0.0), 1.0)


def mix(under: tuple[int, int, int], over: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    """The colour ``over`` laid on ``under`` with the given opacity."""
    r, g, b = (round(u + (o - u) * amount) for u, o in zip(under, over, strict=True))
    return r, g, b


def draw_color() -> list[bytes]:
    """The 192×192 full-colour icon as RGB rows: a white bubble with a green check on green."""
    # The symbol stays inside the central 96 px that Teams recommends, with room for the tail.
    bubble = union(
        rounded_box(96, 88, 50, 38, 18),
        polygon([(64, 118), (94, 118), (56, 150)]),
    )
    check = stroke_path([(72, 89), (88, 105), (121, 72)], 11)
    rows = []
    for y in range(COLOR_SIZE):
        row = bytearray()
        for x in range(COLOR_SIZE):
            colour = mix(CITY_GREEN, WHITE, coverage(bubble, x, y))
            colour = mix(colour, CITY_GREEN, coverage(check, x, y))
            row += bytes(colour)
        rows.append(bytes(row))
    return rows


def draw_outline() -> list[bytes]:
    """The 32×32 outline icon as RGBA rows: white strokes on a transparent background."""
    bubble = union(
        rounded_box(16, 14, 12, 8, 4.5),
        polygon([(9, 21), (16, 21), (7.5, 28)]),
    )
    outline = lambda x, y: abs(bubble(x, y)) - 1.0  # noqa: E731  a 2 px line along the edge
    check = stroke_path([(10.5, 14), (14, 17.5), (21.5, 10)], 2.2)
    rows = []
    for y in range(OUTLINE_SIZE):
        row = bytearray()
        for x in range(OUTLINE_SIZE):
            alpha = max(coverage(outline, x, y), coverage(check, x, y))
            # Teams wants only white and transparency here; partial alpha keeps edges smooth.
            row += bytes((*WHITE, round(alpha * 255)))
        rows.append(bytes(row))
    return rows


def encode_png(width: int, height: int, rows: list[bytes], *, alpha: bool) -> bytes:
    """A PNG file (8-bit RGB, or RGBA when alpha) holding the given rows of pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = 6 if alpha else 2
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    """Write color.png and outline.png into the manifest directory."""
    (HERE / "color.png").write_bytes(encode_png(COLOR_SIZE, COLOR_SIZE, draw_color(), alpha=False))
    (HERE / "outline.png").write_bytes(encode_png(OUTLINE_SIZE, OUTLINE_SIZE, draw_outline(), alpha=True))
    print(f"wrote {HERE / 'color.png'} and {HERE / 'outline.png'}")


if __name__ == "__main__":
    main()
