#!/usr/bin/python3
"""Renders the OCR test images: printed English words and digits, several
fonts and sizes, two to four lines, a slight rotation, some as JPEG.

    /usr/bin/python3 tests/app/gen_ocr_images.py OUTDIR [N]

Writes OUTDIR/ocr_XX.png|jpg and OUTDIR/truth.json:
  {"images": [{"file", "lines": [{"text", "box": [[x, y] x 4]}]}]}
where each box is the rendered line's ink bounding box (Pillow's textbbox),
turned with the image. Deterministic (fixed seed); uses python3-pil and the
Debian font packages of scripts/setup.sh (fonts-dejavu-*, fonts-liberation2,
fonts-freefont-ttf when installed).
"""
import json
import math
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation2",
             "/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/freefont"]
FONT_NAMES = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf",
              "DejaVuSansCondensed.ttf", "DejaVuSerif-Bold.ttf", "LiberationSans-Regular.ttf",
              "LiberationSerif-Regular.ttf", "LiberationMono-Regular.ttf", "FreeSans.ttf", "FreeSerif.ttf"]

WORDS = ("order invoice total amount customer number street garden window station market coffee "
         "paper river winter summer yellow orange button engine signal camera ticket office "
         "morning evening simple little bright rapid silver golden planet battery printer "
         "delivery payment account balance machine network reading writing").split()


def fonts():
    out = []
    for name in FONT_NAMES:
        for d in FONT_DIRS:
            p = os.path.join(d, name)
            if os.path.exists(p):
                out.append(p)
                break
    return out


def line_text(rng):
    parts = []
    for _ in range(rng.randint(2, 4)):
        if rng.random() < 0.3:
            parts.append(str(rng.randint(10, 99999)))
        else:
            w = rng.choice(WORDS)
            if rng.random() < 0.4:
                w = w.capitalize()
            parts.append(w)
    return " ".join(parts)


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    os.makedirs(out, exist_ok=True)
    rng = random.Random(20261206)
    fl = fonts()
    if len(fl) < 3:
        sys.exit("gen_ocr_images: need at least 3 fonts (fonts-dejavu-core/extra), found %d" % len(fl))
    truth = []
    for i in range(n):
        font_path = fl[i % len(fl)]
        size = rng.choice([22, 26, 30, 36, 44])
        font = ImageFont.truetype(font_path, size)
        nlines = rng.randint(2, 4)
        texts = [line_text(rng) for _ in range(nlines)]
        gap = int(size * rng.uniform(0.9, 1.6))
        margin = 40
        widths = [font.getbbox(t)[2] for t in texts]
        W = max(widths) + 2 * margin + rng.randint(0, 80)
        H = nlines * (size + gap) + 2 * margin
        img = Image.new("RGB", (W, H), (255, 255, 255))
        d = ImageDraw.Draw(img)
        boxes = []
        y = margin
        ink = tuple(rng.randint(0, 60) for _ in range(3))
        for t in texts:
            x = margin + rng.randint(0, 30)
            d.text((x, y), t, font=font, fill=ink)
            boxes.append(d.textbbox((x, y), t, font=font))
            y += size + gap
        # slight rotation about the center, counter-clockwise in degrees; every
        # sixth image is also upside down (the direction classifier's case)
        ang = rng.uniform(-4, 4) + (180 if i % 6 == 5 else 0)
        rot = img.rotate(ang, resample=Image.BICUBIC, expand=True, fillcolor=(255, 255, 255))
        cx, cy = W / 2, H / 2
        ncx, ncy = rot.size[0] / 2, rot.size[1] / 2
        a = math.radians(ang)

        def turn(px, py):
            # Pillow rotates counter-clockwise on screen (y down): x' = c dx + s dy, y' = -s dx + c dy
            dx, dy = px - cx, py - cy
            return [ncx + math.cos(a) * dx + math.sin(a) * dy, ncy - math.sin(a) * dx + math.cos(a) * dy]

        lines = []
        for t, (x0, y0, x1, y1) in zip(texts, boxes):
            lines.append({"text": t, "box": [turn(x0, y0), turn(x1, y0), turn(x1, y1), turn(x0, y1)]})
        ext = "jpg" if i % 3 == 2 else "png"
        name = "ocr_%02d.%s" % (i, ext)
        if ext == "jpg":
            rot.save(os.path.join(out, name), quality=88)
        else:
            rot.save(os.path.join(out, name))
        truth.append({"file": name, "font": os.path.basename(font_path), "size": size, "angle": round(ang, 2),
                      "lines": lines})
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump({"images": truth}, f, indent=1)


if __name__ == "__main__":
    main()
