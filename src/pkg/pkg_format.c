/*
 * pkg_format.c - the bytes of a .nne package (docs/format.md): the fixed
 * header and the manifest, encoded and decoded.
 *
 * The manifest is a flat list of records, each a 4-byte tag, a 4-byte length
 * and that many bytes; a few records (tensor specs, segments, recipients)
 * hold records of their own, one level deep. Integers are fixed-width little
 * endian, so the manifest's size does not depend on the offsets it records
 * (the writer encodes it once to learn where the data starts). The decoder
 * trusts nothing: every length is checked against what is left, counts are
 * capped before anything is allocated (at most a few times the manifest's
 * own size, itself at most NNE_PKG_MAX_MANIFEST), unknown or repeated
 * records are refused, and strings must be UTF-8 without control
 * characters (names end up in one-line error messages).
 */
#include "pkg/pkg.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- little endian -- */
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void wr64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static const uint8_t k_magic[8] = {0x89, 'N', 'N', 'E', 'P', 'K', 'G', '\n'};

int nne_pkg_sniff(const uint8_t *buf, size_t size) { return size >= 8 && memcmp(buf, k_magic, 8) == 0; }

static int all_zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* ------------------------------------------------------------- header -- */
/* Header layout (NNE_PKG_HEADER_SIZE = 2048 bytes, little endian):
 *   0 magic[8]  8 u32 version  12 u32 header_size  16 u64 file_size
 *  24 u64 manifest_offset  32 u64 manifest_size  40 u64 data_offset
 *  48 u32 flags  52 u32 n_sigs  56 zero[8]
 *  64 + 416k: signature slot k (k < 4):
 *      +0 signer[32]  +32 signature[64]
 *      +96 u32 cert_sigs (0: no certificate, else 1..3)  +100 u32 threshold
 *      +104 i64 not_before  +112 i64 not_after
 *      +120 + 96j: certificate signature j (j < 3): issuer[32], signature[64]
 *      +408 zero[8]
 *  1728 .. 2047 zero
 * Unused slots, unused certificate signatures and the certificate fields of
 * a slot without one are zero. */
enum { H_SLOTS = 64, SLOT_SIZE = 416, SL_CERT_SIGS = 96, SL_THRESHOLD = 100, SL_NB = 104, SL_NA = 112, SL_CSIG = 120,
       SL_END = SL_CSIG + 96 * NNE_PKG_MAX_CERT_SIGS };
_Static_assert(SL_END <= SLOT_SIZE, "slot layout");
_Static_assert(H_SLOTS + SLOT_SIZE * NNE_PKG_MAX_SIGS <= NNE_PKG_HEADER_SIZE, "header layout");

static nne_status parse_slot(const uint8_t *b, int k, nne_pkg_sig *s) {
    memcpy(s->signer, b, 32);
    memcpy(s->signature, b + 32, 64);
    uint32_t nc = rd32(b + SL_CERT_SIGS);
    if (nc > NNE_PKG_MAX_CERT_SIGS)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: signature %d claims %u certificate signatures (at most %d)", k + 1,
                         nc, NNE_PKG_MAX_CERT_SIGS);
    if (!all_zero(b + SL_CSIG + 96 * nc, SLOT_SIZE - SL_CSIG - 96 * nc))
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: reserved bytes of signature %d are not zero", k + 1);
    if (nc == 0) {
        if (!all_zero(b + SL_THRESHOLD, SL_CSIG - SL_THRESHOLD))
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: signature %d has no certificate but certificate bytes", k + 1);
        return NNE_OK;
    }
    nne_pkg_cert *c = &s->cert;
    s->has_cert = 1;
    memcpy(c->key, s->signer, 32);
    c->threshold = rd32(b + SL_THRESHOLD);
    c->not_before = (int64_t)rd64(b + SL_NB);
    c->not_after = (int64_t)rd64(b + SL_NA);
    c->n_sigs = (int32_t)nc;
    if (c->threshold < 1 || c->threshold > NNE_PKG_MAX_SIGS)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: certificate of signature %d has threshold %u (1..%d)", k + 1,
                         c->threshold, NNE_PKG_MAX_SIGS);
    for (uint32_t j = 0; j < nc; j++) {
        memcpy(c->issuer[j], b + SL_CSIG + 96 * j, 32);
        memcpy(c->signature[j], b + SL_CSIG + 96 * j + 32, 64);
    }
    return NNE_OK;
}

