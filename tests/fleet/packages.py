"""Keys, packages and check data of the fleet tests and the demo (made at
test time with the nnedge command, python3-onnx and numpy):

- keys: a root (the nodes' --trust), a release key certified by it, and an
  unrelated root with its own release key (an attacker's: "wrongly signed");
- fashion packages of models/fashion_cnn.onnx at given versions, signed by
  the release key, with a golden check (the package's own: its first test
  image, outputs computed by pack);
- a "bad" model: fashion_cnn with every weight tensor shuffled (same graph,
  same sizes, runs fine, passes its own golden check, since pack computes the
  golden outputs from it; top-1 on Fashion-MNIST about 10%);
- check data: the first N Fashion-MNIST test images (Debian's
  dataset-fashion-mnist), float32 pixels/255, and their labels (int64).
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from fashion_npy import DATA_DIR, load_idx  # noqa: E402

MODEL = os.path.join(ROOT, "models", "fashion_cnn.onnx")


def _run(argv):
    r = subprocess.run(argv, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                 (r.stdout + r.stderr).decode(errors="replace")[-2000:]))
    return r.stdout.decode(errors="replace")


class Packages:
    def __init__(self, nnedge, workdir, n_check=1000):
        self.nnedge = nnedge
        self.dir = os.path.join(workdir, "pkg")
        os.makedirs(self.dir, exist_ok=True)
        k = self.keys = os.path.join(self.dir, "keys")
        os.makedirs(k, exist_ok=True)
        _run([nnedge, "keygen", "-o", k + "/root"])
        _run([nnedge, "keygen", "-o", k + "/rel", "--certify", k + "/root.sec", "--expires", "30d"])
        _run([nnedge, "keygen", "-o", k + "/evil"])
        _run([nnedge, "keygen", "-o", k + "/evilrel", "--certify", k + "/evil.sec", "--expires", "30d"])
        self.trust = k + "/root.pub"
        te = load_idx(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz")).reshape(-1, 1, 28, 28)
        ty = load_idx(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
        self.check_x = os.path.join(self.dir, "check_x.npy")
        self.check_y = os.path.join(self.dir, "check_y.npy")
        np.save(self.check_x, np.ascontiguousarray(te[:n_check].astype(np.float32) / np.float32(255)))
        np.save(self.check_y, ty[:n_check])
        self.golden = os.path.join(self.dir, "golden_x.npy")
        np.save(self.golden, np.ascontiguousarray(te[n_check:n_check + 1].astype(np.float32) / np.float32(255)))

    def bad_model(self, seed=5):
        """fashion_cnn with its weights shuffled (each tensor in itself)."""
        import onnx
        from onnx import numpy_helper
        out = os.path.join(self.dir, "fashion_bad_%d.onnx" % seed)
        m = onnx.load(MODEL)
        rng = np.random.default_rng(seed)
        for t in m.graph.initializer:
            a = numpy_helper.to_array(t)
            if a.dtype == np.float32 and a.size > 1:
                b = a.flatten()
                rng.shuffle(b)
                t.CopyFrom(numpy_helper.from_array(b.reshape(a.shape), t.name))
        onnx.save(m, out)
        return out

    def pack(self, version, model=MODEL, sign="rel", name="fashion", tag=""):
        """fashion-<version><tag>.nne signed by keys/<sign>.sec (None: unsigned)."""
        out = os.path.join(self.dir, "%s-%s%s.nne" % (name, version, tag))
        argv = [self.nnedge, "pack", model, "-o", out, "--name", name, "--version", version,
                "--golden", "input=" + self.golden]
        if sign:
            argv += ["--sign", os.path.join(self.keys, sign + ".sec")]
        _run(argv)
        return out

    def top1(self, model):
        """nnedge eval's top-1 of a model or package on the check data."""
        import json
        argv = [self.nnedge, "eval", model, "--data", self.check_x, "--labels", self.check_y, "--json"]
        if model.endswith(".nne"):
            argv += ["--trust", self.trust]
        return json.loads(_run(argv))["top1"]
