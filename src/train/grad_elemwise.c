/*
 * grad_elemwise.c - gradient rules of element-wise ops: activations,
 * Add/Sub/Mul with numpy broadcasting (the gradient of a broadcast input is
 * summed over the axes it was broadcast along), Dropout (inverted dropout
 * with a saved mask), and the data-movement ops Identity, Flatten, Reshape
 * and Concat.
 */
#include "train/train.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------- activations -- */

enum { A_RELU, A_LEAKY, A_SIGMOID, A_TANH, A_ELU, A_SOFTPLUS, A_HSIG, A_HSWISH, A_CLIP, A_IDENT };

typedef struct act_st {
    int kind;
    float alpha, beta;
} act_st;

static float act_f(const act_st *s, float x) {
    switch (s->kind) {
    case A_RELU: return x > 0 ? x : 0;
    case A_LEAKY: return x >= 0 ? x : s->alpha * x;
    case A_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case A_TANH: return tanhf(x);
    case A_ELU: return x >= 0 ? x : s->alpha * (expf(x) - 1.0f);
    case A_SOFTPLUS: return x > 20 ? x : log1pf(expf(x));
    case A_HSIG: { float v = s->alpha * x + s->beta; return v < 0 ? 0 : (v > 1 ? 1 : v); }
    case A_HSWISH: { float v = x / 6.0f + 0.5f; return x * (v < 0 ? 0 : (v > 1 ? 1 : v)); }
    case A_CLIP: return x < s->alpha ? s->alpha : (x > s->beta ? s->beta : x);
    default: return x;
    }
}

/* d act / dx at x (y = act(x)) */
static float act_df(const act_st *s, float x, float y) {
    switch (s->kind) {
    case A_RELU: return x > 0 ? 1.0f : 0.0f;
    case A_LEAKY: return x >= 0 ? 1.0f : s->alpha;
    case A_SIGMOID: return y * (1.0f - y);
    case A_TANH: return 1.0f - y * y;
    case A_ELU: return x >= 0 ? 1.0f : y + s->alpha;
    case A_SOFTPLUS: return 1.0f / (1.0f + expf(-x));
    case A_HSIG: { float v = s->alpha * x + s->beta; return v > 0 && v < 1 ? s->alpha : 0.0f; }
    case A_HSWISH: return x < -3 ? 0.0f : (x > 3 ? 1.0f : x / 3.0f + 0.5f);
    case A_CLIP: return x >= s->alpha && x <= s->beta ? 1.0f : 0.0f;
    default: return 1.0f;
    }
}

static nne_status act_forward(nne_tnode *n, nne_tctx *c) {
    const act_st *s = n->state;
    const float *x = n->in[0]->x;
    float *y = n->out[0]->x;
    int64_t cnt = n->in[0]->n;
    if (s->kind == A_RELU)
        for (int64_t i = 0; i < cnt; i++) y[i] = x[i] > 0 ? x[i] : 0;
    else
        for (int64_t i = 0; i < cnt; i++) y[i] = act_f(s, x[i]);
    return NNE_OK;
}

static nne_status act_backward(nne_tnode *n, nne_tctx *c) {
    const act_st *s = n->state;
    nne_tval *X = n->in[0];
    if (!X->g) return NNE_OK;
    const float *restrict x = X->x, *restrict y = n->out[0]->x, *restrict dy = n->out[0]->g;
    float *restrict gx = X->g;
    int64_t cnt = X->n;
    if (s->kind == A_RELU && X->g_assign)
        for (int64_t i = 0; i < cnt; i++) gx[i] = x[i] > 0 ? dy[i] : 0.0f;
    else if (s->kind == A_RELU)
        for (int64_t i = 0; i < cnt; i++) gx[i] += x[i] > 0 ? dy[i] : 0.0f;
    else if (X->g_assign)
        for (int64_t i = 0; i < cnt; i++) gx[i] = dy[i] * act_df(s, x[i], y[i]);
    else
        for (int64_t i = 0; i < cnt; i++) gx[i] += dy[i] * act_df(s, x[i], y[i]);
    return NNE_OK;
}

#define ACT_RULE(sym, kind_, a_, b_)                                                                            \
    static nne_status sym##_plan(nne_tnode *n, nne_tctx *c) {                                                   \
        act_st *s = n->state;                                                                                   \
        s->kind = kind_;                                                                                        \
        s->alpha = nne_train_attr_f(n->node, "alpha", a_);                                                      \
        s->beta = nne_train_attr_f(n->node, "beta", b_);                                                        \
        return NNE_OK;                                                                                          \
    }                                                                                                           \
    const nne_grad_rule nne_grad_##sym = {.plan = sym##_plan, .forward = act_forward, .backward = act_backward, \
                                          .diff_inputs = 1, .state_size = sizeof(act_st), .assigns = 1};
