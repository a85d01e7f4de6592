#!/usr/bin/python3
"""Dynamic batching of `nnedge serve` on a model where it pays: the wide MLP
of gen_wide_mlp.py (a batch of 16 costs a fraction of 16 single runs), max
batch 16, 2 slots.
  - concurrency 1: every request runs alone (batch size 1 each time, no
    queueing: a lone request never waits for a batch);
  - concurrency 16 (threads with their own kept-alive connections): the
    server joins requests (mean batch size > 1.5; 1 without joins), every answer is 200 and
    equal to the same input's answer at concurrency 1 (to a few float ulps:
    another batch size may block the GEMM differently);
  - every request counted in exactly one batch; clean exit.
Usage: test_batching.py WORKDIR"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Cases, Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def body(x):
    h = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                "parameters": {"binary_data_size": x.nbytes}}],
                    "parameters": {"binary_data_output": True}}).encode()
    return h + x.tobytes(), {"Inference-Header-Content-Length": str(len(h)), "Content-Type": "application/octet-stream"}


def logits(r):
    n = int(r.headers["Inference-Header-Content-Length"])
    return np.frombuffer(r.content[n:], np.float32)


def metrics(url):
    vals = {}
    for line in requests.get(url + "/metrics", timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            vals[k] = float(v)
    lab = '{model="wide",version="1"}'
    return {k: vals.get("nnedge_%s%s" % (k, lab), 0.0) for k in
            ("batch_size_sum", "batch_size_count", "request_success_total", "queue_duration_seconds_sum")}


def main(work):
    c = Cases("serve batching")
    repo = os.path.join(work, "repo-batching")
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(os.path.join(repo, "wide", "1"))
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_wide_mlp.py"),
                           os.path.join(repo, "wide", "1", "model.onnx")])
    with open(os.path.join(repo, "wide", "config.json"), "w") as f:
        json.dump({"max_batch_size": 16}, f)
    rng = np.random.default_rng(1)
    xs = [rng.random([1, 1, 28, 28], dtype=np.float32) for _ in range(16)]
    srv = Server(repo, "--threads", "2", "--batch-delay-us", "2000")
    U = srv.url + "/v2/models/wide/infer"
    try:
        s = requests.Session()
        single = []
        m0 = metrics(srv.url)
        for k in range(48):
            d, h = body(xs[k % 16])
            r = s.post(U, data=d, headers=h, timeout=60)
            if k < 16:
                single.append(logits(r) if r.status_code == 200 else None)
        m1 = metrics(srv.url)
        c.check("c=1 all answered", all(y is not None and y.size == 10 for y in single))
        n1 = m1["batch_size_count"] - m0["batch_size_count"]
        c.check("c=1 every request runs alone", n1 == 48 and m1["batch_size_sum"] - m0["batch_size_sum"] == 48, (n1, m1, m0))
        res = [None] * 16

        def client(i):
            ss = requests.Session()
            d, h = body(xs[i])
            codes, worst = [], 0.0
            for _ in range(40):
                r = ss.post(U, data=d, headers=h, timeout=120)
                codes.append(r.status_code)
                if r.status_code == 200:
                    y = logits(r)
                    worst = max(worst, float(np.abs(y - single[i]).max() / max(1.0, np.abs(single[i]).max())))
            res[i] = (codes, worst)
        ts = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        t0 = time.time()
        [t.start() for t in ts]
        [t.join() for t in ts]
        dt = time.time() - t0
        m2 = metrics(srv.url)
        nb = m2["batch_size_count"] - m1["batch_size_count"]
        rows = m2["batch_size_sum"] - m1["batch_size_sum"]
        print("c=16: %d requests in %.2f s, %d batches, mean batch %.2f" % (rows, dt, nb, rows / max(nb, 1)), flush=True)
        c.check("c=16 all 200", all(r and r[0] == [200] * 40 for r in res), [r[0] for r in res if r and r[0] != [200] * 40][:3])
        c.check("c=16 joined answers equal single runs", all(r and r[1] <= 1e-5 for r in res), [r[1] for r in res if r])
        c.check("c=16 batches form (mean batch size > 1.5)", nb > 0 and rows / nb > 1.5, (rows, nb))
        c.check("every request in exactly one batch", m2["batch_size_sum"] == m2["request_success_total"], m2)
    finally:
        problems = srv.stop()
    c.check("clean exit", not problems, problems)
    return c.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/serve-test"))
