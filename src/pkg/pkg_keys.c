/*
 * pkg_keys.c - key files and release-key certificates.
 *
 * Keys are one text line: a type word and hex bytes, e.g.
 *   nnedge-sign-public-v1 <64 hex>        (Ed25519 public key)
 *   nnedge-sign-secret-v1 <128 hex>       (Ed25519 secret key, 64 bytes)
 *   nnedge-device-public-v1 <64 hex>      (X25519 public key)
 *   nnedge-device-secret-v1 <64 hex> <64 hex>  (X25519 secret, public)
 * A certificate (root keys vouching for a release key for a time window, and
 * how many signatures a package it signs needs in all):
 *   nnedge-cert-v2 <key hex> <not_before> <not_after> <threshold>
 *   nnedge-certsig-v1 <issuer hex> <signature hex>    (one per root key, 1..3)
 * A trust file (several root keys and how many must vouch for a package):
 *   nnedge-trust-v1 threshold=<K>
 *   nnedge-sign-public-v1 <64 hex>                    (one line per root key)
 * A revocation list (root keys saying which release keys no longer count):
 *   nnedge-revocation-v1 <version> <issued> <count>
 *   nnedge-revoke-v1 <key hex>                        (count lines)
 *   nnedge-revsig-v1 <issuer hex> <signature hex>     (one per root key)
 * Secret files are created with mode 0600 and never overwritten.
 */
#include "pkg/pkg.h"
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const char *k_words[] = {"", "nnedge-sign-secret-v1", "nnedge-sign-public-v1", "nnedge-device-secret-v1",
                                "nnedge-device-public-v1"};

static int unhex(const char *s, uint8_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = s[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return 0;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return 1;
}

/* Read a small text file (at most 1 KiB) into buf, NUL-terminated. */
static nne_status read_small(const char *path, const char *what, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return nne_error(NNE_ERR_IO, "%s %s: %s", what, path, strerror(errno));
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0) return nne_error(NNE_ERR_IO, "%s %s: %s", what, path, strerror(errno));
    buf[n] = 0;
    return NNE_OK;
}

nne_status nne_pkg_key_read(const char *path, int want, nne_pkg_key *k) {
    memset(k, 0, sizeof *k);
    char buf[1024], word[40];
    const char *what = want == NNE_KEY_SIGN_SECRET ? "signing key" : want == NNE_KEY_SIGN_PUBLIC ? "public key"
                       : want == NNE_KEY_DEVICE_SECRET ? "device key" : "device public key";
    NNE_PKG_TRY(read_small(path, what, buf, sizeof buf));
    const char *sp = strchr(buf, ' ');
    if (!sp || (size_t)(sp - buf) >= sizeof word)
        return nne_error(NNE_ERR_INVALID_ARG, "%s %s: not an nnedge key file", what, path);
    memcpy(word, buf, (size_t)(sp - buf));
    word[sp - buf] = 0;
    if (strcmp(word, k_words[want]) != 0)
        return nne_error(NNE_ERR_INVALID_ARG, "%s %s: is a \"%s\", expected a \"%s\" (nnedge keygen%s)", what, path, word,
                         k_words[want], want >= NNE_KEY_DEVICE_SECRET ? " --device" : "");
    const char *h = sp + 1;
    size_t len = strcspn(h, "\n");
    k->kind = want;
    int ok;
    if (want == NNE_KEY_SIGN_SECRET) {
        ok = len == 128 && unhex(h, k->sec, 64);
        memcpy(k->pub, k->sec + 32, 32);
    } else if (want == NNE_KEY_DEVICE_SECRET) {
        ok = len == 129 && h[64] == ' ' && unhex(h, k->sec, 32) && unhex(h + 65, k->pub, 32);
        uint8_t chk[32];
        if (ok && (crypto_scalarmult_base(chk, k->sec) != 0 || memcmp(chk, k->pub, 32) != 0)) ok = 0;
    } else {
        ok = len == 64 && unhex(h, k->pub, 32);
    }
    sodium_memzero(buf, sizeof buf);
    if (!ok) {
        sodium_memzero(k, sizeof *k);
        return nne_error(NNE_ERR_INVALID_ARG, "%s %s: malformed key bytes", what, path);
    }
    return NNE_OK;
}

