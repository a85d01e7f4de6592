/*
 * pkg.h - .nne model packages (docs/format.md): open, verify, decrypt and
 * load a package; write and co-sign one; keys, release-key certificates and
 * revocation lists.
 *
 * This is the tools-side library (build/libnnedge_pkg.a, linked with
 * libsodium), not part of libnnedge: the core library stays libc/libm/
 * pthreads only and sees a package only through nne_model_load_regions.
 * Errors are reported as by the core library: an nne_status and a message
 * in nne_last_error() naming the first check that failed.
 *
 * Order of checks (nothing past the fixed header is parsed before the
 * signature over header + manifest holds):
 *   nne_pkg_open            map the file, check the fixed header (sizes, magic)
 *   nne_pkg_verify_manifest every signature (and certificate) present verifies,
 *                           enough of them count for the trust (trusted roots or
 *                           certificates they signed, not revoked, thresholds),
 *                           then parse the manifest, expiry, layout
 *   nne_pkg_verify_segments BLAKE2b-256 of every segment (padding included)
 *   nne_pkg_unlock          decrypt the content key and every segment
 *   nne_pkg_load_model      the model, weights used in place
 */
#ifndef NNE_PKG_H
#define NNE_PKG_H

#include "nnedge.h"
#include <stddef.h>
#include <stdint.h>

#define NNE_PKG_HEADER_SIZE 2048
#define NNE_PKG_ALIGN 4096             /* segments start and end on this */
#define NNE_PKG_TENSOR_ALIGN 64        /* weights inside a segment */
#define NNE_PKG_MAX_MANIFEST (4u << 20) /* bytes */
#define NNE_PKG_MAX_SEGMENTS 1024
#define NNE_PKG_MAX_STRING 65536       /* bytes of any one string field */
#define NNE_PKG_FORMAT_VERSION 2 /* 1: one signature, 136-byte recipients (no longer read) */

#define NNE_PKG_TRY(expr) do { nne_status pkg_try_st_ = (expr); if (pkg_try_st_ != NNE_OK) return pkg_try_st_; } while (0)

/* header flags (1 and 2 were version 1's signed/certified bits: now per signature slot) */
#define NNE_PKG_FLAG_ENCRYPTED 4u

#define NNE_PKG_MAX_SIGS 4      /* signatures on one package (co-signing, nnedge sign) */
#define NNE_PKG_MAX_CERT_SIGS 3 /* root signatures on one release-key certificate */
#define NNE_PKG_MAX_TRUST 8     /* root keys in a trust file */
#define NNE_PKG_MAX_REVOKED 64  /* keys in a revocation list */
#define NNE_PKG_HINT_SIZE 4     /* recipient key hint: first bytes of BLAKE2b-256(device public key) */
#define NNE_PKG_SEALED_SIZE 80  /* crypto_box_seal of the 32-byte content key */
#define NNE_PKG_RECIPIENT_SIZE (NNE_PKG_HINT_SIZE + NNE_PKG_SEALED_SIZE) /* bytes per device */

/* segment kinds */
enum { NNE_SEG_GRAPH = 1, NNE_SEG_DATA = 2, NNE_SEG_GOLDEN_IN = 3, NNE_SEG_GOLDEN_OUT = 4 };

typedef struct nne_pkg_tensor_spec {
    char *name;
    int32_t dtype;
    int32_t ndim;
    int64_t dims[NNE_MAX_DIMS]; /* -1: symbolic */
} nne_pkg_tensor_spec;

typedef struct nne_pkg_segment {
    char *name;
    uint32_t kind;           /* NNE_SEG_* */
    uint64_t offset;         /* file offset, a multiple of NNE_PKG_ALIGN */
    uint64_t size;           /* stored bytes (ciphertext + 16-byte tag when encrypted) */
    uint64_t padded;         /* size rounded up to NNE_PKG_ALIGN: what the digest covers */
    uint8_t digest[32];      /* BLAKE2b-256 of the padded stored bytes */
    uint8_t nonce[24];       /* XChaCha20-Poly1305 nonce (encrypted packages) */
    int has_nonce;
    const uint8_t *plain;    /* plaintext after open/unlock (points into the map or a locked buffer) */
    uint64_t plain_size;
} nne_pkg_segment;

typedef struct nne_pkg_recipient {
    uint8_t hint[NNE_PKG_HINT_SIZE];  /* first bytes of BLAKE2b-256 of the device's X25519 public key */
    uint8_t sealed[NNE_PKG_SEALED_SIZE]; /* crypto_box_seal(content key, device public key) */
} nne_pkg_recipient;

typedef struct nne_pkg_manifest {
    char *model_id, *semver, *license, *preprocess;
    uint64_t counter;        /* monotonic version counter (rollback protection) */
    int64_t created, not_after; /* unix seconds */
    uint8_t build_hash[32];  /* BLAKE2b-256 of the source model file */
    uint8_t package_id[16];  /* random per package: binds segments (AEAD data) */
    int32_t n_inputs, n_outputs, n_labels, n_segments, n_recipients;
    nne_pkg_tensor_spec *inputs, *outputs;
    char **labels;
    nne_pkg_segment *segments;
    nne_pkg_recipient *recipients;
} nne_pkg_manifest;

