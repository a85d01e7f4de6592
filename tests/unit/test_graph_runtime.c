/*
 * test_graph_runtime.c - the graph layer's runtime hooks (issue 6): trainable
 * parameters (set a weight, the next run of an existing plan sees it;
 * optimize and prepare never fold or pack it; the writer writes the current
 * values), subgraph bodies planned once per input-shape signature, the
 * observer inside If/Loop bodies, and the memory budgets of the plan/context
 * API. Models are built in memory with the graph builder.
 */
#include "core/core.h"
#include "ir/graph.h"
#include "ir/session_internal.h"
#include "nnedge.h"
#include "unit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers: a model around a graph built with the builder ---- */

static nne_model *model_new(void) {
    nne_model *m = nne_model_new();
    m->graph = nne_graph_create(NULL);
    m->ir_version = 8;
    m->n_opsets = 1;
    m->opsets = nne_calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = nne_strdup("");
    m->opsets[0].version = 17;
    return m;
}

/* The feed list, as the loader makes it (after building). */
static void model_finish(nne_model *m) {
    nne_graph *g = m->graph;
    nne_free(m->feed);
    m->feed = nne_calloc((size_t)g->n_inputs + 1, sizeof(int));
    m->n_feed = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].kind == NNE_VAL_INPUT) m->feed[m->n_feed++] = g->inputs[i];
}

static int input_t(nne_graph *g, const char *name, nne_dtype dt, int ndim, const int64_t *dims) {
    int v = -1;
    nne_graph_add_input(g, name, &v);
    g->values[v].dtype = dt;
    g->values[v].ndim = ndim;
    for (int d = 0; d < ndim; d++) g->values[v].dims[d] = dims[d];
    return v;
}

static int init_t(nne_graph *g, const char *name, nne_dtype dt, int ndim, const int64_t *dims, const void *vals) {
    nne_tensor t = {.dtype = dt, .ndim = ndim};
    for (int d = 0; d < ndim; d++) t.dims[d] = dims[d];
    size_t nb = nne_tensor_nbytes(&t);
    t.data = nne_aligned_alloc(nb ? nb : 64);
    if (nb) memcpy(t.data, vals, nb);
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

/* Node op(ins...) -> one new value named out; returns the output value. */
static int node_n(nne_graph *g, const char *op, const char *out, int n_in, const int *in) {
    int ni = -1, v = nne_graph_add_value(g, out, NNE_VAL_NODE);
    nne_graph_add_node(g, op, "", out, 17, &ni);
    for (int k = 0; k < n_in; k++) nne_node_add_input(g, ni, in[k]);
    nne_node_add_output(g, ni, v);
    return v;
}

/* Run a plan's fresh context on x (input "x") and copy output 0 (ny floats). */
static nne_status ctx_run(nne_context *c, const nne_tensor *x, float *y, int ny) {
    NNE_TRY(nne_context_set_input(c, "x", x));
    NNE_TRY(nne_context_run(c));
    nne_tensor out;
    NNE_TRY(nne_context_output(c, 0, &out));
    if (out.dtype != NNE_DTYPE_FLOAT || nne_tensor_numel(&out) != ny) return NNE_ERR_INTERNAL;
    memcpy(y, out.data, (size_t)ny * sizeof(float));
    return NNE_OK;
}

/* ---- trainable parameters ---- */

/* y = MatMul(x, W) + MatMul(x, Transpose(Wt)); x [M,K], W [K,N], Wt [N,K].
 * BatchNormalization-free, so the expected output is easy to compute. */
#define TM 9
#define TK 16
#define TN 12
static nne_model *mm_model(const float *w, const float *wt) {
    nne_model *m = model_new();
    nne_graph *g = m->graph;
    int x = input_t(g, "x", NNE_DTYPE_FLOAT, 2, (int64_t[]){TM, TK});
    int W = init_t(g, "W", NNE_DTYPE_FLOAT, 2, (int64_t[]){TK, TN}, w);
    int Wt = init_t(g, "Wt", NNE_DTYPE_FLOAT, 2, (int64_t[]){TN, TK}, wt);
    int a = node_n(g, "MatMul", "a", 2, (int[]){x, W});
    int t = node_n(g, "Transpose", "t", 1, (int[]){Wt});
    int b = node_n(g, "MatMul", "b", 2, (int[]){x, t});
    int y = node_n(g, "Add", "y", 2, (int[]){a, b});
    nne_graph_add_output(g, y);
    model_finish(m);
    return m;
}

static void mm_expect(const float *x, const float *w, const float *wt, float *y) {
    for (int i = 0; i < TM; i++)
        for (int j = 0; j < TN; j++) {
            double s = 0;
            for (int k = 0; k < TK; k++) s += (double)x[i * TK + k] * (w[k * TN + j] + wt[j * TK + k]);
            y[i * TN + j] = (float)s;
        }
}

static int close_all(const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > 1e-4f * (1 + fabsf(b[i]))) return 0;
    return 1;
}

