#!/usr/bin/python3
"""Security of `nnedge serve`: bearer tokens per API group (inference,
repository admin) from a token file re-read when it changes; TLS 1.3 only
(TLS 1.2 and plain HTTP refused); mutual TLS (a client certificate from the
configured CA required); the same for gRPC (python3-grpcio). Certificates are made with openssl here.
Usage: test_security.py WORKDIR"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time

import requests
import urllib3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Cases, Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
urllib3.disable_warnings()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    os.makedirs(d, exist_ok=True)
    for ca in ("ca", "rogue"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=test %s" % ca, "-keyout", ca + ".key", "-out", ca + ".pem", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca, ext in (("server", "ca", True), ("client", "ca", False), ("evil", "rogue", False)):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + name,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        extra = ["-extfile", "san.ext"] if ext else []
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
                "-days", "2", "-out", name + ".pem", *extra, cwd=d)


def tls_version(port, cafile, max12=False, cert=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if max12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert[0], cert[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.version()


def main(work):
    c = Cases("serve security")
    repo = os.path.join(work, "repo-sec")
    shutil.rmtree(repo, ignore_errors=True)
    subprocess.check_call(["/usr/bin/python3", os.path.join(HERE, "gen_models.py"), repo])
    tok = os.path.join(work, "tokens.txt")
    with open(tok, "w") as f:
        f.write("# groups: inference, admin\ninference infer-token-1\nadmin admin-token-1\n")
    body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    srv = Server(repo, "--tokens", tok)
    U = srv.url

    def H(t):
        return {"Authorization": "Bearer " + t} if t else {}
    try:
        c.check("health-open", requests.get(U + "/v2/health/live").status_code == 200)
        c.check("ready-open", requests.get(U + "/v2/health/ready").status_code == 200)
        c.check("metrics-open", requests.get(U + "/metrics").status_code == 200)
        r = requests.get(U + "/v2/models/id_FP32")
        c.check("meta-no-token-401", r.status_code == 401 and r.headers.get("WWW-Authenticate") == "Bearer" and "error" in r.json())
        c.check("meta-wrong-token-401", requests.get(U + "/v2/models/id_FP32", headers=H("infer-token-2")).status_code == 401)
        c.check("meta-prefix-token-401", requests.get(U + "/v2/models/id_FP32", headers=H("infer-token-")).status_code == 401)
        c.check("meta-basic-401", requests.get(U + "/v2/models/id_FP32", headers={"Authorization": "Basic aW5mZXI="}).status_code == 401)
        c.check("meta-infer-token", requests.get(U + "/v2/models/id_FP32", headers=H("infer-token-1")).status_code == 200)
        c.check("meta-bearer-lowercase", requests.get(U + "/v2/models/id_FP32", headers={"Authorization": "bearer infer-token-1"}).status_code == 200)
        c.check("infer-no-token-401", requests.post(U + "/v2/models/id_FP32/infer", json=body).status_code == 401)
        c.check("infer-infer-token", requests.post(U + "/v2/models/id_FP32/infer", json=body, headers=H("infer-token-1")).status_code == 200)
        c.check("infer-admin-token", requests.post(U + "/v2/models/id_FP32/infer", json=body, headers=H("admin-token-1")).status_code == 200)
        for ep in ("/v2/repository/index", "/v2/repository/models/id_FP32/unload", "/v2/repository/models/id_FP32/load"):
            c.check("admin-no-token-401 " + ep, requests.post(U + ep).status_code == 401)
            r = requests.post(U + ep, headers=H("infer-token-1"))
            c.check("admin-infer-token-403 " + ep, r.status_code == 403 and "error" in r.json())
        c.check("still-loaded-after-refused-unload",
                requests.get(U + "/v2/models/id_FP32/ready", headers=H("infer-token-1")).status_code == 200)
        c.check("admin-token-index", requests.post(U + "/v2/repository/index", headers=H("admin-token-1")).status_code == 200)
        c.check("admin-token-unload", requests.post(U + "/v2/repository/models/id_INT8/unload", headers=H("admin-token-1")).status_code == 200)
        c.check("admin-token-load", requests.post(U + "/v2/repository/models/id_INT8/load", headers=H("admin-token-1")).status_code == 200)
        # the token file changes: re-read within about a second
        time.sleep(1.1)
        with open(tok + ".new", "w") as f:
            f.write("inference infer-token-2\nadmin admin-token-2\n")
        os.replace(tok + ".new", tok)
        time.sleep(1.2)
        c.check("reload-old-token-401", requests.get(U + "/v2/models/id_FP32", headers=H("infer-token-1")).status_code == 401)
        c.check("reload-new-token", requests.get(U + "/v2/models/id_FP32", headers=H("infer-token-2")).status_code == 200)
        c.check("reload-new-admin", requests.post(U + "/v2/repository/index", headers=H("admin-token-2")).status_code == 200)
        # a broken token file keeps the tokens last read
        with open(tok + ".new", "w") as f:
            f.write("superuser x\n")
        os.replace(tok + ".new", tok)
        time.sleep(1.2)
        c.check("broken-file-keeps-tokens", requests.get(U + "/v2/models/id_FP32", headers=H("infer-token-2")).status_code == 200)
        c.check("broken-file-no-open-door", requests.get(U + "/v2/models/id_FP32").status_code == 401)
        c.check("broken-file-logged", "keeping the previous tokens" in srv.stderr(), srv.stderr()[-500:])
    finally:
        problems = srv.stop()
    c.check("tokens-server-clean-exit", not problems, problems)

    certs = os.path.join(work, "certs")
    shutil.rmtree(certs, ignore_errors=True)
    make_certs(certs)
    P = lambda n: os.path.join(certs, n)  # noqa: E731
    srv = Server(repo, "--tls-cert", P("server.pem"), "--tls-key", P("server.key"), scheme="https")
    try:
        r = requests.get(srv.url + "/v2/health/live", verify=P("ca.pem"))
        c.check("tls-live", r.status_code == 200)
        r = requests.post(srv.url + "/v2/models/id_FP32/infer", json=body, verify=P("ca.pem"))
        c.check("tls-infer", r.status_code == 200 and r.json()["outputs"][0]["data"] == [1, 2, 3], r.text)
        c.check("tls-is-1.3", tls_version(srv.port, P("ca.pem")) == "TLSv1.3")
        try:
            v = tls_version(srv.port, P("ca.pem"), max12=True)
            c.check("tls-1.2-refused", False, v)
        except (ssl.SSLError, OSError):
            c.check("tls-1.2-refused", True)
        try:
            r = requests.get("http://127.0.0.1:%d/v2/health/live" % srv.port, timeout=5)
            c.check("plain-http-refused", r.status_code != 200, r.status_code)
        except requests.RequestException:
            c.check("plain-http-refused", True)
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", P("ca.pem"), "--tlsv1.3",
                            srv.url + "/v2/health/ready"], capture_output=True, text=True)
        c.check("tls-curl", p.stdout == "200", p.stdout + p.stderr)
        c.check("tls-server-alive", requests.get(srv.url + "/v2/health/live", verify=P("ca.pem")).status_code == 200)
    finally:
        problems = srv.stop()
    c.check("tls-server-clean-exit", not problems, problems)

    # gRPC over TLS 1.3 (ALPN h2) and mutual TLS
    import grpc
    live = "/inference.GRPCInferenceService/ServerLive"

    def grpc_live(port, creds, label):
        opts = (("grpc.ssl_target_name_override", "localhost"),)
        ch = grpc.secure_channel("127.0.0.1:%d" % port, creds, opts) if creds else grpc.insecure_channel("127.0.0.1:%d" % port)
        try:
            return ch.unary_unary(live)(b"", timeout=10)  # ServerLiveResponse{live: true} is 08 01
        except grpc.RpcError as e:
            return e.code()
        finally:
            ch.close()
    ca_pem = open(P("ca.pem"), "rb").read()
    client = (open(P("client.key"), "rb").read(), open(P("client.pem"), "rb").read())
    evil = (open(P("evil.key"), "rb").read(), open(P("evil.pem"), "rb").read())
    for mtls in (False, True):
        extra = ["--tls-client-ca", P("ca.pem")] if mtls else []
        srv = Server(repo, "--grpc", "127.0.0.1:0", "--tls-cert", P("server.pem"), "--tls-key", P("server.key"), *extra,
                     scheme="https")
        gport = int(srv.banner.rsplit(":", 1)[1])
        tag = "grpc-mtls" if mtls else "grpc-tls"
        try:
            good = grpc.ssl_channel_credentials(ca_pem, *client) if mtls else grpc.ssl_channel_credentials(ca_pem)
            c.check(tag + " live", grpc_live(gport, good, tag) == b"\x08\x01")
            c.check(tag + " cleartext refused", grpc_live(gport, None, tag) == grpc.StatusCode.UNAVAILABLE)
            if mtls:
                c.check(tag + " no client cert refused",
                        grpc_live(gport, grpc.ssl_channel_credentials(ca_pem), tag) == grpc.StatusCode.UNAVAILABLE)
                c.check(tag + " rogue client cert refused",
                        grpc_live(gport, grpc.ssl_channel_credentials(ca_pem, *evil), tag) == grpc.StatusCode.UNAVAILABLE)
            c.check(tag + " still live", grpc_live(gport, good, tag) == b"\x08\x01")
        finally:
            problems = srv.stop()
        c.check(tag + " clean exit", not problems, problems)

    srv = Server(repo, "--tls-cert", P("server.pem"), "--tls-key", P("server.key"), "--tls-client-ca", P("ca.pem"),
                 scheme="https")
    try:
        r = requests.get(srv.url + "/v2/health/live", verify=P("ca.pem"), cert=(P("client.pem"), P("client.key")))
        c.check("mtls-client-cert", r.status_code == 200, r.text)
        r = requests.post(srv.url + "/v2/models/id_FP32/infer", json=body, verify=P("ca.pem"),
                          cert=(P("client.pem"), P("client.key")))
        c.check("mtls-infer", r.status_code == 200, r.text)
        for label, cert in (("no-cert", None), ("rogue-cert", (P("evil.pem"), P("evil.key")))):
            try:
                r = requests.get(srv.url + "/v2/health/live", verify=P("ca.pem"), cert=cert, timeout=10)
                c.check("mtls-refused " + label, r.status_code == 403 and "error" in r.json(), r.status_code)
            except requests.RequestException:
                c.check("mtls-refused " + label, True)
    finally:
        problems = srv.stop()
    c.check("mtls-server-clean-exit", not problems, problems)
    return c.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/serve-test"))
