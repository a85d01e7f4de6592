/*
 * test_attention.c - the attention pass (src/ir/pass_attention.c) and the
 * ai.nnedge FusedAttention op (src/ops/nn_fused_attention.c) on small
 * graphs made with the builder: MatMul -> Mul/Div by a scalar -> Softmax ->
 * MatMul becomes one FusedAttention where it should (batch axes, broadcast
 * batch, several row blocks, 1 and 3 threads) and computes what the graph
 * did (random inputs, float rounding); it is left alone where it must be
 * (Softmax over another axis, P read elsewhere, 1-D operands). Also the
 * threaded driver of the float binary ops (elemwise_common.c): big Add/Mul/
 * Sub/Div/Max with every broadcast form give at 3 threads the bits they give
 * at 1. And the fast path of float Resize on the last two axes
 * (nn_resize.c) against the generic path (the same model on doubles), and
 * the affine pass (Mul by a scalar, then Add of a scalar -> ai.nnedge
 * Affine).
 */
#include "core/core.h"
#include "ir/graph.h"
#include "ir/passes.h"
#include "nnedge.h"
#include "unit.h"

#include <math.h>
#include <string.h>

static uint64_t g_arng = 0x9e3779b97f4a7c15ull;
static float arand(void) {
    g_arng ^= g_arng << 13;
    g_arng ^= g_arng >> 7;
    g_arng ^= g_arng << 17;
    return (float)((double)(g_arng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static nne_model *amodel(int opset) {
    nne_model *m = nne_model_new();
    m->graph = nne_graph_create(NULL);
    m->ir_version = 8;
    m->n_opsets = 1;
    m->opsets = nne_calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = nne_strdup("");
    m->opsets[0].version = opset;
    return m;
}

static void amodel_finish(nne_model *m) {
    nne_graph *g = m->graph;
    nne_free(m->feed);
    m->feed = nne_calloc((size_t)g->n_inputs + 1, sizeof(int));
    m->n_feed = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].kind == NNE_VAL_INPUT) m->feed[m->n_feed++] = g->inputs[i];
}

static int a_in(nne_graph *g, const char *name, int nd, const int64_t *dims) {
    int v = -1;
    nne_graph_add_input(g, name, &v);
    g->values[v].dtype = NNE_DTYPE_FLOAT;
    g->values[v].ndim = nd;
    for (int d = 0; d < nd; d++) g->values[v].dims[d] = dims[d];
    return v;
}

static int a_scalar(nne_graph *g, const char *name, float x) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 0};
    t.data = nne_aligned_alloc(4);
    *(float *)t.data = x;
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

static int a_op(nne_graph *g, int opset, const char *type, const char *out, int n_in, const int *ins, int *ni_out) {
    int ni = -1, v = nne_graph_add_value(g, out, NNE_VAL_NODE);
    nne_graph_add_node(g, type, "", out, opset, &ni);
    for (int k = 0; k < n_in; k++) nne_node_add_input(g, ni, ins[k]);
    nne_node_add_output(g, ni, v);
    if (ni_out) *ni_out = ni;
    return v;
}

typedef struct att_case {
    int nq, nk, nv;
    int64_t q[4], k[4], v[4];
    int scale_op;   /* 0 none, 1 Mul (scalar first), 2 Div */
    int axis;       /* Softmax axis attribute (99: none) */
    int p_output;   /* P is also a graph output */
    int opset;
    int fused;      /* expected */
} att_case;

static nne_model *att_build(const att_case *c) {
    nne_model *m = amodel(c->opset);
    nne_graph *g = m->graph;
    int q = a_in(g, "q", c->nq, c->q), k = a_in(g, "kt", c->nk, c->k), v = a_in(g, "v", c->nv, c->v);
    int mm[2] = {q, k};
    int s = a_op(g, c->opset, "MatMul", "s", 2, mm, NULL);
    if (c->scale_op == 1) {
        int ms[2] = {a_scalar(g, "c", 0.35f), s};
        s = a_op(g, c->opset, "Mul", "s2", 2, ms, NULL);
    } else if (c->scale_op == 2) {
        int ds[2] = {s, a_scalar(g, "c", 2.5f)};
        s = a_op(g, c->opset, "Div", "s2", 2, ds, NULL);
    }
    int si = -1, one[1] = {s};
    int p = a_op(g, c->opset, "Softmax", "p", 1, one, &si);
    if (c->axis != 99) nne_node_set_attr_int(g, si, "axis", c->axis);
    int pv[2] = {p, v};
    int o = a_op(g, c->opset, "MatMul", "o", 2, pv, NULL);
    nne_graph_add_output(g, o);
    if (c->p_output) nne_graph_add_output(g, p);
    amodel_finish(m);
    return m;
}

