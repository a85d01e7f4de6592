#!/usr/bin/python3
"""gRPC front end of `nnedge serve` (--grpc), with python3-grpcio as the
client: every method of GRPCInferenceService, every datatype (typed contents
where the protocol has a field, raw contents for all), errors with their
gRPC status codes, tokens, and the same outputs as REST for the same
requests. Message classes come from src/serve/grpc_predict_v2.proto through
protoc-c --descriptor_set_out. Usage: test_grpc.py WORKDIR"""
import json
import os
import re
import shutil
import subprocess
import sys
import random
import threading
import time

import grpc
import numpy as np
import requests
from google.protobuf import descriptor_pb2, message_factory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Cases, Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NP = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
      "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64, "FP16": np.float16,
      "FP32": np.float32, "FP64": np.float64}
FIELD = {"BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
         "UINT64": "uint64_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
         "INT64": "int64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents"}


def messages(work):
    out = os.path.join(work, "grpc_predict_v2.pb")
    subprocess.run(["protoc-c", "--proto_path=" + os.path.join(ROOT, "src", "serve"), "--descriptor_set_out=" + out,
                    "--c_out=" + work, "grpc_predict_v2.proto"], check=True)
    fds = descriptor_pb2.FileDescriptorSet.FromString(open(out, "rb").read())
    return message_factory.GetMessages(list(fds.file))


