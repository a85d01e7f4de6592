/*
 * nn_fused_attention.c - ai.nnedge FusedAttention(Q, Kt, V), what the
 * attention pass (src/ir/pass_attention.c) makes of
 *     MatMul(Q, Kt) [-> Mul/Div by a scalar] -> Softmax(last axis) -> MatMul(., V):
 *     O = softmax(scale * Q Kt) V
 * with numpy.matmul semantics: the last two axes are matrices (Q M x K,
 * Kt K x N, V N x D, O M x D), the leading axes batch axes broadcast
 * numpy-style over the three inputs; float only, every input of rank >= 2
 * (the pass fuses only such MatMuls). Attribute `scale` (float, default 1).
 *
 * The score matrix is never stored whole: for each batch and block of up to
 * FA_ROWS rows of Q, the block's scores go to scratch (a GEMM with alpha =
 * scale), each row is normalized (the vector softmax of kernels/vec.h, or
 * the plain loop under NNE_FORCE_REFERENCE), and a second GEMM multiplies
 * the block by V into O. The (batch, block) pairs are split over the plan's
 * threads, each with its own scratch.
 */
#include "core/threadpool.h"
#include "kernels/dispatch.h"
#include "kernels/vec.h"
#include "ops/op.h"

#include <math.h>
#include <string.h>

#define FA_ROWS 32

typedef struct fa_state {
    float scale;
    int64_t M, K, N, D;
    int nb;                         /* output batch rank */
    int64_t bdims[NNE_MAX_DIMS];
    int64_t str[3][NNE_MAX_DIMS];   /* Q, Kt, V batch strides in matrices (0: broadcast) */
    int64_t batch, blocks;          /* batch count, row blocks per batch */
    size_t part_bytes;              /* scratch of one part: scores + GEMM scratch */
    const nne_vec_ops *vec;
} fa_state;

static size_t fa_part_bytes(int64_t M, int64_t K, int64_t N, int64_t D) {
    int64_t r = M < FA_ROWS ? M : FA_ROWS;
    size_t g1 = nne_gemm_f32_scratch(r, N, K), g2 = nne_gemm_f32_scratch(r, D, N);
    size_t g = g1 > g2 ? g1 : g2;
    return ((size_t)(r * N) * sizeof(float) + 63) / 64 * 64 + g + 64;
}

static nne_status fa_infer(nne_op_ctx *ctx) {
    const nne_tensor *in[3] = {nne_ctx_input(ctx, 0), nne_ctx_input(ctx, 1), nne_ctx_input(ctx, 2)};
    static const char *const names[3] = {"Q", "Kt", "V"};
    for (int i = 0; i < 3; i++) {
        if (!in[i]) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %s is required", names[i]);
        if (in[i]->dtype != NNE_DTYPE_FLOAT)
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "input %s is %s (float only)", names[i],
                                nne_dtype_name(in[i]->dtype));
        if (in[i]->ndim < 2)
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "input %s has rank %d (2 or more only)", names[i],
                                in[i]->ndim);
    }
    const nne_tensor *Q = in[0], *Kt = in[1], *V = in[2];
    int64_t M = Q->dims[Q->ndim - 2], K = Q->dims[Q->ndim - 1], N = Kt->dims[Kt->ndim - 1];
    int64_t D = V->dims[V->ndim - 1];
    if (Kt->dims[Kt->ndim - 2] != K || V->dims[V->ndim - 2] != N)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "Q is ... x %lld x %lld, Kt ... x %lld x %lld, V ... x %lld x %lld: the inner "
                            "dimensions do not match",
                            (long long)M, (long long)K, (long long)Kt->dims[Kt->ndim - 2], (long long)N,
                            (long long)V->dims[V->ndim - 2], (long long)D);
    /* batch axes: numpy broadcast of the three, right-aligned */
    fa_state s;
    memset(&s, 0, sizeof s);
    int nb = 0;
    for (int i = 0; i < 3; i++)
        if (in[i]->ndim - 2 > nb) nb = in[i]->ndim - 2;
    s.nb = nb;
    s.batch = 1;
    for (int d = 0; d < nb; d++) {
        int64_t bd = 1;
        for (int i = 0; i < 3; i++) {
            int k = d - (nb - (in[i]->ndim - 2));
            int64_t v = k >= 0 ? in[i]->dims[k] : 1;
            if (v != 1 && bd != 1 && v != bd)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "batch axis %d: sizes %lld and %lld do not broadcast",
                                    d, (long long)bd, (long long)v);
            if (v != 1) bd = v;
        }
        s.bdims[d] = bd;
        s.batch *= bd;
    }
    for (int i = 0; i < 3; i++) {
        int64_t acc = 1;
        for (int d = nb - 1; d >= 0; d--) {
            int k = d - (nb - (in[i]->ndim - 2));
            int64_t v = k >= 0 ? in[i]->dims[k] : 1;
            s.str[i][d] = v == 1 ? 0 : acc;
            acc *= v;
        }
    }
    int64_t od[NNE_MAX_DIMS];
    for (int d = 0; d < nb; d++) od[d] = s.bdims[d];
    od[nb] = M;
    od[nb + 1] = D;
    nne_tensor *O;
    NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_FLOAT, nb + 2, od, &O));
    s.scale = nne_attr_f(ctx, "scale", 1.0f);
    s.M = M, s.K = K, s.N = N, s.D = D;
    s.blocks = (M + FA_ROWS - 1) / FA_ROWS;
    s.part_bytes = fa_part_bytes(M, K, N, D);
    s.vec = nne_vec();
    nne_ctx_scratch(ctx, s.part_bytes);
    fa_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = s;
    return NNE_OK;
}