static nne_status write_new(const char *path, const char *text, int secret) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0)
        return nne_error(NNE_ERR_IO, "cannot create %s: %s%s", path, strerror(errno),
                         errno == EEXIST ? " (keys are never overwritten; remove it first)" : "");
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    int ok = w == (ssize_t)n && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        return nne_error(NNE_ERR_IO, "cannot write %s", path);
    }
    return NNE_OK;
}

nne_status nne_pkg_key_write(const char *path, const nne_pkg_key *k) {
    char text[400], h1[129], h2[65];
    if (k->kind == NNE_KEY_SIGN_SECRET) {
        nne_pkg_hex(k->sec, 64, h1);
        snprintf(text, sizeof text, "%s %s\n", k_words[k->kind], h1);
    } else if (k->kind == NNE_KEY_DEVICE_SECRET) {
        nne_pkg_hex(k->sec, 32, h1);
        nne_pkg_hex(k->pub, 32, h2);
        snprintf(text, sizeof text, "%s %s %s\n", k_words[k->kind], h1, h2);
    } else {
        nne_pkg_hex(k->pub, 32, h1);
        snprintf(text, sizeof text, "%s %s\n", k_words[k->kind], h1);
    }
    nne_status st = write_new(path, text, k->kind == NNE_KEY_SIGN_SECRET || k->kind == NNE_KEY_DEVICE_SECRET);
    sodium_memzero(text, sizeof text);
    sodium_memzero(h1, sizeof h1);
    return st;
}

nne_status nne_pkg_keygen(int device, nne_pkg_key *sec, nne_pkg_key *pub) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    memset(sec, 0, sizeof *sec);
    memset(pub, 0, sizeof *pub);
    if (device) {
        crypto_box_keypair(sec->pub, sec->sec);
        sec->kind = NNE_KEY_DEVICE_SECRET;
        pub->kind = NNE_KEY_DEVICE_PUBLIC;
    } else {
        crypto_sign_keypair(sec->pub, sec->sec);
        sec->kind = NNE_KEY_SIGN_SECRET;
        pub->kind = NNE_KEY_SIGN_PUBLIC;
    }
    memcpy(pub->pub, sec->pub, 32);
    return NNE_OK;
}

nne_status nne_pkg_cert_make(const nne_pkg_key *root, const uint8_t key[32], int64_t nb, int64_t na, uint32_t threshold,
                             nne_pkg_cert *c) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    if (threshold < 1 || threshold > NNE_PKG_MAX_SIGS)
        return nne_error(NNE_ERR_INVALID_ARG, "certificate: threshold %u, expected 1..%d signatures", threshold,
                         NNE_PKG_MAX_SIGS);
    memset(c, 0, sizeof *c);
    memcpy(c->key, key, 32);
    c->not_before = nb;
    c->not_after = na;
    c->threshold = threshold;
    return nne_pkg_cert_cosign(root, c);
}

nne_status nne_pkg_cert_cosign(const nne_pkg_key *root, nne_pkg_cert *c) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    if (c->n_sigs >= NNE_PKG_MAX_CERT_SIGS)
        return nne_error(NNE_ERR_INVALID_ARG, "certificate: at most %d root keys sign a certificate", NNE_PKG_MAX_CERT_SIGS);
    for (int k = 0; k < c->n_sigs; k++)
        if (!memcmp(root->pub, c->issuer[k], 32))
            return nne_error(NNE_ERR_INVALID_ARG, "certificate: already signed by this root key");
    uint8_t msg[68];
    nne_pkg_cert_message(c, msg);
    memcpy(c->issuer[c->n_sigs], root->pub, 32);
    crypto_sign_detached(c->signature[c->n_sigs], NULL, msg, sizeof msg, root->sec);
    c->n_sigs++;
    return NNE_OK;
}