ACT_RULE(Relu, A_RELU, 0, 0)
ACT_RULE(LeakyRelu, A_LEAKY, 0.01f, 0)
ACT_RULE(Sigmoid, A_SIGMOID, 0, 0)
ACT_RULE(Tanh, A_TANH, 0, 0)
ACT_RULE(Elu, A_ELU, 1.0f, 0)
ACT_RULE(Softplus, A_SOFTPLUS, 0, 0)
ACT_RULE(HardSigmoid, A_HSIG, 0.2f, 0.5f)
ACT_RULE(HardSwish, A_HSWISH, 0, 0)

static nne_status clip_plan(nne_tnode *n, nne_tctx *c) {
    act_st *s = n->state;
    s->kind = A_CLIP;
    s->alpha = nne_train_attr_f(n->node, "min", -INFINITY);
    s->beta = nne_train_attr_f(n->node, "max", INFINITY);
    for (int k = 1; k <= 2; k++) {
        const nne_tval *v = n->n_in > k ? n->in[k] : NULL;
        if (!v) continue;
        if (!v->is_const || v->n != 1 || !v->x)
            return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training needs Clip's min and max to be constant scalars");
        if (k == 1) s->alpha = v->x[0];
        else s->beta = v->x[0];
    }
    return NNE_OK;
}
const nne_grad_rule nne_grad_Clip = {.plan = clip_plan, .forward = act_forward, .backward = act_backward,
                                     .diff_inputs = 1, .state_size = sizeof(act_st), .assigns = 1};

/* ----------------------------------------------- copies (same numbers) -- */

static nne_status copy_forward(nne_tnode *n, nne_tctx *c) {
    if (n->out[0]->x != n->in[0]->x) memcpy(n->out[0]->x, n->in[0]->x, (size_t)n->in[0]->n * sizeof(float));
    return NNE_OK;
}
static nne_status copy_backward(nne_tnode *n, nne_tctx *c) {
    nne_tval *X = n->in[0];
    if (!X->g) return NNE_OK;
    const float *dy = n->out[0]->g;
    if (X->g_assign) memcpy(X->g, dy, (size_t)X->n * sizeof(float));
    else
        for (int64_t i = 0; i < X->n; i++) X->g[i] += dy[i];
    return NNE_OK;
}
const nne_grad_rule nne_grad_Identity = {.forward = copy_forward, .backward = copy_backward, .diff_inputs = 1,
                                         .assigns = 1};
const nne_grad_rule nne_grad_Flatten = {.forward = copy_forward, .backward = copy_backward, .diff_inputs = 1,
                                        .assigns = 1};
const nne_grad_rule nne_grad_Reshape = {.forward = copy_forward, .backward = copy_backward, .diff_inputs = 1,
                                        .assigns = 1};

/* ------------------------------------------------------------ Dropout -- */

typedef struct drop_st {
    float ratio;
    uint8_t *mask;
} drop_st;

static nne_status drop_plan(nne_tnode *n, nne_tctx *c) {
    drop_st *s = n->state;
    s->ratio = nne_train_attr_f(n->node, "ratio", 0.5f);
    if (n->n_in > 1 && n->in[1]) {
        if (!n->in[1]->is_const || n->in[1]->n != 1 || !n->in[1]->x)
            return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training needs Dropout's ratio to be a constant scalar");
        s->ratio = n->in[1]->x[0];
    }
    if (!(s->ratio >= 0 && s->ratio < 1))
        return nne_train_fail(n, NNE_ERR_INVALID_ARG, "ratio %g is outside [0, 1)", (double)s->ratio);
    s->mask = nne_aligned_alloc((size_t)(n->in[0]->n ? n->in[0]->n : 1));
    if (!s->mask) return nne_error(NNE_ERR_OUT_OF_MEMORY, "train: cannot allocate a Dropout mask");
    return NNE_OK;
}
static void drop_free(nne_tnode *n) {
    drop_st *s = n->state;
    if (s) nne_aligned_free(s->mask);
}
static nne_status drop_forward(nne_tnode *n, nne_tctx *c) {
    drop_st *s = n->state;
    const float *x = n->in[0]->x;
    float *y = n->out[0]->x;
    int64_t cnt = n->in[0]->n;
    float keep = 1.0f / (1.0f - s->ratio);
    for (int64_t i = 0; i < cnt; i++) {
        s->mask[i] = !c->training || s->ratio == 0 || nne_train_rand(&c->rng) >= s->ratio;
        y[i] = c->training ? (s->mask[i] ? x[i] * keep : 0.0f) : x[i];
    }
    if (n->n_out > 1 && n->out[1])
        for (int64_t i = 0; i < cnt; i++) n->out[1]->x[i] = s->mask[i];
    return NNE_OK;
}
static nne_status drop_backward(nne_tnode *n, nne_tctx *c) {
    drop_st *s = n->state;
    nne_tval *X = n->in[0];
    if (!X->g) return NNE_OK;
    const float *dy = n->out[0]->g;
    float keep = 1.0f / (1.0f - s->ratio);
    for (int64_t i = 0; i < X->n; i++) X->g[i] += s->mask[i] ? dy[i] * keep : 0.0f;
    return NNE_OK;
}
const nne_grad_rule nne_grad_Dropout = {.plan = drop_plan, .forward = drop_forward, .backward = drop_backward,
                                        .free = drop_free, .diff_inputs = 1, .state_size = sizeof(drop_st)};

