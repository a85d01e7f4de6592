/*
 * spmm.h - sparse weights times dense activations (issue 8, item 5): the
 * kernel that runs a pruned Gemm or 1x1 Conv when that is measured faster
 * than the dense SGEMM at the weights' sparsity.
 *
 *     Y[m][j] = act(sum over the nonzeros k of row m: W[m][k] * X[k][j]
 *                   + bias[m] + ep bias[m] + residual[m][j])      j < n
 *
 * W is held in CSR (compressed sparse rows: per row the columns and values
 * of its nonzeros), made once per plan from the constant weights through the
 * model's packed-weight cache. X rows are contiguous runs of n floats (1x1
 * Conv: the input channels' pixel planes of one image; Gemm: A transposed
 * into scratch, one row per input feature, n = the batch). The kernel
 * (nne_vec_ops.spmm, one body in kernels/spmm_tmpl.h compiled per ISA with
 * the vec family) walks n in blocks of 4 vectors and for each block every
 * output row, broadcasting each nonzero weight against the vectors of its X
 * row: the block of X stays in cache and only nonzeros are multiplied. Rows
 * are split over the pool's threads.
 *
 * The choice (nne_spmm_pays) encodes what `make bench-sparse`
 * (bench/sparse_bench.c) measured; an unpruned model never takes it.
 */
#ifndef NNE_KERNELS_SPMM_H
#define NNE_KERNELS_SPMM_H

#include "core/threadpool.h"
#include "kernels/epilogue.h"

#include <stddef.h>
#include <stdint.h>

/* Columns of W per chunk: a block of X rows the kernel keeps in L1 while it
 * walks every output row (128 rows of 4 vectors: 16 KiB with AVX2). */
#define NNE_SPMM_KC 128

/* A CSR matrix of rows x cols floats (a view into a packed buffer). */
typedef struct nne_spmat {
    int64_t rows, cols, nnz;
    const int32_t *rp; /* rows + 1 offsets into ci / v */
    const int32_t *ci; /* column of each nonzero, ascending within a row */
    const float *v;    /* value of each nonzero */
    /* nch = ceil(cols / NNE_SPMM_KC) chunks of columns; cp[m * (nch + 1) + c]:
     * the first nonzero of row m in chunk c (c = nch: rp[m + 1]) */
    int64_t nch;
    const int32_t *cp;
} nne_spmat;

/* Nonzeros of the rows x cols matrix W(r, c) = w[r * rs + c * cs]; the
 * _upto form stops (returning more than limit) once it has seen more than
 * `limit` of them, so a dense matrix costs a fraction of a pass. */
int64_t nne_spmat_count(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs);
int64_t nne_spmat_count_upto(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t limit);
/* Bytes of the packed buffer of a matrix with nnz nonzeros (0 when the
 * matrix cannot be held: nnz or cols past INT32_MAX). */
size_t nne_spmat_bytes(int64_t rows, int64_t cols, int64_t nnz);
/* Writes W into buf (nne_spmat_bytes(rows, cols, nnz) bytes, 64-byte
 * aligned; nnz from nne_spmat_count). */
void nne_spmat_pack(const float *w, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t nnz, void *buf);
/* The view of a packed buffer. */
nne_spmat nne_spmat_view(const void *buf);

/* Whether the sparse kernel beats the dense SGEMM for rows x cols weights
 * with nnz nonzeros times n columns of X; `transposes`: the caller also
 * transposes X and Y around it (Gemm), which costs (see spmm.c for the
 * measurements behind it). */
int nne_spmm_pays(int64_t rows, int64_t cols, int64_t nnz, int64_t n, int transposes);
/* The highest density (nonzeros / elements) at which nne_spmm_pays says yes. */
double nne_spmm_max_density(int64_t n, int transposes);

/* The environment's say (NNE_SPARSE, read once): 0 follow nne_spmm_pays
 * (unset), 1 never sparse ("0"), 2 sparse wherever the op can ("force",
 * for tests). NNE_FORCE_REFERENCE also turns the sparse kernel off. */
enum { NNE_SPARSE_AUTO = 0, NNE_SPARSE_OFF = 1, NNE_SPARSE_FORCE = 2 };
int nne_spmm_mode(void);

struct nne_vec_ops;
/* Y (rows of ldy floats) = the formula above for all rows of s, with the
 * rows split over the pool. bias and ep may be NULL; ep->bias is per row
 * (bias_per_col is not supported), ep->residual laid out like Y with row
 * stride ep->ld_res. X must not overlap Y. */
void nne_spmm_run(const struct nne_vec_ops *ops, const nne_spmat *s, const float *X, int64_t ldx, int64_t n,
                  float *Y, int64_t ldy, const float *bias, const nne_epilogue *ep, nne_threadpool *pool);

#endif
