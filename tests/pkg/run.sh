#!/usr/bin/env bash
# Tests of .nne packages (issue 9): keys, pack, verify, run/info on packages,
# install; the tamper test; one test per attack python-tuf tests for
# (rollback, freeze, mix-and-match, arbitrary payload, endless data, wrong key,
# expired release key) plus key rotation, co-signing (nnedge sign: packages,
# certificates, revocation lists), revocation (nnedge revoke, --revoked, the
# store keeping the newest list), encryption (wrong device, removed device,
# 84 bytes per device, no plaintext on disk), golden revert and a short
# kill -9 test.
# NNEDGE, PKG_TAMPER: the binaries; OUT: a scratch directory.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
N=${NNEDGE:-build/nnedge}
T=${PKG_TAMPER:-build/pkg_tamper}
O=${OUT:-build/pkg}
PY=/usr/bin/python3
rm -rf "$O" && mkdir -p "$O"
M=tests/pkg/small_mlp.onnx
X=tests/pkg/small_mlp_x.npy
fails=0
pass() { echo "ok   $1"; }
fail() { echo "FAIL $1"; fails=$((fails + 1)); }

# expect_refused NAME REGEX CMD...: exit 2, exactly one stderr line matching REGEX
expect_refused() {
  local name=$1 re=$2; shift 2
  "$@" >"$O/out.txt" 2>"$O/err.txt"
  local rc=$? lines
  lines=$(wc -l <"$O/err.txt")
  if [ "$rc" = 2 ] && [ "$lines" = 1 ] && grep -Eq "$re" "$O/err.txt"; then pass "$name"
  else fail "$name: exit $rc, stderr: $(head -c 400 "$O/err.txt")"; fi
}
expect_ok() {
  local name=$1; shift
  if "$@" >"$O/out.txt" 2>"$O/err.txt" && [ ! -s "$O/err.txt" ]; then pass "$name"
  else fail "$name: $(head -c 400 "$O/err.txt")"; fi
}

K=$O/keys; mkdir -p "$K"
$N keygen -o "$K/root" >/dev/null && $N keygen -o "$K/rel" --certify "$K/root.sec" --expires 30d >/dev/null &&
$N keygen -o "$K/rel2" --certify "$K/root.sec" --expires 30d >/dev/null && $N keygen -o "$K/evil" >/dev/null &&
$N keygen -o "$K/evilrel" --certify "$K/evil.sec" >/dev/null &&
$N keygen -o "$K/dev" --device >/dev/null && $N keygen -o "$K/dev2" --device >/dev/null || { echo "FAIL keygen"; exit 1; }
expect_refused keygen_no_overwrite 'exists; keys are never overwritten' $N keygen -o "$K/root"
[ "$(stat -c %a "$K/root.sec")" = 600 ] && pass keygen_secret_mode_0600 || fail keygen_secret_mode_0600

P=$O/p; mkdir -p "$P"
printf 'zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n' >"$O/labels.txt"
# model B: the same graph with other weights (same sizes: same package layout)
$PY - $M "$O/small_mlp_b.onnx" <<'PY'
import sys, onnx, numpy as np
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
for t in m.graph.initializer:
    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * np.float32(-0.5), t.name))
