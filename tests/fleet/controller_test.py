#!/usr/bin/python3
"""controller_test.py - `nnedge fleet` (the controller and its client
commands) against a real Mosquitto and a real HAProxy on loopback, with the
agents played by this script (docs/fleet.md is the contract).

  NNEDGE=build-san/nnedge /usr/bin/python3 tests/fleet/controller_test.py WORKDIR

Starts mosquitto (a free port, anonymous), haproxy (stats socket level admin,
backend `be_nodes` with servers node1..node5 on a dummy HTTP server), then
`nnedge fleet run`. Checks: ONLINE/OFFLINE by birth, death (right and stale
bdseq), a real last will (kill -9 of a client), heartbeat timeout; HAProxy
state and weight read back with `show servers state`; deployments: canary
first, order and --rate, other groups untouched, canary failure -> abort,
abort threshold -> rollback to the upgraded nodes, per-node timeout,
`fleet abort`, a restarted controller continuing from --state and
republishing desired states; status JSON and table; the package server
(Content-Length, 404s, no traversal or symlinks, GET only); hostile payloads
(the controller stays up and keeps publishing); bad options exit 2.
"""
import hashlib
import http.client
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

import paho.mqtt.client as mqtt

from fleetlib import free_port  # the script's folder is on sys.path

NNEDGE = os.path.abspath(os.environ.get("NNEDGE", "build-san/nnedge"))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORK = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build-san/fleet-ctl-test")
OFFLINE_MS = 1500

passed = 0
failed = 0
procs = []


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", what, flush=True)
    return cond


measured = []


def measure(what, seconds):
    measured.append("  %-55s %s" % (what, "%.3f s" % seconds if seconds is not None else "-"))


def wait_for(fn, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


# ------------------------------------------------------------- engines --
class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/v2/health/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def start_engines():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK + "/packages")
    mport = free_port()
    with open(WORK + "/mosquitto.conf", "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % mport)
    procs.append(subprocess.Popen(["mosquitto", "-c", WORK + "/mosquitto.conf"],
                                  stdout=subprocess.DEVNULL, stderr=open(WORK + "/mosquitto.log", "w")))
    dummy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=dummy.serve_forever, daemon=True).start()
    hport = free_port()
    sock = WORK + "/haproxy.sock"
    servers = "".join("    server node%d 127.0.0.1:%d weight 100\n" % (i, dummy.server_port) for i in range(1, 6))
    with open(WORK + "/haproxy.cfg", "w") as f:
        f.write("global\n    stats socket %s level admin\n"
                "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
                "frontend fe\n    bind 127.0.0.1:%d\n    default_backend be_nodes\n"
                "backend be_nodes\n    balance leastconn\n%s" % (sock, hport, servers))
    procs.append(subprocess.Popen(["haproxy", "-db", "-f", WORK + "/haproxy.cfg"],
                                  stdout=subprocess.DEVNULL, stderr=open(WORK + "/haproxy.log", "w")))
    wait_for(lambda: os.path.exists(sock), 5)
    s = socket.socket()
    wait_for(lambda: s.connect_ex(("127.0.0.1", mport)) == 0, 5)
    s.close()
    return mport, sock


def hap(sock, cmd):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall((cmd + "\n").encode())
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def hap_servers(sock):
    """{server: (admin_state, user_weight)} from `show servers state`."""
    lines = hap(sock, "show servers state be_nodes").splitlines()
    hdr = next(l for l in lines if l.startswith("#")).lstrip("# ").split()
    res = {}
    for l in lines:
        f = l.split()
        if len(f) == len(hdr) and not l.startswith("#"):
            r = dict(zip(hdr, f))
            res[r["srv_name"]] = (int(r["srv_admin_state"]), int(r["srv_uweight"]))
    return res


MAINT, DRAIN = 0x01, 0x08


def hap_state(sock, name):
    adm, _ = hap_servers(sock)[name]
    return "maint" if adm & MAINT else "drain" if adm & DRAIN else "ready"


