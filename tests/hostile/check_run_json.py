#!/usr/bin/env python3
"""check_run_json.py OUTDIR N < run.json - checks `nnedge run --json` output
for gen_cli.py's names.onnx: valid JSON, N outputs, every file distinct,
inside OUTDIR, existing, and holding x * (k + 1) for output k (so no output
overwrote another). Exit 0 when all hold; prints the first problem otherwise."""
import json
import os
import struct
import sys

outdir, n = sys.argv[1], int(sys.argv[2])
d = json.load(sys.stdin)
outs = d["outputs"]


def fail(msg):
    print("check_run_json: " + msg)
    sys.exit(1)


if len(outs) != n:
    fail("%d outputs listed, expected %d" % (len(outs), n))
files = [o["file"] for o in outs]
if len(set(files)) != n or len(set(f.lower() for f in files)) != n:
    fail("file names collide: %r" % files)
x = [1.0, 2.0]
for k, o in enumerate(outs):
    f = o["file"]
    if os.path.dirname(os.path.abspath(f)) != os.path.abspath(outdir):
        fail("%r is not directly in %s" % (f, outdir))
    if len(os.path.basename(f).encode()) > 255:
        fail("%r is longer than a file name may be" % f)
    with open(f, "rb") as fh:
        data = fh.read()
    vals = struct.unpack("<2f", data[-8:])
    want = tuple(v * (k + 1) for v in x)
    if vals != want:
        fail("output %r: file %r holds %r, expected %r" % (o["name"], f, vals, want))
