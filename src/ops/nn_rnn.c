/*
 * nn_rnn.c - the recurrent ops RNN, GRU and LSTM (ai.onnx, every opset: 1, 3
 * (GRU), 7, 14 (layout attribute), 22).
 *
 * Per direction the kernel does:
 *   1. XW = X * W^T + biases for all time steps at once: one gemm over the
 *      seq*batch rows of X. Recurrent biases are folded in here wherever the
 *      equations allow it (all but GRU's Rbh with linear_before_reset=1).
 *   2. For each step: HR = H_prev * R^T (one gemm over the batch), then the
 *      gate equations element-wise. A batch entry whose sequence_lens has run
 *      out keeps its state (so Y_h/Y_c hold its last valid step) and gets
 *      zeros in Y. The reverse direction of entry b starts at step lens[b]-1.
 * The kernel computes in float; double, float16 and bfloat16 tensors are
 * converted to float in scratch and back.
 *
 * Attributes: activations (+ activation_alpha/beta, consumed in order by the
 * activations that take them), clip (bounds every gate pre-activation),
 * direction, hidden_size (taken from R when absent), layout, input_forget
 * (LSTM: f = 1 - i), linear_before_reset (GRU).
 */
#include "ops/op.h"
#include "kernels/ref/gemm.h"

#include <math.h>
#include <string.h>
#include <strings.h>

enum { RNN_SIMPLE, RNN_GRU, RNN_LSTM };

typedef enum {
    ACT_SIGMOID, ACT_TANH, ACT_RELU, ACT_AFFINE, ACT_LEAKYRELU, ACT_THRESHOLDEDRELU,
    ACT_SCALEDTANH, ACT_HARDSIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS
} rnn_act_kind;

typedef struct {
    rnn_act_kind kind;
    float alpha, beta;
} rnn_act;

static const struct {
    const char *name;
    rnn_act_kind kind;
    int has_alpha, has_beta;
    float alpha, beta; /* defaults: those of the ONNX op of the same name */
} k_acts[] = {
    {"Sigmoid", ACT_SIGMOID, 0, 0, 0.f, 0.f},
    {"Tanh", ACT_TANH, 0, 0, 0.f, 0.f},
    {"Relu", ACT_RELU, 0, 0, 0.f, 0.f},
    {"Affine", ACT_AFFINE, 1, 1, 1.f, 0.f},
    {"LeakyRelu", ACT_LEAKYRELU, 1, 0, 0.01f, 0.f},
    {"ThresholdedRelu", ACT_THRESHOLDEDRELU, 1, 0, 1.f, 0.f},
    {"ScaledTanh", ACT_SCALEDTANH, 1, 1, 1.f, 1.f},
    {"HardSigmoid", ACT_HARDSIGMOID, 1, 1, 0.2f, 0.5f},
    {"Elu", ACT_ELU, 1, 0, 1.f, 0.f},
    {"Softsign", ACT_SOFTSIGN, 0, 0, 0.f, 0.f},
    {"Softplus", ACT_SOFTPLUS, 0, 0, 0.f, 0.f},
};

#define RNN_MAX_ACTS 6 /* 3 per direction (LSTM), 2 directions */

typedef struct {
    int kind;              /* RNN_* */
    int ngates;            /* 1, 3 or 4 */
    int nact;              /* activations per direction: 1, 2 or 3 */
    int64_t seq, batch, in, hid;
    int ndir;              /* 1 or 2 */
    int dir;               /* 0 forward, 1 reverse, 2 bidirectional */
    int layout;            /* 0: [seq, batch, ...], 1: [batch, seq, ...] */
    int has_clip;
    float clip;
    int input_forget;      /* LSTM */
    int lbr;               /* GRU linear_before_reset */
    rnn_act act[RNN_MAX_ACTS];
} rnn_params;

/* ------------------------------------------------------------- kernels -- */