onnx.save(m, sys.argv[2])
PY
pk() { $N pack $M -o "$@" --golden x=$X >/dev/null; }
pk "$P/v1.nne" --version 1.0.0 --sign "$K/rel.sec" --labels "$O/labels.txt" --license MIT --preprocess "layout=nchw,scale=1" || fail pack_v1
pk "$P/v2.nne" --version 1.1.0 --sign "$K/rel.sec" || fail pack_v2
$N pack "$O/small_mlp_b.onnx" -o "$P/v2b.nne" --name small_mlp --version 1.1.0 --sign "$K/rel.sec" --golden x=$X >/dev/null || fail pack_v2b
pk "$P/direct.nne" --version 1.0.0 --sign "$K/root.sec" || fail pack_direct
pk "$P/unsigned.nne" --version 1.0.0 || fail pack_unsigned
pk "$P/evil.nne" --version 9.0.0 --sign "$K/evil.sec" || fail pack_evil
pk "$P/evilrel.nne" --version 9.0.0 --sign "$K/evilrel.sec" || fail pack_evilrel
pk "$P/rot.nne" --version 1.2.0 --sign "$K/rel2.sec" || fail pack_rotated
pk "$P/short.nne" --version 1.3.0 --sign "$K/rel.sec" --expires 2s || fail pack_freeze
# certified for 2 s just before packing (the steps above may take longer than that on a loaded machine)
$N keygen -o "$K/shortrel" --certify "$K/root.sec" --expires 2s >/dev/null || fail keygen_shortrel
pk "$P/shortrel.nne" --version 1.3.0 --sign "$K/shortrel.sec" || fail pack_shortrel
pk "$P/enc1.nne" --version 1.0.0 --sign "$K/rel.sec" --encrypt-for "$K/dev.pub" --encrypt-for "$K/dev2.pub" || fail pack_enc1
pk "$P/enc2.nne" --version 1.1.0 --sign "$K/rel.sec" --encrypt-for "$K/dev.pub" || fail pack_enc2
t_short=$(date +%s)

# ---- good packages
expect_ok verify_release_key $N verify "$P/v1.nne" --trust "$K/root.pub"
expect_ok verify_root_direct $N verify "$P/direct.nne" --trust "$K/root.pub"
expect_ok verify_json $N verify "$P/v1.nne" --trust "$K/root.pub" --json
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] and d["golden"]=="passed" and d["counter"]==1000000000000, d' \
  "$O/out.txt" && pass verify_json_keys || fail verify_json_keys
expect_ok rotation_new_release_key $N verify "$P/rot.nne" --trust "$K/root.pub"
expect_ok info_package $N info "$P/v1.nne" --trust "$K/root.pub"
expect_ok enc_verify_with_key $N verify "$P/enc1.nne" --trust "$K/root.pub" --key "$K/dev2.sec"
# run on a package = run on the .onnx it was made from, bit for bit
$N run $M -i x=$X -o "$O/ref" >/dev/null 2>&1
for pkg in v1 enc1; do
  key=(); [ $pkg = enc1 ] && key=(--key "$K/dev.sec")
  if $N run "$P/$pkg.nne" --trust "$K/root.pub" "${key[@]}" -i x=$X -o "$O/run_$pkg" >/dev/null 2>"$O/err.txt" &&
     cmp -s "$O/ref/y.npy" "$O/run_$pkg/y.npy"; then pass "run_identical_$pkg"
  else fail "run_identical_$pkg: $(cat "$O/err.txt")"; fi
done

# threshold: three root keys, two must certify a release key
for r in r1 r2 r3; do $N keygen -o "$K/$r" >/dev/null; done
$N keygen -o "$K/rel2of3" --certify "$K/r1.sec" --certify "$K/r3.sec" >/dev/null
$N keygen -o "$K/rel1of3" --certify "$K/r2.sec" >/dev/null
{ echo "nnedge-trust-v1 threshold=2"; cat "$K/r1.pub" "$K/r2.pub" "$K/r3.pub"; } >"$K/trust2of3"
pk "$P/t2.nne" --sign "$K/rel2of3.sec" && pk "$P/t1.nne" --sign "$K/rel1of3.sec" && pk "$P/troot.nne" --sign "$K/r1.sec" ||
  fail pack_threshold
expect_ok threshold_two_of_three $N verify "$P/t2.nne" --trust "$K/trust2of3"
expect_refused threshold_one_of_three 'certified by 1 trusted root key.*requires 2' $N verify "$P/t1.nne" --trust "$K/trust2of3"
expect_refused threshold_root_direct 'requires a release key certified by 2 root keys' $N run "$P/troot.nne" --trust "$K/trust2of3" -i x=$X -o "$O/u"
expect_ok threshold_single_root_trust $N verify "$P/t2.nne" --trust "$K/r3.pub"

