/*
 * pkg.c - opening a .nne package: map it, check the fixed header, the
 * signatures over header + manifest and who vouches for them (trusted root
 * keys, certificates, revocations, thresholds), then the manifest, the
 * segment digests, decryption into locked memory, and the model loaded from
 * the segments in place (nne_model_load_regions).
 *
 * The package's memory (the file mapping and any decrypted buffers) is
 * reference-counted: the handle holds one reference and every model loaded
 * from it another, so a model outlives nne_pkg_close safely. Decrypted
 * buffers are anonymous mappings, locked where the limit allows
 * (RLIMIT_MEMLOCK), excluded from core dumps (MADV_DONTDUMP) and zeroed
 * before they are unmapped.
 */
#include "pkg/pkg.h"
#include "core/core.h"
#include "core/file.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct nne_pkg {
    const uint8_t *base;   /* the package bytes */
    size_t size;
    int mapped;            /* base is our mapping (unmap on release) */
    int refs;              /* atomic: the handle + every model loaded from it */
    nne_pkg_header h;
    int manifest_ok;       /* verify_manifest passed */
    int segments_ok;
    int unlocked;
    nne_pkg_manifest man;
    /* decrypted segment buffers (anonymous mappings), one per segment */
    uint8_t **plain_bufs;
    size_t *plain_caps;
};

static int sodium_ready(void) {
    static int ok; /* sodium_init is itself thread-safe and idempotent */
    if (!ok) ok = sodium_init() >= 0;
    return ok;
}

nne_status nne_pkg_error(nne_status st, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return nne_error(st, "%s", buf);
}

void nne_pkg_error_prefix(const char *prefix) { nne_error_prefix("%s", prefix); }

int nne_pkg_sniff_file(const char *path) {
    /* regular files only, opened without blocking (a FIFO must not hang the
     * check; the loader then reports what the path is) */
    int fd;
    uint64_t size;
    if (nne_file_open(path, "model", &fd, &size) != NNE_OK) {
        nne_error(NNE_OK, "%s", "");
        return 0;
    }
    uint8_t b[8];
    ssize_t n = size >= 8 ? pread(fd, b, 8, 0) : 0;
    close(fd);
    return n == 8 && nne_pkg_sniff(b, 8);
}

static void free_plain(nne_pkg *p) {
    if (!p->plain_bufs) return;
    for (int i = 0; i < p->man.n_segments; i++)
        if (p->plain_bufs[i]) {
            sodium_memzero(p->plain_bufs[i], p->plain_caps[i]);
            munlock(p->plain_bufs[i], p->plain_caps[i]);
            munmap(p->plain_bufs[i], p->plain_caps[i]);
        }
    free(p->plain_bufs);
    free(p->plain_caps);
    p->plain_bufs = NULL;
    p->plain_caps = NULL;
}

static void pkg_unref(void *user) {
    nne_pkg *p = user;
    if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
    free_plain(p);
    nne_pkg_manifest_free(&p->man);
    if (p->mapped) nne_file_unmap((void *)p->base, p->size);
    free(p);
}

void nne_pkg_close(nne_pkg *p) {
    if (p) pkg_unref(p);
}

const nne_pkg_header *nne_pkg_get_header(const nne_pkg *p) { return &p->h; }
const uint8_t *nne_pkg_base(const nne_pkg *p) { return p->base; }
const nne_pkg_manifest *nne_pkg_get_manifest(const nne_pkg *p) { return p->manifest_ok ? &p->man : NULL; }
int nne_pkg_is_encrypted(const nne_pkg *p) { return (p->h.flags & NNE_PKG_FLAG_ENCRYPTED) != 0; }