static float act_one(const rnn_act *a, float x) {
    switch (a->kind) {
    case ACT_SIGMOID: return 1.f / (1.f + expf(-x));
    case ACT_TANH: return tanhf(x);
    case ACT_RELU: return x > 0.f ? x : 0.f;
    case ACT_AFFINE: return a->alpha * x + a->beta;
    case ACT_LEAKYRELU: return x >= 0.f ? x : a->alpha * x;
    case ACT_THRESHOLDEDRELU: return x >= a->alpha ? x : 0.f; /* ">=" as the RNN ops specify */
    case ACT_SCALEDTANH: return a->alpha * tanhf(a->beta * x);
    case ACT_HARDSIGMOID: {
        float v = a->alpha * x + a->beta;
        return v < 0.f ? 0.f : v > 1.f ? 1.f : v;
    }
    case ACT_ELU: return x >= 0.f ? x : a->alpha * (expf(x) - 1.f);
    case ACT_SOFTSIGN: return x / (1.f + fabsf(x));
    case ACT_SOFTPLUS: return x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x));
    }
    return x;
}

/* x[0..n) = act(clip(x)) in place. */
static void act_apply(const rnn_act *a, const rnn_params *p, float *x, int64_t n) {
    if (p->has_clip) {
        float c = p->clip;
        for (int64_t j = 0; j < n; j++) x[j] = x[j] < -c ? -c : x[j] > c ? c : x[j];
    }
    switch (a->kind) { /* the common ones get their own loops */
    case ACT_SIGMOID:
        for (int64_t j = 0; j < n; j++) x[j] = 1.f / (1.f + expf(-x[j]));
        return;
    case ACT_TANH:
        for (int64_t j = 0; j < n; j++) x[j] = tanhf(x[j]);
        return;
    default:
        for (int64_t j = 0; j < n; j++) x[j] = act_one(a, x[j]);
    }
}

/*
 * C[m x n] (row stride ldc) = A[m x k] * B[n x k]^T, plus bias[j] in every
 * row when bias != NULL: the shared GEMM with B^T read through strides
 * (1, ldb); gs is its scratch (nne_gemm_f32_scratch bytes).
 */
static void gemm_nt(int64_t m, int64_t n, int64_t k, const float *A, int64_t lda, const float *B, int64_t ldb,
                    const float *bias, float *C, int64_t ldc, void *gs) {
    float beta = 0.0f;
    if (bias) {
        for (int64_t i = 0; i < m; i++) memcpy(C + i * ldc, bias, (size_t)n * sizeof(float));
        beta = 1.0f;
    }
    nne_gemm_f32(m, n, k, 1.0f, A, lda, 1, B, 1, ldb, beta, C, ldc, gs);
}

/* Float views of the op's tensors (NULL when absent). */
typedef struct {
    const float *X, *W, *R, *B, *P, *h0, *c0;
    const int64_t *lens;
    float *Y, *Yh, *Yc;
    /* scratch */
    float *XW;   /* [seq*batch, G*hid] */
    float *HR;   /* [batch, G*hid] */
    float *H;    /* [batch, hid] state */
    float *C;    /* [batch, hid] cell state (LSTM) */
    float *tmp;  /* [batch, hid] */
    float *bias; /* [G*hid] folded input-projection bias */
    void *gs;    /* GEMM packing scratch */
} rnn_bufs;

/* Offset of state [d, b] in initial_h / Y_h / Y_c. */
static int64_t state_off(const rnn_params *p, int d, int64_t b) {
    return (p->layout ? b * p->ndir + d : d * p->batch + b) * p->hid;
}
/* Offset of Y[t, d, b] (layout 0) or Y[b, t, d] (layout 1). */
static int64_t y_off(const rnn_params *p, int64_t t, int d, int64_t b) {
    return (p->layout ? (b * p->seq + t) * p->ndir + d : (t * p->ndir + d) * p->batch + b) * p->hid;
}