# ---- refused
expect_refused unsigned_with_trust 'not signed' $N run "$P/unsigned.nne" --trust "$K/root.pub" -i x=$X -o "$O/u"
expect_refused onnx_with_trust 'not a \.nne package' $N run $M --trust "$K/root.pub" -i x=$X -o "$O/u"
expect_refused attack_wrong_key 'not by the trusted key' $N verify "$P/evil.nne" --trust "$K/root.pub"
expect_refused attack_wrong_root_cert 'certified by key' $N run "$P/evilrel.nne" --trust "$K/root.pub" -i x=$X -o "$O/u"
expect_refused verify_needs_trust 'trust ROOT.pub is required' $N verify "$P/v1.nne"
# arbitrary payload: other bytes in the weights segment (same size), and a
# package whose header claims another signer
$PY - "$P/v1.nne" "$O/payload.nne" <<'PY'
import sys, struct
b = bytearray(open(sys.argv[1], "rb").read())
data_off = struct.unpack_from("<Q", b, 40)[0]
# the weights segment is the second; overwrite 1 KiB in the middle of the data area
mid = data_off + 4096 + 2048
b[mid:mid + 1024] = bytes(range(256)) * 4
open(sys.argv[2], "wb").write(b)
PY
expect_refused attack_arbitrary_payload 'does not match its digest' $N run "$O/payload.nne" --trust "$K/root.pub" -i x=$X -o "$O/u"
# mix-and-match: header + manifest of v2 with the segments of v2b (same layout, other weights)
$PY - "$P/v2.nne" "$P/v2b.nne" "$O/mix.nne" <<'PY'
import sys, struct
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
off = struct.unpack_from("<Q", a, 40)[0]
assert len(a) == len(b) and off == struct.unpack_from("<Q", b, 40)[0]
open(sys.argv[3], "wb").write(a[:off] + b[off:])
PY
expect_refused attack_mix_and_match 'does not match its digest' $N verify "$O/mix.nne" --trust "$K/root.pub"
# endless data: a package followed by 16 GiB (sparse) is refused at once from its size, never read
cp "$P/v1.nne" "$O/endless.nne" && truncate -s +16G "$O/endless.nne"
start=$(date +%s%N)
expect_refused attack_endless_data 'truncated or extra data appended' $N verify "$O/endless.nne" --trust "$K/root.pub"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -lt 5000 ] && pass "endless_data_fast (${ms} ms)" || fail "endless_data_fast: ${ms} ms"
rm -f "$O/endless.nne"
# endless manifest: a header claiming a 4 GiB manifest
$PY - "$P/v1.nne" "$O/bigman.nne" <<'PY'
import sys, struct
b = bytearray(open(sys.argv[1], "rb").read()); struct.pack_into("<Q", b, 32, 1 << 32)
open(sys.argv[2], "wb").write(b)
PY
expect_refused attack_endless_manifest 'manifest size' $N verify "$O/bigman.nne" --trust "$K/root.pub"
# encryption: a device that is not a recipient, a device removed from the next version, no key
expect_refused enc_no_key 'encrypted; give the device key' $N run "$P/enc1.nne" --trust "$K/root.pub" -i x=$X -o "$O/u"
expect_refused enc_removed_device 'not a recipient' $N run "$P/enc2.nne" --trust "$K/root.pub" --key "$K/dev2.sec" -i x=$X -o "$O/u"
expect_refused enc_sign_key_as_device 'expected a "nnedge-device-secret-v1"' $N verify "$P/enc1.nne" --trust "$K/root.pub" --key "$K/rel.sec"
# no plaintext weight bytes in the encrypted package, the store or TMPDIR
mkdir -p "$O/tmpdir"
TMPDIR="$O/tmpdir" $N install "$P/enc1.nne" --store "$O/encstore" --trust "$K/root.pub" --key "$K/dev.sec" >/dev/null 2>&1 ||
  fail enc_install
