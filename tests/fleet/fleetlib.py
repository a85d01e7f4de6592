"""A local nnedge fleet on loopback for the tests and `make fleet-demo`:
renders conf/mosquitto and conf/haproxy into a temporary directory and
starts Mosquitto (TLS, passwords, ACL), HAProxy, N x (`nnedge serve` +
`nnedge agent`) and the controller (`nnedge fleet run`) on free loopback
ports. Every child is stopped when the harness exits, also on an exception
or a signal (atexit + SIGTERM/SIGINT/SIGHUP handlers); should the harness be
killed with SIGKILL, the children get SIGKILL from the kernel
(PR_SET_PDEATHSIG). Children are only ever started from the main thread (the
death signal follows the thread that started them).

    f = Fleet()                       # temp dir, certificates, passwords
    f.broker()                        # mosquitto
    s = f.serve("node1", repo)        # nnedge serve, port chosen by the kernel
    f.haproxy({"node1": s.port, ...})
    f.admin("show servers state nodes")
    f.close()                         # also at exit
"""
import atexit
import ctypes
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import json
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
NNEDGE = os.path.abspath(os.environ.get("NNEDGE", os.path.join(ROOT, "build", "nnedge")))
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:",
                     "UndefinedBehaviorSanitizer")

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    # Runs in the child between fork and exec: die with the harness.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=20.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.p.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def now_ms():
    return int(time.time() * 1000)


def render(template_path, out_path, **fields):
    """Fills the template's ${FIELD}s; a field left over outside a comment
    is an error."""
    out = []
    with open(template_path) as f:
        for line in f:
            if not line.lstrip().startswith("#"):
                for k, v in fields.items():
                    line = line.replace("${%s}" % k, str(v))
                if re.search(r"\$\{[A-Z_]+\}", line):
                    raise RuntimeError("%s: field left in %r" % (template_path, line))
            out.append(line)
    text = "".join(out)
    if not text.endswith("\n"):
        text += "\n"
    with open(out_path, "w") as f:
        f.write(text)
    return out_path


