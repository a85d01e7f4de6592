/*
 * optimize.c - the pass manager behind nne_model_optimize.
 *
 * Level basic runs the pass list Identity removal, constant folding, CSE,
 * dead-node removal, BatchNormalization and Conv scale folding and the
 * Reshape/Transpose chain rules; level all adds pattern recognition
 * (LayerNormalization, GELU) and epilogue fusion (activation, bias and
 * residual into Conv/Gemm/MatMul, ONNX Runtime's contrib ops where they
 * exist). The list is repeated while a round changes something (folding exposes duplicates,
 * removing duplicates exposes dead nodes), at most MAX_ROUNDS times. After
 * each pass the graph is compacted (so indices are dense again) and, in debug
 * builds or with NNE_VALIDATE=1, validated; a pass that breaks an invariant
 * stops the pipeline with NNE_ERR_INTERNAL naming the pass.
 *
 * Models are shared read-only by sessions, so optimization is an edit of the
 * model done before it is shared: the first session made on a model marks it
 * shared for good, and nne_model_optimize refuses from then on (state made
 * for a session, such as cached packed weights, may outlive the session).
 */
#include "ir/passes.h"
#include "core/core.h"

#include <string.h>
#include <time.h>

#define MAX_ROUNDS 8

typedef struct pass_entry {
    const char *name;
    nne_opt_level level; /* lowest level that runs it */
    nne_pass_fn run;
    int final; /* runs once the rounds reach a fixed point (then the rounds again if it changed something) */
} pass_entry;

static const pass_entry k_passes[] = {
    /* first: constant folding would turn the weights' DequantizeLinear into float */
    {"qdq_fusion", NNE_OPT_ALL, nne_pass_qdq_fusion, 0},
    {"identity_elimination", NNE_OPT_BASIC, nne_pass_identity, 0},
    {"constant_folding", NNE_OPT_BASIC, nne_pass_constant_folding, 0},
    {"cse", NNE_OPT_BASIC, nne_pass_cse, 0},
    {"dead_node_elimination", NNE_OPT_BASIC, nne_pass_dead_nodes, 0},
    {"shape_folding", NNE_OPT_BASIC, nne_pass_shape_folding, 0},
    {"batchnorm_folding", NNE_OPT_BASIC, nne_pass_bn_fold, 0},
    {"conv_scale_folding", NNE_OPT_BASIC, nne_pass_conv_scale, 0},
    {"reshape_chains", NNE_OPT_BASIC, nne_pass_reshape_chains, 0},
    {"pattern_fusion", NNE_OPT_ALL, nne_pass_patterns, 0},
    {"attention_fusion", NNE_OPT_ALL, nne_pass_attention, 0},
    {"epilogue_fusion", NNE_OPT_ALL, nne_pass_fuse_epilogue, 0},
    {"affine_fusion", NNE_OPT_ALL, nne_pass_affine, 0},
    /* last: the weights' DequantizeLinear that no int8 op took (a float layer
     * of a QDQ model, e.g. a classifier whose output is the graph's) become
     * float initializers, so the layer packs them once as in a float model */
    {"dequantize_folding", NNE_OPT_ALL, nne_pass_fold_dequantize, 1},
};

nne_status nne_pass_add_const(nne_graph *g, const char *base, nne_tensor *t, int *out_v) {
    int v = -1;
    nne_status st = nne_graph_add_unique_value(g, base, NNE_VAL_CONST, &v);
    if (st != NNE_OK) {
        nne_aligned_free(t->data);
        t->data = NULL;
        return st;
    }
    nne_value *val = &g->values[v];
    val->kind = NNE_VAL_CONST;
    val->producer = -1;
    val->vtype = NNE_VT_TENSOR;
    val->init = *t;
    val->dtype = t->dtype;
    val->ndim = t->ndim;
    for (int d = 0; d < NNE_MAX_DIMS; d++) val->dims[d] = d < t->ndim ? t->dims[d] : 0;
    t->data = NULL;
    *out_v = v;
    return NNE_OK;
}

nne_status nne_pass_set_op(nne_pass_ctx *ctx, nne_graph *g, int ni, const char *op_type, const char *domain,
                           int opset) {
    nne_node *n = &g->nodes[ni];
    char *ty = nne_strdup(op_type), *dom = nne_strdup(domain);
    if (!ty || !dom) {
        nne_free(ty);
        nne_free(dom);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
    }
    nne_model *m = ctx->m;
    if (m && domain[0] && nne_model_opset_for(m, domain) < 0) {
        nne_opset_id *ids = nne_realloc(m->opsets, ((size_t)m->n_opsets + 1) * sizeof *ids);
        char *d2 = nne_strdup(domain);
        if (!ids || !d2) {
            if (ids) m->opsets = ids;
            nne_free(d2);
            nne_free(ty);
            nne_free(dom);
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
        }
        m->opsets = ids;
        ids[m->n_opsets].domain = d2;
        ids[m->n_opsets].version = 1;
        m->n_opsets++;
    }
    nne_free(n->op_type);
    nne_free(n->domain);
    n->op_type = ty;
    n->domain = dom;
    n->opset = opset;
    n->op = nne_op_find(domain, op_type);
    return NNE_OK;
}