static nne_status open_common(const uint8_t *buf, size_t size, int mapped, nne_pkg **out) {
    *out = NULL;
    if (!sodium_ready()) return nne_error(NNE_ERR_INTERNAL, "package: libsodium failed to initialize");
    nne_pkg *p = calloc(1, sizeof *p);
    if (!p) return nne_error(NNE_ERR_OUT_OF_MEMORY, "package: out of memory");
    p->base = buf;
    p->size = size;
    p->mapped = mapped;
    p->refs = 1;
    nne_status st = nne_pkg_header_parse(buf, size, &p->h);
    if (st != NNE_OK) {
        p->mapped = 0; /* the caller unmaps on failure */
        pkg_unref(p);
        return st;
    }
    *out = p;
    return NNE_OK;
}

nne_status nne_pkg_open_memory(const uint8_t *buf, size_t size, nne_pkg **out) {
    return open_common(buf, size, 0, out);
}

nne_status nne_pkg_open(const char *path, nne_pkg **out) {
    *out = NULL;
    int fd;
    uint64_t size;
    NNE_PKG_TRY(nne_file_open(path, "package", &fd, &size));
    void *addr;
    nne_status st = nne_file_map(fd, size, path, &addr);
    close(fd);
    if (st != NNE_OK) return st;
    st = open_common(addr, (size_t)size, 1, out);
    if (st != NNE_OK) nne_file_unmap(addr, size);
    return st;
}

/* The 32-byte digest every manifest signature signs: a domain string, the
 * header's first 64 bytes with the signature count zeroed (sizes, flags),
 * and everything from the manifest to the first segment (the manifest and
 * its zero padding). The signature slots are not covered, so a signature
 * can be added later (co-signing) without changing what the others signed;
 * their bytes are covered by the signatures and certificates they hold. */
static void signed_digest(const uint8_t *base, uint64_t data_offset, uint8_t out[32]) {
    static const char dom[] = "nnedge package manifest v2";
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, 32);
    crypto_generichash_update(&s, (const uint8_t *)dom, sizeof dom);
    uint8_t h[64];
    memcpy(h, base, sizeof h);
    memset(h + 52, 0, 4);
    crypto_generichash_update(&s, h, sizeof h);
    crypto_generichash_update(&s, base + NNE_PKG_HEADER_SIZE, data_offset - NNE_PKG_HEADER_SIZE);
    crypto_generichash_final(&s, out, 32);
}

/* What a manifest signature signs: a domain string and the digest. */
void nne_pkg_signed_message(const uint8_t *base, uint64_t data_offset, uint8_t msg[64]) {
    memcpy(msg, "nnedge manifest signature v2\0\0\0\0", 32);
    signed_digest(base, data_offset, msg + 32);
}


/* The bytes a certificate signature signs (the same for every root key). */
void nne_pkg_cert_message(const nne_pkg_cert *c, uint8_t msg[68]) {
    static const char dom[16] = "nnedge cert v2";
    memcpy(msg, dom, 16);
    memcpy(msg + 16, c->key, 32);
    for (int i = 0; i < 8; i++) msg[48 + i] = (uint8_t)((uint64_t)c->not_before >> (8 * i));
    for (int i = 0; i < 8; i++) msg[56 + i] = (uint8_t)((uint64_t)c->not_after >> (8 * i));
    for (int i = 0; i < 4; i++) msg[64 + i] = (uint8_t)(c->threshold >> (8 * i));
}

int nne_pkg_cert_valid(const nne_pkg_cert *c) {
    if (!sodium_ready() || c->n_sigs < 1 || c->n_sigs > NNE_PKG_MAX_CERT_SIGS) return 0;
    uint8_t msg[68];
    nne_pkg_cert_message(c, msg);
    for (int j = 0; j < c->n_sigs; j++) {
        for (int i = 0; i < j; i++)
            if (!memcmp(c->issuer[i], c->issuer[j], 32)) return 0;
        if (crypto_sign_verify_detached(c->signature[j], msg, sizeof msg, c->issuer[j]) != 0) return 0;
    }
    return 1;
}

static void fmt_time(int64_t t, char *buf, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm)) strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else snprintf(buf, cap, "%lld", (long long)t);
}

