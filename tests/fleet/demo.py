#!/usr/bin/python3
"""`make fleet-demo`: a fleet on loopback in one command. Mosquitto (TLS,
passwords, ACL: conf/mosquitto), the controller (`nnedge fleet run`),
NODES x (`nnedge serve` + `nnedge agent`) and HAProxy (conf/haproxy) in
front of the servers, with inference traffic through HAProxy all along.
Then:
  1. a rollout of fashion 1.0.0 (canary first, then 2 nodes at a time);
  2. a rollout of 1.1.0 gated on its accuracy on the nodes (Fashion-MNIST
     test images, top-1 >= 0.85);
  3. a node failure: one node's server and agent get SIGKILL; HAProxy's
     checks and the controller take it out; it comes back;
  4. a bad model: 1.2.0 has its weights shuffled (it passes its own golden
     check, not the accuracy check): the canary rolls back, the rollout
     aborts, the other nodes are untouched.
Printed as one timeline: the controller's events (nnedge/fleet/event),
each server's status in HAProxy ("HAProxy", read from its admin socket:
its health checks' verdicts and the states the controller sets) and the
demo's steps (==), then a summary.
Usage: demo.py [--nodes N] [--keep]   (NNEDGE=build/nnedge)"""
import argparse
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def need():
    missing = [t for t in ("mosquitto", "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd", "haproxy", "openssl")
               if not shutil.which(t) and not os.path.exists("/usr/sbin/" + t)]
    for mod in ("numpy", "onnx"):
        try:
            __import__(mod)
        except ImportError:
            missing.append("python3-" + mod)
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        missing.append("dataset-fashion-mnist")
    if missing:
        print("fleet-demo: missing %s: run scripts/setup.sh" % ", ".join(missing), file=sys.stderr)
        sys.exit(2)


need()
from fleetlib import NNEDGE, Fleet, Load, fashion_body  # noqa: E402
from packages import Packages  # noqa: E402


class Timeline:
    def __init__(self):
        self.t0 = time.time()
        self.lock = threading.Lock()

    def line(self, t, who, text):
        with self.lock:
            print("%8.2f s  %-9s %s" % (t - self.t0, who, text), flush=True)

    def mark(self, text):
        with self.lock:
            print("%8.2f s  == %s" % (time.time() - self.t0, text), flush=True)


