/*
 * pb.h - a small, bounds-checked reader of the protobuf wire format.
 *
 * A pb_reader is a window [p, end) into a buffer plus the window's offset in
 * the file, so every error can name a file offset. Nothing here allocates;
 * every length read from the data is checked against the bytes left.
 */
#ifndef NNE_IO_PB_H
#define NNE_IO_PB_H

#include <stddef.h>
#include <stdint.h>

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_SGROUP = 3, PB_EGROUP = 4, PB_I32 = 5 };

typedef struct pb_reader {
    const uint8_t *base; /* start of the whole buffer (for offsets) */
    const uint8_t *p;
    const uint8_t *end;
    const char *err;     /* first error, NULL if none */
    size_t err_off;      /* file offset of the first error */
} pb_reader;

typedef struct pb_field {
    uint32_t num;
    int wire;
    uint64_t v;           /* varint / fixed value */
    const uint8_t *data;  /* PB_LEN payload */
    size_t len;
    size_t off;           /* file offset of the field's tag */
} pb_field;

void pb_init(pb_reader *r, const void *buf, size_t len);
/* Sub-reader over a PB_LEN field's payload. */
pb_reader pb_sub(const pb_reader *r, const pb_field *f);
/* Next field; 0 at end of window or on error (check r->err). */
int pb_next(pb_reader *r, pb_field *f);
size_t pb_offset(const pb_reader *r);

/* Count / decode repeated scalar fields that may be packed or not.
 * pb_packed_count counts elements in a packed payload (-1 on malformed). */
int64_t pb_packed_count(const pb_field *f, int elem_wire);
/* Decode the i-th... sequential decoders over a packed payload: */
typedef struct pb_packed { const uint8_t *p, *end; } pb_packed;
int pb_packed_varint(pb_packed *pk, uint64_t *v);
int pb_packed_fixed32(pb_packed *pk, uint32_t *v);
int pb_packed_fixed64(pb_packed *pk, uint64_t *v);

#endif
