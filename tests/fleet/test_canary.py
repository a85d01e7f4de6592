#!/usr/bin/python3
"""Rollouts gated on the model's accuracy, and package refusals, on the real
engines: 3 nodes (nnedge serve + nnedge agent) behind HAProxy, Mosquitto
(TLS/ACL), the controller. Every node first gets fashion 1.0.0
(models/fashion_cnn.onnx). Then:

 1. fashion 1.2.0 = fashion_cnn with its weights shuffled (passes its own
    golden check: pack computed the golden outputs from it), deployed with
    --check-data/--check-labels (Fashion-MNIST test images) --min-top1 0.85,
    canary 1: the canary's check fails and it is rolled back in <= 5 s (from
    the deployment's request to the canary's `rolled_back` report), the
    rollout aborts, the other nodes never get it; every node still serves
    1.0.0's answers.
 2. An unsigned package and one signed by a key the nodes do not trust,
    deployed to all 3 nodes at once (--canary 3): refused by every agent
    (`failed`), no store changes.
Usage: test_canary.py WORKDIR   (NNEDGE=build/nnedge)"""
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleetlib import NNEDGE, Cases, Fleet, fashion_body  # noqa: E402
from packages import Packages  # noqa: E402

NODES = ("node1", "node2", "node3")
ROLLBACK_LIMIT_S = 5.0
MIN_TOP1 = 0.85


def infer(url, body, hl):
    req = urllib.request.Request(url + "/v2/models/fashion/infer", data=body, method="POST",
                                 headers={"Content-Type": "application/octet-stream",
                                          "Inference-Header-Content-Length": str(hl)})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def store_status(store):
    r = subprocess.run([NNEDGE, "install", "--store", store, "--status", "--json"], capture_output=True)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {"error": (r.stdout + r.stderr).decode(errors="replace")}


