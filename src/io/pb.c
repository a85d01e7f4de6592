/*
 * pb.c - protobuf wire-format reader (see pb.h). Tags, varints, fixed
 * fields and length-delimited payloads are decoded with every length checked
 * against what is left in the window; groups are rejected.
 */
#include "io/pb.h"

#include <string.h>

void pb_init(pb_reader *r, const void *buf, size_t len) {
    r->base = buf;
    r->p = buf;
    r->end = (const uint8_t *)buf + len;
    r->err = NULL;
    r->err_off = 0;
}

size_t pb_offset(const pb_reader *r) { return (size_t)(r->p - r->base); }

static void fail(pb_reader *r, const char *msg) {
    if (!r->err) {
        r->err = msg;
        r->err_off = pb_offset(r);
    }
    r->p = r->end;
}

pb_reader pb_sub(const pb_reader *r, const pb_field *f) {
    pb_reader s;
    s.base = r->base;
    s.p = f->data;
    s.end = f->data + f->len;
    s.err = NULL;
    s.err_off = 0;
    return s;
}

static int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
    const uint8_t *p = *pp;
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= end) return 0;
        uint8_t b = *p++;
        if (shift == 63 && (b & 0x7e)) return 0; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 1;
        }
    }
    return 0;
}

int pb_next(pb_reader *r, pb_field *f) {
    if (r->p >= r->end || r->err) return 0;
    f->off = pb_offset(r);
    uint64_t tag;
    if (!read_varint(&r->p, r->end, &tag)) {
        fail(r, "truncated or overlong field tag");
        return 0;
    }
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    f->data = NULL;
    f->len = 0;
    f->v = 0;
    if (f->num == 0 || (tag >> 3) > 0x1fffffff) {
        r->p = r->base + f->off;
        fail(r, "invalid field number 0");
        return 0;
    }
    switch (f->wire) {
    case PB_VARINT:
        if (!read_varint(&r->p, r->end, &f->v)) {
            fail(r, "truncated varint");
            return 0;
        }
        return 1;
    case PB_I64:
        if (r->end - r->p < 8) {
            fail(r, "truncated fixed64 field");
            return 0;
        }
        memcpy(&f->v, r->p, 8);
        r->p += 8;
        return 1;
    case PB_I32: {
        uint32_t v;
        if (r->end - r->p < 4) {
            fail(r, "truncated fixed32 field");
            return 0;
        }
        memcpy(&v, r->p, 4);
        f->v = v;
        r->p += 4;
        return 1;
    }
    case PB_LEN: {
        uint64_t len;
        if (!read_varint(&r->p, r->end, &len)) {
            fail(r, "truncated length");
            return 0;
        }
        if (len > (uint64_t)(r->end - r->p)) {
            r->p = r->base + f->off;
            fail(r, "length-delimited field runs past the end of its message (truncated file?)");
            return 0;
        }
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 1;
    }
    default:
        r->p = r->base + f->off;
        fail(r, "unsupported wire type (group or invalid)");
        return 0;
    }
}

int64_t pb_packed_count(const pb_field *f, int elem_wire) {
    if (elem_wire == PB_I32) return f->len % 4 ? -1 : (int64_t)(f->len / 4);
    if (elem_wire == PB_I64) return f->len % 8 ? -1 : (int64_t)(f->len / 8);
    int64_t n = 0;
    for (size_t i = 0; i < f->len; i++)
        if (!(f->data[i] & 0x80)) n++;
    if (f->len && (f->data[f->len - 1] & 0x80)) return -1;
    return n;
}

int pb_packed_varint(pb_packed *pk, uint64_t *v) {
    if (pk->p >= pk->end) return 0;
    return read_varint(&pk->p, pk->end, v);
}
int pb_packed_fixed32(pb_packed *pk, uint32_t *v) {
    if (pk->end - pk->p < 4) return 0;
    memcpy(v, pk->p, 4);
    pk->p += 4;
    return 1;
}
int pb_packed_fixed64(pb_packed *pk, uint64_t *v) {
    if (pk->end - pk->p < 8) return 0;
    memcpy(v, pk->p, 8);
    pk->p += 8;
    return 1;
}