static void rnn_direction(const rnn_params *p, const rnn_bufs *bf, int d) {
    const int64_t H = p->hid, G = p->ngates, GH = G * H, batch = p->batch, seq = p->seq;
    const int fwd = p->dir == 0 || (p->dir == 2 && d == 0);
    const float *W = bf->W + (int64_t)d * GH * p->in;
    const float *R = bf->R + (int64_t)d * GH * H;
    const float *Wb = bf->B ? bf->B + (int64_t)d * 2 * GH : NULL;
    const float *Rb = Wb ? Wb + GH : NULL;
    const float *P = bf->P ? bf->P + (int64_t)d * 3 * H : NULL;
    const rnn_act *act = &p->act[d * p->nact];

    /* 1. input projection of every step, with the foldable biases */
    float *bias = NULL;
    if (Wb) {
        bias = bf->bias;
        for (int64_t j = 0; j < GH; j++) bias[j] = Wb[j] + Rb[j];
        if (p->kind == RNN_GRU && p->lbr)
            for (int64_t j = 2 * H; j < 3 * H; j++) bias[j] = Wb[j]; /* Rbh stays inside r * (...) */
    }
    gemm_nt(seq * batch, GH, p->in, bf->X, p->in, W, p->in, bias, bf->XW, GH, bf->gs);

    /* initial state */
    for (int64_t b = 0; b < batch; b++) {
        if (bf->h0) memcpy(bf->H + b * H, bf->h0 + state_off(p, d, b), (size_t)H * sizeof(float));
        else memset(bf->H + b * H, 0, (size_t)H * sizeof(float));
        if (p->kind == RNN_LSTM) {
            if (bf->c0) memcpy(bf->C + b * H, bf->c0 + state_off(p, d, b), (size_t)H * sizeof(float));
            else memset(bf->C + b * H, 0, (size_t)H * sizeof(float));
        }
    }

    /* 2. recurrence; GRU without linear_before_reset projects (r .* H) separately */
    const int64_t nrec = (p->kind == RNN_GRU && !p->lbr) ? 2 * H : GH;
    for (int64_t s = 0; s < seq; s++) {
        gemm_nt(batch, nrec, H, bf->H, H, R, H, NULL, bf->HR, GH, bf->gs);
        for (int64_t b = 0; b < batch; b++) {
            int64_t L = bf->lens ? bf->lens[b] : seq;
            if (s >= L) continue;
            int64_t t = fwd ? s : L - 1 - s;
            const float *xw = bf->XW + (p->layout ? b * seq + t : t * batch + b) * GH;
            float *g = bf->HR + b * GH, *h = bf->H + b * H;
            if (p->kind == RNN_SIMPLE) {
                for (int64_t j = 0; j < H; j++) g[j] += xw[j];
                act_apply(&act[0], p, g, H);
                memcpy(h, g, (size_t)H * sizeof(float));
            } else if (p->kind == RNN_LSTM) {
                float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H, *c = bf->C + b * H;
                for (int64_t j = 0; j < GH; j++) g[j] += xw[j];
                if (P)
                    for (int64_t j = 0; j < H; j++) {
                        gi[j] += P[j] * c[j];
                        gf[j] += P[2 * H + j] * c[j];
                    }
                act_apply(&act[0], p, gi, H);
                if (p->input_forget)
                    for (int64_t j = 0; j < H; j++) gf[j] = 1.f - gi[j];
                else
                    act_apply(&act[0], p, gf, H);
                act_apply(&act[1], p, gc, H);
                for (int64_t j = 0; j < H; j++) c[j] = gf[j] * c[j] + gi[j] * gc[j];
                if (P)
                    for (int64_t j = 0; j < H; j++) go[j] += P[H + j] * c[j];
                act_apply(&act[0], p, go, H);
                memcpy(gc, c, (size_t)H * sizeof(float));
                act_apply(&act[2], &(rnn_params){.has_clip = 0}, gc, H); /* h(Ct): no clip */
                for (int64_t j = 0; j < H; j++) h[j] = go[j] * gc[j];
            } else { /* GRU: z and r first */
                for (int64_t j = 0; j < 2 * H; j++) g[j] += xw[j];
                act_apply(&act[0], p, g, 2 * H);
                if (!p->lbr) {
                    float *rh = bf->tmp + b * H;
                    for (int64_t j = 0; j < H; j++) rh[j] = g[H + j] * h[j];
                } else {
                    float *gh = g + 2 * H;
                    const float *rbh = Rb ? Rb + 2 * H : NULL;
                    for (int64_t j = 0; j < H; j++) gh[j] = xw[2 * H + j] + g[H + j] * (gh[j] + (rbh ? rbh[j] : 0.f));
                    act_apply(&act[1], p, gh, H);
                    for (int64_t j = 0; j < H; j++) h[j] = (1.f - g[j]) * gh[j] + g[j] * h[j];
                }
            }
        }
        if (p->kind == RNN_GRU && !p->lbr) {
            /* (r .* H_prev) * Rh^T for every row (inactive rows are not used) */
            for (int64_t b = 0; b < batch; b++) {
                int64_t L = bf->lens ? bf->lens[b] : seq;
                if (s >= L) memset(bf->tmp + b * H, 0, (size_t)H * sizeof(float));
            }
            gemm_nt(batch, H, H, bf->tmp, H, R + 2 * H * H, H, NULL, bf->HR + 2 * H, GH, bf->gs);
            for (int64_t b = 0; b < batch; b++) {
                int64_t L = bf->lens ? bf->lens[b] : seq;
                if (s >= L) continue;
                int64_t t = fwd ? s : L - 1 - s;
                const float *xw = bf->XW + (p->layout ? b * seq + t : t * batch + b) * GH;
                float *g = bf->HR + b * GH, *h = bf->H + b * H, *gh = g + 2 * H;
                for (int64_t j = 0; j < H; j++) gh[j] += xw[2 * H + j];
                act_apply(&act[1], p, gh, H);
                for (int64_t j = 0; j < H; j++) h[j] = (1.f - g[j]) * gh[j] + g[j] * h[j];
            }
        }
        if (bf->Y)
            for (int64_t b = 0; b < batch; b++) {
                int64_t L = bf->lens ? bf->lens[b] : seq;
                if (s >= L) continue;
                int64_t t = fwd ? s : L - 1 - s;
                memcpy(bf->Y + y_off(p, t, d, b), bf->H + b * H, (size_t)H * sizeof(float));
            }
    }
    for (int64_t b = 0; b < batch; b++) {
        if (bf->Yh) memcpy(bf->Yh + state_off(p, d, b), bf->H + b * H, (size_t)H * sizeof(float));
        if (bf->Yc) memcpy(bf->Yc + state_off(p, d, b), bf->C + b * H, (size_t)H * sizeof(float));
    }
}

