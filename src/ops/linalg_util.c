/*
 * linalg_util.c - helpers of the linalg group of ops (Gemm, MatMul, Reduce*,
 * Softmax, CumSum, quantization, losses...): dtype checks, products, round
 * half to even, packing B for the blocked GEMM. Element loads and stores
 * are core/dtype_io.c's.
 */
#include "ops/linalg_util.h"

#include "core/core.h"

#include <math.h>
#include <string.h>

int nne_la_dtype_ok(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_FLOAT: case NNE_DTYPE_DOUBLE: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16:
    case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16:
    case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64:
    case NNE_DTYPE_BOOL:
        return 1;
    default:
        return 0;
    }
}

nne_status nne_la_check_dtype(nne_op_ctx *ctx, const char *what, nne_dtype dt, const nne_dtype *ok) {
    for (const nne_dtype *p = ok; *p != NNE_DTYPE_UNDEFINED; p++) {
        if (*p == dt) return NNE_OK;
    }
    return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%s: dtype %s not supported", what,
                        nne_dtype_name(dt));
}

int64_t nne_la_prod(const int64_t *dims, int a, int b) {
    int64_t p = 1;
    for (int i = a; i < b; i++)
        if (__builtin_mul_overflow(p, dims[i], &p)) return 0;
    return p;
}

double nne_la_round_even(double x) {
    return nearbyint(x); /* default rounding mode: to nearest, ties to even */
}

/* Sparse weights (kernels/spmm.h) for a plan. */
typedef struct sp_pack_src {
    const float *w;
    int64_t rows, cols, rs, cs, nnz;
} sp_pack_src;
static void sp_pack_fill(void *user, void *buf) {
    const sp_pack_src *s = user;
    nne_spmat_pack(s->w, s->rows, s->cols, s->rs, s->cs, s->nnz, buf);
}

nne_status nne_la_sparse_weights(nne_op_ctx *ctx, int input, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                                 int64_t n, int transposes, const void **packed, const nne_vec_ops **ops) {
    *packed = NULL;
    *ops = NULL;
    const nne_tensor *W = nne_ctx_input(ctx, input);
    const nne_vec_ops *vo = nne_vec();
    int mode = nne_spmm_mode();
    if (!vo || mode == NNE_SPARSE_OFF || !W || W->dtype != NNE_DTYPE_FLOAT || !W->data ||
        !nne_ctx_input_is_initializer(ctx, input) || rows <= 0 || cols <= 0 || n <= 0)
        return NNE_OK;
    /* dense weights (most models) are found out after a fraction of a pass */
    double lim = mode == NNE_SPARSE_FORCE ? 1e300 : nne_spmm_max_density(n, transposes) * (double)rows * (double)cols;
    int64_t nnz = nne_spmat_count_upto(W->data, rows, cols, rs, cs, lim >= 9e18 ? INT64_MAX : (int64_t)lim);
    size_t bytes = nne_spmat_bytes(rows, cols, nnz);
    if (!bytes || (mode != NNE_SPARSE_FORCE && !nne_spmm_pays(rows, cols, nnz, n, transposes))) return NNE_OK;
    sp_pack_src src = {W->data, rows, cols, rs, cs, nnz};
    uint64_t tag = 0x53504d4d00000000ull /* "SPMM" */ ^ ((uint64_t)rs << 24) ^ (uint64_t)cs;
    *packed = nne_ctx_packed_weight(ctx, W->data, tag, bytes, sp_pack_fill, &src);
    if (!*packed) return NNE_ERR_OUT_OF_MEMORY;
    *ops = vo;
    nne_log(NNE_LOG_DEBUG, "node \"%s\": sparse weights %lldx%lld, %lld nonzeros (%.1f%% zeros), %lld columns, %s",
            nne_ctx_node_name(ctx), (long long)rows, (long long)cols, (long long)nnz,
            100.0 * (1.0 - (double)nnz / ((double)rows * (double)cols)), (long long)n, vo->name);
    return NNE_OK;
}
