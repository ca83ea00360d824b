"""Draws manifests/teams/color.png (192×192) and outline.png (32×32, white on transparent).

Standard library only, deterministic (a test checks the committed files are what this draws):
`python tools/teams_icons.py`. The glyph: a speech bubble with an arrow, "hand this contact on".
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

ACCENT = (0x2F, 0x6F, 0xDE)  # manifest accentColor
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # per axis: anti-aliased edges
Rgba = tuple[int, int, int, int]


def _rounded_rect(x: float, y: float, x0: float, y0: float, x1: float, y1: float, r: float) -> bool:
    cx, cy = min(max(x, x0 + r), x1 - r), min(max(y, y0 + r), y1 - r)
    return x0 <= x <= x1 and y0 <= y <= y1 and (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _triangle(
    x: float, y: float, a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> bool:
    def side(p: tuple[float, float], q: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

    s1, s2, s3 = side(a, b), side(b, c), side(c, a)
    return (s1 >= 0 and s2 >= 0 and s3 >= 0) or (s1 <= 0 and s2 <= 0 and s3 <= 0)


def bubble(x: float, y: float) -> bool:
    return _rounded_rect(x, y, 0.16, 0.2, 0.84, 0.68, 0.12) or _triangle(
        x, y, (0.28, 0.6), (0.26, 0.84), (0.48, 0.6)
    )


def arrow(x: float, y: float) -> bool:
    return _rounded_rect(x, y, 0.3, 0.405, 0.6, 0.475, 0.02) or _triangle(
        x, y, (0.56, 0.31), (0.56, 0.57), (0.72, 0.44)
    )


def _render(size: int, colour: Callable[[float, float], Rgba]) -> list[list[Rgba]]:
    rows = []
    for py in range(size):
        row = []
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) / size
                    y = (py + (sy + 0.5) / SAMPLES) / size
                    r, g, b, a = colour(x, y)
                    acc[0] += r * a
                    acc[1] += g * a
                    acc[2] += b * a
                    acc[3] += a
            n = SAMPLES * SAMPLES
            alpha = acc[3] / n
            rgb = [round(acc[i] / acc[3]) if acc[3] else 0 for i in range(3)]
            row.append((rgb[0], rgb[1], rgb[2], round(alpha)))
        rows.append(row)
    return rows


def color_icon(x: float, y: float) -> Rgba:
    if bubble(x, y) and not arrow(x, y):
        return (*WHITE, 255)
    return (*ACCENT, 255)


def outline_icon(x: float, y: float) -> Rgba:
    return (*WHITE, 255) if bubble(x, y) and not arrow(x, y) else (*WHITE, 0)


def png(rows: list[list[Rgba]]) -> bytes:
    """An 8-bit RGBA PNG."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def icons() -> dict[str, bytes]:
    return {"color.png": png(_render(192, color_icon)), "outline.png": png(_render(32, outline_icon))}


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "manifests" / "teams"
    for name, data in icons().items():
        (out / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