void nne_pkg_hex(const uint8_t *b, size_t n, char *out) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* Segments tile [data_offset, file_size) in order, each 4 KiB-aligned and
 * padded; names unique; exactly one graph; nonces iff encrypted. */
static nne_status check_layout(nne_pkg *p) {
    const nne_pkg_manifest *m = &p->man;
    uint64_t at = p->h.data_offset;
    int graphs = 0, enc = nne_pkg_is_encrypted(p);
    for (int i = 0; i < m->n_segments; i++) {
        nne_pkg_segment *s = &m->segments[i];
        if (s->offset != at)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: segment \"%s\" starts at %llu, expected %llu (segments must tile the file)",
                             s->name, (unsigned long long)s->offset, (unsigned long long)at);
        if (s->size == 0 || s->size > p->size - at)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: segment \"%s\" of %llu bytes does not fit the file", s->name,
                             (unsigned long long)s->size);
        s->padded = (s->size + NNE_PKG_ALIGN - 1) / NNE_PKG_ALIGN * NNE_PKG_ALIGN;
        if (s->padded > p->size - at)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: segment \"%s\" with its padding runs past the end", s->name);
        at += s->padded;
        if (s->has_nonce != enc)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: segment \"%s\" %s a nonce but the package is %sencrypted",
                             s->name, s->has_nonce ? "has" : "lacks", enc ? "" : "not ");
        if (enc && s->size < crypto_aead_xchacha20poly1305_ietf_ABYTES)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: encrypted segment \"%s\" is shorter than its tag", s->name);
        graphs += s->kind == NNE_SEG_GRAPH;
        for (int j = 0; j < i; j++)
            if (strcmp(m->segments[j].name, s->name) == 0)
                return nne_error(NNE_ERR_CORRUPT_MODEL, "package: two segments are named \"%s\"", s->name);
    }
    if (at != p->size)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: %llu bytes after the last segment are not covered by the manifest",
                         (unsigned long long)(p->size - at));
    if (graphs != 1)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: %d graph segments, expected exactly one", graphs);
    if (enc && m->n_recipients == 0)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: encrypted but lists no recipient");
    if (!enc && m->n_recipients)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: lists recipients but is not encrypted");
    return NNE_OK;
}

static int trusted(const nne_pkg_trust *t, const uint8_t key[32]) {
    for (int i = 0; i < t->n; i++)
        if (sodium_memcmp(t->keys[i], key, 32) == 0) return 1;
    return 0;
}

static int revoked(const nne_pkg_trust *t, const uint8_t key[32]) {
    for (int i = 0; i < t->n_revoked; i++)
        if (sodium_memcmp(t->revoked[i], key, 32) == 0) return 1;
    return 0;
}

/* Every signature present must verify -- the manifest signature of each
 * slot and every root signature on its certificate, trusted or not -- so
 * no byte of a used slot can change unnoticed; a key signs a package once
 * and a certificate once. */
static nne_status check_slots(const nne_pkg *p) {
    const nne_pkg_header *h = &p->h;
    uint8_t msg[64];
    nne_pkg_signed_message(p->base, h->data_offset, msg);
    for (uint32_t k = 0; k < h->n_sigs; k++) {
        const nne_pkg_sig *s = &h->sigs[k];
        for (uint32_t j = 0; j < k; j++)
            if (!memcmp(h->sigs[j].signer, s->signer, 32))
                return nne_error(NNE_ERR_CORRUPT_MODEL, "package: signed twice by one key");
        if (crypto_sign_verify_detached(s->signature, msg, sizeof msg, s->signer) != 0)
            return nne_error(NNE_ERR_CORRUPT_MODEL,
                             "package: signature check failed (signature %u of %u): the header or manifest was modified "
                             "(or signed by another key)", k + 1, h->n_sigs);
        if (!s->has_cert) continue;
        for (int j = 0; j < s->cert.n_sigs; j++)
            for (int i = 0; i < j; i++)
                if (!memcmp(s->cert.issuer[i], s->cert.issuer[j], 32))
                    return nne_error(NNE_ERR_CORRUPT_MODEL, "package: the certificate is signed twice by one key");
        if (!nne_pkg_cert_valid(&s->cert))
            return nne_error(NNE_ERR_INVALID_ARG, "package: the release key's certificate signature is invalid");
    }
    return NNE_OK;
}