nne_status nne_pkg_header_parse(const uint8_t *b, size_t size, nne_pkg_header *h) {
    memset(h, 0, sizeof *h);
    if (size < 12)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: file is %zu bytes, shorter than the %d-byte header (truncated)",
                         size, NNE_PKG_HEADER_SIZE);
    if (memcmp(b, k_magic, 8) != 0) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: not a .nne package (bad magic)");
    if (rd32(b + 8) != NNE_PKG_FORMAT_VERSION)
        return nne_error(NNE_ERR_UNSUPPORTED, "package: format version %u, this nnedge reads version %d%s", rd32(b + 8),
                         NNE_PKG_FORMAT_VERSION, rd32(b + 8) < NNE_PKG_FORMAT_VERSION ? " (pack the model again)" : "");
    if (size < NNE_PKG_HEADER_SIZE)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: file is %zu bytes, shorter than the %d-byte header (truncated)",
                         size, NNE_PKG_HEADER_SIZE);
    h->version = rd32(b + 8);
    h->header_size = rd32(b + 12);
    h->file_size = rd64(b + 16);
    h->manifest_offset = rd64(b + 24);
    h->manifest_size = rd64(b + 32);
    h->data_offset = rd64(b + 40);
    h->flags = rd32(b + 48);
    if (h->header_size != NNE_PKG_HEADER_SIZE)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: header size %u, expected %d", h->header_size,
                         NNE_PKG_HEADER_SIZE);
    if (h->file_size != size)
        return nne_error(NNE_ERR_CORRUPT_MODEL,
                         "package: file is %zu bytes but its header says %llu (truncated or extra data appended)", size,
                         (unsigned long long)h->file_size);
    if (h->file_size % NNE_PKG_ALIGN)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: file size %llu is not a multiple of %d",
                         (unsigned long long)h->file_size, NNE_PKG_ALIGN);
    if (h->manifest_offset != NNE_PKG_HEADER_SIZE)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest offset %llu, expected %d",
                         (unsigned long long)h->manifest_offset, NNE_PKG_HEADER_SIZE);
    if (h->manifest_size == 0 || h->manifest_size > NNE_PKG_MAX_MANIFEST)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest size %llu is outside 1..%u bytes",
                         (unsigned long long)h->manifest_size, NNE_PKG_MAX_MANIFEST);
    if (h->data_offset != round_up(NNE_PKG_HEADER_SIZE + h->manifest_size, NNE_PKG_ALIGN) ||
        h->data_offset > h->file_size)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: data offset %llu does not follow the manifest",
                         (unsigned long long)h->data_offset);
    if (h->flags & ~NNE_PKG_FLAG_ENCRYPTED)
        return nne_error(NNE_ERR_UNSUPPORTED, "package: unknown header flags 0x%x", h->flags);
    h->n_sigs = rd32(b + 52);
    if (h->n_sigs > NNE_PKG_MAX_SIGS)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: %u signatures (at most %d)", h->n_sigs, NNE_PKG_MAX_SIGS);
    if (!all_zero(b + 56, H_SLOTS - 56))
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: reserved header bytes are not zero");
    size_t used = H_SLOTS + SLOT_SIZE * (size_t)h->n_sigs;
    if (!all_zero(b + used, NNE_PKG_HEADER_SIZE - used))
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: unused signature slots or reserved header bytes are not zero");
    for (uint32_t k = 0; k < h->n_sigs; k++)
        NNE_PKG_TRY(parse_slot(b + H_SLOTS + SLOT_SIZE * k, (int)k, &h->sigs[k]));
    return NNE_OK;
}

