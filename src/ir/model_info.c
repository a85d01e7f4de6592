/*
 * model_info.c - summaries of a loaded model for `nnedge info`: parameter
 * counts and sparsity, the op histogram (subgraphs included).
 */
#include "ir/graph.h"
#include "core/core.h"

#include <string.h>

static void stats_graph(const nne_graph *g, nne_model_stats *st) {
    for (int v = 0; v < g->n_values; v++) {
        const nne_value *val = &g->values[v];
        if (val->kind != NNE_VAL_CONST || !val->init.data) continue;
        int64_t n = nne_tensor_numel(&val->init);
        st->params += n;
        st->param_bytes += (int64_t)nne_tensor_nbytes(&val->init);
        size_t es = nne_dtype_size(val->init.dtype);
        const uint8_t *p = val->init.data;
        for (int64_t i = 0; i < n; i++) {
            int zero = 1;
            for (size_t b = 0; b < es && zero; b++) zero = p[(size_t)i * es + b] == 0;
            /* -0.0 counts as zero too */
            if (!zero && nne_dtype_is_float(val->init.dtype)) zero = nne_tensor_get_f64(&val->init, i) == 0.0;
            st->zero_params += zero;
        }
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g) stats_graph(g->nodes[i].attrs[a].g, st);
}

nne_status nne_model_stats_get(const nne_model *m, nne_model_stats *out) {
    if (!m || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_stats_get: NULL argument");
    memset(out, 0, sizeof *out);
    nne_status wst = nne_model_weights_ready(m); /* reads every weight through typed pointers */
    if (wst != NNE_OK) return wst;
    out->ir_version = m->ir_version;
    out->opset = nne_model_opset_for(m, "");
    out->num_nodes = m->graph->n_nodes;
    stats_graph(m->graph, out);
    return NNE_OK;
}

typedef struct op_count {
    const char *domain, *op_type;
    int count, supported;
} op_count;

static void count_ops(const nne_graph *g, op_count *tab, int *n, int cap) {
    for (int i = 0; i < g->n_nodes; i++) {
        const nne_node *nd = &g->nodes[i];
        int k;
        for (k = 0; k < *n; k++)
            if (!strcmp(tab[k].op_type, nd->op_type) && !strcmp(tab[k].domain, nd->domain)) break;
        if (k == *n) {
            if (*n >= cap) continue;
            tab[k] = (op_count){nd->domain, nd->op_type, 0, nd->op != NULL};
            (*n)++;
        }
        tab[k].count++;
        for (int a = 0; a < nd->n_attr; a++)
            if (nd->attrs[a].g) count_ops(nd->attrs[a].g, tab, n, cap);
    }
}

void nne_model_visit_ops(const nne_model *m, nne_op_visit_fn fn, void *user) {
    if (!m || !fn) return;
    op_count tab[512];
    int n = 0;
    count_ops(m->graph, tab, &n, 512);
    for (int i = 0; i < n; i++) fn(user, tab[i].domain, tab[i].op_type, tab[i].count, tab[i].supported);
}
