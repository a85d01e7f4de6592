/*
 * tflite_fb.c - bounds-checked FlatBuffers reading (see tflite_fb.h).
 *
 * The wire format, as far as we read it: the buffer starts with a uoffset
 * (u32) to the root table. A table starts with an soffset (i32) that points
 * back (table - soffset) to its vtable: u16 vtable bytes, u16 table bytes,
 * then one u16 per field giving the field's offset inside the table (0:
 * absent, use the default). Reference fields (tables, vectors, strings) hold
 * a uoffset relative to the field's own position. A vector is a u32 count
 * followed by the elements; a string is a byte vector plus a NUL.
 * All arithmetic is done in 64 bits, so no check can wrap; nothing is read
 * through a cast pointer (memcpy), so misaligned files cannot trap.
 */
#include "io/tflite_fb.h"

#include <stdio.h>
#include <string.h>

void nne_fb_init(nne_fb *fb, const void *buf, size_t len) {
    memset(fb, 0, sizeof *fb);
    fb->buf = buf;
    /* offsets are 32-bit: only the first 4 GiB can be addressed (buffers
     * past that are reached by Buffer.offset, read by the importer) */
    fb->len = len > UINT32_MAX ? UINT32_MAX : len;
}

int nne_fb_fail(nne_fb *fb, uint32_t off, const char *what) {
    if (!fb->failed) {
        fb->failed = 1;
        snprintf(fb->err, sizeof fb->err, "offset %u: %s", (unsigned)off, what);
    }
    return 0;
}

static uint32_t rd32(const nne_fb *fb, uint64_t off) {
    uint32_t v;
    memcpy(&v, fb->buf + off, 4);
    return v;
}
static uint16_t rd16(const nne_fb *fb, uint64_t off) {
    uint16_t v;
    memcpy(&v, fb->buf + off, 2);
    return v;
}
static int in_range(const nne_fb *fb, uint64_t off, uint64_t n) { return off <= fb->len && n <= fb->len - off; }

/* Check the table at pos and its vtable. */
static int table_at(nne_fb *fb, uint64_t pos, nne_fb_table *out) {
    memset(out, 0, sizeof *out);
    out->fb = fb;
    if (fb->failed) return 0;
    if (!in_range(fb, pos, 4)) return nne_fb_fail(fb, (uint32_t)(pos > fb->len ? fb->len : pos), "table out of range");
    int32_t so;
    uint32_t u = rd32(fb, pos);
    memcpy(&so, &u, 4);
    int64_t vt = (int64_t)pos - so;
    if (vt < 0 || !in_range(fb, (uint64_t)vt, 4)) return nne_fb_fail(fb, (uint32_t)pos, "vtable out of range");
    uint16_t vl = rd16(fb, (uint64_t)vt), ts = rd16(fb, (uint64_t)vt + 2);
    if (vl < 4 || (vl & 1) || !in_range(fb, (uint64_t)vt, vl))
        return nne_fb_fail(fb, (uint32_t)vt, "bad vtable size");
    if (ts < 4 || !in_range(fb, pos, ts)) return nne_fb_fail(fb, (uint32_t)pos, "table size past the end");
    out->pos = (uint32_t)pos;
    out->vt = (uint32_t)vt;
    out->vt_len = vl;
    out->size = ts;
    return 1;
}

int nne_fb_root(nne_fb *fb, nne_fb_table *out) {
    memset(out, 0, sizeof *out);
    out->fb = fb;
    if (fb->len < 8) return nne_fb_fail(fb, 0, "file too short for a FlatBuffer");
    return table_at(fb, rd32(fb, 0), out);
}

/* Offset of field `slot` inside the table (0: absent); fails when the field
 * of `size` bytes does not lie inside the table. */
static uint32_t field(const nne_fb_table *t, int slot, uint32_t size) {
    if (!t->fb || t->fb->failed || !t->vt_len || slot < 0) return 0;
    uint32_t vo = 4 + 2 * (uint32_t)slot;
    if (vo + 2 > t->vt_len) return 0;
    uint16_t fo = rd16(t->fb, (uint64_t)t->vt + vo);
    if (!fo) return 0;
    if ((uint32_t)fo + size > t->size) return nne_fb_fail(t->fb, t->pos, "field past the end of its table");
    return fo;
}

int nne_fb_has(const nne_fb_table *t, int slot) { return field(t, slot, 1) != 0; }

uint8_t nne_fb_u8(const nne_fb_table *t, int slot, uint8_t def) {
    uint32_t f = field(t, slot, 1);
    return f ? t->fb->buf[t->pos + f] : def;
}
int8_t nne_fb_i8(const nne_fb_table *t, int slot, int8_t def) {
    uint32_t f = field(t, slot, 1);
    return f ? (int8_t)t->fb->buf[t->pos + f] : def;
}
uint32_t nne_fb_u32(const nne_fb_table *t, int slot, uint32_t def) {
    uint32_t f = field(t, slot, 4);
    return f ? rd32(t->fb, (uint64_t)t->pos + f) : def;
}
int32_t nne_fb_i32(const nne_fb_table *t, int slot, int32_t def) {
    uint32_t f = field(t, slot, 4);
    if (!f) return def;
    uint32_t u = rd32(t->fb, (uint64_t)t->pos + f);
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}
uint64_t nne_fb_u64(const nne_fb_table *t, int slot, uint64_t def) {
    uint32_t f = field(t, slot, 8);
    if (!f) return def;
    uint64_t v;
    memcpy(&v, t->fb->buf + t->pos + f, 8);
    return v;
}
float nne_fb_f32(const nne_fb_table *t, int slot, float def) {
    uint32_t f = field(t, slot, 4);
    if (!f) return def;
    float v;
    memcpy(&v, t->fb->buf + t->pos + f, 4);
    return v;
}