static void test_params(void) {
    float w[TK * TN], wt[TN * TK], x[TM * TK], y[TM * TN], e[TM * TN];
    for (int i = 0; i < TK * TN; i++) w[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    for (int i = 0; i < TN * TK; i++) wt[i] = (float)((i * 5) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < TM * TK; i++) x[i] = (float)((i * 3) % 17) / 17.0f - 0.5f;
    nne_tensor xt = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {TM, TK}, .data = x};
    const char *nm = "x";

    nne_model *m = mm_model(w, wt);
    int32_t nmark = -1;
    CHECK(nne_model_num_params(m) == 0 && nne_model_param_find(m, "W") == -1);
    CHECK(nne_model_params_mark_default(m, &nmark) == NNE_OK && nmark == 1); /* W feeds a MatMul; Wt a Transpose */
    CHECK(nne_model_param_mark(m, "Wt") == NNE_OK);
    CHECK(nne_model_param_mark(m, "nope") == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "nope"));
    CHECK(nne_model_num_params(m) == 2);
    int32_t iw = nne_model_param_find(m, "W"), iwt = nne_model_param_find(m, "Wt");
    CHECK(iw >= 0 && iwt >= 0 && iw != iwt);
    /* optimize must not fold the trainable subexpression Transpose(Wt) */
    CHECK(nne_model_optimize(m, NNE_OPT_ALL, NULL) == NNE_OK);
    int transposes = 0;
    for (int i = 0; i < m->graph->n_nodes; i++) transposes += !strcmp(m->graph->nodes[i].op_type, "Transpose");
    CHECK(transposes == 1);
    iw = nne_model_param_find(m, "W");
    iwt = nne_model_param_find(m, "Wt");

    nne_plan *p = NULL;
    nne_context *c = NULL;
    CHECK(nne_plan_create(m, NULL, 1, &nm, &xt, &p) == NNE_OK);
    CHECK(p && nne_context_create(p, &c) == NNE_OK);
    if (!c) goto out;
    int folded, planned, dyn;
    nne_plan_debug_counts(p, &folded, &planned, &dyn);
    CHECK(folded == 0 && dyn == 0); /* Transpose(Wt) is not folded at prepare either */
    int entries;
    size_t bytes;
    nne_model_wcache_stats(m, &entries, &bytes);
    CHECK(entries == 0); /* no packed copy of a parameter */
    CHECK(nne_model_param_mark(m, "W") == NNE_ERR_INVALID_ARG); /* the model is shared now */
    CHECK(ctx_run(c, &xt, y, TM * TN) == NNE_OK);
    mm_expect(x, w, wt, e);
    CHECK(close_all(y, e, TM * TN));
    /* new weights: the same plan and context see them on the next run */
    for (int i = 0; i < TK * TN; i++) w[i] = w[i] * -2.0f + 0.25f;
    for (int i = 0; i < TN * TK; i++) wt[i] = wt[i] * 3.0f - 0.125f;
    nne_tensor wv = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {TK, TN}, .data = w};
    nne_tensor wtv = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {TN, TK}, .data = wt};
    uint64_t ver0 = 9, ver1 = 9;
    CHECK(nne_model_param_get(m, iw, NULL, NULL, &ver0) == NNE_OK && ver0 == 0);
    CHECK(nne_model_param_set(m, iw, &wv) == NNE_OK && nne_model_param_set(m, iwt, &wtv) == NNE_OK);
    CHECK(nne_model_param_set(m, iw, &wtv) == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "\"W\""));
    const char *pname = NULL;
    nne_tensor view;
    CHECK(nne_model_param_get(m, iw, &pname, &view, &ver1) == NNE_OK && ver1 == 1 && pname &&
          !strcmp(pname, "W") && !memcmp(view.data, w, sizeof w));
    CHECK(ctx_run(c, &xt, y, TM * TN) == NNE_OK);
    mm_expect(x, w, wt, e);
    CHECK(close_all(y, e, TM * TN));
    /* the writer writes the current values */
    void *buf = NULL;
    size_t size = 0;
    CHECK(nne_model_save_memory(m, &buf, &size) == NNE_OK);
    nne_model *m2 = NULL;
    CHECK(buf && nne_model_load_memory(buf, size, NULL, NULL, &m2) == NNE_OK);
    if (m2) {
        int v = nne_graph_find(m2->graph, "W");
        CHECK(v >= 0 && m2->graph->values[v].init.data && !memcmp(m2->graph->values[v].init.data, w, sizeof w));
    }
    nne_model_destroy(m2);
    nne_buffer_free(buf);