void nne_pass_move_output(nne_graph *g, int ni, int o, int to) {
    nne_node *n = &g->nodes[ni];
    int old = n->out[o];
    if (old >= 0) {
        g->values[old].kind = NNE_VAL_PENDING; /* unused now: compaction drops it */
        g->values[old].producer = -1;
    }
    n->out[o] = to;
    g->values[to].kind = NNE_VAL_NODE;
    g->values[to].producer = ni;
}

nne_status nne_pass_set_attr_floats(nne_graph *g, int ni, const char *name, int n, const float *v) {
    nne_attr *a = NULL;
    NNE_TRY(nne_node_add_attr(g, ni, &a));
    a->name = nne_strdup(name);
    a->type = NNE_ATTR_FLOATS;
    a->n = n;
    a->floats = nne_malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!a->name || !a->floats) return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
    if (n) memcpy(a->floats, v, (size_t)n * sizeof(float));
    return NNE_OK;
}

void nne_pass_drop_pages(nne_pass_ctx *ctx, const nne_value *v) {
    if (v->init_borrowed && v->init.data) nne_model_drop_pages(ctx->m, v->init.data, nne_tensor_nbytes(&v->init));
}

const float *nne_pass_const_f32(nne_pass_ctx *ctx, const nne_graph *g, int v, int64_t *numel) {
    const nne_tensor *t = v >= 0 ? nne_graph_const_value(g, v, ctx->m ? ctx->m->ir_version : 13) : NULL;
    if (!t || t->dtype != NNE_DTYPE_FLOAT || (!t->data && nne_tensor_numel(t) > 0)) return NULL;
    if (numel) *numel = nne_tensor_numel(t);
    static const float empty[1] = {0};
    return t->data ? t->data : empty;
}

nne_status nne_opt_level_parse(const char *s, nne_opt_level *out) {
    if (!s || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_opt_level_parse: NULL argument");
    if (!strcmp(s, "none") || !strcmp(s, "0")) *out = NNE_OPT_NONE;
    else if (!strcmp(s, "basic") || !strcmp(s, "1")) *out = NNE_OPT_BASIC;
    else if (!strcmp(s, "all") || !strcmp(s, "2")) *out = NNE_OPT_ALL;
    else return nne_error(NNE_ERR_INVALID_ARG, "optimization level \"%s\": expected none, basic or all", s);
    return NNE_OK;
}

int nne_graph_count_nodes(const nne_graph *g) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        n++;
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g) n += nne_graph_count_nodes(g->nodes[i].attrs[a].g);
    }
    return n;
}

const nne_tensor *nne_graph_const_value(const nne_graph *g, int v, int64_t ir_version) {
    while (v >= 0 && g->values[v].kind == NNE_VAL_OUTER && g->parent) {
        v = g->values[v].outer;
        g = g->parent;
    }
    /* a trainable parameter changes between runs: never a constant to a pass */
    if (v < 0 || g->values[v].kind != NNE_VAL_CONST || g->values[v].trainable) return NULL;
    /* from IR 4 on, an initializer listed as a graph input is only a default
     * that a caller may override (ONNX IR.md); older files list every
     * initializer as an input and mean constants */
    if (ir_version >= 4)
        for (int i = 0; i < g->n_inputs; i++)
            if (g->inputs[i] == v) return NULL;
    return &g->values[v].init;
}

nne_status nne_alias_init(nne_alias *a, const nne_graph *g) {
    a->n = g->n_values;
    a->rep = nne_malloc(((size_t)a->n + 1) * sizeof(int));
    a->linked = nne_calloc((size_t)a->n + 1, 1);
    if (!a->rep || !a->linked) {
        nne_alias_free(a);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
    }
    for (int v = 0; v < a->n; v++) a->rep[v] = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_attr; k++) {
            const nne_graph *sg = g->nodes[i].attrs[k].g;
            for (int v = 0; sg && v < sg->n_values; v++)
                if (sg->values[v].kind == NNE_VAL_OUTER && sg->values[v].outer >= 0 && sg->values[v].outer < a->n)
                    a->linked[sg->values[v].outer] = 1;
        }
    return NNE_OK;
}

void nne_alias_free(nne_alias *a) {
    nne_free(a->rep);
    nne_free(a->linked);
    a->rep = NULL;
    a->linked = NULL;
}

int nne_alias_find(nne_alias *a, int v) {
    if (v < 0 || v >= a->n) return v;
    int r = v;
    while (a->rep[r] >= 0) r = a->rep[r];
    while (a->rep[v] >= 0) { /* path compression */
        int next = a->rep[v];
        a->rep[v] = r;
        v = next;
    }
    return r;
}

void nne_alias_inputs(nne_alias *a, nne_node *n) {
    for (int k = 0; k < n->n_in; k++) n->in[k] = nne_alias_find(a, n->in[k]);
}

nne_status nne_alias_can_replace(nne_alias *a, nne_graph *g, int old_v, int new_v) {
    return a->linked[old_v] ? nne_graph_can_replace_uses(g, old_v, new_v) : NNE_OK;
}

