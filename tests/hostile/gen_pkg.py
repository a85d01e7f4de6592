#!/usr/bin/python3
"""gen_pkg.py OUTDIR - hostile .nne packages (cases-pkg.txt; docs/format.md).

Writes OUTDIR/pkg/: a root signing key (root.sec/root.pub) and an attacker key,
a good signed package, and packages whose every part lies: header fields,
manifest records (lengths, tags, duplicates, strings, dims), the segment
table (gaps, overlaps, sizes, kinds, names), the graph and data segments,
golden data, certificates and key files. Most are correctly signed by the
root key, so they get past the signature and exercise the parser and the
loader behind it (a buggy or compromised signer must not crash a device).
Package bytes are written here, independently of nnedge's writer.
Deterministic (Ed25519 signatures are deterministic; fixed seeds).
"""
import hashlib
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

out = os.path.join(sys.argv[1], "pkg")
os.makedirs(out, exist_ok=True)
A = 4096


def ed_key(seed):
    k = Ed25519PrivateKey.from_private_bytes(seed)
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return k, pub


ROOT, ROOT_PUB = ed_key(bytes(range(32)))
EVIL, EVIL_PUB = ed_key(bytes(range(100, 132)))
for name, seed, pub in (("root", bytes(range(32)), ROOT_PUB), ("evil", bytes(range(100, 132)), EVIL_PUB)):
    with open(os.path.join(out, name + ".sec"), "w") as f:
        f.write("nnedge-sign-secret-v1 %s\n" % (seed + pub).hex())
    with open(os.path.join(out, name + ".pub"), "w") as f:
        f.write("nnedge-sign-public-v1 %s\n" % pub.hex())
# hostile key files
open(os.path.join(out, "key_truncated.pub"), "w").write("nnedge-sign-public-v1 %s\n" % ROOT_PUB.hex()[:40])
open(os.path.join(out, "key_badhex.pub"), "w").write("nnedge-sign-public-v1 %s\n" % ("zz" * 32))
open(os.path.join(out, "key_wrongkind.pub"), "w").write("nnedge-device-public-v1 %s\n" % ROOT_PUB.hex())
open(os.path.join(out, "key_empty.pub"), "w").write("")
open(os.path.join(out, "key_long.pub"), "w").write("nnedge-sign-public-v1 " + "ab" * 5000 + "\n")
open(os.path.join(out, "device_bad.sec"), "w").write("nnedge-device-secret-v1 %s %s\n" % ("11" * 32, "22" * 32))


def rec(tag, payload):
    return struct.pack("<II", tag, len(payload)) + payload


def u32(tag, v):
    return rec(tag, struct.pack("<I", v))


def u64(tag, v):
    return rec(tag, struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))


def s(tag, text):
    return rec(tag, text.encode() if isinstance(text, str) else text)


def model_bytes(n=1024, location="weights.bin", offset=0):
    """y = x + w, w float[n] as external data `location` (the data segment)."""
    w = TensorProto()
    w.name = "w"
    w.data_type = TensorProto.FLOAT
    w.dims.extend([n])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(4 * n))):
        e = w.external_data.add()
        e.key, e.value = k, v
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "pkg",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    return m.SerializeToString()


def npy(arr):
    import io
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


W = np.arange(1024, dtype=np.float32) * 0.5
X = np.ones(1024, dtype=np.float32)
GOOD_SEGS = [("graph.onnx", 1, model_bytes()), ("weights.bin", 2, W.tobytes()),
             ("x", 3, npy(X)), ("y", 4, npy(X + W))]
NOW = 1796000000  # created
FAR = 4102444800  # not_after: 2100-01-01


def manifest(segs, extra=b"", pid=b"P" * 16, model_id="hostile", not_after=FAR, seg_extra=None,
             skip=(), spec=True, nodigest=()):
    m = b""
    if "id" not in skip:
        m += s(1, model_id)
    m += s(2, "1.0.0") + u64(3, 1000000000000) + rec(4, b"\0" * 32) + u64(5, NOW) + u64(6, not_after)
    m += rec(15, pid) + s(11, "MIT")
    if spec:
        m += rec(7, s(1, "x") + u32(2, 1) + rec(3, struct.pack("<q", 1024)))
        m += rec(8, s(1, "y") + u32(2, 1) + rec(3, struct.pack("<q", 1024)))
    for i, (name, kind, off, size, dg) in enumerate(segs):
        body = s(1, name) + u32(2, kind) + u64(3, off) + u64(4, size) + (b"" if i in nodigest else rec(5, dg))
        if seg_extra and i in seg_extra:
            body += seg_extra[i]
        m += rec(13, body)
    return m + extra