/* softmax of one row in place, as the Softmax op's reference row */
static void fa_softmax_ref(float *r, int64_t n) {
    float mx = r[0];
    for (int64_t i = 1; i < n; i++) mx = r[i] > mx ? r[i] : mx;
    if (isinf(mx)) mx = mx > 0 ? mx : 0.0f;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += r[i] = expf(r[i] - mx);
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) r[i] *= inv;
}

typedef struct fa_job {
    const fa_state *s;
    const float *q, *kt, *v;
    float *o;
} fa_job;

static void fa_part(void *arg, int part, int nparts, void *scratch) {
    const fa_job *j = arg;
    const fa_state *s = j->s;
    long long lo, hi;
    nne_split_range(s->batch * s->blocks, 1, part, nparts, &lo, &hi);
    float *S = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int64_t rmax = s->M < FA_ROWS ? s->M : FA_ROWS;
    void *gs = (char *)S + ((size_t)(rmax * s->N) * sizeof(float) + 63) / 64 * 64;
    for (long long t = lo; t < hi; t++) {
        int64_t b = t / s->blocks, r0 = (t % s->blocks) * FA_ROWS;
        int64_t rows = s->M - r0 < FA_ROWS ? s->M - r0 : FA_ROWS;
        /* the batch's matrices: offsets from the broadcast strides */
        int64_t off[3] = {0, 0, 0}, rem = b;
        for (int d = s->nb - 1; d >= 0; d--) {
            int64_t idx = rem % s->bdims[d];
            rem /= s->bdims[d];
            for (int i = 0; i < 3; i++) off[i] += idx * s->str[i][d];
        }
        const float *q = j->q + off[0] * s->M * s->K + r0 * s->K;
        const float *kt = j->kt + off[1] * s->K * s->N;
        const float *v = j->v + off[2] * s->N * s->D;
        float *o = j->o + (b * s->M + r0) * s->D;
        nne_gemm_f32(rows, s->N, s->K, s->scale, q, s->K, 1, kt, s->N, 1, 0.0f, S, s->N, gs);
        for (int64_t r = 0; r < rows; r++) {
            if (s->vec) s->vec->softmax_row(S + r * s->N, S + r * s->N, s->N);
            else fa_softmax_ref(S + r * s->N, s->N);
        }
        nne_gemm_f32(rows, s->D, s->N, 1.0f, S, s->N, 1, v, s->D, 1, 0.0f, o, s->D, gs);
    }
}

static nne_status fa_run(const void *state, const nne_kernel_args *a) {
    const fa_state *s = state;
    nne_tensor *O = a->out[0];
    if (nne_tensor_numel(O) == 0) return NNE_OK;
    if (s->N == 0) {
        /* no keys: the product of the (empty) probabilities with V is 0 */
        memset(O->data, 0, (size_t)nne_tensor_numel(O) * sizeof(float));
        return NNE_OK;
    }
    fa_job job = {s, a->in[0]->data, a->in[1]->data, a->in[2]->data, O->data};
    nne_threadpool *pool = nne_ctx_pool(a->ctx);
    int64_t tasks = s->batch * s->blocks;
    int parts = nne_threadpool_threads(pool);
    if (nne_threadpool_scratch_bytes(pool) < s->part_bytes) parts = 1;
    if (parts > tasks) parts = (int)tasks;
    nne_parallel(pool, parts, fa_part, &job, a->scratch);
    return NNE_OK;
}

static int64_t fa_macs(nne_op_ctx *ctx) {
    const nne_tensor *Q = nne_ctx_input(ctx, 0), *Kt = nne_ctx_input(ctx, 1), *O = nne_ctx_output_get(ctx, 0);
    if (!Q || !Kt || !O || Q->ndim < 2 || Kt->ndim < 2 || O->ndim < 2) return 0;
    int64_t rows = nne_tensor_numel(O) / (O->dims[O->ndim - 1] ? O->dims[O->ndim - 1] : 1);
    int64_t K = Q->dims[Q->ndim - 1], N = Kt->dims[Kt->ndim - 1], D = O->dims[O->ndim - 1];
    return rows * N * (K + D);
}

NNE_OP_DEFINE(NneFusedAttention, "ai.nnedge", "FusedAttention", .infer = fa_infer, .run = fa_run,
              .state_size = sizeof(fa_state), .macs = fa_macs);
