"""Read the pixels of a PNG (8-bit RGB or RGBA, not interlaced: what Chromium writes) with the
standard library alone, to check what a screenshot shows."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


class Image:
    def __init__(self, path: Path):
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        pos, idat = 8, b""
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            chunk = data[pos + 8:pos + 8 + length]
            if kind == b"IHDR":
                self.width, self.height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
                assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
                self.channels = 3 if colour == 2 else 4
            elif kind == b"IDAT":
                idat += chunk
            pos += 12 + length
        raw = zlib.decompress(idat)
        stride = self.width * self.channels
        rows: list[bytearray] = []
        previous = bytearray(stride)
        for y in range(self.height):
            start = y * (stride + 1)
            kind_byte, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
            for x in range(stride):
                left = line[x - self.channels] if x >= self.channels else 0
                up = previous[x]
                corner = previous[x - self.channels] if x >= self.channels else 0
                if kind_byte == 1:
                    line[x] = (line[x] + left) & 0xFF
                elif kind_byte == 2:
                    line[x] = (line[x] + up) & 0xFF
                elif kind_byte == 3:
                    line[x] = (line[x] + (left + up) // 2) & 0xFF
                elif kind_byte == 4:
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
            rows.append(line)
            previous = line
        self.rows = rows

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = x * self.channels
        row = self.rows[y]
        return row[i], row[i + 1], row[i + 2]