nne_status nne_pkg_cert_write(const char *path, const nne_pkg_cert *c) {
    char text[1200], a[65], b[65], s[129];
    nne_pkg_hex(c->key, 32, a);
    size_t off = (size_t)snprintf(text, sizeof text, "nnedge-cert-v2 %s %lld %lld %u\n", a, (long long)c->not_before,
                                  (long long)c->not_after, c->threshold);
    for (int k = 0; k < c->n_sigs && k < NNE_PKG_MAX_CERT_SIGS; k++) {
        nne_pkg_hex(c->issuer[k], 32, b);
        nne_pkg_hex(c->signature[k], 64, s);
        off += (size_t)snprintf(text + off, sizeof text - off, "nnedge-certsig-v1 %s %s\n", b, s);
    }
    return write_new(path, text, 0);
}

/* Lines "WORD ISSUER SIGNATURE" from `line` on: up to max, into issuer/sig;
 * returns the count, -1 on a malformed line (error set). */
static int read_sig_lines(const char *line, const char *word, const char *what, const char *path, int max,
                          uint8_t (*issuer)[32], uint8_t (*sig)[64], int first_line) {
    int n = 0;
    char fmt[64], b[65], s[129];
    snprintf(fmt, sizeof fmt, "%s %%64s %%128s", word);
    for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (*line == '\n') continue;
        if (n >= max) {
            nne_error(NNE_ERR_INVALID_ARG, "%s %s: more than %d signatures", what, path, max);
            return -1;
        }
        if (sscanf(line, fmt, b, s) != 2 || strlen(b) != 64 || strlen(s) != 128 || !unhex(b, issuer[n], 32) ||
            !unhex(s, sig[n], 64)) {
            nne_error(NNE_ERR_INVALID_ARG, "%s %s: line %d is not an %s line", what, path, first_line + n, word);
            return -1;
        }
        n++;
    }
    return n;
}

nne_status nne_pkg_cert_read(const char *path, nne_pkg_cert *c) {
    memset(c, 0, sizeof *c);
    char buf[1024], a[65];
    long long nb, na;
    unsigned th;
    NNE_PKG_TRY(read_small(path, "certificate", buf, sizeof buf));
    if (!strncmp(buf, "nnedge-cert-v1 ", 15))
        return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: an nnedge-cert-v1 certificate (older nnedge): certify the "
                         "release key again (nnedge keygen --certify)", path);
    if (sscanf(buf, "nnedge-cert-v2 %64s %lld %lld %u", a, &nb, &na, &th) != 4 || strlen(a) != 64 ||
        !unhex(a, c->key, 32) || th < 1 || th > NNE_PKG_MAX_SIGS)
        return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: not an nnedge-cert-v2 line", path);
    c->not_before = nb;
    c->not_after = na;
    c->threshold = th;
    int n = read_sig_lines(strchr(buf, '\n') ? strchr(buf, '\n') + 1 : NULL, "nnedge-certsig-v1", "certificate", path,
                           NNE_PKG_MAX_CERT_SIGS, c->issuer, c->signature, 2);
    if (n < 0) return NNE_ERR_INVALID_ARG;
    if (n == 0) return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: no root signature", path);
    c->n_sigs = n;
    if (!nne_pkg_cert_valid(c))
        return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: its signature is invalid (or a root key signed twice)", path);
    return NNE_OK;
}

