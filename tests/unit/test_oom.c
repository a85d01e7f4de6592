/* OOM injection (STYLE.md §7): through the allocator hook, fail the Nth
 * allocation for every N while loading, preparing and running small models
 * (planned, data-dependent, constant-folded through ops with scratch memory,
 * nested If subgraphs, a Loop whose body takes scratch at run time);
 * each step must return NNE_OK or NNE_ERR_OUT_OF_MEMORY, and once everything
 * is destroyed no allocation may be left. Graph edits (outer-scope links,
 * replace-uses with renamed links, node removal and compaction, topological
 * sort), marking trainable parameters and a Loop planned per signature are
 * failed the same way; an edit that fails must leave the graph unchanged. */
#include "core/core.h"
#include "ir/graph.h"
#include "nnedge.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static long g_fail_at; /* for messages */

typedef struct oom_state {
    long count, fail_at, live;
} oom_state;

static int take(oom_state *s) {
    return ++s->count != s->fail_at;
}
static void *t_malloc(void *u, size_t n) {
    oom_state *s = u;
    if (!take(s)) return NULL;
    void *p = malloc(n);
    if (p) s->live++;
    return p;
}
static void *t_realloc(void *u, void *p, size_t n) {
    oom_state *s = u;
    if (!take(s)) return NULL;
    void *q = realloc(p, n);
    if (q && !p) s->live++;
    return q;
}
static void *t_aligned(void *u, size_t a, size_t n) {
    oom_state *s = u;
    if (!take(s)) return NULL;
    void *p = aligned_alloc(a, n);
    if (p) s->live++;
    return p;
}
static void t_free(void *u, void *p) {
    oom_state *s = u;
    s->live--;
    free(p);
}

/* 1: each pass also runs nne_model_optimize(ALL) between load and session. */
static int g_oom_optimize;
/* 1: each pass marks the default trainable parameters after loading. */
static int g_oom_params;
/* 1: each pass uses nne_plan_create / nne_context_create instead of a session. */
static int g_oom_plan_api;

/* One full pass; returns 1 when every step succeeded. *bad counts steps that
 * failed with something other than OUT_OF_MEMORY. */
static int one_pass(const char *path, int nin, const char **names, const nne_tensor *ins, int *bad) {
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_status st = nne_model_load_file(path, NULL, &m);
    int ok = 0;
    if (st == NNE_OK && g_oom_optimize) st = nne_model_optimize(m, NNE_OPT_ALL, NULL);
    if (st == NNE_OK && g_oom_params) st = nne_model_params_mark_default(m, NULL);
    if (g_oom_plan_api) {
        /* the plan/context API, each with its own memory budget */
        nne_plan *p = NULL;
        nne_context *c = NULL;
        if (st == NNE_OK) st = nne_plan_create(m, NULL, nin, names, ins, &p);
        if (st == NNE_OK) st = nne_context_create(p, &c);
        for (int i = 0; st == NNE_OK && i < nin; i++) st = nne_context_set_input(c, names[i], &ins[i]);
        if (st == NNE_OK) st = nne_context_run(c);
        if (st == NNE_OK) st = nne_context_run(c);
        nne_context_destroy(c);
        nne_plan_destroy(p);
    } else {
        if (st == NNE_OK) st = nne_session_create(m, NULL, &s);
        if (st == NNE_OK) st = nne_session_prepare(s, nin, names, ins);
        for (int i = 0; st == NNE_OK && i < nin; i++) st = nne_session_set_input(s, names[i], &ins[i]);
        if (st == NNE_OK) st = nne_session_run(s);
        if (st == NNE_OK) st = nne_session_run(s); /* a second run reuses everything */
    }
    if (st == NNE_OK) ok = 1;
    else if (st != NNE_ERR_OUT_OF_MEMORY) {
        fprintf(stderr, "oom %s: failing allocation %ld gave %s: %s\n", path, g_fail_at, nne_status_str(st),
                nne_last_error());
        (*bad)++;
    }
    nne_session_destroy(s);
    nne_model_destroy(m);
    return ok;
}

/* First a pass with no failure counts the allocations (it must succeed);
 * then each of them fails once. A pass may still succeed when a failed
 * allocation was optional, so every N up to the count is tried: stopping at
 * the first successful pass would leave the later allocations untested. */
