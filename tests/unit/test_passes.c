/*
 * test_passes.c - the graph builder/editor (src/ir/graph_edit.c) and the
 * optimization passes, on graphs built in memory with the builder: each
 * pass's rewrites, the cases it must leave alone, compaction of outer-scope
 * links, topological sort, the validator, and nne_model_optimize's contract
 * (refused while a session exists; optimized models compute the same).
 */
#include "core/core.h"
#include "ir/graph.h"
#include "ir/passes.h"
#include "nnedge.h"
#include "unit.h"

#include <math.h>
#include <string.h>

/* ---- helpers: a model around a graph built with the builder ---- */

static nne_model *model_new(int64_t ir_version) {
    nne_model *m = nne_model_new();
    m->graph = nne_graph_create(NULL);
    m->ir_version = ir_version;
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

static int input_f32(nne_graph *g, const char *name, int n) {
    int v = -1;
    nne_graph_add_input(g, name, &v);
    g->values[v].dtype = NNE_DTYPE_FLOAT;
    g->values[v].ndim = 1;
    g->values[v].dims[0] = n;
    return v;
}

static int init_f32(nne_graph *g, const char *name, int n, const float *vals) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {n}};
    t.data = nne_aligned_alloc((size_t)n * 4);
    memcpy(t.data, vals, (size_t)n * 4);
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

static int init_i64(nne_graph *g, const char *name, int n, const int64_t *vals) {
    nne_tensor t = {.dtype = NNE_DTYPE_INT64, .ndim = 1, .dims = {n}};
    t.data = nne_aligned_alloc((size_t)n * 8);
    memcpy(t.data, vals, (size_t)n * 8);
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

/* Node op(in...) -> out (a new value named out); returns the output value. */
static int node1(nne_graph *g, const char *op, const char *out, int a, int b) {
    int ni = -1, v = nne_graph_add_value(g, out, NNE_VAL_NODE);
    nne_graph_add_node(g, op, "", out, 17, &ni);
    if (a >= -1) nne_node_add_input(g, ni, a);
    if (b >= -1) nne_node_add_input(g, ni, b);
    nne_node_add_output(g, ni, v);
    return v;
}
#define NONE (-2)

static int live_nodes(const nne_graph *g, const char *op) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && (!op || !strcmp(g->nodes[i].op_type, op))) k++;
    return k;
}

static nne_status run_pass(nne_pass_fn fn, nne_model *m, nne_pass_stats *st) {
    nne_pass_ctx ctx = {.m = m, .fold_budget = NNE_FOLD_BUDGET_BYTES};
    memset(st, 0, sizeof *st);
    NNE_TRY(fn(&ctx, m->graph, st));
    NNE_TRY(nne_graph_compact_all(m->graph));
    model_finish(m);
    return nne_graph_validate(m->graph);
}

/* Runs m on x (input "x", n floats) and copies output k into y. */
static nne_status run_model(const nne_model *m, const float *x, int n, int k, float *y, int ny) {
    nne_session *s = NULL;
    nne_tensor in = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {n}, .data = (void *)x};
    const char *nm = "x";
    nne_status st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, 1, &nm, &in);
    if (st == NNE_OK) st = nne_session_set_input(s, "x", &in);
    if (st == NNE_OK) st = nne_session_run(s);
    nne_tensor out;
    if (st == NNE_OK) st = nne_session_output(s, k, &out);
    if (st == NNE_OK) {
        if (out.dtype != NNE_DTYPE_FLOAT || nne_tensor_numel(&out) != ny) st = NNE_ERR_INTERNAL;
        else memcpy(y, out.data, (size_t)ny * 4);
    }
    nne_session_destroy(s);
    return st;
}

/* ---- builder, validator, topological sort ---- */

static void test_builder_validator(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 3);
    int dup = -1;
    CHECK(nne_graph_add_input(g, "x", &dup) == NNE_ERR_CORRUPT_MODEL);
    float c[3] = {1, 2, 3};
    int w = init_f32(g, "w", 3, c);
    int y = node1(g, "Add", "y", x, w);
    CHECK(nne_graph_add_output(g, y) == NNE_OK);
    model_finish(m);
    CHECK(nne_graph_validate(g) == NNE_OK);
    /* a second producer for y is refused by the builder */
    int ni = -1;
    nne_graph_add_node(g, "Relu", "", "r", 17, &ni);
    CHECK(nne_node_add_output(g, ni, y) == NNE_ERR_CORRUPT_MODEL);
    nne_graph_remove_node(g, ni);
    CHECK(nne_graph_validate(g) != NNE_OK); /* a removed node must be compacted away */
    CHECK(nne_graph_compact(g) == NNE_OK);
    CHECK(nne_graph_validate(g) == NNE_OK);
    /* the validator sees a broken producer link and a bad index */
    g->values[y].producer = 5;
    CHECK(nne_graph_validate(g) == NNE_ERR_INTERNAL);
    g->values[y].producer = 0;
    g->nodes[0].in[1] = 99;
    CHECK(nne_graph_validate(g) == NNE_ERR_INTERNAL && strstr(nne_last_error(), "input 1"));
    g->nodes[0].in[1] = w;
    /* declared dtype of an initializer disagreeing with its data */
    g->values[w].dtype = NNE_DTYPE_INT32;
    CHECK(nne_graph_validate(g) == NNE_ERR_INTERNAL && strstr(nne_last_error(), "declared"));
    g->values[w].dtype = NNE_DTYPE_UNDEFINED;
    CHECK(nne_graph_validate(g) == NNE_OK);
    /* an omitted optional output gets a private value */
    int n2 = -1;
    nne_graph_add_node(g, "Relu", "", "r2", 17, &n2);
    nne_node_add_input(g, n2, y);
    CHECK(nne_node_add_output(g, n2, -1) == NNE_OK);
    CHECK(g->values[g->nodes[n2].out[0]].producer == n2 && g->values[g->nodes[n2].out[0]].name[0] == '\x01');
    CHECK(nne_graph_validate(g) == NNE_OK);
    nne_model_destroy(m);
}

