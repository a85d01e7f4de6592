#!/usr/bin/python3
"""Load/unload cycles: CYCLES times unload and load a model through the
repository API, with inferences at two batch sizes in between (plans and
contexts made each time). Resident memory after the last cycle may exceed
that after cycle 10 by at most MAX_MB (default 2). Under ASan (RSS checks
off with --no-rss) the server's exit then reports any leak.
Usage: test_cycles.py WORKDIR [CYCLES] [--no-rss]"""
import os
import shutil
import sys

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Cases, Server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(work, cycles, rss):
    c = Cases("serve load/unload cycles")
    repo = os.path.join(work, "repo-cycles")
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(os.path.join(repo, "fashion", "1"))
    shutil.copy(os.path.join(ROOT, "models", "fashion_cnn.onnx"), os.path.join(repo, "fashion", "1", "model.onnx"))
    srv = Server(repo, "--threads", "2")
    s = requests.Session()
    x1 = np.random.default_rng(0).random([1, 1, 28, 28], dtype=np.float32).ravel().tolist()
    bodies = [{"inputs": [{"name": "input", "shape": [n, 1, 28, 28], "datatype": "FP32", "data": x1 * n}]} for n in (1, 3)]
    fails = []
    rss10 = None
    try:
        for i in range(cycles):
            for b in bodies:
                r = s.post(srv.url + "/v2/models/fashion/infer", json=b)
                if r.status_code != 200:
                    fails.append(("infer", i, r.status_code, r.text[:200]))
            r = s.post(srv.url + "/v2/repository/models/fashion/unload")
            if r.status_code != 200:
                fails.append(("unload", i, r.status_code))
            r = s.post(srv.url + "/v2/repository/models/fashion/load")
            if r.status_code != 200:
                fails.append(("load", i, r.status_code, r.text[:200]))
            if i == 9:
                rss10 = srv.rss_kb()
        rss_end = srv.rss_kb()
        c.check("cycles all 200", not fails, fails[:5])
        print("load/unload: %d cycles; RSS after cycle 10: %d kB, after cycle %d: %d kB (growth %+d kB)" %
              (cycles, rss10 or -1, cycles, rss_end, rss_end - (rss10 or 0)), flush=True)
        if rss:
            c.check("RSS growth after cycle 10 <= 2 MB", rss10 and rss_end - rss10 <= 2048, (rss10, rss_end))
        met = s.get(srv.url + "/metrics").text
        mem = [l for l in met.splitlines() if l.startswith('nnedge_model_memory_bytes{model="fashion"')]
        c.check("model memory metric > 0 while loaded", mem and float(mem[0].split()[-1]) > 0, mem)
        s.post(srv.url + "/v2/repository/models/fashion/unload")
        met = s.get(srv.url + "/metrics").text
        mem = [l for l in met.splitlines() if l.startswith('nnedge_model_memory_bytes{model="fashion"')]
        c.check("model memory metric 0 after unload", mem and float(mem[0].split()[-1]) == 0, mem)
    finally:
        problems = srv.stop()
    c.check("clean exit (no leak report under ASan)", not problems, problems)
    return c.done()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sys.exit(main(args[0] if args else "/tmp/serve-test", int(args[1]) if len(args) > 1 else 500,
                  "--no-rss" not in sys.argv))