/* Runs m (threads) on inputs from seed; output 0 into out (n floats). */
static nne_status att_run(const nne_model *m, int threads, uint64_t seed, float *out, int64_t n) {
    const nne_graph *g = m->graph;
    nne_tensor ins[3];
    const char *names[3];
    uint64_t save = g_arng;
    g_arng = seed;
    for (int i = 0; i < 3; i++) {
        const nne_value *v = &g->values[m->feed[i]];
        memset(&ins[i], 0, sizeof ins[i]);
        ins[i].dtype = NNE_DTYPE_FLOAT;
        ins[i].ndim = v->ndim;
        memcpy(ins[i].dims, v->dims, sizeof v->dims);
        int64_t k = nne_tensor_numel(&ins[i]);
        ins[i].data = nne_malloc((size_t)k * 4 + 4);
        for (int64_t j = 0; j < k; j++) ((float *)ins[i].data)[j] = 2.0f * arand();
        names[i] = v->name;
    }
    g_arng = save;
    nne_session_options o = nne_session_options_default();
    o.threads = threads;
    nne_session *s = NULL;
    nne_status st = nne_session_create(m, &o, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, 3, names, ins);
    for (int i = 0; i < 3 && st == NNE_OK; i++) st = nne_session_set_input(s, names[i], &ins[i]);
    if (st == NNE_OK) st = nne_session_run(s);
    nne_tensor t;
    if (st == NNE_OK) st = nne_session_output(s, 0, &t);
    if (st == NNE_OK && nne_tensor_numel(&t) != n) st = NNE_ERR_INTERNAL;
    if (st == NNE_OK) memcpy(out, t.data, (size_t)n * 4);
    nne_session_destroy(s);
    for (int i = 0; i < 3; i++) nne_free(ins[i].data);
    return st;
}

static int att_count(const nne_graph *g, const char *type) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && !strcmp(g->nodes[i].op_type, type)) k++;
    return k;
}

static void test_attention_cases(void) {
    static const att_case cs[] = {
        /* batch axes, Mul by a scalar (first operand), opset 13 */
        {4, 4, 4, {2, 3, 5, 4}, {2, 3, 4, 7}, {2, 3, 7, 6}, 1, -1, 0, 13, 1},
        /* Kt 2-D broadcast over the batch, V with fewer batch axes, Div, 75 rows (3 blocks) */
        {4, 2, 3, {2, 3, 75, 8}, {8, 9}, {3, 9, 5}, 2, 99, 0, 13, 1},
        /* no scaling, opset 11 with axis = last, one row */
        {3, 3, 3, {2, 1, 16}, {2, 16, 33}, {2, 33, 4}, 0, 2, 0, 11, 1},
        /* not fused: Softmax over another axis / opset 11 default axis 1 of a 3-D S / P read elsewhere / 1-D Q */
        {3, 3, 3, {2, 5, 4}, {2, 4, 5}, {2, 5, 3}, 0, 1, 0, 13, 0},
        {3, 3, 3, {2, 5, 4}, {2, 4, 5}, {2, 5, 3}, 0, 99, 0, 11, 0},
        {3, 3, 3, {2, 5, 4}, {2, 4, 5}, {2, 5, 3}, 1, -1, 1, 13, 0},
        {1, 2, 2, {4}, {4, 6}, {6, 3}, 0, -1, 0, 13, 0},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        const att_case *c = &cs[i];
        nne_model *a = att_build(c), *b = att_build(c);
        nne_opt_report rep;
        CHECK(nne_model_optimize(b, NNE_OPT_ALL, &rep) == NNE_OK);
        CHECK(nne_graph_validate(b->graph) == NNE_OK);
        int fused = att_count(b->graph, "FusedAttention");
        CHECK(fused == c->fused);
        if (c->fused) CHECK(att_count(b->graph, "Softmax") == 0 && att_count(b->graph, "MatMul") == 0);
        /* output size: broadcast batch x M x D */
        int64_t n = 1;
        int nb = 0;
        const int64_t *dims[3] = {c->q, c->k, c->v};
        int nds[3] = {c->nq, c->nk, c->nv};
        for (int t = 0; t < 3; t++)
            if (nds[t] - 2 > nb) nb = nds[t] - 2;
        for (int d = 0; d < nb; d++) {
            int64_t bd = 1;
            for (int t = 0; t < 3; t++) {
                int k = d - (nb - (nds[t] - 2));
                if (k >= 0 && dims[t][k] != 1) bd = dims[t][k];
            }
            n *= bd;
        }
        n *= (c->nq >= 2 ? c->q[c->nq - 2] : 1) * c->v[c->nv - 1];
        float ya[4096], yb[4096];
        CHECK(n <= 4096);
        for (int threads = 1; threads <= 3; threads += 2) {
            CHECK(att_run(a, 1, 91, ya, n) == NNE_OK);
            CHECK(att_run(b, threads, 91, yb, n) == NNE_OK);
            int bad = 0;
            for (int64_t j = 0; j < n; j++)
                if (!(fabsf(ya[j] - yb[j]) <= 1e-5f + 1e-4f * fabsf(ya[j]))) {
                    if (bad++ < 3)
                        fprintf(stderr, "attention case %zu threads %d: y[%lld] %g, unfused %g\n", i, threads,
                                (long long)j, yb[j], ya[j]);
                }
            CHECK(bad == 0);
        }
        nne_model_destroy(a);
        nne_model_destroy(b);
    }
}