/*
 * Who vouches for the package (docs/format.md, "Keys and the chain of
 * trust"). A signature counts when its signer is not revoked and is either
 * a trusted root key or a release key whose certificate, in its validity
 * window, is signed by trusted root keys. The package passes when at least
 * one signature counts, the counted signatures number at least the largest
 * threshold their certificates set, and the trusted root keys behind them
 * (signers and certificate issuers together) number at least the trust
 * file's threshold. The error names the first reason a signature did not
 * count when none does.
 */
static nne_status check_trust(const nne_pkg *p, const nne_pkg_trust *t, int64_t now) {
    const nne_pkg_header *h = &p->h;
    char hx[17], tb[40], why[300];
    why[0] = 0;
    const uint8_t *roots[NNE_PKG_MAX_SIGS * (NNE_PKG_MAX_CERT_SIGS + 1)];
    int n_roots = 0, counted = 0, need = 1, last_cert_roots = 0;
    for (uint32_t k = 0; k < h->n_sigs; k++) {
        const nne_pkg_sig *s = &h->sigs[k];
        nne_pkg_hex(s->signer, 8, hx);
        const uint8_t *mine[NNE_PKG_MAX_CERT_SIGS + 1];
        int n_mine = 0;
        if (revoked(t, s->signer)) {
            if (!why[0])
                snprintf(why, sizeof why, "package: signed by key %s..., which is revoked (revocation list version %llu)",
                         hx, (unsigned long long)t->revocation_version);
            continue;
        }
        if (s->has_cert) {
            const nne_pkg_cert *c = &s->cert;
            for (int j = 0; j < c->n_sigs; j++)
                if (trusted(t, c->issuer[j])) mine[n_mine++] = c->issuer[j];
            if (!n_mine) {
                nne_pkg_hex(c->issuer[0], 8, hx);
                if (!why[0])
                    snprintf(why, sizeof why,
                             "package: signed by a release key certified by key %s..., not by the trusted key", hx);
                continue;
            }
            /* now < 0: displaying a store's contents, signatures only */
            if (now >= 0 && (now > c->not_after || now < c->not_before)) {
                fmt_time(now > c->not_after ? c->not_after : c->not_before, tb, sizeof tb);
                if (!why[0])
                    snprintf(why, sizeof why, now > c->not_after ? "package: the release key that signed it expired at %s"
                                                                 : "package: the release key that signed it is valid only from %s",
                             tb);
                continue;
            }
            if ((int)c->threshold > need) need = (int)c->threshold;
            last_cert_roots = n_mine;
        } else if (trusted(t, s->signer)) {
            mine[n_mine++] = s->signer;
        } else {
            if (!why[0]) snprintf(why, sizeof why, "package: signed by key %s..., not by the trusted key (wrong key)", hx);
            continue;
        }
        counted++;
        for (int j = 0; j < n_mine; j++) {
            int dup = 0;
            for (int i = 0; i < n_roots; i++) dup |= !memcmp(roots[i], mine[j], 32);
            if (!dup) roots[n_roots++] = mine[j];
        }
    }
    if (!counted) return nne_error(NNE_ERR_INVALID_ARG, "%s", why);
    if (counted < need)
        return nne_error(NNE_ERR_INVALID_ARG,
                         "package: %d valid signature(s); its release key's certificate requires %d (add one with "
                         "nnedge sign)", counted, need);
    if (n_roots < t->threshold) {
        if (h->n_sigs == 1 && h->sigs[0].has_cert)
            return nne_error(NNE_ERR_INVALID_ARG,
                             "package: the release key is certified by %d trusted root key(s); the trust file requires %d",
                             last_cert_roots, t->threshold);
        if (h->n_sigs == 1)
            return nne_error(NNE_ERR_INVALID_ARG,
                             "package: signed by one root key directly; the trust file requires a release key certified "
                             "by %d root keys (or more signatures)", t->threshold);
        return nne_error(NNE_ERR_INVALID_ARG,
                         "package: its signatures are backed by %d trusted root key(s); the trust file requires %d",
                         n_roots, t->threshold);
    }
    return NNE_OK;
}

