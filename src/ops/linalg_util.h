/*
 * linalg_util.h - helpers shared by the linalg / reduction / softmax /
 * quantization ops: dtype checks, scratch carving, round half to even,
 * packing B for the blocked GEMM.
 */
#ifndef NNE_OPS_LINALG_UTIL_H
#define NNE_OPS_LINALG_UTIL_H

#include "ops/op.h"
#include "kernels/dispatch.h"
#include "kernels/vec.h"

/* Element loads and stores are core/dtype_io.h's (nne_load_f64 ...;
 * linear-algebra ops store with NNE_CVT_SAT). */
#include "core/dtype_io.h"
/* 1 for a dtype whose elements the linear-algebra ops can read and write. */
int nne_la_dtype_ok(nne_dtype dt);
/* Fails with NNE_ERR_UNSUPPORTED unless dt is one of the listed dtypes
 * (list terminated by NNE_DTYPE_UNDEFINED). */
nne_status nne_la_check_dtype(nne_op_ctx *ctx, const char *what, nne_dtype dt, const nne_dtype *ok);

/* dims[a] * ... * dims[b - 1]. A product that overflows int64 gives 0: a
 * tensor's partial products are at most its element count, so that only
 * happens in an empty tensor (a zero dim outside [a, b), the others huge),
 * where there is nothing to do. */
int64_t nne_la_prod(const int64_t *dims, int a, int b);

/*
 * A node gets ONE scratch buffer (nne_ctx_scratch returns the same block on
 * every call), so ops carve it: reserve each piece's offset first, then ask
 * for the total once and add the offsets to the base.
 *     size_t total = 0, oa = nne_la_reserve(&total, na), ob = nne_la_reserve(&total, nb);
 *     char *base = nne_ctx_scratch(ctx, total);      // NULL in shape mode
 *     float *a = (float *)(base + oa);                // only after the shape-mode return
 * Pieces are 64-byte aligned.
 */
static inline size_t nne_la_reserve(size_t *total, size_t bytes) {
    size_t off = *total; /* saturating: an overflowing layout requests SIZE_MAX and fails cleanly */
    *total = nne_size_add(*total, nne_size_align64(bytes));
    return off;
}

/* Round half to even (the rounding ONNX quantization uses). */
double nne_la_round_even(double x);

/* B (input `input`, K x N with strides rsb/csb) packed once for the blocked
 * float GEMM (kernels/dispatch.h), through the model's weight cache, when B
 * is a float32 initializer and a GEMM of M rows with these strides takes the
 * blocked path. Returns the packed B and sets *fn to the GEMM that takes it;
 * NULL with *fn NULL when B is not packed, NULL with *fn set when memory ran
 * out (error set). */
const float *nne_la_pack_b(nne_op_ctx *ctx, int input, int64_t M, int64_t N, int64_t K, int64_t csa, int64_t rsb,
                           int64_t csb, nne_gemm_f32_packed_fn *fn);

/* C = act(alpha * A * B + beta * C + ep) through the kernel table: B
 * pre-packed (Pb from nne_la_pack_b, B then unused) or strided; on the
 * ISA-specific packed SGEMM with the plan's thread pool and the epilogue
 * per tile, else the table's GEMM and the reference epilogue. scratch:
 * nne_gemm_f32_scratch(M, N, K) bytes. ep may be NULL. */
struct nne_epilogue;
void nne_la_gemm_f32(nne_op_ctx *ctx, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                     int64_t csa, const float *B, int64_t rsb, int64_t csb, const float *Pb, float beta, float *C,
                     int64_t ldc, void *scratch, const struct nne_epilogue *ep);

/* Input `input` (a float initializer, read as the rows x cols matrix
 * W(r, c) = w[r * rs + c * cs]) in CSR for the sparse kernel
 * (kernels/spmm.h), through the model's weight cache, when the kernel pays
 * for n columns of X at its sparsity (nne_spmm_pays, `transposes`: X and Y
 * are transposed around it; NNE_SPARSE). Else
 * *packed and *ops are NULL. NNE_ERR_OUT_OF_MEMORY with the error set. */
nne_status nne_la_sparse_weights(nne_op_ctx *ctx, int input, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                                 int64_t n, int transposes, const void **packed, const nne_vec_ops **ops);

#endif