HS = 2048       # header size (format version 2)
SLOT0, SLOT = 64, 416


def cert_msg(key, nb, na, threshold=1):
    return b"nnedge cert v2".ljust(16, b"\0") + key + struct.pack("<qqI", nb, na, threshold)


def slot_bytes(signer_pub, cert=None):
    """A signature slot with the signature left zero (filled after signing).
    cert: (issuer privs, nb, na, threshold, flip list) -- every issuer signs the
    certificate of signer_pub; flip[j] spoils signature j."""
    b = bytearray(SLOT)
    b[0:32] = signer_pub
    if cert:
        issuers, nb, na, th, flips = cert
        struct.pack_into("<IIqq", b, 96, len(issuers), th, nb, na)
        for j, ip in enumerate(issuers):
            sig = ip.sign(cert_msg(signer_pub, nb, na, th))
            if j < len(flips) and flips[j]:
                sig = bytes([sig[0] ^ 1]) + sig[1:]
            b[120 + 96 * j:152 + 96 * j] = pub_of(ip)
            b[152 + 96 * j:216 + 96 * j] = sig
    return b


def pub_of(priv):
    return priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def build(name, segs=GOOD_SEGS, sign=ROOT, man_fn=None, mutate=None, flags=0, header_fn=None, file_fn=None,
          digest_fn=None, cert=None, signers=None, **mkw):
    """Lay out segs, build the manifest (man_fn may rewrite the segment table),
    sign, and write OUTDIR/pkg/name.nne. mutate(bytearray) edits the result
    after signing (a tampered file); header_fn/file_fn edit before signing.
    signers: [(priv, cert or None, flip)] for several signature slots;
    otherwise one slot by `sign` (cert: issuers, nb, na, threshold, flips)."""
    # the manifest's size does not depend on offsets: build it once to measure
    table = [(n, k, 0, len(d), b"\0" * 32) for n, k, d in segs]
    mb = (man_fn or (lambda t: manifest(t, **mkw)))(table)
    data_off = (HS + len(mb) + A - 1) // A * A
    table, body, at = [], b"", data_off
    for n, k, d in segs:
        padded = d + b"\0" * ((A - len(d) % A) % A)
        dg = hashlib.blake2b(padded, digest_size=32).digest()
        if digest_fn:
            dg = digest_fn(n, dg)
        table.append((n, k, at, len(d), dg))
        body += padded
        at += len(padded)
    mb = (man_fn or (lambda t: manifest(t, **mkw)))(table)
    data_off = (HS + len(mb) + A - 1) // A * A
    if signers is None:
        signers = [] if sign is None else [(sign, cert, False)]
    h = bytearray(HS)
    h[0:8] = b"\x89NNEPKG\n"
    struct.pack_into("<IIQQQQII", h, 8, 2, HS, data_off + len(body), HS, len(mb), data_off, flags, len(signers))
    for k, (priv, c, _) in enumerate(signers):
        h[SLOT0 + SLOT * k:SLOT0 + SLOT * (k + 1)] = slot_bytes(pub_of(priv), c)
    if header_fn:
        header_fn(h)
    f = bytearray(h) + mb + b"\0" * (data_off - HS - len(mb)) + body
    if file_fn:
        f = file_fn(f)
    hz = bytearray(f[0:64])
    hz[52:56] = b"\0" * 4
    d = hashlib.blake2b(b"nnedge package manifest v2\0" + bytes(hz) + bytes(f[HS:data_off]), digest_size=32).digest()
    for k, (priv, _, flip) in enumerate(signers):
        sig = priv.sign(b"nnedge manifest signature v2".ljust(32, b"\0") + d)
        if flip:
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        f[SLOT0 + SLOT * k + 32:SLOT0 + SLOT * k + 96] = sig
    if mutate:
        mutate(f)
    with open(os.path.join(out, name + ".nne"), "wb") as fh:
        fh.write(bytes(f))


np.save(os.path.join(out, "x.npy"), X)
build("good")
build("good_unsigned", sign=None)
build("evil_signed", sign=EVIL)