/* y = op(a, b) for shapes a, b: 3 threads against 1, bit for bit. */
static void test_binary_threads(void) {
    static const struct {
        const char *op;
        int na, nb;
        int64_t a[4], b[4];
    } cs[] = {
        {"Add", 4, 4, {1, 64, 32, 32}, {1, 64, 1, 1}}, {"Mul", 4, 1, {2, 3, 64, 64}, {64}},
        {"Sub", 4, 0, {1, 1, 200, 300}, {0}},          {"Div", 3, 3, {1, 250, 300}, {1, 250, 300}},
        {"Max", 2, 4, {1, 70000}, {3, 1, 1, 70000}},   {"Mul", 4, 4, {1, 96, 56, 56}, {1, 96, 56, 56}},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        nne_model *m = amodel(13);
        nne_graph *g = m->graph;
        int a = a_in(g, "a", cs[i].na, cs[i].a), b = a_in(g, "b", cs[i].nb, cs[i].b), c = -1;
        int ab[2] = {a, b};
        int y = a_op(g, 13, cs[i].op, "y", 2, ab, NULL);
        int one[1] = {y};
        int r = a_op(g, 13, "Relu", "r", 1, one, NULL); /* a consumer, so y is an arena value */
        int yr[2] = {r, y};
        c = a_op(g, 13, "Add", "o", 2, yr, NULL);
        nne_graph_add_output(g, c);
        amodel_finish(m);
        int nd = cs[i].na > cs[i].nb ? cs[i].na : cs[i].nb;
        int64_t n = 1;
        for (int d = 0; d < nd; d++) {
            int ka = d - (nd - cs[i].na), kb = d - (nd - cs[i].nb);
            int64_t da = ka >= 0 ? cs[i].a[ka] : 1, db = kb >= 0 ? cs[i].b[kb] : 1;
            n *= da > db ? da : db;
        }
        float *y1 = nne_malloc((size_t)n * 4), *y3 = nne_malloc((size_t)n * 4);
        nne_tensor ins[2];
        const char *names[2] = {"a", "b"};
        for (int k = 0; k < 2; k++) {
            const nne_value *v = &g->values[m->feed[k]];
            memset(&ins[k], 0, sizeof ins[k]);
            ins[k].dtype = NNE_DTYPE_FLOAT;
            ins[k].ndim = v->ndim;
            memcpy(ins[k].dims, v->dims, sizeof v->dims);
            int64_t cnt = nne_tensor_numel(&ins[k]);
            ins[k].data = nne_malloc((size_t)cnt * 4 + 4);
            for (int64_t j = 0; j < cnt; j++) ((float *)ins[k].data)[j] = 2.0f * arand() + (k ? 0.1f : 0.0f);
        }
        for (int t = 1; t <= 3; t += 2) {
            nne_session_options o = nne_session_options_default();
            o.threads = t;
            nne_session *s = NULL;
            nne_status st = nne_session_create(m, &o, &s);
            if (st == NNE_OK) st = nne_session_prepare(s, 2, names, ins);
            for (int k = 0; k < 2 && st == NNE_OK; k++) st = nne_session_set_input(s, names[k], &ins[k]);
            if (st == NNE_OK) st = nne_session_run(s);
            nne_tensor out;
            if (st == NNE_OK) st = nne_session_output(s, 0, &out);
            CHECK(st == NNE_OK && nne_tensor_numel(&out) == n);
            if (st == NNE_OK) memcpy(t == 1 ? y1 : y3, out.data, (size_t)n * 4);
            nne_session_destroy(s);
        }
        int bad = 0;
        for (int64_t j = 0; j < n; j++) bad += !(y1[j] == y3[j] || (isnan(y1[j]) && isnan(y3[j])));
        if (bad) fprintf(stderr, "binary threads case %zu (%s): %d outputs differ\n", i, cs[i].op, bad);
        CHECK(bad == 0);
        for (int k = 0; k < 2; k++) nne_free(ins[k].data);
        nne_free(y1), nne_free(y3);
        nne_model_destroy(m);
    }
}

