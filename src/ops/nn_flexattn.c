/*
 * nn_flexattn.c - ai.onnx.preview FlexAttention (version 1): scaled
 * dot-product attention over rank-4 inputs with optional modifier subgraphs.
 *   Q [B, Hq, L, E], K [B, Hkv, S, E], V [B, Hkv, S, Ev] -> Y [B, Hq, L, Ev]
 *   scores = scale * Q K^T            (scale defaults to 1/sqrt(E))
 *   scores = score_mod(scores)        (subgraph, optional)
 *   probs  = softmax(scores, axis=-1) (a row that is all -inf gives zeros)
 *   probs  = prob_mod(probs)          (subgraph, optional)
 *   Y      = probs V
 * Query head h reads K/V head h / (Hq / Hkv) (GQA). The score and probability
 * tensors the subgraphs see have the softmax_precision dtype (float, or
 * double for double inputs; float16/bfloat16 when asked explicitly); they
 * live in scratch in that dtype. Arithmetic is done in double.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"
#include "ops/tensor_util.h"

#include <math.h>
#include <string.h>

/* Run modifier subgraph `g` on *t (dtype/shape kept) and copy its result
 * back into t->data. */
static nne_status run_mod(nne_op_ctx *ctx, const struct nne_graph *g, const char *what, nne_tensor *t) {
    if (nne_graph_num_outputs(g) != 1 || nne_graph_num_inputs(g) < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s subgraph has %d inputs and %d outputs, expected 1 and 1",
                            what, nne_graph_num_inputs(g), nne_graph_num_outputs(g));
    nne_tensor out;
    memset(&out, 0, sizeof out);
    NNE_TRY(nne_ctx_run_graph(ctx, g, 1, t, 1, &out));
    int same = out.dtype == t->dtype && out.ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = out.dims[d] == t->dims[d];
    nne_status st = NNE_OK;
    if (!same) {
        char b1[96], b2[96];
        st = nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s subgraph returned %s %s, expected %s %s", what,
                          nne_dtype_name(out.dtype), nne_dims_str(out.ndim, out.dims, b1, sizeof b1),
                          nne_dtype_name(t->dtype), nne_dims_str(t->ndim, t->dims, b2, sizeof b2));
    } else {
        size_t nb = nne_tensor_nbytes(t);
        if (nb) memcpy(t->data, out.data, nb);
    }
    nne_tensor_free_data(&out);
    return st;
}

/* FlexAttention in phases: attributes and modifier subgraphs looked up once per plan; run runs the subgraphs through nne_ctx_run_graph (whose values are allocated at run time, as for If/Loop/Scan) */
typedef struct flexattention_state {
    int64_t B;
    int64_t Hq;
    int64_t L;
    int64_t E;
    int64_t Hkv;
    int64_t S;
    int64_t Ev;
    nne_dtype P;
    double scale;
    const struct nne_graph *smod;
    const struct nne_graph *pmod;
    size_t osc;
    size_t ok;
    size_t ov;
    size_t oq;
    size_t orow;
    size_t oy;
} flexattention_state;