# --- header lies (signed after the edit, so only the header check stops them)
build("hdr_version1", header_fn=lambda h: struct.pack_into("<I", h, 8, 1))
build("hdr_version3", header_fn=lambda h: struct.pack_into("<I", h, 8, 3))
build("hdr_size", header_fn=lambda h: struct.pack_into("<I", h, 12, 4096))
build("hdr_filesize_small", header_fn=lambda h: struct.pack_into("<Q", h, 16, 4096))
build("hdr_filesize_huge", header_fn=lambda h: struct.pack_into("<Q", h, 16, 1 << 62))
build("hdr_manifest_zero", header_fn=lambda h: struct.pack_into("<Q", h, 32, 0))
build("hdr_manifest_huge", header_fn=lambda h: struct.pack_into("<Q", h, 32, (1 << 64) - 1))
build("hdr_manifest_offset", header_fn=lambda h: struct.pack_into("<Q", h, 24, 0))
build("hdr_data_offset", header_fn=lambda h: struct.pack_into("<Q", h, 40, 8192 * 4))
build("hdr_flags", header_fn=lambda h: struct.pack_into("<I", h, 48, 0x80))
build("hdr_reserved", header_fn=lambda h: h.__setitem__(60, 1))
build("hdr_tail_reserved", header_fn=lambda h: h.__setitem__(2000, 1))
build("hdr_v1_signed_flag", sign=None, header_fn=lambda h: struct.pack_into("<I", h, 48, 1))
build("hdr_unsigned_sigbytes", sign=None, header_fn=lambda h: h.__setitem__(100, 7))
build("hdr_sigs_5", header_fn=lambda h: struct.pack_into("<I", h, 52, 5))
with open(os.path.join(out, "hdr_short.nne"), "wb") as fh:
    fh.write(b"\x89NNEPKG\n" + struct.pack("<I", 2) + b"\0" * 100)
with open(os.path.join(out, "empty.nne"), "wb") as fh:
    pass

# --- manifest lies (correctly signed)
E = {}
build("man_len_lie", extra=struct.pack("<II", 2, 0xFFFFFFF0))
build("man_stray_bytes", extra=b"\x01\x02\x03")
build("man_unknown_tag", extra=rec(99, b"x"))
build("man_tag_zero", extra=rec(0, b""))
build("man_dup_id", extra=s(1, "again"))
build("man_dup_counter", extra=u64(3, 5))
build("man_counter_short", extra=b"", man_fn=lambda t: manifest(t).replace(u64(3, 1000000000000), rec(3, b"\1\2")))
build("man_no_id", skip=("id",))
build("man_ctrl_char", model_id="bad\nname")
build("man_bad_utf8", model_id=b"\xff\xfe")
build("man_overlong_utf8", model_id=b"\xc0\xaf")
build("man_surrogate_utf8", model_id=b"\xed\xa0\x80")
build("man_long_string", extra=s(10, "L" * 70000))
build("man_dims_13", extra=rec(7, s(1, "z") + u32(2, 1) + rec(3, b"\0" * 8 * 13)))
build("man_dims_odd", extra=rec(7, s(1, "z") + u32(2, 1) + rec(3, b"\0" * 9)))
build("man_spec_noname", extra=rec(7, u32(2, 1)))
build("man_spec_unknown", extra=rec(7, s(1, "z") + rec(9, b"")))
build("man_spec_len_lie", extra=rec(7, struct.pack("<II", 1, 1000)))
build("man_many_labels", extra=s(10, "a") * 400000)  # 3.6 MB of 1-byte labels: under the limit, must work
build("man_too_big", extra=rec(10, b"a" * 60000) * 80)  # 4.8 MB: over the manifest limit
build("man_recipient_unenc", extra=rec(16, b"\0" * 84))
build("man_recipient_short", extra=rec(16, b"\0" * 83))
build("man_recipient_twice", flags=4, extra=rec(16, b"\0" * 84) * 2)
build("man_recipient_v1", extra=rec(14, rec(1, b"\0" * 32) + rec(2, b"\0" * 80)))
build("man_no_segments", man_fn=lambda t: manifest([]))
build("man_nonce_unencrypted", seg_extra={1: rec(6, b"\0" * 24)})
build("man_encrypted_no_nonce", flags=4, extra=rec(16, b"\0" * 84))
build("man_expired", not_after=NOW)

# --- segment table lies
def table_edit(fn):
    return lambda t: manifest(fn(list(t)))