static void oom_model(const char *path, int nin, const char **names, const nne_tensor *ins) {
    oom_state st = {0, 0, 0};
    nne_allocator a = {t_malloc, t_realloc, t_aligned, t_free, &st};
    int bad = 0, leaks = 0, recovered = 0;
    nne_allocator_set(&a);
    int clean = one_pass(path, nin, names, ins, &bad);
    nne_allocator_set(NULL);
    long total = st.count;
    CHECK(clean && st.live == 0);
    for (long n = 1; n <= total; n++) {
        st.count = 0;
        st.fail_at = g_fail_at = n;
        st.live = 0;
        nne_allocator_set(&a);
        recovered += one_pass(path, nin, names, ins, &bad);
        nne_allocator_set(NULL);
        if (st.live != 0) {
            if (!leaks) fprintf(stderr, "oom %s: %ld allocations left after failing allocation %ld\n", path, st.live, n);
            leaks++;
        }
    }
    if (getenv("NNE_OOM_VERBOSE"))
        fprintf(stderr, "oom %s: %ld allocations, each failed once (%d passes still succeeded)\n", path, total,
                recovered);
    CHECK(total > 0);
    CHECK(bad == 0);
    CHECK(leaks == 0);
}

/* ---- graph edits: all or nothing ---- */

/* A text form of g and its subgraphs (values, links, producers, nodes,
 * inputs, outputs), with a check that every name finds its value. */
static void graph_sig(const nne_graph *g, char *buf, size_t cap, size_t *len, int *hash_bad) {
#define SIG(...) (*len += (size_t)snprintf(buf + *len, *len < cap ? cap - *len : 0, __VA_ARGS__))
    SIG("G%d/%d[", g->n_values, g->n_nodes);
    for (int v = 0; v < g->n_values; v++) {
        const nne_value *val = &g->values[v];
        SIG("%s:%d:%d:%d:%d;", val->name, val->kind, val->producer, val->outer, val->is_output);
        if (nne_graph_find(g, val->name) != v) (*hash_bad)++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const nne_node *n = &g->nodes[i];
        SIG("%s(%s,%d:", n->op_type, n->name ? n->name : "-", n->dead);
        for (int k = 0; k < n->n_in; k++) SIG("%d,", n->in[k]);
        SIG("->");
        for (int k = 0; k < n->n_out; k++) SIG("%d,", n->out[k]);
        for (int a = 0; a < n->n_attr; a++)
            if (n->attrs[a].g) graph_sig(n->attrs[a].g, buf, cap, len, hash_bad);
        SIG(")");
    }
    for (int i = 0; i < g->n_inputs; i++) SIG("i%d", g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++) SIG("o%d", g->outputs[i]);
    SIG("]");
#undef SIG
}

static int e_node(nne_graph *g, const char *op, const char *out, int a, int b) {
    int ni = -1, v = nne_graph_find(g, out);
    if (v < 0) v = nne_graph_add_value(g, out, NNE_VAL_NODE);
    nne_graph_add_node(g, op, "", out, 17, &ni);
    if (a >= 0) nne_node_add_input(g, ni, a);
    if (b >= 0) nne_node_add_input(g, ni, b);
    nne_node_add_output(g, ni, v);
    return ni;
}

/* g: a = Add(x, x), b = Neg(x), z = Relu(x), y = If(c) {then: t = If(c') {U: Identity(a)}
 * {U2: Identity(b)}} {else: Identity(b)}; then p is used before it is made
 * (q = Neg(p), p = Relu(x)) when `unsorted`, so the graph needs sorting. Subgraph links: U
 * and T link a, U2 and T link b, T and E link c / b. */