static void test_builder_attrs_names(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    int ni = -1;
    CHECK(nne_graph_add_node(g, "LeakyRelu", NULL, NULL, 17, &ni) == NNE_OK && g->nodes[ni].op != NULL);
    CHECK(!strcmp(g->nodes[ni].domain, "") && !strcmp(g->nodes[ni].name, ""));
    nne_node_add_input(g, ni, x);
    int64_t iv[3] = {4, -5, 6};
    float tv[2] = {1.5f, -2};
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {2}, .data = tv};
    CHECK(nne_node_set_attr_float(g, ni, "alpha", 0.25f) == NNE_OK);
    CHECK(nne_node_set_attr_int(g, ni, "k", 7) == NNE_OK);
    CHECK(nne_node_set_attr_ints(g, ni, "axes", 3, iv) == NNE_OK);
    CHECK(nne_node_set_attr_string(g, ni, "mode", "linear") == NNE_OK);
    CHECK(nne_node_set_attr_tensor(g, ni, "value", &t) == NNE_OK);
    const nne_node *n = &g->nodes[ni];
    const nne_attr *a;
    CHECK((a = nne_node_attr(n, "alpha")) && a->type == NNE_ATTR_FLOAT && a->f == 0.25f);
    CHECK((a = nne_node_attr(n, "k")) && a->type == NNE_ATTR_INT && a->i == 7);
    CHECK((a = nne_node_attr(n, "axes")) && a->n == 3 && a->ints[1] == -5);
    CHECK((a = nne_node_attr(n, "mode")) && !strcmp(a->s, "linear") && a->slen == 6);
    CHECK((a = nne_node_attr(n, "value")) && a->t && a->t->data != tv && ((float *)a->t->data)[1] == -2);
    int y = nne_graph_add_value(g, "y", NNE_VAL_NODE);
    nne_node_add_output(g, ni, y);
    nne_graph_add_output(g, y);
    model_finish(m);
    float xv[2] = {-4, 2}, yv[2];
    CHECK(run_model(m, xv, 2, 0, yv, 2) == NNE_OK && yv[0] == -1 && yv[1] == 2); /* alpha 0.25 is used */
    /* unique names avoid the graph, its enclosing graphs and its subgraphs */
    nne_graph *sub = nne_graph_create(g);
    int sv = -1;
    CHECK(nne_graph_add_input(sub, "t", &sv) == NNE_OK);
    int sn = -1;
    nne_graph_add_node(g, "If", "", "if", 17, &sn);
    CHECK(nne_node_set_attr_graph(g, sn, "then_branch", sub) == NNE_OK);
    int u1 = -1, u2 = -1, u3 = -1;
    CHECK(nne_graph_add_unique_value(g, "t", NNE_VAL_NODE, &u1) == NNE_OK && strcmp(g->values[u1].name, "t") != 0);
    CHECK(nne_graph_add_unique_value(sub, "x", NNE_VAL_NODE, &u2) == NNE_OK && strcmp(sub->values[u2].name, "x") != 0);
    CHECK(nne_graph_add_unique_value(g, "fresh", NNE_VAL_NODE, &u3) == NNE_OK && !strcmp(g->values[u3].name, "fresh"));
    nne_model_destroy(m);
}

static void test_topo_sort(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    /* z = Relu(a) is added before a = Neg(x): a is a forward reference */
    int a = nne_graph_add_value(g, "a", NNE_VAL_PENDING);
    int z = node1(g, "Relu", "z", a, NONE);
    int n2 = -1;
    nne_graph_add_node(g, "Neg", "", "neg", 17, &n2);
    nne_node_add_input(g, n2, x);
    CHECK(nne_node_add_output(g, n2, a) == NNE_OK);
    nne_graph_add_output(g, z);
    CHECK(nne_graph_validate(g) != NNE_OK);
    CHECK(nne_graph_topo_sort(g) == NNE_OK);
    CHECK(nne_graph_validate(g) == NNE_OK);
    CHECK(!strcmp(g->nodes[0].op_type, "Neg") && g->values[a].producer == 0 && g->values[z].producer == 1);
    /* a cycle: Neg now reads z */
    g->nodes[0].in[0] = z;
    CHECK(nne_graph_topo_sort(g) == NNE_ERR_CORRUPT_MODEL && strstr(nne_last_error(), "cycle"));
    nne_model_destroy(m);
}