void nne_pkg_header_encode(const nne_pkg_header *h, uint8_t *b) {
    memset(b, 0, NNE_PKG_HEADER_SIZE);
    memcpy(b, k_magic, 8);
    wr32(b + 8, h->version);
    wr32(b + 12, h->header_size);
    wr64(b + 16, h->file_size);
    wr64(b + 24, h->manifest_offset);
    wr64(b + 32, h->manifest_size);
    wr64(b + 40, h->data_offset);
    wr32(b + 48, h->flags);
    wr32(b + 52, h->n_sigs);
    for (uint32_t k = 0; k < h->n_sigs && k < NNE_PKG_MAX_SIGS; k++) {
        const nne_pkg_sig *s = &h->sigs[k];
        uint8_t *q = b + H_SLOTS + SLOT_SIZE * k;
        memcpy(q, s->signer, 32);
        memcpy(q + 32, s->signature, 64);
        if (!s->has_cert) continue;
        const nne_pkg_cert *c = &s->cert;
        wr32(q + SL_CERT_SIGS, (uint32_t)c->n_sigs);
        wr32(q + SL_THRESHOLD, c->threshold);
        wr64(q + SL_NB, (uint64_t)c->not_before);
        wr64(q + SL_NA, (uint64_t)c->not_after);
        for (int j = 0; j < c->n_sigs && j < NNE_PKG_MAX_CERT_SIGS; j++) {
            memcpy(q + SL_CSIG + 96 * j, c->issuer[j], 32);
            memcpy(q + SL_CSIG + 96 * j + 32, c->signature[j], 64);
        }
    }
}

/* ----------------------------------------------------------- manifest -- */
enum {
    T_MODEL_ID = 1, T_SEMVER, T_COUNTER, T_BUILD_HASH, T_CREATED, T_NOT_AFTER, T_INPUT, T_OUTPUT, T_PREPROCESS,
    T_LABEL, T_LICENSE, T_SEGMENT = 13, T_RECIPIENT_V1, T_PACKAGE_ID, T_RECIPIENTS, T_LAST
};
/* nested: tensor spec */
enum { TS_NAME = 1, TS_DTYPE, TS_DIMS };
/* nested: segment */
enum { SG_NAME = 1, SG_KIND, SG_OFFSET, SG_SIZE, SG_DIGEST, SG_NONCE };

typedef struct rec {
    uint32_t tag;
    uint32_t len;
    const uint8_t *v;
} rec;

typedef struct rdr {
    const uint8_t *p;
    size_t left, off; /* off: offset in the manifest, for messages */
} rdr;

/* Next record: 1, 0 at the end, -1 (error set) on a length that lies. */
static int next_rec(rdr *r, rec *out, nne_status *st) {
    if (r->left == 0) return 0;
    if (r->left < 8) {
        *st = nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest offset %zu: %zu stray bytes after the last record",
                        r->off, r->left);
        return -1;
    }
    out->tag = rd32(r->p);
    out->len = rd32(r->p + 4);
    if (out->len > r->left - 8) {
        *st = nne_error(NNE_ERR_CORRUPT_MODEL,
                        "package: manifest offset %zu: record %u claims %u bytes, only %zu are left", r->off, out->tag,
                        out->len, r->left - 8);
        return -1;
    }
    out->v = r->p + 8;
    r->p += 8 + (size_t)out->len;
    r->left -= 8 + (size_t)out->len;
    r->off += 8 + (size_t)out->len;
    return 1;
}

static int utf8_ok(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c < 0x20 || c == 0x7f) return 0; /* no NUL, no control characters: names reach messages */
        if (c < 0x80) { i++; continue; }
        size_t k;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) k = 2, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef) k = 3, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4) k = 4, cp = c & 0x07;
        else return 0;
        if (i + k > n) return 0;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k;
    }
    return 1;
}