static nne_graph *edit_graph(int unsorted, nne_graph **T_out, nne_graph **U_out) {
    nne_graph *g = nne_graph_create(NULL);
    int x = -1, c = -1;
    nne_graph_add_input(g, "x", &x);
    nne_graph_add_input(g, "c", &c);
    e_node(g, "Add", "a", x, x);
    e_node(g, "Neg", "b", x, -1);
    e_node(g, "Relu", "z", x, -1);
    nne_graph *T = nne_graph_create(g), *E = nne_graph_create(g);
    nne_graph *U = nne_graph_create(T), *U2 = nne_graph_create(T);
    int l;
    nne_graph_resolve(U, "a", &l);
    int ni = e_node(U, "Identity", "u", l, -1);
    (void)ni;
    nne_graph_add_output(U, nne_graph_find(U, "u"));
    nne_graph_resolve(U2, "b", &l);
    e_node(U2, "Identity", "u2", l, -1);
    nne_graph_add_output(U2, nne_graph_find(U2, "u2"));
    nne_graph_resolve(U2, "x", &l);
    e_node(U2, "Neg", "spare", l, -1); /* unused: removed by the compaction edit */
    int tc;
    nne_graph_resolve(T, "c", &tc);
    int tn = e_node(T, "If", "t", tc, -1);
    nne_node_set_attr_graph(T, tn, "then_branch", U);
    nne_node_set_attr_graph(T, tn, "else_branch", U2);
    nne_graph_add_output(T, nne_graph_find(T, "t"));
    nne_graph_resolve(E, "b", &l);
    e_node(E, "Identity", "e", l, -1);
    nne_graph_add_output(E, nne_graph_find(E, "e"));
    int gn = e_node(g, "If", "y", c, -1);
    nne_node_set_attr_graph(g, gn, "then_branch", T);
    nne_node_set_attr_graph(g, gn, "else_branch", E);
    nne_graph_add_output(g, nne_graph_find(g, "y"));
    if (unsorted) {
        int p = nne_graph_add_value(g, "p", NNE_VAL_PENDING);
        e_node(g, "Neg", "q", p, -1);
        e_node(g, "Relu", "p", x, -1);
        nne_graph_add_output(g, nne_graph_find(g, "q"));
    }
    *T_out = T;
    *U_out = U;
    return g;
}

enum { EDIT_RESOLVE, EDIT_REPLACE, EDIT_COMPACT, EDIT_SORT, EDIT_COUNT };

static nne_status do_edit(int which, nne_graph *g, nne_graph *U) {
    int idx = -1;
    switch (which) {
    case EDIT_RESOLVE: /* links z in T and U */
        return nne_graph_resolve(U, "z", &idx);
    case EDIT_REPLACE: /* a -> z: T's and U's links are renamed */
        return nne_graph_replace_uses(g, nne_graph_find(g, "a"), nne_graph_find(g, "z"));
    case EDIT_COMPACT:
        nne_graph_remove_node(g, 2); /* z's producer: z is unused */
        return nne_graph_compact_all(g);
    default:
        return nne_graph_topo_sort(g);
    }
}

static void oom_graph_edits(void) {
    static char before[8192], after[8192];
    for (int which = 0; which < EDIT_COUNT; which++) {
        oom_state st = {0, 0, 0};
        nne_allocator a = {t_malloc, t_realloc, t_aligned, t_free, &st};
        long total = -1;
        int changed_ok = 0, unchanged_bad = 0, invalid = 0, leaks = 0, hash_bad = 0;
        for (long n = 0; total < 0 || n <= total; n++) {
            nne_allocator_set(&a);
            st.count = 0;
            st.fail_at = 0;
            st.live = 0;
            nne_graph *T, *U;
            nne_graph *g = edit_graph(which == EDIT_SORT, &T, &U);
            if (which == EDIT_COMPACT) { /* dead nodes at two levels: compaction has work in each */
                nne_graph_remove_node(g, 2);
                nne_graph_remove_node(T->nodes[0].attrs[1].g, 1);
            }
            size_t lb = 0, la = 0;
            graph_sig(g, before, sizeof before, &lb, &hash_bad);
            st.count = 0;
            st.fail_at = g_fail_at = n; /* n = 0: nothing fails; counts the edit's allocations */
            nne_status es = which == EDIT_COMPACT ? nne_graph_compact_all(g) : do_edit(which, g, U);
            long used = st.count;
            st.fail_at = 0;
            graph_sig(g, after, sizeof after, &la, &hash_bad);
            if (es == NNE_OK) {
                changed_ok += strcmp(before, after) != 0;
                if (nne_graph_validate(g) != NNE_OK) invalid++;
            } else {
                if (es != NNE_ERR_OUT_OF_MEMORY || strcmp(before, after) != 0) {
                    if (!unchanged_bad)
                        fprintf(stderr, "oom graph edit %d: failing allocation %ld gave %s; graph %s\n", which, n,
                                nne_status_str(es), strcmp(before, after) ? "changed" : "unchanged");
                    unchanged_bad++;
                }
            }
            nne_graph_destroy(g);
            nne_allocator_set(NULL);
            if (st.live != 0) leaks++;
            if (n == 0) total = used;
        }
        CHECK(total > 0 || which == EDIT_SORT);
        CHECK(changed_ok > 0);
        CHECK(unchanged_bad == 0);
        CHECK(invalid == 0);
        CHECK(leaks == 0);
        CHECK(hash_bad == 0);
    }
}

