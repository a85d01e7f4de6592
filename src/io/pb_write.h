/*
 * pb_write.h - a protobuf wire-format writer.
 *
 * A message is built bottom-up: a child message is written into its own
 * pb_writer, then appended to its parent with pbw_message(), which puts the
 * tag and length in front and moves (does not copy) the child's bytes. The
 * output is a list of segments, so large payloads such as tensor data can be
 * referenced where they lie (pbw_bytes_ref) and are copied only once, into
 * the file or the final buffer. Errors (out of memory) are sticky: check
 * pbw_ok() at the end.
 */
#ifndef NNE_IO_PB_WRITE_H
#define NNE_IO_PB_WRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pbw_seg {
    const uint8_t *p;   /* bytes: points into `own` or into caller memory (borrowed) */
    size_t len;
    uint8_t *own;       /* owned storage (NULL when borrowed) */
    size_t cap;         /* capacity of own */
} pbw_seg;

typedef struct pb_writer {
    pbw_seg *segs;
    int n, cap;
    uint64_t size;      /* total bytes */
    int oom;            /* an allocation failed: the message is incomplete */
} pb_writer;

void pbw_init(pb_writer *w);
void pbw_free(pb_writer *w);
static inline int pbw_ok(const pb_writer *w) { return !w->oom; }
/* Bytes a varint of v takes (1..10). */
int pbw_varint_len(uint64_t v);

void pbw_varint(pb_writer *w, uint32_t num, uint64_t v);       /* int32/int64/uint64/enum/bool */
/* The same value in `extra` more bytes than needed (a varint padded with
 * 0x80 continuation bytes, which every protobuf parser reads as the same
 * number; at most 10 bytes in all): used to align what follows. */
void pbw_varint_padded(pb_writer *w, uint32_t num, uint64_t v, int extra);
void pbw_fixed32(pb_writer *w, uint32_t num, uint32_t v);      /* float (bits) */
void pbw_float(pb_writer *w, uint32_t num, float f);
void pbw_bytes(pb_writer *w, uint32_t num, const void *p, size_t len);     /* copied */
void pbw_bytes_ref(pb_writer *w, uint32_t num, const void *p, size_t len); /* borrowed: p must outlive w */
void pbw_string(pb_writer *w, uint32_t num, const char *s);    /* NUL-terminated; skipped when NULL */
/* Packed repeated fields. */
void pbw_packed_int64(pb_writer *w, uint32_t num, const int64_t *v, size_t n);
void pbw_packed_float(pb_writer *w, uint32_t num, const float *v, size_t n);
/* Append child as a length-delimited field and empty it (child is freed). */
void pbw_message(pb_writer *w, uint32_t num, pb_writer *child);
/* Same, with the length written in exactly len_bytes bytes (padded varint),
 * so the payload's offset is known before the child is complete. */
void pbw_message_fixed_len(pb_writer *w, uint32_t num, pb_writer *child, int len_bytes);

/* Copy the whole message into dst (pbw_size(w) bytes). */
void pbw_flatten(const pb_writer *w, uint8_t *dst);
/* Write the whole message to fd; 0 on success, -1 with errno on failure. */
int pbw_write_fd(const pb_writer *w, int fd);

#endif