class Proc:
    """A child process with its stdout and stderr in files under log/."""

    def __init__(self, fleet, name, argv, env=None, cwd=None):
        self.fleet = fleet
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.out_path = os.path.join(fleet.dir, "log", name + ".out")
        self.err_path = os.path.join(fleet.dir, "log", name + ".err")
        self.p = None
        self.start()

    def start(self):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if self.env:
            env.update(self.env)
        out = open(self.out_path, "ab")
        err = open(self.err_path, "ab")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                  cwd=self.cwd, preexec_fn=_child_setup)
        out.close()
        err.close()
        self.started = time.time()
        return self

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def kill9(self):
        """SIGKILL and reap; returns the time of the kill."""
        t = time.time()
        self.signal(signal.SIGKILL)
        self.p.wait()
        return t

    def stop(self, timeout=20.0):
        """SIGTERM (SIGCONT first, should it be stopped), then SIGKILL after
        timeout. Returns the exit status."""
        if self.p is None:
            return None
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGCONT)
                os.kill(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode

    def out(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def err(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def sanitizer_report(self):
        e = self.err()
        return e[-4000:] if any(m in e for m in SANITIZER_MARKERS) else None

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.p.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return -1

    def wait_output(self, pattern, timeout=30.0, stream="out"):
        """Waits until stdout (or stderr) matches the regular expression;
        returns the match or None (timeout or the process ended)."""
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while True:
            m = rx.search(self.out() if stream == "out" else self.err())
            if m or time.time() > deadline:
                return m
            if not self.alive():
                m = rx.search(self.out() if stream == "out" else self.err())
                return m
            time.sleep(0.02)


class Subscriber:
    """mosquitto_sub -v on topics; a thread reads its lines and keeps
    (arrival time, topic, payload as JSON or text) in .msgs. Only live
    messages: stale retained ones (sent because of a (re)subscription) are
    left out (-R). mosquitto_sub exits when the broker dies under it: the
    thread starts it again until stop()."""

    def __init__(self, fleet, name, topics, user):
        self.argv = ["mosquitto_sub", *fleet.mqtt_args(user), "-v", "-q", "1", "-R"]
        for t in topics:
            self.argv += ["-t", t]
        self.errpath = os.path.join(fleet.dir, "log", name + ".err")
        self.name = name
        self.msgs = []
        self.callback = None     # callback(t, topic, body) on each message, on the reader thread
        self.cond = threading.Condition()
        self.stopping = False
        self.p = self._start()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _start(self):
        with open(self.errpath, "ab") as err:
            return subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                    preexec_fn=_child_setup)

    def _read(self):
        while True:
            for raw in self.p.stdout:
                t = time.time()
                line = raw.decode(errors="replace").rstrip("\n")
                topic, _, payload = line.partition(" ")
                try:
                    body = json.loads(payload)
                except ValueError:
                    body = payload
                with self.cond:
                    self.msgs.append((t, topic, body))
                    self.cond.notify_all()
                if self.callback:
                    self.callback(t, topic, body)
            self.p.wait()
            if self.stopping:
                return
            time.sleep(0.1)
            if self.stopping:
                return
            self.p = self._start()

    def wait(self, pred, timeout, since=0.0):
        """The first message (t, topic, body) with t >= since for which
        pred(topic, body) holds, waiting up to timeout s; None otherwise."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for m in self.msgs:
                    if m[0] >= since and pred(m[1], m[2]):
                        return m
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.1))

    def find(self, pred, since=0.0):
        with self.cond:
            return [m for m in self.msgs if m[0] >= since and pred(m[1], m[2])]

    def stop(self):
        self.stopping = True
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()


class Relay:
    """A TCP relay on a loopback port to a target port: the agents' way to
    the broker in tests of a broker they cannot reach. cut() closes every
    relayed connection and the listening socket (new connections are
    refused, as by a stopped broker); restore() listens again on the same
    port."""

    def __init__(self, target_port, port=None):
        self.target = target_port
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.pairs = []
        self.ls = None
        self.up = False
        self.restore()

    def restore(self):
        with self.lock:
            if self.up:
                return
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", self.port))
            ls.listen(64)
            self.ls = ls
            self.up = True
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls):
        while True:
            try:
                a, _ = ls.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                a.close()
                continue
            with self.lock:
                if not self.up:
                    a.close()
                    b.close()
                    return
                self.pairs.append((a, b))
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        socks = [a, b]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 1.0)
                for s in r:
                    d = s.recv(65536)
                    if not d:
                        raise OSError("closed")
                    (b if s is a else a).sendall(d)
        except (OSError, ValueError):
            pass
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def cut(self):
        with self.lock:
            self.up = False
            try:
                self.ls.close()
            except OSError:
                pass
            for a, b in self.pairs:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.pairs = []


class Fleet:
    def __init__(self, workdir=None, keep=None, quiet=True):
        base = workdir or None
        if base:
            os.makedirs(base, exist_ok=True)
        self.dir = os.path.abspath(tempfile.mkdtemp(prefix="fleet-", dir=base))
        self.keep = keep if keep is not None else bool(os.environ.get("FLEET_KEEP"))
        self.quiet = quiet
        os.makedirs(os.path.join(self.dir, "log"))
        self.procs = []          # every Proc ever started, in order
        self.subscribers = []
        self.passwords = {}      # MQTT user -> password
        self.broker_port = None
        self.broker_proc = None
        self.haproxy_proc = None
        self.haproxy_port = None
        self.admin_sock = None
        self.closed = False
        self.bdir = os.path.join(self.dir, "broker")
        os.makedirs(self.bdir)
        self._certs()
        atexit.register(self.close)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, self._on_signal)

    # -------------------------------------------------------------- helpers --
    def _on_signal(self, signum, frame):
        self.close()
        sys.exit(128 + signum)

    def log(self, *a):
        if not self.quiet:
            print(*a, flush=True)

    def spawn(self, name, argv, **kw):
        p = Proc(self, name, argv, **kw)
        self.procs.append(p)
        return p

    def _openssl(self, *args):
        r = subprocess.run(["openssl", *args], capture_output=True, cwd=self.bdir)
        if r.returncode != 0:
            raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))

    def _certs(self):
        """A CA and a server certificate for 127.0.0.1/localhost (P-256), and
        a second, unrelated CA (wrong-ca.pem) for negative tests."""
        o = self._openssl
        for ca in ("ca", "wrong-ca"):
            o("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2", "-subj", "/CN=nnedge fleet test " + ca)
        o("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
          "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
        with open(os.path.join(self.bdir, "ext.cnf"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        o("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
          "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
        os.chmod(os.path.join(self.bdir, "server.key"), 0o600)
        self.ca = os.path.join(self.bdir, "ca.pem")
        self.wrong_ca = os.path.join(self.bdir, "wrong-ca.pem")

    def add_user(self, user, password=None):
        """Adds an MQTT user to the broker's password file (mosquitto_passwd
        -b); writes the password to DIR/broker/pw-<user> (mode 600) for the
        agent's and controller's --password-file. Mosquitto reads the file
        at start (and on SIGHUP: reload())."""
        password = password or secrets.token_hex(12)
        pw = os.path.join(self.bdir, "passwd")
        cmd = ["mosquitto_passwd", "-b", pw, user, password]
        if not os.path.exists(pw):
            cmd.insert(1, "-c")
        r = subprocess.run(cmd, capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("mosquitto_passwd: %s" % r.stderr.decode(errors="replace"))
        os.chmod(pw, 0o600)
        path = self.password_file(user)
        with open(path, "w") as f:
            f.write(password + "\n")
        os.chmod(path, 0o600)
        self.passwords[user] = password
        return password

    def password_file(self, user):
        return os.path.join(self.bdir, "pw-" + user)

    # --------------------------------------------------------------- broker --
    def broker(self, users=()):
        """Starts Mosquitto with the controller and operator users and the
        given node users. Returns the broker's Proc."""
        for u in ("controller", "operator", *users):
            if u not in self.passwords:
                self.add_user(u)
        if self.broker_port is None:
            self.broker_port = free_port()
        self.broker_conf = render(os.path.join(ROOT, "conf", "mosquitto", "mosquitto.conf"),
                                  os.path.join(self.bdir, "mosquitto.conf"), ADDR="127.0.0.1",
                                  PORT=self.broker_port, DIR=self.bdir,
                                  ACL=os.path.join(ROOT, "conf", "mosquitto", "acl"),
                                  USER=pwd.getpwuid(os.getuid()).pw_name)
        return self.start_broker()

    def start_broker(self):
        """(Re)starts Mosquitto on the same port and directory."""
        if self.broker_proc is not None and self.broker_proc.alive():
            return self.broker_proc
        if self.broker_proc is None:
            self.broker_proc = self.spawn("mosquitto", ["mosquitto", "-c", self.broker_conf])
        else:
            self.broker_proc.start()
        if not wait_port(self.broker_port, 20, self.broker_proc):
            raise RuntimeError("mosquitto did not start: %s\n%s" % (self.broker_proc.err(), self.broker_log()))
        return self.broker_proc

    def stop_broker(self, kill=False):
        if kill:
            return self.broker_proc.kill9()
        self.broker_proc.stop()
        return time.time()

    def broker_log(self):
        try:
            with open(os.path.join(self.bdir, "mosquitto.log")) as f:
                return f.read()
        except OSError:
            return ""

    @property
    def broker_url(self):
        return "mqtts://127.0.0.1:%d" % self.broker_port

    def mqtt_args(self, user, password=None, ca=None, tls=True):
        """mosquitto_pub/_sub arguments for this broker as user."""
        a = ["-h", "127.0.0.1", "-p", str(self.broker_port), "-i", "%s-%s" % (user or "anon", secrets.token_hex(3))]
        if tls:
            a += ["--cafile", ca or self.ca]
        if user is not None:
            a += ["-u", user, "-P", password if password is not None else self.passwords[user]]
        return a

    def subscribe(self, name, topics, user="controller", extra=()):
        """A mosquitto_sub -v on topics as user, in the background; its
        stdout (topic payload lines) in log/<name>.out."""
        argv = ["mosquitto_sub", *self.mqtt_args(user), "-v", *extra]
        for t in topics:
            argv += ["-t", t]
        return self.spawn(name, argv)

    def subscriber(self, name, topics, user="controller"):
        sub = Subscriber(self, name, topics, user)
        self.subscribers.append(sub)
        return sub

    def publish(self, topic, payload, user="controller", retain=False, qos=1, password=None, ca=None,
                tls=True, timeout=10):
        argv = ["mosquitto_pub", *self.mqtt_args(user, password, ca, tls), "-t", topic, "-m", payload,
                "-q", str(qos)]
        if retain:
            argv.append("-r")
        return subprocess.run(argv, capture_output=True, timeout=timeout)

    # ---------------------------------------------------------------- serve --
    def serve(self, name, repo, port=0, args=(), nnedge=None):
        """nnedge serve --repo repo on 127.0.0.1:port (0: the kernel picks;
        the port is read from the banner). Returns the Proc with .port/.url."""
        p = self.spawn("serve-" + name, [nnedge or NNEDGE, "serve", "--repo", repo, "--http",
                                         "127.0.0.1:%d" % port, *args])
        m = p.wait_output(r"listening on http://127\.0\.0\.1:(\d+)", 60)
        if not m:
            raise RuntimeError("nnedge serve %s did not start: %s" % (name, p.err()[-2000:]))
        p.port = int(m.group(1))
        # A restart binds the same port.
        p.argv[p.argv.index("--http") + 1] = "127.0.0.1:%d" % p.port
        p.url = "http://127.0.0.1:%d" % p.port
        p.repo = repo
        return p

    def serve_nodes(self, names, args=("--threads", "1")):
        """One nnedge serve per name on an empty repository DIR/repo-NAME
        (the agents fill them); {name: Proc}."""
        servers = {}
        for n in names:
            repo = os.path.join(self.dir, "repo-" + n)
            os.makedirs(repo)
            servers[n] = self.serve(n, repo, args=list(args))
        return servers

    def restart_serve(self, p, timeout=60):
        """Starts a stopped server again on the same port."""
        # The banner of the new start is appended to the same log file.
        n = len(re.findall(r"listening on", p.out()))
        p.start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(re.findall(r"listening on", p.out())) > n:
                return p
            if not p.alive():
                break
            time.sleep(0.02)
        raise RuntimeError("nnedge serve %s did not restart: %s" % (p.name, p.err()[-2000:]))

    # -------------------------------------------------------------- haproxy --
    def haproxy(self, servers, port=None):
        """HAProxy in front of servers ({name: port}, in order). Returns its
        Proc; its frontend is self.haproxy_url, its admin socket self.admin_sock."""
        hdir = os.path.join(self.dir, "haproxy")
        os.makedirs(hdir, exist_ok=True)
        self.haproxy_port = port or free_port()
        self.admin_sock = os.path.join(hdir, "admin.sock")
        lines = "\n".join("    server %s 127.0.0.1:%d" % (n, p) for n, p in servers.items())
        cfg = render(os.path.join(ROOT, "conf", "haproxy", "haproxy.cfg"), os.path.join(hdir, "haproxy.cfg"),
                     DIR=hdir, ADDR="127.0.0.1", PORT=self.haproxy_port, SERVERS=lines)
        r = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True)
        if r.returncode != 0:
            raise RuntimeError("haproxy -c: %s" % (r.stdout + r.stderr).decode(errors="replace"))
        # -db: foreground, one process (no daemon, no master), so the
        # harness's kill reaches it.
        self.haproxy_proc = self.spawn("haproxy", ["haproxy", "-db", "-f", cfg])
        if not wait_port(self.haproxy_port, 20, self.haproxy_proc):
            raise RuntimeError("haproxy did not start: %s" % self.haproxy_proc.err())
        deadline = time.time() + 10
        while not os.path.exists(self.admin_sock) and time.time() < deadline:
            time.sleep(0.02)
        return self.haproxy_proc

    @property
    def haproxy_url(self):
        return "http://127.0.0.1:%d" % self.haproxy_port

    def admin(self, command, timeout=5.0):
        """One command on HAProxy's runtime API; returns its answer."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.admin_sock)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
        s.close()
        return b"".join(chunks).decode(errors="replace")

    def server_states(self, backend="nodes"):
        """{server name: {"op": srv_op_state, "admin": srv_admin_state,
        "weight": srv_uweight}} from `show servers state`. op 0 = stopped
        (down), 2 = running (up); admin bit 0x01/0x02/0x04/0x20 = maint,
        0x08 = drain."""
        txt = self.admin("show servers state " + backend)
        lines = txt.strip().splitlines()
        hdr = None
        out = {}
        for line in lines:
            if line.startswith("# be_id"):
                hdr = line[2:].split()
                continue
            if not line or line.startswith("#") or hdr is None or line[0].isalpha():
                continue
            v = line.split()
            row = dict(zip(hdr, v))
            out[row["srv_name"]] = {"op": int(row["srv_op_state"]), "admin": int(row["srv_admin_state"]),
                                    "weight": int(row["srv_uweight"])}
        return out

    def backend_stats(self, backend="nodes"):
        """{server or BACKEND: {column: value}} from `show stat` (CSV)."""
        txt = self.admin("show stat")
        lines = [l for l in txt.splitlines() if l]
        hdr = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(hdr, line.split(",")))
            if row.get("pxname") == backend:
                out[row["svname"]] = row
        return out

    # ----------------------------------------------------- agent, controller --
    def agent(self, node_id, store, serve_proc, trust, group="edge", args=(), nnedge=None, env=None,
              broker_port=None):
        """nnedge agent for node_id beside serve_proc (docs/fleet.md §1);
        broker_port: another way to the broker (a Relay's port)."""
        if node_id not in self.passwords:
            raise RuntimeError("no broker user %s: pass it to broker(users=...)" % node_id)
        url = "mqtts://127.0.0.1:%d" % broker_port if broker_port else self.broker_url
        argv = [nnedge or NNEDGE, "agent", "--broker", url, "--id", node_id, "--group", group,
                "--store", store, "--serve-repo", serve_proc.repo, "--serve-url", serve_proc.url,
                "--trust", trust, "--ca", self.ca, "--password-file", self.password_file(node_id), *args]
        return self.spawn("agent-" + node_id, argv, env=env)

    def controller(self, packages, args=(), nnedge=None, http_port=None, env=None):
        """nnedge fleet run (docs/fleet.md §6), with HAProxy's admin socket
        when HAProxy runs."""
        self.fleet_http_port = http_port or free_port()
        argv = [nnedge or NNEDGE, "fleet", "run", "--broker", self.broker_url, "--user", "controller",
                "--password-file", self.password_file("controller"), "--ca", self.ca,
                "--packages", packages, "--http", "127.0.0.1:%d" % self.fleet_http_port]
        if self.admin_sock:
            argv += ["--haproxy", self.admin_sock, "--backend", "nodes"]
        argv += list(args)
        return self.spawn("controller", argv, env=env)

    def operator_args(self):
        """The broker options of `nnedge fleet deploy/abort/status`."""
        return ["--broker", self.broker_url, "--user", "operator", "--password-file",
                self.password_file("operator"), "--ca", self.ca]

    # -------------------------------------------------------------- cleanup --
    def close(self):
        """Stops every child that is still running (SIGCONT + SIGTERM, SIGKILL
        after 10 s), newest first; removes the directory unless FLEET_KEEP is
        set. Returns {name: sanitizer report} for children that printed one."""
        if self.closed:
            return {}
        self.closed = True
        reports = {}
        for sub in self.subscribers:
            sub.stop()
        for p in reversed(self.procs):
            try:
                p.stop(10)
            except Exception:  # keep stopping the others
                pass
        for p in self.procs:
            r = p.sanitizer_report()
            if r:
                reports[p.name] = r
        if self.keep:
            print("fleetlib: kept %s" % self.dir, file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        return reports


class Cases:
    """Named checks and numeric figures; prints a summary line."""

    def __init__(self, name):
        self.name = name
        self.n = 0
        self.failed = []
        self.figures = []

    def check(self, label, cond, detail=""):
        self.n += 1
        if not cond:
            self.failed.append("%s: %s" % (label, detail))
            print("FAIL %s %s" % (label, str(detail)[:800]), flush=True)
        return cond

    def figure(self, label, value, unit="", limit=None, ok=None):
        """Prints a measured figure; with limit (upper bound) it is a check."""
        s = "%s: %s %s" % (label, ("%.3f" % value) if isinstance(value, float) else value, unit)
        if limit is not None:
            s += " (limit %s %s)" % (limit, unit)
            ok = value is not None and value <= limit if ok is None else ok
        if ok is not None:
            self.check(label, ok, s)
            s += " ok" if ok else " FAIL"
        print("FIGURE " + s.strip(), flush=True)
        self.figures.append((label, value, unit, limit))

    def done(self):
        print("%s: %d cases, %d failed" % (self.name, self.n, len(self.failed)), flush=True)
        return 0 if not self.failed else 1


def fashion_body(seed=13):
    """A binary-extension inference request for fashion_cnn (one 28x28
    image): (body bytes, JSON header length)."""
    import numpy as np
    x = np.random.default_rng(seed).random([1, 1, 28, 28], dtype=np.float32)
    h = json.dumps({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                "parameters": {"binary_data_size": x.nbytes}}],
                    "parameters": {"binary_data_output": True}}).encode()
    return h + x.tobytes(), len(h)


