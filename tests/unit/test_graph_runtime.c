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
#include "kernels/dispatch.h"
#include "nnedge.h"
#include "unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    /* an optimizer step in place on the view, then set with the same buffer */
    float *wd = view.data;
    for (int i = 0; i < TK * TN; i++) w[i] = wd[i] = wd[i] * 0.5f - 1.0f;
    CHECK(nne_model_param_set(m, iw, &view) == NNE_OK);
    CHECK(nne_model_param_get(m, iw, NULL, NULL, &ver1) == NNE_OK && ver1 == 2);
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

/* Marked weights are never packed: the packed-GEMM model packs its two
 * weights at batch 7 unless they are parameters. */
static void test_params_not_packed(void) {
    for (int marked = 0; marked <= 1; marked++) {
        nne_model *m = NULL;
        CHECK(nne_model_load_file("tests/models/matmul_const.onnx", NULL, &m) == NNE_OK);
        if (!m) return;
        int32_t n = 0;
        if (marked) CHECK(nne_model_params_mark_default(m, &n) == NNE_OK && n >= 2);
        float x[7 * 37];
        for (int i = 0; i < 7 * 37; i++) x[i] = (float)sin(0.37 * i);
        nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {7, 37}, .data = x};
        const char *nm = "x";
        nne_plan *p = NULL;
        CHECK(nne_plan_create(m, NULL, 1, &nm, &t, &p) == NNE_OK);
        int entries;
        size_t bytes;
        nne_model_wcache_stats(m, &entries, &bytes);
        CHECK(entries == (marked || !nne_kernels()->gemm_f32_packed ? 0 : 2));
        CHECK(nne_plan_packed_bytes(p) == bytes);
        nne_plan_destroy(p);
        nne_model_destroy(m);
    }
}

/* ---- subgraphs: planned once per signature, observed with scopes ---- */

/* y, s = Loop(M, true, x) with body: iter, cond, xc ->
 *   cond (Identity), a = Add(xc, one) (one: a body initializer), s_out = Mul(a, w) (w: an outer value);
 * so after M iterations y = x + M and the scan output row k = (x + k + 1) * w. */
static nne_model *loop_model(int n) {
    nne_model *m = model_new();
    nne_graph *g = m->graph;
    int x = input_t(g, "x", NNE_DTYPE_FLOAT, 1, (int64_t[]){n});
    int M = input_t(g, "M", NNE_DTYPE_INT64, 0, NULL);
    float wv[64], ones[64];
    for (int i = 0; i < n; i++) wv[i] = 0.5f * (float)(i + 1), ones[i] = 1.0f;
    init_t(g, "w", NNE_DTYPE_FLOAT, 1, (int64_t[]){n}, wv);
    uint8_t tr = 1;
    int cond = init_t(g, "cond", NNE_DTYPE_BOOL, 0, NULL, &tr);
    nne_graph *b = nne_graph_create(g);
    int it = input_t(b, "iter", NNE_DTYPE_INT64, 0, NULL);
    int ci = input_t(b, "cond_in", NNE_DTYPE_BOOL, 0, NULL);
    int xc = input_t(b, "xc", NNE_DTYPE_FLOAT, 1, (int64_t[]){n});
    (void)it;
    int one = init_t(b, "one", NNE_DTYPE_FLOAT, 1, (int64_t[]){n}, ones);
    int co = node_n(b, "Identity", "cond_out", 1, (int[]){ci});
    int a = node_n(b, "Add", "a", 2, (int[]){xc, one});
    int wl = -1;
    nne_graph_resolve(b, "w", &wl);
    int so = node_n(b, "Mul", "s_out", 2, (int[]){a, wl});
    nne_graph_add_output(b, co);
    nne_graph_add_output(b, a);
    nne_graph_add_output(b, so);
    int ni = -1;
    int y = nne_graph_add_value(g, "y", NNE_VAL_NODE), s = nne_graph_add_value(g, "s", NNE_VAL_NODE);
    nne_graph_add_node(g, "Loop", "", "loop", 17, &ni);
    nne_node_add_input(g, ni, M);
    nne_node_add_input(g, ni, cond);
    nne_node_add_input(g, ni, x);
    nne_node_add_output(g, ni, y);
    nne_node_add_output(g, ni, s);
    nne_node_set_attr_graph(g, ni, "body", b);
    nne_graph_add_output(g, y);
    nne_graph_add_output(g, s);
    model_finish(m);
    return m;
}

static long g_allocs;
static void *cnt_malloc(void *u, size_t n) { (void)u; g_allocs++; return malloc(n); }
static void *cnt_realloc(void *u, void *p, size_t n) { (void)u; g_allocs++; return realloc(p, n); }
static void *cnt_aligned(void *u, size_t a, size_t n) { (void)u; g_allocs++; return aligned_alloc(a, n); }
static void cnt_free(void *u, void *p) { (void)u; free(p); }

