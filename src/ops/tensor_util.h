/*
 * tensor_util.h - helpers shared by the tensor/shape manipulation ops
 * (Reshape, Slice, Gather, Pad, TopK, ...). These ops mostly move bytes, so
 * the helpers work on raw elements of `esize` bytes, plus a few typed element
 * accessors (load/store/compare) for the ops that look at values.
 * Everything here is prefixed nne_tu_ ("tensor utility").
 */
#ifndef NNE_OPS_TENSOR_UTIL_H
#define NNE_OPS_TENSOR_UTIL_H

#include "ops/op.h"

/* Rank limit of the internal N-d copy (views such as Tile's [r0,d0,r1,d1,...]
 * use up to twice the tensor rank). */
#define NNE_TU_MAX_VIEW_DIMS (2 * NNE_MAX_DIMS)

/* Bytes per element of a tensor dtype the byte-moving ops can handle; fails
 * with NNE_ERR_UNSUPPORTED (naming the dtype) and returns 0 otherwise. */
nne_status nne_tu_esize(nne_op_ctx *ctx, nne_dtype dt, size_t *esize /* OUT: bytes */);

/* Contiguous strides (elements) of a C-ordered shape. */
void nne_tu_strides(int ndim, const int64_t *dims, int64_t *strides /* OUT */);

/* Product of dims with overflow check (fails INVALID_ARG naming `what`). */
nne_status nne_tu_numel(nne_op_ctx *ctx, int ndim, const int64_t *dims, const char *what,
                        int64_t *out);

/* a * b without signed overflow; 0 on overflow. */
int nne_tu_mul_ok(int64_t a, int64_t b, int64_t *out);

/* Copy an nd-dimensional box of elements of `esize` bytes: element at index
 * (i0..in-1) goes from src + sum(i_k*sstr[k]) to dst + sum(i_k*dstr[k])
 * (strides in elements, may be 0 or negative). nd <= NNE_TU_MAX_VIEW_DIMS. */
void nne_tu_copy_nd(void *dst, const int64_t *dstr, const void *src, const int64_t *sstr,
                    size_t esize, int nd, const int64_t *dims);

/* Fill n elements of `esize` bytes at dst with the element at `elem`. */
void nne_tu_fill(void *dst, const void *elem, size_t esize, int64_t n);

/* Read the integer values of a 0-d or 1-d tensor (any integer dtype; float
 * dtypes are truncated) into out[0..*n). Fails INVALID_ARG when t has more
 * than `max` elements or rank > 1, naming `what`. t->data must be set. */
nne_status nne_tu_read_ints(nne_op_ctx *ctx, const nne_tensor *t, const char *what, int64_t *out,
                            int64_t max, int64_t *n /* OUT: count */);

/* Read one integer from a tensor that must hold exactly one element. */
nne_status nne_tu_read_scalar_i64(nne_op_ctx *ctx, const nne_tensor *t, const char *what,
                                  int64_t *out);

/* Normalize an index into [0, bound): negative values wrap once. Fails with
 * INVALID_ARG naming `what`, the index and the bound. */
nne_status nne_tu_index(nne_op_ctx *ctx, int64_t idx, int64_t bound, const char *what,
                        int64_t *out);

/* Normalize a list of axes for a rank; fails on out-of-range or repeated axes. */
nne_status nne_tu_axes(nne_op_ctx *ctx, const int64_t *axes, int64_t n, int rank, const char *what,
                       int *out);

/* Typed element access: core/dtype_io.h (nne_ld_f64(p, dt, 0), nne_st_f64 ...). */
#include "core/dtype_io.h"
/* 1 when the element is not zero (NaN counts as non-zero, -0.0 as zero). */
int nne_tu_is_nonzero(nne_dtype dt, const void *p);
/* Three-way compare of two elements of dtype dt: <0, 0, >0. Exact for 64-bit
 * integers; NaN compares greater than every number and equal to NaN. */
int nne_tu_cmp(nne_dtype dt, const void *a, const void *b);

/* Scatter reductions: *dst = dst op src for one element of dtype dt. */
enum { NNE_TU_RED_NONE = 0, NNE_TU_RED_ADD, NNE_TU_RED_MUL, NNE_TU_RED_MAX, NNE_TU_RED_MIN };
/* Parse the `reduction` attribute (none/add/mul/max/min) allowed at this opset. */
nne_status nne_tu_reduction_attr(nne_op_ctx *ctx, int *red /* OUT */);
void nne_tu_reduce(nne_dtype dt, int red, void *dst, const void *src);

/* Stable merge sort of idx[0..n) by cmp(user, a, b) (tmp: n int64 scratch). */
typedef int (*nne_tu_cmp_fn)(const void *user, int64_t a, int64_t b);
void nne_tu_sort_idx(int64_t *idx, int64_t *tmp, int64_t n, nne_tu_cmp_fn cmp, const void *user);

#endif