class Load:
    """conc client threads POSTing one inference request in a loop over
    kept-alive connections (http.client), at most rate requests/s in all
    (None: as fast as they can). Counts answers and errors (anything but a
    200 with an "outputs" member, or a connection error)."""

    def __init__(self, url, path, body, hl, conc=4, rate=200.0):
        import http.client
        import urllib.parse
        self.u = urllib.parse.urlparse(url)
        self.path = path
        self.body = body
        self.headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(hl)}
        self.ok = 0
        self.errors = 0
        self.first_errors = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.interval = conc / rate if rate else 0
        self.threads = [threading.Thread(target=self._run, args=(http.client,), daemon=True) for _ in range(conc)]
        for t in self.threads:
            t.start()

    def _run(self, hc):
        conn = None
        while not self.stopping.is_set():
            t0 = time.time()
            try:
                if conn is None:
                    conn = hc.HTTPConnection(self.u.hostname, self.u.port, timeout=30)
                conn.request("POST", self.path, body=self.body, headers=self.headers)
                r = conn.getresponse()
                data = r.read()
                good = r.status == 200 and b'"outputs"' in data
                err = None if good else "status %d: %r" % (r.status, data[:200])
            except (OSError, hc.HTTPException) as e:
                err = "%s: %s" % (type(e).__name__, e)
                conn = None
            with self.lock:
                if err is None:
                    self.ok += 1
                else:
                    self.errors += 1
                    if len(self.first_errors) < 5:
                        self.first_errors.append("%.3f %s" % (time.time(), err))
            left = self.interval - (time.time() - t0)
            if left > 0:
                self.stopping.wait(left)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)
        return self.ok, self.errors


