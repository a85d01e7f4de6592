#!/usr/bin/python3
"""Failover through HAProxy (conf/haproxy/haproxy.cfg): 3 `nnedge serve`
nodes behind HAProxy, wrk sends N inference requests at concurrency CONC
(tests/fleet/infer.lua: every response must be 200 and byte-identical to
the answer a node gives directly). When a third of them are answered, one
node gets SIGKILL. Measured:
  - client errors (wrk's connect/read/write/timeout errors, non-200
    statuses, wrong bodies): must be 0;
  - the time from the kill until HAProxy marks the node down (`show servers
    state` on the admin socket, polled every 50 ms): must be <= 1.5 s;
  - then the node is started again on its port: the time until HAProxy
    marks it up (rise 2), and the requests it serves afterwards;
  - HAProxy's retries and redispatches (the requests the kill hit).
Usage: test_failover.py WORKDIR [N] [CONC]   (NNEDGE=build/nnedge)"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleetlib import ROOT, Cases, Fleet  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(ROOT, "models", "fashion_cnn.onnx")
DOWN_LIMIT_S = 1.5


def make_body(path):
    x = np.random.default_rng(13).random([1, 1, 28, 28], dtype=np.float32)
    h = json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                "parameters": {"binary_data_size": x.nbytes}}],
                    "parameters": {"binary_data_output": True}}).encode()
    with open(path, "wb") as f:
        f.write(h + x.tobytes())
    return len(h)


def post(url, body, hl):
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/octet-stream",
                                          "Inference-Header-Content-Length": str(hl)})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def wait_states(f, want, timeout):
    """Polls `show servers state` every 50 ms until want(states) holds;
    returns (time it held, states) or (None, states)."""
    deadline = time.time() + timeout
    while True:
        st = f.server_states()
        t = time.time()
        if want(st):
            return t, st
        if t > deadline:
            return None, st
        time.sleep(0.05)


def main():
    workdir = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    conc = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    c = Cases("fleet failover")
    f = Fleet(workdir)
    servers = {}
    for i in (1, 2, 3):
        name = "node%d" % i
        repo = os.path.join(f.dir, "repo-" + name)
        os.makedirs(os.path.join(repo, "fashion", "1"))
        os.symlink(MODEL, os.path.join(repo, "fashion", "1", "model.onnx"))
        # No batching: every answer is bit-identical to a lone run's.
        with open(os.path.join(repo, "fashion", "config.json"), "w") as fh:
            fh.write('{"max_batch_size": 0}\n')
        servers[name] = f.serve(name, repo, args=["--threads", "1"])
    f.haproxy({k: s.port for k, s in servers.items()})
    t, st = wait_states(f, lambda s: all(v["op"] == 2 for v in s.values()), 15)
    if not c.check("HAProxy marks the 3 nodes up", t is not None, st):
        return c.done()

    body_path = os.path.join(f.dir, "body.bin")
    hl = make_body(body_path)
    body = open(body_path, "rb").read()
    answers = {k: post(s.url + "/v2/models/fashion/infer", body, hl) for k, s in servers.items()}
    expect = answers["node1"][1]
    c.check("the 3 nodes give the same answer", all(a == (200, expect) for a in answers.values()),
            {k: (a[0], len(a[1])) for k, a in answers.items()})
    c.check("HAProxy passes it through", post(f.haproxy_url + "/v2/models/fashion/infer", body, hl) == (200, expect))
    expect_path = os.path.join(f.dir, "expect.bin")
    with open(expect_path, "wb") as fh:
        fh.write(expect)

    threads = 2
    done_dir = os.path.join(f.dir, "wrk-done")
    os.makedirs(done_dir)
    env = dict(os.environ, BODY=body_path, HL=str(hl), EXPECT=expect_path, PER_THREAD=str((n + threads - 1) // threads),
               DONE_DIR=done_dir)
    before = f.backend_stats()
    load1 = os.getloadavg()[0]
    wrk = subprocess.Popen(["wrk", "-t%d" % threads, "-c%d" % conc, "-d600s", "--timeout", "10s", "-s",
                            os.path.join(HERE, "infer.lua"), f.haproxy_url + "/v2/models/fashion/infer"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    t0 = time.time()

    def answered():
        return int(f.backend_stats()["BACKEND"]["hrsp_2xx"]) - int(before["BACKEND"]["hrsp_2xx"])

    # Kill node2 when a third of the requests are answered.
    while answered() < n // 3 and wrk.poll() is None and time.time() - t0 < 300:
        time.sleep(0.05)
    victim = servers["node2"]
    pre = f.backend_stats()
    served_before = int(pre["node2"]["hrsp_2xx"])
    t_kill = victim.kill9()
    at_kill = answered()
    t_down, st = wait_states(f, lambda s: s["node2"]["op"] == 0, 10)
    down_s = (t_down - t_kill) if t_down else None
    c.figure("kill -9 of node2 (after %d answers) -> HAProxy marks it down" % at_kill,
             down_s if down_s is not None else 99.0, "s", DOWN_LIMIT_S)
    others_up = all(st[k]["op"] == 2 for k in ("node1", "node3"))
    c.check("node1 and node3 stay up", others_up, st)

    # Back on its port: HAProxy marks it up after 2 good checks.
    time.sleep(1.0)
    f.restart_serve(victim)
    t_start = time.time()
    t_up, st = wait_states(f, lambda s: s["node2"]["op"] == 2, 15)
    c.figure("node2 restarted -> HAProxy marks it up", (t_up - t_start) if t_up else 99.0, "s")
    c.check("node2 back up", t_up is not None, st)

    # Wait for wrk's threads to finish their share, then stop wrk (SIGINT: it
    # prints its summary).
    deadline = time.time() + 600
    while len(os.listdir(done_dir)) < threads and wrk.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    wrk.send_signal(signal.SIGINT)
    out, _ = wrk.communicate(timeout=60)
    elapsed = time.time() - t0
    line = [l for l in out.splitlines() if l.startswith("WRK ")]
    if not c.check("wrk summary", len(line) == 1, out[-3000:]):
        return c.done()
    w = json.loads(line[0][4:])
    after = f.backend_stats()
    served_after = int(after["node2"]["hrsp_2xx"]) - served_before
    errors = w["connect"] + w["read"] + w["write"] + w["timeout"] + w["bad"]
    print("wrk: %d responses in %.1f s (%.0f/s), concurrency %d, p50 %.2f ms, p99 %.2f ms, max %.1f ms; "
          "load average %.1f at the start" % (w["responses"], w["duration_us"] / 1e6,
                                              w["responses"] / (w["duration_us"] / 1e6), conc,
                                              w["p50_us"] / 1e3, w["p99_us"] / 1e3, w["max_us"] / 1e3, load1))
    print("wrk errors: connect %d, read %d, write %d, timeout %d, non-200 %d, wrong or failed answers %d%s" % (
        w["connect"], w["read"], w["write"], w["timeout"], w["status"], w["bad"],
        (" (first: %s)" % w["first_bad"]) if w["first_bad"] else ""))
    b = after["BACKEND"]
    print("haproxy backend: %s retries, %s redispatches (%s and %s before the kill), 5xx %d, 2xx per node %s" % (
        b["wretr"], b["wredis"], pre["BACKEND"]["wretr"], pre["BACKEND"]["wredis"], int(b["hrsp_5xx"]) - int(before["BACKEND"]["hrsp_5xx"]),
        {k: int(after[k]["hrsp_2xx"]) - int(before[k]["hrsp_2xx"]) for k in servers}))
    c.check("wrk answered every request", w["responses"] >= n, "%d < %d" % (w["responses"], n))
    c.figure("client errors in %d requests at concurrency %d with a kill -9" % (w["responses"], conc),
             errors, "", 0)
    c.check("the kill came while requests were in flight", at_kill < n and at_kill >= n // 3,
            "%d answered at the kill" % at_kill)
    c.check("node2 serves again after its restart", served_after > 0, served_after)
    print("elapsed %.1f s" % elapsed)
    reports = f.close()
    c.check("no sanitizer report", not reports, reports)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