TMPDIR="$O/tmpdir" $N run "$P/enc1.nne" --trust "$K/root.pub" --key "$K/dev.sec" -i x=$X -o "$O/encrun" >/dev/null 2>&1
$PY - $M "$P/enc1.nne" "$O/encstore" "$O/tmpdir" <<'PY' && pass enc_no_plaintext_on_disk || fail enc_no_plaintext_on_disk
import sys, os, onnx
m = onnx.load(sys.argv[1])
chunks = []
for t in m.graph.initializer:
    raw = t.raw_data or onnx.numpy_helper.to_array(t).tobytes()
    chunks += [raw[i:i + 32] for i in range(0, len(raw) - 32, 256)]
files = [sys.argv[2]] + [os.path.join(d, f) for d in sys.argv[3:] for f in os.listdir(d)]
for f in files:
    blob = open(f, "rb").read()
    hit = [c for c in chunks if c in blob]
    if hit:
        print("plaintext weights found in", f); sys.exit(1)
print("checked %d chunks in %d files" % (len(chunks), len(files)))
PY

# ---- install: rollback, model id, golden revert, status
S=$O/store
expect_ok install_v1 $N install "$P/v1.nne" --store "$S" --trust "$K/root.pub"
expect_ok install_v2 $N install "$P/v2.nne" --store "$S" --trust "$K/root.pub"
expect_refused attack_rollback 'rollback refused' $N install "$P/v1.nne" --store "$S" --trust "$K/root.pub"
expect_refused attack_replay_same_version 'rollback refused' $N install "$P/v2b.nne" --store "$S" --trust "$K/root.pub"
# rollback stays refused when current.nne is deleted: DIR/state remembers
cp "$S/current.nne" "$O/cur.bak"; rm "$S/current.nne"
expect_refused attack_rollback_after_delete 'rollback refused' $N install "$P/v1.nne" --store "$S" --trust "$K/root.pub"
cp "$O/cur.bak" "$S/current.nne"
/usr/bin/python3 -c 'import numpy as np; np.save("'"$O"'/bad_y.npy", np.zeros((3, 10), "float32"))'
$N pack $M -o "$P/v3bad.nne" --version 1.4.0 --golden x=$X --golden-expect y="$O/bad_y.npy" --sign "$K/rel.sec" >/dev/null
expect_refused golden_revert 'golden check failed.*reverted to the previous package' $N install "$P/v3bad.nne" --store "$S" --trust "$K/root.pub"
$N install --store "$S" --status --json >"$O/status.json" 2>/dev/null
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"]["version"]=="1.1.0", d; assert d["highest_counter"]==1000001000000, d' \
  "$O/status.json" && pass install_status_after_revert || fail install_status_after_revert
# an install killed during its health check (DIR/pending left, an unchecked
# package active): the next install checks current.nne first and reverts it
cp "$P/v3bad.nne" "$S/current.nne.x" && mv "$S/current.nne.x" "$S/current.nne" && : >"$S/pending"
expect_ok install_rotated_release_key $N install "$P/rot.nne" --store "$S" --trust "$K/root.pub"
$N install --store "$S" --status --json >"$O/status2.json" 2>/dev/null
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"]["version"]=="1.2.0" and d["previous"]["version"]=="1.1.0", d' \
  "$O/status2.json" && [ ! -e "$S/pending" ] && pass install_pending_recheck_reverts || fail install_pending_recheck_reverts

# ---- install --revert: previous.nne back, one step only, the highest counter kept
cp -a "$S" "$O/store_rv"; R=$O/store_rv
expect_ok revert_ok $N install --store "$R" --revert --trust "$K/root.pub" --json
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["version"]=="1.1.0" and d["from"]=="1.2.0" and d["highest_counter"]==1000002000000, d' \
  "$O/out.txt" && [ ! -e "$R/previous.nne" ] && pass revert_json || fail revert_json
