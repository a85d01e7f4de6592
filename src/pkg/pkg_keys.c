/*
 * pkg_keys.c - key files and release-key certificates.
 *
 * Keys are one text line: a type word and hex bytes, e.g.
 *   nnedge-sign-public-v1 <64 hex>        (Ed25519 public key)
 *   nnedge-sign-secret-v1 <128 hex>       (Ed25519 secret key, 64 bytes)
 *   nnedge-device-public-v1 <64 hex>      (X25519 public key)
 *   nnedge-device-secret-v1 <64 hex> <64 hex>  (X25519 secret, public)
 * A certificate (a root key vouching for a release key for a time window):
 *   nnedge-cert-v1 <key hex> <issuer hex> <not_before> <not_after> <signature hex>
 *   nnedge-cosign-v1 <issuer hex> <signature hex>     (more root keys, up to 2)
 * A trust file (several root keys and how many must certify a release key):
 *   nnedge-trust-v1 threshold=<K>
 *   nnedge-sign-public-v1 <64 hex>                    (one line per root key)
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

void nne_pkg_cert_message(const uint8_t key[32], const uint8_t issuer[32], int64_t nb, int64_t na, uint8_t msg[96]);

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

nne_status nne_pkg_cert_make(const nne_pkg_key *root, const uint8_t key[32], int64_t nb, int64_t na, nne_pkg_cert *c) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    memset(c, 0, sizeof *c);
    memcpy(c->key, key, 32);
    memcpy(c->issuer, root->pub, 32);
    c->not_before = nb;
    c->not_after = na;
    uint8_t msg[96];
    nne_pkg_cert_message(c->key, c->issuer, nb, na, msg);
    crypto_sign_detached(c->signature, NULL, msg, sizeof msg, root->sec);
    return NNE_OK;
}

nne_status nne_pkg_cert_write(const char *path, const nne_pkg_cert *c) {
    char text[400], a[65], b[65], s[129];
    nne_pkg_hex(c->key, 32, a);
    nne_pkg_hex(c->issuer, 32, b);
    nne_pkg_hex(c->signature, 64, s);
    char text2[800];
    size_t off = (size_t)snprintf(text2, sizeof text2, "nnedge-cert-v1 %s %s %lld %lld %s\n", a, b,
                                  (long long)c->not_before, (long long)c->not_after, s);
    for (int k = 0; k < c->n_cosign && k < NNE_PKG_MAX_COSIGN; k++) {
        nne_pkg_hex(c->cosign_issuer[k], 32, b);
        nne_pkg_hex(c->cosign_signature[k], 64, s);
        off += (size_t)snprintf(text2 + off, sizeof text2 - off, "nnedge-cosign-v1 %s %s\n", b, s);
    }
    (void)text;
    return write_new(path, text2, 0);
}

nne_status nne_pkg_cert_read(const char *path, nne_pkg_cert *c) {
    memset(c, 0, sizeof *c);
    char buf[1024], a[65], b[65], s[129];
    long long nb, na;
    NNE_PKG_TRY(read_small(path, "certificate", buf, sizeof buf));
    if (sscanf(buf, "nnedge-cert-v1 %64s %64s %lld %lld %128s", a, b, &nb, &na, s) != 5 || strlen(a) != 64 ||
        strlen(b) != 64 || strlen(s) != 128 || !unhex(a, c->key, 32) || !unhex(b, c->issuer, 32) ||
        !unhex(s, c->signature, 64))
        return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: not an nnedge-cert-v1 line", path);
    c->not_before = nb;
    c->not_after = na;
    uint8_t msg[96];
    nne_pkg_cert_message(c->key, c->issuer, nb, na, msg);
    if (sodium_init() < 0 || crypto_sign_verify_detached(c->signature, msg, sizeof msg, c->issuer) != 0)
        return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: its signature is invalid", path);
    /* co-signatures: one line each after the first */
    const char *line = strchr(buf, '\n');
    while (line && line[1]) {
        line++;
        if (c->n_cosign >= NNE_PKG_MAX_COSIGN)
            return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: more than %d co-signatures", path, NNE_PKG_MAX_COSIGN);
        int k = c->n_cosign;
        if (sscanf(line, "nnedge-cosign-v1 %64s %128s", b, s) != 2 || strlen(b) != 64 || strlen(s) != 128 ||
            !unhex(b, c->cosign_issuer[k], 32) || !unhex(s, c->cosign_signature[k], 64))
            return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: line %d is not an nnedge-cosign-v1 line", path, k + 2);
        if (crypto_sign_verify_detached(c->cosign_signature[k], msg, sizeof msg, c->cosign_issuer[k]) != 0)
            return nne_error(NNE_ERR_INVALID_ARG, "certificate %s: co-signature %d is invalid", path, k + 1);
        c->n_cosign++;
        line = strchr(line, '\n');
    }
    return NNE_OK;
}

nne_status nne_pkg_cert_cosign(const nne_pkg_key *root, nne_pkg_cert *c) {
    if (sodium_init() < 0) return nne_error(NNE_ERR_INTERNAL, "libsodium failed to initialize");
    if (c->n_cosign >= NNE_PKG_MAX_COSIGN)
        return nne_error(NNE_ERR_INVALID_ARG, "certificate: at most %d root keys besides the first", NNE_PKG_MAX_COSIGN);
    if (!memcmp(root->pub, c->issuer, 32))
        return nne_error(NNE_ERR_INVALID_ARG, "certificate: the same root key twice");
    for (int k = 0; k < c->n_cosign; k++)
        if (!memcmp(root->pub, c->cosign_issuer[k], 32))
            return nne_error(NNE_ERR_INVALID_ARG, "certificate: the same root key twice");
    uint8_t msg[96];
    nne_pkg_cert_message(c->key, c->issuer, c->not_before, c->not_after, msg);
    memcpy(c->cosign_issuer[c->n_cosign], root->pub, 32);
    crypto_sign_detached(c->cosign_signature[c->n_cosign], NULL, msg, sizeof msg, root->sec);
    c->n_cosign++;
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
    if (t->n == 0 || th < 1 || th > t->n || th > 1 + NNE_PKG_MAX_COSIGN)
        return nne_error(NNE_ERR_INVALID_ARG, "trust file %s: threshold %d with %d root keys (1..min(keys, %d))", path, th,
                         t->n, 1 + NNE_PKG_MAX_COSIGN);
    t->threshold = th;
    return NNE_OK;
}