static nne_status get_str(const rec *r, const char *what, char **out) {
    if (*out) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: %s given twice", what);
    if (r->len > NNE_PKG_MAX_STRING || !utf8_ok(r->v, r->len))
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: %s is not a UTF-8 string of at most %d bytes without control characters", what,
                         NNE_PKG_MAX_STRING);
    char *s = malloc((size_t)r->len + 1);
    if (!s) return nne_error(NNE_ERR_OUT_OF_MEMORY, "package: out of memory");
    memcpy(s, r->v, r->len);
    s[r->len] = 0;
    *out = s;
    return NNE_OK;
}

static nne_status get_fixed(const rec *r, const char *what, void *out, uint32_t n, unsigned *seen, unsigned bit) {
    if (*seen & bit) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: %s given twice", what);
    if (r->len != n)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: %s is %u bytes, expected %u", what, r->len, n);
    memcpy(out, r->v, n);
    *seen |= bit;
    return NNE_OK;
}

static nne_status parse_spec(const rec *outer, nne_pkg_tensor_spec *t) {
    rdr r = {outer->v, outer->len, 0};
    rec e;
    nne_status st = NNE_OK;
    unsigned seen = 0;
    int k;
    t->ndim = -1;
    while ((k = next_rec(&r, &e, &st)) == 1) {
        if (e.tag == TS_NAME) st = get_str(&e, "tensor name", &t->name);
        else if (e.tag == TS_DTYPE) {
            uint8_t b[4];
            if ((st = get_fixed(&e, "tensor dtype", b, 4, &seen, 1)) == NNE_OK) t->dtype = (int32_t)rd32(b);
        } else if (e.tag == TS_DIMS) {
            if (seen & 2) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: tensor dims given twice");
            if (e.len % 8 || e.len / 8 > NNE_MAX_DIMS)
                return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: tensor dims of %u bytes (at most %d dims of 8 bytes)",
                                 e.len, NNE_MAX_DIMS);
            t->ndim = (int32_t)(e.len / 8);
            for (int d = 0; d < t->ndim; d++) t->dims[d] = (int64_t)rd64(e.v + 8 * d);
            seen |= 2;
        } else
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: unknown tensor-spec record %u", e.tag);
        if (st != NNE_OK) return st;
    }
    if (k < 0) return st;
    if (!t->name) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: a tensor spec without a name");
    return NNE_OK;
}

static nne_status parse_segment(const rec *outer, nne_pkg_segment *s) {
    rdr r = {outer->v, outer->len, 0};
    rec e;
    nne_status st = NNE_OK;
    unsigned seen = 0;
    uint8_t b[8];
    int k;
    while ((k = next_rec(&r, &e, &st)) == 1) {
        switch (e.tag) {
        case SG_NAME: st = get_str(&e, "segment name", &s->name); break;
        case SG_KIND: if ((st = get_fixed(&e, "segment kind", b, 4, &seen, 1)) == NNE_OK) s->kind = rd32(b); break;
        case SG_OFFSET: if ((st = get_fixed(&e, "segment offset", b, 8, &seen, 2)) == NNE_OK) s->offset = rd64(b); break;
        case SG_SIZE: if ((st = get_fixed(&e, "segment size", b, 8, &seen, 4)) == NNE_OK) s->size = rd64(b); break;
        case SG_DIGEST: st = get_fixed(&e, "segment digest", s->digest, 32, &seen, 8); break;
        case SG_NONCE: st = get_fixed(&e, "segment nonce", s->nonce, 24, &seen, 16); break;
        default: return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: unknown segment record %u", e.tag);
        }
        if (st != NNE_OK) return st;
    }
    if (k < 0) return st;
    if (!s->name || (seen & 15) != 15)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: a segment lacks its name, kind, offset, size or digest");
    if (s->name[0] == 0) return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: a segment with an empty name");
    if (s->kind < NNE_SEG_GRAPH || s->kind > NNE_SEG_GOLDEN_OUT)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: segment \"%s\" has unknown kind %u", s->name, s->kind);
    s->has_nonce = (seen & 16) != 0; /* checked against the header's encryption flag */
    return NNE_OK;
}