$N install --store "$R" --status --json >"$O/status3.json" 2>/dev/null
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"]["version"]=="1.1.0" and d["previous"] is None and d["highest_counter"]==1000002000000, d' \
  "$O/status3.json" && pass revert_status || fail revert_status
expect_refused revert_twice 'no previous package' $N install --store "$R" --revert
expect_refused revert_then_reinstall_reverted 'rollback refused.*not above the installed 1000002000000' $N install "$P/rot.nne" --store "$R" --trust "$K/root.pub"
expect_refused revert_then_older 'rollback refused' $N install "$P/v1.nne" --store "$R" --trust "$K/root.pub"
expect_refused revert_no_store 'does not exist' $N install --store "$O/no_such_store" --revert
expect_refused revert_with_package 'takes no package' $N install "$P/v1.nne" --store "$R" --revert

# ---- freeze and expired release key (packed above with 2 s lifetimes)
now=$(date +%s); [ $((now - t_short)) -lt 3 ] && sleep $((3 - (now - t_short)))
expect_refused attack_freeze 'expired at .*not_after' $N verify "$P/short.nne" --trust "$K/root.pub"
expect_refused attack_freeze_install 'expired at' $N install "$P/short.nne" --store "$S" --trust "$K/root.pub"
expect_refused attack_expired_release_key 'release key that signed it expired' $N run "$P/shortrel.nne" --trust "$K/root.pub" -i x=$X -o "$O/u"
expect_refused pack_with_expired_cert 'certificate has expired' $N pack $M -o "$O/x.nne" --sign "$K/shortrel.sec"

# ---- co-signing (nnedge sign): a second signature added later, the model bytes kept
$N keygen -o "$K/relA" --certify "$K/r1.sec" >/dev/null
pk "$P/c1.nne" --version 2.0.0 --sign "$K/relA.sec" || fail pack_c1
expect_refused cosign_one_signature 'certified by 1 trusted root key.*requires 2' $N verify "$P/c1.nne" --trust "$K/trust2of3"
expect_ok cosign_sign $N sign "$P/c1.nne" --key "$K/rel1of3.sec" -o "$P/c2.nne"
expect_ok cosign_two_signatures $N verify "$P/c2.nne" --trust "$K/trust2of3" --json
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] and d["signatures"]==2, d' "$O/out.txt" &&
  pass cosign_json_two || fail cosign_json_two
# only the header changed: the manifest and every segment are the same bytes
cmp -s <(tail -c +2049 "$P/c1.nne") <(tail -c +2049 "$P/c2.nne") && pass cosign_model_bytes_kept || fail cosign_model_bytes_kept
expect_refused cosign_same_key_twice 'already signed by this key' $N sign "$P/c2.nne" --key "$K/relA.sec" -o "$P/c3.nne"
if $N run "$P/c2.nne" --trust "$K/trust2of3" -i x=$X -o "$O/run_c2" >/dev/null 2>"$O/err.txt" &&
   cmp -s "$O/ref/y.npy" "$O/run_c2/y.npy"; then pass run_identical_cosigned; else fail "run_identical_cosigned: $(cat "$O/err.txt")"; fi
