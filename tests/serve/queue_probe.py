#!/usr/bin/python3
"""How fast a full queue says no (tests/serve/bench.sh, item (c)). Against a
server started with --threads 1 --max-queue 1 on the repository of
gen_models.py: three background clients keep the one slot busy with long
runs of model `slow` (512 rows, binary requests on kept-alive connections)
and so the queue full; each waits 5 ms after a 503 before it sends again, as
a client honouring the refusal would (without that they would flood the
server with refused requests). A probe client then sends N one-row requests,
2 ms apart, on a kept-alive connection ("keepalive") or on a new connection
each ("fresh"), and times them.
Prints: statuses, the 503s' latency p50/p99/max in ms, timeouts (no answer
within 5 s), and the background clients' statuses.
Usage: queue_probe.py PORT [N] [keepalive|fresh]"""
import json
import socket
import sys
import threading
import time

import numpy as np


def binreq(rows):
    x = np.full([rows, 256], 0.01, np.float32)
    h = json.dumps({"inputs": [{"name": "x", "shape": [rows, 256], "datatype": "FP32",
                                "parameters": {"binary_data_size": x.nbytes}}]}).encode()
    body = h + x.tobytes()
    return (b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: %d\r\n"
            b"Content-Length: %d\r\n\r\n" % (len(h), len(body))) + body


def read_resp(s):
    """(status, head) of one response; (None, b'') when the connection closed."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            return None, b""
        buf += c
    head, rest = buf.split(b"\r\n\r\n", 1)
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    while len(rest) < n:
        c = s.recv(65536)
        if not c:
            break
        rest += c
    return head.split(b" ", 2)[1], head


def main(port, n, mode):
    huge, small = binreq(512), binreq(1)
    stop = [False]
    busy = {}

    def keep_busy():
        s = None
        while not stop[0]:
            try:
                if s is None:
                    s = socket.create_connection(("127.0.0.1", port), timeout=60)
                s.sendall(huge)
                code, head = read_resp(s)
                busy[code] = busy.get(code, 0) + 1
                if code is None or b"close" in head.lower():
                    s.close()
                    s = None
                if code == b"503":
                    time.sleep(0.005)
            except OSError:
                s = None

    bg = [threading.Thread(target=keep_busy) for _ in range(3)]
    [t.start() for t in bg]
    time.sleep(1.0)
    lat, codes, timeouts = [], {}, 0
    s = None
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            if s is None:
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(small)
            code, head = read_resp(s)
            if mode != "keepalive" or code is None or b"close" in head.lower():
                s.close()
                s = None
        except socket.timeout:
            code, s, timeouts = b"timeout", None, timeouts + 1
        except OSError:
            code, s = b"closed", None
        dt = time.perf_counter() - t0
        codes[code] = codes.get(code, 0) + 1
        if code == b"503":
            lat.append(dt * 1000)
        time.sleep(0.002)
    stop[0] = True
    [t.join() for t in bg]
    n503 = len(lat)
    lat = np.array(lat) if lat else np.array([float("nan")])
    print("statuses=%s n503=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f timeouts=%d background=%s" %
          (",".join("%s:%d" % ((k or b"none").decode(), v) for k, v in sorted(codes.items(), key=str)),
           n503, np.percentile(lat, 50), np.percentile(lat, 99), lat.max(), timeouts,
           ",".join("%s:%d" % ((k or b"none").decode(), v) for k, v in sorted(busy.items(), key=str))))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]), int(a[1]) if len(a) > 1 else 300, a[2] if len(a) > 2 else "keepalive")