static nne_status flexattention_run(nne_op_ctx *ctx) {
    static const nne_dtype fok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16,
                                    NNE_DTYPE_BFLOAT16, NNE_DTYPE_UNDEFINED};
    const nne_tensor *Q = nne_ctx_input(ctx, 0), *K = nne_ctx_input(ctx, 1), *V = nne_ctx_input(ctx, 2);
    char b1[96], b2[96], b3[96];
    if (!Q || !K || !V) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs Q, K and V are required");
    NNE_TRY(nne_la_check_dtype(ctx, "Q", Q->dtype, fok));
    if (K->dtype != Q->dtype || V->dtype != Q->dtype)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "Q, K, V dtypes %s, %s, %s must match",
                            nne_dtype_name(Q->dtype), nne_dtype_name(K->dtype), nne_dtype_name(V->dtype));
    if (Q->ndim != 4 || K->ndim != 4 || V->ndim != 4)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "Q, K, V must be rank 4, got ranks %d, %d, %d",
                            (int)Q->ndim, (int)K->ndim, (int)V->ndim);
    int64_t B = Q->dims[0], Hq = Q->dims[1], L = Q->dims[2], E = Q->dims[3];
    int64_t Hkv = K->dims[1], S = K->dims[2], Ev = V->dims[3];
    if (K->dims[0] != B || K->dims[3] != E || V->dims[0] != B || V->dims[1] != Hkv || V->dims[2] != S)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "K %s / V %s do not fit Q %s: expected K (B, Hkv, S, E), V (B, Hkv, S, Ev)",
                            nne_dims_str(K->ndim, K->dims, b1, sizeof b1),
                            nne_dims_str(V->ndim, V->dims, b2, sizeof b2),
                            nne_dims_str(Q->ndim, Q->dims, b3, sizeof b3));
    if (Hkv <= 0 ? Hq != 0 : Hq % Hkv != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "q_num_heads %lld is not a multiple of kv_num_heads %lld",
                            (long long)Hq, (long long)Hkv);
    nne_dtype P = Q->dtype == NNE_DTYPE_DOUBLE ? NNE_DTYPE_DOUBLE : NNE_DTYPE_FLOAT;
    if (nne_attr_has(ctx, "softmax_precision")) {
        int64_t sp = nne_attr_i(ctx, "softmax_precision", 1);
        if (sp != NNE_DTYPE_FLOAT && sp != NNE_DTYPE_DOUBLE && sp != NNE_DTYPE_FLOAT16 && sp != NNE_DTYPE_BFLOAT16)
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED,
                                "softmax_precision %lld not supported: expected 1 (float), 10 (float16), "
                                "11 (double) or 16 (bfloat16)", (long long)sp);
        P = (nne_dtype)sp;
    }
    double scale = nne_attr_has(ctx, "scale") ? (double)nne_attr_f(ctx, "scale", 1.0f)
                                              : (E > 0 ? 1.0 / sqrt((double)E) : 1.0);
    const struct nne_graph *smod = nne_attr_g(ctx, "score_mod"), *pmod = nne_attr_g(ctx, "prob_mod");

    nne_tensor *Y;
    int64_t yd[4] = {B, Hq, L, Ev};
    NNE_TRY(nne_ctx_output(ctx, 0, Q->dtype, 4, yd, &Y));
    /* sizes of the score tensor and the per-head K/V copies; inputs with a
     * zero dim can make these products huge, so check them */
    int64_t nsc, se, sev, lim = (int64_t)1 << 40;
    if (!nne_tu_mul_ok(B, Hq, &nsc) || !nne_tu_mul_ok(nsc, L, &nsc) ||
        !nne_tu_mul_ok(nsc, S, &nsc) || !nne_tu_mul_ok(S, E, &se) ||
        !nne_tu_mul_ok(S, Ev, &sev) || nsc > lim || se > lim || sev > lim)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attention sizes too large: B*Hq*L*S, S*E or S*Ev > 2^40");
    size_t total = 0;
    size_t osc = nne_la_reserve(&total, nne_size_elems(nsc, nne_dtype_size(P)));
    size_t ok = nne_la_reserve(&total, nne_size_elems(se, sizeof(double)));
    size_t ov = nne_la_reserve(&total, nne_size_elems(sev, sizeof(double)));
    size_t oq = nne_la_reserve(&total, nne_size_elems(E, sizeof(double)));
    size_t orow = nne_la_reserve(&total, nne_size_elems(S, sizeof(double)));
    size_t oy = nne_la_reserve(&total, nne_size_elems(Ev, sizeof(double)));
    nne_ctx_scratch(ctx, total);
    flexattention_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->B = B;
        st_->Hq = Hq;
        st_->L = L;
        st_->E = E;
        st_->Hkv = Hkv;
        st_->S = S;
        st_->Ev = Ev;
        st_->P = P;
        st_->scale = scale;
        st_->smod = smod;
        st_->pmod = pmod;
        st_->osc = osc;
        st_->ok = ok;
        st_->ov = ov;
        st_->oq = oq;
        st_->orow = orow;
        st_->oy = oy;
    }
    return NNE_OK;
}