void nne_pkg_manifest_free(nne_pkg_manifest *m) {
    if (!m) return;
    free(m->model_id);
    free(m->semver);
    free(m->license);
    free(m->preprocess);
    for (int i = 0; m->inputs && i < m->n_inputs; i++) free(m->inputs[i].name);
    for (int i = 0; m->outputs && i < m->n_outputs; i++) free(m->outputs[i].name);
    for (int i = 0; m->labels && i < m->n_labels; i++) free(m->labels[i]);
    for (int i = 0; m->segments && i < m->n_segments; i++) free(m->segments[i].name);
    free(m->inputs);
    free(m->outputs);
    free(m->labels);
    free(m->segments);
    free(m->recipients);
    memset(m, 0, sizeof *m);
}

nne_status nne_pkg_manifest_parse(const uint8_t *buf, size_t size, nne_pkg_manifest *m) {
    memset(m, 0, sizeof *m);
    if (size > NNE_PKG_MAX_MANIFEST)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest of %zu bytes is over the limit of %u", size,
                         NNE_PKG_MAX_MANIFEST);
    /* pass 1: count (every record is at least 8 bytes: counts <= size / 8) */
    size_t cnt[T_LAST] = {0};
    rdr r = {buf, size, 0};
    rec e;
    nne_status st = NNE_OK;
    int k;
    while ((k = next_rec(&r, &e, &st)) == 1) {
        if (e.tag == 0 || e.tag >= T_LAST || e.tag == 12 || e.tag == T_RECIPIENT_V1)
            return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest offset %zu: unknown record %u", r.off - 8 - e.len,
                             e.tag);
        cnt[e.tag]++;
    }
    if (k < 0) return st;
    if (cnt[T_SEGMENT] == 0 || cnt[T_SEGMENT] > NNE_PKG_MAX_SEGMENTS)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest lists %zu segments, expected 1..%d", cnt[T_SEGMENT],
                         NNE_PKG_MAX_SEGMENTS);
    if (cnt[T_INPUT] > 65536 || cnt[T_OUTPUT] > 65536)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest lists too many inputs or outputs");
    if (cnt[T_RECIPIENTS] > 1)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "package: manifest: recipients given twice");
    /* one record holds every recipient: count them from its length */
    size_t n_rcp = 0;
    r = (rdr){buf, size, 0};
    while ((k = next_rec(&r, &e, &st)) == 1)
        if (e.tag == T_RECIPIENTS) {
            if (e.len == 0 || e.len % NNE_PKG_RECIPIENT_SIZE || e.len / NNE_PKG_RECIPIENT_SIZE > 65536)
                return nne_error(NNE_ERR_CORRUPT_MODEL,
                                 "package: manifest: recipients record of %u bytes (1..65536 entries of %d bytes)", e.len,
                                 NNE_PKG_RECIPIENT_SIZE);
            n_rcp = e.len / NNE_PKG_RECIPIENT_SIZE;
        }
    m->inputs = calloc(cnt[T_INPUT] + 1, sizeof *m->inputs);
    m->outputs = calloc(cnt[T_OUTPUT] + 1, sizeof *m->outputs);
    m->labels = calloc(cnt[T_LABEL] + 1, sizeof *m->labels);
    m->segments = calloc(cnt[T_SEGMENT] + 1, sizeof *m->segments);
    m->recipients = calloc(n_rcp + 1, sizeof *m->recipients);
    if (!m->inputs || !m->outputs || !m->labels || !m->segments || !m->recipients) {
        nne_pkg_manifest_free(m);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "package: out of memory");
    }
    /* pass 2: decode */
    r = (rdr){buf, size, 0};
    unsigned seen = 0;
    uint8_t b[8];
    while ((k = next_rec(&r, &e, &st)) == 1) {
        switch (e.tag) {
        case T_MODEL_ID: st = get_str(&e, "model id", &m->model_id); break;
        case T_SEMVER: st = get_str(&e, "version", &m->semver); break;
        case T_LICENSE: st = get_str(&e, "license", &m->license); break;
        case T_PREPROCESS: st = get_str(&e, "preprocess", &m->preprocess); break;
        case T_COUNTER: if ((st = get_fixed(&e, "version counter", b, 8, &seen, 1)) == NNE_OK) m->counter = rd64(b); break;
        case T_CREATED: if ((st = get_fixed(&e, "created", b, 8, &seen, 2)) == NNE_OK) m->created = (int64_t)rd64(b); break;
        case T_NOT_AFTER: if ((st = get_fixed(&e, "not_after", b, 8, &seen, 4)) == NNE_OK) m->not_after = (int64_t)rd64(b); break;
        case T_BUILD_HASH: st = get_fixed(&e, "build hash", m->build_hash, 32, &seen, 8); break;
        case T_PACKAGE_ID: st = get_fixed(&e, "package id", m->package_id, 16, &seen, 16); break;
        case T_INPUT: st = parse_spec(&e, &m->inputs[m->n_inputs++]); break;
        case T_OUTPUT: st = parse_spec(&e, &m->outputs[m->n_outputs++]); break;
        case T_LABEL: m->labels[m->n_labels] = NULL; st = get_str(&e, "label", &m->labels[m->n_labels]); m->n_labels++; break;
        case T_SEGMENT: st = parse_segment(&e, &m->segments[m->n_segments++]); break;
        case T_RECIPIENTS:
            for (size_t i = 0; i < n_rcp; i++) {
                nne_pkg_recipient *rc = &m->recipients[i];
                memcpy(rc->hint, e.v + NNE_PKG_RECIPIENT_SIZE * i, NNE_PKG_HINT_SIZE);
                memcpy(rc->sealed, e.v + NNE_PKG_RECIPIENT_SIZE * i + NNE_PKG_HINT_SIZE, NNE_PKG_SEALED_SIZE);
            }
            m->n_recipients = (int32_t)n_rcp;
            break;
        default: break;
        }
        if (st != NNE_OK) break;
    }
    if (st == NNE_OK && k < 0) st = NNE_ERR_CORRUPT_MODEL;
    if (st == NNE_OK && (!m->model_id || !m->semver || (seen & 23) != 23))
        st = nne_error(NNE_ERR_CORRUPT_MODEL,
                       "package: manifest lacks one of model id, version, version counter, created, not_after, package id");
    if (st != NNE_OK) {
        nne_pkg_manifest_free(m);
        return st;
    }
    return NNE_OK;
}

