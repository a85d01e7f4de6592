#!/usr/bin/python3
"""Open Inference Protocol cases against `nnedge serve` (NNEDGE=binary):
every endpoint, every datatype as JSON (flat and nested) and binary, the
repository extension, error cases (status code and {"error": ...}),
results equal to `nnedge run`, metrics equal to the client's tallies and
valid for promtool, a full queue (503 + Retry-After), request timeouts and
client disconnects. Usage: test_protocol.py WORKDIR"""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import NNEDGE, Cases, Server, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

NP = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
      "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
      "FP32": np.float32, "FP64": np.float64, "BF16": None}
INTS = ["UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"]


def values(dt, n):
    """n test values of datatype dt, including the extremes JSON can carry."""
    if dt == "BOOL":
        return [bool(i % 3 == 0) for i in range(n)]
    if dt in INTS:
        info = np.iinfo(NP[dt])
        hi = min(int(info.max), 2**63 - 1)
        base = [int(info.min), hi, 0, 1, -1 if info.min < 0 else 7, 42]
        return [base[i % len(base)] for i in range(n)]
    base = [0.5, -1.25, 3.0, 0.0, 65504.0 if dt == "FP16" else 2.0**33, -0.375]
    if dt in ("FP32", "FP64"):
        base += [0.1, 1e-7, 3.14159265358979]
    return [base[i % len(base)] for i in range(n)]


