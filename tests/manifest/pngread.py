"""A small PNG reader for the icon tests, written from the PNG specification.

It is independent of the code that writes the icons (it handles every filter type, checks each
chunk's CRC and refuses anything it does not understand), so a mistake in the writer shows up
here rather than being read back by its own twin.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel at 8 bits


class PngError(ValueError):
    """The bytes are not a PNG this reader understands."""


@dataclass(frozen=True)
class Image:
    """A decoded 8-bit image: size, colour type and RGBA pixels, row by row."""

    width: int
    height: int
    colour_type: int
    pixels: tuple[tuple[tuple[int, int, int, int], ...], ...]
    has_transparency_table: bool = False

    @property
    def has_alpha(self) -> bool:
        """Whether the file stores an alpha channel."""
        return self.colour_type in (4, 6) or self.has_transparency_table

    def all_pixels(self) -> list[tuple[int, int, int, int]]:
        """Every pixel as (red, green, blue, alpha)."""
        return [pixel for row in self.pixels for pixel in row]


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(SIGNATURE):
        raise PngError("not a PNG signature")
    chunks, offset = [], len(SIGNATURE)
    while offset < len(data):
        if offset + 12 > len(data):
            raise PngError("truncated chunk")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise PngError(f"bad CRC in {kind!r}")
        chunks.append((kind, body))
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _paeth(left: int, up: int, up_left: int) -> int:
    estimate = left + up - up_left
    distances = abs(estimate - left), abs(estimate - up), abs(estimate - up_left)
    if distances[0] <= distances[1] and distances[0] <= distances[2]:
        return left
    return up if distances[1] <= distances[2] else up_left


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytearray]:
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise PngError("image data has the wrong length")
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        row = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = row[i - bpp] if i >= bpp else 0
            up = previous[i]
            up_left = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                row[i] = (row[i] + _paeth(left, up, up_left)) & 0xFF
            elif kind != 0:
                raise PngError(f"unknown filter type {kind}")
        rows.append(row)
        previous = row
    return rows


def read_png(data: bytes) -> Image:
    """Decode a non-interlaced 8-bit PNG: greyscale, truecolour or palette, with or without alpha."""
    chunks = _chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise PngError("IHDR must come first and IEND last")
    width, height, depth, colour_type, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", chunks[0][1]
    )
    if depth != 8 or colour_type not in CHANNELS or (compression, filtering, interlace) != (0, 0, 0):
        raise PngError(f"unsupported PNG: depth {depth}, colour type {colour_type}, interlace {interlace}")
    bpp = CHANNELS[colour_type]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = _unfilter(raw, width, height, bpp)
    palette_data = b"".join(body for kind, body in chunks if kind == b"PLTE")
    palette = [tuple(palette_data[i : i + 3]) for i in range(0, len(palette_data), 3)]
    transparency = b"".join(body for kind, body in chunks if kind == b"tRNS")
    if colour_type == 3 and not palette:
        raise PngError("palette image without PLTE")

    def rgba(row: bytearray, x: int) -> tuple[int, int, int, int]:
        sample = row[x * bpp : (x + 1) * bpp]
        if colour_type == 0:
            return sample[0], sample[0], sample[0], 255
        if colour_type == 4:
            return sample[0], sample[0], sample[0], sample[1]
        if colour_type == 2:
            return sample[0], sample[1], sample[2], 255
        if colour_type == 3:
            index = sample[0]
            if index >= len(palette):
                raise PngError(f"palette index {index} out of range")
            red, green, blue = palette[index]
            return red, green, blue, transparency[index] if index < len(transparency) else 255
        return sample[0], sample[1], sample[2], sample[3]

    pixels = tuple(tuple(rgba(row, x) for x in range(width)) for row in rows)
    return Image(width, height, colour_type, pixels, has_transparency_table=bool(transparency))