# a tampered package is not signed: sign checks every signature and digest first
cp "$P/c1.nne" "$O/c1bad.nne" && printf '\001' | dd of="$O/c1bad.nne" bs=1 seek=9000 conv=notrunc 2>/dev/null
expect_refused cosign_refuses_tampered 'does not match its digest' $N sign "$O/c1bad.nne" --key "$K/rel1of3.sec" -o "$O/c1bad2.nne"
# a release key whose certificate requires two signatures (keygen --threshold 2)
$N keygen -o "$K/rel2sig" --certify "$K/root.sec" --threshold 2 >/dev/null
pk "$P/t2sig.nne" --version 2.1.0 --sign "$K/rel2sig.sec" || fail pack_t2sig
expect_refused cert_threshold_alone '1 valid signature.*requires 2' $N verify "$P/t2sig.nne" --trust "$K/root.pub"
$N sign "$P/t2sig.nne" --key "$K/evil.sec" -o "$P/t2sig_evil.nne" >/dev/null
expect_refused cert_threshold_untrusted_cosigner '1 valid signature.*requires 2' $N verify "$P/t2sig_evil.nne" --trust "$K/root.pub"
$N sign "$P/t2sig.nne" --key "$K/rel2.sec" -o "$P/t2sig_co.nne" >/dev/null
expect_ok cert_threshold_cosigned $N verify "$P/t2sig_co.nne" --trust "$K/root.pub"
# a certificate co-signed in a separate step (a threshold of root keys)
$N keygen -o "$K/relC" --certify "$K/r1.sec" >/dev/null
pk "$P/relc1.nne" --sign "$K/relC.sec" || fail pack_relc1
expect_refused cert_one_root 'certified by 1 trusted root key.*requires 2' $N verify "$P/relc1.nne" --trust "$K/trust2of3"
expect_ok cert_cosign_step $N sign "$K/relC.cert" --key "$K/r2.sec" -o "$K/relC2.cert"
pk "$P/relc2.nne" --sign "$K/relC.sec" --cert "$K/relC2.cert" || fail pack_relc2
expect_ok cert_two_roots $N verify "$P/relc2.nne" --trust "$K/trust2of3"
expect_refused cert_cosign_twice 'already signed by this root key' $N sign "$K/relC2.cert" --key "$K/r1.sec" -o "$K/relC3.cert"

# ---- revocation: a root-signed list; packages signed only by a revoked key are refused
$N revoke "$K/rel.pub" --sign "$K/root.sec" --version 1 -o "$K/rev1" >/dev/null || fail revoke_make
expect_ok unrevoked_before $N verify "$P/v1.nne" --trust "$K/root.pub"
expect_refused revoked_verify 'signed by key .* which is revoked \(revocation list version 1\)' $N verify "$P/v1.nne" --trust "$K/root.pub" --revoked "$K/rev1"
expect_refused revoked_run 'which is revoked' $N run "$P/v1.nne" --trust "$K/root.pub" --revoked "$K/rev1" -i x=$X -o "$O/u"
expect_ok revoked_other_release_key $N verify "$P/rot.nne" --trust "$K/root.pub" --revoked "$K/rev1"
expect_ok revoked_root_direct $N verify "$P/direct.nne" --trust "$K/root.pub" --revoked "$K/rev1"
$N sign "$P/v1.nne" --key "$K/rel2.sec" -o "$P/v1co.nne" >/dev/null
expect_ok revoked_but_cosigned $N verify "$P/v1co.nne" --trust "$K/root.pub" --revoked "$K/rev1"
$N revoke "$K/rel.pub" --sign "$K/evil.sec" --version 1 -o "$K/rev_evil" >/dev/null
expect_refused revocation_untrusted 'signed by 0 trusted root key' $N verify "$P/direct.nne" --trust "$K/root.pub" --revoked "$K/rev_evil"
# threshold 2: a list signed by one root key is not enough; co-signed in a second step it is
$N revoke "$K/relA.pub" --sign "$K/r1.sec" --version 1 -o "$K/rev_r1" >/dev/null
expect_refused revocation_below_threshold 'signed by 1 trusted root key.*requires 2' $N verify "$P/c2.nne" --trust "$K/trust2of3" --revoked "$K/rev_r1"
expect_ok revocation_cosign $N sign "$K/rev_r1" --key "$K/r3.sec" -o "$K/rev_r13"
expect_refused revoked_cosigner_below_threshold 'backed by 1 trusted root key.*requires 2' $N verify "$P/c2.nne" --trust "$K/trust2of3" --revoked "$K/rev_r13"
# the store keeps the newest list: later installs refuse the revoked key without --revoked; an older list is refused
S2=$O/store_rev
expect_ok rev_store_install_v1 $N install "$P/v1.nne" --store "$S2" --trust "$K/root.pub"
expect_ok rev_store_list $N install --store "$S2" --trust "$K/root.pub" --revoked "$K/rev1"
expect_refused rev_store_remembers 'which is revoked' $N install "$P/v2.nne" --store "$S2" --trust "$K/root.pub"
$N revoke "$K/rel.pub" "$K/evilrel.pub" --sign "$K/root.sec" --version 2 -o "$K/rev2" >/dev/null
expect_ok rev_store_newer $N install "$P/rot.nne" --store "$S2" --trust "$K/root.pub" --revoked "$K/rev2"
expect_refused rev_store_older_refused 'version 1, older than the store.s 2' $N install --store "$S2" --trust "$K/root.pub" --revoked "$K/rev1"
# --revert to a package whose release key was revoked since (previous.nne is v1, signed by rel)
expect_refused revert_revoked_previous 'which is revoked' $N install --store "$S2" --revert --trust "$K/root.pub"
expect_refused revert_revoked_needs_trust 'holds a revocation list; give --trust' $N install --store "$S2" --revert