/* ----------------------------------------------------------------- op -- */

static nne_status parse_acts(nne_op_ctx *ctx, rnn_params *p) {
    static const char *const defaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    const char *const *names = NULL;
    const float *alphas = NULL, *betas = NULL;
    int n = nne_attr_strings(ctx, "activations", &names);
    int na = nne_attr_floats(ctx, "activation_alpha", &alphas);
    int nb = nne_attr_floats(ctx, "activation_beta", &betas);
    int ia = 0, ib = 0;
    if (n <= 0) {
        names = defaults[p->kind];
        n = p->nact;
    }
    if (n != p->nact && n != p->nact * p->ndir)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "activations has %d entries; expected %d (%d per direction)", n,
                            p->nact * p->ndir, p->nact);
    for (int i = 0; i < p->nact * p->ndir; i++) {
        if (i >= n) { /* one list given for two directions: reuse it */
            p->act[i] = p->act[i - n];
            continue;
        }
        size_t k = 0;
        while (k < (sizeof k_acts / sizeof k_acts[0]) && strcasecmp(k_acts[k].name, names[i]) != 0) k++;
        if (k == (sizeof k_acts / sizeof k_acts[0]))
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "activation \"%s\" is not supported", names[i]);
        p->act[i].kind = k_acts[k].kind;
        p->act[i].alpha = k_acts[k].alpha;
        p->act[i].beta = k_acts[k].beta;
        if (k_acts[k].has_alpha && ia < na) p->act[i].alpha = alphas[ia++];
        if (k_acts[k].has_beta && ib < nb) p->act[i].beta = betas[ib++];
    }
    return NNE_OK;
}

/* Checks that optional input t (may be NULL) has shape d0 x d1 [x d2]. */
static nne_status check_shape(nne_op_ctx *ctx, const nne_tensor *t, const char *what, nne_dtype dt, int nd,
                              int64_t d0, int64_t d1, int64_t d2) {
    if (!t) return NNE_OK;
    int64_t want[3] = {d0, d1, d2};
    int ok = t->ndim == nd && t->dtype == dt;
    for (int i = 0; ok && i < nd; i++) ok = t->dims[i] == want[i];
    if (!ok) {
        char a[128], b[128];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has %s %s; expected %s %s", what, nne_dtype_name(t->dtype),
                            nne_dims_str(t->ndim, t->dims, a, sizeof a), nne_dtype_name(dt),
                            nne_dims_str(nd, want, b, sizeof b));
    }
    return NNE_OK;
}

