#!/usr/bin/env python3
"""argv_sweep.py VERB DIR [OPTION...] - every option of VERB (or those given), before and after the model,
with each of a list of hostile values (empty, another option, overflowing
numbers, NaN, bad shapes, directories, invalid UTF-8, 5000 bytes...).
$NNEDGE is the binary, DIR the gen_cli.py output (its cli/ folder). Every
run must exit 0 with an empty stderr, or 2 with exactly one line (ASan's
refused-allocation warning aside). Quiet when all hold; otherwise prints the
failing command lines on stderr and exits 1."""
import os
import re
import subprocess
import sys

verb, D = sys.argv[1], os.path.join(sys.argv[2], "cli")
nnedge = os.environ["NNEDGE"]
model = {"info": "sym2_input.onnx", "run": "sym2_input.onnx", "bench": "sym2_input.onnx", "eval": "cls_sym.onnx"}
opts = {"info": ["--shape", "--json"], "run": ["-i", "-o", "--threads", "--json"],
        "bench": ["--shape", "-i", "--threads", "--runs", "--warmup", "--json"],
        "eval": ["--data", "--labels", "--scale", "--json"]}
vals = ["", "-", "--", "x", "x=", "=", "x=2x3", "x=0x0", "x=18446744073709551616", "x=1x", "x=x", "-1", "0", "1e99",
        "nan", "9999999999999999999", "x=%s/x2x3.npy" % D, "%s/x2x3.npy" % D, "%s/ev_x.npy" % D, "%s/ev_y.npy" % D,
        "/dev/null", "/", "\udcff", "a" * 5000, "x=" + "9x" * 11 + "9"]
warn = re.compile(r"^==\d+==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]+ bytes$")
m = os.path.join(D, model[verb])
workdir = os.environ.get("T") or "/tmp"
bad = 0
for o in sys.argv[3:] or opts[verb]:
    for v in vals:
        for before in (0, 1):
            args = [nnedge, verb] + ([o, v, m] if before else [m, o, v])
            if verb == "eval" and o not in ("--data", "--labels"):
                args += ["--data", "%s/ev_x.npy" % D, "--labels", "%s/ev_y.npy" % D]
            if verb == "run" and o != "-o":
                args += ["-o", workdir]
            args = [os.fsencode(a) for a in args]
            try:
                r = subprocess.run(args, capture_output=True, timeout=15, cwd=workdir, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                print("argv_sweep: timed out: %r" % args[1:], file=sys.stderr)
                bad += 1
                continue
            err = r.stderr.decode("utf-8", "replace")
            lines = [l for l in err.split("\n")[:-1] if not warn.match(l)]
            ok = (r.returncode == 0 and not lines) or (r.returncode == 2 and len(lines) == 1 and err.endswith("\n"))
            if not ok or re.search(r"runtime error:|ERROR: \w+Sanitizer", err):
                bad += 1
                print("argv_sweep: exit %d: %r\n%s" % (r.returncode, [a[:80] for a in args[1:]], err[:400]),
                      file=sys.stderr)
sys.exit(1 if bad else 0)