# ---- encryption: each added device costs one 84-byte recipient entry (4-byte hint + 80-byte sealed box)
$N keygen -o "$K/dev3" --device >/dev/null
pk "$P/encd1.nne" --sign "$K/rel2.sec" --encrypt-for "$K/dev.pub" &&
  pk "$P/encd3.nne" --sign "$K/rel2.sec" --encrypt-for "$K/dev.pub" --encrypt-for "$K/dev2.pub" --encrypt-for "$K/dev3.pub" ||
  fail pack_encd
$PY - "$P/encd1.nne" "$P/encd3.nne" <<'PY' && pass per_device_84_bytes || fail per_device_84_bytes
import sys, struct
m = [struct.unpack_from("<Q", open(f, "rb").read(48), 32)[0] for f in sys.argv[1:]]
print("manifest bytes: 1 device %d, 3 devices %d: %d per added device" % (m[0], m[1], (m[1] - m[0]) // 2))
assert m[1] - m[0] == 2 * 84, m
PY
expect_ok enc_third_device $N verify "$P/encd3.nne" --trust "$K/root.pub" --key "$K/dev3.sec"
expect_refused enc_not_recipient 'not a recipient' $N verify "$P/encd1.nne" --trust "$K/root.pub" --key "$K/dev3.sec"

# ---- tamper: in process (every check verify and run --trust make) and a CLI sample
if $T "$P/v1.nne" "$K/root.pub" --flips 10000 --truncations 1000 --tails 1000; then pass tamper_signed; else fail tamper_signed; fi
if $T "$P/enc1.nne" "$K/root.pub" --key "$K/dev.sec" --flips 3000 --truncations 300 --tails 300 --seed 2; then
  pass tamper_encrypted; else fail tamper_encrypted; fi
# a co-signed package: the signature slots lie outside the signed digest, so each is checked on its own
if $T "$P/c2.nne" "$K/trust2of3" --flips 3000 --truncations 100 --tails 100 --seed 3; then
  pass tamper_cosigned; else fail tamper_cosigned; fi
if $PY tests/pkg/cli_tamper.py $N "$P/v1.nne" "$K/root.pub" x=$X "$O/cli_tamper" ${PKG_CLI_TAMPER:-60}; then
  pass tamper_cli_sample; else fail tamper_cli_sample; fi

# ---- kill -9 during install (make test-pkg-crash: 1,000 points)
if NNEDGE=$N OUT=$O/crash $PY tests/pkg/crash.py ${PKG_CRASH_POINTS:-40}; then pass crash_kill9; else fail crash_kill9; fi

if [ $fails -ne 0 ]; then echo "test-pkg: $fails failed"; exit 1; fi
echo "test-pkg: all passed"