/* If(cond) with a then-branch that reads parent value `name` through an
 * outer link and returns Relu of it; the else-branch returns Neg of it. */
static int add_if(nne_graph *g, int cond, const char *name, const char *out) {
    int ni = -1, v = nne_graph_add_value(g, out, NNE_VAL_NODE);
    nne_graph_add_node(g, "If", "", out, 17, &ni);
    for (int b = 0; b < 2; b++) {
        nne_graph *sub = nne_graph_create(g);
        int link = -1;
        nne_graph_resolve(sub, name, &link);
        char on[64];
        snprintf(on, sizeof on, "%s_%s", out, b ? "else" : "then");
        int r = node1(sub, b ? "Neg" : "Relu", on, link, NONE);
        nne_graph_add_output(sub, r);
        nne_node_set_attr_graph(g, ni, b ? "else_branch" : "then_branch", sub);
    }
    nne_node_add_input(g, ni, cond);
    nne_node_add_output(g, ni, v);
    return v;
}

static void test_compact_outer_links(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    uint8_t t = 1;
    nne_tensor ct = {.dtype = NNE_DTYPE_BOOL, .ndim = 0};
    ct.data = nne_aligned_alloc(1);
    memcpy(ct.data, &t, 1);
    int cond = -1;
    nne_graph_add_initializer(g, "cond", &ct, &cond);
    int junk = node1(g, "Neg", "junk", x, NONE); /* dead: removed below */
    int h = node1(g, "Relu", "h", x, NONE);
    int y = add_if(g, cond, "h", "y");
    nne_graph_add_output(g, y);
    model_finish(m);
    CHECK(nne_graph_validate(g) == NNE_OK);
    nne_graph *then_g = g->nodes[2].attrs[0].g;
    int link = nne_graph_find(then_g, "h");
    CHECK(link >= 0 && then_g->values[link].outer == h);
    nne_graph_remove_node(g, g->values[junk].producer);
    CHECK(nne_graph_compact_all(g) == NNE_OK);
    model_finish(m);
    CHECK(nne_graph_validate(g) == NNE_OK);
    then_g = g->nodes[1].attrs[0].g;
    link = nne_graph_find(then_g, "h");
    int h2 = nne_graph_find(g, "h");
    CHECK(nne_graph_find(g, "junk") < 0 && h2 >= 0 && h2 != h);
    CHECK(link >= 0 && then_g->values[link].outer == h2);
    float xv[2] = {-1, 2}, yv[2];
    CHECK(run_model(m, xv, 2, 0, yv, 2) == NNE_OK && yv[0] == 0 && yv[1] == 2);
    /* replace_uses renames the links: the branches now read x */
    CHECK(nne_graph_replace_uses(g, h2, nne_graph_find(g, "x")) == NNE_OK);
    link = nne_graph_find(then_g, "x");
    CHECK(link >= 0 && nne_graph_find(then_g, "h") < 0 && then_g->values[link].outer == nne_graph_find(g, "x"));
    CHECK(nne_graph_compact_all(g) == NNE_OK);
    model_finish(m);
    CHECK(nne_graph_validate(g) == NNE_OK);
    CHECK(run_model(m, xv, 2, 0, yv, 2) == NNE_OK && yv[0] == 0 && yv[1] == 2);
    nne_model_destroy(m);
}

/* ---- passes ---- */

static void test_dead_nodes(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    int a = node1(g, "Neg", "a", x, NONE); /* dead chain a -> b */
    node1(g, "Relu", "b", a, NONE);
    int h = node1(g, "Relu", "h", x, NONE); /* read only by the If's subgraphs: kept */
    uint8_t t = 0;
    nne_tensor ct = {.dtype = NNE_DTYPE_BOOL, .ndim = 0};
    ct.data = nne_aligned_alloc(1);
    memcpy(ct.data, &t, 1);
    int cond = -1;
    nne_graph_add_initializer(g, "cond", &ct, &cond);
    int y = add_if(g, cond, "h", "y");
    int u = -1; /* an op nnedge does not know: kept even when dead */
    nne_graph_add_node(g, "MyOp", "com.example", "custom", 1, &u);
    nne_node_add_input(g, u, x);
    nne_node_add_output(g, u, nne_graph_add_value(g, "c", NNE_VAL_NODE));
    nne_graph_add_output(g, y);
    model_finish(m);
    (void)h;
    nne_pass_stats st;
    CHECK(run_pass(nne_pass_dead_nodes, m, &st) == NNE_OK);
    CHECK(st.removed == 2 && g->n_nodes == 3);
    CHECK(nne_graph_find(g, "a") < 0 && nne_graph_find(g, "b") < 0 && nne_graph_find(g, "h") >= 0);
    CHECK(live_nodes(g, "MyOp") == 1);
    float xv[2] = {-1, 2}, yv[2];
    CHECK(run_model(m, xv, 2, 0, yv, 2) != NNE_OK); /* MyOp is unsupported */
    nne_model_destroy(m);
}