/* A release-key certificate: root keys (1..3, each signing the same
 * statement) vouch that `key` may sign packages during [not_before,
 * not_after], and that a package it signs needs `threshold` valid
 * signatures in all (1: its own is enough; 2: someone must co-sign). */
typedef struct nne_pkg_cert {
    uint8_t key[32];
    int64_t not_before, not_after;
    uint32_t threshold;
    int32_t n_sigs;
    uint8_t issuer[NNE_PKG_MAX_CERT_SIGS][32];
    uint8_t signature[NNE_PKG_MAX_CERT_SIGS][64];
} nne_pkg_cert;

/* One signature on a package: the signer's Ed25519 signature of the
 * manifest digest, with the signer's certificate when it is a release key. */
typedef struct nne_pkg_sig {
    uint8_t signer[32];
    uint8_t signature[64];
    int has_cert;
    nne_pkg_cert cert; /* cert.key == signer */
} nne_pkg_sig;

/* The fixed header, decoded. */
typedef struct nne_pkg_header {
    uint32_t version, header_size, flags;
    uint64_t file_size, manifest_offset, manifest_size, data_offset;
    uint32_t n_sigs;
    nne_pkg_sig sigs[NNE_PKG_MAX_SIGS];
} nne_pkg_header;

/* What a device trusts: root keys and how many distinct ones must vouch for
 * a package (through the certificates of its signers, or by signing it
 * directly: TUF's root threshold), and the release keys revoked by the
 * newest revocation list it has seen (their signatures do not count). */
typedef struct nne_pkg_trust {
    int32_t n, threshold;
    uint8_t keys[NNE_PKG_MAX_TRUST][32];
    int32_t n_revoked;
    uint64_t revocation_version; /* 0: no list applied */
    uint8_t revoked[NNE_PKG_MAX_REVOKED][32];
} nne_pkg_trust;
/* Read a public signing key file (threshold 1) or a trust file:
 *   nnedge-trust-v1 threshold=K
 *   nnedge-sign-public-v1 HEX      (one line per root key, 1..8, distinct) */
nne_status nne_pkg_trust_read(const char *path, nne_pkg_trust *t);

struct nne_pkg_key;
/* A root-signed revocation list: the release keys whose signatures no
 * longer count, with a version number (a device keeps the highest it has
 * seen: an older list cannot bring a key back). */
typedef struct nne_pkg_revocation {
    uint64_t version;
    int64_t issued;
    int32_t n_keys, n_sigs;
    uint8_t keys[NNE_PKG_MAX_REVOKED][32];
    uint8_t issuer[NNE_PKG_MAX_TRUST][32];
    uint8_t signature[NNE_PKG_MAX_TRUST][64];
} nne_pkg_revocation;
/* Add root key `root`'s signature (a key signs once). */
nne_status nne_pkg_revocation_sign(const struct nne_pkg_key *root, nne_pkg_revocation *r);
/* Read a list; every signature in it must verify. */
nne_status nne_pkg_revocation_read(const char *path, nne_pkg_revocation *r);
nne_status nne_pkg_revocation_write(const char *path, const nne_pkg_revocation *r);
/* Apply a list to `t`: at least t->threshold distinct trusted root keys
 * must have signed it. */
nne_status nne_pkg_trust_apply_revocation(nne_pkg_trust *t, const nne_pkg_revocation *r);

typedef struct nne_pkg nne_pkg;

/* Check only the fixed header of a package in memory (fuzzing, tamper
 * tests): sizes, magic, version, reserved bytes. */
nne_status nne_pkg_header_parse(const uint8_t *buf, size_t size, nne_pkg_header *h);
/* Parse manifest bytes (already authenticated) with hard limits. Free with
 * nne_pkg_manifest_free. */
nne_status nne_pkg_manifest_parse(const uint8_t *buf, size_t size, nne_pkg_manifest *m);
void nne_pkg_manifest_free(nne_pkg_manifest *m);

/* Open (map) a package: checks the fixed header only. */
nne_status nne_pkg_open(const char *path, nne_pkg **out);
/* The same over caller memory (kept, not copied, until nne_pkg_close). */
nne_status nne_pkg_open_memory(const uint8_t *buf, size_t size, nne_pkg **out);
/* Check every signature present, then the signers against `trust` (NULL:
 * self-consistency only; unsigned packages then pass as such; revocations
 * in trust apply), then parse and check the manifest:
 * expiry against `now` (unix seconds; now < 0 skips the time checks, for
 * displaying what a store holds), segment layout. */
nne_status nne_pkg_verify_manifest(nne_pkg *p, const nne_pkg_trust *trust, int64_t now);
/* BLAKE2b-256 of every segment (full integrity pass). */
nne_status nne_pkg_verify_segments(nne_pkg *p);
/* Encrypted packages: unseal the content key with the device key (x25519
 * secret 32 + public 32) and decrypt every segment into locked memory; the
 * segment digests are checked too (in a second thread, while decrypting)
 * when nne_pkg_verify_segments was not called. Unencrypted packages: the
 * same as nne_pkg_verify_segments. */
