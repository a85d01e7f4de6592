#!/usr/bin/python3
"""Writes the seed corpora of fuzz_jpeg and fuzz_png (tests/fuzz/corpus/jpeg,
tests/fuzz/corpus/png): small images of every kind the decoders handle.
Run from the repository root: /usr/bin/python3 tests/fuzz/gen_image_seeds.py
"""
import io
import os

import numpy as np
from PIL import Image

rng = np.random.default_rng(7)


def save(kind, name, im, **kw):
    d = os.path.join("tests/fuzz/corpus", kind)
    os.makedirs(d, exist_ok=True)
    b = io.BytesIO()
    im.save(b, "JPEG" if kind == "jpeg" else "PNG", **kw)
    open(os.path.join(d, name), "wb").write(b.getvalue())


rgb = Image.fromarray((rng.random((12, 10, 3)) * 255).astype(np.uint8), "RGB")
gray = rgb.convert("L")
save("jpeg", "baseline.jpg", rgb, quality=80)
save("jpeg", "progressive.jpg", rgb, quality=60, progressive=True)
save("jpeg", "gray.jpg", gray)
save("jpeg", "444.jpg", rgb, subsampling=0)
save("jpeg", "restart.jpg", rgb.resize((40, 24)), quality=50, restart_marker_blocks=1)
save("jpeg", "cmyk.jpg", rgb.convert("CMYK"))
save("png", "rgb.png", rgb)
save("png", "gray.png", gray)
save("png", "rgba.png", rgb.convert("RGBA"))
save("png", "la.png", gray.convert("LA"))
save("png", "bits1.png", gray.convert("1"))
save("png", "palette_trns.png", rgb.convert("P"), transparency=3)
save("png", "gray16.png", Image.fromarray((rng.random((6, 5)) * 65535).astype(np.uint16), "I;16"))


def adam7_png():
    """An interlaced (Adam7) 8x8 RGB PNG, written by hand (Pillow writes none)."""
    import struct
    import zlib
    px = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        for y in range(y0, 8, dy):
            row = px[y, x0::dx]
            if row.size:
                raw += b"\x00" + row.tobytes()

    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 1)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    open("tests/fuzz/corpus/png/interlaced.png", "wb").write(data)
    return px


adam7_png()