static void test_identity(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    float c[2] = {10, 20};
    int w = init_f32(g, "w", 2, c);
    int i1 = node1(g, "Identity", "i1", x, NONE);   /* not an output: removed */
    int r = node1(g, "Relu", "r", i1, NONE);
    int o1 = node1(g, "Identity", "o1", r, NONE);   /* output of a node's value: r renamed o1 */
    int o2 = node1(g, "Identity", "o2", x, NONE);   /* input straight to output: kept */
    int o3 = node1(g, "Identity", "o3", w, NONE);   /* initializer to output: kept */
    int o4 = node1(g, "Add", "o4", r, w);           /* reads r: must read o1 afterwards */
    nne_graph_add_output(g, o1);
    nne_graph_add_output(g, o2);
    nne_graph_add_output(g, o3);
    nne_graph_add_output(g, o4);
    model_finish(m);
    float xv[2] = {-3, 4}, ref[4][2], got[2];
    for (int k = 0; k < 4; k++) CHECK(run_model(m, xv, 2, k, ref[k], 2) == NNE_OK);
    nne_pass_stats st;
    CHECK(run_pass(nne_pass_identity, m, &st) == NNE_OK);
    CHECK(st.removed == 2 && live_nodes(g, "Identity") == 2);
    int o1v = nne_graph_find(g, "o1");
    CHECK(o1v >= 0 && g->values[o1v].kind == NNE_VAL_NODE && !strcmp(g->nodes[g->values[o1v].producer].op_type, "Relu"));
    CHECK(nne_graph_find(g, "r") < 0 && nne_graph_find(g, "i1") < 0);
    const char *names[4] = {"o1", "o2", "o3", "o4"};
    for (int k = 0; k < 4; k++) {
        CHECK(!strcmp(g->values[g->outputs[k]].name, names[k]));
        CHECK(run_model(m, xv, 2, k, got, 2) == NNE_OK && !memcmp(got, ref[k], sizeof got));
    }
    nne_model_destroy(m);
}

/* Values that are both: x both input and output; r both a node's output and
 * a graph output, copied by an Identity to a second output and read through
 * another Identity by a node. */
static void test_identity_both(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    int r = node1(g, "Relu", "r", x, NONE);
    int o = node1(g, "Identity", "o", r, NONE);   /* r is an output itself: kept */
    int i = node1(g, "Identity", "i", r, NONE);   /* not an output: removed */
    int n = node1(g, "Neg", "n", i, NONE);
    int xo = node1(g, "Identity", "xo", x, NONE); /* input to output: kept */
    nne_graph_add_output(g, x);
    nne_graph_add_output(g, r);
    nne_graph_add_output(g, o);
    nne_graph_add_output(g, n);
    nne_graph_add_output(g, xo);
    model_finish(m);
    float xv[2] = {-3, 4}, ref[5][2], got[2];
    for (int k = 0; k < 5; k++) CHECK(run_model(m, xv, 2, k, ref[k], 2) == NNE_OK);
    nne_pass_stats st;
    CHECK(run_pass(nne_pass_identity, m, &st) == NNE_OK && st.removed == 1 && live_nodes(g, "Identity") == 2);
    const char *names[5] = {"x", "r", "o", "n", "xo"};
    for (int k = 0; k < 5; k++) {
        CHECK(!strcmp(g->values[g->outputs[k]].name, names[k]));
        CHECK(run_model(m, xv, 2, k, got, 2) == NNE_OK && !memcmp(got, ref[k], sizeof got));
    }
    CHECK(m->n_feed == 1 && !strcmp(g->values[m->feed[0]].name, "x"));
    nne_model_destroy(m);
}

static void test_identity_subgraph_link(void) {
    /* y = If(cond) whose branches read i = Identity(x) through links */
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    int i = node1(g, "Identity", "i", x, NONE);
    uint8_t t = 1;
    nne_tensor ct = {.dtype = NNE_DTYPE_BOOL, .ndim = 0};
    ct.data = nne_aligned_alloc(1);
    memcpy(ct.data, &t, 1);
    int cond = -1;
    nne_graph_add_initializer(g, "cond", &ct, &cond);
    (void)i;
    int y = add_if(g, cond, "i", "y");
    nne_graph_add_output(g, y);
    model_finish(m);
    nne_pass_stats st;
    CHECK(run_pass(nne_pass_identity, m, &st) == NNE_OK && st.removed == 1);
    const nne_graph *then_g = g->nodes[0].attrs[0].g;
    int link = nne_graph_find(then_g, "x");
    CHECK(link >= 0 && then_g->values[link].kind == NNE_VAL_OUTER && nne_graph_find(then_g, "i") < 0);
    float xv[2] = {-3, 4}, yv[2];
    CHECK(run_model(m, xv, 2, 0, yv, 2) == NNE_OK && yv[0] == 0 && yv[1] == 4);
    nne_model_destroy(m);
}

