/*
 * prune.c - magnitude pruning of Conv/Gemm/MatMul weights (nne_model_prune).
 *
 * Unstructured: zero the fraction R of all the layers' weights with the
 * smallest |w|, ranked together (one threshold for the model: layers of
 * large weights keep more), or, per layer, every |w| below A * max|w|. The graph is unchanged; the trainer keeps the zeros (masks).
 *
 * Structured: for each Conv (group 1) or Gemm with constant weights, follow
 * its output through the ops that keep channels where they are (element-wise
 * activations, Dropout, Identity, BatchNormalization, pooling; a Concat on
 * the channel axis shifts them by the channels of the inputs before) to the
 * consumers that read them: a Conv (input channels), a Gemm or MatMul
 * (rows of K, directly or after a Flatten of N x C x H x W, where each
 * channel is H*W consecutive rows). If every path ends at such a consumer,
 * the layer is prunable: rank its output channels by the L1 norm of their
 * weights, keep the largest (1 - R) (at least one), and slice the producer's
 * weight and bias, the BatchNormalization parameters on the way, and the
 * consumers' weights. A layer whose channels reach a residual Add (two
 * inputs of one shape) is pruned with every layer it meets there, as one
 * group (see group_value below): channels ranked by the sum of the
 * members' L1 norms, the same ones removed from each. Layers whose
 * channels reach a graph output or any other op (Reshape, Mul, ...) are
 * left whole. The layers (groups) are pruned one after the other, each
 * ranking the weights as the earlier ones left them.
 */
#include "train/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shapes of every value for a batch of 1 (symbolic dims 1), by the ops' own
 * inference. dims[v * NNE_MAX_DIMS ..], nd[v] (-1 unknown). */
static nne_status shapes_infer(const nne_model *m, int64_t *dims, int *nd) {
    const nne_graph *g = m->graph;
    for (int v = 0; v < g->n_values; v++) {
        nd[v] = -1;
        const nne_value *val = &g->values[v];
        if (val->kind == NNE_VAL_CONST) {
            nd[v] = val->init.ndim;
            memcpy(dims + (size_t)v * NNE_MAX_DIMS, val->init.dims, sizeof val->init.dims);
        } else if (val->kind == NNE_VAL_INPUT && val->ndim >= 0) {
            nd[v] = val->ndim;
            for (int d = 0; d < val->ndim; d++) dims[(size_t)v * NNE_MAX_DIMS + d] = val->dims[d] < 0 ? 1 : val->dims[d];
        }
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const nne_node *nd_ = &g->nodes[ni];
        if (nd_->dead || nd_->n_in > NNE_TRAIN_MAX_IO || nd_->n_out > NNE_TRAIN_MAX_IO) continue;
        nne_tensor tin[NNE_TRAIN_MAX_IO], outs[NNE_TRAIN_MAX_IO];
        const nne_tensor *ins[NNE_TRAIN_MAX_IO];
        uint8_t so[NNE_TRAIN_MAX_IO];
        int ok = 1;
        for (int k = 0; k < nd_->n_in; k++) {
            int v = nd_->in[k];
            ins[k] = NULL;
            so[k] = 0;
            if (v < 0) continue;
            if (nd[v] < 0) {
                ok = 0;
                break;
            }
            memset(&tin[k], 0, sizeof tin[k]);
            if (g->values[v].kind == NNE_VAL_CONST) tin[k] = g->values[v].init;
            else {
                tin[k].dtype = g->values[v].dtype ? g->values[v].dtype : NNE_DTYPE_FLOAT;
                tin[k].ndim = nd[v];
                memcpy(tin[k].dims, dims + (size_t)v * NNE_MAX_DIMS, sizeof tin[k].dims);
                so[k] = 1;
            }
            ins[k] = &tin[k];
        }
        if (!ok) continue;
        int skipped = 0;
        if (nne_node_infer(g, ni, ins, so, outs, &skipped) != NNE_OK || skipped) continue;
        for (int o = 0; o < nd_->n_out; o++) {
            int v = nd_->out[o];
            if (v < 0) continue;
            nd[v] = outs[o].ndim;
            memcpy(dims + (size_t)v * NNE_MAX_DIMS, outs[o].dims, sizeof outs[o].dims);
        }
    }
    return NNE_OK;
}