build("seg_gap", man_fn=table_edit(lambda t: [t[0], (t[1][0], 2, t[1][2] + A, t[1][3], t[1][4])] + t[2:]))
build("seg_overlap", man_fn=table_edit(lambda t: [t[0], (t[1][0], 2, t[0][2], t[1][3], t[1][4])] + t[2:]))
build("seg_unaligned", man_fn=table_edit(lambda t: [t[0], (t[1][0], 2, t[1][2] + 8, t[1][3], t[1][4])] + t[2:]))
build("seg_past_end", man_fn=table_edit(lambda t: t[:3] + [(t[3][0], 4, t[3][2], 1 << 40, t[3][4])]))
build("seg_size_huge", man_fn=table_edit(lambda t: t[:3] + [(t[3][0], 4, t[3][2], (1 << 64) - 1, t[3][4])]))
build("seg_size_zero", man_fn=table_edit(lambda t: t[:3] + [(t[3][0], 4, t[3][2], 0, t[3][4])]))
build("seg_uncovered_tail", file_fn=lambda f: f + b"\0" * A,
      header_fn=lambda h: struct.pack_into("<Q", h, 16, struct.unpack_from("<Q", h, 16)[0] + A))
build("seg_two_graphs", man_fn=table_edit(lambda t: [t[0], (t[1][0], 1, t[1][2], t[1][3], t[1][4])] + t[2:]))
build("seg_no_graph", man_fn=table_edit(lambda t: [(t[0][0], 2, t[0][2], t[0][3], t[0][4])] + t[1:]))
build("seg_kind_bad", man_fn=table_edit(lambda t: t[:3] + [(t[3][0], 77, t[3][2], t[3][3], t[3][4])]))
build("seg_dup_name", man_fn=table_edit(lambda t: t[:3] + [("x", 4, t[3][2], t[3][3], t[3][4])]))
build("seg_empty_name", man_fn=table_edit(lambda t: t[:3] + [("", 4, t[3][2], t[3][3], t[3][4])]))
build("seg_missing_digest", nodigest=(3,))
build("seg_wrong_digest", digest_fn=lambda n, d: d if n != "weights.bin" else b"\x55" * 32)
build("seg_many", segs=[GOOD_SEGS[0]] + [("s%d" % i, 3, b"z") for i in range(1100)])

# --- segment contents lie (digests match: a signer packed garbage)
build("graph_garbage", segs=[("graph.onnx", 1, b"\x0a\xff\xff\xff\xff\x0f garbage")] + GOOD_SEGS[1:])
build("graph_empty_model", segs=[("graph.onnx", 1, b"\x08\x07")] + GOOD_SEGS[1:])
build("graph_missing_region", segs=[("graph.onnx", 1, model_bytes(location="other.bin"))] + GOOD_SEGS[1:])
build("graph_region_past_end", segs=[("graph.onnx", 1, model_bytes(offset=4096))] + GOOD_SEGS[1:])
build("graph_region_path", segs=[("graph.onnx", 1, model_bytes(location="../../etc/passwd"))] + GOOD_SEGS[1:])
build("graph_huge_dims", segs=[("graph.onnx", 1, model_bytes(n=1 << 40))] + GOOD_SEGS[1:])
build("golden_garbage", segs=GOOD_SEGS[:2] + [("x", 3, b"\x93NUMPY garbage"), GOOD_SEGS[3]])
build("golden_wrong", segs=GOOD_SEGS[:3] + [("y", 4, npy(X))])
build("golden_wrong_shape", segs=GOOD_SEGS[:3] + [("y", 4, npy(np.ones(3, np.float32)))])
build("golden_no_output", segs=GOOD_SEGS[:3])
build("golden_unknown_input", segs=GOOD_SEGS[:2] + [("nope", 3, npy(X)), GOOD_SEGS[3]])
build("golden_unknown_output", segs=GOOD_SEGS[:3] + [("nope", 4, npy(X))])

# --- signatures and certificates
build("sig_flipped", mutate=lambda f: f.__setitem__(100, f[100] ^ 1))
build("sig_manifest_edit", mutate=lambda f: f.__setitem__(HS + 8, f[HS + 8] ^ 1))
build("sig_padding_edit", mutate=lambda f: f.__setitem__(4000, 1))
_, REL_PUB = ed_key(bytes(range(50, 82)))
REL, _ = ed_key(bytes(range(50, 82)))
build("cert_good", sign=REL, cert=([ROOT], NOW, FAR, 1, []))
build("cert_bad_sig", sign=REL, cert=([ROOT], NOW, FAR, 1, [True]))
build("cert_expired", sign=REL, cert=([ROOT], NOW - 100, NOW, 1, []))
build("cert_not_yet", sign=REL, cert=([ROOT], FAR - 10, FAR, 1, []))
build("cert_by_evil", sign=REL, cert=([EVIL], NOW, FAR, 1, []))


