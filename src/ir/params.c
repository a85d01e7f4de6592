/*
 * params.c - trainable parameters: initializers a training loop updates
 * between runs.
 *
 * Marking an initializer trainable (before any plan or session exists on the
 * model) gives it data the model owns -- a weight used in place from the
 * mapped file is copied, since the mapping is read-only -- and sets
 * nne_value.trainable. From then on:
 *   - plans treat it as a variable of known shape: a node reading it is never
 *     constant-folded, and ops see it as non-constant, so no per-node state
 *     (folded BatchNormalization coefficients) or packed-weight cache entry
 *     is made from its values; runs read its buffer where it lies;
 *   - nne_model_param_set copies new values into that same buffer (the
 *     address never changes, so every existing plan and context sees the new
 *     values on its next run without preparing again) and bumps the
 *     parameter's version;
 *   - optimization passes (constant folding, fusions through
 *     nne_graph_const_value) do not treat it as a constant;
 *   - the ONNX writer writes its current values (it reads the buffer).
 * Parameters are top-level initializers, numbered in value order.
 */
#include "ir/graph.h"
#include "core/core.h"

#include <string.h>

/* Value index of parameter i of the top-level graph, -1 when out of range. */
static int param_value(const nne_model *m, int32_t i) {
    if (!m || !m->graph || i < 0) return -1;
    const nne_graph *g = m->graph;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == NNE_VAL_CONST && g->values[v].trainable && i-- == 0) return v;
    return -1;
}

int32_t nne_model_num_params(const nne_model *m) {
    int32_t n = 0;
    for (int v = 0; m && m->graph && v < m->graph->n_values; v++)
        n += m->graph->values[v].kind == NNE_VAL_CONST && m->graph->values[v].trainable;
    return n;
}

int32_t nne_model_param_find(const nne_model *m, const char *name) {
    if (!m || !m->graph || !name) return -1;
    int v = nne_graph_find(m->graph, name);
    if (v < 0 || !m->graph->values[v].trainable) return -1;
    int32_t k = 0;
    for (int u = 0; u < v; u++) k += m->graph->values[u].kind == NNE_VAL_CONST && m->graph->values[u].trainable;
    return k;
}

/* Make value v trainable: own its data (copy a borrowed or unaligned one). */
static nne_status mark(nne_model *m, int v) {
    nne_value *val = &m->graph->values[v];
    if (val->trainable) return NNE_OK;
    if (!nne_dtype_size(val->init.dtype))
        return nne_error(NNE_ERR_UNSUPPORTED, "nne_model_param_mark: initializer \"%s\" has dtype %s, which cannot be "
                         "a parameter", val->name, nne_dtype_name(val->init.dtype));
    if (val->init_borrowed || !val->init.data) {
        size_t nb = nne_tensor_nbytes(&val->init);
        nne_budget *prev = nne_budget_enter(m->budget); /* the model's memory, like its other weights */
        void *d = nne_aligned_alloc(nb ? nb : NNE_ALIGN);
        nne_budget_leave(prev);
        if (!d)
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_model_param_mark: cannot allocate %zu bytes for a writable "
                             "copy of \"%s\"", nb, val->name);
        const void *src = nne_value_init_bytes(val);
        if (nb && src) memcpy(d, src, nb);
        val->init.data = d;
        val->init_borrowed = 0;
    }
    val->trainable = 1;
    return NNE_OK;
}

static nne_status check_unshared(const nne_model *m, const char *fn) {
    if (__atomic_load_n(&m->shared, __ATOMIC_ACQUIRE))
        return nne_error(NNE_ERR_INVALID_ARG,
                         "%s: plans or sessions were created on this model; mark parameters before creating any "
                         "(load the model again to change them)", fn);
    return NNE_OK;
}

nne_status nne_model_param_mark(nne_model *m, const char *name) {
    if (!m || !m->graph || !name) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_param_mark: NULL argument");
    NNE_TRY(check_unshared(m, "nne_model_param_mark"));
    int v = nne_graph_find(m->graph, name);
    if (v < 0 || m->graph->values[v].kind != NNE_VAL_CONST)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_param_mark: the model's graph has no initializer named \"%s\"",
                         name);
    NNE_TRY(nne_model_weights_ready(m));
    return mark(m, v);
}

/* Ops whose float initializer inputs are the usual trainable weights. */
static int weight_op(const nne_node *n) {
    static const char *const ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization"};
    if (n->dead || (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)) return 0;
    for (size_t k = 0; k < NNE_ARRAY_LEN(ops); k++)
        if (strcmp(n->op_type, ops[k]) == 0) return 1;
    return 0;
}

nne_status nne_model_params_mark_default(nne_model *m, int32_t *n_marked) {
    if (n_marked) *n_marked = 0;
    if (!m || !m->graph) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_params_mark_default: NULL model");
    NNE_TRY(check_unshared(m, "nne_model_params_mark_default"));
    NNE_TRY(nne_model_weights_ready(m));
    nne_graph *g = m->graph;
    int32_t n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const nne_node *nd = &g->nodes[i];
        if (!weight_op(nd)) continue;
        for (int k = 0; k < nd->n_in; k++) {
            int v = nd->in[k];
            if (v < 0 || g->values[v].kind != NNE_VAL_CONST || g->values[v].trainable) continue;
            if (g->values[v].init.dtype != NNE_DTYPE_FLOAT) continue;
            /* the first input of a node is its activation: a constant one is
             * data, not a weight (MatMul(const, W) keeps only W) */
            if (k == 0 && strcmp(nd->op_type, "MatMul") != 0 && strcmp(nd->op_type, "Gemm") != 0) continue;
            NNE_TRY(mark(m, v));
            n++;
        }
    }
    if (n_marked) *n_marked = n;
    return NNE_OK;
}

nne_status nne_model_param_get(const nne_model *m, int32_t i, const char **name, nne_tensor *view,
                               uint64_t *version) {
    int v = param_value(m, i);
    if (v < 0) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_param_get: no parameter %d (the model has %d)", (int)i,
                                (int)nne_model_num_params(m));
    const nne_value *val = &m->graph->values[v];
    if (name) *name = val->name;
    if (view) *view = val->init;
    if (version) *version = __atomic_load_n(&val->param_version, __ATOMIC_ACQUIRE);
    return NNE_OK;
}

nne_status nne_model_param_set(nne_model *m, int32_t i, const nne_tensor *t) {
    if (!t) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_param_set: NULL tensor");
    int v = param_value(m, i);
    if (v < 0) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_param_set: no parameter %d (the model has %d)", (int)i,
                                (int)nne_model_num_params(m));
    nne_value *val = &m->graph->values[v];
    int same = t->dtype == val->init.dtype && t->ndim == val->init.ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->dims[d] == val->init.dims[d];
    if (!same) {
        char a[256], b[256];
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_param_set: parameter \"%s\" is %s %s, got %s %s", val->name,
                         nne_dtype_name(val->init.dtype), nne_dims_str(val->init.ndim, val->init.dims, a, sizeof a),
                         nne_dtype_name(t->dtype), nne_dims_str(t->ndim, t->dims, b, sizeof b));
    }
    size_t nb = nne_tensor_nbytes(t);
    if (nb && !t->data) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_param_set: data is NULL");
    if (nb && t->data != val->init.data) memmove(val->init.data, t->data, nb);
    __atomic_add_fetch(&val->param_version, 1, __ATOMIC_ACQ_REL);
    return NNE_OK;
}