def to_bytes(dt, vals):
    if dt == "BF16":
        return (np.array(vals, np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
    return np.array(vals, NP[dt]).tobytes()


def from_bytes(dt, b):
    if dt == "BF16":
        return (np.frombuffer(b, np.uint16).astype(np.uint32) << 16).view(np.float32).tolist()
    return np.frombuffer(b, NP[dt]).tolist()


def expect_json(dt, vals):
    """What the server sends back for vals after a round trip through dt."""
    if dt == "BF16":
        return from_bytes(dt, to_bytes(dt, vals))
    if dt == "BOOL":
        return vals
    return np.array(vals, NP[dt]).tolist()


def binary_request(hdr, blobs, out_binary=None):
    h = json.dumps(hdr).encode()
    return h + b"".join(blobs), {"Inference-Header-Content-Length": str(len(h)),
                                 "Content-Type": "application/octet-stream"}


def parse_response(r):
    """(json header, {output name: raw bytes or None})"""
    if "Inference-Header-Content-Length" in r.headers:
        hl = int(r.headers["Inference-Header-Content-Length"])
        hdr = json.loads(r.content[:hl])
        off, raw = hl, {}
        for o in hdr["outputs"]:
            n = o.get("parameters", {}).get("binary_data_size")
            if n is not None:
                raw[o["name"]] = r.content[off:off + n]
                off += n
        return hdr, raw, off == len(r.content)
    return r.json(), {}, True


def same(dt, got, want):
    """JSON values equal as values of datatype dt (floats compared after
    rounding to dt: the server prints the shortest digits that round-trip)."""
    if len(got) != len(want):
        return False
    if dt in ("FP16", "FP32", "FP64", "BF16"):
        t = np.float64 if dt == "FP64" else (np.float16 if dt == "FP16" else np.float32)
        return np.array_equal(np.array(got, t), np.array(want, t))
    return got == want


def is_error(r, code):
    try:
        body = r.json()
    except ValueError:
        return False
    return r.status_code == code and isinstance(body.get("error"), str) and len(body["error"]) > 0


def main(work):
    c = Cases("serve protocol")
    repo = os.path.join(work, "repo")
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_models.py"), repo])
    os.makedirs(os.path.join(repo, "fashion", "1"))
    shutil.copy(os.path.join(ROOT, "models", "fashion_cnn.onnx"), os.path.join(repo, "fashion", "1", "model.onnx"))
    with open(os.path.join(repo, "add", "config.json"), "w") as f:
        json.dump({"version_policy": {"all": {}}, "max_batch_size": 16}, f)
    srv = Server(repo, "--threads", "2", "--max-body", "1048576", "--max-json", "262144", "--max-run-memory", "16777216")
    U = srv.url
    s = requests.Session()
    tallies = {}  # model -> [requests, successes]

    def infer(model, body, headers=None, version=None, count=True, **kw):
        url = U + "/v2/models/%s%s/infer" % (model, "/versions/%d" % version if version else "")
        if isinstance(body, (bytes, str)):
            r = s.post(url, data=body, headers=headers or {}, **kw)
        else:
            r = s.post(url, json=body, headers=headers or {}, **kw)
        if count:
            t = tallies.setdefault((model, version or 0), [0, 0])
            t[0] += 1
            t[1] += r.status_code == 200
        return r

    try:
        # ---------------------------------------------------------- health, server
        r = s.get(U + "/v2/health/live")
        c.check("live", r.status_code == 200, r.text)
        r = s.get(U + "/v2/health/ready")
        c.check("ready", r.status_code == 200, r.text)
        c.check("live-post-405", is_error(s.post(U + "/v2/health/live"), 405))
        r = s.get(U + "/v2")
        meta = r.json()
        c.check("server-meta", r.status_code == 200 and meta["name"] == "nnedge" and
                {"binary_tensor_data", "model_repository"} <= set(meta["extensions"]), r.text)
        c.check("server-meta-trailing-slash", s.get(U + "/v2/").status_code == 200)
        c.check("server-meta-post-405", is_error(s.post(U + "/v2"), 405))
        for p in ["/", "/v1", "/v3/models/fashion", "/v2/models", "/v2/models/fashion/bogus",
                  "/v2/health", "/v2/health/dead", "/v2/repository", "/v2/models/fashion/versions/1/bogus",
                  "/v2/a/b/c/d/e/f/g/h/i", "/metricsx"]:
            c.check("404 " + p, is_error(s.get(U + p), 404), p)
        # ---------------------------------------------------------- model metadata
        r = s.get(U + "/v2/models/fashion")
        m = r.json()
        c.check("fashion-meta", r.status_code == 200 and m["name"] == "fashion" and m["versions"] == ["1"] and
                m["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]}] and
                m["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}], r.text)
        c.check("fashion-meta-v1", s.get(U + "/v2/models/fashion/versions/1").json()["name"] == "fashion")
        c.check("meta-unknown-version-404", is_error(s.get(U + "/v2/models/fashion/versions/9"), 404))
        c.check("meta-bad-version-400", is_error(s.get(U + "/v2/models/fashion/versions/x1"), 400))
        c.check("meta-zero-version-400", is_error(s.get(U + "/v2/models/fashion/versions/0"), 400))
        c.check("meta-unknown-model-404", is_error(s.get(U + "/v2/models/nosuch"), 404))
        c.check("meta-post-405", is_error(s.post(U + "/v2/models/fashion"), 405))
        r = s.get(U + "/v2/models/add")
        c.check("add-meta-versions", r.json()["versions"] == ["1", "2"] and len(r.json()["outputs"]) == 2, r.text)
        r = s.get(U + "/v2/models/fixed")
        c.check("fixed-meta", r.json()["inputs"][0]["shape"] == [2, 3], r.text)
        for dt in NP:
            r = s.get(U + "/v2/models/id_" + dt)
            c.check("meta-dtype " + dt, r.status_code == 200 and r.json()["inputs"][0]["datatype"] == dt and
                    r.json()["outputs"][0]["datatype"] == dt, r.text)
        # ---------------------------------------------------------- readiness
        c.check("model-ready", s.get(U + "/v2/models/fashion/ready").status_code == 200)
        c.check("model-ready-v1", s.get(U + "/v2/models/fashion/versions/1/ready").status_code == 200)
        c.check("model-ready-v9-404", is_error(s.get(U + "/v2/models/fashion/versions/9/ready"), 404))
        c.check("model-ready-unknown-404", is_error(s.get(U + "/v2/models/nosuch/ready"), 404))
        c.check("model-ready-post-405", is_error(s.post(U + "/v2/models/fashion/ready"), 405))
        c.check("infer-get-405", is_error(s.get(U + "/v2/models/fashion/infer"), 405))
        # ---------------------------------------------------------- every datatype
        for dt in NP:
            vals = values(dt, 6)
            body = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": dt, "data": vals}]}
            r = infer("id_" + dt, body)
            ok = r.status_code == 200
            out = r.json()["outputs"][0] if ok else {}
            c.check("json-flat " + dt, ok and out["datatype"] == dt and out["shape"] == [2, 3] and
                    same(dt, out["data"], expect_json(dt, vals)), r.text[:300])
            body["inputs"][0]["data"] = [vals[:3], vals[3:]]
            r = infer("id_" + dt, body)
            c.check("json-nested " + dt, r.status_code == 200 and same(dt, r.json()["outputs"][0]["data"], expect_json(dt, vals)),
                    r.text[:300])
            raw = to_bytes(dt, vals)
            hdr = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": dt, "parameters": {"binary_data_size": len(raw)}}],
                   "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}
            data, h = binary_request(hdr, [raw])
            r = infer("id_" + dt, data, h)
            hj, outs, whole = parse_response(r) if r.status_code == 200 else ({}, {}, False)
            c.check("binary-in-out " + dt, r.status_code == 200 and outs.get("y") == raw and whole and
                    r.headers.get("Content-Type") == "application/octet-stream", r.text[:300])
            del hdr["outputs"]
            data, h = binary_request(hdr, [raw])
            r = infer("id_" + dt, data, h)
            c.check("binary-in-json-out " + dt, r.status_code == 200 and
                    same(dt, r.json()["outputs"][0]["data"], expect_json(dt, vals)), r.text[:300])
            hdr = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": dt, "data": vals}],
                   "parameters": {"binary_data_output": True}}
            r = infer("id_" + dt, hdr)
            hj, outs, whole = parse_response(r) if r.status_code == 200 else ({}, {}, False)
            c.check("json-in-binary-out " + dt, r.status_code == 200 and
                    same(dt, from_bytes(dt, outs.get("y", b"")), expect_json(dt, vals)) and whole, r.text[:300])
            other = "FP32" if dt != "FP32" else "INT32"
            r = infer("id_" + dt, {"inputs": [{"name": "x", "shape": [2, 3], "datatype": other, "data": values(other, 6)}]})
            c.check("wrong-datatype " + dt, is_error(r, 400) and "datatype" in r.json()["error"], r.text)
        for dt in INTS:
            info = np.iinfo(NP[dt])
            if dt != "UINT64" and dt != "INT64":
                r = infer("id_" + dt, {"inputs": [{"name": "x", "shape": [1, 3], "datatype": dt,
                                                   "data": [0, int(info.max) + 1, 0]}]})
                c.check("out-of-range-high " + dt, is_error(r, 400) and "range" in r.json()["error"], r.text)
            r = infer("id_" + dt, {"inputs": [{"name": "x", "shape": [1, 3], "datatype": dt,
                                               "data": [0, 1.5, 0]}]})
            c.check("float-for-int " + dt, is_error(r, 400), r.text)
        for dt in ["UINT8", "UINT16", "UINT32", "UINT64"]:
            r = infer("id_" + dt, {"inputs": [{"name": "x", "shape": [1, 3], "datatype": dt, "data": [0, -1, 0]}]})
            c.check("negative-for-unsigned " + dt, is_error(r, 400), r.text)
        r = infer("id_UINT64", *binary_request({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "UINT64",
                                                            "parameters": {"binary_data_size": 24}}]}, [b"\xff" * 24]))
        c.check("uint64-max-binary", r.status_code == 200 and r.json()["outputs"][0]["data"] == [2**64 - 1] * 3, r.text)
        r = infer("id_BOOL", {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "BOOL", "data": [1, 0, 1]}]})
        c.check("bool-needs-true-false", is_error(r, 400), r.text)
        r = infer("id_FP32", {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": ["1", 2, 3]}]})
        c.check("string-for-float", is_error(r, 400), r.text)
        r = infer("id_FP32", {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1e39, 2, 3]}]})
        c.check("fp32-overflow-is-inf-null", r.status_code == 200 and r.json()["outputs"][0]["data"][0] is None, r.text)
        r = infer("id_FP32", {"inputs": [{"name": "x", "shape": [0, 3], "datatype": "FP32", "data": []}]})
        c.check("empty-batch-not-5xx", r.status_code in (200, 400), r.text)
        # ---------------------------------------------------------- multiple inputs/outputs, requested outputs
        a = [1.0, 2.0, 3.0, 4.0]
        b = [0.5, -1.0, 2.0, 0.25]
        body = {"id": "req-42", "inputs": [{"name": "b", "shape": [1, 4], "datatype": "FP32", "data": b},
                                           {"name": "a", "shape": [1, 4], "datatype": "FP32", "data": a}]}
        r = infer("add", body, version=1)
        j = r.json()
        outs = {o["name"]: o["data"] for o in j.get("outputs", [])}
        c.check("add-v1", r.status_code == 200 and outs["sum"] == [x + y for x, y in zip(a, b)] and
                outs["prod"] == [x * y for x, y in zip(a, b)] and j["model_version"] == "1", r.text)
        c.check("id-echoed", j.get("id") == "req-42", r.text)
        r = infer("add", body, version=2)
        outs = {o["name"]: o["data"] for o in r.json().get("outputs", [])}
        c.check("add-v2", r.status_code == 200 and outs["sum"] == [x + y + 1 for x, y in zip(a, b)], r.text)
        r = infer("add", body)
        c.check("add-newest-version", r.status_code == 200 and r.json()["model_version"] == "2", r.text)
        body2 = dict(body, outputs=[{"name": "prod"}])
        r = infer("add", body2, version=1)
        c.check("requested-output-one", r.status_code == 200 and [o["name"] for o in r.json()["outputs"]] == ["prod"], r.text)
        body2 = dict(body, outputs=[{"name": "prod"}, {"name": "sum"}])
        r = infer("add", body2, version=1)
        c.check("requested-output-order", [o["name"] for o in r.json()["outputs"]] == ["prod", "sum"], r.text)
        body2 = dict(body, outputs=[{"name": "prod", "parameters": {"binary_data": True}}, {"name": "sum"}])
        r = infer("add", body2, version=1)
        hj, raw, whole = parse_response(r)
        c.check("mixed-binary-json-outputs", r.status_code == 200 and "prod" in raw and "data" in hj["outputs"][1] and
                np.frombuffer(raw["prod"], np.float32).tolist() == [x * y for x, y in zip(a, b)] and whole, r.text[:200])
        ab = np.array(a, np.float32).tobytes()
        bb = np.array(b, np.float32).tobytes()
        hdr = {"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
                          {"name": "b", "shape": [1, 4], "datatype": "FP32", "data": b}]}
        r = infer("add", *binary_request(hdr, [ab]), version=1)
        c.check("binary-and-json-inputs", r.status_code == 200, r.text)
        hdr["inputs"][1] = {"name": "b", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
        r = infer("add", *binary_request(hdr, [ab, bb]), version=1)
        outs = {o["name"]: o["data"] for o in r.json().get("outputs", [])}
        c.check("two-binary-inputs-in-order", r.status_code == 200 and outs["sum"] == [x + y for x, y in zip(a, b)], r.text)
        # ---------------------------------------------------------- error cases
        good = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}

        def bad(label, body, code=400, model="id_FP32", headers=None, word=None):
            r = infer(model, body, headers)
            ok = is_error(r, code) and (word is None or word in r.json()["error"])
            c.check("error " + label, ok, "%d %s" % (r.status_code, r.text[:300]))

        def mod(**kw):
            b = json.loads(json.dumps(good))
            b["inputs"][0].update(kw)
            return b

        bad("malformed-json", b'{"inputs": [', word="JSON")
        bad("empty-body", b"")
        bad("not-object", b"[1,2,3]")
        bad("duplicate-keys", b'{"inputs": [], "inputs": []}')
        bad("no-inputs", {"id": "x"})
        bad("inputs-not-array", {"inputs": {"name": "x"}})
        bad("input-not-object", {"inputs": [5]})
        bad("too-many-inputs", {"inputs": good["inputs"] * 2})
        bad("no-inputs-given", {"inputs": []})
        bad("unknown-input", mod(name="nope"), word="nope")
        bad("name-not-string", mod(name=5))
        bad("duplicate-input", {"inputs": good["inputs"] * 2}, model="add")
        bad("missing-datatype", {"inputs": [{"name": "x", "shape": [1, 3], "data": [1, 2, 3]}]})
        bad("unknown-datatype", mod(datatype="FP8"), word="FP8")
        bad("datatype-lowercase", mod(datatype="fp32"))
        bad("bytes-datatype", mod(datatype="BYTES"))
        bad("shape-missing", {"inputs": [{"name": "x", "datatype": "FP32", "data": [1, 2, 3]}]})
        bad("shape-not-array", mod(shape="1x3"))
        bad("shape-negative", mod(shape=[-1, 3]))
        bad("shape-float", mod(shape=[1.0, 3]))
        bad("shape-wrong-rank", mod(shape=[3]))
        bad("shape-too-many-dims", mod(shape=[1] * 13))
        bad("shape-fixed-dim-mismatch", mod(shape=[1, 4], data=[1, 2, 3, 4]))
        bad("shape-huge", mod(shape=[2**62, 3]))
        bad("shape-overflow", mod(shape=[2**40, 2**40]))
        bad("data-too-few", mod(data=[1, 2]), word="elements")
        bad("data-too-many", mod(data=[1, 2, 3, 4]))
        bad("data-too-deep", mod(data=[[[1, 2, 3]]]))
        bad("data-missing", {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32"}]})
        bad("data-object", mod(data={"a": 1}))
        bad("data-null-element", mod(data=[1, None, 3]))
        bad("data-bool-for-float", mod(data=[1, True, 3]))
        bad("id-not-string", dict(good, id=5))
        bad("id-too-long", dict(good, id="x" * 300))
        bad("parameters-not-object", dict(good, parameters=[1]))
        bad("parameter-value-object", dict(good, parameters={"p": {"a": 1}}))
        bad("timeout-negative", dict(good, parameters={"timeout": -5}))
        bad("timeout-string", dict(good, parameters={"timeout": "5"}))
        bad("binary-data-output-not-bool", dict(good, parameters={"binary_data_output": 1}))
        bad("classification-unsupported", dict(good, parameters={"classification": 2}))
        bad("outputs-not-array", dict(good, outputs={"name": "y"}))
        bad("output-unknown", dict(good, outputs=[{"name": "zz"}]), word="zz")
        bad("output-twice", dict(good, outputs=[{"name": "y"}, {"name": "y"}]))
        bad("output-name-missing", dict(good, outputs=[{}]))
        bad("output-binary-not-bool", dict(good, outputs=[{"name": "y", "parameters": {"binary_data": "yes"}}]))
        bad("output-classification", dict(good, outputs=[{"name": "y", "parameters": {"classification": 1}}]))
        bad("input-parameters-not-object", mod(parameters=3))
        raw = np.array([1, 2, 3], np.float32).tobytes()
        hb = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}]}
        data, h = binary_request(hb, [raw])
        bad("binary-size-without-header", {"inputs": hb["inputs"]})
        bad("binary-truncated", data[:-1], headers=h, word="binary")
        bad("binary-extra-bytes", data + b"\0", headers=h)
        hb2 = json.loads(json.dumps(hb))
        hb2["inputs"][0]["parameters"]["binary_data_size"] = 8
        bad("binary-size-mismatch", *binary_request(hb2, [raw[:8]])[:1], headers=binary_request(hb2, [raw[:8]])[1])
        hb2["inputs"][0]["parameters"]["binary_data_size"] = -12
        bad("binary-size-negative", binary_request(hb2, [raw])[0], headers=binary_request(hb2, [raw])[1])
        hb2["inputs"][0]["parameters"]["binary_data_size"] = 2**62
        bad("binary-size-huge", binary_request(hb2, [raw])[0], headers=binary_request(hb2, [raw])[1])
        hb3 = json.loads(json.dumps(hb))
        hb3["inputs"][0]["data"] = [1, 2, 3]
        bad("binary-and-data", binary_request(hb3, [raw])[0], headers=binary_request(hb3, [raw])[1])
        bad("header-length-too-big", data, headers=dict(h, **{"Inference-Header-Content-Length": str(len(data) + 1)}))
        bad("header-length-negative", data, headers=dict(h, **{"Inference-Header-Content-Length": "-1"}))
        bad("header-length-not-number", data, headers=dict(h, **{"Inference-Header-Content-Length": "12abc"}))
        bad("header-length-huge", data, headers=dict(h, **{"Inference-Header-Content-Length": "99999999999999999999999"}))
        bad("header-length-zero", data, headers=dict(h, **{"Inference-Header-Content-Length": "0"}))
        bad("header-cut-json", data, headers=dict(h, **{"Inference-Header-Content-Length": "10"}))
        bad("body-over-max-body", b"{" + b" " * (1 << 20) + b"}", code=413)
        bad("json-over-max-json", b'{"inputs": []' + b" " * 300000 + b"}", code=413)
        r = s.post(U + "/v2/models/id_FP32/infer", data=(b" " * 4096 for _ in range(300)))  # chunked, 1.2 MB
        c.check("error chunked-over-max-body", is_error(r, 413), r.status_code)
        bad("unknown-model", good, code=404, model="nosuch")
        bad("bad-model-name", good, code=404, model="..")
        r = s.post(U + "/v2/models/id_FP32/versions/7/infer", json=good)
        c.check("error unknown-version", is_error(r, 404), r.text)
        bad("fixed-wrong-shape", {"inputs": [{"name": "x", "shape": [3, 3], "datatype": "FP32", "data": [0] * 9}]},
            model="fixed")
        r = infer("fixed", {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [-1, 2, -3, 4, -5, 6]}]})
        c.check("fixed-relu", r.status_code == 200 and r.json()["outputs"][0]["data"] == [0, 2, 0, 4, 0, 6], r.text)
        r = infer("id_FP32", good)
        c.check("server-still-fine-after-errors", r.status_code == 200, r.text)
        # ---------------------------------------------------------- equal to `nnedge run`
        rng = np.random.default_rng(1)
        for n in (1, 3):
            x = rng.random([n, 1, 28, 28], dtype=np.float32)
            np.save(os.path.join(work, "x.npy"), x)
            od = os.path.join(work, "run_out")
            shutil.rmtree(od, ignore_errors=True)
            p = run([NNEDGE, "run", os.path.join(ROOT, "models", "fashion_cnn.onnx"), "-i",
                     "input=" + os.path.join(work, "x.npy"), "-o", od])
            want = np.load(os.path.join(od, "logits.npy")) if p.returncode == 0 else None
            c.check("nnedge-run-ok n=%d" % n, p.returncode == 0, p.stderr)
            r = infer("fashion", {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                              "data": x.ravel().tolist()}]})
            got = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(n, 10) if r.status_code == 200 else None
            c.check("equals-run-json n=%d" % n, want is not None and got is not None and np.array_equal(got, want),
                    "%s vs %s" % (got, want))
            hdr = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                               "parameters": {"binary_data_size": x.nbytes}}], "parameters": {"binary_data_output": True}}
            r = infer("fashion", *binary_request(hdr, [x.tobytes()]))
            _, raw, _ = parse_response(r)
            got = np.frombuffer(raw.get("logits", b""), np.float32)
            c.check("equals-run-binary n=%d" % n, want is not None and got.size == want.size and
                    np.array_equal(got.reshape(want.shape), want), r.text[:200])
        # a batch whose plan would pass --max-run-memory (16 MiB): refused, the server stays
        x = np.zeros([200, 1, 28, 28], np.float32)
        hdr = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                           "parameters": {"binary_data_size": x.nbytes}}]}
        r = infer("fashion", *binary_request(hdr, [x.tobytes()]))
        c.check("error run-memory-limit", is_error(r, 400) and "--max-run-memory" in r.json()["error"], r.text[:300])
        # ---------------------------------------------------------- batching joins concurrent requests exactly
        xs = [rng.random([1, 1, 28, 28], dtype=np.float32) for _ in range(16)]
        single = []
        for x in xs:
            r = infer("fashion", *binary_request({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                                                              "parameters": {"binary_data_size": x.nbytes}}],
                                                  "parameters": {"binary_data_output": True}}, [x.tobytes()]))
            single.append(parse_response(r)[1]["logits"])
        res = [None] * 16
        # Joined requests run at another batch size, whose kernels may round
        # differently (blocking over the batch): equal to a few float ulps.
        def worker(i):
            ss = requests.Session()
            h = {"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                             "parameters": {"binary_data_size": 3136}}], "parameters": {"binary_data_output": True}}
            data, hd = binary_request(h, [xs[i].tobytes()])
            worst, codes = 0.0, []
            want = np.frombuffer(single[i], np.float32)
            for _ in range(5):
                r = ss.post(U + "/v2/models/fashion/infer", data=data, headers=hd)
                codes.append(r.status_code)
                got = np.frombuffer(parse_response(r)[1].get("logits", b""), np.float32) if r.status_code == 200 else None
                worst = max(worst, np.abs(got - want).max() / max(1.0, np.abs(want).max()) if got is not None and got.size == 10 else 1e9)
            res[i] = (codes, worst)
        ts = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        tallies[("fashion", 0)][0] += 80
        tallies[("fashion", 0)][1] += sum(r[0].count(200) for r in res)
        c.check("concurrent-200", all(r[0] == [200] * 5 for r in res), res)
        c.check("concurrent-equal-to-single", all(r[1] <= 1e-5 for r in res), [r[1] for r in res])
        vals0 = {}
        for line in s.get(U + "/metrics").text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                vals0[k] = float(v)
        lab = '{model="fashion",version="1"}'
        ran = vals0.get("nnedge_request_success_total" + lab, -1) + \
            vals0.get('nnedge_request_failure_total{model="fashion",version="1",reason="compute"}', 0)
        c.check("every request in exactly one batch", vals0.get("nnedge_batch_size_sum" + lab) == ran,
                (vals0.get("nnedge_batch_size_sum" + lab), ran))
        # ---------------------------------------------------------- repository extension
        r = s.post(U + "/v2/repository/index")
        idx = r.json()
        c.check("index", r.status_code == 200 and {"name": "fashion", "version": "1", "state": "READY", "reason": ""} in idx,
                r.text[:300])
        c.check("index-ready-true", s.post(U + "/v2/repository/index", json={"ready": True}).status_code == 200)
        c.check("index-bad-body", is_error(s.post(U + "/v2/repository/index", data=b"[1"), 400))
        c.check("index-bad-ready", is_error(s.post(U + "/v2/repository/index", json={"ready": 3}), 400))
        c.check("index-get-405", is_error(s.get(U + "/v2/repository/index"), 405))
        r = s.post(U + "/v2/repository/models/fixed/unload")
        c.check("unload", r.status_code == 200, r.text)
        c.check("unloaded-not-ready", is_error(s.get(U + "/v2/models/fixed/ready"), 400))
        r = infer("fixed", {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [0] * 6}]}, count=False)
        c.check("unloaded-infer-400", is_error(r, 400), r.text)
        idx = s.post(U + "/v2/repository/index").json()
        c.check("index-shows-unavailable", any(e["name"] == "fixed" and e["state"] == "UNAVAILABLE" for e in idx), idx)
        idx = s.post(U + "/v2/repository/index", json={"ready": True}).json()
        c.check("index-ready-hides-unloaded", all(e["name"] != "fixed" for e in idx), idx)
        r = s.post(U + "/v2/repository/models/fixed/load")
        c.check("load", r.status_code == 200 and s.get(U + "/v2/models/fixed/ready").status_code == 200, r.text)
        c.check("load-unknown-404", is_error(s.post(U + "/v2/repository/models/nosuch/load"), 404))
        c.check("unload-unknown-404", is_error(s.post(U + "/v2/repository/models/nosuch/unload"), 404))
        c.check("load-bad-name-404", is_error(s.post(U + "/v2/repository/models/.hidden/load"), 404))
        c.check("load-get-405", is_error(s.get(U + "/v2/repository/models/fixed/load"), 405))
        c.check("load-bad-body-400", is_error(s.post(U + "/v2/repository/models/fixed/load", data=b"{"), 400))
        c.check("load-config-override-400", is_error(s.post(U + "/v2/repository/models/fixed/load",
                                                            json={"parameters": {"config": "{}"}}), 400))
        c.check("repo-unknown-endpoint-404", is_error(s.post(U + "/v2/repository/models/fixed/reload"), 404))
        # a model added after start (explicit mode): listed as not loaded, loads on request
        os.makedirs(os.path.join(repo, "late", "3"))
        shutil.copy(os.path.join(repo, "fixed", "1", "model.onnx"), os.path.join(repo, "late", "3", "model.onnx"))
        idx = s.post(U + "/v2/repository/index").json()
        c.check("index-lists-unloaded-dir", any(e["name"] == "late" and e["state"] == "UNAVAILABLE" for e in idx), idx)
        c.check("late-not-served", is_error(s.get(U + "/v2/models/late"), 404))
        r = s.post(U + "/v2/repository/models/late/load")
        c.check("late-load", r.status_code == 200 and s.get(U + "/v2/models/late").json()["versions"] == ["3"], r.text)
        # broken config / model: load fails with 400, the served version stays
        with open(os.path.join(repo, "late", "config.json"), "w") as f:
            f.write('{"bogus": 1}')
        r = s.post(U + "/v2/repository/models/late/load")
        c.check("load-bad-config-400", is_error(r, 400) and "bogus" in r.json()["error"], r.text)
        c.check("bad-config-keeps-old", s.get(U + "/v2/models/late/ready").status_code == 200)
        for cfg, label in [('{"version_policy": {"latest": {"num_versions": 0}}}', "latest-0"),
                           ('{"version_policy": {"newest": {}}}', "unknown-policy"),
                           ('{"max_batch_size": -1}', "negative-batch"), ('{"threads": "two"}', "threads-string"),
                           ('{"version_policy": {"specific": {"versions": [9]}}}', "specific-missing"), ("[", "not-json")]:
            with open(os.path.join(repo, "late", "config.json"), "w") as f:
                f.write(cfg)
            c.check("load-config " + label, is_error(s.post(U + "/v2/repository/models/late/load"), 400), cfg)
        os.unlink(os.path.join(repo, "late", "config.json"))
        os.makedirs(os.path.join(repo, "late", "4"))
        with open(os.path.join(repo, "late", "4", "model.onnx"), "wb") as f:
            f.write(b"\x08\x07\x12\xff\xff\xff\xff\x0fgarbage")
        r = s.post(U + "/v2/repository/models/late/load")
        c.check("load-corrupt-model-400", is_error(r, 400), r.text)
        c.check("corrupt-keeps-old", s.get(U + "/v2/models/late").json().get("versions") == ["3"])
        shutil.rmtree(os.path.join(repo, "late", "4"))
        with open(os.path.join(repo, "late", "config.json"), "w") as f:
            f.write('{"version_policy": {"specific": {"versions": [3]}}, "max_batch_size": 0, "threads": 1}')
        c.check("load-good-config", s.post(U + "/v2/repository/models/late/load").status_code == 200)
        # ---------------------------------------------------------- metrics
        met = s.get(U + "/metrics")
        c.check("metrics-200", met.status_code == 200 and met.headers["Content-Type"].startswith("text/plain"))
        p = subprocess.run(["promtool", "check", "metrics"], input=met.content, capture_output=True)
        c.check("promtool-clean", p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
                p.stdout + p.stderr)
        vals = {}
        for line in met.text.splitlines():
            if not line.startswith("#") and line:
                k, v = line.rsplit(" ", 1)
                vals[k] = float(v)
        for dt in ["INT8", "FP16", "BOOL"]:
            sent, okn = tallies[("id_" + dt, 0)]
            lab = '{model="id_%s",version="1"}' % dt
            c.check("metrics-requests " + dt, vals.get("nnedge_requests_total" + lab) == sent,
                    (vals.get("nnedge_requests_total" + lab), sent))
            c.check("metrics-success " + dt, vals.get("nnedge_request_success_total" + lab) == okn,
                    (vals.get("nnedge_request_success_total" + lab), okn))
            fails = sum(v for k, v in vals.items() if k.startswith("nnedge_request_failure_total{model=\"id_%s\"," % dt))
            c.check("metrics-failures " + dt, fails == sent - okn, (fails, sent - okn))
        sent, okn = tallies[("fashion", 0)]
        lab = '{model="fashion",version="1"}'
        c.check("metrics-fashion", vals.get("nnedge_requests_total" + lab) == sent and
                vals.get("nnedge_request_success_total" + lab) == okn, (sent, okn))
        c.check("metrics-batch-count", vals.get("nnedge_batch_size_count" + lab) == vals.get("nnedge_batches_total" + lab))
        c.check("metrics-memory", vals.get("nnedge_model_memory_bytes" + lab, 0) > 100000)
        c.check("metrics-rejected", vals.get('nnedge_requests_rejected_total{code="404"}', 0) >= 10)
        c.check("metrics-post-405", is_error(s.post(U + "/metrics"), 405))
    finally:
        problems = srv.stop()
    c.check("server-clean-exit", not problems, problems)

    # -------------------------------------------------------------- full queue, timeouts, disconnects
    srv = Server(repo, "--threads", "1", "--max-queue", "2")
    U = srv.url
    try:
        big = {"inputs": [{"name": "x", "shape": [64, 256], "datatype": "FP32", "data": [0.01] * (64 * 256)}]}
        big_raw = json.dumps(big)
        # long runs the next request queues behind
        # (binary: 4 MB; about 0.5 s on the release build, seconds under ASan)
        huge_x = np.full([4096, 256], 0.01, np.float32)
        huge_raw, huge_h = binary_request({"inputs": [{"name": "x", "shape": [4096, 256], "datatype": "FP32",
                                                       "parameters": {"binary_data_size": huge_x.nbytes}}]},
                                          [huge_x.tobytes()])
        results = []
        lock = threading.Lock()

        def flood():
            ss = requests.Session()
            t0 = time.time()
            try:
                r = ss.post(U + "/v2/models/slow/infer", data=big_raw, timeout=60)
                st, ra = r.status_code, r.headers.get("Retry-After")
                body_ok = r.status_code == 200 or is_error(r, r.status_code)
            except requests.RequestException as e:
                st, ra, body_ok = "exc %s" % e, None, False
            with lock:
                results.append((st, ra, time.time() - t0, body_ok))
        ts = [threading.Thread(target=flood) for _ in range(12)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        codes = [r[0] for r in results]
        c.check("queue-full-503", codes.count(503) >= 1 and codes.count(200) >= 1 and set(codes) <= {200, 503}, codes)
        c.check("queue-full-retry-after", all(r[1] == "1" for r in results if r[0] == 503), results)
        c.check("queue-full-bodies", all(r[3] for r in results), results)
        lat503 = sorted(r[2] for r in results if r[0] == 503)
        print("503 latencies (s):", ["%.4f" % x for x in lat503])
        extra = []  # statuses of the long background requests

        def busy():
            """Two long runs on the one worker: returns once one runs and one waits."""
            def bg():
                try:
                    st = requests.post(U + "/v2/models/slow/infer", data=huge_raw, headers=huge_h, timeout=120).status_code
                except requests.RequestException as e:
                    st = "exc %s" % e
                with lock:
                    extra.append(st)
            bgs = [threading.Thread(target=bg) for _ in range(2)]
            for t in bgs:
                t.start()
                time.sleep(0.01)
            t0 = time.time()
            while time.time() - t0 < 20:
                m = requests.get(U + "/metrics").text
                if "\nnnedge_queue_length 1\n" in m or "\nnnedge_queue_length 2\n" in m:
                    break
                time.sleep(0.005)
            return bgs
        # timeout: queued behind long requests, with parameters.timeout = 1 ms
        bgs = busy()
        r = requests.post(U + "/v2/models/slow/infer", json=dict(big, parameters={"timeout": 1000}), timeout=60)
        c.check("timeout-504", is_error(r, 504), r.text[:200])
        [t.join() for t in bgs]
        # disconnect: queued behind long requests, then the client closes its socket
        bgs = busy()
        sk = socket.create_connection(("127.0.0.1", srv.port))
        body = big_raw.encode()
        sk.sendall(b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.05)
        sk.close()
        [t.join() for t in bgs]
        time.sleep(0.2)
        met = requests.get(U + "/metrics").text
        canc = [l for l in met.splitlines() if l.startswith('nnedge_request_failure_total{model="slow",version="1",reason="cancelled"}')]
        c.check("disconnect-cancels", canc and float(canc[0].split()[-1]) >= 1, canc)
        to = [l for l in met.splitlines() if l.startswith('nnedge_request_failure_total{model="slow",version="1",reason="timeout"}')]
        c.check("timeout-counted", to and float(to[0].split()[-1]) >= 1, to)
        qf = [l for l in met.splitlines() if l.startswith('nnedge_request_failure_total{model="slow",version="1",reason="queue_full"}')]
        seen503 = codes.count(503) + extra.count(503) + (r.status_code == 503)
        c.check("queue-full-counted", qf and float(qf[0].split()[-1]) == seen503, (qf, seen503, extra))
        c.check("healthy-after-queue-tests", requests.get(U + "/v2/health/ready").status_code == 200)
    finally:
        problems = srv.stop()
    c.check("server-clean-exit-2", not problems, problems)
    return c.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/serve-test"))