/* Float pointer to t's data, converting into *sp (scratch cursor) unless t is float. */
static const float *as_float(const nne_tensor *t, float **sp) {
    if (!t) return NULL;
    if (t->dtype == NNE_DTYPE_FLOAT) return (const float *)t->data;
    int64_t n = nne_tensor_numel(t);
    float *f = *sp;
    for (int64_t i = 0; i < n; i++) f[i] = (float)nne_tensor_get_f64(t, i);
    *sp += (n + 15) & ~(int64_t)15;
    return f;
}

static int64_t pad16(int64_t n) { return (n + 15) & ~(int64_t)15; }
static int64_t prod(int n, const int64_t *d) {
    int64_t r = 1;
    for (int i = 0; i < n; i++) r *= d[i];
    return r;
}

/* RNN / GRU / LSTM in phases: rnn_common is infer; when planning it keeps
 * the parsed parameters (activations included) and the output shapes. */
typedef struct rnn_state {
    rnn_params p;
    nne_dtype dt;
    int64_t ngs;
    int64_t ydims[4], sdims[3];
    int want[3];
} rnn_state;

static nne_status rnn_common(nne_op_ctx *ctx, int kind) {
    rnn_params p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    p.ngates = kind == RNN_LSTM ? 4 : kind == RNN_GRU ? 3 : 1;
    p.nact = kind == RNN_LSTM ? 3 : kind == RNN_GRU ? 2 : 1;
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1), *R = nne_ctx_input(ctx, 2);
    const nne_tensor *B = nne_ctx_input(ctx, 3), *SL = nne_ctx_input(ctx, 4), *H0 = nne_ctx_input(ctx, 5);
    const nne_tensor *C0 = kind == RNN_LSTM ? nne_ctx_input(ctx, 6) : NULL;
    const nne_tensor *P = kind == RNN_LSTM ? nne_ctx_input(ctx, 7) : NULL;
    if (!X || !W || !R) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X, W and R are required");
    nne_dtype dt = X->dtype;
    if (dt != NNE_DTYPE_FLOAT && dt != NNE_DTYPE_DOUBLE && dt != NNE_DTYPE_FLOAT16 && dt != NNE_DTYPE_BFLOAT16)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(dt));
    if (X->ndim != 3) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must have rank 3, got rank %d", X->ndim);
    if (W->ndim != 3 || R->ndim != 3)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "W and R must have rank 3, got ranks %d and %d", W->ndim,
                            R->ndim);

    const char *dir = nne_attr_s(ctx, "direction", "forward");
    if (!strcmp(dir, "forward")) p.dir = 0;
    else if (!strcmp(dir, "reverse")) p.dir = 1;
    else if (!strcmp(dir, "bidirectional")) p.dir = 2;
    else
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "direction \"%s\" is not one of forward, reverse, bidirectional", dir);
    p.ndir = p.dir == 2 ? 2 : 1;
    p.layout = (int)nne_attr_i(ctx, "layout", 0);
    if (p.layout != 0 && p.layout != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "layout must be 0 or 1, got %d", p.layout);
    p.seq = p.layout ? X->dims[1] : X->dims[0];
    p.batch = p.layout ? X->dims[0] : X->dims[1];
    p.in = X->dims[2];
    p.hid = nne_attr_i(ctx, "hidden_size", R->dims[2]);
    if (p.hid < 0 || p.hid > ((int64_t)1 << 24))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "hidden_size %lld is out of range", (long long)p.hid);
    p.has_clip = nne_attr_has(ctx, "clip");
    p.clip = nne_attr_f(ctx, "clip", 0.f);
    if (p.has_clip && !(p.clip >= 0.f))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "clip must be >= 0, got %g", (double)p.clip);
    p.input_forget = kind == RNN_LSTM && nne_attr_i(ctx, "input_forget", 0) != 0;
    p.lbr = kind == RNN_GRU && nne_attr_i(ctx, "linear_before_reset", 0) != 0;
    NNE_TRY(parse_acts(ctx, &p));

    const int64_t GH = p.ngates * p.hid, nd = p.ndir;
    NNE_TRY(check_shape(ctx, W, "W", dt, 3, nd, GH, p.in));
    NNE_TRY(check_shape(ctx, R, "R", dt, 3, nd, GH, p.hid));
    NNE_TRY(check_shape(ctx, B, "B", dt, 2, nd, 2 * GH, 0));
    NNE_TRY(check_shape(ctx, P, "P", dt, 2, nd, 3 * p.hid, 0));
    if (p.layout) {
        NNE_TRY(check_shape(ctx, H0, "initial_h", dt, 3, p.batch, nd, p.hid));
        NNE_TRY(check_shape(ctx, C0, "initial_c", dt, 3, p.batch, nd, p.hid));
    } else {
        NNE_TRY(check_shape(ctx, H0, "initial_h", dt, 3, nd, p.batch, p.hid));
        NNE_TRY(check_shape(ctx, C0, "initial_c", dt, 3, nd, p.batch, p.hid));
    }
    if (SL && (SL->ndim != 1 || SL->dims[0] != p.batch || !nne_dtype_is_int(SL->dtype))) {
        char a[128];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sequence_lens has %s %s; expected int32 [%lld]",
                            nne_dtype_name(SL->dtype), nne_dims_str(SL->ndim, SL->dims, a, sizeof a),
                            (long long)p.batch);
    }

    /* outputs */
    int nout = nne_ctx_num_outputs(ctx), maxout = kind == RNN_LSTM ? 3 : 2;
    if (nout > maxout)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "the node has %d outputs; at most %d", nout, maxout);
    nne_tensor *out[3] = {NULL, NULL, NULL};
    int64_t ydims[4], sdims[3];
    if (p.layout) {
        int64_t y[4] = {p.batch, p.seq, nd, p.hid}, st[3] = {p.batch, nd, p.hid};
        memcpy(ydims, y, sizeof y);
        memcpy(sdims, st, sizeof st);
    } else {
        int64_t y[4] = {p.seq, nd, p.batch, p.hid}, st[3] = {nd, p.batch, p.hid};
        memcpy(ydims, y, sizeof y);
        memcpy(sdims, st, sizeof st);
    }
    for (int i = 0; i < nout; i++) NNE_TRY(nne_ctx_output(ctx, i, dt, i == 0 ? 4 : 3, i == 0 ? ydims : sdims, &out[i]));
    int want[3];
    for (int i = 0; i < 3; i++) want[i] = i < nout && nne_ctx_has_output(ctx, i);

    /* scratch (floats): XW, HR, H, C, tmp, bias, lens, and float copies for other dtypes */
    if (p.seq * p.batch > ((int64_t)1 << 40) / (GH + 1))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "seq %lld x batch %lld x %lld gates is too large",
                            (long long)p.seq, (long long)p.batch, (long long)GH);
    int64_t nsc = pad16(p.seq * p.batch * GH) + pad16(p.batch * GH) + 3 * pad16(p.batch * p.hid) + pad16(GH) +
                  pad16(2 * p.batch);
    size_t gs1 = nne_gemm_f32_scratch(p.seq * p.batch, GH, p.in), gs2 = nne_gemm_f32_scratch(p.batch, GH, p.hid);
    int64_t ngs = (int64_t)((gs1 > gs2 ? gs1 : gs2) + sizeof(float) - 1) / (int64_t)sizeof(float);
    nsc += pad16(ngs);
    if (dt != NNE_DTYPE_FLOAT) {
        const nne_tensor *ins[7] = {X, W, R, B, P, H0, C0};
        for (int i = 0; i < 7; i++)
            if (ins[i]) nsc += pad16(nne_tensor_numel(ins[i]));
        nsc += pad16(prod(4, ydims)) + 2 * pad16(prod(3, sdims));
    }
    nne_ctx_scratch(ctx, nne_size_elems(nsc, sizeof(float)));
    rnn_state *rs = nne_ctx_plan_state(ctx);
    if (rs) {
        *rs = (rnn_state){.p = p, .dt = dt, .ngs = ngs};
        memcpy(rs->ydims, ydims, sizeof ydims);
        memcpy(rs->sdims, sdims, sizeof sdims);
        memcpy(rs->want, want, sizeof want);
    }
    return NNE_OK;
}