nne_status nne_pkg_verify_manifest(nne_pkg *p, const nne_pkg_trust *trust, int64_t now) {
    const nne_pkg_header *h = &p->h;
    char tb[40];
    int is_signed = h->n_sigs > 0;
    if (trust && !is_signed)
        return nne_error(NNE_ERR_INVALID_ARG, "package: not signed, and --trust requires a signature by the trusted key");
    NNE_PKG_TRY(check_slots(p));
    if (trust) NNE_PKG_TRY(check_trust(p, trust, now));
    /* authenticated (or unsigned and accepted as such): now parse, once
     * (a second check, e.g. against another trust, keeps what was decoded) */
    if (!p->man.segments)
        NNE_PKG_TRY(nne_pkg_manifest_parse(p->base + NNE_PKG_HEADER_SIZE, (size_t)h->manifest_size, &p->man));
    /* the manifest's zero padding up to the first segment is signed too; for
     * unsigned packages it must be zero, so no byte goes unchecked */
    if (!is_signed) {
        for (uint64_t i = NNE_PKG_HEADER_SIZE + h->manifest_size; i < h->data_offset; i++)
            if (p->base[i]) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest padding byte %llu is not zero",
                                             (unsigned long long)i);
    }
    NNE_PKG_TRY(check_layout(p));
    if (now >= 0 && now > p->man.not_after) {
        fmt_time(p->man.not_after, tb, sizeof tb);
        return nne_error(NNE_ERR_INVALID_ARG, "package: expired at %s (not_after): refusing a stale package", tb);
    }
    p->manifest_ok = 1;
    return NNE_OK;
}

/* Give a segment's file pages back (they stay in the page cache) so a
 * verified package costs no resident memory until the model uses its
 * weights. Read-only file pages: nothing is lost, a later access reads them
 * again. */
static void drop_pages(const nne_pkg *p, const nne_pkg_segment *s) {
    if (!p->mapped) return;
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)(p->base + s->offset) + pg - 1) / pg * pg;
    uintptr_t e = (uintptr_t)(p->base + s->offset + s->padded) / pg * pg;
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

/* BLAKE2b-256 of every segment with its padding: the index of the first
 * that does not match its digest, or -1. */
static int hash_segments(const nne_pkg *p) {
    for (int i = 0; i < p->man.n_segments; i++) {
        const nne_pkg_segment *s = &p->man.segments[i];
        uint8_t dg[32];
        crypto_generichash(dg, 32, p->base + s->offset, (size_t)s->padded, NULL, 0);
        if (sodium_memcmp(dg, s->digest, 32) != 0) return i;
    }
    return -1;
}

static nne_status digest_error(const nne_pkg *p, int i) {
    const nne_pkg_segment *s = &p->man.segments[i];
    return nne_error(NNE_ERR_CORRUPT_MODEL,
                     "package: segment \"%s\" (bytes %llu..%llu) does not match its digest: modified or from another package",
                     s->name, (unsigned long long)s->offset, (unsigned long long)(s->offset + s->padded));
}

nne_status nne_pkg_verify_segments(nne_pkg *p) {
    if (!p->manifest_ok) return nne_error(NNE_ERR_INVALID_ARG, "package: verify the manifest first");
    if (p->segments_ok) return NNE_OK;
    int bad = hash_segments(p);
    if (bad >= 0) return digest_error(p, bad);
    for (int i = 0; i < p->man.n_segments; i++) {
        nne_pkg_segment *s = &p->man.segments[i];
        if (!nne_pkg_is_encrypted(p)) {
            s->plain = p->base + s->offset;
            s->plain_size = s->size;
        }
        drop_pages(p, s);
    }
    p->segments_ok = 1;
    return NNE_OK;
}

