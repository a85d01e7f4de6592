/*
 * pass_bn_fold.c - per-channel affine maps folded into the weights of the
 * Conv or Gemm before them (level basic, as ONNX Runtime's ConvBNFusion,
 * ConvMulFusion and ConvAddFusion):
 *
 *   BatchNormalization(Conv(X, W, B))  -> Conv(X, W * s, (B - mean) * s + bias)
 *       with s = scale / sqrt(var + epsilon) per output channel;
 *   BatchNormalization(Gemm(A, B, C))  -> the same on Gemm's N columns;
 *   BatchNormalization(ConvTranspose)  -> the same on its output channels;
 *   Mul(Conv(X, W, B), c)              -> Conv(X, W * c, B * c)
 *   Add(Conv(X, W, B), c)              -> Conv(X, W, B + c)
 *       for a constant c that varies at most along the channel axis.
 *
 * Everything must be a float32 constant; the Conv's output must be read by
 * the folded node alone (and be no graph output). Weights read by this node
 * alone and held in memory are scaled in place; otherwise (shared, or in a
 * mapped file) the folded weights are a new initializer and the others stay.
 * Arithmetic is done in double and rounded once, so the folded network
 * matches the original within float rounding.
 */
#include "ir/passes.h"
#include "core/core.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int is_op(const nne_node *n, const char *type) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, type);
}

static int sole_reader(const nne_graph *g, const nne_graph_uses *u, int v) {
    if (v < 0 || g->values[v].is_output || nne_uses_count(u, v) != 1) return -1;
    nne_use use = u->use[u->start[v]];
    if (use.slot < 0 || g->nodes[use.node].dead) return -1;
    return use.node;
}

static const nne_tensor *const_t(nne_pass_ctx *ctx, const nne_graph *g, int v) {
    const nne_tensor *t = v >= 0 ? nne_graph_const_value(g, v, ctx->m ? ctx->m->ir_version : 13) : NULL;
    if (!t || t->dtype != NNE_DTYPE_FLOAT || (!t->data && nne_tensor_numel(t))) return NULL;
    return t;
}