nne_status nne_alias_replace(nne_alias *a, nne_graph *g, int old_v, int new_v) {
    if (old_v == new_v) return NNE_OK;
    if (a->linked[old_v]) {
        NNE_TRY(nne_graph_replace_uses(g, old_v, new_v));
        a->linked[new_v] = 1;
    }
    a->rep[old_v] = new_v;
    return NNE_OK;
}

static size_t const_bytes(const nne_graph *g) {
    size_t total = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == NNE_VAL_CONST) total += nne_tensor_nbytes(&g->values[v].init);
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g) total += const_bytes(g->nodes[i].attrs[a].g);
    return total;
}

/* The inputs the caller feeds, after compaction renumbered the values. */
static void refresh_feed(nne_model *m) {
    const nne_graph *g = m->graph;
    m->n_feed = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].kind == NNE_VAL_INPUT) m->feed[m->n_feed++] = g->inputs[i];
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

nne_status nne_model_optimize(nne_model *m, nne_opt_level level, nne_opt_report *report) {
    if (report) memset(report, 0, sizeof *report);
    if (!m) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_optimize: NULL model");
    if (level < NNE_OPT_NONE || level > NNE_OPT_ALL)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_optimize: level %d is not none (0), basic (1) or all (2)",
                         (int)level);
    if (level == NNE_OPT_NONE) { /* changes nothing: fine on a shared model */
        if (report) report->nodes_before = report->nodes_after = nne_graph_count_nodes(m->graph);
        return NNE_OK;
    }
    /* once shared, a model is immutable: sessions, plans and weight caches
     * may keep pointers into its graph and initializers, even after the
     * sessions that made them are gone */
    if (__atomic_load_n(&m->shared, __ATOMIC_ACQUIRE))
        return nne_error(NNE_ERR_INVALID_ARG,
                         "nne_model_optimize: sessions were created on this model (%d still live); optimize a model "
                         "before creating any session on it",
                         __atomic_load_n(&m->n_sessions, __ATOMIC_ACQUIRE));
    /* passes read initializers through init.data: give unaligned mapped
     * weights their aligned copy first */
    nne_status wst = nne_model_weights_ready(m);
    if (wst != NNE_OK) return wst;
    nne_graph *g = m->graph;
    int before = nne_graph_count_nodes(g);
    nne_opt_report rep;
    memset(&rep, 0, sizeof rep);
    rep.nodes_before = rep.nodes_after = before;
    int np = 0;
    for (size_t p = 0; p < NNE_ARRAY_LEN(k_passes) && np < NNE_OPT_MAX_PASSES; p++)
        if (level >= k_passes[p].level) rep.passes[np++].name = k_passes[p].name;
    rep.num_passes = np;
    nne_pass_ctx ctx = {.m = m, .fold_budget = NNE_FOLD_BUDGET_BYTES + const_bytes(g)};
    int validate = nne_validate_enabled();
    nne_status st = NNE_OK;
    for (int round = 0, final = 0; np > 0 && round < MAX_ROUNDS && st == NNE_OK; round++) {
        int changed = 0;
        if (!final) rep.rounds++; /* (the final passes' round is not counted) */
        for (int p = 0, k = 0; p < (int)NNE_ARRAY_LEN(k_passes) && st == NNE_OK; p++) {
            if (level < k_passes[p].level) continue;
            nne_opt_pass_stats *ps = &rep.passes[k++];
            if (k_passes[p].final != final) continue;
            nne_pass_stats one = {0};
            double t0 = now_ms();
            st = k_passes[p].run(&ctx, g, &one);
            if (st == NNE_OK) st = nne_graph_compact_all(g);
            refresh_feed(m);
            ps->ms += now_ms() - t0;
            ps->runs++;
            ps->nodes_removed += one.removed;
            ps->nodes_added += one.added;
            ps->nodes_folded += one.folded;
            changed |= one.removed || one.added || one.folded;
            if (st == NNE_OK && validate && (st = nne_graph_validate(g)) != NNE_OK)
                nne_error_prefix("after pass %s", k_passes[p].name);
            else if (st != NNE_OK)
                nne_error_prefix("optimize: pass %s", k_passes[p].name);
        }
        if (final) final = 0; /* the rounds again after a change by the final passes */
        else if (!changed) final = 1;
        if (!changed && !final) break;
    }
    rep.nodes_after = nne_graph_count_nodes(g);
    for (int p = 0; p < np; p++) {
        const nne_opt_pass_stats *ps = &rep.passes[p];
        nne_log(NNE_LOG_INFO, "optimize: %s: %d nodes removed, %d added, %d folded (%d runs, %.2f ms)", ps->name,
                (int)ps->nodes_removed, (int)ps->nodes_added, (int)ps->nodes_folded, (int)ps->runs, ps->ms);
    }
    if (np) nne_log(NNE_LOG_INFO, "optimize: %d -> %d nodes in %d rounds", before, rep.nodes_after, rep.rounds);
    if (report) *report = rep;
    return st;
}
