"""Helpers of the serve tests: start `nnedge serve` on a loopback port chosen
by the kernel, stop it with SIGTERM and check that it exited cleanly (exit
0, no sanitizer report), and count test cases."""
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

NNEDGE = os.environ.get("NNEDGE", "build/nnedge")


class Server:
    def __init__(self, repo, *args, scheme="http"):
        self.errf = tempfile.NamedTemporaryFile(prefix="serve-stderr-", delete=False)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.p = subprocess.Popen([NNEDGE, "serve", "--repo", repo, "--http", "127.0.0.1:0", *args],
                                  stdout=subprocess.PIPE, stderr=self.errf, env=env)
        line = b""
        deadline = time.time() + 60
        while time.time() < deadline and not line.endswith(b"\n"):
            r, _, _ = select.select([self.p.stdout], [], [], 1)
            if r:
                c = os.read(self.p.stdout.fileno(), 1)
                if not c:
                    break
                line += c
        if b"listening on" not in line:
            self.p.kill()
            raise RuntimeError("server did not start: %r %s" % (line, self.stderr()))
        self.banner = line.decode(errors="replace")
        self.port = int(line.split(b"://")[1].split(b":")[1].split(b" ")[0])
        self.url = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.pid = self.p.pid

    def stderr(self):
        with open(self.errf.name, "rb") as f:
            return f.read().decode(errors="replace")

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        """SIGTERM; returns a list of problems (empty when it stopped cleanly)."""
        problems = []
        if self.p.poll() is not None:
            problems.append("server died early with status %s" % self.p.returncode)
        else:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                problems.append("server did not stop within 60 s of SIGTERM")
            if self.p.returncode != 0:
                problems.append("server exited with status %s" % self.p.returncode)
        err = self.stderr()
        for marker in ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"):
            if marker in err:
                problems.append("sanitizer report:\n" + err[-4000:])
                break
        os.unlink(self.errf.name)
        return problems


class Cases:
    def __init__(self, name):
        self.name = name
        self.n = 0
        self.failed = []

    def check(self, label, cond, detail=""):
        self.n += 1
        if not cond:
            self.failed.append("%s: %s" % (label, detail))
            print("FAIL %s %s" % (label, str(detail)[:500]), flush=True)
        return cond

    def done(self):
        print("%s: %d cases, %d failed" % (self.name, self.n, len(self.failed)), flush=True)
        return 0 if not self.failed else 1


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, **kw)