/* ------------------------------------------------------------ encoder -- */
typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *d, size_t n) {
    if (w->oom) return;
    if (w->n + n > w->cap) {
        size_t c = w->cap ? w->cap * 2 : 1024;
        while (c < w->n + n) c *= 2;
        uint8_t *q = realloc(w->p, c);
        if (!q) { w->oom = 1; return; }
        w->p = q;
        w->cap = c;
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}
static void put_rec(wbuf *w, uint32_t tag, const void *d, size_t n) {
    uint8_t h[8];
    wr32(h, tag);
    wr32(h + 4, (uint32_t)n);
    put(w, h, 8);
    put(w, d, n);
}
static void put_u32(wbuf *w, uint32_t tag, uint32_t v) { uint8_t b[4]; wr32(b, v); put_rec(w, tag, b, 4); }
static void put_u64(wbuf *w, uint32_t tag, uint64_t v) { uint8_t b[8]; wr64(b, v); put_rec(w, tag, b, 8); }
static void put_str(wbuf *w, uint32_t tag, const char *s) { if (s) put_rec(w, tag, s, strlen(s)); }
static void put_nested(wbuf *w, uint32_t tag, wbuf *inner) {
    if (inner->oom) w->oom = 1;
    put_rec(w, tag, inner->p, inner->n);
    free(inner->p);
    memset(inner, 0, sizeof *inner);
}
static void put_spec(wbuf *w, uint32_t tag, const nne_pkg_tensor_spec *t) {
    wbuf in = {0};
    put_str(&in, TS_NAME, t->name);
    put_u32(&in, TS_DTYPE, (uint32_t)t->dtype);
    if (t->ndim >= 0) {
        uint8_t d[8 * NNE_MAX_DIMS];
        for (int i = 0; i < t->ndim && i < NNE_MAX_DIMS; i++) wr64(d + 8 * i, (uint64_t)t->dims[i]);
        put_rec(&in, TS_DIMS, d, 8 * (size_t)t->ndim);
    }
    put_nested(w, tag, &in);
}

/* Encode m (malloc'd bytes). `encrypted`: segments carry their nonce. */
nne_status nne_pkg_manifest_encode(const nne_pkg_manifest *m, int encrypted, uint8_t **out, size_t *size) {
    wbuf w = {0};
    put_str(&w, T_MODEL_ID, m->model_id);
    put_str(&w, T_SEMVER, m->semver);
    put_u64(&w, T_COUNTER, m->counter);
    put_rec(&w, T_BUILD_HASH, m->build_hash, 32);
    put_u64(&w, T_CREATED, (uint64_t)m->created);
    put_u64(&w, T_NOT_AFTER, (uint64_t)m->not_after);
    put_rec(&w, T_PACKAGE_ID, m->package_id, 16);
    put_str(&w, T_LICENSE, m->license);
    put_str(&w, T_PREPROCESS, m->preprocess);
    for (int i = 0; i < m->n_inputs; i++) put_spec(&w, T_INPUT, &m->inputs[i]);
    for (int i = 0; i < m->n_outputs; i++) put_spec(&w, T_OUTPUT, &m->outputs[i]);
    for (int i = 0; i < m->n_labels; i++) put_str(&w, T_LABEL, m->labels[i]);
    for (int i = 0; i < m->n_segments; i++) {
        const nne_pkg_segment *s = &m->segments[i];
        wbuf in = {0};
        put_str(&in, SG_NAME, s->name);
        put_u32(&in, SG_KIND, s->kind);
        put_u64(&in, SG_OFFSET, s->offset);
        put_u64(&in, SG_SIZE, s->size);
        put_rec(&in, SG_DIGEST, s->digest, 32);
        if (encrypted) put_rec(&in, SG_NONCE, s->nonce, 24);
        put_nested(&w, T_SEGMENT, &in);
    }
    if (m->n_recipients > 0) {
        /* one record, NNE_PKG_RECIPIENT_SIZE bytes per device: a hint and the sealed content key */
        wbuf in = {0};
        for (int i = 0; i < m->n_recipients; i++) {
            put(&in, m->recipients[i].hint, NNE_PKG_HINT_SIZE);
            put(&in, m->recipients[i].sealed, NNE_PKG_SEALED_SIZE);
        }
        put_nested(&w, T_RECIPIENTS, &in);
    }
    if (w.oom) {
        free(w.p);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "package: out of memory");
    }
    if (w.n > NNE_PKG_MAX_MANIFEST) {
        free(w.p);
        return nne_error(NNE_ERR_INVALID_ARG, "package: the manifest would be %zu bytes, over the limit of %u (labels?)",
                         w.n, NNE_PKG_MAX_MANIFEST);
    }
    *out = w.p;
    *size = w.n;
    return NNE_OK;
}
