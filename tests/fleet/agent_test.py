"""`nnedge agent` against a real Mosquitto and a real `nnedge serve` on
loopback (docs/fleet.md sections 1-5). Starts its own mosquitto (plain,
anonymous, a free port), a server with an empty repository, a small HTTP
server for the packages and check data, and the agent; publishes desired
states with mosquitto_pub (retained) and watches nnedge/# with mosquitto_sub.

Checks: birth with full state; heartbeats every ~1 s with the server's
figures; a signed package installs (fetch over HTTP, BLAKE2b, install, an
accuracy + latency check that passes) and is served (an inference through
the server equals `nnedge run`); a newer one replaces it and the older
version directory goes; an unsigned and a wrongly signed package are
refused (failed, nothing changed); a check whose labels the model gets
wrong is rolled back while the server keeps serving the old version;
kill -9 -> the retained death with the birth's bdseq; restart -> birth in
<= 2 s with the next bdseq, the retained desired state not applied twice;
broker stopped 10 s (inference goes on) and restarted -> the agent
reconnects and applies a desired state published after the restart in
<= 5 s; SIGTERM -> death and exit 0; the agent's RSS (< 5 MB) while idle
and while the broker is down, measured on the release build's agent.

Usage: agent_test.py WORKDIR   (NNEDGE: the nnedge command, default
build-san/nnedge; NNEDGE_RSS: a release nnedge for the RSS figure, default
build/nnedge when it exists)
"""
import atexit
import functools
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np

from fleetlib import free_port  # the script's folder is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NNEDGE = os.path.abspath(os.environ.get("NNEDGE", os.path.join(ROOT, "build-san", "nnedge")))
NNEDGE_RSS = os.environ.get("NNEDGE_RSS", os.path.join(ROOT, "build", "nnedge"))
MODEL = os.path.join(ROOT, "tests", "pkg", "small_mlp.onnx")
X = os.path.join(ROOT, "tests", "pkg", "small_mlp_x.npy")
T0 = time.monotonic()

fails = []
STARTED = []  # every process this test starts: stopped at exit, whatever happens


def _cleanup():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_cleanup)


def log(msg):
    print("[%5.1f s] %s" % (time.monotonic() - T0, msg), flush=True)


def check(label, cond, detail=""):
    if cond:
        print("ok   " + label, flush=True)
    else:
        print("FAIL %s %s" % (label, detail), flush=True)
        fails.append(label)
    return cond


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def hreq(url, body=None, timeout=10):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}
    except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
        return 0, {"error": str(e)}


