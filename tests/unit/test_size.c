/*
 * test_size.c - the checked size helpers: nne_tensor_numel/nbytes on shapes
 * whose element or byte count overflows, nne_tensor_nbytes_checked, the
 * saturating scratch arithmetic, and the .npy reader/writer refusing such
 * shapes. (Before these, nbytes of float[2^62] wrapped to 0.)
 */
#include "unit.h"

#include "core/core.h"
#include "ops/linalg_util.h"
#include "ops/nn_util.h"

#include <stdint.h>
#include <string.h>

void unit_size(void) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {(int64_t)1 << 62}};
    size_t nb = 0;
    /* 2^62 floats: the count fits int64, the bytes (2^64) do not */
    CHECK(nne_tensor_numel(&t) == -1);
    CHECK(nne_tensor_nbytes(&t) == SIZE_MAX);
    CHECK(nne_tensor_nbytes_checked(&t, &nb) == NNE_ERR_INVALID_ARG && nb == SIZE_MAX);
    CHECK(strstr(nne_last_error(), "4611686018427387904") != NULL);
    /* the same count of bytes is fine */
    t.dtype = NNE_DTYPE_UINT8;
    CHECK(nne_tensor_numel(&t) == ((int64_t)1 << 62));
    CHECK(nne_tensor_nbytes_checked(&t, &nb) == NNE_OK && nb == ((size_t)1 << 62));
    /* 2^30 x 2^32 floats (the --shape of the issue) */
    nne_tensor s = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {(int64_t)1 << 30, (int64_t)1 << 32}};
    CHECK(nne_tensor_nbytes(&s) == SIZE_MAX);
    /* element count past int64 */
    nne_tensor u = {.dtype = NNE_DTYPE_UINT8, .ndim = 3, .dims = {(int64_t)1 << 32, (int64_t)1 << 32, 1 << 2}};
    CHECK(nne_tensor_numel(&u) == -1 && nne_tensor_nbytes(&u) == SIZE_MAX);
    /* a zero dim makes a shape empty, wherever it is... */
    nne_tensor z = {.dtype = NNE_DTYPE_DOUBLE, .ndim = 3, .dims = {(int64_t)1 << 20, (int64_t)1 << 39, 0}};
    CHECK(nne_tensor_numel(&z) == 0 && nne_tensor_nbytes(&z) == 0);
    /* ...but the other dims must still have a representable product (numpy's rule) */
    nne_tensor zb = {.dtype = NNE_DTYPE_DOUBLE, .ndim = 3, .dims = {INT64_MAX, INT64_MAX, 0}};
    CHECK(nne_tensor_numel(&zb) == -1 && nne_tensor_nbytes(&zb) == SIZE_MAX);
    nne_tensor zc = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {0, (int64_t)1 << 62}};
    CHECK(nne_tensor_nbytes_checked(&zc, &nb) == NNE_ERR_INVALID_ARG);
    /* negative dims and bad ranks */
    nne_tensor n = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, -3}};
    CHECK(nne_tensor_numel(&n) == -1 && nne_tensor_nbytes_checked(&n, &nb) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_last_error(), "negative") != NULL);
    nne_tensor r = {.dtype = NNE_DTYPE_FLOAT, .ndim = NNE_MAX_DIMS + 1};
    CHECK(nne_tensor_numel(&r) == -1);
    nne_tensor sc = {.dtype = NNE_DTYPE_INT64, .ndim = 0};
    CHECK(nne_tensor_numel(&sc) == 1 && nne_tensor_nbytes(&sc) == 8);
    /* saturating arithmetic used for scratch requests */
    CHECK(nne_size_mul(SIZE_MAX / 2, 3) == SIZE_MAX);
    CHECK(nne_size_add(SIZE_MAX - 1, 2) == SIZE_MAX);
    CHECK(nne_size_elems(-1, 4) == SIZE_MAX);
    CHECK(nne_size_elems((int64_t)1 << 62, 8) == SIZE_MAX);
    CHECK(nne_size_elems(3, 8) == 24);
    CHECK(nne_size_align64(SIZE_MAX - 10) == SIZE_MAX && nne_size_align64(65) == 128);
    /* the ops' scratch layouts saturate instead of wrapping to a small total */
    size_t total = 128;
    nne_la_reserve(&total, SIZE_MAX - 10);
    CHECK(total == SIZE_MAX);
    nne_la_reserve(&total, 64);
    CHECK(total == SIZE_MAX);
    nn_carve c = {.total = SIZE_MAX - 100};
    nn_carve_add(&c, 200);
    CHECK(c.total == SIZE_MAX);
    nne_tensor big = {.dtype = NNE_DTYPE_INT32, .ndim = 1, .dims = {(int64_t)1 << 62}};
    CHECK(nn_f32_copy_bytes(&big) == SIZE_MAX);
    /* a .npy header with such a shape is refused before any allocation */
    const char hdr[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 4294967296), }";
    unsigned char buf[256];
    size_t hl = sizeof hdr - 1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hl + 1);
    buf[9] = 0;
    memcpy(buf + 10, hdr, hl);
    buf[10 + hl] = '\n';
    nne_tensor out;
    CHECK(nne_npy_read_memory(buf, 11 + hl, &out) == NNE_ERR_INVALID_ARG);
    CHECK(strstr(nne_last_error(), "too large") != NULL);
    /* and the writer does not write a tensor whose size it cannot compute */
    CHECK(nne_npy_write_file("/dev/null", &s) == NNE_ERR_INVALID_ARG);
}
