#!/usr/bin/python3
"""Hot swap under load: CONC clients send N requests to model "add" while a
new version replaces the served one midway, first through the repository
API (explicit mode: version 2 appears, then /load), then in poll mode
(version 3 renamed into place, --poll-s 1). Every response must be 200 and
its outputs must be those of the version it names; the last responses come
from the new version. Prints steady and during-swap p50/p99.
Usage: test_swap.py WORKDIR [N] [CONC] [--strict-p99]"""
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


def load_phase(c, srv, repo, n, conc, mode, strict):
    U = srv.url
    a = [1.0, 2.0, 3.0, 4.0]
    b = [0.5, -1.0, 2.0, 0.25]
    body = json.dumps({"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP32", "data": a},
                                  {"name": "b", "shape": [1, 4], "datatype": "FP32", "data": b}]})
    base = [x + y for x, y in zip(a, b)]
    results = []  # (t_start, latency, status, version, ok)
    lock = threading.Lock()
    counter = [0]
    swap = {}
    old_v = None

    def client():
        s = requests.Session()
        local = []
        while True:
            with lock:
                if counter[0] >= n:
                    break
                counter[0] += 1
            t0 = time.time()
            try:
                r = s.post(U + "/v2/models/add/infer", data=body, timeout=60)
                st = r.status_code
                ver, ok = None, False
                if st == 200:
                    j = r.json()
                    ver = int(j["model_version"])
                    got = {o["name"]: o["data"] for o in j["outputs"]}["sum"]
                    ok = got == [x + (ver - 1) for x in base]
            except requests.RequestException as e:
                st, ver, ok = "exc %s" % e, None, False
            local.append((t0, time.time() - t0, st, ver, ok))
        with lock:
            results.extend(local)

    def swapper(new_v):
        while counter[0] < n // 2:
            time.sleep(0.001)
        src = os.path.join(repo, "add", "stage")
        dst = os.path.join(repo, "add", str(new_v))
        swap["t0"] = time.time()
        os.rename(src, dst)  # appears atomically
        if mode == "explicit":
            r = requests.post(U + "/v2/repository/models/add/load", timeout=60)
            swap["load_status"] = r.status_code
        else:
            while True:  # the poller takes over within --poll-s
                r = requests.get(U + "/v2/models/add", timeout=60)
                if r.json().get("versions") == [str(new_v)] or time.time() - swap["t0"] > 30:
                    break
                time.sleep(0.01)
            swap["load_status"] = 200 if r.json().get("versions") == [str(new_v)] else r.text
        swap["t1"] = time.time()

    new_v = 2 if mode == "explicit" else 3
    ts = [threading.Thread(target=client) for _ in range(conc)]
    sw = threading.Thread(target=swapper, args=(new_v,))
    t_begin = time.time()
    [t.start() for t in ts]
    sw.start()
    [t.join() for t in ts]
    sw.join()
    wall = time.time() - t_begin
    codes = {}
    for r in results:
        codes[r[2]] = codes.get(r[2], 0) + 1
    c.check("%s: %d requests" % (mode, n), len(results) == n, len(results))
    c.check("%s: all 200" % mode, codes == {200: n}, codes)
    c.check("%s: outputs match their version" % mode, all(r[4] for r in results if r[2] == 200),
            [r for r in results if not r[4]][:3])
    c.check("%s: swap load ok" % mode, swap.get("load_status") == 200, swap)
    late = [r for r in results if r[0] > swap.get("t1", 1e99) + 0.05]
    c.check("%s: requests after the swap on the new version" % mode, all(r[3] == new_v for r in late),
            sorted(set(r[3] for r in late)))
    # the swap may end after the last client request (poll mode waits for a scan): ask again now
    after = [requests.post(U + "/v2/models/add/infer", data=body, timeout=60) for _ in range(10)]
    c.check("%s: new version serves after the swap" % mode,
            all(r.status_code == 200 and r.json()["model_version"] == str(new_v) for r in after),
            [(r.status_code, r.text[:100]) for r in after])
    c.check("%s: old version served before" % mode, any(r[3] != new_v for r in results))
    steady = np.array([r[1] for r in results if r[0] + r[1] < swap["t0"]])
    during = np.array([r[1] for r in results if r[0] <= swap["t1"] + 0.01 and r[0] + r[1] >= swap["t0"]])
    sp = np.percentile(steady, [50, 99]) * 1000 if steady.size else [0, 0]
    dp = np.percentile(during, [50, 99]) * 1000 if during.size else [0, 0]
    print("%s swap: %d requests at concurrency %d in %.2f s (%.0f req/s); swap took %.1f ms; "
          "steady p50 %.2f ms p99 %.2f ms (%d); during swap p50 %.2f ms p99 %.2f ms (%d)" %
          (mode, n, conc, wall, n / wall, (swap["t1"] - swap["t0"]) * 1000, sp[0], sp[1], steady.size,
           dp[0], dp[1], during.size), flush=True)
    if strict:
        c.check("%s: p99 during swap <= 2x steady p99" % mode, dp[1] <= 2 * sp[1], (dp[1], sp[1]))


def main(work, n, conc, strict):
    c = Cases("serve hot swap")
    repo = os.path.join(work, "repo-swap")
    shutil.rmtree(repo, ignore_errors=True)
    gen = os.path.join(work, "repo-swap-gen")
    shutil.rmtree(gen, ignore_errors=True)
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_models.py"), gen])
    os.makedirs(os.path.join(repo, "add"))
    shutil.copytree(os.path.join(gen, "add", "1"), os.path.join(repo, "add", "1"))
    shutil.copytree(os.path.join(gen, "add", "2"), os.path.join(repo, "add", "stage"))
    srv = Server(repo, "--threads", "2")
    try:
        load_phase(c, srv, repo, n, conc, "explicit", strict)
    finally:
        problems = srv.stop()
    c.check("explicit: clean exit", not problems, problems)
    # poll mode: version 3 (computes like version 2 plus 1 more) renamed into place
    shutil.rmtree(os.path.join(repo, "add", "1"))
    subprocess.check_call(["/usr/bin/python3", "-c", """
import onnx, sys
from onnx import numpy_helper
import numpy as np
m = onnx.load(sys.argv[1])
for i, t in enumerate(m.graph.initializer):
    if t.name == "one":
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array([2.0], np.float32), "one"))
onnx.save(m, sys.argv[2])
""", os.path.join(gen, "add", "2", "model.onnx"), os.path.join(gen, "v3.onnx")])
    os.makedirs(os.path.join(repo, "add", "stage"))
    shutil.copy(os.path.join(gen, "v3.onnx"), os.path.join(repo, "add", "stage", "model.onnx"))
    srv = Server(repo, "--threads", "2", "--poll-s", "1")
    try:
        load_phase(c, srv, repo, n, conc, "poll", strict)
    finally:
        problems = srv.stop()
    c.check("poll: clean exit", not problems, problems)
    return c.done()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sys.exit(main(args[0] if args else "/tmp/serve-test", int(args[1]) if len(args) > 1 else 3000,
                  int(args[2]) if len(args) > 2 else 32, "--strict-p99" in sys.argv))