static int is_op(const nne_node *n, const char *op) {
    return strcmp(n->op_type, op) == 0 && (!n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

/* The weight input of a prunable layer: Conv W, Gemm B, MatMul B (constant
 * float of rank >= 2), else -1. */
static int weight_value(const nne_graph *g, const nne_node *n) {
    if (n->dead || n->n_in < 2 || n->in[1] < 0) return -1;
    if (!is_op(n, "Conv") && !is_op(n, "Gemm") && !is_op(n, "MatMul")) return -1;
    const nne_value *w = &g->values[n->in[1]];
    if (w->kind != NNE_VAL_CONST || w->init.dtype != NNE_DTYPE_FLOAT || w->init.ndim < 2) return -1;
    return n->in[1];
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* ------------------------------------------------------ unstructured -- */

static nne_status prune_unstructured(nne_model *m, const nne_prune_options *o, nne_prune_report *r) {
    nne_graph *g = m->graph;
    /* --sparsity: one magnitude threshold over all layers' weights (layers
     * whose weights are large keep more of them); exactly floor(R * total)
     * weights are zeroed (ties at the threshold in order) */
    float gthr = 0;
    int64_t ties = 0;
    if (o->threshold_ratio <= 0) {
        int64_t total = 0;
        for (int ni = 0; ni < g->n_nodes; ni++) {
            int v = weight_value(g, &g->nodes[ni]);
            if (v >= 0) total += nne_tensor_numel(&g->values[v].init);
        }
        int64_t kz = (int64_t)floor((double)o->sparsity * (double)total);
        if (kz <= 0) return NNE_OK;
        float *a = nne_aligned_alloc((size_t)total * sizeof(float));
        if (!a) return nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
        int64_t k = 0;
        uint8_t *seen = nne_calloc((size_t)g->n_values + 1, 1);
        if (!seen) {
            nne_aligned_free(a);
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
        }
        for (int ni = 0; ni < g->n_nodes; ni++) {
            int v = weight_value(g, &g->nodes[ni]);
            if (v < 0 || seen[v]) continue;
            seen[v] = 1;
            const float *d = nne_value_init_bytes(&g->values[v]);
            int64_t n = nne_tensor_numel(&g->values[v].init);
            for (int64_t i = 0; i < n && k < total; i++) a[k++] = fabsf(d[i]);
        }
        nne_free(seen);
        if (kz > k) kz = k;
        qsort(a, (size_t)k, sizeof(float), cmp_float);
        gthr = kz > 0 ? a[kz - 1] : 0;
        int64_t below = 0;
        for (int64_t i = 0; i < k; i++) below += a[i] < gthr;
        ties = kz - below;
        nne_aligned_free(a);
    }
    for (int ni = 0; ni < g->n_nodes; ni++) {
        int v = weight_value(g, &g->nodes[ni]);
        if (v < 0) continue;
        NNE_TRY(nne_model_param_mark(m, g->values[v].name));
        nne_tensor *w = &g->values[v].init;
        float *d = w->data;
        int64_t n = nne_tensor_numel(w);
        if (n <= 0) continue;
        if (o->threshold_ratio > 0) {
            float mx = 0;
            for (int64_t i = 0; i < n; i++) mx = fabsf(d[i]) > mx ? fabsf(d[i]) : mx;
            float thr = o->threshold_ratio * mx;
            for (int64_t i = 0; i < n; i++)
                if (fabsf(d[i]) < thr) d[i] = 0.0f;
        } else {
            for (int64_t i = 0; i < n; i++) {
                if (fabsf(d[i]) < gthr) d[i] = 0.0f;
                else if (fabsf(d[i]) == gthr && ties > 0 && d[i] != 0.0f) {
                    d[i] = 0.0f;
                    ties--;
                }
            }
        }
        r->layers++;
    }
    return NNE_OK;
}

/* -------------------------------------------------------- structured -- */

/* What a pruned layer's channels reach: slices to apply. */
enum { S_CONV_IN, S_GEMM_K, S_BN };
typedef struct slice_job {
    int kind;
    int node;
    int64_t block; /* S_GEMM_K: rows per channel (H*W after a Flatten, 1 directly) */
    int64_t off, total; /* the producer's channels are [off, off + M) of `total` here (after a Concat) */
} slice_job;

typedef struct follow {
    slice_job *jobs;
    int n, cap;
    int ok;
} follow;

static int is_passthrough(const nne_node *n) {
    static const char *const ops[] = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Softplus", "HardSigmoid",
                                      "HardSwish", "Clip", "Dropout", "Identity", "MaxPool", "AveragePool",
                                      "GlobalAveragePool", "GlobalMaxPool"};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (is_op(n, ops[k])) return 1;
    return 0;
}

static void add_job(follow *f, int kind, int node, int64_t block, int64_t off, int64_t total) {
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 8;
        slice_job *j = realloc(f->jobs, (size_t)cap * sizeof *j);
        if (!j) {
            f->ok = 0;
            return;
        }
        f->jobs = j;
        f->cap = cap;
    }
    f->jobs[f->n++] = (slice_job){kind, node, block, off, total};
}

/* Follow value v (channels on axis 1; the producer's M channels are
 * [off, off + M) of its `total`) to its consumers; `block` > 0 once a
 * Flatten made the channels blocks of rows. */
static void follow_value(const nne_graph *g, const nne_graph_uses *u, const int64_t *dims, const int *nd, int v,
                         int64_t block, int64_t off, int64_t total, int depth, follow *f) {
    if (!f->ok) return;
    if (depth > 64 || g->values[v].is_output || nne_uses_count(u, v) == 0) {
        f->ok = 0;
        return;
    }
    for (int q = u->start[v]; q < u->start[v + 1] && f->ok; q++) {
        int ni = u->use[q].node, slot = u->use[q].slot;
        const nne_node *n = &g->nodes[ni];
        if (n->n_out < 1 || n->out[0] < 0 || (slot != 0 && !is_op(n, "Concat"))) {
            f->ok = 0;
            break;
        }
        if (block == 0 && is_op(n, "Conv") && nne_train_attr_i(n, "group", 1) == 1 && weight_value(g, n) >= 0) {
            add_job(f, S_CONV_IN, ni, 0, off, total);
        } else if ((is_op(n, "Gemm") && !nne_train_attr_i(n, "transA", 0)) || is_op(n, "MatMul")) {
            int64_t b = block ? block : 1;
            if (weight_value(g, n) < 0 || nd[v] != 2) {
                f->ok = 0;
                break;
            }
            add_job(f, S_GEMM_K, ni, b, off, total);
        } else if (block == 0 && is_op(n, "BatchNormalization")) {
            for (int k = 1; k < 5 && f->ok; k++)
                if (k >= n->n_in || n->in[k] < 0 || g->values[n->in[k]].kind != NNE_VAL_CONST) f->ok = 0;
            if (n->n_out > 1) f->ok = 0;
            add_job(f, S_BN, ni, 0, off, total);
            follow_value(g, u, dims, nd, n->out[0], 0, off, total, depth + 1, f);
        } else if (block == 0 && is_op(n, "Concat") && nd[v] >= 2 && nd[n->out[0]] == nd[v] &&
                   (nne_train_attr_i(n, "axis", 0) == 1 || nne_train_attr_i(n, "axis", 0) == 1 - nd[v])) {
            /* the channels move by the channels of the inputs before this one */
            int64_t before = 0;
            for (int k = 0; k < slot; k++) {
                int iv = n->in[k];
                if (iv < 0 || nd[iv] != nd[v]) {
                    f->ok = 0;
                    break;
                }
                before += dims[(size_t)iv * NNE_MAX_DIMS + 1];
            }
            follow_value(g, u, dims, nd, n->out[0], 0, off + before, dims[(size_t)n->out[0] * NNE_MAX_DIMS + 1],
                         depth + 1, f);
        } else if (block == 0 && is_op(n, "Flatten") && nne_train_attr_i(n, "axis", 1) == 1 && nd[v] >= 2) {
            int64_t sp = 1;
            for (int d = 2; d < nd[v]; d++) sp *= dims[(size_t)v * NNE_MAX_DIMS + d];
            follow_value(g, u, dims, nd, n->out[0], sp, off, total, depth + 1, f);
        } else if (block == 0 && is_passthrough(n) && (n->n_out == 1 || is_op(n, "Dropout"))) {
            for (int o = 1; o < n->n_out; o++)
                if (n->out[o] >= 0 && nne_uses_count(u, n->out[o])) f->ok = 0;
            follow_value(g, u, dims, nd, n->out[0], 0, off, total, depth + 1, f);
        } else {
            f->ok = 0;
        }
    }
}

/* ------------------------------------------- groups through residual Adds -- */

/* Layers whose outputs meet in a residual Add must lose the same channels.
 * A group is the set of values connected through channel-preserving ops
 * (activations, pooling, BatchNormalization, Add of two equal shapes),
 * walked both ways: backwards each value ends at a prunable producer (Conv
 * with one group, Gemm), forwards at consumers that read the channels (Conv,
 * Gemm/MatMul directly or after a Flatten). Anything else (a graph input or
 * output, a Concat, Reshape, Mul, a broadcasting Add, a depthwise conv)
 * leaves the whole group unpruned. */
typedef struct group {
    follow f;                  /* consumer and BatchNormalization slices */
    int *prod, np, capp;       /* producer nodes */
    uint8_t *vis;              /* values visited */
    const int *producer_of;    /* node making each value, -1 none */
} group;

static int prunable_producer(const nne_graph *g, const nne_node *n) {
    if (weight_value(g, n) < 0 || is_op(n, "MatMul")) return 0;
    if (is_op(n, "Conv")) return nne_train_attr_i(n, "group", 1) == 1;
    return !(n->n_in > 2 && n->in[2] >= 0 && g->values[n->in[2]].init.ndim == 2);
}

/* An Add of two inputs of the same shape (no broadcasting): its channels
 * are both inputs' channels. */
static int add_aligned(const nne_graph *g, const nne_node *n, const int64_t *dims, const int *nd) {
    if (!is_op(n, "Add") || n->n_in != 2 || n->n_out != 1 || n->in[0] < 0 || n->in[1] < 0 || n->out[0] < 0) return 0;
    int a = n->in[0], b = n->in[1], o = n->out[0];
    if (nd[a] < 2 || nd[a] != nd[b] || nd[o] != nd[a]) return 0;
    for (int d = 0; d < nd[a]; d++)
        if (dims[(size_t)a * NNE_MAX_DIMS + d] != dims[(size_t)b * NNE_MAX_DIMS + d] ||
            dims[(size_t)o * NNE_MAX_DIMS + d] != dims[(size_t)a * NNE_MAX_DIMS + d])
            return 0;
    return 1;
}

static void group_value(const nne_graph *g, const nne_graph_uses *u, const int64_t *dims, const int *nd, int v,
                        int64_t C, int depth, group *gr) {
    follow *f = &gr->f;
    if (!f->ok || gr->vis[v]) return;
    gr->vis[v] = 1;
    const nne_value *val = &g->values[v];
    if (depth > 4096 || val->is_output || val->kind != NNE_VAL_NODE || nd[v] < 2 ||
        dims[(size_t)v * NNE_MAX_DIMS + 1] != C) {
        f->ok = 0;
        return;
    }
    /* backwards: where the channels come from */
    int pi = gr->producer_of[v];
    const nne_node *p = pi >= 0 ? &g->nodes[pi] : NULL;
    if (!p || p->dead) {
        f->ok = 0;
    } else if (prunable_producer(g, p) && p->out[0] == v) {
        if (gr->np == gr->capp) {
            int cap = gr->capp ? gr->capp * 2 : 8;
            int *q = realloc(gr->prod, (size_t)cap * sizeof *q);
            if (!q) {
                f->ok = 0;
                return;
            }
            gr->prod = q;
            gr->capp = cap;
        }
        gr->prod[gr->np++] = pi;
    } else if (is_op(p, "BatchNormalization") && p->n_out == 1) {
        for (int k = 1; k < 5 && f->ok; k++)
            if (k >= p->n_in || p->in[k] < 0 || g->values[p->in[k]].kind != NNE_VAL_CONST) f->ok = 0;
        add_job(f, S_BN, pi, 0, 0, C);
        if (f->ok) group_value(g, u, dims, nd, p->in[0], C, depth + 1, gr);
    } else if (is_passthrough(p) && p->out[0] == v) {
        for (int o = 1; o < p->n_out; o++)
            if (p->out[o] >= 0 && nne_uses_count(u, p->out[o])) f->ok = 0;
        if (f->ok) group_value(g, u, dims, nd, p->in[0], C, depth + 1, gr);
    } else if (add_aligned(g, p, dims, nd)) {
        group_value(g, u, dims, nd, p->in[0], C, depth + 1, gr);
        group_value(g, u, dims, nd, p->in[1], C, depth + 1, gr);
    } else {
        f->ok = 0;
    }
    /* forwards: who reads them */
    for (int q = u->start[v]; q < u->start[v + 1] && f->ok; q++) {
        int ni = u->use[q].node, slot = u->use[q].slot;
        const nne_node *n = &g->nodes[ni];
        if (n->n_out < 1 || n->out[0] < 0) {
            f->ok = 0;
        } else if (add_aligned(g, n, dims, nd)) {
            group_value(g, u, dims, nd, n->out[0], C, depth + 1, gr);
        } else if (slot != 0) {
            f->ok = 0;
        } else if (is_op(n, "Conv") && nne_train_attr_i(n, "group", 1) == 1 && weight_value(g, n) >= 0) {
            add_job(f, S_CONV_IN, ni, 0, 0, C);
        } else if ((is_op(n, "Gemm") && !nne_train_attr_i(n, "transA", 0)) || is_op(n, "MatMul")) {
            if (weight_value(g, n) < 0 || nd[v] != 2) f->ok = 0;
            else add_job(f, S_GEMM_K, ni, 1, 0, C);
        } else if (is_op(n, "BatchNormalization") || (is_passthrough(n) && (n->n_out == 1 || is_op(n, "Dropout")))) {
            /* its output's producer is this node: visited from there */
            group_value(g, u, dims, nd, n->out[0], C, depth + 1, gr);
        } else if (is_op(n, "Flatten") && nne_train_attr_i(n, "axis", 1) == 1) {
            int64_t sp = 1;
            for (int d = 2; d < nd[v]; d++) sp *= dims[(size_t)v * NNE_MAX_DIMS + d];
            follow_value(g, u, dims, nd, n->out[0], sp, 0, C, depth + 1, f);
        } else {
            f->ok = 0;
        }
    }
}

/* Replace initializer v's data by t (owned), shape and declared type. */
static void set_init(nne_graph *g, int v, nne_tensor *t) {
    nne_value *val = &g->values[v];
    if (!val->init_borrowed) nne_aligned_free(val->init.data);
    val->init = *t;
    val->init_borrowed = 0;
    val->init_src = NULL;
    val->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) {
        val->dims[d] = t->dims[d];
        nne_free(val->dim_names[d]);
        val->dim_names[d] = NULL;
    }
}