/* Resize of a float and of a double tensor with the same values (the
 * double one takes the generic path): nearest bit for bit, linear / cubic
 * within float rounding; 1 and 3 threads. */
static void test_resize_fast(void) {
    static const struct {
        int rank;
        int64_t in[4], out[4];
        const char *mode, *ct, *nm;
    } cs[] = {
        {4, {1, 3, 5, 7}, {1, 3, 10, 14}, "nearest", "asymmetric", "floor"},
        {4, {2, 64, 20, 20}, {2, 64, 160, 160}, "nearest", "asymmetric", "round_prefer_floor"},
        {4, {1, 2, 9, 13}, {1, 2, 4, 6}, "nearest", "half_pixel", "round_prefer_ceil"},
        {4, {1, 3, 6, 11}, {1, 3, 13, 29}, "linear", "half_pixel", NULL},
        {4, {1, 40, 17, 19}, {1, 40, 68, 38}, "linear", "align_corners", NULL},
        {3, {5, 8, 9}, {5, 11, 4}, "linear", "pytorch_half_pixel", NULL},
        {4, {1, 2, 7, 8}, {1, 2, 15, 17}, "cubic", "half_pixel", NULL},
        {2, {6, 10}, {12, 25}, "cubic", "asymmetric", NULL},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        int64_t n_in = 1, n_out = 1;
        for (int d = 0; d < cs[i].rank; d++) n_in *= cs[i].in[d], n_out *= cs[i].out[d];
        float *xf = nne_malloc((size_t)n_in * 4), *yf = nne_malloc((size_t)n_out * 4);
        double *xd = nne_malloc((size_t)n_in * 8), *yd = nne_malloc((size_t)n_out * 8);
        float *y1 = nne_malloc((size_t)n_out * 4);
        for (int64_t k = 0; k < n_in; k++) xd[k] = xf[k] = 2.0f * arand();
        for (int dbl = 0; dbl < 2; dbl++)
            for (int t = 1; t <= (dbl ? 1 : 3); t += 2) {
                nne_model *m = amodel(13);
                nne_graph *g = m->graph;
                int x = a_in(g, "x", cs[i].rank, cs[i].in);
                g->values[x].dtype = dbl ? NNE_DTYPE_DOUBLE : NNE_DTYPE_FLOAT;
                nne_tensor sz = {.dtype = NNE_DTYPE_INT64, .ndim = 1, .dims = {cs[i].rank}};
                sz.data = nne_aligned_alloc(8 * 4);
                memcpy(sz.data, cs[i].out, sizeof(int64_t) * (size_t)cs[i].rank);
                int sv = -1;
                nne_graph_add_initializer(g, "sizes", &sz, &sv);
                int ni = -1, ins[4] = {x, -1, -1, sv};
                int y = a_op(g, 13, "Resize", "y", 4, ins, &ni);
                nne_node_set_attr_string(g, ni, "mode", cs[i].mode);
                nne_node_set_attr_string(g, ni, "coordinate_transformation_mode", cs[i].ct);
                if (cs[i].nm) nne_node_set_attr_string(g, ni, "nearest_mode", cs[i].nm);
                nne_graph_add_output(g, y);
                amodel_finish(m);
                nne_tensor in = {.dtype = g->values[x].dtype, .ndim = cs[i].rank, .data = dbl ? (void *)xd : xf};
                memcpy(in.dims, cs[i].in, sizeof(int64_t) * (size_t)cs[i].rank);
                const char *names[1] = {"x"};
                nne_session_options o = nne_session_options_default();
                o.threads = t;
                nne_session *s = NULL;
                nne_status st = nne_session_create(m, &o, &s);
                if (st == NNE_OK) st = nne_session_prepare(s, 1, names, &in);
                if (st == NNE_OK) st = nne_session_set_input(s, "x", &in);
                if (st == NNE_OK) st = nne_session_run(s);
                nne_tensor out;
                if (st == NNE_OK) st = nne_session_output(s, 0, &out);
                CHECK(st == NNE_OK && nne_tensor_numel(&out) == n_out);
                if (st != NNE_OK) fprintf(stderr, "resize case %zu: %s\n", i, nne_last_error());
                if (st == NNE_OK) memcpy(dbl ? (void *)yd : (t == 1 ? y1 : yf), out.data, (size_t)n_out * (dbl ? 8 : 4));
                nne_session_destroy(s);
                nne_model_destroy(m);
            }
        int bad = 0, exact = !strcmp(cs[i].mode, "nearest");
        for (int64_t k = 0; k < n_out; k++) {
            int ok = exact ? yf[k] == (float)yd[k] : fabs(yf[k] - yd[k]) <= 1e-5 + 1e-5 * fabs(yd[k]);
            ok = ok && yf[k] == y1[k];
            if (!ok && bad++ < 3)
                fprintf(stderr, "resize case %zu: y[%lld] %g (1 thread %g), generic %g\n", i, (long long)k, yf[k], y1[k],
                        yd[k]);
        }
        CHECK(bad == 0);
        nne_free(xf), nne_free(yf), nne_free(xd), nne_free(yd), nne_free(y1);
    }
}