/* ---------------------------------------------------- Add, Sub, Mul -- */

enum { B_ADD, B_SUB, B_MUL };

typedef struct bin_st {
    int kind;
    int same;                   /* both inputs have the output's shape */
    int nd;
    int64_t dims[NNE_MAX_DIMS]; /* output */
    int64_t sa[NNE_MAX_DIMS], sb[NNE_MAX_DIMS]; /* element strides of A and B on the output's axes (0: broadcast) */
} bin_st;

static void bstrides(const nne_tval *v, int nd, const int64_t *dims, int64_t *st) {
    int64_t acc = 1;
    for (int d = nd - 1; d >= 0; d--) {
        int vd = d - (nd - v->ndim);
        if (vd < 0 || v->dims[vd] == 1) st[d] = 0;
        else {
            st[d] = acc;
            acc *= v->dims[vd];
        }
        (void)dims;
    }
}

static nne_status bin_plan_kind(nne_tnode *n, int kind) {
    bin_st *s = n->state;
    const nne_tval *a = n->in[0], *b = n->in[1], *y = n->out[0];
    s->kind = kind;
    s->nd = y->ndim;
    memcpy(s->dims, y->dims, sizeof s->dims);
    s->same = a->n == y->n && b->n == y->n;
    bstrides(a, s->nd, s->dims, s->sa);
    bstrides(b, s->nd, s->dims, s->sb);
    return NNE_OK;
}

/* Calls body(i, ia, ib) for every output element i with its A and B offsets. */
#define BIN_LOOP(s, cnt, body)                                                                   \
    do {                                                                                         \
        int64_t idx_[NNE_MAX_DIMS] = {0}, ia = 0, ib = 0;                                        \
        for (int64_t i = 0; i < (cnt); i++) {                                                    \
            body;                                                                                \
            for (int d = (s)->nd - 1; d >= 0; d--) {                                             \
                ia += (s)->sa[d];                                                                \
                ib += (s)->sb[d];                                                                \
                if (++idx_[d] < (s)->dims[d]) break;                                             \
                ia -= (s)->sa[d] * (s)->dims[d];                                                 \
                ib -= (s)->sb[d] * (s)->dims[d];                                                 \
                idx_[d] = 0;                                                                     \
            }                                                                                    \
        }                                                                                        \
        (void)ia, (void)ib; /* a body may read only one of them */                               \
    } while (0)

static nne_status bin_forward(nne_tnode *n, nne_tctx *c) {
    const bin_st *s = n->state;
    const float *a = n->in[0]->x, *b = n->in[1]->x;
    float *y = n->out[0]->x;
    int64_t cnt = n->out[0]->n;
    if (s->same) {
        if (s->kind == B_ADD) for (int64_t i = 0; i < cnt; i++) y[i] = a[i] + b[i];
        else if (s->kind == B_SUB) for (int64_t i = 0; i < cnt; i++) y[i] = a[i] - b[i];
        else for (int64_t i = 0; i < cnt; i++) y[i] = a[i] * b[i];
        return NNE_OK;
    }
    if (s->kind == B_ADD) BIN_LOOP(s, cnt, y[i] = a[ia] + b[ib]);
    else if (s->kind == B_SUB) BIN_LOOP(s, cnt, y[i] = a[ia] - b[ib]);
    else BIN_LOOP(s, cnt, y[i] = a[ia] * b[ib]);
    return NNE_OK;
}