/* Node ni's input `slot` gets an initializer of its own when another node
 * (or slot) reads the same one (exporters merge equal initializers: two
 * fresh BatchNormalizations share their scale), so slicing it for this node
 * leaves the others as they are. The new value's index goes to *v. */
static nne_status prune_unshare(nne_graph *g, int ni, int slot, int *v) {
    int old = g->nodes[ni].in[slot], uses = g->values[old].is_output;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; !g->nodes[i].dead && k < g->nodes[i].n_in; k++) uses += g->nodes[i].in[k] == old;
    *v = old;
    if (uses <= 1) return NNE_OK;
    char name[512];
    int nv = -1;
    for (int serial = 0; serial < 100000; serial++) {
        snprintf(name, sizeof name, "%.400s_pruned%d", g->values[old].name, serial);
        if (nne_graph_find(g, name) < 0) break;
    }
    nne_tensor t = g->values[old].init;
    size_t nb = nne_tensor_nbytes(&t);
    t.data = nne_aligned_alloc(nb ? nb : 64);
    if (!t.data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
    if (nb) memcpy(t.data, nne_value_init_bytes(&g->values[old]), nb);
    NNE_TRY(nne_graph_add_initializer(g, name, &t, &nv));
    g->values[nv].dtype = t.dtype;
    g->values[nv].ndim = t.ndim;
    for (int d = 0; d < t.ndim; d++) g->values[nv].dims[d] = t.dims[d];
    g->nodes[ni].in[slot] = nv;
    *v = nv;
    return NNE_OK;
}