static void test_constant_folding(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 3);
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
    int ca = init_f32(g, "ca", 3, a), cb = init_f32(g, "cb", 3, b);
    int s = node1(g, "Add", "s", ca, cb);      /* folded */
    int n = node1(g, "Neg", "n", s, NONE);     /* folded in the same walk */
    int y = node1(g, "Mul", "y", x, n);        /* stays: reads an input */
    /* an 8 MB expansion of 20 bytes: over the size limit, not folded */
    int64_t big[2] = {2, 1000000};
    int shp = init_i64(g, "shp", 2, big);
    float one = 1;
    int c1 = init_f32(g, "c1", 1, &one);
    int e = node1(g, "Expand", "e", c1, shp);
    int ru = -1; /* random: never folded */
    nne_graph_add_node(g, "RandomUniform", "", "ru", 17, &ru);
    nne_node_set_attr_ints(g, ru, "shape", 1, (int64_t[]){3});
    int r = nne_graph_add_value(g, "r", NNE_VAL_NODE);
    nne_node_add_output(g, ru, r);
    nne_graph_add_output(g, y);
    nne_graph_add_output(g, e);
    nne_graph_add_output(g, r);
    model_finish(m);
    nne_pass_stats st;
    CHECK(run_pass(nne_pass_constant_folding, m, &st) == NNE_OK);
    CHECK(st.folded == 2 && st.removed == 2);
    int nv = nne_graph_find(g, "n");
    CHECK(nv >= 0 && g->values[nv].kind == NNE_VAL_CONST && g->values[nv].init.dtype == NNE_DTYPE_FLOAT);
    if (nv >= 0 && g->values[nv].kind == NNE_VAL_CONST) {
        const float *d = g->values[nv].init.data;
        CHECK(d[0] == -11 && d[1] == -22 && d[2] == -33);
    }
    CHECK(nne_graph_find(g, "s") < 0 && nne_graph_find(g, "ca") < 0); /* unused after folding: dropped */
    CHECK(live_nodes(g, "Expand") == 1 && live_nodes(g, "RandomUniform") == 1 && live_nodes(g, "Mul") == 1);
    nne_model_destroy(m);

    /* the total budget: a 2 MiB constant doubled by Concat again and again
     * folds while the budget (16 MiB in run_pass) lasts */
    m = model_new(8);
    g = m->graph;
    x = input_f32(g, "x", 1);
    int n_el = 1 << 19;
    float *zeros = nne_calloc((size_t)n_el, sizeof(float));
    int cur = init_f32(g, "c0", n_el, zeros);
    nne_free(zeros);
    for (int k = 1; k <= 4; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "c%d", k);
        int ni = -1, v = nne_graph_add_value(g, nm, NNE_VAL_NODE);
        nne_graph_add_node(g, "Concat", "", nm, 17, &ni);
        nne_node_add_input(g, ni, cur);
        nne_node_add_input(g, ni, cur);
        nne_node_set_attr_int(g, ni, "axis", 0);
        nne_node_add_output(g, ni, v);
        cur = v;
    }
    nne_graph_add_output(g, cur);
    nne_graph_add_output(g, node1(g, "Neg", "nx", x, NONE));
    model_finish(m);
    CHECK(run_pass(nne_pass_constant_folding, m, &st) == NNE_OK);
    CHECK(st.folded == 2 && live_nodes(g, "Concat") == 2); /* 4 + 8 MiB fold; 16 MiB is over budget */
    nne_model_destroy(m);

    /* an initializer that is also a graph input (IR >= 4) may be overridden: not folded */
    for (int ir = 3; ir <= 8; ir += 5) {
        m = model_new(ir);
        g = m->graph;
        x = input_f32(g, "x", 1);
        int d = input_f32(g, "d", 1);
        nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {1}};
        t.data = nne_aligned_alloc(4);
        ((float *)t.data)[0] = 5;
        nne_graph_add_initializer(g, "d", &t, &d);
        int nd = node1(g, "Neg", "nd", d, NONE);
        nne_graph_add_output(g, node1(g, "Add", "y", x, nd));
        model_finish(m);
        CHECK(run_pass(nne_pass_constant_folding, m, &st) == NNE_OK);
        CHECK(st.folded == (ir < 4 ? 1 : 0));
        nne_model_destroy(m);
    }
}