nne_status nne_pkg_trust_read(const char *path, nne_pkg_trust *t) {
    memset(t, 0, sizeof *t);
    char buf[1024];
    NNE_PKG_TRY(read_small(path, "trust file", buf, sizeof buf));
    if (strncmp(buf, "nnedge-trust-v1 ", 16) != 0) {
        nne_pkg_key k;
        NNE_PKG_TRY(nne_pkg_key_read(path, NNE_KEY_SIGN_PUBLIC, &k));
        t->n = 1;
        t->threshold = 1;
        memcpy(t->keys[0], k.pub, 32);
        return NNE_OK;
    }
    int th;
    char *line = buf;
    if (sscanf(line, "nnedge-trust-v1 threshold=%d", &th) != 1)
        return nne_error(NNE_ERR_INVALID_ARG, "trust file %s: the first line must be \"nnedge-trust-v1 threshold=K\"", path);
    while ((line = strchr(line, '\n')) && line[1]) {
        line++;
        char hx[65];
        if (t->n >= NNE_PKG_MAX_TRUST)
            return nne_error(NNE_ERR_INVALID_ARG, "trust file %s: more than %d root keys", path, NNE_PKG_MAX_TRUST);
        if (sscanf(line, "nnedge-sign-public-v1 %64s", hx) != 1 || strlen(hx) != 64 || !unhex(hx, t->keys[t->n], 32))
            return nne_error(NNE_ERR_INVALID_ARG, "trust file %s: line %d is not an nnedge-sign-public-v1 key", path,
                             t->n + 2);
        for (int i = 0; i < t->n; i++)
            if (!memcmp(t->keys[i], t->keys[t->n], 32))
                return nne_error(NNE_ERR_INVALID_ARG, "trust file %s: a root key is listed twice", path);
        t->n++;
    }
    if (t->n == 0 || th < 1 || th > t->n)
        return nne_error(NNE_ERR_INVALID_ARG, "trust file %s: threshold %d with %d root keys (1..keys)", path, th, t->n);
    t->threshold = th;
    return NNE_OK;
}

/* ------------------------------------------------------- revocations -- */

/* What every root signature of a revocation list signs. */
static size_t revocation_message(const nne_pkg_revocation *r, uint8_t *msg) {
    static const char dom[32] = "nnedge revocation v1";
    memcpy(msg, dom, 32);
    for (int i = 0; i < 8; i++) msg[32 + i] = (uint8_t)(r->version >> (8 * i));
    for (int i = 0; i < 8; i++) msg[40 + i] = (uint8_t)((uint64_t)r->issued >> (8 * i));
    for (int i = 0; i < 4; i++) msg[48 + i] = (uint8_t)((uint32_t)r->n_keys >> (8 * i));
    memcpy(msg + 52, r->keys, 32 * (size_t)r->n_keys);
    return 52 + 32 * (size_t)r->n_keys;
}

static int revocation_sig_ok(const nne_pkg_revocation *r, int k) {
    uint8_t msg[52 + 32 * NNE_PKG_MAX_REVOKED];
    size_t n = revocation_message(r, msg);
    return crypto_sign_verify_detached(r->signature[k], msg, n, r->issuer[k]) == 0;
}

nne_status nne_pkg_revocation_sign(const struct nne_pkg_key *root, nne_pkg_revocation *r) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    if (r->n_sigs >= NNE_PKG_MAX_TRUST)
        return nne_error(NNE_ERR_INVALID_ARG, "revocation list: at most %d root signatures", NNE_PKG_MAX_TRUST);
    for (int k = 0; k < r->n_sigs; k++)
        if (!memcmp(root->pub, r->issuer[k], 32))
            return nne_error(NNE_ERR_INVALID_ARG, "revocation list: already signed by this root key");
    uint8_t msg[52 + 32 * NNE_PKG_MAX_REVOKED];
    size_t n = revocation_message(r, msg);
    memcpy(r->issuer[r->n_sigs], root->pub, 32);
    crypto_sign_detached(r->signature[r->n_sigs], NULL, msg, n, root->sec);
    r->n_sigs++;
    return NNE_OK;
}