class Broker:
    def __init__(self, work, port):
        self.conf = os.path.join(work, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
        self.port, self.log, self.p = port, os.path.join(work, "mosquitto.log"), None

    def start(self):
        self.p = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        STARTED.append(self.p)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start (%s)" % self.log)

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            self.p.wait(5)


class Bus:
    """mosquitto_sub on nnedge/#: every message with its arrival time."""

    def __init__(self, port, topic="nnedge/#"):
        self.msgs, self.lock = [], threading.Lock()
        self.p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-v",
                                   "-F", "%r %t %p", "-t", topic], stdout=subprocess.PIPE, text=True)
        STARTED.append(self.p)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) < 3:
                continue
            try:
                payload = json.loads(parts[2])
            except ValueError:
                payload = parts[2]
            with self.lock:
                self.msgs.append((time.monotonic(), parts[0] == "1", parts[1], payload))

    def mark(self):
        with self.lock:
            return len(self.msgs)

    def since(self, start, topic=None):
        with self.lock:
            return [m for m in self.msgs[start:] if topic is None or m[2] == topic]

    def wait(self, start, topic, pred=lambda m: True, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in self.since(start, topic):
                if pred(m[3]):
                    return m
            time.sleep(0.02)
        return None

    def stop(self):
        self.p.terminate()
        self.p.wait(5)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    work = os.path.abspath(os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build-san", "fleet-agent"))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    pk, srv_dir, repo, store = (os.path.join(work, d) for d in ("pkgs", "www", "repo", "store"))
    for d in (pk, srv_dir, repo):
        os.makedirs(d)
    procs = []

    # keys and packages: four signed versions, one unsigned, one signed by another key
    for k in ("root", "evil"):
        r = run(NNEDGE, "keygen", "-o", os.path.join(pk, k))
        if r.returncode:
            raise SystemExit("keygen: " + r.stderr)
    root_pub = os.path.join(pk, "root.pub")
    pkgs = {}
    for tag, ver, key in (("v1", "1.0.0", "root"), ("v2", "1.1.0", "root"), ("v3", "1.2.0", "root"),
                          ("unsigned", "1.3.0", None), ("evil", "1.3.0", "evil"), ("v5", "1.4.0", "root")):
        out = os.path.join(srv_dir, tag + ".nne")
        cmd = [NNEDGE, "pack", MODEL, "-o", out, "--name", "small_mlp", "--version", ver, "--golden", "x=" + X]
        if key:
            cmd += ["--sign", os.path.join(pk, key + ".sec")]
        r = run(*cmd)
        if r.returncode:
            raise SystemExit("pack: " + r.stderr)
        r = run(NNEDGE, "verify", out, "--trust", root_pub, "--json")
        counter = json.loads(r.stdout)["counter"] if r.returncode == 0 else int(ver.split(".")[1]) * 10 ** 6 + 10 ** 12
        data = open(out, "rb").read()
        pkgs[tag] = {"name": "small_mlp", "version": ver, "counter": counter, "bytes": len(data),
                     "blake2b": hashlib.blake2b(data, digest_size=32).hexdigest()}
    # check data: labels the model gets right (its own argmax) and ones it gets wrong
    r = run(NNEDGE, "run", MODEL, "-i", "x=" + X, "-o", os.path.join(work, "ref"))
    y_ref = np.load(os.path.join(work, "ref", "y.npy"))
    np.save(os.path.join(srv_dir, "x.npy"), np.load(X))
    np.save(os.path.join(srv_dir, "good.npy"), y_ref.argmax(1).astype(np.int64))
    np.save(os.path.join(srv_dir, "bad.npy"), ((y_ref.argmax(1) + 1) % y_ref.shape[1]).astype(np.int64))

    # the package server (what `nnedge fleet run` serves to the agents)
    www_port = free_port()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    handler = functools.partial(Quiet, directory=srv_dir)
    www = http.server.ThreadingHTTPServer(("127.0.0.1", www_port), handler)
    threading.Thread(target=www.serve_forever, daemon=True).start()
    www_url = "http://127.0.0.1:%d" % www_port

    broker = Broker(work, free_port())
    broker.start()
    bus = Bus(broker.port)
    serve_port = free_port()
    serve_url = "http://127.0.0.1:%d" % serve_port
    serve = subprocess.Popen([NNEDGE, "serve", "--repo", repo, "--http", "127.0.0.1:%d" % serve_port,
                              "--trust", root_pub], stderr=open(os.path.join(work, "serve.log"), "w"))
    procs.append(serve)
    STARTED.append(serve)
    for _ in range(200):
        if hreq(serve_url + "/v2/health/ready", timeout=1)[0] == 200:
            break
        time.sleep(0.05)
    agent_log = os.path.join(work, "agent.log")

    def start_agent(nnedge, node, st, extra=()):
        p = subprocess.Popen([nnedge, "agent", "--broker", "mqtt://127.0.0.1:%d" % broker.port, "--id", node,
                              "--group", "edge", "--store", st, "--serve-repo", repo, "--serve-url", serve_url,
                              "--trust", root_pub, "--heartbeat-ms", "1000", "--keepalive-s", "5"] + list(extra),
                             stderr=open(agent_log if node == "node1" else agent_log + "." + node, "a"))
        procs.append(p)
        STARTED.append(p)
        return p

    def publish_cmd(node, body):
        r = run("mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-r",
                "-t", "nnedge/cmd/" + node, "-m", json.dumps(body))
        return r.returncode == 0

    def deploy(dep, tag, check=None, action="install"):
        body = {"v": 1, "deployment": dep, "action": action,
                "package": dict(pkgs[tag], url="%s/%s.nne" % (www_url, tag))}
        if check:
            body["check"] = check
        m0 = bus.mark()
        t = time.monotonic()
        publish_cmd("node1", body)
        final = bus.wait(m0, "nnedge/node/node1/deploy",
                         lambda p: p.get("deployment") == dep and p.get("state") in ("applied", "failed", "rolled_back"),
                         timeout=40)
        steps = [m[3]["state"] for m in bus.since(m0, "nnedge/node/node1/deploy") if m[3].get("deployment") == dep]
        log("%s (%s): %s in %.2f s%s" % (dep, tag, " -> ".join(steps), (final[0] if final else time.monotonic()) - t,
                                         (": " + final[3].get("reason", "")) if final and final[3].get("reason") else ""))
        return (final[3] if final else {}), steps, (final[0] - t if final else None)

    def served_version():
        s, j = hreq(serve_url + "/v2/models/small_mlp")
        return (j.get("versions") or [None])[-1] if s == 200 else None

    def infer_ok():
        x = np.load(X)
        body = {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}]}
        s, j = hreq(serve_url + "/v2/models/small_mlp/infer", body)
        if s != 200:
            return False
        y = np.array(j["outputs"][0]["data"], dtype=np.float32).reshape(y_ref.shape)
        return np.allclose(y, y_ref, rtol=1e-5, atol=1e-5)

    # ---- birth and heartbeats
    m0 = bus.mark()
    t = time.monotonic()
    agent = start_agent(NNEDGE, "node1", store)
    birth = bus.wait(m0, "nnedge/node/node1/birth", timeout=10)
    b = birth[3] if birth else {}
    check("birth", birth is not None and b.get("id") == "node1" and b.get("group") == "edge" and b.get("bdseq", 0) >= 1
          and b.get("store") == {"current": None, "previous": None} and b.get("serve_url") == serve_url
          and b.get("haproxy_server") == "node1" and b.get("serve") == "up", b)
    if birth:
        log("birth after %.2f s: %s" % (birth[0] - t, json.dumps(b)))
    bdseq1 = b.get("bdseq")
    time.sleep(3.3)
    hbs = bus.since(m0, "nnedge/node/node1/data")
    times = [m[0] for m in hbs]
    gaps = [b_ - a_ for a_, b_ in zip(times, times[1:])]
    check("heartbeats_every_1s", len(hbs) >= 3 and all(0.6 < g < 1.5 for g in gaps), "gaps %s" % gaps)
    h = hbs[-1][3] if hbs else {}
    check("heartbeat_fields", h.get("serve") == "up" and h.get("bdseq") == bdseq1 and isinstance(h.get("cpus"), int)
          and h.get("queue") == 0 and "p50" in h.get("latency_ms", {}) and h.get("serve_rss_kb", 0) > 1000
          and [m[3]["seq"] for m in hbs] == list(range(hbs[0][3]["seq"], hbs[0][3]["seq"] + len(hbs))), h)

    # ---- a signed package, with an accuracy and latency check that passes
    good_check = {"data_url": www_url + "/x.npy", "labels_url": www_url + "/good.npy", "min_top1": 0.99,
                  "max_p50_ms": 1000.0}
    rep, steps, _ = deploy("d1", "v1", good_check)
    check("install_signed_applied", rep.get("state") == "applied" and
          steps == ["fetching", "installing", "checking", "activating", "applied"], steps)
    check("install_check_reported", rep.get("check", {}).get("passed") is True and rep["check"].get("top1") == 1.0
          and rep["check"].get("p50_ms") is not None, rep)
    check("served_after_install", served_version() == str(pkgs["v1"]["counter"]) and infer_ok(), served_version())
    rep, steps, _ = deploy("d2", "v2")
    check("newer_applied", rep.get("state") == "applied" and served_version() == str(pkgs["v2"]["counter"])
          and infer_ok(), (rep, served_version()))
    check("older_version_dir_removed", sorted(os.listdir(os.path.join(repo, "small_mlp"))) ==
          [str(pkgs["v2"]["counter"])], os.listdir(os.path.join(repo, "small_mlp")))
    m1 = bus.mark()
    for _ in range(3):
        infer_ok()
    hb = bus.wait(m1, "nnedge/node/node1/data", lambda p: p.get("models") and p["models"][0]["requests"] >= 3, 4)
    check("heartbeat_model_metrics", hb is not None and hb[3]["models"][0]["version"] == pkgs["v2"]["counter"]
          and hb[3]["latency_ms"]["p99"] is not None, hb and hb[3])

    # ---- refused: unsigned, signed by another key; nothing changes
    for dep, tag, why in (("d3", "unsigned", "not signed"), ("d4", "evil", "not by the trusted key")):
        rep, steps, _ = deploy(dep, tag)
        check("refused_" + tag, rep.get("state") == "failed" and why in rep.get("reason", "") and
              "installing" in steps and served_version() == str(pkgs["v2"]["counter"]) and infer_ok(), rep)
    st = json.loads(run(NNEDGE, "install", "--store", store, "--status", "--json").stdout)
    check("store_unchanged_after_refusals", st["current"]["version"] == "1.1.0", st)

    # ---- a check the model fails: rolled back, the server still serves the old version
    bad_check = {"data_url": www_url + "/x.npy", "labels_url": www_url + "/bad.npy", "min_top1": 0.5}
    rep, steps, _ = deploy("d5", "v3", bad_check)
    check("bad_check_rolled_back", rep.get("state") == "rolled_back" and rep.get("check", {}).get("passed") is False
          and rep["check"].get("top1") == 0.0 and "activating" not in steps, (rep, steps))
    st = json.loads(run(NNEDGE, "install", "--store", store, "--status", "--json").stdout)
    check("bad_check_store_reverted", st["current"]["version"] == "1.1.0" and st["previous"] is None, st)
    check("bad_check_old_version_served", served_version() == str(pkgs["v2"]["counter"]) and infer_ok(),
          served_version())

    # heartbeats went on through the deployments (their steps run in child processes)
    times = [m[0] for m in bus.since(m0, "nnedge/node/node1/data")]
    gaps = [b_ - a_ for a_, b_ in zip(times, times[1:])]
    check("heartbeats_during_deployments", len(times) >= 4 and max(gaps) < 1.6, "max gap %.2f s" % max(gaps or [0]))

    # ---- kill -9: the retained death with the birth's bdseq; restart: birth in <= 2 s
    m2 = bus.mark()
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    t = time.monotonic()
    death = bus.wait(m2, "nnedge/node/node1/death", timeout=5)
    check("kill9_death", death is not None and death[3].get("bdseq") == bdseq1, death and death[3])
    if death:
        log("death %.2f s after kill -9" % (death[0] - t))
    r = run("mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "nnedge/node/node1/death", "-C", "1",
            "-W", "2", "-F", "%r %p")
    check("death_retained", r.stdout.startswith("1 ") and json.loads(r.stdout[2:]).get("bdseq") == bdseq1, r.stdout)
    m3 = bus.mark()
    t = time.monotonic()
    agent = start_agent(NNEDGE, "node1", store)
    birth = bus.wait(m3, "nnedge/node/node1/birth", timeout=10)
    dt = birth[0] - t if birth else None
    b = birth[3] if birth else {}
    check("restart_birth_2s", dt is not None and dt <= 2.0, "%s s" % dt)
    check("restart_birth_state", b.get("bdseq") == bdseq1 + 1 and b["store"]["current"]["version"] == "1.1.0"
          and b.get("deployment") == {"id": "d5", "state": "rolled_back"}, b)
    if birth:
        log("birth %.2f s after the restart" % dt)
    time.sleep(1.5)
    check("retained_cmd_not_applied_twice", not bus.since(m3, "nnedge/node/node1/deploy"),
          bus.since(m3, "nnedge/node/node1/deploy"))

    # ---- RSS of the release build's agent (ASan's own memory would hide it)
    rss_agent, rss_store = None, os.path.join(work, "store_rss")
    if NNEDGE_RSS and os.path.exists(NNEDGE_RSS) and os.path.exists(os.path.join(os.path.dirname(NNEDGE_RSS), "nnedge-agent")):
        rss_agent = start_agent(os.path.abspath(NNEDGE_RSS), "rssnode", rss_store)
        m4 = bus.mark()
        bus.wait(m4, "nnedge/node/rssnode/data", timeout=5)
        time.sleep(2)
        idle = rss_kb(rss_agent.pid)
        log("release agent RSS idle (connected, heartbeats): %d kB" % idle)
        check("rss_idle_below_5MB", 0 < idle < 5120, "%d kB" % idle)
    else:
        log("no release build at %s: RSS not measured (make all)" % NNEDGE_RSS)

    # ---- the same over mqtts (TLS, a password file): a second broker, the release agent's RSS
    if rss_agent and shutil.which("openssl") and shutil.which("mosquitto_passwd"):
        tls = os.path.join(work, "tls")
        os.makedirs(tls)
        ok = True
        for cmd in (["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", tls + "/ca.key", "-out", tls + "/ca.pem", "-days", "2", "-subj", "/CN=nnedge-test-ca"],
                    ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", tls + "/srv.key", "-out", tls + "/srv.csr", "-subj", "/CN=127.0.0.1"],
                    ["openssl", "x509", "-req", "-in", tls + "/srv.csr", "-CA", tls + "/ca.pem", "-CAkey", tls + "/ca.key",
                     "-CAcreateserial", "-out", tls + "/srv.pem", "-days", "2", "-extfile", tls + "/ext"],
                    ["mosquitto_passwd", "-c", "-b", tls + "/passwd", "rssnode", "pw-rssnode-1"]):
            if cmd[0] == "openssl" and cmd[1] == "x509":
                open(tls + "/ext", "w").write("subjectAltName=IP:127.0.0.1\n")
            ok = ok and run(*cmd).returncode == 0
        for f in ("srv.key", "passwd"):
            os.chmod(os.path.join(tls, f), 0o644)  # mosquitto drops root for its own user
        open(tls + "/rssnode.pw", "w").write("pw-rssnode-1\n")
        tport = free_port()
        tconf = os.path.join(tls, "mosquitto.conf")
        open(tconf, "w").write("listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/srv.pem\nkeyfile %s/srv.key\n"
                               "allow_anonymous false\npassword_file %s/passwd\npersistence false\n" % ((tport,) + (tls,) * 4))
        tb = subprocess.Popen(["mosquitto", "-c", tconf], stdout=open(tls + "/mosquitto.log", "w"), stderr=subprocess.STDOUT)
        STARTED.append(tb)
        time.sleep(0.5)
        ta = subprocess.Popen([os.path.abspath(NNEDGE_RSS), "agent", "--broker", "mqtts://127.0.0.1:%d" % tport,
                               "--ca", tls + "/ca.pem", "--password-file", tls + "/rssnode.pw", "--id", "rssnode",
                               "--store", os.path.join(work, "store_tls"), "--serve-repo", repo, "--serve-url", serve_url,
                               "--trust", root_pub], stderr=open(agent_log + ".tls", "w"))
        STARTED.append(ta)
        tsub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(tport), "--cafile", tls + "/ca.pem",
                                 "-u", "rssnode", "-P", "pw-rssnode-1", "-i", "tls-watch", "-t", "nnedge/node/rssnode/data",
                                 "-C", "2", "-W", "8"], stdout=subprocess.PIPE, text=True)
        STARTED.append(tsub)
        got = tsub.communicate(timeout=15)[0]
        tls_rss = rss_kb(ta.pid) if ta.poll() is None else -1
        log("release agent RSS over mqtts (TLS + password), connected, heartbeats: %d kB" % tls_rss)
        check("tls_heartbeats", ok and got.count("\n") == 2, got)
        check("rss_tls_below_5MB", 0 < tls_rss < 5120, "%d kB" % tls_rss)
        ta.terminate()
        ta.wait(10)
        tb.terminate()
        tb.wait(5)

    # ---- the broker down for 10 s: inference goes on; after the restart a new desired state applies in <= 5 s
    bus.stop()
    broker.stop()
    t_down = time.monotonic()
    errors = n = 0
    rss_down = []
    while time.monotonic() - t_down < 10:
        n += 1
        errors += not infer_ok()
        if rss_agent:
            rss_down.append(rss_kb(rss_agent.pid))
        time.sleep(0.2)
    check("broker_down_inference", errors == 0 and agent.poll() is None, "%d/%d errors" % (errors, n))
    if rss_down:
        log("release agent RSS while the broker is down: max %d kB" % max(rss_down))
        check("rss_broker_down_below_5MB", max(rss_down) < 5120, "%d kB" % max(rss_down))
    broker.start()
    bus = Bus(broker.port)
    t_up = time.monotonic()
    rep, steps, dt = deploy("d6", "v5")
    check("after_reconnect_applied_5s", rep.get("state") == "applied" and dt is not None and dt <= 5.0,
          "%s in %s s" % (rep.get("state"), dt))
    if dt is not None:
        log("d6 applied %.2f s after it was published (%.2f s after the broker restarted)" % (dt, time.monotonic() - t_up))
    check("after_reconnect_served", served_version() == str(pkgs["v5"]["counter"]) and infer_ok(), served_version())
    birth = [m for m in bus.since(0, "nnedge/node/node1/birth")]
    check("after_reconnect_birth", birth and birth[-1][3]["bdseq"] >= bdseq1 + 2, birth and birth[-1][3])

    # ---- action rollback: back to the previous package (1.1.0), once
    rep, steps, _ = deploy("d7", "v2", action="rollback")
    st = json.loads(run(NNEDGE, "install", "--store", store, "--status", "--json").stdout)
    check("rollback_applied", rep.get("state") == "applied" and served_version() == str(pkgs["v2"]["counter"])
          and infer_ok() and st["current"]["version"] == "1.1.0" and st["previous"] is None, (rep, st))
    rep, steps, _ = deploy("d8", "v1", action="rollback")
    check("rollback_without_previous_failed", rep.get("state") == "failed" and "no previous" in rep.get("reason", "")
          and served_version() == str(pkgs["v2"]["counter"]), rep)

    # ---- SIGTERM: death published, exit 0
    m5 = bus.mark()
    agent.send_signal(signal.SIGTERM)
    try:
        rc = agent.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    death = bus.wait(m5, "nnedge/node/node1/death", timeout=3)
    check("sigterm_death_exit0", rc == 0 and death is not None, "exit %s" % rc)
    if rss_agent:
        rss_agent.send_signal(signal.SIGTERM)
        rss_agent.wait(10)

    # ---- bad options
    r = run(NNEDGE, "agent", "--broker", "http://x", "--id", "n", "--store", store, "--serve-repo", repo,
            "--serve-url", serve_url, "--trust", root_pub)
    check("bad_broker_url_exit2", r.returncode == 2 and "mqtt://" in r.stderr and len(r.stderr.splitlines()) == 1,
          r.stderr)
    r = run(NNEDGE, "agent", "--broker", "mqtt://127.0.0.1:1", "--id", "bad/id", "--store", store, "--serve-repo",
            repo, "--serve-url", serve_url, "--trust", root_pub)
    check("bad_id_exit2", r.returncode == 2 and "node id" in r.stderr, r.stderr)

    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(10)
    bus.stop()
    broker.stop()
    www.shutdown()
    logs = "".join(open(os.path.join(work, f), errors="replace").read() for f in os.listdir(work) if ".log" in f)
    check("no_sanitizer_reports", "Sanitizer" not in logs and "runtime error" not in logs,
          [ln for ln in logs.splitlines() if "Sanitizer" in ln or "runtime error" in ln][:5])
    log("agent test: %d failed" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