void unit_oom(void) {
    float x[5 * 12] = {0}, c3[3] = {1, -2, 3}, x2[6] = {1, 0, 2, 0, 0, 3};
    uint8_t cond = 1;
    nne_tensor t1 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 3, .dims = {5, 3, 4}, .data = x};
    const char *n1[] = {"x"};
    oom_model("tests/models/shape_chain.onnx", 1, n1, &t1);
    nne_tensor t2 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {1, 256}, .data = NULL};
    float big[256] = {0};
    t2.data = big;
    oom_model("tests/models/chain.onnx", 1, n1, &t2);
    nne_tensor t3 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 3}, .data = x2};
    oom_model("tests/models/nonzero.onnx", 1, n1, &t3);
    nne_tensor t4[2] = {{.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {3}, .data = c3},
                        {.dtype = NNE_DTYPE_BOOL, .ndim = 0, .data = &cond}};
    const char *n4[] = {"x", "c"};
    oom_model("tests/models/nested_if.onnx", 2, n4, t4);
    /* constant folding at prepare through ops that take scratch memory */
    float x8[8];
    for (int i = 0; i < 8; i++) x8[i] = (float)i / 8 - 0.5f;
    nne_tensor t8 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 4}, .data = x8};
    oom_model("tests/models/fold_scratch.onnx", 1, n1, &t8);
    /* a Loop body (a subgraph run with malloc'd values and scratch) */
    int64_t trips = 3;
    nne_tensor t7[2] = {t8, {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &trips}};
    const char *n7[] = {"x", "M"};
    oom_model("tests/models/loop_scratch.onnx", 2, n7, t7);
    static float img[28 * 28];
    for (int i = 0; i < 28 * 28; i++) img[i] = (float)(i % 17) / 17.0f;
    nne_tensor t5 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {1, 1, 28, 28}, .data = img};
    const char *n5[] = {"input"};
    oom_model("models/fashion_cnn.onnx", 1, n5, &t5);
    /* packed weights (the model's cache), half-precision weights converted
     * once, and a Loop body run through the phased ops' run-time path */
    static float xm[7 * 37];
    nne_tensor t10 = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {7, 37}, .data = xm};
    oom_model("tests/models/matmul_const.onnx", 1, n1, &t10);
    static uint16_t xh[2 * 25];
    nne_tensor t11 = {.dtype = NNE_DTYPE_FLOAT16, .ndim = 4, .dims = {1, 2, 5, 5}, .data = xh};
    oom_model("tests/models/conv_f16.onnx", 1, n1, &t11);
    float xl[4] = {1, 2, 3, 4};
    nne_tensor t9[2] = {{.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {4}, .data = xl},
                        {.dtype = NNE_DTYPE_INT64, .ndim = 0, .data = &trips}};
    const char *n9[] = {"x", "n"};
    oom_model("tests/models/loop_accum.onnx", 2, n9, t9);
    /* the optimization passes' failure paths: folding, subgraph editing */
    g_oom_optimize = 1;
    oom_model("tests/models/shape_chain.onnx", 1, n1, &t1);
    oom_model("tests/models/nested_if.onnx", 2, n4, t4);
    float x6[3] = {-1.5f, 0.25f, 4};
    nne_tensor t6[2] = {{.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {3}, .data = x6},
                        {.dtype = NNE_DTYPE_BOOL, .ndim = 0, .data = &cond}};
    const char *n6[] = {"x", "c"};
    oom_model("tests/models/opt_passes.onnx", 2, n6, t6);
    g_oom_optimize = 0;
    /* trainable parameters: marked (copies of the mapped weights), then planned and run */
    g_oom_params = 1;
    oom_model("models/fashion_cnn.onnx", 1, n5, &t5);
    oom_model("tests/models/loop_accum.onnx", 2, n9, t9);
    g_oom_params = 0;
    g_oom_plan_api = 1;
    oom_model("tests/models/loop_accum.onnx", 2, n9, t9);
    oom_model("tests/models/nested_if.onnx", 2, n4, t4);
    oom_model("tests/models/matmul_const.onnx", 1, n1, &t10);
    g_oom_plan_api = 0;
    oom_graph_edits();
}