static nne_status bin_backward(nne_tnode *n, nne_tctx *c) {
    const bin_st *s = n->state;
    nne_tval *A = n->in[0], *B = n->in[1];
    const float *dy = n->out[0]->g, *a = A->x, *b = B->x;
    float *ga = A->g, *gb = B->g;
    int64_t cnt = n->out[0]->n;
    float sgn = s->kind == B_SUB ? -1.0f : 1.0f;
    if (s->kind == B_MUL) {
        if (ga) BIN_LOOP(s, cnt, ga[ia] += dy[i] * b[ib]);
        if (gb) BIN_LOOP(s, cnt, gb[ib] += dy[i] * a[ia]);
    } else {
        if (ga) BIN_LOOP(s, cnt, ga[ia] += dy[i]);
        if (gb) BIN_LOOP(s, cnt, gb[ib] += sgn * dy[i]);
    }
    return NNE_OK;
}

static nne_status add_plan(nne_tnode *n, nne_tctx *c) { return bin_plan_kind(n, B_ADD); }
static nne_status sub_plan(nne_tnode *n, nne_tctx *c) { return bin_plan_kind(n, B_SUB); }
static nne_status mul_plan(nne_tnode *n, nne_tctx *c) { return bin_plan_kind(n, B_MUL); }
const nne_grad_rule nne_grad_Add = {.plan = add_plan, .forward = bin_forward, .backward = bin_backward,
                                    .diff_inputs = 3, .state_size = sizeof(bin_st)};
const nne_grad_rule nne_grad_Sub = {.plan = sub_plan, .forward = bin_forward, .backward = bin_backward,
                                    .diff_inputs = 3, .state_size = sizeof(bin_st)};
const nne_grad_rule nne_grad_Mul = {.plan = mul_plan, .forward = bin_forward, .backward = bin_backward,
                                    .diff_inputs = 3, .state_size = sizeof(bin_st)};

/* ------------------------------------------------------------- Concat -- */

typedef struct cat_st {
    int64_t outer, inner; /* elements before / after the axis (inner includes nothing of the axis) */
} cat_st;

static nne_status cat_plan(nne_tnode *n, nne_tctx *c) {
    cat_st *s = n->state;
    const nne_tval *y = n->out[0];
    int64_t axis = nne_train_attr_i(n->node, "axis", 0);
    if (axis < 0) axis += y->ndim;
    if (axis < 0 || axis >= y->ndim) return nne_train_fail(n, NNE_ERR_INVALID_ARG, "axis out of range");
    s->outer = 1;
    s->inner = 1;
    for (int d = 0; d < axis; d++) s->outer *= y->dims[d];
    for (int d = (int)axis + 1; d < y->ndim; d++) s->inner *= y->dims[d];
    return NNE_OK;
}

static nne_status cat_forward(nne_tnode *n, nne_tctx *c) {
    const cat_st *s = n->state;
    int64_t ystride = n->out[0]->n / (s->outer ? s->outer : 1), off = 0;
    for (int k = 0; k < n->n_in; k++) {
        const nne_tval *x = n->in[k];
        if (!x) continue;
        int64_t chunk = x->n / (s->outer ? s->outer : 1);
        for (int64_t o = 0; o < s->outer; o++)
            memcpy(n->out[0]->x + o * ystride + off, x->x + o * chunk, (size_t)chunk * sizeof(float));
        off += chunk;
    }
    return NNE_OK;
}

static nne_status cat_backward(nne_tnode *n, nne_tctx *c) {
    const cat_st *s = n->state;
    int64_t ystride = n->out[0]->n / (s->outer ? s->outer : 1), off = 0;
    for (int k = 0; k < n->n_in; k++) {
        nne_tval *x = n->in[k];
        if (!x) continue;
        int64_t chunk = x->n / (s->outer ? s->outer : 1);
        if (x->g)
            for (int64_t o = 0; o < s->outer; o++) {
                const float *src = n->out[0]->g + o * ystride + off;
                float *dst = x->g + o * chunk;
                for (int64_t i = 0; i < chunk; i++) dst[i] += src[i];
            }
        off += chunk;
    }
    return NNE_OK;
}
const nne_grad_rule nne_grad_Concat = {.plan = cat_plan, .forward = cat_forward, .backward = cat_backward,
                                       .diff_inputs = 0xff, .state_size = sizeof(cat_st)};
