#!/usr/bin/env python3
"""kill -9 at random points while `nnedge install` puts v2 over v1: after each
kill the store must hold a package that verifies (trusted signature, every
segment digest, golden check), v1 or v2, never neither and never a mix; and
the next install must work (leftovers of the killed one cleaned up).
Usage: NNEDGE=build/nnedge OUT=dir crash.py POINTS"""
import json, os, random, shutil, signal, subprocess, sys, time

N = os.environ.get("NNEDGE", "build/nnedge")
O = os.environ.get("OUT", "build/pkg-crash")
points = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
here = os.path.dirname(os.path.abspath(__file__))
M, X = os.path.join(here, "small_mlp.onnx"), os.path.join(here, "small_mlp_x.npy")
shutil.rmtree(O, ignore_errors=True)
os.makedirs(O)

def sh(*argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("crash: %s failed: %s" % (" ".join(argv), p.stderr))
    return p.stdout

sh(N, "keygen", "-o", O + "/root")
for v in ("1.0.0", "2.0.0"):
    sh(N, "pack", M, "-o", "%s/v%s.nne" % (O, v[0]), "--version", v, "--golden", "x=" + X, "--sign", O + "/root.sec")
tmpl = O + "/template"
sh(N, "install", O + "/v1.nne", "--store", tmpl, "--trust", O + "/root.pub")
install = [N, "install", O + "/v2.nne", "--store", O + "/store", "--trust", O + "/root.pub"]

# how long a whole install takes (process start included): kills land in [0, 1.1 * that]
durs = []
for _ in range(5):
    shutil.rmtree(O + "/store", ignore_errors=True)
    shutil.copytree(tmpl, O + "/store")
    t = time.monotonic()
    subprocess.run(install, capture_output=True)
    durs.append(time.monotonic() - t)
span = sorted(durs)[2] * 1.1
rng = random.Random(11)
seen = {"1.0.0": 0, "2.0.0": 0}
bad = 0
for k in range(points):
    store = O + "/store"
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(tmpl, store)
    p = subprocess.Popen(install, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0, span))
    try:
        p.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()
    cur = store + "/current.nne"
    r = subprocess.run([N, "verify", cur, "--trust", O + "/root.pub", "--json"], capture_output=True, text=True)
    try:
        d = json.loads(r.stdout)
    except ValueError:
        d = {"ok": False}
    if r.returncode != 0 or not d.get("ok") or d.get("version") not in seen:
        bad += 1
        print("crash: point %d: the store holds no valid package: %s %s" % (k, r.stdout.strip(), r.stderr.strip()))
        continue
    seen[d["version"]] += 1
    if k % 10 == 0:
        # the store recovers: installing v2 again works (or is already there)
        r = subprocess.run(install, capture_output=True, text=True)
        if r.returncode != 0 and "rollback refused" not in r.stderr:
            bad += 1
            print("crash: point %d: the next install failed: %s" % (k, r.stderr.strip()))
print("crash: %d kill -9 points over %.1f ms installs: store held v1 %d times, v2 %d times, invalid %d times"
      % (points, span * 1000, seen["1.0.0"], seen["2.0.0"], bad))
sys.exit(1 if bad else 0)