typedef struct hash_job {
    const nne_pkg *p;
    int bad;
} hash_job;

static void *hash_thread(void *arg) {
    hash_job *j = arg;
    j->bad = hash_segments(j->p);
    return NULL;
}

/* Additional data of segment i's AEAD: binds it to this package and slot. */
size_t nne_pkg_segment_ad(const uint8_t package_id[16], int i, const nne_pkg_segment *s, uint8_t *ad, size_t cap) {
    size_t n = strlen(s->name);
    if (24 + n > cap) n = cap - 24;
    memcpy(ad, package_id, 16);
    for (int k = 0; k < 4; k++) ad[16 + k] = (uint8_t)((uint32_t)i >> (8 * k));
    for (int k = 0; k < 4; k++) ad[20 + k] = (uint8_t)(s->kind >> (8 * k));
    memcpy(ad + 24, s->name, n);
    return 24 + n;
}

nne_status nne_pkg_unlock(nne_pkg *p, const uint8_t dev_sec[32], const uint8_t dev_pub[32]) {
    if (!nne_pkg_is_encrypted(p)) return nne_pkg_verify_segments(p);
    if (!p->manifest_ok) return nne_error(NNE_ERR_INVALID_ARG, "package: verify the manifest first");
    if (p->unlocked) return NNE_OK;
    if (!dev_sec)
        return nne_error(NNE_ERR_INVALID_ARG, "package: encrypted; give the device key with --key DEVICE.sec");
    uint8_t id[32];
    crypto_generichash(id, 32, dev_pub, 32, NULL, 0);
    char hx[17];
    nne_pkg_hex(dev_pub, 8, hx);
    /* the hint is short: try every entry whose hint matches (another
     * device's entry with the same hint simply does not open) */
    uint8_t ck[32];
    int hits = 0, opened = 0;
    for (int i = 0; i < p->man.n_recipients && !opened; i++) {
        const nne_pkg_recipient *rc = &p->man.recipients[i];
        if (sodium_memcmp(rc->hint, id, NNE_PKG_HINT_SIZE) != 0) continue;
        hits++;
        opened = crypto_box_seal_open(ck, rc->sealed, NNE_PKG_SEALED_SIZE, dev_pub, dev_sec) == 0;
    }
    if (!hits)
        return nne_error(NNE_ERR_INVALID_ARG, "package: device key %s... is not a recipient of this package", hx);
    if (!opened)
        return nne_error(NNE_ERR_INVALID_ARG, "package: the content key sealed for device %s... does not open with this key", hx);
    p->plain_bufs = calloc((size_t)p->man.n_segments, sizeof *p->plain_bufs);
    p->plain_caps = calloc((size_t)p->man.n_segments, sizeof *p->plain_caps);
    nne_status st = NNE_OK;
    if (!p->plain_bufs || !p->plain_caps) st = nne_error(NNE_ERR_OUT_OF_MEMORY, "package: out of memory");
    long page = sysconf(_SC_PAGESIZE);
    /* The digests (which bind the ciphertext to the signed manifest: the
     * content key alone would let any recipient forge segments) are checked
     * in a second thread while this one decrypts: both read the same bytes. */
    hash_job job = {.p = p, .bad = -1};
    pthread_t th;
    int threaded = 0;
    if (!p->segments_ok) {
        threaded = pthread_create(&th, NULL, hash_thread, &job) == 0;
        if (!threaded) job.bad = hash_segments(p);
    }
    for (int i = 0; st == NNE_OK && i < p->man.n_segments; i++) {
        nne_pkg_segment *s = &p->man.segments[i];
        size_t plain = (size_t)s->size - crypto_aead_xchacha20poly1305_ietf_ABYTES;
        size_t cap = (plain + (size_t)page - 1) / (size_t)page * (size_t)page;
        if (cap == 0) cap = (size_t)page;
        /* large segments on 2 MiB pages where the kernel has them: faulting
         * in 100 MB page by page costs more than decrypting it */
        size_t huge = (size_t)2 << 20, slack = cap >= 2 * huge ? huge : 0;
        void *raw = mmap(NULL, cap + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "package: cannot map %zu bytes for segment \"%s\"", cap, s->name);
            break;
        }
        p->plain_bufs[i] = raw;
        p->plain_caps[i] = cap + slack;
        uint8_t *buf = slack ? (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1)) : raw;
        if (slack) madvise(buf, cap, MADV_HUGEPAGE);
        /* never in a core dump, never swapped where the memlock limit allows */
        madvise(raw, cap + slack, MADV_DONTDUMP);
        (void)mlock(buf, cap);
        uint8_t ad[24 + 512];
        size_t adn = nne_pkg_segment_ad(p->man.package_id, i, s, ad, sizeof ad);
        unsigned long long out_len = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf, &out_len, NULL, p->base + s->offset, s->size, ad, adn,
                                                       s->nonce, ck) != 0) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "package: segment \"%s\" does not decrypt (modified, or moved from another package)",
                           s->name);
            break;
        }
        s->plain = buf;
        s->plain_size = out_len;
    }
    sodium_memzero(ck, sizeof ck);
    if (threaded) pthread_join(th, NULL);
    if (job.bad >= 0) st = digest_error(p, job.bad); /* the more precise message */
    if (st == NNE_OK) {
        p->segments_ok = 1;
        for (int i = 0; i < p->man.n_segments; i++) drop_pages(p, &p->man.segments[i]);
    }
    if (st != NNE_OK) {
        free_plain(p);
        for (int i = 0; i < p->man.n_segments; i++) p->man.segments[i].plain = NULL;
        return st;
    }
    p->unlocked = 1;
    return NNE_OK;
}

