"""Model repositories with packages and TFLite files: DIR/<model>/<version>/
model.nne (signed, and encrypted for this device) and model.tflite are
served like model.onnx, and give the same outputs as `nnedge run` on the
.onnx they were made from; with --trust, an unsigned model.onnx, a package
signed by another key and a package encrypted for another device are
refused (the model is not ready, with the reason), while the good ones
serve. Usage: test_packages.py WORKDIR"""
import json
import os
import shutil
import sys
import urllib.error
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import NNEDGE, Cases, Server, run  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def get(url, post=False):
    try:
        req = urllib.request.Request(url, data=b"{}" if post else None,
                                     headers={"Content-Type": "application/json"} if post else {})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def infer(url, name, x):
    body = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                   "data": x.ravel().tolist()}]}).encode()
    req = urllib.request.Request(url + "/v2/models/%s/infer" % name, data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    work = os.path.abspath(os.path.join(sys.argv[1], "packages"))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    c = Cases("serve packages")
    k = os.path.join(work, "keys")
    os.makedirs(k)
    onnx = os.path.join(ROOT, "models", "fashion_cnn.onnx")
    steps = [[NNEDGE, "keygen", "-o", k + "/root"], [NNEDGE, "keygen", "-o", k + "/rel", "--certify", k + "/root.sec"],
             [NNEDGE, "keygen", "-o", k + "/evil"], [NNEDGE, "keygen", "-o", k + "/dev", "--device"],
             [NNEDGE, "keygen", "-o", k + "/dev2", "--device"]]
    for s in steps:
        r = run(s)
        if not c.check("keygen " + s[3], r.returncode == 0, r.stderr):
            return c.done()
    # the inputs and what `nnedge run` gives on the .onnx
    rng = np.random.default_rng(5)
    x = rng.random((1, 1, 28, 28), dtype=np.float32)
    np.save(os.path.join(work, "x.npy"), x)
    r = run([NNEDGE, "info", onnx, "--json"])
    inp = json.loads(r.stdout)["inputs"][0]["name"]
    out_dir = os.path.join(work, "ref")
    r = run([NNEDGE, "run", onnx, "-i", "%s=%s" % (inp, os.path.join(work, "x.npy")), "-o", out_dir])
    c.check("run reference", r.returncode == 0, r.stderr)
    ref = {f[:-4]: np.load(os.path.join(out_dir, f)) for f in os.listdir(out_dir)}

    repo = os.path.join(work, "repo")

    def put(model, ver, src, fname):
        d = os.path.join(repo, model, str(ver))
        os.makedirs(d, exist_ok=True)
        shutil.copy(src, os.path.join(d, fname))

    def pack(out, *args):
        r = run([NNEDGE, "pack", onnx, "-o", out, "--name", "fashion", "--version", "1.0.0", *args])
        c.check("pack " + os.path.basename(out), r.returncode == 0, r.stderr)
        return out

    signed = pack(os.path.join(work, "signed.nne"), "--sign", k + "/rel.sec")
    enc = pack(os.path.join(work, "enc.nne"), "--sign", k + "/rel.sec", "--encrypt-for", k + "/dev.pub")
    enc2 = pack(os.path.join(work, "enc2.nne"), "--sign", k + "/rel.sec", "--encrypt-for", k + "/dev2.pub")
    evil = pack(os.path.join(work, "evil.nne"), "--sign", k + "/evil.sec")
    put("signed", 1, signed, "model.nne")
    put("enc", 1, enc, "model.nne")
    put("enc_other", 1, enc2, "model.nne")
    put("evil", 1, evil, "model.nne")
    put("plain", 1, onnx, "model.onnx")

    def same_as_ref(name, res):
        st, body = res
        if st != 200:
            return False, "status %d %s" % (st, body)
        for o in body.get("outputs", []):
            want = ref.get(o["name"].replace("/", "_").replace(":", "_"))
            got = np.array(o["data"], dtype=np.float32).reshape(o["shape"])
            if want is None or want.shape != got.shape or not np.array_equal(want, got):
                return False, "output %s differs" % o["name"]
        return bool(body.get("outputs")), body

    # 1. with --trust and --key: good packages serve, the others are refused
    s = Server(repo, "--trust", k + "/root.pub", "--key", k + "/dev.sec")
    try:
        for name in ("signed", "enc"):
            st, body = get(s.url + "/v2/models/%s/ready" % name)
            c.check("%s ready" % name, st == 200, body)
            ok, detail = same_as_ref(name, infer(s.url, name, x))
            c.check("%s infer equals nnedge run on the .onnx" % name, ok, detail)
        st, idx = get(s.url + "/v2/repository/index", post=True)
        by = {m["name"]: m for m in (idx if isinstance(idx, list) else [])}
        for name, why in (("evil", "not by the trusted key"), ("enc_other", "device"), ("plain", "not a .nne package")):
            st, _ = get(s.url + "/v2/models/%s/ready" % name)
            c.check("%s refused under --trust" % name, st != 200, st)
            reason = by.get(name, {}).get("reason", "")
            c.check("%s: the index gives the reason" % name,
                    by.get(name, {}).get("state") != "READY" and why in reason, by.get(name))
            st, _ = infer(s.url, name, x)
            c.check("%s infer refused" % name, st != 200, st)
    finally:
        for p in s.stop():
            c.check("server stops cleanly (--trust)", False, p)

    # 2. without --trust: a plain .onnx and a .tflite twin serve; a package
    # still needs its key to decrypt
    shutil.rmtree(repo)
    put("plain", 1, onnx, "model.onnx")
    put("signed", 1, signed, "model.nne")
    put("enc", 1, enc, "model.nne")
    s = Server(repo)
    try:
        ok, detail = same_as_ref("plain", infer(s.url, "plain", x))
        c.check("plain .onnx serves without --trust", ok, detail)
        ok, detail = same_as_ref("signed", infer(s.url, "signed", x))
        c.check("signed .nne serves without --trust (integrity checked)", ok, detail)
        st, _ = get(s.url + "/v2/models/enc/ready")
        c.check("encrypted .nne without --key is not ready", st != 200, st)
    finally:
        for p in s.stop():
            c.check("server stops cleanly", False, p)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
