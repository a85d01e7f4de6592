#!/usr/bin/python3
"""Checks the image pipeline's kernels (src/pipeline/image.c, ocr.c) through
build*/image_tool against independent references:

  resize   numpy implementations of ONNX Resize's formulas (linear half_pixel
           and align_corners, nearest half_pixel + round_prefer_floor) and of
           area averaging; Pillow ('F' images) where its filters coincide
           (BILINEAR when enlarging, BOX at integer factors); the ONNX
           conformance tests of ../shared/onnx-tests whose mode coincides
  crop, rotate, to_tensor (normalize, layout, BGR), warp (rotated crop of a
           linear ramp: bilinear sampling reproduces it exactly), decode
           (PNG exactly vs Pillow; JPEG within libjpeg's IDCT differences)
  nms, ctc, db  numpy references / known geometry
All float results must be within 1e-4 of the reference.

    /usr/bin/python3 tests/app/check_kernels.py IMAGE_TOOL WORKDIR [ONNX_TESTS_DIR]
"""
import glob
import os
import subprocess
import sys

import numpy as np
from PIL import Image

TOL = 1e-4
fails = []
checks = 0


def tool(*args, ok=True):
    r = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise SystemExit("check_kernels: image_tool %s failed: %s" % (" ".join(map(str, args)), r.stderr.strip()))
    return r


def check(name, got, ref, tol=TOL):
    global checks
    checks += 1
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        fails.append("%s: shape %s, expected %s" % (name, got.shape, ref.shape))
        return
    err = float(np.max(np.abs(got - ref))) if got.size else 0.0
    if not err <= tol:
        fails.append("%s: max error %.3g > %.3g" % (name, err, tol))


# ---------------------------------------------------------------- resize refs

def taps_linear(n_in, n_out, align):
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        if align:
            x = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            x = (i + 0.5) / (n_out / n_in) - 0.5  # ONNX: (x_resized + 0.5) / scale - 0.5
        b = int(np.floor(x))
        r = x - b
        for idx, w in ((b, 1 - r), (b + 1, r)):  # ONNX clamps indices, not x
            m[i, min(max(idx, 0), n_in - 1)] += w
    return m


def taps_nearest(n_in, n_out):
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        x = (i + 0.5) / (n_out / n_in) - 0.5
        j = np.floor(x) if x == np.floor(x) + 0.5 else np.round(x)
        m[i, int(min(max(j, 0), n_in - 1))] = 1
    return m


def taps_area(n_in, n_out):
    m = np.zeros((n_out, n_in))
    f = n_in / n_out
    for i in range(n_out):
        a, b = i * f, (i + 1) * f
        for j in range(n_in):
            m[i, j] = max(0.0, min(b, j + 1) - max(a, j)) / f
    return m


def ref_resize(img, w, h, mode):
    H, W, _ = img.shape
    if mode == "bilinear":
        my, mx = taps_linear(H, h, False), taps_linear(W, w, False)
    elif mode == "align_corners":
        my, mx = taps_linear(H, h, True), taps_linear(W, w, True)
    elif mode == "nearest":
        my, mx = taps_nearest(H, h), taps_nearest(W, w)
    else:
        my, mx = taps_area(H, h), taps_area(W, w)
    return np.einsum("yi,ijc,xj->yxc", my, img.astype(np.float64), mx)


def npy(name, a):
    p = os.path.join(WORK, name)
    np.save(p, a)
    return p


def run_resize(img, w, h, mode, u8=False):
    src, dst = npy("in.npy", img), os.path.join(WORK, "out.npy")
    tool("resize", src, dst, w, h, mode, *(["u8"] if u8 else []))
    return np.load(dst)