nne_status nne_pkg_revocation_write(const char *path, const nne_pkg_revocation *r) {
    char text[16384], a[65], s[129];
    size_t off = (size_t)snprintf(text, sizeof text, "nnedge-revocation-v1 %llu %lld %d\n",
                                  (unsigned long long)r->version, (long long)r->issued, r->n_keys);
    for (int k = 0; k < r->n_keys; k++) {
        nne_pkg_hex(r->keys[k], 32, a);
        off += (size_t)snprintf(text + off, sizeof text - off, "nnedge-revoke-v1 %s\n", a);
    }
    for (int k = 0; k < r->n_sigs; k++) {
        nne_pkg_hex(r->issuer[k], 32, a);
        nne_pkg_hex(r->signature[k], 64, s);
        off += (size_t)snprintf(text + off, sizeof text - off, "nnedge-revsig-v1 %s %s\n", a, s);
    }
    return write_new(path, text, 0);
}

nne_status nne_pkg_revocation_read(const char *path, nne_pkg_revocation *r) {
    memset(r, 0, sizeof *r);
    char buf[16384], a[65];
    unsigned long long ver;
    long long issued;
    int n;
    NNE_PKG_TRY(read_small(path, "revocation list", buf, sizeof buf));
    if (sscanf(buf, "nnedge-revocation-v1 %llu %lld %d", &ver, &issued, &n) != 3 || ver == 0 || n < 1 ||
        n > NNE_PKG_MAX_REVOKED)
        return nne_error(NNE_ERR_INVALID_ARG,
                         "revocation list %s: the first line must be \"nnedge-revocation-v1 VERSION ISSUED COUNT\" "
                         "(version >= 1, 1..%d keys)", path, NNE_PKG_MAX_REVOKED);
    r->version = ver;
    r->issued = issued;
    const char *line = strchr(buf, '\n');
    for (int k = 0; k < n; k++) {
        if (!line || sscanf(line + 1, "nnedge-revoke-v1 %64s", a) != 1 || strlen(a) != 64 || !unhex(a, r->keys[k], 32))
            return nne_error(NNE_ERR_INVALID_ARG, "revocation list %s: line %d is not an nnedge-revoke-v1 key", path,
                             k + 2);
        line = strchr(line + 1, '\n');
    }
    r->n_keys = n;
    int ns = read_sig_lines(line ? line + 1 : NULL, "nnedge-revsig-v1", "revocation list", path, NNE_PKG_MAX_TRUST,
                            r->issuer, r->signature, n + 2);
    if (ns < 0) return NNE_ERR_INVALID_ARG;
    if (ns == 0) return nne_error(NNE_ERR_INVALID_ARG, "revocation list %s: no root signature", path);
    r->n_sigs = ns;
    for (int k = 0; k < ns; k++) {
        for (int j = 0; j < k; j++)
            if (!memcmp(r->issuer[j], r->issuer[k], 32))
                return nne_error(NNE_ERR_INVALID_ARG, "revocation list %s: signed twice by one key", path);
        if (sodium_init() < 0 || !revocation_sig_ok(r, k))
            return nne_error(NNE_ERR_INVALID_ARG, "revocation list %s: signature %d is invalid", path, k + 1);
    }
    return NNE_OK;
}

nne_status nne_pkg_trust_apply_revocation(nne_pkg_trust *t, const nne_pkg_revocation *r) {
    int good = 0;
    for (int k = 0; k < r->n_sigs; k++) {
        int in = 0;
        for (int i = 0; i < t->n; i++) in |= !memcmp(t->keys[i], r->issuer[k], 32);
        if (in && revocation_sig_ok(r, k)) good++;
    }
    if (good < t->threshold)
        return nne_error(NNE_ERR_INVALID_ARG,
                         "revocation list version %llu is signed by %d trusted root key(s); the trust file requires %d",
                         (unsigned long long)r->version, good, t->threshold);
    t->n_revoked = r->n_keys;
    memcpy(t->revoked, r->keys, sizeof r->keys);
    t->revocation_version = r->version;
    return NNE_OK;
}