nne_status nne_pkg_unlock(nne_pkg *p, const uint8_t dev_sec[32], const uint8_t dev_pub[32]);
/* Load the model of a verified (and unlocked) package; the model keeps the
 * package's memory alive until destroyed. */
nne_status nne_pkg_load_model(nne_pkg *p, const nne_model_options *opt, nne_model **out);
/* Golden health check: run the model on the golden inputs and compare with
 * the golden outputs. NNE_OK also when the package has none (*checked 0). */
nne_status nne_pkg_golden_check(nne_pkg *p, const nne_model *m, int *checked);
void nne_pkg_close(nne_pkg *p);

const nne_pkg_header *nne_pkg_get_header(const nne_pkg *p);
const uint8_t *nne_pkg_base(const nne_pkg *p); /* the package's bytes (file_size of them) */
const nne_pkg_manifest *nne_pkg_get_manifest(const nne_pkg *p); /* NULL before verify_manifest */
int nne_pkg_is_encrypted(const nne_pkg *p);
/* 1 when the first bytes are a package's magic. */
int nne_pkg_sniff(const uint8_t *buf, size_t size);
int nne_pkg_sniff_file(const char *path);

/* ------------------------------------------------------------ keys -- */
enum { NNE_KEY_SIGN_SECRET = 1, NNE_KEY_SIGN_PUBLIC, NNE_KEY_DEVICE_SECRET, NNE_KEY_DEVICE_PUBLIC };
typedef struct nne_pkg_key {
    int kind;
    uint8_t pub[32];
    uint8_t sec[64]; /* Ed25519: 64-byte secret; X25519: 32 bytes */
} nne_pkg_key;
nne_status nne_pkg_key_read(const char *path, int want_kind, nne_pkg_key *k);
nne_status nne_pkg_key_write(const char *path, const nne_pkg_key *k);
nne_status nne_pkg_keygen(int device, nne_pkg_key *sec, nne_pkg_key *pub);

/* Make a certificate signed by `root`; add more root signatures with
 * nne_pkg_cert_cosign (a key signs once, at most NNE_PKG_MAX_CERT_SIGS). */
nne_status nne_pkg_cert_make(const nne_pkg_key *root, const uint8_t key[32], int64_t nb, int64_t na,
                             uint32_t threshold, nne_pkg_cert *c);
nne_status nne_pkg_cert_cosign(const nne_pkg_key *root, nne_pkg_cert *c);
/* Read a certificate; every signature in it must verify. */
nne_status nne_pkg_cert_read(const char *path, nne_pkg_cert *c);
nne_status nne_pkg_cert_write(const char *path, const nne_pkg_cert *c);
/* 1 when every signature of c verifies. */
int nne_pkg_cert_valid(const nne_pkg_cert *c);

/* ---------------------------------------------------------- writing -- */
typedef struct nne_pkg_input_seg {
    const char *name;
    uint32_t kind;
    const void *data;
    size_t size;
} nne_pkg_input_seg;

typedef struct nne_pkg_build {
    nne_pkg_manifest man;            /* metadata; segments/recipients/package_id filled by the writer */
    int32_t n_segs;
    const nne_pkg_input_seg *segs;
    const nne_pkg_key *sign;         /* NULL: unsigned */
    const nne_pkg_cert *cert;        /* NULL: signed directly by `sign` */
    int32_t n_devices;
    const nne_pkg_key *devices;      /* X25519 public keys: encrypt for these */
} nne_pkg_build;
/* Write the package to `path` (via a temporary file, fsync, rename). */
nne_status nne_pkg_write(const char *path, const nne_pkg_build *b);
/* Co-sign: copy package `in` to `out` with one more signature, by `sign`
 * (with its certificate, or NULL for a root key signing directly). The
 * manifest and segments are kept byte for byte (the signed digest does not
 * cover the signature slots). `in` is checked first: every signature
 * present and every segment digest. */
nne_status nne_pkg_cosign(const char *in, const char *out, const nne_pkg_key *sign, const nne_pkg_cert *cert);

/* internal to the library: encoders, and the bytes signatures sign */
void nne_pkg_signed_message(const uint8_t *base, uint64_t data_offset, uint8_t msg[64]);
void nne_pkg_cert_message(const nne_pkg_cert *c, uint8_t msg[68]);
void nne_pkg_header_encode(const nne_pkg_header *h, uint8_t *b);
nne_status nne_pkg_manifest_encode(const nne_pkg_manifest *m, int encrypted, uint8_t **out, size_t *size);

/* Set nne_last_error() (for the CLI, which sees only the public API). */
nne_status nne_pkg_error(nne_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nne_pkg_error_prefix(const char *prefix);

/* hex helpers */
void nne_pkg_hex(const uint8_t *b, size_t n, char *out);

#endif