def swap_signer(h):
    h[SLOT0:SLOT0 + 32] = ROOT_PUB  # the certificate (and signature) were made for REL


build("cert_other_key", sign=REL, cert=([ROOT], NOW, FAR, 1, []), header_fn=swap_signer)

# --- certificates signed by several root keys (a threshold of root keys)
build("cosign_good", sign=REL, cert=([ROOT, EVIL], NOW, FAR, 1, []))
build("cosign_bad_sig", sign=REL, cert=([ROOT, EVIL], NOW, FAR, 1, [False, True]))
build("cosign_dup", sign=REL, cert=([ROOT, ROOT], NOW, FAR, 1, []))
build("cosign_count4", sign=REL, cert=([ROOT], NOW, FAR, 1, []),
      header_fn=lambda h: struct.pack_into("<I", h, SLOT0 + 96, 4))
build("cosign_no_cert", header_fn=lambda h: struct.pack_into("<I", h, SLOT0 + 100, 1))
build("cert_threshold_0", sign=REL, cert=([ROOT], NOW, FAR, 1, []),
      header_fn=lambda h: struct.pack_into("<I", h, SLOT0 + 100, 0))

# --- several signatures on one package (co-signing)
build("psig_two_roots", signers=[(ROOT, None, False), (EVIL, None, False)])
build("psig_dup_signer", signers=[(ROOT, None, False), (ROOT, None, False)])
build("psig_second_bad", signers=[(ROOT, None, False), (EVIL, None, True)])
build("psig_threshold2_alone", sign=REL, cert=([ROOT], NOW, FAR, 2, []))
build("psig_threshold2_cosigned", signers=[(REL, ([ROOT], NOW, FAR, 2, []), False), (ROOT, None, False)])
build("psig_evil_cosigner", signers=[(REL, ([ROOT], NOW, FAR, 2, []), False), (EVIL, None, False)])

# --- revocation lists
REV_MSG_DOM = b"nnedge revocation v1".ljust(32, b"\0")


def revocation(name, version, keys, signers, flip=False):
    msg = REV_MSG_DOM + struct.pack("<QqI", version, NOW, len(keys)) + b"".join(keys)
    lines = ["nnedge-revocation-v1 %d %d %d" % (version, NOW, len(keys))]
    lines += ["nnedge-revoke-v1 %s" % k.hex() for k in keys]
    for p in signers:
        sig = p.sign(msg)
        if flip:
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        lines.append("nnedge-revsig-v1 %s %s" % (pub_of(p).hex(), sig.hex()))
    open(os.path.join(out, name), "w").write("\n".join(lines) + "\n")


revocation("rev_rel", 1, [REL_PUB], [ROOT])
revocation("rev_by_evil", 1, [REL_PUB], [EVIL])
revocation("rev_bad_sig", 1, [REL_PUB], [ROOT], flip=True)
revocation("rev_other", 1, [EVIL_PUB], [ROOT])
open(os.path.join(out, "rev_garbage"), "w").write("nnedge-revocation-v1 1 0 100000\n")
pubs = "nnedge-sign-public-v1 %s\nnnedge-sign-public-v1 %s\n" % (ROOT_PUB.hex(), EVIL_PUB.hex())
open(os.path.join(out, "trust_2of2"), "w").write("nnedge-trust-v1 threshold=2\n" + pubs)
open(os.path.join(out, "trust_th0"), "w").write("nnedge-trust-v1 threshold=0\n" + pubs)
open(os.path.join(out, "trust_th5"), "w").write("nnedge-trust-v1 threshold=5\n" + pubs)
open(os.path.join(out, "trust_dup"), "w").write("nnedge-trust-v1 threshold=1\n" + pubs + pubs.split("\n")[0] + "\n")
open(os.path.join(out, "trust_nokeys"), "w").write("nnedge-trust-v1 threshold=1\n")
open(os.path.join(out, "trust_badline"), "w").write("nnedge-trust-v1 threshold=1\n" + pubs + "garbage\n")
