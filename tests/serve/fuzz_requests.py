#!/usr/bin/python3
"""Request fuzzer for `nnedge serve` (run it against the ASan/UBSan build):
starts the server on the repository of gen_models.py and drives
tests/serve/fuzz_client.c (built as build/serve_fuzz_client; FUZZ_CLIENT
overrides), which sends N requests on keep-alive connections from several
threads: mutated valid requests (wrong, huge and negative shapes, wrong
datatypes and values, names, outputs, parameters), malformed and truncated
JSON, deep nesting, random bytes, the binary extension with a lying
Inference-Header-Content-Length or binary_data_size, truncated binary
bodies, random paths, models and methods, and raw connections with garbage
(broken request lines and headers, Content-Length lies, bad chunks, early
closes). The client checks that every answer is well-formed HTTP with a
status the protocol uses (never 500) and JSON errors, and that unmutated
valid requests succeed; afterwards the server must be healthy, still infer
correctly and exit cleanly (no sanitizer report).
Usage: fuzz_requests.py WORKDIR [N] [SEED] [CLIENT_THREADS]"""
import os
import shutil
import subprocess
import sys

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Cases, Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.environ.get("FUZZ_CLIENT", "build/serve_fuzz_client")


def main(work, n, seed, threads):
    c = Cases("serve request fuzzer")
    repo = os.path.join(work, "repo-fuzz")
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_models.py"), repo])
    # a short queue, so that full-queue refusals are fuzzed too
    srv = Server(repo, "--threads", "2", "--max-body", "65536", "--max-queue", "2")
    try:
        r = subprocess.run([CLIENT, str(srv.port), str(n), str(seed), str(threads)], capture_output=True, text=True)
        print(r.stdout.strip(), flush=True)
        c.check("every answer well-formed (fuzz_client exit %d)" % r.returncode, r.returncode == 0, r.stderr[-3000:])
        c.check("server alive", srv.alive())
        r = requests.get(srv.url + "/v2/health/ready", timeout=10)
        c.check("healthy after fuzzing", r.status_code == 200)
        r = requests.post(srv.url + "/v2/models/id_FP32/infer",
                          json={"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
        c.check("still infers after fuzzing", r.status_code == 200 and r.json()["outputs"][0]["data"] == [1, 2, 3], r.text)
        r = requests.get(srv.url + "/metrics", timeout=10)
        c.check("metrics after fuzzing", r.status_code == 200 and "nnedge_requests_total" in r.text, r.text[:300])
    finally:
        problems = srv.stop()
    c.check("clean exit, no sanitizer report", not problems, problems)
    return c.done()


if __name__ == "__main__":
    a = sys.argv[1:]
    sys.exit(main(a[0] if a else "/tmp/serve-test", int(a[1]) if len(a) > 1 else 3000,
                  int(a[2]) if len(a) > 2 else 1, int(a[3]) if len(a) > 3 else 8))