static void test_cse(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 2);
    int r1 = node1(g, "Relu", "r1", x, NONE);
    int r2 = node1(g, "Relu", "r2", x, NONE);  /* same as r1 */
    int s = node1(g, "Add", "s", r1, r2);
    int s2 = node1(g, "Add", "s2", r1, r2);    /* same as s once r2 is r1 */
    int lr1 = -1, lr2 = -1;                    /* LeakyRelu with different alpha: kept apart */
    nne_graph_add_node(g, "LeakyRelu", "", "l1", 17, &lr1);
    nne_node_add_input(g, lr1, x);
    nne_node_set_attr_float(g, lr1, "alpha", 0.1f);
    nne_node_add_output(g, lr1, nne_graph_add_value(g, "l1", NNE_VAL_NODE));
    nne_graph_add_node(g, "LeakyRelu", "", "l2", 17, &lr2);
    nne_node_add_input(g, lr2, x);
    nne_node_set_attr_float(g, lr2, "alpha", 0.2f);
    nne_node_add_output(g, lr2, nne_graph_add_value(g, "l2", NNE_VAL_NODE));
    int q = node1(g, "Mul", "q", s, s2);
    int r3 = node1(g, "Relu", "r3", x, NONE);  /* a duplicate that is a graph output: kept */
    nne_graph_add_output(g, q);
    nne_graph_add_output(g, nne_graph_find(g, "l1"));
    nne_graph_add_output(g, nne_graph_find(g, "l2"));
    nne_graph_add_output(g, r3);
    model_finish(m);
    float xv[2] = {-2, 3}, ref[2], got[2];
    CHECK(run_model(m, xv, 2, 0, ref, 2) == NNE_OK);
    nne_pass_stats st;
    CHECK(run_pass(nne_pass_cse, m, &st) == NNE_OK);
    CHECK(st.removed == 2 && live_nodes(g, "Relu") == 2 && live_nodes(g, "Add") == 1 && live_nodes(g, "LeakyRelu") == 2);
    CHECK(run_model(m, xv, 2, 0, got, 2) == NNE_OK && !memcmp(got, ref, sizeof got));
    nne_model_destroy(m);
}

/* CSE of parent nodes read by subgraphs: a branch that links to both the
 * original and the duplicate is merged onto one link; a branch that links
 * only to the duplicate has its link renamed. */
static void test_cse_subgraph_links(void) {
    for (int c = 0; c < 2; c++) {
        nne_model *m = model_new(8);
        nne_graph *g = m->graph;
        int x = input_f32(g, "x", 2);
        nne_tensor ct = {.dtype = NNE_DTYPE_BOOL, .ndim = 0};
        ct.data = nne_aligned_alloc(1);
        *(uint8_t *)ct.data = (uint8_t)c;
        int cond = -1;
        nne_graph_add_initializer(g, "cond", &ct, &cond);
        node1(g, "Relu", "a", x, NONE);
        node1(g, "Relu", "b", x, NONE);
        int ni = -1, y = nne_graph_add_value(g, "y", NNE_VAL_NODE);
        nne_graph_add_node(g, "If", "", "if", 17, &ni);
        nne_graph *th = nne_graph_create(g), *el = nne_graph_create(g);
        int la = -1, lb = -1, le = -1;
        nne_graph_resolve(th, "a", &la);
        nne_graph_resolve(th, "b", &lb);
        nne_graph_add_output(th, node1(th, "Sub", "t", la, lb)); /* a - b: 0 */
        nne_graph_resolve(el, "b", &le);
        nne_graph_add_output(el, node1(el, "Neg", "e", le, NONE));
        nne_node_set_attr_graph(g, ni, "then_branch", th);
        nne_node_set_attr_graph(g, ni, "else_branch", el);
        nne_node_add_input(g, ni, cond);
        nne_node_add_output(g, ni, y);
        nne_graph_add_output(g, y);
        model_finish(m);
        float xv[2] = {-3, 4}, ref[2], got[2];
        CHECK(run_model(m, xv, 2, 0, ref, 2) == NNE_OK);
        nne_pass_stats st;
        CHECK(run_pass(nne_pass_cse, m, &st) == NNE_OK && st.removed == 1 && live_nodes(g, "Relu") == 1);
        th = g->nodes[1].attrs[0].g;
        el = g->nodes[1].attrs[1].g;
        int ta = nne_graph_find(th, "a");
        CHECK(ta >= 0 && nne_graph_find(th, "b") < 0 && th->nodes[0].in[0] == ta && th->nodes[0].in[1] == ta);
        CHECK(nne_graph_find(el, "a") >= 0 && nne_graph_find(el, "b") < 0);
        CHECK(run_model(m, xv, 2, 0, got, 2) == NNE_OK && !memcmp(got, ref, sizeof got));
        nne_model_destroy(m);
    }
}