/* Keep the entries of axis `axis` of node ni's initializer input `slot`
 * listed in keep[0..nk), in blocks of `block` consecutive entries per channel. */
static nne_status slice_init(nne_graph *g, int ni, int slot, int axis, const int64_t *keep, int64_t nk,
                             int64_t block) {
    int v;
    NNE_TRY(prune_unshare(g, ni, slot, &v));
    nne_tensor *w = &g->values[v].init;
    if (axis >= w->ndim) return nne_error(NNE_ERR_INTERNAL, "prune: axis %d of \"%s\"", axis, g->values[v].name);
    int64_t outer = 1, inner = 1, len = w->dims[axis];
    for (int d = 0; d < axis; d++) outer *= w->dims[d];
    for (int d = axis + 1; d < w->ndim; d++) inner *= w->dims[d];
    nne_tensor t = *w;
    t.dims[axis] = nk * block;
    float *nd = nne_aligned_alloc((size_t)(outer * nk * block * inner > 0 ? outer * nk * block * inner : 1) * sizeof(float));
    if (!nd) return nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
    const float *src = w->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < nk; k++)
            memcpy(nd + (o * nk * block + k * block) * inner, src + (o * len + keep[k] * block) * inner,
                   (size_t)(block * inner) * sizeof(float));
    t.data = nd;
    set_init(g, v, &t);
    return NNE_OK;
}

