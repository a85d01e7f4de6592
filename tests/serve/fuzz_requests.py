#!/usr/bin/python3
"""Request fuzzer for `nnedge serve` (run it against the ASan/UBSan build):
malformed JSON, mutated valid requests, wrong and huge and negative shapes,
wrong datatypes and values, lying Inference-Header-Content-Length, truncated
binary bodies, random paths and methods, and raw-socket garbage (broken
request lines and headers, Content-Length lies, early closes). Every answer
must be a well-formed HTTP response with a status the protocol uses (never
500) and JSON errors; at the end the server must be healthy and exit
cleanly (no sanitizer report). Usage: fuzz_requests.py WORKDIR [N] [SEED]"""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Cases, Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
          "FP64", "BF16", "BYTES", "FP8", "", "fp32"]
MODELS = ["id_FP32", "id_INT8", "id_BOOL", "id_UINT64", "id_BF16", "add", "fixed", "nosuch", "..", "a" * 300]
OK_STATUS = {200, 400, 401, 403, 404, 405, 413, 431, 499, 503, 504}


def rand_value(rng):
    k = rng.randrange(10)
    return [0, 1, -1, 2**63 - 1, -2**63, 1e308, -0.0, 3.5, True, None][k] if k < 9 else rng.random()


def rand_data(rng, depth=0):
    k = rng.randrange(8)
    if k == 0 and depth < 4:
        return [rand_data(rng, depth + 1) for _ in range(rng.randrange(4))]
    if k == 1:
        return "s" * rng.randrange(3)
    if k == 2:
        return {"a": 1}
    return [rand_value(rng) for _ in range(rng.randrange(12))]


def rand_shape(rng):
    k = rng.randrange(6)
    if k == 0:
        return [rng.choice([-1, 0, 2**31, 2**62, 2**63 - 1, 1, 3]) for _ in range(rng.randrange(14))]
    if k == 1:
        return "1x3"
    return [rng.randrange(4) for _ in range(rng.randrange(4))]


def valid(rng):
    m = rng.choice(["id_FP32", "add", "fixed", "id_INT8"])
    if m == "add":
        n = rng.randrange(1, 4)
        return m, {"inputs": [{"name": x, "shape": [n, 4], "datatype": "FP32", "data": [1.0] * (4 * n)} for x in "ab"]}
    if m == "fixed":
        return m, {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1.0] * 6}]}
    dt = "FP32" if m == "id_FP32" else "INT8"
    n = rng.randrange(1, 5)
    return m, {"inputs": [{"name": "x", "shape": [n, 3], "datatype": dt, "data": [1] * (3 * n)}]}


def mutate_obj(rng, o):
    """Replace a random field of a request by something random."""
    inp = o["inputs"][0]
    k = rng.randrange(12)
    if k == 0:
        inp["shape"] = rand_shape(rng)
    elif k == 1:
        inp["datatype"] = rng.choice(DTYPES)
    elif k == 2:
        inp["data"] = rand_data(rng)
    elif k == 3:
        inp["name"] = rng.choice(["x", "a", "b", "", "y", 5, None])
    elif k == 4:
        inp["parameters"] = {"binary_data_size": rng.choice([-1, 0, 12, 2**62, "12", None])}
    elif k == 5:
        o["outputs"] = [{"name": rng.choice(["y", "sum", "zz", 3])} for _ in range(rng.randrange(3))]
    elif k == 6:
        o["parameters"] = {rng.choice(["timeout", "binary_data_output", "x", "classification"]): rand_value(rng)}
    elif k == 7:
        o["inputs"] = o["inputs"] * rng.randrange(3)
    elif k == 8:
        o["id"] = rng.choice([1, "x" * 500, "\u0000", None])
    elif k == 9:
        del inp["data"]
    elif k == 10:
        o["inputs"] = rand_data(rng)
    else:
        inp["data"] = [inp["data"]] * rng.randrange(3)
    return o


