/*
 * nn_affine.c - ai.nnedge Affine(X): Y = X * alpha + beta (float), what the
 * affine pass (src/ir/pass_affine.c) makes of Mul(X, scalar) -> Add(.,
 * scalar), e.g. PP-LCNetV3's learnable affine blocks after each
 * activation: one pass over the tensor instead of two. Attributes alpha
 * (default 1) and beta (default 0). The vector kernel of kernels/vec.h
 * (rounding once where the ISA fuses multiply-add), the elements split over
 * the plan's threads; plain C under NNE_FORCE_REFERENCE.
 */
#include "core/threadpool.h"
#include "kernels/vec.h"
#include "ops/op.h"

typedef struct af_state {
    float alpha, beta;
    const nne_vec_ops *vec;
} af_state;

static nne_status af_infer(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (X->dtype != NNE_DTYPE_FLOAT)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported (float only)", nne_dtype_name(X->dtype));
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    af_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (af_state){nne_attr_f(ctx, "alpha", 1.0f), nne_attr_f(ctx, "beta", 0.0f), nne_vec()};
    return NNE_OK;
}

typedef struct af_job {
    const af_state *st;
    const float *x;
    float *y;
    int64_t n;
} af_job;

static void af_part(void *arg, int part, int nparts, void *scratch) {
    const af_job *j = arg;
    long long lo, hi;
    nne_split_range(j->n, 64, part, nparts, &lo, &hi);
    if (lo >= hi) return;
    if (j->st->vec) {
        j->st->vec->affine(j->x + lo, j->y + lo, hi - lo, j->st->alpha, j->st->beta);
        return;
    }
    for (long long i = lo; i < hi; i++) j->y[i] = j->x[i] * j->st->alpha + j->st->beta;
}

static nne_status af_run(const void *state, const nne_kernel_args *a) {
    const af_state *st = state;
    int64_t n = nne_tensor_numel(a->out[0]);
    if (n == 0) return NNE_OK;
    af_job job = {st, a->in[0]->data, a->out[0]->data, n};
    nne_threadpool *pool = nne_ctx_pool(a->ctx);
    int parts = n >= 32768 ? nne_threadpool_threads(pool) : 1;
    nne_parallel(pool, parts, af_part, &job, NULL);
    return NNE_OK;
}

NNE_OP_DEFINE(NneAffine, "ai.nnedge", "Affine", .infer = af_infer, .run = af_run, .state_size = sizeof(af_state));