typedef struct ch_norm {
    float l1;
    int64_t idx;
} ch_norm;
static int cmp_norm_desc(const void *a, const void *b) {
    const ch_norm *x = a, *y = b;
    if (x->l1 != y->l1) return x->l1 > y->l1 ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}
static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Output channels of a prunable producer (Conv W rows, Gemm B' columns). */
static int64_t producer_channels(const nne_graph *g, const nne_node *n) {
    const nne_tensor *w = &g->values[n->in[1]].init;
    return is_op(n, "Conv") || nne_train_attr_i(n, "transB", 0) ? w->dims[0] : w->dims[1];
}

/* L1 norm of each output channel of producer n, added to l1[0..M). */
static void producer_l1(const nne_graph *g, const nne_node *n, double *l1) {
    int is_conv = is_op(n, "Conv"), tb = !is_conv && nne_train_attr_i(n, "transB", 0);
    const nne_tensor *w = &g->values[n->in[1]].init;
    int64_t M = producer_channels(g, n), per = nne_tensor_numel(w) / M;
    const float *wd = w->data;
    for (int64_t c = 0; c < M; c++) {
        double s = 0;
        for (int64_t k = 0; k < per; k++) s += fabs(is_conv || tb ? wd[c * per + k] : wd[k * M + c]);
        l1[c] += s;
    }
}

/* Keep the channels keep[0..nk) (ascending) of producer ni: weight rows or
 * columns, bias. */
static nne_status slice_producer(nne_graph *g, int ni, const int64_t *keep, int64_t nk) {
    const nne_node *n = &g->nodes[ni];
    int is_conv = is_op(n, "Conv"), tb = !is_conv && nne_train_attr_i(n, "transB", 0);
    int64_t M = producer_channels(g, n);
    NNE_TRY(slice_init(g, ni, 1, is_conv || tb ? 0 : 1, keep, nk, 1));
    n = &g->nodes[ni]; /* (nodes do not move, values may have) */
    if (n->n_in > 2 && n->in[2] >= 0 && g->values[n->in[2]].kind == NNE_VAL_CONST &&
        g->values[n->in[2]].init.ndim == 1 && g->values[n->in[2]].init.dims[0] == M)
        NNE_TRY(slice_init(g, ni, 2, 0, keep, nk, 1));
    return NNE_OK;
}

/* The consumers' (and BatchNormalizations') side of keeping keep[0..nk) of
 * the M channels followed in f. */
static nne_status slice_jobs(nne_graph *g, const follow *f, const int64_t *keep, int64_t nk, int64_t M) {
    nne_status st = NNE_OK;
    for (int j = 0; j < f->n && st == NNE_OK; j++) {
        int ci = f->jobs[j].node;
        const nne_node *c = &g->nodes[ci];
        /* the kept channels in this consumer's channel space: all of the
         * other Concat inputs' channels, the producer's kept ones */
        int64_t off = f->jobs[j].off, total = f->jobs[j].total, nck = 0;
        int64_t *ck = nne_calloc((size_t)(total > 0 ? total : 1), sizeof *ck);
        if (!ck) return nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
        for (int64_t q = 0; q < off; q++) ck[nck++] = q;
        for (int64_t k = 0; k < nk; k++) ck[nck++] = off + keep[k];
        for (int64_t q = off + M; q < total; q++) ck[nck++] = q;
        if (f->jobs[j].kind == S_BN) {
            for (int k = 1; k < 5 && st == NNE_OK; k++) st = slice_init(g, ci, k, 0, ck, nck, 1);
        } else if (f->jobs[j].kind == S_CONV_IN) {
            st = slice_init(g, ci, 1, 1, ck, nck, 1);
        } else {
            int ctb = is_op(c, "Gemm") && nne_train_attr_i(c, "transB", 0);
            st = slice_init(g, ci, 1, ctb ? 1 : 0, ck, nck, f->jobs[j].block);
        }
        nne_free(ck);
    }
    return st;
}

/* The (1 - R) channels of largest l1 (at least one), ascending, into keep;
 * their count. */
static int64_t keep_largest(const double *l1, int64_t M, double R, ch_norm *norms, int64_t *keep) {
    int64_t nk = M - (int64_t)floor(R * (double)M);
    if (nk < 1) nk = 1;
    for (int64_t c = 0; c < M; c++) norms[c].l1 = (float)l1[c], norms[c].idx = c;
    qsort(norms, (size_t)M, sizeof *norms, cmp_norm_desc);
    for (int64_t k = 0; k < nk && k < M; k++) keep[k] = norms[k].idx;
    qsort(keep, (size_t)nk, sizeof *keep, cmp_i64);
    return nk;
}

static nne_status prune_structured(nne_model *m, const nne_prune_options *o, nne_prune_report *r) {
    nne_graph *g = m->graph;
    nne_status st = NNE_OK;
    int64_t *dims = NULL;
    int *nd = NULL, *producer_of = NULL;
    uint8_t *done = nne_calloc((size_t)g->n_nodes + 1, 1);
    nne_graph_uses u;
    memset(&u, 0, sizeof u);
    group gr;
    memset(&gr, 0, sizeof gr);
    ch_norm *norms = NULL;
    int64_t *keep = NULL;
    double *l1 = NULL;
    if (!done) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
        goto done;
    }
    if ((st = nne_graph_uses_build(g, &u)) != NNE_OK) goto done;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        nne_node *n = &g->nodes[ni];
        if (done[ni] || !prunable_producer(g, n)) continue;
        /* the shapes as the earlier layers left them (values may have been added) */
        nne_free(dims);
        nne_free(nd);
        nne_free(producer_of);
        nne_free(gr.vis);
        gr.vis = NULL;
        dims = nne_calloc((size_t)g->n_values * NNE_MAX_DIMS + 1, sizeof(int64_t));
        nd = nne_calloc((size_t)g->n_values + 1, sizeof(int));
        producer_of = nne_calloc((size_t)g->n_values + 1, sizeof(int));
        gr.vis = nne_calloc((size_t)g->n_values + 1, 1);
        if (!dims || !nd || !producer_of || !gr.vis) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
            goto done;
        }
        if ((st = shapes_infer(m, dims, nd)) != NNE_OK) goto done;
        int64_t M = producer_channels(g, n);
        /* alone: every path from its output ends at a consumer */
        gr.f.n = 0;
        gr.f.ok = 1;
        gr.np = 0;
        follow_value(g, &u, dims, nd, n->out[0], 0, 0, M, 0, &gr.f);
        if (gr.f.ok) {
            if (gr.capp == 0) {
                gr.prod = malloc(8 * sizeof *gr.prod);
                gr.capp = gr.prod ? 8 : 0;
            }
            if (!gr.prod) {
                st = nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
                goto done;
            }
            gr.prod[gr.np++] = ni;
        } else {
            /* with the layers it meets in residual Adds */
            for (int v = 0; v < g->n_values; v++) producer_of[v] = -1;
            for (int k = 0; k < g->n_nodes; k++)
                for (int q = 0; !g->nodes[k].dead && q < g->nodes[k].n_out; q++)
                    if (g->nodes[k].out[q] >= 0) producer_of[g->nodes[k].out[q]] = k;
            gr.producer_of = producer_of;
            gr.f.n = 0;
            gr.f.ok = 1;
            group_value(g, &u, dims, nd, n->out[0], M, 0, &gr);
            for (int k = 0; gr.f.ok && k < gr.np; k++)
                if (producer_channels(g, &g->nodes[gr.prod[k]]) != M) gr.f.ok = 0;
        }
        for (int j = 0; j < gr.f.n; j++) /* a Gemm reached through Flatten needs known spatial sizes */
            if (gr.f.jobs[j].block <= 0 && gr.f.jobs[j].kind == S_GEMM_K) gr.f.ok = 0;
        for (int k = 0; k < gr.np; k++) done[gr.prod[k]] = 1; /* pruned or not, decided for the group */
        if (!gr.f.ok || gr.np == 0) continue;
        nne_free(norms);
        nne_free(keep);
        nne_free(l1);
        norms = nne_calloc((size_t)M, sizeof *norms);
        keep = nne_calloc((size_t)M, sizeof *keep);
        l1 = nne_calloc((size_t)M, sizeof *l1);
        if (!norms || !keep || !l1) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "prune: out of memory");
            goto done;
        }
        /* rank the channels by their L1 norms summed over the group's producers */
        for (int k = 0; k < gr.np; k++) producer_l1(g, &g->nodes[gr.prod[k]], l1);
        int64_t nk = keep_largest(l1, M, o->sparsity, norms, keep);
        if (nk >= M) continue;
        for (int k = 0; k < gr.np; k++)
            if ((st = slice_producer(g, gr.prod[k], keep, nk)) != NNE_OK) goto done;
        if ((st = slice_jobs(g, &gr.f, keep, nk, M)) != NNE_OK) goto done;
        r->layers += gr.np;
        r->channels_removed += (M - nk) * gr.np;
    }
    /* declared shapes of activations are stale now: let readers infer them */
    for (int v = 0; v < g->n_values; v++) {
        nne_value *val = &g->values[v];
        if (val->kind == NNE_VAL_NODE && !val->is_output && val->in_value_info) {
            val->in_value_info = 0;
            val->ndim = -1;
        }
    }