def one_request(rng, s, url):
    k = rng.randrange(10)
    model, obj = valid(rng)
    headers = {}
    if k <= 3:
        body = json.dumps(mutate_obj(rng, obj)).encode()
    elif k == 4:
        b = bytearray(json.dumps(obj).encode())
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(b))
            b[i] = rng.randrange(256)
        body = bytes(b)
    elif k == 5:
        body = json.dumps(obj).encode()[:rng.randrange(60)]
    elif k == 6:  # binary extension with lies
        hdr = json.dumps({"inputs": [{"name": "x", "shape": [rng.randrange(4), 3], "datatype": "FP32",
                                      "parameters": {"binary_data_size": rng.choice([0, 12, 24, 36, 7])}}]}).encode()
        blob = os.urandom(rng.randrange(50))
        hl = rng.choice([len(hdr), len(hdr) + 1, len(hdr) - 1, 0, 2**40, -3, "x"])
        headers["Inference-Header-Content-Length"] = str(hl)
        body = hdr + blob
        model = "id_FP32"
    elif k == 7:
        body = os.urandom(rng.randrange(200))
    elif k == 8:
        body = b"[" * rng.randrange(1, 5000)
    else:
        body = json.dumps(obj).encode()
    model = rng.choice(MODELS) if rng.random() < 0.1 else model
    path = rng.choice(["/v2/models/%s/infer" % model, "/v2/models/%s/versions/%s/infer" % (model, rng.choice(["1", "0", "x", "99"])),
                       "/v2/models/%s" % model, "/v2/repository/index", "/v2/models/%s/ready" % model]) \
        if rng.random() < 0.15 else "/v2/models/%s/infer" % model
    method = rng.choice(["POST", "GET", "PUT", "DELETE"]) if rng.random() < 0.05 else "POST"
    r = s.request(method, url + path, data=body, headers=headers, timeout=60)
    return r


def raw_request(rng, port):
    lines = [
        b"GARBAGE\r\n\r\n",
        b"POST /v2/models/id_FP32/infer HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{\"inputs\":",
        b"POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v2 HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"y" * 40000 + b"\r\n\r\n",
        b"POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        os.urandom(rng.randrange(1, 300)),
        b"GET /v2/models/%00/infer HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: 5\r\nContent-Length: 3\r\n\r\nabc",
    ]
    data = rng.choice(lines)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sk:
            sk.sendall(data)
            if rng.random() < 0.5:
                sk.shutdown(socket.SHUT_WR)
            sk.settimeout(0.3)
            resp = b""
            try:
                while len(resp) < 200000:
                    chunk = sk.recv(65536)
                    if not chunk:
                        break
                    resp += chunk
            except socket.timeout:
                pass
            return resp
    except OSError:
        return b""


def main(work, n, seed):
    c = Cases("serve request fuzzer")
    repo = os.path.join(work, "repo-fuzz")
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_models.py"), repo])
    srv = Server(repo, "--threads", "2", "--max-body", "65536", "--max-queue", "16")
    bad = []
    counts = {}
    lock = threading.Lock()
    done = [0]

    def worker(wid):
        rng = random.Random(seed * 1000 + wid)
        s = requests.Session()
        while True:
            with lock:
                if done[0] >= n or len(bad) > 20:
                    return
                done[0] += 1
            if rng.random() < 0.08:
                raw_request(rng, srv.port)
                continue
            try:
                r = one_request(rng, s, srv.url)
                st = r.status_code
                ok = st in OK_STATUS and (st == 200 or "error" in r.json())
            except requests.RequestException as e:  # a refused oversized request may close the connection
                st, ok = "closed", "Connection" in type(e).__name__ or "Chunked" in str(e)
                s = requests.Session()
            except ValueError:
                ok = False
            with lock:
                counts[st] = counts.get(st, 0) + 1
                if not ok:
                    bad.append((st, r.text[:200] if hasattr(r, "text") else ""))
    t0 = time.time()
    try:
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        dt = time.time() - t0
        print("fuzz: %d requests in %.1f s (%.0f/s), statuses %s" % (done[0], dt, done[0] / dt,
              dict(sorted(counts.items(), key=str))), flush=True)
        c.check("every answer well-formed", not bad, bad[:5])
        c.check("server alive", srv.alive())
        r = requests.get(srv.url + "/v2/health/ready", timeout=10)
        c.check("healthy after fuzzing", r.status_code == 200)
        r = requests.post(srv.url + "/v2/models/id_FP32/infer",
                          json={"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
        c.check("still infers after fuzzing", r.status_code == 200 and r.json()["outputs"][0]["data"] == [1, 2, 3], r.text)
    finally:
        problems = srv.stop()
    c.check("clean exit, no sanitizer report", not problems, problems)
    return c.done()


if __name__ == "__main__":
    a = sys.argv[1:]
    sys.exit(main(a[0] if a else "/tmp/serve-test", int(a[1]) if len(a) > 1 else 3000, int(a[2]) if len(a) > 2 else 1))