out:
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(m);

    /* BatchNormalization: the plan folds constant coefficients once; marked
     * ones must be read at every run */
    nne_model *mb = model_new();
    nne_graph *g = mb->graph;
    float sc[2] = {1, 2}, bi[2] = {0, 1}, mn[2] = {0, 0}, vr[2] = {1, 1};
    int bx = input_t(g, "x", NNE_DTYPE_FLOAT, 4, (int64_t[]){1, 2, 1, 2});
    int s = init_t(g, "s", NNE_DTYPE_FLOAT, 1, (int64_t[]){2}, sc);
    int b = init_t(g, "b", NNE_DTYPE_FLOAT, 1, (int64_t[]){2}, bi);
    int mv = init_t(g, "m", NNE_DTYPE_FLOAT, 1, (int64_t[]){2}, mn);
    int vv = init_t(g, "v", NNE_DTYPE_FLOAT, 1, (int64_t[]){2}, vr);
    int by = node_n(g, "BatchNormalization", "y", 5, (int[]){bx, s, b, mv, vv});
    nne_graph_add_output(g, by);
    model_finish(mb);
    CHECK(nne_model_params_mark_default(mb, &nmark) == NNE_OK && nmark == 4);
    float bxd[4] = {1, 2, 3, 4}, byd[4];
    nne_tensor bxt = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {1, 2, 1, 2}, .data = bxd};
    CHECK(nne_plan_create(mb, NULL, 1, &nm, &bxt, &p) == NNE_OK);
    c = NULL;
    CHECK(p && nne_context_create(p, &c) == NNE_OK);
    if (c) {
        const float eps = 1e-5f;
        CHECK(ctx_run(c, &bxt, byd, 4) == NNE_OK && fabsf(byd[2] - (3 * 2 / sqrtf(1 + eps) + 1)) < 1e-4f);
        float sc2[2] = {-1, 4};
        nne_tensor st2 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {2}, .data = sc2};
        CHECK(nne_model_param_set(mb, nne_model_param_find(mb, "s"), &st2) == NNE_OK);
        CHECK(ctx_run(c, &bxt, byd, 4) == NNE_OK && fabsf(byd[2] - (3 * 4 / sqrtf(1 + eps) + 1)) < 1e-4f &&
              fabsf(byd[0] - (-1 / sqrtf(1 + eps))) < 1e-4f);
    }
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(mb);
}

void unit_graph_runtime(void) {
    test_params();
}
