/*
 * tflite_fb.h - a bounds-checked FlatBuffers reader (the subset TFLite
 * files need: tables, scalars, unions, strings, vectors of scalars and of
 * tables). Every offset, vtable, vector length and string is checked against
 * the buffer before it is used; a failed check records one message (the
 * first) in the reader and every later read returns the default, so callers
 * test nne_fb.failed at a few checkpoints instead of after every read.
 */
#ifndef NNE_IO_TFLITE_FB_H
#define NNE_IO_TFLITE_FB_H

#include <stddef.h>
#include <stdint.h>

typedef struct nne_fb {
    const uint8_t *buf;
    size_t len;          /* bytes of buf (a FlatBuffer is addressed with 32-bit offsets) */
    int failed;          /* set by the first failed check */
    char err[160];       /* what failed and where (byte offset) */
} nne_fb;

/* A table: its position and its (checked) vtable. */
typedef struct nne_fb_table {
    nne_fb *fb;
    uint32_t pos;        /* table start (byte offset in buf) */
    uint32_t vt;         /* vtable start */
    uint16_t vt_len;     /* vtable bytes */
    uint16_t size;       /* table inline bytes */
} nne_fb_table;

/* A vector: element count and the offset of element 0. */
typedef struct nne_fb_vec {
    nne_fb *fb;
    uint32_t pos;        /* offset of element 0 */
    uint32_t n;          /* elements */
    uint32_t elem;       /* bytes per element (4 for tables and strings) */
} nne_fb_vec;

void nne_fb_init(nne_fb *fb, const void *buf, size_t len);
/* Record a failure (first one wins); returns 0 for use in expressions. */
int nne_fb_fail(nne_fb *fb, uint32_t off, const char *what);
/* The root table. 0 (failed) when the buffer is too short or the root is out of range. */
int nne_fb_root(nne_fb *fb, nne_fb_table *out);
/* 1 when field `slot` (0-based field number of the schema) is present. */
int nne_fb_has(const nne_fb_table *t, int slot);
/* Scalars: the default when absent (or after a failed check). */
uint8_t nne_fb_u8(const nne_fb_table *t, int slot, uint8_t def);
int8_t nne_fb_i8(const nne_fb_table *t, int slot, int8_t def);
int32_t nne_fb_i32(const nne_fb_table *t, int slot, int32_t def);
uint32_t nne_fb_u32(const nne_fb_table *t, int slot, uint32_t def);
uint64_t nne_fb_u64(const nne_fb_table *t, int slot, uint64_t def);
float nne_fb_f32(const nne_fb_table *t, int slot, float def);
/* A sub-table (or a union's value table): 1 when present and valid. */
int nne_fb_table_field(const nne_fb_table *t, int slot, nne_fb_table *out);
/* A vector of elem-byte elements: 1 when present and valid (n may be 0);
 * absent gives an empty vector and 0. */
int nne_fb_vector(const nne_fb_table *t, int slot, uint32_t elem, nne_fb_vec *out);
/* A string: pointer into the buffer and its length (not NUL-terminated
 * necessarily); 1 when present and valid. */
int nne_fb_string(const nne_fb_table *t, int slot, const char **s, uint32_t *len);
/* Elements of a vector (index checked: out of range fails and gives 0). */
int32_t nne_fb_vec_i32(const nne_fb_vec *v, uint32_t i);
int64_t nne_fb_vec_i64(const nne_fb_vec *v, uint32_t i);
float nne_fb_vec_f32(const nne_fb_vec *v, uint32_t i);
uint8_t nne_fb_vec_u8(const nne_fb_vec *v, uint32_t i);
/* Element i of a vector of tables. */
int nne_fb_vec_table(const nne_fb_vec *v, uint32_t i, nne_fb_table *out);
/* Element i of a vector of strings. */
int nne_fb_vec_string(const nne_fb_vec *v, uint32_t i, const char **s, uint32_t *len);

#endif