static nne_status loop_run(nne_context *c, const float *x, int n, int64_t M) {
    nne_tensor xt = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {n}, .data = (void *)x};
    nne_tensor mt = {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &M};
    NNE_TRY(nne_context_set_input(c, "x", &xt));
    NNE_TRY(nne_context_set_input(c, "M", &mt));
    return nne_context_run(c);
}

static void test_loop_planned(void) {
    enum { N = 8 };
    nne_model *m = loop_model(N);
    float x[N];
    for (int i = 0; i < N; i++) x[i] = (float)i - 2.0f;
    nne_plan *p = NULL;
    nne_context *c = NULL;
    CHECK(nne_graph_validate(m->graph) == NNE_OK);
    CHECK(nne_plan_create(m, NULL, 0, NULL, NULL, &p) == NNE_OK && nne_context_create(p, &c) == NNE_OK);
    if (!c) goto out;
    /* warm up (plans the body), then count the allocations of a short and a long run */
    CHECK(loop_run(c, x, N, 3) == NNE_OK);
    long counts[2];
    int64_t trips[2] = {10, 1000};
    nne_allocator cnt = {cnt_malloc, cnt_realloc, cnt_aligned, cnt_free, NULL};
    for (int k = 0; k < 2; k++) {
        nne_allocator_set(&cnt);
        g_allocs = 0;
        nne_status st = loop_run(c, x, N, trips[k]);
        counts[k] = g_allocs;
        nne_allocator_set(NULL);
        CHECK(st == NNE_OK);
        nne_tensor y, s;
        CHECK(nne_context_output(c, 0, &y) == NNE_OK && nne_context_output(c, 1, &s) == NNE_OK);
        CHECK(y.ndim == 1 && s.ndim == 2 && s.dims[0] == trips[k] && s.dims[1] == N);
        int bad = 0;
        for (int i = 0; i < N; i++) {
            bad += ((float *)y.data)[i] != x[i] + (float)trips[k];
            int64_t r = trips[k] - 1;
            bad += fabsf(((float *)s.data)[r * N + i] - (x[i] + (float)(r + 1)) * 0.5f * (float)(i + 1)) > 1e-3f;
        }
        CHECK(bad == 0);
    }
    /* planned once: 990 more iterations cost no allocation each (unplanned,
     * every iteration allocates its node states and outputs) */
    CHECK(counts[1] - counts[0] < 16);
    if (counts[1] - counts[0] >= 16) fprintf(stderr, "loop allocations: %ld at 10 trips, %ld at 1000\n", counts[0], counts[1]);
out:
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(m);
}

typedef struct obs_log {
    int n;
    int loop_seen, iter0_add, iter2_mul, bad_order;
    char last[256];
} obs_log;

static void obs_fn(void *user, const char *node, const char *op, int32_t n, const char *const *names,
                   const nne_tensor *outs) {
    obs_log *l = user;
    (void)names;
    (void)outs;
    l->n++;
    if (!strcmp(node, "loop")) l->loop_seen = 1;
    if (!strcmp(node, "loop/body/iter0/a") && !strcmp(op, "Add") && n == 1) l->iter0_add = 1;
    if (!strcmp(node, "loop/body/iter2/s_out") && !l->loop_seen) l->iter2_mul = 1;
    if (!strncmp(node, "loop/body/", 10) && l->loop_seen) l->bad_order = 1; /* body nodes come before their Loop */
    snprintf(l->last, sizeof l->last, "%s", node);
}

static void test_loop_observer(void) {
    enum { N = 4 };
    nne_model *m = loop_model(N);
    float x[N] = {1, 2, 3, 4};
    nne_plan *p = NULL;
    nne_context *c = NULL;
    CHECK(nne_plan_create(m, NULL, 0, NULL, NULL, &p) == NNE_OK && nne_context_create(p, &c) == NNE_OK);
    if (c) {
        obs_log l = {0};
        nne_context_set_observer(c, obs_fn, &l);
        CHECK(loop_run(c, x, N, 3) == NNE_OK);
        /* 3 nodes per iteration, 3 iterations, plus the Loop */
        CHECK(l.n == 3 * 3 + 1 && l.loop_seen && l.iter0_add && l.iter2_mul && !l.bad_order);
        CHECK(!strcmp(l.last, "loop"));
    }
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(m);
}

/* An If inside a Loop body: its branch's nodes are named with both scopes. */
typedef struct nest_log {
    int n, then_iter1, bad;
} nest_log;