nne_status nne_pkg_load_model(nne_pkg *p, const nne_model_options *opt, nne_model **out) {
    *out = NULL;
    if (!p->segments_ok) return nne_error(NNE_ERR_INVALID_ARG, "package: verify the segments first");
    if (nne_pkg_is_encrypted(p) && !p->unlocked)
        return nne_error(NNE_ERR_INVALID_ARG, "package: encrypted; give the device key with --key DEVICE.sec");
    const nne_pkg_segment *g = NULL;
    int nd = 0;
    for (int i = 0; i < p->man.n_segments; i++) {
        if (p->man.segments[i].kind == NNE_SEG_GRAPH) g = &p->man.segments[i];
        nd += p->man.segments[i].kind == NNE_SEG_DATA;
    }
    nne_region *rg = calloc((size_t)nd + 1, sizeof *rg);
    if (!rg) return nne_error(NNE_ERR_OUT_OF_MEMORY, "package: out of memory");
    nd = 0;
    for (int i = 0; i < p->man.n_segments; i++) {
        const nne_pkg_segment *s = &p->man.segments[i];
        if (s->kind != NNE_SEG_DATA) continue;
        rg[nd++] = (nne_region){.name = s->name, .data = s->plain, .size = (size_t)s->plain_size};
    }
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_ACQ_REL);
    nne_status st = nne_model_load_regions(g->plain, (size_t)g->plain_size, nd, rg, pkg_unref, p, opt, out);
    free(rg);
    if (st != NNE_OK) {
        __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL);
        nne_error_prefix("package: graph segment \"%s\"", g->name);
    }
    return st;
}

/* Compare one output with its golden value: integers exactly, floats within
 * atol 1e-4 + rtol 1e-3 (kernels differ by ISA in the last bits). */
