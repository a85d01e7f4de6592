#!/usr/bin/env python3
"""A sample of the tamper test through the command line: random single-byte
flips, truncations and appended tails of a signed package, each given to
`nnedge verify --trust` and `nnedge run --trust`; every one must exit 2 with
exactly one line on stderr (and no sanitizer report). The bulk (10^4 flips,
10^3 truncations, 10^3 tails) runs in process (tamper.c, same checks).
Usage: cli_tamper.py NNEDGE PKG TRUST.pub INPUT_NAME=X.npy WORKDIR COUNT
       (COUNT: a total split 2:1:1 into flips, truncations and tails, or
       FLIPS,TRUNCATIONS,TAILS; make test-pkg-tamper-cli runs 10000,1000,1000)"""
import os, random, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

nnedge, pkg, trust, inp, work, count = sys.argv[1:7]
if "," in count:
    n_flip, n_trunc, n_tail = (int(c) for c in count.split(","))
else:
    n_flip, n_trunc, n_tail = int(count) // 2, int(count) // 4, int(count) - int(count) // 2 - int(count) // 4
data = open(pkg, "rb").read()
rng = random.Random(7)
os.makedirs(work, exist_ok=True)
cases = []
for kind in [0] * n_flip + [2] * n_trunc + [3] * n_tail:
    if kind <= 1:
        off = rng.randrange(len(data))
        b = bytearray(data)
        b[off] ^= rng.randrange(1, 256)
        cases.append(("flip@%d" % off, bytes(b)))
    elif kind == 2:
        n = rng.randrange(len(data))
        cases.append(("trunc@%d" % n, data[:n]))
    else:
        n = rng.choice([1, 100, 4096, 8192, rng.randrange(1, 70000)])
        cases.append(("tail+%d" % n, data + bytes(rng.randrange(256) for _ in range(n))))

def check(i):
    name, blob = cases[i]
    path = os.path.join(work, "t%d.nne" % i)
    open(path, "wb").write(blob)
    fails = []
    for argv in ([nnedge, "verify", path, "--trust", trust],
                 [nnedge, "run", path, "--trust", trust, "-i", inp, "-o", os.path.join(work, "o%d" % i)]):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        lines = p.stderr.splitlines()
        if p.returncode != 2 or len(lines) != 1 or "nnedge:" not in lines[0]:
            fails.append("%s %s: exit %d, stderr %r" % (argv[1], name, p.returncode, p.stderr[:300]))
    os.unlink(path)
    return fails

with ThreadPoolExecutor(max_workers=2) as ex:
    results = list(ex.map(check, range(len(cases))))
bad = [f for r in results for f in r]
for f in bad[:10]:
    print("FAIL:", f)
print("cli_tamper: %d/%d mutated packages (%d flips, %d truncations, %d tails) refused by verify and run --trust "
      "with exit 2 and one line" % (len(cases) - sum(1 for r in results if r), len(cases), n_flip, n_trunc, n_tail))
sys.exit(1 if bad else 0)