static void nest_fn(void *user, const char *node, const char *op, int32_t n, const char *const *names,
                    const nne_tensor *outs) {
    nest_log *l = user;
    (void)op;
    (void)names;
    l->n++;
    if (!strcmp(node, "lp/body/iter1/br/then_branch/neg")) {
        l->then_iter1 = 1;
        /* the branch runs Neg on the carried value after one iteration: -(x) then x again */
        if (n != 1 || outs[0].dtype != NNE_DTYPE_FLOAT || ((const float *)outs[0].data)[0] != 3.0f) l->bad = 1;
    }
}

static void test_nested_scope(void) {
    nne_model *m = model_new();
    nne_graph *g = m->graph;
    int x = input_t(g, "x", NNE_DTYPE_FLOAT, 1, (int64_t[]){1});
    int64_t three = 3;
    int M = init_t(g, "M", NNE_DTYPE_INT64, 0, NULL, &three);
    uint8_t tr = 1;
    int cond = init_t(g, "cond", NNE_DTYPE_BOOL, 0, NULL, &tr);
    nne_graph *b = nne_graph_create(g);
    input_t(b, "iter", NNE_DTYPE_INT64, 0, NULL);
    int ci = input_t(b, "cond_in", NNE_DTYPE_BOOL, 0, NULL);
    input_t(b, "xc", NNE_DTYPE_FLOAT, 1, (int64_t[]){1});
    int co = node_n(b, "Identity", "cond_out", 1, (int[]){ci});
    nne_graph *th = nne_graph_create(b), *el = nne_graph_create(b);
    int l1 = -1, l2 = -1;
    nne_graph_resolve(th, "xc", &l1);
    int neg = node_n(th, "Neg", "neg", 1, (int[]){l1});
    nne_graph_add_output(th, neg);
    nne_graph_resolve(el, "xc", &l2);
    int id = node_n(el, "Identity", "same", 1, (int[]){l2});
    nne_graph_add_output(el, id);
    int bi = -1, br = nne_graph_add_value(b, "br", NNE_VAL_NODE);
    nne_graph_add_node(b, "If", "", "br", 17, &bi);
    nne_node_add_input(b, bi, ci);
    nne_node_add_output(b, bi, br);
    nne_node_set_attr_graph(b, bi, "then_branch", th);
    nne_node_set_attr_graph(b, bi, "else_branch", el);
    nne_graph_add_output(b, co);
    nne_graph_add_output(b, br);
    int ni = -1, y = nne_graph_add_value(g, "y", NNE_VAL_NODE);
    nne_graph_add_node(g, "Loop", "", "lp", 17, &ni);
    nne_node_add_input(g, ni, M);
    nne_node_add_input(g, ni, cond);
    nne_node_add_input(g, ni, x);
    nne_node_add_output(g, ni, y);
    nne_node_set_attr_graph(g, ni, "body", b);
    nne_graph_add_output(g, y);
    model_finish(m);
    CHECK(nne_graph_validate(g) == NNE_OK);
    nne_plan *p = NULL;
    nne_context *c = NULL;
    CHECK(nne_plan_create(m, NULL, 0, NULL, NULL, &p) == NNE_OK && nne_context_create(p, &c) == NNE_OK);
    if (c) {
        float xv = 3;
        nne_tensor xt = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {1}, .data = &xv};
        nest_log l = {0};
        nne_context_set_observer(c, nest_fn, &l);
        nne_tensor out;
        CHECK(nne_context_set_input(c, "x", &xt) == NNE_OK && nne_context_run(c) == NNE_OK &&
              nne_context_output(c, 0, &out) == NNE_OK && ((float *)out.data)[0] == -3.0f);
        /* per iteration: cond, neg (in the branch), br; then the Loop */
        CHECK(l.n == 3 * 3 + 1 && l.then_iter1 && !l.bad);
    }
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(m);
}

/* A carried value that grows every iteration (Concat): the body's signature
 * changes each time, so it is re-planned a few times and then run unplanned;
 * the result is the same either way. */