done:
    nne_graph_uses_free(&u);
    nne_free(dims);
    nne_free(nd);
    nne_free(producer_of);
    nne_free(gr.vis);
    nne_free(done);
    free(gr.f.jobs);
    free(gr.prod);
    nne_free(norms);
    nne_free(keep);
    nne_free(l1);
    return st;
}

static void count_weights(const nne_model *m, int64_t *n, int64_t *zeros) {
    const nne_graph *g = m->graph;
    *n = *zeros = 0;
    uint8_t *seen = nne_calloc((size_t)g->n_values + 1, 1);
    for (int ni = 0; ni < g->n_nodes; ni++) {
        int v = weight_value(g, &g->nodes[ni]);
        if (v < 0 || (seen && seen[v])) continue;
        if (seen) seen[v] = 1;
        const nne_tensor *w = &g->values[v].init;
        const float *d = nne_value_init_bytes(&g->values[v]);
        int64_t c = nne_tensor_numel(w);
        *n += c;
        for (int64_t i = 0; d && i < c; i++) *zeros += d[i] == 0.0f;
    }
    nne_free(seen);
}

nne_status nne_model_prune(nne_model *m, const nne_prune_options *opt, nne_prune_report *r) {
    nne_prune_report rep;
    memset(&rep, 0, sizeof rep);
    if (!m || !m->graph || !opt) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_prune: NULL argument");
    nne_prune_options oo = nne_prune_options_default();
    NNE_TRY(nne_options_read(&oo, sizeof oo, opt, "nne_prune_options"));
    const nne_prune_options *o = &oo;
    if (!(o->sparsity >= 0 && o->sparsity < 1) || !(o->threshold_ratio >= 0 && o->threshold_ratio < 1) ||
        (o->threshold_ratio > 0 && (o->sparsity > 0 || o->structured)))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_prune: give sparsity in [0, 1) or (unstructured only) a "
                         "threshold ratio in (0, 1)");
    if (__atomic_load_n(&m->shared, __ATOMIC_ACQUIRE))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_prune: sessions were created on this model; prune right "
                         "after loading");
    NNE_TRY(nne_model_weights_ready(m));
    count_weights(m, &rep.weights_before, &rep.zeros_before);
    if (rep.weights_before == 0)
        return nne_error(NNE_ERR_INVALID_ARG, "prune: the model has no float Conv, Gemm or MatMul weights to prune");
    nne_status st = o->structured ? prune_structured(m, o, &rep) : prune_unstructured(m, o, &rep);
    count_weights(m, &rep.weights_after, &rep.zeros_after);
    if (r) *r = rep;
    return st;
}