def watch_haproxy(f, tl, stop):
    """Prints each server's status in HAProxy (`show stat`: UP, DOWN,
    transitions such as "UP 1/2", MAINT and DRAIN set by the controller)
    when it changes, with the last health check's result."""
    last = {}
    while not stop.is_set():
        try:
            st = f.backend_stats()
        except OSError:
            st = {}
        for name, v in st.items():
            if name in ("BACKEND", "FRONTEND"):
                continue
            status = v.get("status", "?")
            if last.get(name) is not None and last[name] != status:
                chk = v.get("check_status", "")
                tl.line(time.time(), "HAProxy", "%s: %s -> %s (last check: %s%s)" % (
                    name, last[name], status, chk.lstrip("* "),
                    (" " + v["last_chk"]) if v.get("last_chk") else ""))
            last[name] = status
        stop.wait(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()
    if not 3 <= args.nodes <= 10:
        print("fleet-demo: --nodes must be 3..10", file=sys.stderr)
        return 2
    tl = Timeline()
    f = Fleet(os.environ.get("FLEET_DEMO_DIR") or None, keep=args.keep)
    nodes = ["node%d" % (i + 1) for i in range(args.nodes)]
    tl.mark("a fleet of %d nodes on loopback, in %s" % (args.nodes, f.dir))
    pk = Packages(NNEDGE, f.dir, n_check=1000)
    v1, v2 = pk.pack("1.0.0"), pk.pack("1.1.0")
    bad = pk.pack("1.2.0", model=pk.bad_model())
    tl.mark("packages signed by a release key: fashion 1.0.0, 1.1.0 (fashion_cnn, top-1 %.3f on 1000 test "
            "images) and 1.2.0 (weights shuffled, top-1 %.3f)" % (pk.top1(v1), pk.top1(bad)))

    f.broker(users=nodes)
    tl.mark("Mosquitto on mqtts://127.0.0.1:%d (TLS, a password per node, ACL: a node writes only "
            "nnedge/node/<its id>/#)" % f.broker_port)
    events = {"n": 0}

    def on_event(t, topic, body):
        if isinstance(body, dict):
            events["n"] += 1
            tl.line(t, body.get("kind", "?"), body.get("text", ""))

    servers, agents = f.serve_nodes(nodes), {}
    f.haproxy({n: s.port for n, s in servers.items()})
    tl.mark("%d servers (nnedge serve, empty repositories) behind HAProxy on %s (leastconn, checks of "
            "/v2/health/ready every 0.5 s, retries + redispatch)" % (len(nodes), f.haproxy_url))
    pkgdir = os.path.join(f.dir, "packages")
    os.makedirs(pkgdir)
    ev = f.subscriber("events", ["nnedge/fleet/event"], user="operator")
    ev.callback = on_event
    f.controller(pkgdir)
    stop = threading.Event()
    threading.Thread(target=watch_haproxy, args=(f, tl, stop), daemon=True).start()
    tl.mark("controller (nnedge fleet run) and %d agents (nnedge agent) starting" % len(nodes))
    for n in nodes:
        agents[n] = f.agent(n, os.path.join(f.dir, "store-" + n), servers[n], pk.trust)

    def wait_event(kind, node, since, timeout):
        return ev.wait(lambda t, b: isinstance(b, dict) and b.get("kind") == kind
                       and (node is None or b.get("node") == node), timeout, since)

    if not all(wait_event("online", n, 0, 30) for n in nodes):
        tl.mark("not every node came ONLINE; see %s/log" % f.dir)
        return 1

    def deploy(pkg, *extra):
        argv = [NNEDGE, "fleet", "deploy", pkg, "--group", "edge", "--packages", pkgdir, "--wait",
                *f.operator_args(), *extra]
        r = subprocess.run(argv, capture_output=True, timeout=600, text=True)
        return r

    def ready_all(timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = f.server_states()
            if all(v["op"] == 2 and v["admin"] == 0 for v in st.values()):
                return True
            time.sleep(0.1)
        return False

    tl.mark("1. rollout: fashion 1.0.0 to group edge (canary 1, then 2 at a time)")
    r = deploy(v1, "--canary", "1", "--rate", "2")
    tl.mark("   fleet deploy --wait: exit %d %s" % (r.returncode, r.stdout.strip().splitlines()[-1:] or ""))
    ready_all()
    body, hl = fashion_body()
    load = Load(f.haproxy_url, "/v2/models/fashion/infer", body, hl, conc=4, rate=100)
    tl.mark("   traffic: 4 clients, 100 requests/s through HAProxy from now on")
    time.sleep(2)

    tl.mark("2. rollout: fashion 1.1.0, gated on top-1 >= 0.85 on each node (1000 Fashion-MNIST images)")
    r = deploy(v2, "--canary", "1", "--rate", "2", "--check-data", pk.check_x, "--check-labels", pk.check_y,
               "--min-top1", "0.85")
    tl.mark("   fleet deploy --wait: exit %d" % r.returncode)
    ready_all()
    time.sleep(2)

    victim = nodes[-1]
    tl.mark("3. node failure: kill -9 of %s's server and agent" % victim)
    t_kill = time.time()
    servers[victim].kill9()
    agents[victim].kill9()
    off = wait_event("offline", victim, t_kill, 15)
    down = None
    deadline = time.time() + 10
    while time.time() < deadline:
        if not f.backend_stats()[victim]["status"].startswith("UP"):
            down = time.time()
            break
        time.sleep(0.05)
    time.sleep(3)
    tl.mark("   %s comes back: server, then agent" % victim)
    t_back = time.time()
    f.restart_serve(servers[victim])
    agents[victim].start()
    wait_event("online", victim, t_back, 15)
    ready_all()
    time.sleep(2)

    tl.mark("4. bad model: fashion 1.2.0 (weights shuffled), canary 1, min top-1 0.85")
    t_bad = time.time()
    r = deploy(bad, "--canary", "1", "--rate", "2", "--check-data", pk.check_x, "--check-labels", pk.check_y,
               "--min-top1", "0.85")
    t_bad_end = time.time()
    tl.mark("   fleet deploy --wait: exit %d (%s)" % (r.returncode, (r.stderr or r.stdout).strip().splitlines()[-1:]))
    rb = ev.wait(lambda t, b: isinstance(b, dict) and "rolled_back" in str(b.get("text", "")), 2, t_bad)
    ab = ev.wait(lambda t, b: isinstance(b, dict) and b.get("kind") == "aborted", 2, t_bad)
    time.sleep(2)
    ok, errs = load.stop()
    stop.set()
    time.sleep(0.2)

    print()
    print("== summary")
    st = subprocess.run([NNEDGE, "fleet", "status", *f.operator_args()], capture_output=True, text=True, timeout=60)
    print(st.stdout.rstrip() or st.stderr.rstrip())
    print()
    print("inference through HAProxy during the demo: %d answered, %d errors%s" % (
        ok, errs, (" (first: %s)" % load.first_errors[0]) if errs else ""))
    b = f.backend_stats()["BACKEND"]
    print("HAProxy: %s retries, %s redispatches" % (b["wretr"], b["wredis"]))
    if off:
        print("node failure: %s OFFLINE %.2f s after the kill (controller); out of HAProxy's rotation after %s" % (
            victim, off[0] - t_kill, ("%.2f s" % (down - t_kill)) if down else "?"))
    print("bad model: the canary rolled back %s and the rollout aborted %s after the request; fleet deploy "
          "--wait returned after %.2f s" % (("%.2f s" % (rb[0] - t_bad)) if rb else "(not seen)",
                                           ("%.2f s" % (ab[0] - t_bad)) if ab else "(not seen)", t_bad_end - t_bad))
    print("%d controller events; logs in %s/log%s" % (events["n"], f.dir, "" if args.keep else " (removed; --keep keeps them)"))
    f.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