static int a_const(nne_graph *g, const char *name, int nd, int64_t n, float x) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = nd, .dims = {n}};
    t.data = nne_aligned_alloc((size_t)n * 4 + 4);
    for (int64_t k = 0; k < n; k++) ((float *)t.data)[k] = x + 0.125f * (float)k;
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

static void test_affine_pass(void) {
    /* mode: 0 Mul(X, c[1]) + d[]; 1 Mul(c[], X), Add(d[1], .); 2 the Mul's output also an output;
     * 3 c of 5 values; 4 Mul then Sub (no Add) */
    for (int mode = 0; mode < 5; mode++) {
        nne_model *mm[2];
        for (int k = 0; k < 2; k++) {
            nne_model *m = amodel(13);
            nne_graph *g = m->graph;
            int64_t xd[4] = {2, 3, 4, 5};
            int x = a_in(g, "x", 4, xd);
            int c = mode == 3 ? a_const(g, "c", 1, 5, 1.5f) : a_const(g, "c", mode == 1 ? 0 : 1, 1, 1.5f);
            int d = a_const(g, "d", mode == 1 ? 1 : 0, 1, -0.25f);
            int mi[2] = {mode == 1 ? c : x, mode == 1 ? x : c};
            int mv = a_op(g, 13, "Mul", "m", 2, mi, NULL);
            int ai[2] = {mode == 1 ? d : mv, mode == 1 ? mv : d};
            int y = a_op(g, 13, mode == 4 ? "Sub" : "Add", "y", 2, ai, NULL);
            nne_graph_add_output(g, y);
            if (mode == 2) nne_graph_add_output(g, mv);
            amodel_finish(m);
            mm[k] = m;
        }
        nne_opt_report rep;
        CHECK(nne_model_optimize(mm[1], NNE_OPT_ALL, &rep) == NNE_OK);
        int fused = att_count(mm[1]->graph, "Affine");
        CHECK(fused == (mode <= 1));
        float ya[120], yb[120];
        nne_tensor in = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {2, 3, 4, 5}};
        float xv[120];
        for (int k = 0; k < 120; k++) xv[k] = 4.0f * arand();
        in.data = xv;
        const char *names[1] = {"x"};
        for (int k = 0; k < 2; k++) {
            nne_session *s = NULL;
            nne_status st = nne_session_create(mm[k], NULL, &s);
            if (st == NNE_OK) st = nne_session_prepare(s, 1, names, &in);
            if (st == NNE_OK) st = nne_session_set_input(s, "x", &in);
            if (st == NNE_OK) st = nne_session_run(s);
            nne_tensor out;
            if (st == NNE_OK) st = nne_session_output(s, 0, &out);
            CHECK(st == NNE_OK && nne_tensor_numel(&out) == 120);
            if (st == NNE_OK) memcpy(k ? yb : ya, out.data, sizeof ya);
            nne_session_destroy(s);
        }
        int bad = 0;
        for (int k = 0; k < 120; k++) bad += !(fabsf(ya[k] - yb[k]) <= 1e-6f * (fabsf(ya[k]) + 1.0f));
        CHECK(bad == 0);
        nne_model_destroy(mm[0]);
        nne_model_destroy(mm[1]);
    }
}

void unit_attention(void) {
    test_affine_pass();
    test_resize_fast();
    test_attention_cases();
    test_binary_threads();
}