# ---------------------------------------------------------------- MQTT --
class Bus:
    """The test's own MQTT client: records events, commands and status."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.events = []
        self.cmds = []  # (time, node, payload dict)
        self.status = None
        self.on_cmd = None
        self.c = mqtt.Client(client_id="test-bus", clean_session=True)
        self.c.on_message = self._msg
        self.c.on_connect = lambda c, u, f, rc: c.subscribe(
            [("nnedge/fleet/event", 1), ("nnedge/fleet/status", 1), ("nnedge/cmd/+", 1)])
        self.c.reconnect_delay_set(0.1, 0.5)
        self.c.connect("127.0.0.1", port, 30)
        self.c.loop_start()
        wait_for(lambda: self.status is not None or self.c.is_connected(), 5)
        time.sleep(0.2)

    def _msg(self, c, u, m):
        now = time.time()
        if not m.payload:
            return
        try:
            d = json.loads(m.payload)
        except ValueError:
            d = None
        with self.lock:
            if m.topic == "nnedge/fleet/event":
                self.events.append((now, d))
            elif m.topic == "nnedge/fleet/status":
                self.status = d
            elif m.topic.startswith("nnedge/cmd/"):
                self.cmds.append((now, m.topic.split("/")[2], d, m.retain))
        if m.topic.startswith("nnedge/cmd/") and self.on_cmd and d:
            self.on_cmd(m.topic.split("/")[2], d, m.retain)

    def pub(self, topic, payload, retain=False, qos=1, wait=True):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        info = self.c.publish(topic, payload, qos=qos, retain=retain)
        if wait:
            info.wait_for_publish(5)

    def find_event(self, pred, since=0):
        with self.lock:
            for t, e in self.events:
                if t >= since and e and pred(e):
                    return (t, e)
        return None

    def node(self, nid):
        with self.lock:
            st = self.status
        for n in (st or {}).get("nodes", []):
            if n.get("id") == nid:
                return n
        return None

    def dep(self, did):
        with self.lock:
            st = self.status
        for d in (st or {}).get("deployments", []):
            if d.get("id") == did:
                return d
        return None


class Agents:
    """Fake agents: births, heartbeats, and deploy reports by policy."""

    def __init__(self, bus):
        self.bus = bus
        self.bdseq = {}
        self.group = {}
        self.current = {}
        self.beating = {}
        self.last_beat = {}
        self.extra = {}  # heartbeat fields per node
        self.policy = {}  # node -> "apply" | "fail" | "rolled_back" | "silent" | ("slow", s)
        self.applied = {}  # deployment id per node already handled
        self.log = []  # (time, node, deployment, action, "start"/"end")
        self.fetch_ok = {}
        self.offline = set()  # cut off: commands are not seen until reconnect()
        self.lock = threading.Lock()
        bus.on_cmd = self.cmd
        threading.Thread(target=self._beat, daemon=True).start()

    def birth(self, nid, group, bdseq, serve="up", hap_server=None):
        self.bdseq[nid] = bdseq
        self.group[nid] = group
        b = {"v": 1, "id": nid, "group": group, "bdseq": bdseq, "time_ms": int(time.time() * 1000),
             "agent": "fake", "serve_url": "http://127.0.0.1:1", "store": {"current": self.current.get(nid),
                                                                          "previous": None},
             "serve": serve, "deployment": None}
        if hap_server:
            b["haproxy_server"] = hap_server
        self.bus.pub("nnedge/node/%s/birth" % nid, b, retain=True)
        self.beating[nid] = True

    def death(self, nid, bdseq):
        self.bus.pub("nnedge/node/%s/death" % nid, {"v": 1, "id": nid, "bdseq": bdseq}, retain=True)

    def _beat(self):
        seq = 0
        while True:
            seq += 1
            for nid, on in list(self.beating.items()):
                if on:
                    hb = {"v": 1, "id": nid, "bdseq": self.bdseq[nid], "seq": seq,
                          "time_ms": int(time.time() * 1000), "serve": "up", "load1": 0.1, "cpus": 2,
                          "inflight": 0, "queue": 0, "requests": seq, "errors": 0,
                          "latency_ms": {"p50": 0.5, "p99": 1.0}, "agent_rss_kb": 3900, "serve_rss_kb": 40000,
                          "models": []}
                    hb.update(self.extra.get(nid, {}))
                    try:
                        self.bus.pub("nnedge/node/%s/data" % nid, hb, qos=0, wait=False)
                        self.last_beat[nid] = time.time()
                    except Exception:
                        pass
            time.sleep(0.25)

    def report(self, nid, dep, state, reason=None):
        r = {"v": 1, "id": nid, "deployment": dep, "state": state, "time_ms": int(time.time() * 1000)}
        if reason:
            r["reason"] = reason
        self.bus.pub("nnedge/node/%s/deploy" % nid, r)

    def reconnect(self, nid, bdseq):
        """Back from a cut: a new birth, then the retained desired state read
        from the broker (as the real agent does on subscribe)."""
        self.offline.discard(nid)
        self.birth(nid, self.group[nid], bdseq)
        r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-t", "nnedge/cmd/" + nid,
                            "-C", "1", "-W", "1"], capture_output=True, text=True)
        if r.stdout.strip():
            self.cmd(nid, json.loads(r.stdout), True)
        return r.stdout.strip()

    def cmd(self, nid, d, retained):
        if nid in self.offline:
            return
        dep = d.get("deployment")
        if self.applied.get(nid) == dep:  # a republished desired state already handled
            return
        self.applied[nid] = dep
        pol = self.policy.get(nid, "apply")
        threading.Thread(target=self._work, args=(nid, d, pol), daemon=True).start()

    def _work(self, nid, d, pol):
        dep = d["deployment"]
        with self.lock:
            self.log.append((time.time(), nid, dep, d["action"], "start"))
        if pol == "silent":
            return
        time.sleep(0.15)
        if d["action"] == "install":
            # the package URL must serve the exact bytes the request names
            p = d["package"]
            try:
                import urllib.request
                data = urllib.request.urlopen(p["url"], timeout=5).read()
                self.fetch_ok[(nid, dep)] = (len(data) == p["bytes"] and
                                             hashlib.blake2b(data, digest_size=32).hexdigest() == p["blake2b"])
            except Exception as e:
                self.fetch_ok[(nid, dep)] = False
            self.report(nid, dep, "fetching")
        if isinstance(pol, tuple):  # ("slow", seconds): stay in `activating`
            self.report(nid, dep, "activating")
            time.sleep(pol[1])
            pol = "apply"
        if pol == "apply":
            self.report(nid, dep, "applied")
            if d["action"] == "install":
                self.current[nid] = {k: d["package"][k] for k in ("name", "version", "counter")}
        elif pol == "fail":
            self.report(nid, dep, "failed", "signature: not signed by a trusted key")
        elif pol == "rolled_back":
            self.report(nid, dep, "checking")
            time.sleep(0.1)
            self.report(nid, dep, "rolled_back", "check: top1 0.41 < min_top1 0.85")
        with self.lock:
            self.log.append((time.time(), nid, dep, d["action"], "end"))


def run_cli(args, timeout=30):
    r = subprocess.run([NNEDGE, "fleet"] + args, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


class Controller:
    def __init__(self, mport, sock, http_port):
        self.args = ["run", "--broker", "mqtt://127.0.0.1:%d" % mport, "--packages", WORK + "/packages",
                     "--http", "127.0.0.1:%d" % http_port, "--haproxy", sock, "--backend", "be_nodes",
                     "--state", WORK + "/fleet.state", "--offline-after-ms", str(OFFLINE_MS),
                     "--overload-queue", "10"]
        self.start()

    def start(self):
        self.out = open(WORK + "/controller.out", "a")
        self.p = subprocess.Popen([NNEDGE, "fleet"] + self.args, stdout=self.out,
                                  stderr=open(WORK + "/controller.err", "a"))
        procs.append(self.p)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(10)
        return rc


def make_package(version, counter):
    out = "%s/fashion-%s.nne" % (WORK, version)
    subprocess.run([NNEDGE, "pack", ROOT + "/tests/pkg/small_mlp.onnx", "-o", out, "--name", "small",
                    "--version", version, "--counter", str(counter)], check=True, capture_output=True)
    return out


def auth_tests():
    """Credentials and TLS: a broker with a password file, an ACL and a TLS
    listener; the controller and `fleet status` connect with --user,
    --password-file and --ca."""
    d = WORK + "/auth"
    os.makedirs(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    subprocess.run(["openssl", "req", "-x509"] + ec + ["-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "2",
                    "-subj", "/CN=nnedge test CA"], check=True, capture_output=True)
    subprocess.run(["openssl", "req"] + ec + ["-keyout", d + "/srv.key", "-out", d + "/srv.csr", "-subj",
                    "/CN=127.0.0.1"], check=True, capture_output=True)
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(["openssl", "x509", "-req", "-in", d + "/srv.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
                    "-CAcreateserial", "-out", d + "/srv.pem", "-days", "2", "-extfile", d + "/ext"],
                   check=True, capture_output=True)
    os.chmod(d + "/srv.key", 0o644)  # mosquitto started as root reads it as user mosquitto
    for user, pw in (("controller", "c-secret"), ("operator", "o-secret")):
        subprocess.run(["mosquitto_passwd", "-b"] + (["-c"] if user == "controller" else []) +
                       [d + "/passwd", user, pw], check=True, capture_output=True)
        with open(d + "/" + user + ".pw", "w") as f:
            f.write(pw + "\n")
    with open(d + "/bad.pw", "w") as f:
        f.write("wrong\n")
    with open(d + "/acl", "w") as f:
        f.write("user controller\ntopic readwrite nnedge/#\n\nuser operator\ntopic write nnedge/fleet/request\n"
                "topic read nnedge/fleet/#\n")
    plain, tls = free_port(), free_port()
    with open(d + "/mosquitto.conf", "w") as f:
        f.write("per_listener_settings false\nallow_anonymous false\npassword_file %s/passwd\nacl_file %s/acl\n"
                "persistence false\nlistener %d 127.0.0.1\nlistener %d 127.0.0.1\ncafile %s/ca.pem\n"
                "certfile %s/srv.pem\nkeyfile %s/srv.key\n" % (d, d, plain, tls, d, d, d))
    m = subprocess.Popen(["mosquitto", "-c", d + "/mosquitto.conf"], stdout=subprocess.DEVNULL,
                         stderr=open(d + "/mosquitto.log", "w"))
    procs.append(m)
    s = socket.socket()
    wait_for(lambda: s.connect_ex(("127.0.0.1", tls)) == 0, 5)
    s.close()
    op = ["--user", "operator", "--password-file", d + "/operator.pw"]
    t0 = time.time()
    rc, out, err = run_cli(["status", "--broker", "mqtt://127.0.0.1:%d" % plain, "--user", "operator",
                            "--password-file", d + "/bad.pw"])
    check(rc == 2 and "refused" in err and time.time() - t0 < 3, "wrong password refused: %d %r" % (rc, err))
    rc, out, err = run_cli(["status", "--broker", "mqtt://127.0.0.1:%d" % plain])
    check(rc == 2 and "refused" in err, "no credentials refused: %d %r" % (rc, err))
    rc, out, err = run_cli(["status", "--broker", "mqtts://127.0.0.1:%d" % tls] + op)
    check(rc == 2 and "TLS" in err, "TLS without --ca (the test CA is not trusted): %d %r" % (rc, err))
    os.makedirs(d + "/packages")
    # this controller's HAProxy socket accepts and never answers: the controller must keep working
    hung = socket.socket(socket.AF_UNIX)
    hung.bind(d + "/hung.sock")
    hung.listen(100)
    held = []
    threading.Thread(target=lambda: [held.append(hung.accept()) for _ in iter(int, 1)], daemon=True).start()
    ctl = subprocess.Popen([NNEDGE, "fleet", "run", "--broker", "mqtts://127.0.0.1:%d" % tls, "--ca", d + "/ca.pem",
                            "--user", "controller", "--password-file", d + "/controller.pw", "--packages",
                            d + "/packages", "--http", "127.0.0.1:0", "--client-id", "ctl-auth",
                            "--haproxy", d + "/hung.sock", "--backend", "be"],
                           stdout=open(d + "/controller.out", "w"), stderr=open(d + "/controller.err", "w"))
    procs.append(ctl)
    ok = wait_for(lambda: run_cli(["status", "--json", "--broker", "mqtts://127.0.0.1:%d" % tls, "--ca",
                                   d + "/ca.pem", "--answer-timeout-s", "1"] + op)[0] == 0, 10, 0.2)
    check(ok, "controller and operator over TLS with passwords: status read")
    # a node (the controller's own credentials stand in for one here) makes it talk to the hung HAProxy
    node = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(tls), "--cafile", d + "/ca.pem", "-u", "controller",
            "-P", "c-secret", "-q", "1"]
    subprocess.run(node + ["-t", "nnedge/node/n9/birth", "-m", json.dumps({"v": 1, "id": "n9", "group": "g",
                                                                           "bdseq": 1})], check=True)
    t0 = time.time()
    while time.time() - t0 < 4:
        subprocess.run(node + ["-t", "nnedge/node/n9/data", "-m", json.dumps({"v": 1, "id": "n9", "bdseq": 1})])
        time.sleep(0.3)
    rc, out, err = run_cli(["status", "--json", "--broker", "mqtts://127.0.0.1:%d" % tls, "--ca", d + "/ca.pem"] + op)
    n9 = [n for n in json.loads(out).get("nodes", []) if n["id"] == "n9"] if rc == 0 else []
    check(n9 and n9[0]["status"] == "ONLINE", "a silent HAProxy does not stall the controller: %s" % n9)
    check("haproxy runtime API" in open(d + "/controller.out").read() and "no answer" in
          open(d + "/controller.out").read(), "the silent HAProxy is reported as an event")
    rc, out, err = run_cli(["abort", "d-1", "--broker", "mqtts://127.0.0.1:%d" % tls, "--ca", d + "/ca.pem"] + op)
    check(rc == 2 and "no deployment d-1" in err, "operator's request answered over TLS: %d %r" % (rc, err))
    ctl.send_signal(signal.SIGTERM)
    check(ctl.wait(10) == 0, "TLS controller exits 0")
    m.terminate()


def main():
    mport, sock = start_engines()
    auth_tests()
    broker = ["--broker", "mqtt://127.0.0.1:%d" % mport]
    http_port = free_port()

    # ---- bad options: exit 2 with one line
    for args in (["run"], ["run", "--broker", "tcp://x"], ["run", "--broker", "mqtt://127.0.0.1:1"],
                 ["run", "--broker", "mqtt://h", "--packages", WORK, "--offline-after-ms", "x"],
                 ["run", "--broker", "mqtt://h", "--packages", WORK, "--haproxy", sock],
                 ["run", "--broker", "mqtt://h", "--packages", WORK, "--backend", "a b", "--haproxy", sock],
                 ["deploy", "x.nne", "--broker", "mqtt://h", "--packages", WORK],
                 ["deploy", "--group", "g", "--broker", "mqtt://h", "--packages", WORK],
                 ["deploy", WORK + "/none.nne", "--group", "g", "--broker", "mqtt://h", "--packages", WORK],
                 ["deploy", "x.nne", "--group", "g", "--rate", "0", "--broker", "mqtt://h", "--packages", WORK],
                 ["deploy", "x.nne", "--group", "g", "--check-data", "x.npy", "--broker", "mqtt://h",
                  "--packages", WORK],
                 ["run", "--broker", "mqtt://h", "--packages", WORK, "--state", WORK + "/no/such/dir/state"],
                 ["run", "--broker", "mqtt://h", "--packages", WORK, "--state", WORK + "/bad.state"],
                 ["abort", "--broker", "mqtt://h"], ["status", "--bogus"], ["bogus"], []):
        with open(WORK + "/bad.state", "w") as f:
            f.write('{"v":1,"next":3,"deployments":[{"id":"d-1"}],"desired":{}}')
        rc, out, err = run_cli(args)
        check(rc == 2 and err.count("\n") == 1, "fleet %s: exit %d, stderr %r" % (" ".join(args), rc, err))

    bus = Bus(mport)
    agents = Agents(bus)
    agents.port = mport
    for i in range(1, 6):  # HAProxy starts with every server in maint: the controller must set them
        hap(sock, "set server be_nodes/node%d state maint" % i)
    ctl = Controller(mport, sock, http_port)

    # ---- births: ONLINE and HAProxy ready
    for i in range(1, 5):
        agents.current["node%d" % i] = {"name": "small", "version": "1.0.0", "counter": 1}
        agents.birth("node%d" % i, "edge", 7)
    agents.current["node5"] = {"name": "small", "version": "1.0.0", "counter": 1}
    agents.birth("node5", "other", 3)
    ok = wait_for(lambda: all((bus.node("node%d" % i) or {}).get("status") == "ONLINE" for i in range(1, 6)), 10)
    check(ok, "5 nodes ONLINE after their births")
    ok = wait_for(lambda: all(hap_state(sock, "node%d" % i) == "ready" for i in range(1, 6)), 5)
    check(ok, "HAProxy: every server ready (was maint): %s" % hap_servers(sock))

    # ---- status JSON fields
    n1 = bus.node("node1")
    for k in ("id", "group", "status", "bdseq", "last_seen_ms", "serve", "current", "haproxy", "weight", "load"):
        check(n1 is not None and k in n1, "status node field %s: %s" % (k, n1))
    check(n1 and n1["current"] == {"name": "small", "version": "1.0.0", "counter": 1} and n1["haproxy"] == "ready"
          and n1["weight"] == 100 and n1["bdseq"] == 7, "status node1 values: %s" % n1)
    wait_for(lambda: (bus.node("node1") or {}).get("load"), 3)
    check(isinstance((bus.node("node1") or {}).get("load"), dict), "status node1 has load from heartbeats")

    # ---- death with a stale bdseq: ignored
    t0 = time.time()
    agents.death("node2", 6)
    ev = wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "stale" and e.get("node") == "node2", t0), 3)
    check(ev, "stale death of node2 reported as ignored")
    time.sleep(0.3)
    check(bus.node("node2")["status"] == "ONLINE" and hap_state(sock, "node2") == "ready",
          "node2 still ONLINE after a stale death")

    # ---- death with the right bdseq: OFFLINE at once, HAProxy maint
    t0 = time.time()
    agents.beating["node2"] = False
    agents.death("node2", 7)
    ev = wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "offline" and e.get("node") == "node2", t0), 3)
    check(ev and ev[0] - t0 < 1.0, "node2 OFFLINE on its death in %.2f s" % ((ev[0] - t0) if ev else -1))
    measure("death -> OFFLINE event", ev[0] - t0 if ev else None)
    # an agent's session says nothing about its server: HAProxy's checks judge it, the controller leaves it ready
    time.sleep(1.0)
    check(hap_state(sock, "node2") == "ready" and not bus.find_event(
        lambda e: e.get("kind") == "haproxy" and e.get("node") == "node2", t0),
        "HAProxy node2 left ready after its agent's death: %s" % hap_state(sock, "node2"))
    t0 = time.time()
    agents.birth("node2", "edge", 8)
    ev = wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "online" and e.get("node") == "node2", t0), 3)
    check(ev, "node2 ONLINE again on a new birth")
    check(wait_for(lambda: hap_state(sock, "node2") == "ready", 3), "HAProxy node2 ready after its birth")

    # ---- a real last will: kill -9 of an MQTT client whose will is node6's death
    will = {"v": 1, "id": "node6", "bdseq": 1}
    agents.birth("node6", "spare", 1)
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mport), "-i", "node6", "-t",
                            "nnedge/cmd/node6", "-k", "5", "--will-topic", "nnedge/node/node6/death",
                            "--will-payload", json.dumps(will), "--will-retain", "--will-qos", "1"],
                           stdout=subprocess.DEVNULL)
    procs.append(sub)
    check(wait_for(lambda: (bus.node("node6") or {}).get("status") == "ONLINE", 3), "node6 ONLINE")
    time.sleep(0.5)
    t0 = time.time()
    sub.kill()
    ev = wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "offline" and e.get("node") == "node6", t0), 5)
    check(ev and ev[0] - t0 < 2.0, "kill -9: node6 OFFLINE by its last will in %.2f s" % ((ev[0] - t0) if ev else -1))
    measure("kill -9 of a client -> its will -> OFFLINE event", ev[0] - t0 if ev else None)
    agents.beating["node6"] = False

    # ---- heartbeat timeout (SIGSTOP-like): OFFLINE after --offline-after-ms, back with heartbeats
    agents.beating["node3"] = False
    t0 = time.time()
    ev = wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "offline" and e.get("node") == "node3", t0), 5)
    dt = (ev[0] - agents.last_beat["node3"]) if ev else -1
    check(ev and OFFLINE_MS / 1000 - 0.05 <= dt <= OFFLINE_MS / 1000 + 0.5,
          "node3 OFFLINE %.2f s after its last heartbeat (--offline-after-ms %d)" % (dt, OFFLINE_MS))
    measure("last heartbeat -> OFFLINE event (--offline-after-ms %d)" % OFFLINE_MS, dt)
    check(hap_state(sock, "node3") == "ready", "HAProxy node3 left ready after the heartbeat timeout")
    t0 = time.time()
    agents.beating["node3"] = True
    ev = wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "online" and e.get("node") == "node3", t0), 3)
    check(ev, "node3 ONLINE again when its heartbeats resume")
    check(wait_for(lambda: hap_state(sock, "node3") == "ready", 3), "HAProxy node3 ready again")

    # ---- serve down -> maint; overloaded -> weight lowered; and back
    agents.extra["node4"] = {"serve": "down"}
    check(wait_for(lambda: hap_state(sock, "node4") == "maint", 3), "HAProxy node4 maint while its server is down")
    # every live agent says its server is down: the controller keeps the last ready server(s) in service
    t0 = time.time()
    for i in range(1, 6):
        agents.extra["node%d" % i] = {"serve": "down"}
    time.sleep(1.5)
    states = [hap_state(sock, "node%d" % i) for i in range(1, 6)]
    check("ready" in states and bus.find_event(lambda e: e.get("kind") == "haproxy" and "kept ready" in e.get("text", ""),
                                               t0), "every server down: the last ready one(s) kept: %s" % states)
    for i in range(1, 4):
        agents.extra["node%d" % i] = {}
    agents.extra["node5"] = {}
    check(wait_for(lambda: [hap_state(sock, "node%d" % i) for i in range(1, 6)] ==
                   ["ready", "ready", "ready", "maint", "ready"], 3),
          "servers back up ready, node4 (still down) maint now: %s" % hap_servers(sock))
    agents.extra["node4"] = {"queue": 50}
    check(wait_for(lambda: hap_servers(sock)["node4"] == (0, 10), 3),
          "HAProxy node4 ready with weight 10 while overloaded: %s" % (hap_servers(sock)["node4"],))
    agents.extra["node4"] = {}
    check(wait_for(lambda: hap_servers(sock)["node4"] == (0, 100), 5),
          "HAProxy node4 weight 100 again after it recovers: %s" % (hap_servers(sock)["node4"],))

    # ---- the package server
    pk1 = make_package("1.1.0", 2)
    os.makedirs(WORK + "/packages/data", exist_ok=True)
    with open(WORK + "/packages/data/a.bin", "wb") as f:
        f.write(b"x" * 1000)
    with open(WORK + "/secret", "w") as f:
        f.write("secret")
    os.symlink(WORK + "/secret", WORK + "/packages/data/link.bin")
    os.symlink(WORK, WORK + "/packages/up")

    def get(path, method="GET"):
        c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, r.getheader("Content-Length"), body

    st, cl, body = get("/data/a.bin")
    check(st == 200 and cl == "1000" and body == b"x" * 1000, "pkgserve GET a file: %s %s" % (st, cl))
    st, cl, body = get("/data/a.bin", "HEAD")
    check(st == 200 and cl == "1000" and body == b"", "pkgserve HEAD: %s %s" % (st, cl))
    for path in ("/data/none.bin", "/data/link.bin", "/up/secret", "/../secret", "/data/../../secret",
                 "/data/%2e%2e/%2e%2e/secret", "/data", "/", "/.hidden", "//etc/passwd", "/data/a.bin/x"):
        st, cl, body = get(path)
        check(st == 404 and b"secret" not in body, "pkgserve %s: %s" % (path, st))
    st, _, _ = get("/data/a.bin", "POST")
    check(st == 405, "pkgserve POST: %s" % st)
    st, _, _ = get("/data/a.bin", "DELETE")
    check(st == 405, "pkgserve DELETE: %s" % st)

    # ---- deployment 1: canary first, then the rest at --rate 2; node5 (group other) untouched
    agents.policy.update({"node1": "apply", "node2": "apply", "node3": ("slow", 1.2), "node4": "apply"})
    t0 = time.time()
    cmds0 = len(bus.cmds)
    done = {}

    def watch_drain():  # node3 stays in `activating` 1.2 s: HAProxy must drain it meanwhile
        done["drain"] = wait_for(lambda: hap_state(sock, "node3") == "drain", 8)
    th = threading.Thread(target=watch_drain)
    th.start()
    rc, out, err = run_cli(["deploy", pk1, "--group", "edge", "--packages", WORK + "/packages", "--rate", "2",
                            "--wait"] + broker, timeout=40)
    th.join()
    check(rc == 0, "deploy --wait of d-1 exits 0: %d %s %s" % (rc, out[-300:], err))
    check("done" in out, "deploy --wait prints the events up to done: %r" % out[-300:])
    d1 = wait_for(lambda: (bus.dep("d-1") or {}).get("state") == "done" and bus.dep("d-1"), 3)
    check(d1 and d1["state"] == "done" and all(d1["nodes"].get("node%d" % i) == "applied" for i in range(1, 5)),
          "d-1 done, node1..4 applied: %s" % d1)
    check(done.get("drain"), "HAProxy node3 drained while activating")
    check(wait_for(lambda: hap_state(sock, "node3") == "ready", 3), "HAProxy node3 ready after activating")
    starts = [(t, n) for t, n, d, a, s in agents.log if d == "d-1" and s == "start"]
    order = [n for t, n in sorted(starts)]
    check(order and order[0] == "node1" and sorted(order) == ["node1", "node2", "node3", "node4"],
          "d-1 canary node1 first, then the others: %s" % order)
    canary_end = [t for t, n, d, a, s in agents.log if d == "d-1" and n == "node1" and s == "end"]
    check(canary_end and all(t >= canary_end[0] - 0.05 for t, n in starts if n != "node1"),
          "d-1: no node before the canary's applied report")
    # at most 2 at a time after the canary
    ev = sorted((t, +1 if s == "start" else -1) for t, n, d, a, s in agents.log if d == "d-1" and n != "node1")
    cur = peak = 0
    for t, x in ev:
        cur += x
        peak = max(peak, cur)
    check(peak == 2, "d-1: at most --rate 2 nodes at a time (peak %d)" % peak)
    check(not any(n == "node5" for t, n, d, r in bus.cmds[cmds0:]), "node5 (group other) got no command")
    check(all(agents.fetch_ok.get(("node%d" % i, "d-1")) for i in range(1, 5)),
          "every agent downloaded the package from the controller with the right size and BLAKE2b")
    c1 = [d for t, n, d, r in bus.cmds if n == "node1" and d.get("deployment") == "d-1"]
    check(c1 and c1[0]["action"] == "install" and c1[0]["package"]["name"] == "small" and
          c1[0]["package"]["version"] == "1.1.0" and c1[0]["package"]["counter"] == 2 and c1[0]["v"] == 1,
          "d-1 desired state: %s" % (c1[:1],))
    check(wait_for(lambda: bus.node("node1")["current"] == {"name": "small", "version": "1.1.0", "counter": 2}, 3),
          "status node1 current is 1.1.0 after d-1")

    # ---- deployment 2: the canary's accuracy check fails -> abort at once, nobody else touched
    pk2 = make_package("1.2.0", 3)
    x = ROOT + "/tests/pkg/small_mlp_x.npy"
    agents.policy.update({"node1": "rolled_back"})
    cmds0 = len(bus.cmds)
    t0 = time.time()
    rc, out, err = run_cli(["deploy", pk2, "--group", "edge", "--packages", WORK + "/packages", "--check-data", x,
                            "--check-labels", x, "--min-top1", "0.85", "--wait"] + broker, timeout=30)
    check(rc == 1, "deploy --wait of a bad canary exits 1: %d %r %r" % (rc, out[-300:], err))
    d2 = wait_for(lambda: (bus.dep("d-2") or {}).get("state") == "aborted" and bus.dep("d-2"), 3)
    check(d2 and "canary node1" in d2.get("reason", ""), "d-2 aborted because of the canary: %s" % d2)
    new = [(n, d.get("deployment")) for t, n, d, r in bus.cmds[cmds0:]]
    check(new == [("node1", "d-2")], "d-2: only the canary got a desired state: %s" % new)
    c2 = [d for t, n, d, r in bus.cmds[cmds0:]]
    check(c2 and c2[0].get("check", {}).get("min_top1") == 0.85 and c2[0]["check"]["data_url"].startswith("http://"),
          "d-2 desired state carries the check: %s" % c2[:1])
    rep = [t for t, n, d, a, s in agents.log if d == "d-2" and s == "end"]
    ab = bus.find_event(lambda e: e.get("kind") == "aborted" and e.get("deployment") == "d-2", t0)
    check(rep and ab and ab[0] - rep[0] < 1.0, "d-2 aborted %.2f s after the canary's report" %
          ((ab[0] - rep[0]) if rep and ab else -1))
    measure("canary rolled_back report -> aborted event", ab[0] - rep[0] if rep and ab else None)
    agents.current["node1"] = {"name": "small", "version": "1.1.0", "counter": 2}

    # ---- deployment 3: failures beyond --abort-threshold -> rollback of the upgraded nodes
    pk3 = make_package("1.3.0", 4)
    agents.policy.update({"node1": "apply", "node2": "apply", "node3": "fail", "node4": "fail"})
    cmds0 = len(bus.cmds)
    rc, out, err = run_cli(["deploy", pk3, "--group", "edge", "--packages", WORK + "/packages", "--rate", "1",
                            "--abort-threshold", "0.3", "--wait"] + broker, timeout=30)
    check(rc == 1, "d-3 deploy --wait exits 1 (aborted): %d %r" % (rc, err))
    d3 = wait_for(lambda: (bus.dep("d-3") or {}).get("rollback", {}).get("node2") == "applied" and bus.dep("d-3"), 5)
    check(d3 and d3["state"] == "aborted" and "2 of 4" in d3.get("reason", ""), "d-3 aborted at 2 of 4: %s" % d3)
    rbs = [(n, d) for t, n, d, r in bus.cmds[cmds0:] if d.get("action") == "rollback"]
    check(sorted(n for n, d in rbs) == ["node1", "node2"], "d-3 rollback sent to node1 and node2 only: %s" % rbs)
    check(all(d["package"] == {"name": "small", "version": "1.1.0", "counter": 2} and
              d["deployment"] == "d-3-rollback" for n, d in rbs), "d-3 rollback to 1.1.0 counter 2: %s" % rbs)
    check(d3 and d3.get("rollback") == {"node1": "applied", "node2": "applied"}, "d-3 rollbacks applied: %s" % d3)
    order = [n for t, n, d, a, s in sorted(agents.log) if d == "d-3" and s == "start"]
    check(order == ["node1", "node2", "node3", "node4"], "d-3 order with --rate 1: %s" % order)

    # ---- per-node timeout (group other, silent canary) and an active deployment blocks another
    pk4 = make_package("1.4.0", 5)
    agents.policy["node5"] = "silent"
    rc, out, err = run_cli(["deploy", pk4, "--group", "other", "--packages", WORK + "/packages",
                            "--timeout-s", "1", "--wait"] + broker, timeout=30)
    d4 = wait_for(lambda: (bus.dep("d-4") or {}).get("state") == "aborted" and bus.dep("d-4"), 3) or {}
    check(rc == 1 and d4.get("nodes", {}).get("node5") == "timeout", "d-4 canary timeout -> aborted: %d %s" % (rc, d4))
    rc, out, err = run_cli(["deploy", pk4, "--group", "nogroup", "--packages", WORK + "/packages"] + broker)
    check(rc == 2 and "no node in group" in err, "deploy to an empty group rejected: %d %r" % (rc, err))

    # ---- fleet abort, and a restarted controller that continues from --state
    agents.policy["node5"] = "silent"
    pk5 = make_package("1.5.0", 6)
    rc, out, err = run_cli(["deploy", pk5, "--group", "other", "--packages", WORK + "/packages"] + broker)
    check(rc == 0 and out.strip() == "d-5", "deploy without --wait prints the id: %d %r %r" % (rc, out, err))
    rc, out, err = run_cli(["deploy", pk5, "--group", "other", "--packages", WORK + "/packages"] + broker)
    check(rc == 2 and "still running" in err, "a second deployment to a busy group is rejected: %r" % err)
    rc, out, err = run_cli(["abort", "d-5"] + broker)
    check(rc == 0 and wait_for(lambda: (bus.dep("d-5") or {}).get("state") == "aborted", 3),
          "fleet abort d-5: %d %r" % (rc, err))
    rc, out, err = run_cli(["abort", "d-5"] + broker)
    check(rc == 2 and "already ended" in err, "abort of an ended deployment: %d %r" % (rc, err))

    agents.policy["node5"] = "silent"
    pk6 = make_package("1.6.0", 7)
    rc, out, err = run_cli(["deploy", pk6, "--group", "other", "--packages", WORK + "/packages",
                            "--timeout-s", "60"] + broker)
    check(rc == 0 and out.strip() == "d-6", "d-6 accepted: %r %r" % (out, err))
    wait_for(lambda: any(n == "node5" and d == "d-6" for t, n, d, a, s in agents.log), 3)
    check(ctl.stop() == 0, "controller exits 0 on SIGTERM")
    bus.pub("nnedge/cmd/node1", b"", retain=True)  # cleared behind the controller's back
    agents.report("node5", "d-6", "applied")  # while the controller is down: the broker queues it
    cmds0 = len(bus.cmds)
    ctl.start()
    check(wait_for(lambda: any(n == "node1" for t, n, d, r in bus.cmds[cmds0:]), 5),
          "restarted controller republishes node1's desired state")
    r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mport), "-t", "nnedge/cmd/node1", "-C", "1",
                        "-W", "3"], capture_output=True, text=True)
    check('"d-3-rollback"' in r.stdout, "node1's desired state is retained again: %r" % r.stdout)
    check(wait_for(lambda: (bus.dep("d-6") or {}).get("state") == "done", 5),
          "restarted controller continues d-6 to done: %s" % bus.dep("d-6"))
    check(bus.dep("d-1") and bus.dep("d-1")["state"] == "done", "d-1 kept across the restart")
    check(wait_for(lambda: (bus.node("node1") or {}).get("status") == "ONLINE", 5), "nodes back from retained births")
    time.sleep(0.5)
    check((bus.node("node6") or {}).get("status") == "OFFLINE",
          "node6 OFFLINE after the restart (retained death with its birth's bdseq): %s" % bus.node("node6"))
    t0 = time.time()
    agents.birth("node6", "spare", 1)  # live, same number as its death (a wiped store): a new session
    check(wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "online" and e.get("node") == "node6", t0), 3),
          "a live birth with the dead session's bdseq brings node6 back ONLINE")
    agents.beating["node6"] = False

    # ---- a deployment while node1 and node3 are OFFLINE: the canary is the first ONLINE node (node2), the
    # OFFLINE ones get their desired state retained ("pending"), the rollout ends done for the ONLINE ones,
    # and a node applies its desired state when it reconnects
    for nid in ("node1", "node3"):
        agents.offline.add(nid)
        agents.beating[nid] = False
        agents.death(nid, agents.bdseq[nid])
    check(wait_for(lambda: all((bus.node(n) or {}).get("status") == "OFFLINE" for n in ("node1", "node3")), 3),
          "node1 and node3 OFFLINE (deaths)")
    agents.policy.update({"node1": "apply", "node2": "apply", "node3": "apply", "node4": "apply"})
    pk7 = make_package("1.7.0", 8)
    rc, out, err = run_cli(["deploy", pk7, "--group", "edge", "--packages", WORK + "/packages", "--wait"] + broker,
                           timeout=30)
    check(rc == 0, "d-7 with 2 of 4 nodes OFFLINE: deploy --wait exits 0: %d %r %r" % (rc, out[-300:], err))
    d7 = wait_for(lambda: (bus.dep("d-7") or {}).get("state") == "done" and bus.dep("d-7"), 3) or {}
    check(d7.get("canaries") == ["node2"] and d7.get("nodes") == {"node1": "pending", "node2": "applied",
                                                                  "node3": "pending", "node4": "applied"}
          and "OFFLINE" in d7.get("reason", ""), "d-7 done, canary node2, node1/node3 pending: %s" % d7)
    order = [n for t, n, d, a, s in sorted(agents.log) if d == "d-7" and s == "start"]
    check(order == ["node2", "node4"], "d-7 ran on the ONLINE nodes, canary first: %s" % order)
    check(hap_state(sock, "node1") == "ready" and hap_state(sock, "node3") == "ready",
          "HAProxy: the OFFLINE nodes' servers left ready: %s" % hap_servers(sock))
    t0 = time.time()
    got = [agents.reconnect("node1", agents.bdseq["node1"] + 1), agents.reconnect("node3", agents.bdseq["node3"] + 1)]
    check(all('"d-7"' in g for g in got), "node1/node3 find d-7 retained on reconnection: %s" % got)
    ok = wait_for(lambda: (bus.dep("d-7") or {}).get("nodes", {}).get("node1") == "applied" and
                  bus.dep("d-7")["nodes"].get("node3") == "applied", 5)
    check(ok, "d-7 applied by node1 and node3 <= 5 s after they reconnect: %s" % bus.dep("d-7"))
    measure("reconnection -> pending deployment applied (2 nodes)", time.time() - t0 if ok else None)

    # ---- an aborted deployment retracts the desired state of the nodes that did not apply it
    agents.beating["node3"] = False
    agents.offline.add("node3")
    agents.death("node3", agents.bdseq["node3"])
    check(wait_for(lambda: (bus.node("node3") or {}).get("status") == "OFFLINE", 3), "node3 OFFLINE again")
    agents.policy.update({"node2": "silent"})
    pk8 = make_package("1.8.0", 9)
    rc, out, err = run_cli(["deploy", pk8, "--group", "edge", "--packages", WORK + "/packages"] + broker)
    check(rc == 0 and out.strip() == "d-8", "d-8 accepted: %r %r" % (out, err))
    ok = wait_for(lambda: (bus.dep("d-8") or {}).get("nodes", {}).get("node3") == "pending" and
                  bus.dep("d-8")["nodes"].get("node2") == "sent", 5)
    check(ok, "d-8: canary node1 applied, node2 at work (silent), node3 pending: %s" % bus.dep("d-8"))
    t0 = time.time()
    rc, out, err = run_cli(["abort", "d-8"] + broker)
    check(rc == 0 and wait_for(lambda: (bus.dep("d-8") or {}).get("state") == "aborted", 3), "fleet abort d-8")
    check(wait_for(lambda: bus.find_event(lambda e: e.get("kind") == "retract" and e.get("node") == "node3", t0), 3),
          "d-8 abort retracts node3's desired state")
    check(wait_for(lambda: (bus.dep("d-8") or {}).get("nodes", {}).get("node3") == "retracted" and
                   bus.dep("d-8")["nodes"].get("node2") == "retracted", 3),
          "d-8: node2 (at work) and node3 (OFFLINE) retracted: %s" % bus.dep("d-8"))
    got = agents.reconnect("node3", agents.bdseq["node3"] + 1)
    time.sleep(0.5)
    check(got == "" and not any(n == "node3" and d == "d-8" for t, n, d, a, s in agents.log),
          "node3 finds no desired state on reconnection and installs nothing: %r" % got)
    check(wait_for(lambda: (bus.dep("d-8") or {}).get("rollback", {}).get("node1") == "applied", 3),
          "d-8: the canary rolled back: %s" % bus.dep("d-8"))
    agents.policy.update({"node2": "apply"})

    # ---- no ONLINE node in the group: the deployment is accepted and waits for one as its canary
    rc, out, err = run_cli(["deploy", pk8, "--group", "spare", "--packages", WORK + "/packages"] + broker)
    check(rc == 0 and out.strip() == "d-9" and
          wait_for(lambda: (bus.dep("d-9") or {}).get("nodes") == {"node6": "pending"}, 3) and
          bus.dep("d-9")["state"] == "canary" and
          bus.find_event(lambda e: e.get("kind") == "accepted" and "waiting" in e.get("text", "")),
          "d-9 to a group with only OFFLINE nodes waits: %r %r %s" % (out, err, bus.dep("d-9")))
    rc, out, err = run_cli(["abort", "d-9"] + broker)
    check(rc == 0, "fleet abort d-9: %r" % err)

    # ---- broker down for 3 s (> --offline-after-ms): HAProxy keeps every node ready; after the
    # broker returns (it lost every retained message) the controller republishes the desired states
    # Each of node1..node4 gets a real last will (its death): a SIGTERM'ed Mosquitto publishes every
    # will before it closes, so the controller sees 4 deaths; their servers must stay in service.
    wills = []
    for i in range(1, 5):
        nid = "node%d" % i
        wills.append(subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mport), "-i", nid + "-will",
                                       "-t", "nnedge/cmd/" + nid, "-k", "5", "--will-topic",
                                       "nnedge/node/%s/death" % nid, "--will-payload",
                                       json.dumps({"v": 1, "id": nid, "bdseq": agents.bdseq[nid]}),
                                       "--will-retain", "--will-qos", "1"], stdout=subprocess.DEVNULL))
    procs.extend(wills)
    time.sleep(0.5)
    with open(WORK + "/controller.out") as f:
        deaths0 = f.read().count("OFFLINE (death)")
    mosq = procs[0]
    mosq.terminate()
    mosq.wait(5)
    agents.policy["node5"] = "apply"
    pk9 = make_package("1.9.0", 10)
    time.sleep(0.5)
    # a deployment issued while the broker is down waits for it (--timeout-s) and goes out when it is back
    dep_p = subprocess.Popen([NNEDGE, "fleet", "deploy", pk9, "--group", "other", "--packages", WORK + "/packages",
                              "--timeout-s", "20"] + broker, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    down = []
    for _ in range(6):
        time.sleep(0.5)
        down.append(tuple(hap_state(sock, "node%d" % i) for i in range(1, 6)))
    with open(WORK + "/controller.out") as f:
        deaths = f.read().count("OFFLINE (death)") - deaths0
    # (Mosquitto sends each will as it closes that client: those closed after the controller are lost to it)
    check(deaths >= 1, "the broker's SIGTERM sent the wills: the controller saw %d of 4 deaths" % deaths)
    check(all(d == ("ready",) * 5 for d in down), "HAProxy untouched while the broker is down (after 4 wills): %s" %
          (down,))
    check(dep_p.poll() is None, "fleet deploy still waiting for the broker")
    procs[0] = subprocess.Popen(["mosquitto", "-c", WORK + "/mosquitto.conf"], stdout=subprocess.DEVNULL,
                                stderr=open(WORK + "/mosquitto2.log", "w"))
    t_back = time.time()
    try:
        out, err = dep_p.communicate(timeout=25)
    except subprocess.TimeoutExpired:
        dep_p.kill()
        out, err = dep_p.communicate()
    check(dep_p.returncode == 0 and out.strip() == "d-10" and "retrying" in err,
          "fleet deploy issued while the broker was down is accepted when it is back: %d %r %r" %
          (dep_p.returncode, out, err))
    measure("broker back -> deploy issued meanwhile accepted", time.time() - t_back)
    check(wait_for(lambda: (bus.dep("d-10") or {}).get("state") == "done", 5), "d-10 done: %s" % bus.dep("d-10"))
    for i in range(1, 5):  # the agents come back with new sessions
        agents.birth("node%d" % i, "edge", agents.bdseq["node%d" % i] + 1)

    def retained_cmd():
        r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mport), "-t", "nnedge/cmd/node1", "-C",
                            "1", "-W", "1"], capture_output=True, text=True)
        return '"d-8-rollback"' in r.stdout
    check(wait_for(retained_cmd, 8, 0.2), "desired state retained again after the broker restart")
    # (the event itself can go out before the test's own client is back: read the controller's timeline)
    with open(WORK + "/controller.out") as f:
        check(f.read().count("connected to the broker") >= 3, "broker event after the restart")
    time.sleep(2.0)
    check(all((bus.node("node%d" % i) or {}).get("status") == "ONLINE" for i in range(1, 6)) and
          all(hap_state(sock, "node%d" % i) == "ready" for i in range(1, 6)),
          "nodes ONLINE and ready after the broker outage: %s" % [(bus.node("node%d" % i) or {}).get("status")
                                                                  for i in range(1, 6)])

    # ---- status: retained, every second; --json and the table
    rc, out, err = run_cli(["status", "--json"] + broker)
    st = json.loads(out) if rc == 0 else {}
    check(rc == 0 and st.get("v") == 1 and len(st.get("nodes", [])) >= 5 and
          {"id", "group", "package", "state", "nodes"} <= set((st.get("deployments") or [{}])[0]),
          "fleet status --json: %d %r" % (rc, out[:300]))
    rc, out, err = run_cli(["status"] + broker)
    check(rc == 0 and "node1" in out and "d-3" in out and "ONLINE" in out, "fleet status table: %r" % out[:400])
    t1 = (bus.status or {}).get("time_ms", 0)
    time.sleep(1.3)
    check((bus.status or {}).get("time_ms", 0) > t1, "status republished at least every second")

    # ---- hostile payloads: the controller stays up and keeps answering
    big = "x" * 70000
    hostile = [
        ("nnedge/node/node1/birth", b"{"), ("nnedge/node/node1/birth", b"[1,2]"),
        ("nnedge/node/node1/birth", b"\xff\xfe"), ("nnedge/node/node1/birth", b"[" * 100000),
        ("nnedge/node/node1/birth", b"[" * 30000 + b"]" * 30000), ("nnedge/node/node1/birth", b'{"v":1' * 5000),
        ("nnedge/node/node1/birth", b'{"a":' * 10000 + b'1' + b'}' * 10000),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": big})),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": -1})),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": 1e400})),
        ("nnedge/node/node1/birth", '{"v":1,"id":"node1","bdseq":1,"bdseq":2}'),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node2", "bdseq": 9})),
        ("nnedge/node/node1/birth", json.dumps({"v": 2, "id": "node1", "bdseq": 9})),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": 9, "haproxy_server": "a; disable"})),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": 9, "haproxy_server": "x\nshow"})),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": 9, "store": {"current": 5}})),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": 9, "store": {"current": {
            "name": big, "version": "1", "counter": 1}}})),
        ("nnedge/node/node1/birth", '{"v":1,"id":"node1\\u0000x","bdseq":9}'),
        ("nnedge/node/node1/birth", json.dumps({"v": 1, "id": "node1", "bdseq": 9, "group": "../../x"})),
        ("nnedge/node/node1/death", json.dumps({"v": 1, "id": "node1", "bdseq": "8"})),
        ("nnedge/node/node1/death", json.dumps({"v": 1, "id": "node1"})),
        ("nnedge/node/node1/data", json.dumps({"v": 1, "id": "node1", "bdseq": 7, "queue": "a"})),
        ("nnedge/node/node1/data", json.dumps({"v": 1, "id": "node1", "bdseq": 7, "latency_ms": [1]})),
        ("nnedge/node/node1/data", json.dumps({"v": 1, "id": "node1", "bdseq": 7, "load1": -5})),
        ("nnedge/node/node1/deploy", json.dumps({"v": 1, "id": "node1", "deployment": 5, "state": "applied"})),
        ("nnedge/node/node1/deploy", json.dumps({"v": 1, "id": "node1", "deployment": "d-1", "state": "pwned"})),
        ("nnedge/node/node1/deploy", json.dumps({"v": 1, "id": "node1", "deployment": "d-9999", "state": "applied"})),
        ("nnedge/node/node1/deploy", json.dumps({"v": 1, "id": "node1", "deployment": big, "state": "applied"})),
        ("nnedge/node/node1/deploy", json.dumps({"v": 1, "id": "node1", "deployment": "-rollback",
                                                 "state": "applied"})),
        ("nnedge/node/" + "a" * 65 + "/birth", json.dumps({"v": 1, "id": "a" * 65, "bdseq": 1})),
        ("nnedge/node/a.b/birth", json.dumps({"v": 1, "id": "a.b", "bdseq": 1})),
        ("nnedge/node/x/y/birth", json.dumps({"v": 1, "id": "x", "bdseq": 1})),
        ("nnedge/node//birth", json.dumps({"v": 1, "id": "", "bdseq": 1})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "deploy"})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "deploy", "request": "h1"})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "deploy", "request": "h2", "group": "edge",
                                             "package": {"file": "../secret", "name": "a", "version": "1",
                                                         "counter": 1, "bytes": 6, "blake2b": "0" * 64}})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "deploy", "request": "h3", "group": "edge",
                                             "package": {"file": "up/secret", "name": "a", "version": "1",
                                                         "counter": 1, "bytes": 6, "blake2b": "0" * 64}})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "deploy", "request": "h4", "group": "edge",
                                             "package": {"file": "data/a.bin", "name": "a", "version": "1",
                                                         "counter": 1, "bytes": 1000, "blake2b": "0" * 64}})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "deploy", "request": "h5", "group": "edge",
                                             "canary": 0})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "abort", "request": "h6", "deployment": "d-404"})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "reboot", "request": "h7"})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "abort", "request": "h9", "deployment": "d-6",
                                             "expires_ms": 1000})),
        ("nnedge/fleet/request", json.dumps({"v": 1, "op": "abort", "request": "h8;x", "deployment": "d-1"})),
    ]
    t0 = time.time()
    for topic, payload in hostile:
        bus.pub(topic, payload)
    time.sleep(1.0)
    check(ctl.p.poll() is None, "controller alive after %d hostile messages" % len(hostile))
    for r in ("h1", "h2", "h3", "h4", "h5", "h6", "h7", "h9"):
        check(bus.find_event(lambda e: e.get("kind") == "rejected" and e.get("request") == r, t0),
              "hostile request %s rejected" % r)
    check(not bus.find_event(lambda e: e.get("kind") == "accepted", t0), "no hostile request accepted")
    n1 = bus.node("node1")
    check(n1 and n1["bdseq"] == agents.bdseq["node1"] and n1["status"] == "ONLINE" and n1["group"] == "edge",
          "node1 unchanged by the hostile births: %s" % n1)
    check(hap_state(sock, "node1") == "ready" and "a; disable" not in hap(sock, "show servers state be_nodes"),
          "HAProxy untouched by hostile names")
    t1 = (bus.status or {}).get("time_ms", 0)
    check(wait_for(lambda: (bus.status or {}).get("time_ms", 0) > t1, 3), "status still published")
    check(ctl.stop() == 0, "controller exits 0 on SIGTERM at the end")
    err = open(WORK + "/controller.err").read()
    check("ERROR: AddressSanitizer" not in err and "runtime error" not in err, "no sanitizer report: %s" % err[-500:])


if __name__ == "__main__":
    t_start = time.time()
    try:
        main()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    print("\n".join(measured))
    print("fleet controller: %d passed, %d failed (%.1f s)" % (passed, failed, time.time() - t_start))
    sys.exit(1 if failed else 0)
