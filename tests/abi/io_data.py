#!/usr/bin/python3
"""Inputs and the reference for tests/abi/consumer_io.c (tests/abi/install.sh).

  io_data.py gen DIR
      DIR/fNN.png: the first 8 Fashion-MNIST test images, 28x28 gray PNG;
      DIR/fNN.jpg: the same, 2x larger (nearest), grayscale JPEG quality 95;
      DIR/batch.npy: the model input numpy computes for all 16 files: pixels
      (the JPEGs decoded by Pillow, 2x2 means) / 255, then (x - 0.5) / 0.5;
      DIR/tone.wav: 1 s of a 1 kHz sine, 8 kHz 16-bit mono.
  io_data.py check DIR CONSUMER_OUTPUT RUN_DIR
      CONSUMER_OUTPUT (consumer_io's stdout) against RUN_DIR/logits.npy
      (`nnedge run` of the model on batch.npy): same top-1 and logits within
      2e-6 * max(1, max |logit|) per image (float rounding of the inputs); the audio line: 16000 +- 16 samples after resampling,
      2000 +- 4 sign changes, the frames nne_logmel_num_frames promises,
      loudest band peaking within 100 Hz of 1 kHz; the error line (consumer_io
      given tests/models/add_2x3.onnx as an image) names the file and says why.
"""
import gzip
import os
import sys
import wave

import numpy as np
from PIL import Image

DATA = "/usr/share/datasets/fashion-mnist"
N = 8


def images():
    with gzip.open(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        b = f.read()
    return np.frombuffer(b, np.uint8, offset=16).reshape(-1, 28, 28)[:N]


def files(d):
    return [os.path.join(d, "f%02d.png" % i) for i in range(N)] + [os.path.join(d, "f%02d.jpg" % i) for i in range(N)]


def gen(d):
    os.makedirs(d, exist_ok=True)
    x = images()
    rows = []
    for i in range(N):
        Image.fromarray(x[i], "L").save(os.path.join(d, "f%02d.png" % i))
        rows.append(x[i].astype(np.float32))
    for i in range(N):
        p = os.path.join(d, "f%02d.jpg" % i)
        Image.fromarray(x[i], "L").resize((56, 56), Image.NEAREST).save(p, quality=95)
        dec = np.asarray(Image.open(p), dtype=np.float64)
        if dec.shape != (56, 56):
            sys.exit("io_data: %s decodes as %s" % (p, dec.shape))
        rows.append(dec.reshape(28, 2, 28, 2).mean(axis=(1, 3)).astype(np.float32))
    batch = ((np.stack(rows) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)).astype(np.float32)
    np.save(os.path.join(d, "batch.npy"), batch[:, None])
    t = np.arange(8000) / 8000.0
    pcm = np.round(0.5 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype("<i2")
    with wave.open(os.path.join(d, "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm.tobytes())


def check(d, out_path, run_dir):
    lines = open(out_path).read().splitlines()
    ref = np.load(os.path.join(run_dir, "logits.npy")).astype(np.float64)
    names = files(d)
    fails = []
    if len(lines) != len(names) + 2:
        sys.exit("io_data: %d lines of output, expected %d" % (len(lines), len(names) + 2))
    worst = 0.0
    for i, (name, line) in enumerate(zip(names, lines)):
        f = line.split()
        if f[0] != name:
            fails.append("line %d is for %s, not %s" % (i + 1, f[0], name))
            continue
        got = np.array([float(v) for v in f[2:]])
        err = float(np.max(np.abs(got - ref[i]))) if got.shape == ref[i].shape else float("inf")
        # the two inputs differ only by float rounding (x * (1/255) vs x / 255)
        err /= max(1.0, float(np.max(np.abs(ref[i]))))
        worst = max(worst, err)
        if int(f[1]) != int(np.argmax(ref[i])) or err > 2e-6:
            fails.append("%s: top-1 %s, logits off by %.3g (relative); nnedge run on numpy's input: top-1 %d" %
                         (name, f[1], err, int(np.argmax(ref[i]))))
    a = lines[len(names)].split()
    if a[0] != "audio":
        fails.append("no audio line: %r" % lines[len(names)])
    else:
        n, zc, frames, hz = int(a[1]), int(a[2]), int(a[3]), float(a[4])
        if abs(n - 16000) > 16 or abs(zc - 2000) > 4 or frames != (n - 512) // 160 + 1 or abs(hz - 1000) > 100:
            fails.append("audio: %d samples, %d sign changes, %d frames, loudest band at %.0f Hz; expected 16000, "
                         "2000, %d, 1000" % (n, zc, frames, hz, (n - 512) // 160 + 1))
    e = lines[-1]
    if not e.startswith("error ") or "neither JPEG" not in e or "add_2x3.onnx" not in e:
        fails.append("bad-file error line: %r" % e)
    for f in fails:
        print("io_data: " + f, file=sys.stderr)
    if fails:
        sys.exit(1)
    print("io_data: %d images (PNG, JPEG + area resize) within %.2g (relative) of nnedge run on numpy's input; "
          "audio resampled 8 -> 16 kHz, log-mel peak %.0f Hz" % (len(names), worst, hz))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "check":
        check(*sys.argv[2:])
    else:
        sys.exit(__doc__)