static nne_status flexattention_kernel(const void *state, const nne_kernel_args *args) {
    const flexattention_state *st_ = state;
    const nne_tensor *Q = args->in[0];
    const nne_tensor *K = args->n_in > 1 ? args->in[1] : NULL;
    const nne_tensor *V = args->n_in > 2 ? args->in[2] : NULL;
    nne_tensor *Y = args->out[0];
    int64_t B = st_->B;
    int64_t Hq = st_->Hq;
    int64_t L = st_->L;
    int64_t E = st_->E;
    int64_t Hkv = st_->Hkv;
    int64_t S = st_->S;
    int64_t Ev = st_->Ev;
    nne_dtype P = st_->P;
    double scale = st_->scale;
    const struct nne_graph * smod = st_->smod;
    const struct nne_graph * pmod = st_->pmod;
    size_t osc = st_->osc;
    size_t ok = st_->ok;
    size_t ov = st_->ov;
    size_t oq = st_->oq;
    size_t orow = st_->orow;
    size_t oy = st_->oy;
    char *base = args->scratch;
    nne_op_ctx *ctx = args->ctx;
    double *kb = (double *)(base + ok), *vb = (double *)(base + ov), *qb = (double *)(base + oq);
    double *row = (double *)(base + orow), *yb = (double *)(base + oy);
    nne_tensor sc = {.dtype = P, .ndim = 4, .dims = {B, Hq, L, S}, .data = base + osc};
    int64_t G = Hkv > 0 ? Hq / Hkv : 1;

    /* 1. scores */
    for (int64_t b = 0; b < B; b++) {
        for (int64_t hk = 0; hk < Hkv; hk++) {
            nne_load_f64(K, (b * Hkv + hk) * S * E, 1, S * E, kb);
            for (int64_t h = hk * G; h < (hk + 1) * G; h++) {
                for (int64_t l = 0; l < L; l++) {
                    int64_t qr = (b * Hq + h) * L + l;
                    nne_load_f64(Q, qr * E, 1, E, qb);
                    for (int64_t s = 0; s < S; s++) {
                        const double *kr = kb + s * E;
                        double acc = 0.0;
                        for (int64_t e = 0; e < E; e++) acc += qb[e] * kr[e];
                        row[s] = acc * scale;
                    }
                    nne_store_f64(&sc, qr * S, 1, S, row, NNE_CVT_SAT);
                }
            }
        }
    }
    if (smod) NNE_TRY(run_mod(ctx, smod, "score_mod", &sc));
    /* 2. softmax per row */
    for (int64_t r = 0; r < B * Hq * L; r++) {
        nne_load_f64(&sc, r * S, 1, S, row);
        double mx = -INFINITY, sum = 0.0;
        for (int64_t s = 0; s < S; s++) if (row[s] > mx) mx = row[s];
        if (mx == -INFINITY) {
            for (int64_t s = 0; s < S; s++) row[s] = 0.0;
        } else {
            for (int64_t s = 0; s < S; s++) sum += (row[s] = exp(row[s] - mx));
            for (int64_t s = 0; s < S; s++) row[s] /= sum;
        }
        nne_store_f64(&sc, r * S, 1, S, row, NNE_CVT_SAT);
    }
    if (pmod) NNE_TRY(run_mod(ctx, pmod, "prob_mod", &sc));
    /* 3. Y = probs V */
    for (int64_t b = 0; b < B; b++) {
        for (int64_t hk = 0; hk < Hkv; hk++) {
            nne_load_f64(V, (b * Hkv + hk) * S * Ev, 1, S * Ev, vb);
            for (int64_t h = hk * G; h < (hk + 1) * G; h++) {
                for (int64_t l = 0; l < L; l++) {
                    int64_t qr = (b * Hq + h) * L + l;
                    nne_load_f64(&sc, qr * S, 1, S, row);
                    for (int64_t e = 0; e < Ev; e++) yb[e] = 0.0;
                    for (int64_t s = 0; s < S; s++) {
                        const double *vr = vb + s * Ev;
                        double p = row[s];
                        for (int64_t e = 0; e < Ev; e++) yb[e] += p * vr[e];
                    }
                    nne_store_f64(Y, qr * Ev, 1, Ev, yb, NNE_CVT_SAT);
                }
            }
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(preview_FlexAttention, "ai.onnx.preview", "FlexAttention", .infer = flexattention_run, .run = flexattention_kernel,
              .state_size = sizeof(flexattention_state), .flags = NNE_OPF_SUBGRAPH);