def main(work):
    c = Cases("serve gRPC")
    M = messages(work)
    repo = os.path.join(work, "repo-grpc")
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_models.py"), repo])
    os.makedirs(os.path.join(repo, "fashion", "1"))
    shutil.copy(os.path.join(ROOT, "models", "fashion_cnn.onnx"), os.path.join(repo, "fashion", "1", "model.onnx"))
    tok = os.path.join(work, "grpc-tokens.txt")
    with open(tok, "w") as f:
        f.write("inference grpc-infer-1\nadmin grpc-admin-1\n")
    srv = Server(repo, "--grpc", "127.0.0.1:0", "--tokens", tok)
    line_port = int(re.search(r"grpc 127\.0\.0\.1:(\d+)", srv.banner).group(1))
    ch = grpc.insecure_channel("127.0.0.1:%d" % line_port)
    meta = (("authorization", "Bearer grpc-infer-1"),)

    def call(method, req, resp, md=meta):
        f = ch.unary_unary("/inference.GRPCInferenceService/" + method, request_serializer=lambda m: m.SerializeToString(),
                           response_deserializer=M["inference.%s" % resp].FromString)
        return f(req, metadata=md, timeout=60)

    def code_of(fn):
        try:
            fn()
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            return e.code(), e.details()

    def infer_req(model, inputs, raw=None, outputs=(), params=None, version=""):
        q = M["inference.ModelInferRequest"](model_name=model, model_version=version, id="g-1")
        for name, dt, shape, contents in inputs:
            t = q.inputs.add(name=name, datatype=dt, shape=shape)
            if contents is not None:
                getattr(t.contents, FIELD[dt]).extend(contents)
        for r in raw or []:
            q.raw_input_contents.append(r)
        for o in outputs:
            q.outputs.add(name=o)
        for k, v in (params or {}).items():
            q.parameters[k].int64_param = v
        return q

    def infer(q, md=meta):
        return call("ModelInfer", q, "ModelInferResponse", md)

    try:
        E = M["inference.ServerLiveRequest"]
        c.check("ServerLive", call("ServerLive", E(), "ServerLiveResponse").live)
        c.check("ServerReady", call("ServerReady", M["inference.ServerReadyRequest"](), "ServerReadyResponse").ready)
        sm = call("ServerMetadata", M["inference.ServerMetadataRequest"](), "ServerMetadataResponse")
        c.check("ServerMetadata", sm.name == "nnedge" and "model_repository" in sm.extensions, sm)
        r = call("ModelReady", M["inference.ModelReadyRequest"](name="fashion"), "ModelReadyResponse")
        c.check("ModelReady", r.ready)
        r = call("ModelReady", M["inference.ModelReadyRequest"](name="nosuch"), "ModelReadyResponse")
        c.check("ModelReady-unknown-false", not r.ready)
        r = call("ModelReady", M["inference.ModelReadyRequest"](name="fashion", version="7"), "ModelReadyResponse")
        c.check("ModelReady-unknown-version-false", not r.ready)
        md = call("ModelMetadata", M["inference.ModelMetadataRequest"](name="fashion"), "ModelMetadataResponse")
        c.check("ModelMetadata", md.name == "fashion" and list(md.versions) == ["1"] and md.platform == "onnx" and
                md.inputs[0].name == "input" and md.inputs[0].datatype == "FP32" and list(md.inputs[0].shape) == [-1, 1, 28, 28] and
                list(md.outputs[0].shape) == [-1, 10], md)
        st, _ = code_of(lambda: call("ModelMetadata", M["inference.ModelMetadataRequest"](name="nosuch"), "ModelMetadataResponse"))
        c.check("ModelMetadata-unknown NOT_FOUND", st == grpc.StatusCode.NOT_FOUND, st)
        st, _ = code_of(lambda: call("ModelMetadata", M["inference.ModelMetadataRequest"](name="fashion", version="x"), "ModelMetadataResponse"))
        c.check("ModelMetadata-bad-version INVALID_ARGUMENT", st == grpc.StatusCode.INVALID_ARGUMENT, st)
        # every datatype: typed contents where the protocol has a field, raw for all
        for dt, npt in NP.items():
            vals = np.array([0, 1, 2, 3, 4, 5], npt) if dt != "BOOL" else np.array([1, 0, 1, 1, 0, 0], np.bool_)
            if dt in FIELD:
                r = infer(infer_req("id_" + dt, [("x", dt, [2, 3], vals.tolist())]))
                got = np.frombuffer(r.raw_output_contents[0], npt)
                c.check("typed %s" % dt, r.outputs[0].datatype == dt and list(r.outputs[0].shape) == [2, 3] and
                        np.array_equal(got, vals), r)
            r = infer(infer_req("id_" + dt, [("x", dt, [2, 3], None)], raw=[vals.tobytes()]))
            c.check("raw %s" % dt, r.raw_output_contents[0] == vals.tobytes() and r.id == "g-1" and
                    r.model_name == "id_" + dt and r.model_version == "1", r)
        bf = np.array([0.5, -2.0, 3.0], np.float32).view(np.uint32) >> 16
        r = infer(infer_req("id_BF16", [("x", "BF16", [1, 3], None)], raw=[bf.astype(np.uint16).tobytes()]))
        c.check("raw BF16", r.raw_output_contents[0] == bf.astype(np.uint16).tobytes(), r)
        # errors
        bad = [
            ("unknown-model", infer_req("nosuch", [("x", "FP32", [1, 3], [1, 2, 3])]), grpc.StatusCode.NOT_FOUND),
            ("unknown-version", infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])], version="9"), grpc.StatusCode.NOT_FOUND),
            ("wrong-datatype", infer_req("id_FP32", [("x", "INT32", [1, 3], [1, 2, 3])]), grpc.StatusCode.INVALID_ARGUMENT),
            ("wrong-count", infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2])]), grpc.StatusCode.INVALID_ARGUMENT),
            ("wrong-rank", infer_req("id_FP32", [("x", "FP32", [3], [1, 2, 3])]), grpc.StatusCode.INVALID_ARGUMENT),
            ("fixed-dim", infer_req("id_FP32", [("x", "FP32", [1, 4], [1, 2, 3, 4])]), grpc.StatusCode.INVALID_ARGUMENT),
            ("negative-dim", infer_req("id_FP32", [("x", "FP32", [-1, 3], [1, 2, 3])]), grpc.StatusCode.INVALID_ARGUMENT),
            ("huge-shape", infer_req("id_FP32", [("x", "FP32", [2**62, 3], None)], raw=[b"\0" * 12]), grpc.StatusCode.INVALID_ARGUMENT),
            ("raw-size", infer_req("id_FP32", [("x", "FP32", [1, 3], None)], raw=[b"\0" * 11]), grpc.StatusCode.INVALID_ARGUMENT),
            ("no-contents", infer_req("id_FP32", [("x", "FP32", [1, 3], None)]), grpc.StatusCode.INVALID_ARGUMENT),
            ("int8-range", infer_req("id_INT8", [("x", "INT8", [1, 3], [1, 200, 3])]), grpc.StatusCode.INVALID_ARGUMENT),
            ("fp16-typed", infer_req("id_FP16", [("x", "FP16", [1, 3], None)]), grpc.StatusCode.INVALID_ARGUMENT),
            ("unknown-input", infer_req("id_FP32", [("q", "FP32", [1, 3], [1, 2, 3])]), grpc.StatusCode.INVALID_ARGUMENT),
            ("unknown-output", infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])], outputs=["zz"]), grpc.StatusCode.INVALID_ARGUMENT),
            ("too-many-inputs", infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])] * 2), grpc.StatusCode.INVALID_ARGUMENT),
            ("bad-timeout", infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])], params={"timeout": -1}), grpc.StatusCode.INVALID_ARGUMENT),
        ]
        q = infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])], raw=[b"\0" * 12])
        bad.append(("contents-and-raw", q, grpc.StatusCode.INVALID_ARGUMENT))
        for label, q, want in bad:
            st, det = code_of(lambda: infer(q))
            c.check("error " + label, st == want and det, (st, det))
        st, _ = code_of(lambda: infer(infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])]), md=()))
        c.check("no-token UNAUTHENTICATED", st == grpc.StatusCode.UNAUTHENTICATED, st)
        st, _ = code_of(lambda: infer(infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])]),
                                      md=(("authorization", "Bearer wrong-token-1"),)))
        c.check("wrong-token UNAUTHENTICATED", st == grpc.StatusCode.UNAUTHENTICATED, st)
        c.check("admin-token infers", infer(infer_req("id_FP32", [("x", "FP32", [1, 3], [1, 2, 3])]),
                                            md=(("authorization", "Bearer grpc-admin-1"),)).outputs[0].name == "y")
        st, _ = code_of(lambda: ch.unary_unary("/inference.GRPCInferenceService/Nope")(b"", timeout=10))
        c.check("unknown-method UNIMPLEMENTED", st == grpc.StatusCode.UNIMPLEMENTED, st)
        st, _ = code_of(lambda: ch.unary_unary("/other.Service/ServerLive")(b"", timeout=10))
        c.check("unknown-service UNIMPLEMENTED", st == grpc.StatusCode.UNIMPLEMENTED, st)
        st, _ = code_of(lambda: ch.unary_unary("/inference.GRPCInferenceService/ModelInfer")(b"\xff\xff\xff", metadata=meta, timeout=10))
        c.check("malformed-message INVALID_ARGUMENT", st == grpc.StatusCode.INVALID_ARGUMENT, st)
        # requested outputs, two inputs, versions
        q = infer_req("add", [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [0.5, 0.5, 0.5, 0.5])], outputs=["prod"])
        r = infer(q)
        c.check("requested-output", [o.name for o in r.outputs] == ["prod"] and
                np.frombuffer(r.raw_output_contents[0], np.float32).tolist() == [0.5, 1.0, 1.5, 2.0], r)
        # same outputs as REST for the same requests (fashion, batch 1 and 3)
        rng = np.random.default_rng(5)
        for n in (1, 3):
            x = rng.random([n, 1, 28, 28], dtype=np.float32)
            r = infer(infer_req("fashion", [("input", "FP32", list(x.shape), None)], raw=[x.tobytes()]))
            h = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                        "parameters": {"binary_data_size": x.nbytes}}],
                            "parameters": {"binary_data_output": True}}).encode()
            rr = requests.post(srv.url + "/v2/models/fashion/infer", data=h + x.tobytes(),
                               headers={"Inference-Header-Content-Length": str(len(h)), "Authorization": "Bearer grpc-infer-1"})
            hl = int(rr.headers["Inference-Header-Content-Length"])
            c.check("gRPC equals REST n=%d" % n, rr.status_code == 200 and r.raw_output_contents[0] == rr.content[hl:] and
                    list(r.outputs[0].shape) == [n, 10])
            r2 = infer(infer_req("fashion", [("input", "FP32", list(x.shape), x.ravel().tolist())]))
            c.check("typed equals raw n=%d" % n, r2.raw_output_contents[0] == r.raw_output_contents[0])
        # concurrency: 8 channels x 20 calls
        errs = []

        def worker():
            chn = grpc.insecure_channel("127.0.0.1:%d" % line_port)
            f = chn.unary_unary("/inference.GRPCInferenceService/ModelInfer", request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=M["inference.ModelInferResponse"].FromString)
            for _ in range(20):
                try:
                    r = f(infer_req("add", [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])]),
                          metadata=meta, timeout=60)
                    if np.frombuffer(r.raw_output_contents[0], np.float32).tolist() != [3, 4, 5, 6]:  # version 2: a+b+1
                        errs.append(r)
                except grpc.RpcError as e:
                    errs.append(e)
            chn.close()
        ts = [threading.Thread(target=worker) for _ in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        c.check("8 channels x 20 calls", not errs, errs[:2])
        # many calls at once on ONE channel (HTTP/2 streams answered concurrently)
        errs1 = []
        f1 = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer", request_serializer=lambda m: m.SerializeToString(),
                            response_deserializer=M["inference.ModelInferResponse"].FromString)

        def one_channel_worker():
            for _ in range(10):
                try:
                    r = f1(infer_req("add", [("a", "FP32", [1, 4], [1, 2, 3, 4]), ("b", "FP32", [1, 4], [1, 1, 1, 1])]),
                           metadata=meta, timeout=60)
                    if np.frombuffer(r.raw_output_contents[0], np.float32).tolist() != [3, 4, 5, 6]:
                        errs1.append(r)
                except grpc.RpcError as e:
                    errs1.append(e)
        ts = [threading.Thread(target=one_channel_worker) for _ in range(16)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        c.check("16 threads x 10 calls on one channel", not errs1, errs1[:2])
        # a call the client gives up on while queued is cancelled in the server (RST_STREAM)
        huge = np.full([4096, 256], 0.01, np.float32)
        hq = infer_req("slow", [("x", "FP32", [4096, 256], None)], raw=[huge.tobytes()])
        bgs = [threading.Thread(target=lambda: code_of(lambda: grpc.insecure_channel("127.0.0.1:%d" % line_port).unary_unary(
            "/inference.GRPCInferenceService/ModelInfer", request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=M["inference.ModelInferResponse"].FromString)(hq, metadata=meta, timeout=120)))
            for _ in range(3)]
        [t.start() for t in bgs]
        t0 = time.time()
        while time.time() - t0 < 30:  # all three in, two running and one queued
            m = requests.get(srv.url + "/metrics").text
            if 'nnedge_requests_total{model="slow",version="1"} 3\n' in m and "\nnnedge_queue_length 1\n" in m:
                break
            time.sleep(0.005)
        st, _ = code_of(lambda: ch.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                               request_serializer=lambda m: m.SerializeToString())(
            infer_req("slow", [("x", "FP32", [1, 256], None)], raw=[b"\0" * 1024]), metadata=meta, timeout=0.05))
        c.check("client deadline DEADLINE_EXCEEDED", st == grpc.StatusCode.DEADLINE_EXCEEDED, st)
        [t.join() for t in bgs]
        time.sleep(0.2)
        met = requests.get(srv.url + "/metrics").text
        canc = [l for l in met.splitlines() if l.startswith('nnedge_request_failure_total{model="slow",version="1",reason="cancelled"}')]
        c.check("reset stream cancels the queued request", canc and float(canc[0].split()[-1]) >= 1, canc)
        # fuzz: mutated and random ModelInfer messages; every call ends in a status, the server stays up
        rnd = random.Random(7)
        seed = infer_req("add", [("a", "FP32", [1, 4], None), ("b", "FP32", [1, 4], [1, 1, 1, 1])],
                         raw=[b"\0" * 16]).SerializeToString()
        raw_call = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer")
        statuses = {}
        for i in range(400):
            b = bytearray(seed if i % 3 else os.urandom(rnd.randrange(1, 200)))
            for _ in range(rnd.randrange(1, 8)):
                if b:
                    b[rnd.randrange(len(b))] = rnd.randrange(256)
            if rnd.random() < 0.2:
                b = b[:rnd.randrange(len(b) + 1)]
            st, _ = code_of(lambda: raw_call(bytes(b), metadata=meta, timeout=30))
            statuses[st.name] = statuses.get(st.name, 0) + 1
        print("gRPC fuzz statuses:", statuses)
        c.check("fuzzed calls answered", set(statuses) <= {"OK", "INVALID_ARGUMENT", "NOT_FOUND"}, statuses)
        c.check("alive after gRPC fuzz", call("ServerLive", E(), "ServerLiveResponse").live)
        met = requests.get(srv.url + "/metrics").text
        c.check("gRPC calls in metrics", 'nnedge_request_success_total{model="add",version="2"} %d' % (321 + statuses.get("OK", 0)) in met,
                [l for l in met.splitlines() if l.startswith('nnedge_request_success_total{model="add"')])
        ch.close()
    finally:
        problems = srv.stop()
    c.check("clean exit", not problems, problems)
    return c.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/serve-test"))
