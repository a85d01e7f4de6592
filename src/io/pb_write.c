/*
 * pb_write.c - protobuf wire-format writer (see pb_write.h).
 *
 * Small fields are appended to an owned segment at the end of the list;
 * borrowed payloads get a segment of their own; pbw_message() moves a child's
 * segments behind the tag and length it writes into the parent. Nothing is
 * written twice and large payloads are never copied here.
 */
#include "io/pb_write.h"
#include "core/core.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define PBW_CHUNK 4096

void pbw_init(pb_writer *w) { memset(w, 0, sizeof *w); }

void pbw_free(pb_writer *w) {
    for (int i = 0; i < w->n; i++) nne_free(w->segs[i].own);
    nne_free(w->segs);
    memset(w, 0, sizeof *w);
}

int pbw_varint_len(uint64_t v) {
    int n = 1;
    while (v >= 0x80) v >>= 7, n++;
    return n;
}

static pbw_seg *new_seg(pb_writer *w) {
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 8;
        pbw_seg *s = nne_realloc(w->segs, (size_t)cap * sizeof *s);
        if (!s) {
            w->oom = 1;
            return NULL;
        }
        w->segs = s;
        w->cap = cap;
    }
    pbw_seg *s = &w->segs[w->n++];
    memset(s, 0, sizeof *s);
    return s;
}

/* Append len bytes (copied) to the last owned segment, or a new one. */
static void put(pb_writer *w, const void *p, size_t len) {
    if (w->oom || !len) return;
    pbw_seg *s = w->n ? &w->segs[w->n - 1] : NULL;
    if (!s || !s->own || s->cap - s->len < len) {
        s = new_seg(w);
        if (!s) return;
        size_t cap = len > PBW_CHUNK ? len : PBW_CHUNK;
        s->own = nne_malloc(cap);
        if (!s->own) {
            w->n--;
            w->oom = 1;
            return;
        }
        s->cap = cap;
        s->p = s->own;
    }
    memcpy(s->own + s->len, p, len);
    s->len += len;
    w->size += len;
}

static void put_varint(pb_writer *w, uint64_t v) {
    uint8_t b[10];
    int n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    put(w, b, (size_t)n);
}

/* v in exactly n bytes (n >= its minimal length, n <= 10) */
static void put_varint_n(pb_writer *w, uint64_t v, int n) {
    uint8_t b[10];
    for (int i = 0; i < n; i++) {
        b[i] = (uint8_t)(v & 0x7f) | (i + 1 < n ? 0x80 : 0);
        v >>= 7;
    }
    put(w, b, (size_t)n);
}

static void put_tag(pb_writer *w, uint32_t num, int wire) { put_varint(w, ((uint64_t)num << 3) | (uint64_t)wire); }

void pbw_varint(pb_writer *w, uint32_t num, uint64_t v) {
    put_tag(w, num, 0);
    put_varint(w, v);
}

void pbw_varint_padded(pb_writer *w, uint32_t num, uint64_t v, int extra) {
    int n = pbw_varint_len(v) + extra;
    put_tag(w, num, 0);
    put_varint_n(w, v, n > 10 ? 10 : n);
}

void pbw_fixed32(pb_writer *w, uint32_t num, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put_tag(w, num, 5);
    put(w, b, 4);
}

void pbw_float(pb_writer *w, uint32_t num, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    pbw_fixed32(w, num, u);
}

void pbw_bytes(pb_writer *w, uint32_t num, const void *p, size_t len) {
    put_tag(w, num, 2);
    put_varint(w, len);
    put(w, p, len);
}

void pbw_bytes_ref(pb_writer *w, uint32_t num, const void *p, size_t len) {
    if (len < 256) {
        pbw_bytes(w, num, p, len);
        return;
    }
    put_tag(w, num, 2);
    put_varint(w, len);
    if (w->oom) return;
    pbw_seg *s = new_seg(w);
    if (!s) return;
    s->p = p;
    s->len = len;
    w->size += len;
}

void pbw_string(pb_writer *w, uint32_t num, const char *s) {
    if (s) pbw_bytes(w, num, s, strlen(s));
}

void pbw_packed_int64(pb_writer *w, uint32_t num, const int64_t *v, size_t n) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += (size_t)pbw_varint_len((uint64_t)v[i]);
    put_tag(w, num, 2);
    put_varint(w, len);
    for (size_t i = 0; i < n; i++) put_varint(w, (uint64_t)v[i]);
}

void pbw_packed_float(pb_writer *w, uint32_t num, const float *v, size_t n) {
    put_tag(w, num, 2);
    put_varint(w, (uint64_t)n * 4);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
        put(w, b, 4);
    }
}

static void message(pb_writer *w, uint32_t num, pb_writer *child, int len_bytes) {
    if (child->oom) w->oom = 1;
    put_tag(w, num, 2);
    if (len_bytes) put_varint_n(w, child->size, len_bytes);
    else put_varint(w, child->size);
    if (w->oom) {
        pbw_free(child);
        return;
    }
    for (int i = 0; i < child->n; i++) {
        pbw_seg *s = new_seg(w);
        if (!s) break;
        *s = child->segs[i];
        child->segs[i].own = NULL; /* moved */
        w->size += s->len;
    }
    pbw_free(child);
}

void pbw_message(pb_writer *w, uint32_t num, pb_writer *child) { message(w, num, child, 0); }

void pbw_message_fixed_len(pb_writer *w, uint32_t num, pb_writer *child, int len_bytes) {
    /* a child too large for len_bytes gets its minimal length: still valid,
     * only the offsets the caller planned for are off */
    message(w, num, child, pbw_varint_len(child->size) > len_bytes ? 0 : len_bytes);
}

void pbw_flatten(const pb_writer *w, uint8_t *dst) {
    for (int i = 0; i < w->n; i++) {
        memcpy(dst, w->segs[i].p, w->segs[i].len);
        dst += w->segs[i].len;
    }
}

int pbw_write_fd(const pb_writer *w, int fd) {
    for (int i = 0; i < w->n; i++) {
        const uint8_t *p = w->segs[i].p;
        size_t left = w->segs[i].len;
        while (left) {
            ssize_t k = write(fd, p, left > (1u << 30) ? (1u << 30) : left);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return -1;
            p += k;
            left -= (size_t)k;
        }
    }
    return 0;
}