/* A copy of a float tensor (shape of t, data to fill). */
static nne_status new_like(const nne_tensor *t, int ndim, const int64_t *dims, nne_tensor *out) {
    memset(out, 0, sizeof *out);
    out->dtype = NNE_DTYPE_FLOAT;
    out->ndim = ndim;
    for (int d = 0; d < ndim; d++) out->dims[d] = dims[d];
    size_t nb = nne_tensor_nbytes(out);
    out->data = nne_aligned_alloc(nb ? nb : 4);
    if (!out->data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
    if (t) memcpy(out->data, t->data, nb);
    return NNE_OK;
}

static void set_attr_f(nne_node *n, const char *name, float v) {
    for (int a = 0; a < n->n_attr; a++)
        if (!strcmp(n->attrs[a].name, name) && n->attrs[a].type == NNE_ATTR_FLOAT) n->attrs[a].f = v;
}

/*
 * Fold y' = y * mul[c] + add[c] along the channel axis into node pi (Conv:
 * channels are W's rows; Gemm: the N columns of B', C is rewritten), then
 * node fi (the folded follower) goes and pi makes its output. mul may be
 * NULL (1). Returns 1 when done, 0 when the producer's inputs do not allow
 * it, with the graph unchanged.
 */
static nne_status fold_affine(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, int pi, int fi,
                              const double *mul, const double *add, int64_t nch, int *done) {
    nne_node *p = &g->nodes[pi];
    *done = 0;
    int conv = is_op(p, "Conv"), convt = is_op(p, "ConvTranspose");
    const nne_tensor *W = const_t(ctx, g, p->in[1]);
    const nne_tensor *B = p->n_in > 2 && p->in[2] >= 0 ? const_t(ctx, g, p->in[2]) : NULL;
    if (!W || (p->n_in > 2 && p->in[2] >= 0 && !B)) return NNE_OK;
    int tb = 0;
    float beta = 1.0f;
    int64_t groups = 1;
    if (conv) {
        if (W->ndim < 3 || W->dims[0] != nch || (B && (B->ndim != 1 || B->dims[0] != nch))) return NNE_OK;
    } else if (convt) { /* W is C x M/group x k...: output channel g * M/group + j is W[c in group g, j] */
        const nne_attr *ga = nne_node_attr(p, "group");
        groups = ga && ga->type == NNE_ATTR_INT ? ga->i : 1;
        if (W->ndim < 3 || groups < 1 || W->dims[0] % groups || W->dims[1] > INT64_MAX / groups ||
            W->dims[1] * groups != nch || (B && (B->ndim != 1 || B->dims[0] != nch)))
            return NNE_OK;
    } else { /* Gemm */
        const nne_attr *a = nne_node_attr(p, "transB");
        tb = a && a->type == NNE_ATTR_INT && a->i;
        a = nne_node_attr(p, "beta");
        if (a && a->type == NNE_ATTR_FLOAT) beta = a->f;
        if (W->ndim != 2 || W->dims[tb ? 0 : 1] != nch || p->opset < 7) return NNE_OK;
        /* C: a scalar or one value per column */
        if (B && !(nne_tensor_numel(B) == 1 ||
                   (nne_tensor_numel(B) == nch && B->ndim >= 1 && B->dims[B->ndim - 1] == nch)))
            return NNE_OK;
    }
    /* W read by this node alone and held in memory the graph owns (not a
     * mapped file): scaled where it is, so folding allocates no second copy
     * of the weights (which would count toward the peak RSS) */
    int wv0 = p->in[1];
    nne_value *wval = &g->values[wv0];
    int in_place = mul && wval->kind == NNE_VAL_CONST && !wval->init_borrowed && wval->init.data &&
                   wv0 < u->n_values && nne_uses_count(u, wv0) == 1 && !wval->is_output;
    int copy_w = mul && !in_place; /* an Add only changes the bias */
    nne_tensor w2 = {0}, b2;
    if (copy_w) NNE_TRY(new_like(W, W->ndim, W->dims, &w2));
    int64_t one = nch;
    if (new_like(NULL, 1, &one, &b2) != NNE_OK) {
        nne_aligned_free(w2.data);
        return NNE_ERR_OUT_OF_MEMORY;
    }
    float *w = in_place ? wval->init.data : w2.data, *b = b2.data;
    if (convt && mul) { /* ConvTranspose: output channel m = g * (M/group) + j */
        int64_t cpg = W->dims[0] / groups, mpg = W->dims[1], taps = nne_tensor_numel(W) / (W->dims[0] * mpg);
        for (int64_t c = 0; c < W->dims[0]; c++)
            for (int64_t j = 0; j < mpg; j++) {
                double m = mul[(c / cpg) * mpg + j];
                float *t = w + (c * mpg + j) * taps;
                for (int64_t k = 0; k < taps; k++) t[k] = (float)(t[k] * m);
            }
    }
    const float *b0 = B ? B->data : NULL;
    int64_t per = nne_tensor_numel(W) / (nch ? nch : 1);
    for (int64_t c = 0; c < nch; c++) {
        double m = mul ? mul[c] : 1.0;
        double bc = b0 ? (double)b0[nne_tensor_numel(B) == 1 ? 0 : c] * (conv ? 1.0 : beta) : 0.0;
        b[c] = (float)(bc * m + add[c]);
        if (!mul || convt) continue;
        if (conv || tb) {
            float *row = w + (conv || tb ? c * per : 0);
            for (int64_t k = 0; k < per; k++) row[k] = (float)(row[k] * m);
        } else { /* B is K x N: column c */
            for (int64_t k = 0; k < W->dims[0]; k++) w[k * nch + c] = (float)(w[k * nch + c] * m);
        }
    }
    char base[160];
    int wv = wv0, bv = -1;
    snprintf(base, sizeof base, "%s_folded", g->values[p->in[1]].name);
    if (copy_w) NNE_TRY(nne_pass_add_const(g, base, &w2, &wv));
    snprintf(base, sizeof base, "%s_folded_bias", g->values[p->in[1]].name);
    NNE_TRY(nne_pass_add_const(g, base, &b2, &bv));
    p = &g->nodes[pi];
    if (copy_w) nne_pass_drop_pages(ctx, &g->values[p->in[1]]);
    p->in[1] = wv;
    if (p->n_in > 2) p->in[2] = bv;
    else NNE_TRY(nne_node_add_input(g, pi, bv));
    p = &g->nodes[pi];
    if (!conv && !convt) set_attr_f(p, "beta", 1.0f);
    int out = g->nodes[fi].out[0];
    nne_graph_remove_node(g, fi);
    nne_pass_move_output(g, pi, 0, out);
    *done = 1;
    return NNE_OK;
}

nne_status nne_pass_bn_fold(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    nne_graph_uses u = {0};
    NNE_TRY(nne_graph_uses_build(g, &u));
    nne_status rc = NNE_OK;
    double *mul = NULL, *add = NULL;
    for (int i = 0; i < g->n_nodes && rc == NNE_OK; i++) {
        nne_node *p = &g->nodes[i];
        if (!(is_op(p, "Conv") || is_op(p, "ConvTranspose") || is_op(p, "Gemm")) || p->n_out != 1 || p->n_in < 2)
            continue;
        int r = sole_reader(g, &u, p->out[0]);
        if (r < 0) continue;
        nne_node *bn = &g->nodes[r];
        if (!is_op(bn, "BatchNormalization") || bn->n_in != 5 || bn->in[0] != p->out[0] || bn->opset < 7) continue;
        int extra = 0;
        for (int o = 1; o < bn->n_out; o++) extra |= bn->out[o] >= 0 && (nne_uses_count(&u, bn->out[o]) > 0 || g->values[bn->out[o]].is_output);
        const nne_attr *tm = nne_node_attr(bn, "training_mode"), *sp = nne_node_attr(bn, "spatial");
        if (extra || (tm && tm->i) || (sp && sp->type == NNE_ATTR_INT && !sp->i)) continue;
        const nne_tensor *t[4];
        int ok = 1;
        for (int k = 0; k < 4; k++) {
            t[k] = const_t(ctx, g, bn->in[1 + k]);
            ok &= t[k] && t[k]->ndim == 1 && (k == 0 || t[k]->dims[0] == t[0]->dims[0]);
        }
        if (!ok) continue;
        int64_t nch = t[0]->dims[0];
        const nne_attr *ea = nne_node_attr(bn, "epsilon");
        double eps = ea && ea->type == NNE_ATTR_FLOAT ? ea->f : 1e-5;
        nne_free(mul);
        nne_free(add);
        mul = nne_malloc((size_t)(nch + 1) * sizeof(double));
        add = nne_malloc((size_t)(nch + 1) * sizeof(double));
        if (!mul || !add) {
            rc = nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
            break;
        }
        const float *sc = t[0]->data, *bi = t[1]->data, *mean = t[2]->data, *var = t[3]->data;
        for (int64_t c = 0; c < nch; c++) {
            mul[c] = (double)sc[c] / sqrt((double)var[c] + eps);
            add[c] = (double)bi[c] - (double)mean[c] * mul[c];
        }
        int done = 0;
        rc = fold_affine(ctx, g, &u, i, r, mul, add, nch, &done);
        if (done) st->removed++, st->folded++;
    }
    nne_free(mul);
    nne_free(add);
    nne_graph_uses_free(&u);
    return rc;
}

/* c varies at most along axis 1 of a rank-`rank` value with nch channels:
 * 1 and its per-channel step (0: the same value for every channel). */
static int per_channel(const nne_tensor *c, int rank, int64_t nch, int64_t *step) {
    if (c->ndim > rank) return 0;
    *step = 0;
    for (int j = 0; j < c->ndim; j++) {
        int axis = rank - c->ndim + j;
        if (c->dims[j] == 1) continue;
        if (axis != 1 || c->dims[j] != nch) return 0;
        *step = 1;
    }
    return 1;
}

nne_status nne_pass_conv_scale(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    nne_graph_uses u = {0};
    NNE_TRY(nne_graph_uses_build(g, &u));
    nne_status rc = NNE_OK;
    double *mul = NULL, *add = NULL;
    for (int i = 0; i < g->n_nodes && rc == NNE_OK; i++) {
        nne_node *p = &g->nodes[i];
        if (!is_op(p, "Conv") || p->n_out != 1 || p->n_in < 2) continue;
        const nne_tensor *W = const_t(ctx, g, p->in[1]);
        int r = sole_reader(g, &u, p->out[0]);
        if (!W || W->ndim < 3 || r < 0) continue;
        nne_node *f = &g->nodes[r];
        int is_mul = is_op(f, "Mul");
        if (!(is_mul || is_op(f, "Add")) || f->n_in != 2 || f->n_out != 1) continue;
        int cv = f->in[0] == p->out[0] ? f->in[1] : f->in[0];
        const nne_tensor *c = const_t(ctx, g, cv);
        int64_t nch = W->dims[0], step;
        if (!c || cv == p->out[0] || !per_channel(c, W->ndim, nch, &step) || nne_tensor_numel(c) < 1) continue;
        nne_free(mul);
        nne_free(add);
        mul = nne_malloc((size_t)(nch + 1) * sizeof(double));
        add = nne_malloc((size_t)(nch + 1) * sizeof(double));
        if (!mul || !add) {
            rc = nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
            break;
        }
        const float *cd = c->data;
        for (int64_t k = 0; k < nch; k++) {
            double x = cd[step ? k : 0];
            mul[k] = is_mul ? x : 1.0;
            add[k] = is_mul ? 0.0 : x;
        }
        int done = 0;
        rc = fold_affine(ctx, g, &u, i, r, is_mul ? mul : NULL, add, nch, &done);
        if (done) st->removed++, st->folded++;
    }
    nne_free(mul);
    nne_free(add);
    nne_graph_uses_free(&u);
    return rc;
}