static int close_enough(const nne_tensor *a, const nne_tensor *b, char *why, size_t cap) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) {
        snprintf(why, cap, "dtype or rank differs");
        return 0;
    }
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) {
            snprintf(why, cap, "shape differs at axis %d", d);
            return 0;
        }
    int64_t n = nne_tensor_numel(a);
    if (a->dtype == NNE_DTYPE_FLOAT) {
        const float *x = a->data, *y = b->data;
        for (int64_t i = 0; i < n; i++) {
            float diff = x[i] > y[i] ? x[i] - y[i] : y[i] - x[i];
            float ref = y[i] < 0 ? -y[i] : y[i];
            if (!(diff <= 1e-4f + 1e-3f * ref)) {
                snprintf(why, cap, "element %lld is %g, expected %g", (long long)i, x[i], y[i]);
                return 0;
            }
        }
        return 1;
    }
    if (memcmp(a->data, b->data, nne_tensor_nbytes(a)) != 0) {
        snprintf(why, cap, "values differ");
        return 0;
    }
    return 1;
}

nne_status nne_pkg_golden_check(nne_pkg *p, const nne_model *m, int *checked) {
    *checked = 0;
    int nin = 0, nout = 0;
    for (int i = 0; i < p->man.n_segments; i++) {
        nin += p->man.segments[i].kind == NNE_SEG_GOLDEN_IN;
        nout += p->man.segments[i].kind == NNE_SEG_GOLDEN_OUT;
    }
    if (!nin && !nout) return NNE_OK;
    if (!nout) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: golden inputs without golden outputs");
    nne_tensor *in = calloc((size_t)nin, sizeof *in);
    const char **names = calloc((size_t)nin, sizeof *names);
    nne_session *s = NULL;
    nne_status st = NNE_OK;
    if (!in || !names) st = nne_error(NNE_ERR_OUT_OF_MEMORY, "package: out of memory");
    int k = 0;
    for (int i = 0; st == NNE_OK && i < p->man.n_segments; i++) {
        const nne_pkg_segment *sg = &p->man.segments[i];
        if (sg->kind != NNE_SEG_GOLDEN_IN) continue;
        if ((st = nne_npy_read_memory(sg->plain, (size_t)sg->plain_size, &in[k])) != NNE_OK) {
            nne_error_prefix("package: golden input \"%s\"", sg->name);
            break;
        }
        names[k++] = sg->name;
    }
    if (st == NNE_OK) st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, nin, names, in);
    for (int i = 0; st == NNE_OK && i < nin; i++) st = nne_session_set_input(s, names[i], &in[i]);
    if (st == NNE_OK) st = nne_session_run(s);
    if (st != NNE_OK && s) nne_error(st, "package: golden check: the model failed to run: %s", nne_session_last_error(s));
    for (int i = 0; st == NNE_OK && i < p->man.n_segments; i++) {
        const nne_pkg_segment *sg = &p->man.segments[i];
        if (sg->kind != NNE_SEG_GOLDEN_OUT) continue;
        int found = -1;
        for (int o = 0; o < nne_model_num_outputs(m); o++) {
            nne_value_info vi;
            nne_model_output_info(m, o, &vi);
            if (strcmp(vi.name, sg->name) == 0) found = o;
        }
        if (found < 0) {
            st = nne_error(NNE_ERR_CORRUPT_MODEL, "package: golden output \"%s\" is not an output of the model", sg->name);
            break;
        }
        nne_tensor want, got;
        if ((st = nne_npy_read_memory(sg->plain, (size_t)sg->plain_size, &want)) != NNE_OK) break;
        nne_session_output(s, found, &got);
        char why[160];
        if (!close_enough(&got, &want, why, sizeof why))
            st = nne_error(NNE_ERR_INVALID_ARG, "package: golden check failed: output \"%s\": %s", sg->name, why);
        nne_tensor_free_data(&want);
    }
    if (st == NNE_OK) *checked = 1;
    nne_session_destroy(s);
    for (int i = 0; in && i < k; i++) nne_tensor_free_data(&in[i]);
    free(in);
    free(names);
    return st;
}