class RssSampler:
    """Samples VmRSS of the given Procs every period s; .max[name] and
    .steady[name] in kB."""

    def __init__(self, procs, period=0.25, comm="nnedge-agent", settle=2.0):
        self.procs = procs
        self.max = {}            # name -> max kB of every sample
        self.steady = {}         # name -> max kB of process `comm`, settle s after each start
        self.comm = comm
        self.settle = settle
        self.at = {}             # name -> time of the max
        self.samples_of = {}     # name -> [(time, kB)]
        # FLEET_RSS_TRACE=FILE: every sample as "time<TAB>name<TAB>kB"
        self.trace = open(os.environ["FLEET_RSS_TRACE"], "a") if os.environ.get("FLEET_RSS_TRACE") else None
        self.samples = 0
        self.stopping = threading.Event()
        self.t = threading.Thread(target=self._run, args=(period,), daemon=True)
        self.t.start()

    def _run(self, period):
        while not self.stopping.is_set():
            for p in list(self.procs):
                kb = p.rss_kb()
                if self.trace:
                    self.trace.write("%.2f\t%s\t%d\n" % (time.time(), p.name, kb))
                if kb > 0:
                    self.samples_of.setdefault(p.name, []).append((time.time(), kb))
                if kb > self.max.get(p.name, 0):
                    self.max[p.name] = kb
                    self.at[p.name] = time.time()
                # steady state: the agent program itself (not the nnedge
                # launcher that execs it), from settle s after its start
                # (the first TLS connection's setup is trimmed after CONNACK)
                try:
                    comm = open("/proc/%d/comm" % p.p.pid).read().strip()
                except OSError:
                    comm = "?"
                if kb > self.steady.get(p.name, 0) and comm == self.comm and \
                        time.time() - getattr(p, "started", 0) >= self.settle:
                    self.steady[p.name] = kb
            self.samples += 1
            self.stopping.wait(period)

    def max_in(self, name, windows):
        """Max kB of name's samples inside any (t0, t1) window; -1 if none."""
        v = [kb for t, kb in self.samples_of.get(name, []) if any(a <= t < b for a, b in windows)]
        return max(v) if v else -1

    def stop(self):
        self.stopping.set()
        self.t.join(10)
        return self.max
