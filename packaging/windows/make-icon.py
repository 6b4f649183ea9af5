#!/usr/bin/env python3
"""Renders purplebook.ico (16, 24, 32, 48, 64, 256 px, PNG entries) from the
shapes of assets' favicon.svg: a purple rounded square with a white P.
Standard library only; run it after changing the favicon:
    python3 packaging/windows/make-icon.py packaging/windows/purplebook.ico
"""
import struct
import sys
import zlib

PURPLE = (0x6D, 0x3F, 0xD8)
WHITE = (0xFF, 0xFF, 0xFF)


def cubic(p0, p1, p2, p3, n=24):
    pts = []
    for i in range(1, n + 1):
        t = i / n
        a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
        pts.append((a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1]))
    return pts


def outer_p():
    # M9 8.5h8.2c3.9 0 6.3 2.1 6.3 5.5s-2.4 5.6-6.3 5.6h-4.1v4.9H9z
    pts = [(9, 8.5), (17.2, 8.5)]
    pts += cubic((17.2, 8.5), (21.1, 8.5), (23.5, 10.6), (23.5, 14.0))
    # s: first control point mirrors the previous second one (21.1+... )
    prev_c2 = (23.5, 10.6)
    c1 = (2 * 23.5 - prev_c2[0], 2 * 14.0 - prev_c2[1])
    pts += cubic((23.5, 14.0), c1, (21.1, 19.6), (17.2, 19.6))
    pts += [(13.1, 19.6), (13.1, 24.5), (9, 24.5)]
    return pts


def inner_p():
    # M13.1 12.1v4h3.8c1.5 0 2.4-.8 2.4-2s-.9-2-2.4-2z
    pts = [(13.1, 12.1), (13.1, 16.1), (16.9, 16.1)]
    pts += cubic((16.9, 16.1), (18.4, 16.1), (19.3, 15.3), (19.3, 14.1))
    prev_c2 = (19.3, 15.3)
    c1 = (2 * 19.3 - prev_c2[0], 2 * 14.1 - prev_c2[1])
    pts += cubic((19.3, 14.1), c1, (18.4, 12.1), (16.9, 12.1))
    return pts


def inside(poly, x, y):
    c = False
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            c = not c
        j = i
    return c


def in_rounded(x, y, w=32, r=7):
    cx = min(max(x, r), w - r)
    cy = min(max(y, r), w - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r and 0 <= x <= w and 0 <= y <= w


def render(size, ss=4):
    outer, inner = outer_p(), inner_p()
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter: none
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(ss):
                for sx in range(ss):
                    x = (px + (sx + 0.5) / ss) * 32 / size
                    y = (py + (sy + 0.5) / ss) * 32 / size
                    if not in_rounded(x, y):
                        continue
                    col = WHITE if inside(outer, x, y) and not inside(inner, x, y) else PURPLE
                    acc[0] += col[0]; acc[1] += col[1]; acc[2] += col[2]; acc[3] += 255
            n = ss * ss
            a = acc[3] // n
            if a:
                row += bytes([acc[0] * 255 // acc[3], acc[1] * 255 // acc[3], acc[2] * 255 // acc[3], a])
            else:
                row += bytes(4)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main(out):
    sizes = [16, 24, 32, 48, 64, 256]
    images = [render(s) for s in sizes]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries = b""
    for s, img in zip(sizes, images):
        entries += struct.pack("<BBBBHHII", s % 256, s % 256, 0, 0, 1, 32, len(img), offset)
        offset += len(img)
    with open(out, "wb") as f:
        f.write(header + entries + b"".join(images))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "purplebook.ico")