/* Follow the uoffset in field `slot`; 0 when absent or bad. */
static uint64_t deref(const nne_fb_table *t, int slot) {
    uint32_t f = field(t, slot, 4);
    if (!f) return 0;
    uint64_t at = (uint64_t)t->pos + f;
    uint64_t target = at + rd32(t->fb, at);
    if (target >= t->fb->len) return nne_fb_fail(t->fb, (uint32_t)at, "reference past the end");
    return target;
}

int nne_fb_table_field(const nne_fb_table *t, int slot, nne_fb_table *out) {
    memset(out, 0, sizeof *out);
    out->fb = t->fb;
    uint64_t p = deref(t, slot);
    return p ? table_at(t->fb, p, out) : 0;
}

static int vector_at(nne_fb *fb, uint64_t p, uint32_t elem, nne_fb_vec *out) {
    if (!in_range(fb, p, 4)) return nne_fb_fail(fb, (uint32_t)p, "vector length past the end");
    uint32_t n = rd32(fb, p);
    if (!in_range(fb, p + 4, (uint64_t)n * elem)) return nne_fb_fail(fb, (uint32_t)p, "vector past the end");
    out->pos = (uint32_t)(p + 4);
    out->n = n;
    return 1;
}

int nne_fb_vector(const nne_fb_table *t, int slot, uint32_t elem, nne_fb_vec *out) {
    memset(out, 0, sizeof *out);
    out->fb = t->fb;
    out->elem = elem;
    uint64_t p = deref(t, slot);
    return p ? vector_at(t->fb, p, elem, out) : 0;
}

static int string_at(nne_fb *fb, uint64_t p, const char **s, uint32_t *len) {
    nne_fb_vec v = {.fb = fb, .elem = 1};
    *s = "";
    *len = 0;
    if (!vector_at(fb, p, 1, &v)) return 0;
    /* the terminating NUL must be there too */
    if (!in_range(fb, v.pos, (uint64_t)v.n + 1) || fb->buf[v.pos + v.n] != 0)
        return nne_fb_fail(fb, (uint32_t)p, "string without its terminating NUL");
    *s = (const char *)fb->buf + v.pos;
    *len = v.n;
    return 1;
}

int nne_fb_string(const nne_fb_table *t, int slot, const char **s, uint32_t *len) {
    *s = "";
    *len = 0;
    uint64_t p = deref(t, slot);
    return p ? string_at(t->fb, p, s, len) : 0;
}

static int elem_ok(const nne_fb_vec *v, uint32_t i, uint32_t size) {
    if (!v->fb || v->fb->failed) return 0;
    if (i >= v->n || v->elem != size) return nne_fb_fail(v->fb, v->pos, "vector index out of range (internal)");
    return 1;
}

int32_t nne_fb_vec_i32(const nne_fb_vec *v, uint32_t i) {
    if (!elem_ok(v, i, 4)) return 0;
    uint32_t u = rd32(v->fb, (uint64_t)v->pos + 4ull * i);
    int32_t r;
    memcpy(&r, &u, 4);
    return r;
}
int64_t nne_fb_vec_i64(const nne_fb_vec *v, uint32_t i) {
    if (!elem_ok(v, i, 8)) return 0;
    int64_t r;
    memcpy(&r, v->fb->buf + v->pos + 8ull * i, 8);
    return r;
}
float nne_fb_vec_f32(const nne_fb_vec *v, uint32_t i) {
    if (!elem_ok(v, i, 4)) return 0;
    float r;
    memcpy(&r, v->fb->buf + v->pos + 4ull * i, 4);
    return r;
}
uint8_t nne_fb_vec_u8(const nne_fb_vec *v, uint32_t i) { return elem_ok(v, i, 1) ? v->fb->buf[v->pos + i] : 0; }

int nne_fb_vec_table(const nne_fb_vec *v, uint32_t i, nne_fb_table *out) {
    memset(out, 0, sizeof *out);
    out->fb = v->fb;
    if (!elem_ok(v, i, 4)) return 0;
    uint64_t at = (uint64_t)v->pos + 4ull * i;
    return table_at(v->fb, at + rd32(v->fb, at), out);
}

int nne_fb_vec_string(const nne_fb_vec *v, uint32_t i, const char **s, uint32_t *len) {
    *s = "";
    *len = 0;
    if (!elem_ok(v, i, 4)) return 0;
    uint64_t at = (uint64_t)v->pos + 4ull * i;
    return string_at(v->fb, at + rd32(v->fb, at), s, len);
}
