#!/usr/bin/python3
"""gen_fuzz_seeds.py - seeds for tests/fuzz/fuzz_fleet.c (records
[kind][node][len lo][len hi][payload]; kinds 0 birth, 1 death, 2 data,
3 deploy report, 4 request; nodes 0..3 are node0..node3).
  /usr/bin/python3 tests/fleet/gen_fuzz_seeds.py tests/fuzz/corpus/fleet
"""
import json
import os
import sys


def rec(kind, node, obj):
    b = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return bytes([kind, node, len(b) & 255, len(b) >> 8]) + b


def report(n, dep, state, reason=None):
    r = {"v": 1, "id": "node%d" % n, "deployment": dep, "state": state, "time_ms": 1}
    if reason:
        r["reason"] = reason
    return rec(3, n, r)


def hb(n, bdseq=5, **kw):
    h = {"v": 1, "id": "node%d" % n, "bdseq": bdseq, "seq": 1, "serve": "up", "load1": 0.5, "cpus": 2,
         "inflight": 1, "queue": 0, "requests": 10, "errors": 0, "latency_ms": {"p50": 1.0, "p99": 2.0},
         "agent_rss_kb": 3000, "serve_rss_kb": 30000}
    h.update(kw)
    return rec(2, n, h)


seeds = {
    # the canary applies, the rest follow, one fails, two apply: done under the threshold
    "rollout": report(0, "d-1", "fetching") + report(0, "d-1", "applied") + report(1, "d-1", "activating") +
    report(1, "d-1", "applied") + report(2, "d-1", "failed", "signature") + report(3, "d-1", "applied"),
    # the canary rolls itself back: abort
    "canary_fail": report(0, "d-1", "checking") + report(0, "d-1", "rolled_back", "top1 0.2 < 0.85"),
    # failures past the threshold: rollback sent, rollback reports
    "rollback": report(0, "d-1", "applied") + report(1, "d-1", "applied") + report(2, "d-1", "failed") +
    report(3, "d-1", "failed") + report(0, "d-1-rollback", "applied") + report(1, "d-1-rollback", "failed"),
    # liveness: stale and right deaths, new births, heartbeats, overload
    "liveness": rec(1, 1, {"v": 1, "id": "node1", "bdseq": 4}) + rec(1, 1, {"v": 1, "id": "node1", "bdseq": 5}) +
    hb(1) + rec(0, 1, {"v": 1, "id": "node1", "group": "g", "bdseq": 6, "serve": "down",
                       "store": {"current": {"name": "m", "version": "1", "counter": 3}, "previous": None},
                       "deployment": {"id": "d-1", "state": "activating"}, "haproxy_server": "s1"}) +
    hb(1, 6, queue=100) + hb(2, serve="down") + hb(3, latency_ms={"p50": None, "p99": 50.0}),
    # requests: abort, bad deploys
    "requests": rec(4, 0, {"v": 1, "op": "abort", "request": "r2", "deployment": "d-1"}) +
    rec(4, 0, {"v": 1, "op": "deploy", "request": "r3", "group": "g",
               "package": {"file": "../x", "name": "m", "version": "1", "counter": 1, "bytes": 1,
                           "blake2b": "0" * 64}}) +
    rec(4, 0, {"v": 1, "op": "abort", "request": "r4", "deployment": "d-9"}),
    "garbage": rec(0, 0, b"{") + rec(2, 4, b"[]") + rec(3, 6, b'{"v":1}') + rec(0, 7, b"\xff"),
}
out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/fleet"
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