def test_resize(rng):
    shapes = [(7, 5, 3, 13, 11), (16, 16, 1, 8, 8), (10, 30, 4, 7, 19), (9, 9, 3, 1, 1), (1, 12, 3, 5, 4),
              (32, 20, 3, 32, 20), (5, 6, 2, 40, 3), (64, 48, 3, 17, 29)]
    for H, W, C, h, w in shapes:
        img = rng.random((H, W, C)).astype(np.float32)
        for mode in ("bilinear", "align_corners", "nearest", "area"):
            check("resize %s %dx%dx%d->%dx%d" % (mode, W, H, C, w, h), run_resize(img, w, h, mode),
                  ref_resize(img, w, h, mode))
        # uint8 in and out: the float result rounded (ties may go either way by float error)
        img8 = (rng.random((H, W, C)) * 255).astype(np.uint8)
        got = run_resize(img8, w, h, "bilinear", u8=True)
        check("resize bilinear uint8 %dx%d->%dx%d" % (W, H, w, h), got, ref_resize(img8, w, h, "bilinear"), tol=0.5 + 1e-3)
    # Pillow where the filters coincide ('F' images, one channel)
    for H, W, h, w in [(6, 8, 15, 21), (11, 5, 33, 20), (3, 3, 10, 7)]:
        img = rng.random((H, W, 1)).astype(np.float32)
        pil = np.asarray(Image.fromarray(img[:, :, 0], "F").resize((w, h), Image.BILINEAR))
        check("resize bilinear vs Pillow BILINEAR %dx%d->%dx%d" % (W, H, w, h), run_resize(img, w, h, "bilinear")[:, :, 0], pil)
    for H, W, f in [(12, 18, 3), (16, 8, 2), (20, 20, 4)]:
        img = rng.random((H, W, 1)).astype(np.float32)
        pil = np.asarray(Image.fromarray(img[:, :, 0], "F").resize((W // f, H // f), Image.BOX))
        check("resize area vs Pillow BOX %dx%d /%d" % (W, H, f), run_resize(img, W // f, H // f, "area")[:, :, 0], pil)


def test_onnx_conformance(onnx_dir):
    """ONNX's own Resize test data, where the op's mode is one nne_image_resize implements."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        print("check_kernels: python3-onnx missing: ONNX conformance cases skipped")
        return 0
    used = 0
    for d in sorted(glob.glob(os.path.join(onnx_dir, "node", "test_resize_*"))):
        m = onnx.load(os.path.join(d, "model.onnx"))
        node = m.graph.node[0]
        at = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        at = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in at.items()}
        mode, ct = at.get("mode", "nearest"), at.get("coordinate_transformation_mode", "half_pixel")
        if at.get("antialias", 0) or at.get("axes") or at.get("keep_aspect_ratio_policy", "stretch") != "stretch":
            continue
        if mode == "linear" and ct in ("half_pixel", "align_corners"):
            ours = "bilinear" if ct == "half_pixel" else "align_corners"
        elif mode == "nearest" and ct == "half_pixel" and at.get("nearest_mode", "round_prefer_floor") == "round_prefer_floor":
            ours = "nearest"
        else:
            continue
        ds = sorted(glob.glob(os.path.join(d, "test_data_set_*")))[0]
        names = list(node.input)
        ins = {}
        for k, p in enumerate(sorted(glob.glob(os.path.join(ds, "input_*.pb")))):
            t = onnx.TensorProto()
            t.ParseFromString(open(p, "rb").read())
            ins[m.graph.input[k].name] = numpy_helper.to_array(t)
        t = onnx.TensorProto()
        t.ParseFromString(open(os.path.join(ds, "output_0.pb"), "rb").read())
        exp = numpy_helper.to_array(t)
        x = ins[names[0]]
        if x.ndim != 4:
            continue
        scales = ins.get(names[2]) if len(names) > 2 and names[2] else None
        if scales is not None and len(scales):
            # scales given: the mapping uses them; it coincides only when scale == out / in
            if not np.allclose(np.array(scales[2:], dtype=np.float64), np.array(exp.shape[2:]) / np.array(x.shape[2:])):
                continue
        h, w = exp.shape[2:]
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                got = run_resize(x[n, c][:, :, None].astype(np.float32), w, h, ours)[:, :, 0]
                check("ONNX %s (n%d c%d)" % (os.path.basename(d), n, c), got, exp[n, c])
        used += 1
    return used


def test_misc(rng):
    img = rng.random((9, 14, 3)).astype(np.float32)
    src, dst = npy("in.npy", img), os.path.join(WORK, "out.npy")
    tool("crop", src, dst, 3, 2, 6, 5)
    check("crop", np.load(dst), img[2:7, 3:9])
    r = tool("crop", src, dst, 10, 2, 6, 5, ok=False)
    check("crop outside -> exit 2", [r.returncode], [2], tol=0)
    for k in range(4):
        tool("rotate", src, dst, k)
        check("rotate90 k=%d" % k, np.load(dst), np.rot90(img, k))
    img8 = (rng.random((9, 14, 3)) * 255).astype(np.uint8)
    src8 = npy("in8.npy", img8)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    for layout in ("nchw", "nhwc"):
        for swap in (0, 1):
            tool("tensor", src8, dst, 1 / 255, "0.485:0.456:0.406", "0.229:0.224:0.225", layout, swap)
            x = img8.astype(np.float64)[:, :, ::-1] if swap else img8.astype(np.float64)
            ref = (x / 255 - mean) / std
            ref = ref.transpose(2, 0, 1)[None] if layout == "nchw" else ref[None]
            check("to_tensor %s swap_rb=%d" % (layout, swap), np.load(dst), ref)
    # right/bottom padding with zeros (PaddleOCR's recognizer input)
    tool("tensor", src8, dst, 1 / 255, "0.5", "0.5", "nchw", 1, 12, 20)
    ref = np.zeros((1, 3, 12, 20))
    ref[0, :, :9, :14] = ((img8.astype(np.float64)[:, :, ::-1] / 255 - 0.5) / 0.5).transpose(2, 0, 1)
    check("to_tensor padded", np.load(dst), ref)
    # warp: on a linear ramp f(x, y) = a x + b y + c bilinear sampling is exact, so
    # the crop must equal f at the mapped points (rotated rectangle inside the image)
    H, W = 60, 80
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    ramp = (0.7 * xx + 0.3 * yy + 2.0)[:, :, None].astype(np.float32)
    src = npy("ramp.npy", ramp)
    ang = np.radians(12)
    e, nrm = np.array([np.cos(ang), np.sin(ang)]), np.array([-np.sin(ang), np.cos(ang)])
    p0 = np.array([15.0, 12.0])
    cw, ch = 40, 16
    quad = [p0, p0 + cw * e, p0 + cw * e + ch * nrm, p0 + ch * nrm]
    tool("warp", src, dst, cw, ch, *[f"{v:.6f}" for q in quad for v in q])
    v, u = np.mgrid[0:ch, 0:cw].astype(np.float64)
    px, py = p0[0] + u * e[0] + v * nrm[0], p0[1] + u * e[1] + v * nrm[1]
    check("warp_quad rotated ramp", np.load(dst)[:, :, 0], 0.7 * px + 0.3 * py + 2.0, tol=2e-4)


def test_decode(rng):
    img = (rng.random((23, 37, 3)) * 255).astype(np.uint8)
    for mode, ch in (("RGB", 3), ("L", 1), ("RGBA", 4)):
        a = img if ch == 3 else (img[:, :, 0] if ch == 1 else np.dstack([img, img[:, :, :1]]))
        p = os.path.join(WORK, "dec.png")
        Image.fromarray(a, mode).save(p)
        dst = os.path.join(WORK, "out.npy")
        tool("decode", p, dst, 0)
        ref = a if ch != 1 else a[:, :, None]
        check("decode PNG %s" % mode, np.load(dst), ref, tol=0)
    p = os.path.join(WORK, "dec16.png")  # 16-bit gray: scaled to 8 bits
    Image.fromarray((img[:, :, 0].astype(np.uint16) * 257), "I;16").save(p)
    tool("decode", p, os.path.join(WORK, "out.npy"), 1)
    check("decode PNG 16-bit gray", np.load(os.path.join(WORK, "out.npy"))[:, :, 0], img[:, :, 0], tol=1)
    # the PNG fuzz seeds: every color type, bit depth, palette + tRNS, Adam7 interlacing
    for p in sorted(glob.glob("tests/fuzz/corpus/png/*.png")):
        im = Image.open(p)
        ref = np.asarray(im.convert("RGBA" if ("A" in im.mode or "transparency" in im.info) else
                                    ("L" if im.mode in ("L", "1") else "RGB")))
        if im.mode in ("I", "I;16"):  # 16-bit gray: v * 255 / 65535
            ref = np.asarray(im).astype(np.float64) / 257
        tool("decode", p, os.path.join(WORK, "out.npy"), 0)
        got = np.load(os.path.join(WORK, "out.npy"))
        check("decode %s (%s) vs Pillow" % (os.path.basename(p), im.mode), got, ref if ref.ndim == 3 else ref[:, :, None],
              tol=0.5 if im.mode in ("I", "I;16") else 0)
    p = os.path.join(WORK, "dec.jpg")
    smooth = np.clip(np.add.outer(np.arange(48) * 4, np.arange(64) * 3), 0, 255).astype(np.uint8)
    Image.fromarray(np.dstack([smooth, smooth[::-1], 255 - smooth]), "RGB").save(p, quality=95)
    tool("decode", p, os.path.join(WORK, "out.npy"), 3)
    pil = np.asarray(Image.open(p).convert("RGB"))
    # both use libjpeg(-turbo); allow for IDCT / upsampling method differences
    check("decode JPEG vs Pillow", np.load(os.path.join(WORK, "out.npy")), pil, tol=2)


def test_post(rng):
    # CTC: reference greedy decoder
    for T, C in ((40, 12), (1, 3), (80, 97)):
        s = rng.random((T, C)).astype(np.float32)
        s[rng.random(T) < 0.3, 0] = 2  # blanks
        for t in range(1, T):  # repeats, merged unless a blank separates them
            if rng.random() < 0.3:
                s[t] = s[t - 1]
        out = tool("ctc", npy("ctc.npy", s), 0).stdout.split()
        am = s.argmax(1)
        keep = [t for t in range(T) if am[t] != 0 and (t == 0 or am[t] != am[t - 1])]
        ref_score = float(np.mean(s.max(1)[keep])) if keep else 0.0
        check("ctc labels T=%d" % T, [int(v) for v in out[1:]], [int(am[t]) for t in keep], tol=0)
        check("ctc score T=%d" % T, [float(out[0])], [ref_score], tol=1e-5)
    # NMS: reference greedy suppression
    n = 60
    xy = rng.random((n, 2)) * 50
    wh = rng.random((n, 2)) * 20 + 2
    boxes = np.hstack([xy, xy + wh]).astype(np.float32)
    scores = rng.random(n).astype(np.float32)
    for iou_t, sc_t in ((0.5, 0.0), (0.3, 0.4), (0.0, 0.9)):
        got = [int(v) for v in tool("nms", npy("b.npy", boxes), npy("s.npy", scores), iou_t, sc_t).stdout.split()]
        order = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= sc_t]
        keep = []
        for i in order:
            ok = True
            for j in keep:
                x1, y1 = np.maximum(boxes[i, :2], boxes[j, :2])
                x2, y2 = np.minimum(boxes[i, 2:], boxes[j, 2:])
                inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
                a = lambda b: (b[2] - b[0]) * (b[3] - b[1])
                if inter / (a(boxes[i]) + a(boxes[j]) - inter) > iou_t:
                    ok = False
                    break
            if ok:
                keep.append(int(i))
        check("nms iou %.1f score %.1f" % (iou_t, sc_t), got, keep, tol=0)
    # DB: a rotated filled rectangle of known size on a blank map; the box
    # must be that rectangle grown by area * 1.5 / perimeter on every side
    H, W = 120, 200
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    ang = np.radians(8)
    cx, cy, hw, hh = 100.0, 60.0, 60.0, 10.0
    s = (xx - cx) * np.cos(ang) + (yy - cy) * np.sin(ang)
    t = -(xx - cx) * np.sin(ang) + (yy - cy) * np.cos(ang)
    prob = np.where((np.abs(s) <= hw) & (np.abs(t) <= hh), 0.9, 0.05).astype(np.float32)
    prob[5:9, 5:9] = 0.9   # a 4x4 blob: side 3..4 survives the size check but not unclip's 5? (4 + 2*1.5 = 7 -> kept)
    prob[110:112, 190:192] = 0.9  # 2x2: dropped (side < 3)
    lines = tool("db", npy("prob.npy", prob), 0.3, 0.6, 1.5).stdout.strip().splitlines()
    boxes_db = [list(map(float, l.split())) for l in lines]
    big = [b for b in boxes_db if abs(np.mean(b[1::2]) - cx) < 5]
    check("db: boxes found (rectangle + 4x4 blob, not the 2x2)", [len(boxes_db), len(big)], [2, 1], tol=0)
    if big:
        pts = np.array(big[0][1:]).reshape(4, 2)
        w_in, h_in = 2 * hw + 1, 2 * hh + 1  # pixel centers span 2*hw, plus the pixel extent
        side_w = np.linalg.norm(pts[1] - pts[0])
        side_h = np.linalg.norm(pts[3] - pts[0])
        # the hull is over pixel centers: sides 2*hw and 2*hh (within a pixel of rasterization)
        d = (2 * hw) * (2 * hh) * 1.5 / (2 * (2 * hw + 2 * hh))
        check("db: box width", [side_w], [2 * hw + 2 * d], tol=1.5)
        check("db: box height", [side_h], [2 * hh + 2 * d], tol=1.5)
        check("db: box angle", [np.degrees(np.arctan2(pts[1][1] - pts[0][1], pts[1][0] - pts[0][0]))], [8.0], tol=0.5)
        check("db: box center", np.mean(pts, 0), [cx, cy], tol=0.5)
        check("db: score", [big[0][0]], [0.9], tol=0.05)


def test_python(rng):
    """The Python binding (python/nnedge/image.py over libnnedge.so) against
    the same references; skipped when NNEDGE_LIBRARY is not set."""
    if not os.environ.get("NNEDGE_LIBRARY"):
        print("check_kernels: NNEDGE_LIBRARY not set: Python binding checks skipped")
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    from nnedge import image
    for H, W, C, h, w in [(7, 5, 3, 13, 11), (64, 48, 3, 17, 29), (16, 16, 1, 8, 8)]:
        img = rng.random((H, W, C)).astype(np.float32)
        for mode in ("bilinear", "align_corners", "nearest", "area"):
            check("python resize %s" % mode, image.resize(img, w, h, mode), ref_resize(img, w, h, mode))
    img8 = (rng.random((9, 14, 3)) * 255).astype(np.uint8)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    ref = ((img8.astype(np.float64)[:, :, ::-1] / 255 - mean) / std).transpose(2, 0, 1)[None]
    check("python to_tensor", image.to_tensor(img8, 1 / 255, mean, std, swap_rb=True), ref)
    check("python rotate90", image.rotate90(img8, 3), np.rot90(img8, 3), tol=0)
    for layout in ("nchw", "nhwc"):  # HWC -> CHW -> HWC round trip, exact for uint8
        t = image.to_tensor(img8, 1 / 255, layout=layout)
        check("python from_tensor %s" % layout, image.from_tensor(t, 255, 0, layout, np.uint8), img8, tol=0)
    t = rng.random((1, 3, 5, 7)).astype(np.float32)
    check("python from_tensor float", image.from_tensor(t, 2.0, 0.5), t[0].transpose(1, 2, 0) * 2 + 0.5)
    check("python crop", image.crop(img8, 2, 3, 5, 4), img8[3:7, 2:7], tol=0)
    s = np.eye(6, dtype=np.float32)[[1, 1, 0, 1, 4, 4, 5, 0, 0]]
    lab, sc = image.ctc_greedy_decode(s)
    check("python ctc", list(lab), [1, 1, 4, 5], tol=0)
    check("python nms", list(image.nms([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], [0.8, 0.9, 0.7], 0.5)),
          [1, 2], tol=0)
    p = np.zeros((60, 100), np.float32)
    p[20:35, 10:80] = 0.9
    boxes = image.ocr_db_boxes(p)
    check("python db boxes", [len(boxes)], [1], tol=0)
    try:
        image.resize(img8, 0, 4)
        fails.append("python resize to 0x4: no error")
    except image.NnedgeError as e:
        if "expected positive sizes" not in str(e):
            fails.append("python resize error message: %s" % e)


def main():
    global TOOL, WORK
    TOOL, WORK = sys.argv[1], sys.argv[2]
    onnx_dir = sys.argv[3] if len(sys.argv) > 3 else None
    os.makedirs(WORK, exist_ok=True)
    rng = np.random.default_rng(1206)
    test_resize(rng)
    used = test_onnx_conformance(onnx_dir) if onnx_dir and os.path.isdir(onnx_dir) else 0
    test_misc(rng)
    test_decode(rng)
    test_post(rng)
    test_python(rng)
    for f in fails:
        print("FAIL " + f)
    print("check_kernels: %d checks, %d failed (ONNX Resize conformance tests used: %d)" % (checks, len(fails), used))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