static void test_optimize_api(void) {
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", 3);
    float a[3] = {1, 2, 3};
    int ca = init_f32(g, "ca", 3, a);
    int i = node1(g, "Identity", "i", ca, NONE);
    int n1 = node1(g, "Neg", "n1", i, NONE);
    int y1 = node1(g, "Mul", "y1", x, n1);
    int y2 = node1(g, "Mul", "y2", x, n1);
    node1(g, "Relu", "dead", x, NONE);
    nne_graph_add_output(g, node1(g, "Add", "y", y1, y2));
    model_finish(m);
    float xv[3] = {0.5f, -1, 2}, ref[3], got[3];
    CHECK(run_model(m, xv, 3, 0, ref, 3) == NNE_OK);
    nne_opt_report rep;
    CHECK(nne_model_optimize(m, NNE_OPT_NONE, &rep) == NNE_OK && rep.num_passes == 0 && g->n_nodes == 6);
    CHECK(nne_model_optimize(m, (nne_opt_level)7, NULL) == NNE_ERR_INVALID_ARG);
    /* run_model made (and destroyed) a session: the model is shared now */
    CHECK(nne_model_optimize(m, NNE_OPT_BASIC, &rep) == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "session"));
    CHECK(g->n_nodes == 6);
    m->shared = 0; /* (test only) pretend it never was, to measure the passes */
    CHECK(nne_model_optimize(m, NNE_OPT_ALL, &rep) == NNE_OK);
    CHECK(rep.nodes_before == 6 && rep.nodes_after == 2 && rep.num_passes == 14);
    int removed = 0, folded = 0;
    for (int p = 0; p < rep.num_passes; p++) {
        removed += rep.passes[p].nodes_removed;
        folded += rep.passes[p].nodes_folded;
        if (!strcmp(rep.passes[p].name, "cse")) CHECK(rep.passes[p].nodes_removed == 1);
        if (!strcmp(rep.passes[p].name, "identity_elimination")) CHECK(rep.passes[p].nodes_removed == 1);
        if (!strcmp(rep.passes[p].name, "dead_node_elimination")) CHECK(rep.passes[p].nodes_removed == 1);
    }
    CHECK(removed == 4 && folded == 1); /* Identity removed, Neg folded, Mul merged, Relu dead */
    CHECK(run_model(m, xv, 3, 0, got, 3) == NNE_OK && !memcmp(got, ref, sizeof got));
    nne_opt_level lv;
    CHECK(nne_opt_level_parse("basic", &lv) == NNE_OK && lv == NNE_OPT_BASIC);
    CHECK(nne_opt_level_parse("fast", &lv) == NNE_ERR_INVALID_ARG);
    nne_model_destroy(m);
}

/* Runs opt_passes.onnx on x and c; copies the 3 outputs (3 floats each). */
static nne_status run_opt_model(const nne_model *m, const float *x, uint8_t c, float out[3][3]) {
    nne_session *s = NULL;
    nne_tensor in[2] = {{.dtype = NNE_DTYPE_FLOAT, .ndim = 1, .dims = {3}, .data = (void *)x},
                        {.dtype = NNE_DTYPE_BOOL, .ndim = 0, .data = &c}};
    const char *names[2] = {"x", "c"};
    nne_status st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, 2, names, in);
    for (int i = 0; i < 2 && st == NNE_OK; i++) st = nne_session_set_input(s, names[i], &in[i]);
    if (st == NNE_OK) st = nne_session_run(s);
    for (int k = 0; k < 3 && st == NNE_OK; k++) {
        nne_tensor o;
        st = nne_session_output(s, k, &o);
        if (st == NNE_OK && nne_tensor_numel(&o) != 3) st = NNE_ERR_INTERNAL;
        if (st == NNE_OK) memcpy(out[k], o.data, sizeof out[k]);
    }
    nne_session_destroy(s);
    return st;
}

/* A loaded model with work for every pass, in the main graph and in If
 * branches: same outputs, bit for bit, and the expected node counts. */