def main():
    workdir = sys.argv[1]
    c = Cases("fleet canary")
    f = Fleet(workdir)
    pk = Packages(NNEDGE, f.dir, n_check=1000)
    v1 = pk.pack("1.0.0")
    bad_model = pk.bad_model()
    bad = pk.pack("1.2.0", model=bad_model)
    unsigned = pk.pack("1.3.0", sign=None)
    evil = pk.pack("1.4.0", sign="evilrel")
    print("top-1 on the %s check images: 1.0.0 %.3f, 1.2.0 (shuffled weights) %.3f" % (
        "1000", pk.top1(v1), pk.top1(bad)))
    f.broker(users=NODES)
    servers = f.serve_nodes(NODES)
    agents = {}
    stores = {n: os.path.join(f.dir, "store-" + n) for n in NODES}
    f.haproxy({n: s.port for n, s in servers.items()})
    pkgdir = os.path.join(f.dir, "packages")
    os.makedirs(pkgdir)
    ev = f.subscriber("events", ["nnedge/fleet/event"], user="operator")
    reports = f.subscriber("reports", ["nnedge/node/+/deploy"])
    ctl = f.controller(pkgdir)
    for n in NODES:
        agents[n] = f.agent(n, stores[n], servers[n], pk.trust)

    def event(kind, node, since, timeout):
        return ev.wait(lambda t, b: isinstance(b, dict) and b.get("kind") == kind and b.get("node") == node,
                       timeout, since)

    online = {n: event("online", n, 0, 20) for n in NODES}
    if not c.check("3 nodes ONLINE", all(online.values()), online):
        print(ctl.err()[-3000:])
        return c.done()

    def deploy(pkg, *extra):
        argv = [NNEDGE, "fleet", "deploy", pkg, "--group", "edge", "--packages", pkgdir, "--json", "--wait",
                *f.operator_args(), *extra]
        r = subprocess.run(argv, capture_output=True, timeout=300)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            j = None
        return r, j

    def node_reports(n, since):
        return [m for m in reports.find(lambda t, b: t == "nnedge/node/%s/deploy" % n and isinstance(b, dict), since)]

    t = time.time()
    r, j = deploy(v1, "--rate", "2")
    states = {n: [m[2].get("state") for m in node_reports(n, t)] for n in NODES}
    c.check("1.0.0 applied on every node", all(s and s[-1] == "applied" for s in states.values()),
            (r.returncode, states, r.stderr[-1000:]))
    body, hl = fashion_body()
    answer = {n: infer(s.url, body, hl) for n, s in servers.items()}
    c.check("every node answers with 1.0.0", all(a[0] == 200 for a in answer.values())
            and len(set(a[1] for a in answer.values())) == 1, {n: a[0] for n, a in answer.items()})
    v1_answer = answer["node1"][1]
    before = {n: store_status(stores[n]) for n in NODES}

    # ---- 1. a canary that fails its accuracy check -------------------------
    t = time.time()
    r, j = deploy(bad, "--canary", "1", "--rate", "2", "--check-data", pk.check_x, "--check-labels", pk.check_y,
                  "--min-top1", str(MIN_TOP1))
    t_end = time.time()
    touched = {n: node_reports(n, t) for n in NODES}
    canaries = [n for n in NODES if touched[n]]
    c.check("exactly one node (the canary) got 1.2.0", len(canaries) == 1, {n: len(v) for n, v in touched.items()})
    if canaries:
        cn = canaries[0]
        seq = [(round(m[0] - t, 3), m[2].get("state")) for m in touched[cn]]
        print("canary %s: %s" % (cn, seq))
        rb = [m for m in touched[cn] if m[2].get("state") == "rolled_back"]
        chk = [m for m in touched[cn] if m[2].get("state") == "checking"]
        if c.check("the canary reports rolled_back", rb, seq):
            rep = rb[0][2]
            ck = rep.get("check") or {}
            c.check("its check failed on top-1 < %.2f" % MIN_TOP1,
                    ck.get("passed") is False and isinstance(ck.get("top1"), (int, float)) and ck["top1"] < MIN_TOP1,
                    rep)
            print("canary check: %s; reason: %s" % (ck, rep.get("reason")))
            c.figure("bad canary: deployment request -> rolled back", rb[0][0] - t, "s", ROLLBACK_LIMIT_S)
            if chk:
                c.figure("bad canary: check started -> rolled back", rb[0][0] - chk[0][0], "s")
        st = store_status(stores[cn])
        c.check("the canary's store is back on 1.0.0", json.dumps(st.get("current")) == json.dumps(
            before[cn].get("current")), (st, before[cn]))
    ab = ev.wait(lambda tp, b: isinstance(b, dict) and b.get("kind") == "aborted", 5, t)
    c.check("the rollout aborts", ab is not None, ev.find(lambda tp, b: True, t))
    c.check("fleet deploy --wait reports the abort", r.returncode != 0 or (j and j.get("state") == "aborted"),
            (r.returncode, r.stdout[-1000:], r.stderr[-1000:]))
    for n in NODES:
        a = infer(servers[n].url, body, hl)
        c.check("%s serves 1.0.0's answer after the abort" % n, a == (200, v1_answer), a[0])
        if n not in canaries:
            c.check("%s untouched (store)" % n, store_status(stores[n]) == before[n],
                    (store_status(stores[n]), before[n]))
    print("deploy of the bad model: %.2f s until fleet deploy --wait returned" % (t_end - t))

    # ---- 2. unsigned and wrongly signed packages, to every node ------------
    for label, pkg in (("unsigned", unsigned), ("signed by an untrusted key", evil)):
        before = {n: store_status(stores[n]) for n in NODES}
        t = time.time()
        r, j = deploy(pkg, "--canary", "3")
        for n in NODES:
            # The rollout may end (aborted) before every node has reported.
            reports.wait(lambda tp, b, n=n: tp == "nnedge/node/%s/deploy" % n and isinstance(b, dict)
                         and b.get("state") in ("applied", "failed", "rolled_back"), 20, t)
            reps = node_reports(n, t)
            final = [m[2] for m in reps if m[2].get("state") in ("applied", "failed", "rolled_back")]
            c.check("%s package refused by %s" % (label, n), final and final[-1]["state"] == "failed",
                    [m[2] for m in reps])
            if final:
                print("  %s, %s: %s" % (label, n, final[-1].get("reason")))
            c.check("%s package: %s's store unchanged" % (label, n), store_status(stores[n]) == before[n])
        c.check("%s package: the deployment fails" % label, r.returncode != 0 or (j and j.get("state") != "done"),
                (r.returncode, r.stdout[-500:]))
    for n in NODES:
        c.check("%s serves 1.0.0's answer at the end" % n, infer(servers[n].url, body, hl) == (200, v1_answer))
    rep = f.close()
    c.check("no sanitizer report", not rep, rep)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