static nne_status rnn_kernel(const void *state, const nne_kernel_args *a) {
    const rnn_state *rs = state;
    const rnn_params p = rs->p;
    int kind = p.kind;
    nne_dtype dt = rs->dt;
    const int64_t GH = p.ngates * p.hid, ngs = rs->ngs;
    const int64_t *ydims = rs->ydims, *sdims = rs->sdims;
    const int *want = rs->want;
#define RNN_IN(i) (a->n_in > (i) ? a->in[i] : NULL)
    const nne_tensor *X = a->in[0], *W = a->in[1], *R = a->in[2], *B = RNN_IN(3), *SL = RNN_IN(4), *H0 = RNN_IN(5);
    const nne_tensor *C0 = kind == RNN_LSTM ? RNN_IN(6) : NULL, *P = kind == RNN_LSTM ? RNN_IN(7) : NULL;
#undef RNN_IN
    nne_tensor *out[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && i < a->n_out; i++) out[i] = a->out[i];
    nne_op_ctx *ctx = a->ctx;
    float *sc = a->scratch;

    rnn_bufs bf;
    memset(&bf, 0, sizeof bf);
    float *sp = sc;
    bf.XW = sp, sp += pad16(p.seq * p.batch * GH);
    bf.HR = sp, sp += pad16(p.batch * GH);
    bf.H = sp, sp += pad16(p.batch * p.hid);
    bf.C = sp, sp += pad16(p.batch * p.hid);
    bf.tmp = sp, sp += pad16(p.batch * p.hid);
    bf.bias = sp, sp += pad16(GH);
    bf.gs = sp, sp += pad16(ngs);
    if (SL) {
        int64_t *lens = (int64_t *)sp;
        sp += pad16(2 * p.batch);
        for (int64_t b = 0; b < p.batch; b++) {
            lens[b] = nne_tensor_get_i64(SL, b);
            if (lens[b] < 0 || lens[b] > p.seq)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sequence_lens[%lld] = %lld is outside [0, %lld]",
                                    (long long)b, (long long)lens[b], (long long)p.seq);
        }
        bf.lens = lens;
    } else {
        sp += pad16(2 * p.batch);
    }
    bf.X = as_float(X, &sp);
    bf.W = as_float(W, &sp);
    bf.R = as_float(R, &sp);
    bf.B = as_float(B, &sp);
    bf.P = as_float(P, &sp);
    bf.h0 = as_float(H0, &sp);
    bf.c0 = as_float(C0, &sp);
    float **outs[3] = {&bf.Y, &bf.Yh, &bf.Yc};
    int64_t outn[3] = {prod(4, ydims), prod(3, sdims), prod(3, sdims)};
    for (int i = 0; i < 3; i++) {
        if (!want[i]) continue;
        if (dt == NNE_DTYPE_FLOAT) {
            *outs[i] = (float *)out[i]->data;
        } else {
            *outs[i] = sp;
            sp += pad16(outn[i]);
        }
    }
    if (bf.Y) memset(bf.Y, 0, (size_t)outn[0] * sizeof(float)); /* steps past sequence_lens stay 0 */
    if (kind != RNN_LSTM) bf.Yc = NULL;

    for (int d = 0; d < p.ndir; d++) rnn_direction(&p, &bf, d);

    if (dt != NNE_DTYPE_FLOAT)
        for (int i = 0; i < 3; i++)
            if (want[i] && *outs[i])
                for (int64_t e = 0; e < outn[i]; e++) nne_tensor_set_f64(out[i], e, (*outs[i])[e]);
    return NNE_OK;
}

static nne_status rnn_run(nne_op_ctx *ctx) { return rnn_common(ctx, RNN_SIMPLE); }
static nne_status gru_run(nne_op_ctx *ctx) { return rnn_common(ctx, RNN_GRU); }
static nne_status lstm_run(nne_op_ctx *ctx) { return rnn_common(ctx, RNN_LSTM); }

NNE_OP_DEFINE(RNN, "", "RNN", .infer = rnn_run, .run = rnn_kernel, .state_size = sizeof(rnn_state));
NNE_OP_DEFINE(GRU, "", "GRU", .infer = gru_run, .run = rnn_kernel, .state_size = sizeof(rnn_state));
NNE_OP_DEFINE(LSTM, "", "LSTM", .infer = lstm_run, .run = rnn_kernel, .state_size = sizeof(rnn_state));