static void test_loaded_model(void) {
    const char *path = "tests/models/opt_passes.onnx";
    nne_model *ref_m = NULL, *m = NULL;
    CHECK(nne_model_load_file(path, NULL, &ref_m) == NNE_OK);
    CHECK(nne_model_load_file(path, NULL, &m) == NNE_OK);
    if (!m || !ref_m) {
        nne_model_destroy(ref_m);
        nne_model_destroy(m);
        return;
    }
    float x[3] = {-1.5f, 0.25f, 4}, ref[2][3][3], got[3][3];
    for (int c = 0; c < 2; c++) CHECK(run_opt_model(ref_m, x, (uint8_t)c, ref[c]) == NNE_OK);
    nne_opt_report rep;
    CHECK(nne_model_optimize(m, NNE_OPT_BASIC, &rep) == NNE_OK);
    CHECK(nne_graph_validate(m->graph) == NNE_OK);
    CHECK(rep.nodes_before == 19 && rep.nodes_after == 9);
    int want[4] = {4, 3, 1, 2}; /* identity, folding, cse, dead: see scripts/gen_test_models.py */
    for (int p = 0; p < 4 && p < rep.num_passes; p++) CHECK(rep.passes[p].nodes_removed == want[p]);
    /* a second call finds nothing left to do */
    CHECK(nne_model_optimize(m, NNE_OPT_ALL, &rep) == NNE_OK && rep.nodes_after == 9 && rep.rounds == 1);
    for (int c = 0; c < 2; c++) {
        CHECK(run_opt_model(m, x, (uint8_t)c, got) == NNE_OK);
        CHECK(!memcmp(got, ref[c], sizeof got));
    }
    /* the outputs keep their names; the inputs stay the ones to feed */
    nne_value_info vi;
    const char *outs[3] = {"y", "z", "w"};
    for (int k = 0; k < 3; k++) CHECK(nne_model_output_info(m, k, &vi) == NNE_OK && !strcmp(vi.name, outs[k]));
    CHECK(nne_model_num_inputs(m) == 2 && nne_model_input_info(m, 0, &vi) == NNE_OK && !strcmp(vi.name, "x"));
    /* shared now: the graph is frozen */
    CHECK(nne_model_optimize(m, NNE_OPT_ALL, &rep) == NNE_ERR_INVALID_ARG);
    nne_model_destroy(ref_m);
    nne_model_destroy(m);
}


/* A weight's DequantizeLinear (over shape folding's size): constant folding
 * and level basic leave it (qdq_fusion looks for it); at level all, once
 * no int8 op took it, dequantize_folding makes it a float initializer; the
 * model computes the same. */
static void test_dequantize_folding(void) {
    enum { N = 2048 }; /* 8 KiB of float: above shape folding's limit */
    nne_model *m = model_new(8);
    nne_graph *g = m->graph;
    int x = input_f32(g, "x", N);
    nne_tensor wq = {.dtype = NNE_DTYPE_INT8, .ndim = 1, .dims = {N}};
    wq.data = nne_aligned_alloc(N);
    for (int i = 0; i < N; i++) ((int8_t *)wq.data)[i] = (int8_t)(i % 127 - 63);
    int w = -1, zp = -1, sc;
    nne_graph_add_initializer(g, "wq", &wq, &w);
    nne_tensor z = {.dtype = NNE_DTYPE_INT8, .ndim = 0};
    z.data = nne_aligned_alloc(1);
    ((int8_t *)z.data)[0] = 3;
    nne_graph_add_initializer(g, "wz", &z, &zp);
    float s1 = 0.25f;
    sc = init_f32(g, "ws", 1, &s1);
    g->values[sc].ndim = 0;
    g->values[sc].init.ndim = 0;
    int wf = node1(g, "DequantizeLinear", "wf", w, sc);
    nne_node_add_input(g, g->values[wf].producer, zp);
    nne_graph_add_output(g, node1(g, "Mul", "y", x, wf));
    model_finish(m);
    static float xv[N], ref[N], got[N];
    for (int i = 0; i < N; i++) xv[i] = (float)(i % 7) - 2.5f;
    CHECK(run_model(m, xv, N, 0, ref, N) == NNE_OK);
    for (int i = 0; i < N; i++) CHECK(ref[i] == xv[i] * (float)(i % 127 - 63 - 3) * 0.25f);
    nne_pass_stats st;
    CHECK(run_pass(nne_pass_constant_folding, m, &st) == NNE_OK && live_nodes(g, "DequantizeLinear") == 1);
    m->shared = 0; /* (test only) run_model shared it */
    nne_opt_report rep;
    CHECK(nne_model_optimize(m, NNE_OPT_BASIC, &rep) == NNE_OK && live_nodes(m->graph, "DequantizeLinear") == 1);
    CHECK(nne_model_optimize(m, NNE_OPT_ALL, &rep) == NNE_OK && live_nodes(m->graph, "DequantizeLinear") == 0);
    int found = 0;
    for (int p = 0; p < rep.num_passes; p++)
        if (!strcmp(rep.passes[p].name, "dequantize_folding")) found = rep.passes[p].nodes_folded == 1;
    CHECK(found);
    g = m->graph;
    CHECK(live_nodes(g, "Mul") == 1);
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && !strcmp(g->nodes[i].op_type, "Mul"))
            CHECK(g->values[g->nodes[i].in[1]].kind == NNE_VAL_CONST &&
                  g->values[g->nodes[i].in[1]].init.dtype == NNE_DTYPE_FLOAT);
    CHECK(run_model(m, xv, N, 0, got, N) == NNE_OK && !memcmp(got, ref, sizeof got));
    nne_model_destroy(m);
}

void unit_passes(void) {
    test_loaded_model();
    test_builder_validator();
    test_builder_attrs_names();
    test_topo_sort();
    test_compact_outer_links();
    test_dead_nodes();
    test_identity();
    test_identity_subgraph_link();
    test_identity_both();
    test_constant_folding();
    test_cse();
    test_cse_subgraph_links();
    test_optimize_api();
    test_dequantize_folding();
}