static void test_loop_growing(void) {
    nne_model *m = model_new();
    nne_graph *g = m->graph;
    int x = input_t(g, "x", NNE_DTYPE_FLOAT, 1, (int64_t[]){2});
    int M = input_t(g, "M", NNE_DTYPE_INT64, 0, NULL);
    uint8_t tr = 1;
    int cond = init_t(g, "cond", NNE_DTYPE_BOOL, 0, NULL, &tr);
    nne_graph *b = nne_graph_create(g);
    input_t(b, "iter", NNE_DTYPE_INT64, 0, NULL);
    int ci = input_t(b, "cond_in", NNE_DTYPE_BOOL, 0, NULL);
    int xc = input_t(b, "xc", NNE_DTYPE_FLOAT, 1, (int64_t[]){-1});
    float sev = 7;
    int seven = init_t(b, "seven", NNE_DTYPE_FLOAT, 1, (int64_t[]){1}, &sev);
    int co = node_n(b, "Identity", "cond_out", 1, (int[]){ci});
    int cat = node_n(b, "Concat", "cat", 2, (int[]){xc, seven});
    nne_node_set_attr_int(b, b->values[cat].producer, "axis", 0);
    nne_graph_add_output(b, co);
    nne_graph_add_output(b, cat);
    int ni = -1, y = nne_graph_add_value(g, "y", NNE_VAL_NODE);
    nne_graph_add_node(g, "Loop", "", "grow", 17, &ni);
    nne_node_add_input(g, ni, M);
    nne_node_add_input(g, ni, cond);
    nne_node_add_input(g, ni, x);
    nne_node_add_output(g, ni, y);
    nne_node_set_attr_graph(g, ni, "body", b);
    nne_graph_add_output(g, y);
    model_finish(m);
    nne_plan *p = NULL;
    nne_context *c = NULL;
    CHECK(nne_plan_create(m, NULL, 0, NULL, NULL, &p) == NNE_OK && nne_context_create(p, &c) == NNE_OK);
    if (c) {
        float xv[2] = {1, 2};
        for (int run = 0; run < 2; run++) {
            int64_t trips = run ? 3 : 20;
            nne_tensor xt = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {2}, .data = xv};
            nne_tensor mt = {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &trips};
            nne_tensor out;
            CHECK(nne_context_set_input(c, "x", &xt) == NNE_OK && nne_context_set_input(c, "M", &mt) == NNE_OK &&
                  nne_context_run(c) == NNE_OK && nne_context_output(c, 0, &out) == NNE_OK);
            CHECK(out.ndim == 1 && out.dims[0] == 2 + trips);
            int bad = 0;
            for (int64_t i = 0; i < out.dims[0] && out.ndim == 1; i++)
                bad += ((float *)out.data)[i] != (i < 2 ? xv[i] : 7.0f);
            CHECK(bad == 0);
        }
    }
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(m);
}

/* ---- memory budgets of plans and contexts ---- */

static void test_budgets(void) {
    enum { N = 64 };
    nne_model *m = loop_model(N);
    nne_plan *p = NULL;
    nne_context *c = NULL;
    nne_session_options po = nne_session_options_default();
    po.memory_limit_bytes = 256;
    CHECK(nne_plan_create(m, &po, 0, NULL, NULL, &p) == NNE_ERR_OUT_OF_MEMORY &&
          strstr(nne_last_error(), "plan memory limit of 256 bytes"));
    CHECK(p == NULL);
    CHECK(nne_plan_create(m, NULL, 0, NULL, NULL, &p) == NNE_OK && p && nne_plan_memory_bytes(p) > 0);
    if (!p) goto out;
    nne_context_options co = nne_context_options_default();
    co.memory_limit_bytes = 128;
    CHECK(nne_context_create_opt(p, &co, &c) == NNE_ERR_OUT_OF_MEMORY &&
          strstr(nne_last_error(), "context memory limit of 128 bytes"));
    CHECK(c == NULL);
    /* enough to create, not to run 1000 iterations' scan output (1000 x 64 floats) */
    co.memory_limit_bytes = 64 << 10;
    CHECK(nne_context_create_opt(p, &co, &c) == NNE_OK && c);
    if (!c) goto out;
    float x[N] = {0};
    CHECK(loop_run(c, x, N, 2) == NNE_OK);
    nne_status st = loop_run(c, x, N, 1000);
    CHECK(st == NNE_ERR_OUT_OF_MEMORY && strstr(nne_last_error(), "context memory limit of 65536 bytes") &&
          strstr(nne_context_last_error(c), "memory_limit_bytes"));
    CHECK(loop_run(c, x, N, 2) == NNE_OK); /* still usable */
    CHECK(nne_context_memory_bytes(c) > 0 && nne_context_memory_peak(c) <= (64 << 10));
    nne_context_destroy(c);
    c = NULL;
    co.memory_limit_bytes = SIZE_MAX; /* no limit */
    CHECK(nne_context_create_opt(p, &co, &c) == NNE_OK && loop_run(c, x, N, 1000) == NNE_OK);
    co.struct_size = 0;
    nne_context *bad = NULL;
    CHECK(nne_context_create_opt(p, &co, &bad) == NNE_ERR_INVALID_ARG && !bad);
out:
    nne_context_destroy(c);
    nne_plan_destroy(p);
    nne_model_destroy(m);
}

void unit_graph_runtime(void) {
    test_params();
    test_params_not_packed();
    test_loop_planned();
    test_loop_observer();
    test_loop_growing();
    test_nested_scope();
    test_budgets();
}
