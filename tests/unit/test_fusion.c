/*
 * test_fusion.c - the folding and fusion passes (BatchNormalization and
 * Conv Mul/Add folding, epilogue fusion into FusedConv/FusedGemm/
 * FusedMatMul, Transpose/Reshape chains, GELU and HardSwish patterns, shape
 * folding) on small graphs built with the builder: each rewrite happens
 * where it should (op types and domains of the result), is refused where it
 * must be (shared values, graph outputs, shapes that differ), and the
 * optimized graph computes what the original did (random inputs, within
 * float rounding). Also the fused ops' own checks.
 */
#include "core/core.h"
#include "ir/graph.h"
#include "ir/passes.h"
#include "ir/session_internal.h"
#include "kernels/epilogue.h"
#include "nnedge.h"
#include "unit.h"

#include <math.h>
#include <string.h>

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static float frand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static int g_opset = 13; /* the opset of the nodes op() makes */

static nne_model *fmodel(int opset) {
    g_opset = opset;
    nne_model *m = nne_model_new();
    m->graph = nne_graph_create(NULL);
    m->ir_version = 8;
    m->n_opsets = 1;
    m->opsets = nne_calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = nne_strdup("");
    m->opsets[0].version = opset;
    return m;
}

static void fmodel_finish(nne_model *m) {
    nne_graph *g = m->graph;
    nne_free(m->feed);
    m->feed = nne_calloc((size_t)g->n_inputs + 1, sizeof(int));
    m->n_feed = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].kind == NNE_VAL_INPUT) m->feed[m->n_feed++] = g->inputs[i];
}

static int in_nd(nne_graph *g, const char *name, int nd, const int64_t *dims) {
    int v = -1;
    nne_graph_add_input(g, name, &v);
    g->values[v].dtype = NNE_DTYPE_FLOAT;
    g->values[v].ndim = nd;
    for (int d = 0; d < nd; d++) g->values[v].dims[d] = dims[d];
    return v;
}

/* A float initializer of the given shape: random values (scale s, offset o). */
static int w_nd(nne_graph *g, const char *name, int nd, const int64_t *dims, float s, float o) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = nd};
    for (int d = 0; d < nd; d++) t.dims[d] = dims[d];
    int64_t n = nne_tensor_numel(&t);
    t.data = nne_aligned_alloc((size_t)(n ? n : 1) * 4);
    for (int64_t i = 0; i < n; i++) ((float *)t.data)[i] = o + s * frand();
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

static int scalar(nne_graph *g, const char *name, float x) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 0};
    t.data = nne_aligned_alloc(4);
    *(float *)t.data = x;
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

static int i64s(nne_graph *g, const char *name, int n, const int64_t *vals) {
    nne_tensor t = {.dtype = NNE_DTYPE_INT64, .ndim = 1, .dims = {n}};
    t.data = nne_aligned_alloc((size_t)n * 8);
    memcpy(t.data, vals, (size_t)n * 8);
    int v = -1;
    nne_graph_add_initializer(g, name, &t, &v);
    return v;
}

/* op(ins...) -> new value `out`; *ni gets the node. */
static int op(nne_graph *g, const char *type, const char *out, int n_in, const int *ins, int *ni_out) {
    int ni = -1, v = nne_graph_add_value(g, out, NNE_VAL_NODE);
    nne_graph_add_node(g, type, "", out, g_opset, &ni);
    for (int k = 0; k < n_in; k++) nne_node_add_input(g, ni, ins[k]);
    nne_node_add_output(g, ni, v);
    if (ni_out) *ni_out = ni;
    return v;
}

static void conv_attrs(nne_graph *g, int ni, int pad) {
    int64_t p[4] = {pad, pad, pad, pad};
    nne_node_set_attr_ints(g, ni, "pads", 4, p);
}

static int count_op(const nne_graph *g, const char *domain, const char *type) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && !strcmp(g->nodes[i].op_type, type) && !strcmp(g->nodes[i].domain, domain)) k++;
    return k;
}

static const nne_node *find_op(const nne_graph *g, const char *type) {
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && !strcmp(g->nodes[i].op_type, type)) return &g->nodes[i];
    return NULL;
}

/* Run m on its inputs (random values from seed), output 0 into out (n floats). */
static nne_status frun(const nne_model *m, uint64_t seed, float *out, int64_t n) {
    const nne_graph *g = m->graph;
    nne_tensor ins[4];
    const char *names[4];
    int ni = 0;
    uint64_t save = g_rng;
    g_rng = seed;
    for (int i = 0; i < m->n_feed && ni < 4; i++, ni++) {
        const nne_value *v = &g->values[m->feed[i]];
        memset(&ins[ni], 0, sizeof ins[ni]);
        ins[ni].dtype = NNE_DTYPE_FLOAT;
        ins[ni].ndim = v->ndim;
        memcpy(ins[ni].dims, v->dims, sizeof v->dims);
        int64_t k = nne_tensor_numel(&ins[ni]);
        ins[ni].data = nne_malloc((size_t)k * 4 + 4);
        for (int64_t j = 0; j < k; j++) ((float *)ins[ni].data)[j] = 3.0f * frand();
        names[ni] = v->name;
    }
    g_rng = save;
    nne_session *s = NULL;
    nne_status st = nne_session_create(m, NULL, &s);
    if (st == NNE_OK) st = nne_session_prepare(s, ni, names, ins);
    for (int i = 0; i < ni && st == NNE_OK; i++) st = nne_session_set_input(s, names[i], &ins[i]);
    if (st == NNE_OK) st = nne_session_run(s);
    nne_tensor o;
    if (st == NNE_OK) st = nne_session_output(s, 0, &o);
    if (st == NNE_OK && (o.dtype != NNE_DTYPE_FLOAT || nne_tensor_numel(&o) != n)) st = NNE_ERR_INTERNAL;
    if (st == NNE_OK) memcpy(out, o.data, (size_t)n * 4);
    if (st == NNE_OK && nne_session_plan_check(s) != 0) st = NNE_ERR_INTERNAL;
    nne_session_destroy(s);
    for (int i = 0; i < ni; i++) nne_free(ins[i].data);
    return st;
}

/* Builds the same model twice (fresh random weights from the same seed),
 * optimizes one at `level`, and checks outputs agree within tol; returns
 * the optimized model (caller destroys) for structural checks. */
typedef nne_model *(*build_fn)(void);
static nne_model *same_result(build_fn build, nne_opt_level level, int64_t n_out, double tol) {
    uint64_t seed = g_rng;
    nne_model *a = build();
    g_rng = seed;
    nne_model *b = build();
    float *ya = nne_malloc((size_t)n_out * 4), *yb = nne_malloc((size_t)n_out * 4);
    CHECK(frun(a, 77, ya, n_out) == NNE_OK);
    nne_opt_report rep;
    CHECK(nne_model_optimize(b, level, &rep) == NNE_OK);
    CHECK(nne_graph_validate(b->graph) == NNE_OK);
    nne_status st = frun(b, 77, yb, n_out);
    CHECK(st == NNE_OK);
    if (st != NNE_OK) fprintf(stderr, "  %s\n", nne_last_error());
    double worst = 0;
    for (int64_t i = 0; st == NNE_OK && i < n_out; i++) {
        double d = fabs((double)ya[i] - yb[i]) / (1.0 + fabs(ya[i]));
        if (!(d <= worst)) worst = d;
    }
    CHECK(worst <= tol);
    if (!(worst <= tol)) fprintf(stderr, "  optimized output off by %g\n", worst);
    nne_free(ya);
    nne_free(yb);
    nne_model_destroy(a);
    return b;
}

/* ---- BatchNormalization and Conv Mul/Add folding ---- */

static nne_model *build_conv_bn(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[4] = {1, 3, 7, 5}, wd[4] = {4, 3, 3, 3}, cd[1] = {4};
    int x = in_nd(g, "x", 4, xd), ni;
    int ins[5] = {x, w_nd(g, "w", 4, wd, 0.5f, 0), w_nd(g, "b", 1, cd, 0.5f, 0)};
    int c = op(g, "Conv", "c", 3, ins, &ni);
    conv_attrs(g, ni, 1);
    int bn[5] = {c, w_nd(g, "s", 1, cd, 0.5f, 1), w_nd(g, "bb", 1, cd, 0.5f, 0), w_nd(g, "mu", 1, cd, 0.5f, 0),
                 w_nd(g, "var", 1, cd, 0.4f, 0.6f)};
    int y = op(g, "BatchNormalization", "y", 5, bn, &ni);
    nne_node_set_attr_float(g, ni, "epsilon", 1e-3f);
    nne_graph_add_output(g, y);
    fmodel_finish(m);
    return m;
}

static nne_model *build_conv_muladd(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[4] = {2, 3, 5, 6}, wd[4] = {5, 3, 1, 1}, md[3] = {5, 1, 1}, ad[4] = {1, 5, 1, 1}, one[1] = {1};
    int x = in_nd(g, "x", 4, xd);
    int ins[2] = {x, w_nd(g, "w", 4, wd, 0.5f, 0)};
    int c = op(g, "Conv", "c", 2, ins, NULL);
    int mu[2] = {w_nd(g, "k", 3, md, 1.0f, 0), c}; /* constant first */
    int p = op(g, "Mul", "p", 2, mu, NULL);
    int ad2[2] = {p, w_nd(g, "d", 4, ad, 1.0f, 0)};
    int q = op(g, "Add", "q", 2, ad2, NULL);
    int s2[2] = {q, w_nd(g, "s", 1, one, 1.0f, 0)}; /* a scalar [1]: also folds */
    nne_graph_add_output(g, op(g, "Mul", "y", 2, s2, NULL));
    fmodel_finish(m);
    return m;
}

static void test_bn_fold(void) {
    nne_model *m = same_result(build_conv_bn, NNE_OPT_BASIC, 4 * 7 * 5, 1e-5);
    CHECK(count_op(m->graph, "", "BatchNormalization") == 0 && count_op(m->graph, "", "Conv") == 1);
    nne_model_destroy(m);
    m = same_result(build_conv_muladd, NNE_OPT_BASIC, 2 * 5 * 5 * 6, 1e-5);
    CHECK(count_op(m->graph, "", "Mul") == 0 && count_op(m->graph, "", "Add") == 0 && m->graph->n_nodes == 1);
    nne_model_destroy(m);
}

/* Gemm + BatchNormalization (the classifier head of some models). */
static nne_model *build_gemm_bn(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[2] = {3, 6}, wd[2] = {4, 6}, cd[1] = {4};
    int x = in_nd(g, "x", 2, xd), ni;
    int ins[3] = {x, w_nd(g, "w", 2, wd, 0.5f, 0), w_nd(g, "b", 1, cd, 0.5f, 0)};
    int c = op(g, "Gemm", "c", 3, ins, &ni);
    nne_node_set_attr_int(g, ni, "transB", 1);
    nne_node_set_attr_float(g, ni, "beta", 0.5f);
    int bn[5] = {c, w_nd(g, "s", 1, cd, 0.5f, 1), w_nd(g, "bb", 1, cd, 0.5f, 0), w_nd(g, "mu", 1, cd, 0.5f, 0),
                 w_nd(g, "var", 1, cd, 0.4f, 0.6f)};
    nne_graph_add_output(g, op(g, "BatchNormalization", "y", 5, bn, NULL));
    fmodel_finish(m);
    return m;
}

/* ConvTranspose (2 groups) + BatchNormalization. */
static nne_model *build_convt_bn(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[4] = {1, 4, 3, 3}, wd[4] = {4, 3, 2, 2}, cd[1] = {6};
    int x = in_nd(g, "x", 4, xd), ni;
    int ins[3] = {x, w_nd(g, "w", 4, wd, 0.5f, 0), w_nd(g, "b", 1, cd, 0.5f, 0)};
    int c = op(g, "ConvTranspose", "c", 3, ins, &ni);
    nne_node_set_attr_int(g, ni, "group", 2);
    int bn[5] = {c, w_nd(g, "s", 1, cd, 0.5f, 1), w_nd(g, "bb", 1, cd, 0.5f, 0), w_nd(g, "mu", 1, cd, 0.5f, 0),
                 w_nd(g, "var", 1, cd, 0.4f, 0.6f)};
    nne_graph_add_output(g, op(g, "BatchNormalization", "y", 5, bn, NULL));
    fmodel_finish(m);
    return m;
}

static void test_gemm_bn(void) {
    nne_model *t = same_result(build_convt_bn, NNE_OPT_BASIC, 6 * 4 * 4, 1e-5);
    CHECK(count_op(t->graph, "", "BatchNormalization") == 0 && count_op(t->graph, "", "ConvTranspose") == 1);
    nne_model_destroy(t);
    nne_model *m = same_result(build_gemm_bn, NNE_OPT_BASIC, 12, 1e-5);
    CHECK(count_op(m->graph, "", "BatchNormalization") == 0 && count_op(m->graph, "", "Gemm") == 1);
    nne_model_destroy(m);
}

/* ---- epilogue fusion ---- */

static int g_variant;

/* Conv -> [Add(z)] -> activation by variant:
 *   0 Relu, 1 Clip(0, 6), 2 x*Sigmoid(x), 3 LeakyRelu, 4 HardSwish,
 *   5 Add(z) + Relu, 6 Add(z) alone, 7 Relu with the conv output also an
 *   output (no fusion), 8 Add with a broadcast z (no residual fusion),
 *   9 x*HardSigmoid(x) (alpha 1/6) */
static nne_model *build_conv_act(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[4] = {1, 3, 6, 7}, wd[4] = {4, 3, 3, 3}, cd[1] = {4}, zd[4] = {1, 4, 6, 7}, zb[4] = {1, 4, 1, 7};
    int x = in_nd(g, "x", 4, xd), ni;
    int z = g_variant == 5 || g_variant == 6 ? in_nd(g, "z", 4, zd) : g_variant == 8 ? in_nd(g, "z", 4, zb) : -1;
    int ins[3] = {x, w_nd(g, "w", 4, wd, 0.5f, 0), w_nd(g, "b", 1, cd, 0.5f, 0)};
    int c = op(g, "Conv", "c", 3, ins, &ni);
    conv_attrs(g, ni, 1);
    int y = c;
    if (z >= 0) {
        int a[2] = {z, c};
        y = op(g, "Add", "r", 2, a, NULL);
    }
    int one[1] = {y};
    switch (g_variant) {
    case 0: case 5: case 7: case 8: y = op(g, "Relu", "y", 1, one, NULL); break;
    case 1: {
        int cl[3] = {y, scalar(g, "lo", 0), scalar(g, "hi", 6)};
        y = op(g, "Clip", "y", 3, cl, NULL);
        break;
    }
    case 2: case 9: {
        int sg = op(g, g_variant == 2 ? "Sigmoid" : "HardSigmoid", "sg", 1, one, &ni);
        if (g_variant == 9) nne_node_set_attr_float(g, ni, "alpha", 1.0f / 6.0f);
        int mu[2] = {sg, y};
        y = op(g, "Mul", "y", 2, mu, NULL);
        break;
    }
    case 3: y = op(g, "LeakyRelu", "y", 1, one, &ni); nne_node_set_attr_float(g, ni, "alpha", 0.3f); break;
    case 4: y = op(g, "HardSwish", "y", 1, one, NULL); break;
    default: break;
    }
    nne_graph_add_output(g, y);
    if (g_variant == 7) nne_graph_add_output(g, c);
    fmodel_finish(m);
    return m;
}

static void test_conv_fusion(void) {
    static const struct {
        const char *domain, *type, *act;
        int n_in;
    } want[] = {
        {"com.microsoft", "FusedConv", "Relu", 3},  {"com.microsoft", "FusedConv", "Clip", 3},
        {"ai.nnedge", "FusedConv", "Silu", 3},       {"com.microsoft", "FusedConv", "LeakyRelu", 3},
        {"ai.nnedge", "FusedConv", "HardSwish", 3},  {"ai.nnedge", "FusedConv", "Relu", 4},
        {"ai.nnedge", "FusedConv", NULL, 4},         {"", "Conv", NULL, 3},
        {"", "Conv", NULL, 3},                       {"ai.nnedge", "FusedConv", "HardSwish", 3},
    };
    for (g_variant = 0; g_variant < 10; g_variant++) {
        nne_model *m = same_result(build_conv_act, NNE_OPT_ALL, 4 * 6 * 7, 1e-5);
        const nne_graph *g = m->graph;
        const nne_node *n = find_op(g, want[g_variant].type);
        CHECK(n && !strcmp(n->domain, want[g_variant].domain) && n->n_in == want[g_variant].n_in);
        if (!n) {
            fprintf(stderr, "  variant %d: no %s\n", g_variant, want[g_variant].type);
        } else if (want[g_variant].act) {
            const nne_attr *a = nne_node_attr(n, "activation");
            CHECK(a && !strcmp(a->s, want[g_variant].act));
        }
        if (g_variant == 1) {
            const nne_attr *p = n ? nne_node_attr(n, "activation_params") : NULL;
            CHECK(p && p->n == 2 && p->floats[0] == 0 && p->floats[1] == 6);
        }
        if (g_variant == 7) CHECK(count_op(g, "", "Relu") == 1); /* c is an output: stays */
        if (g_variant == 8) CHECK(count_op(g, "", "Add") == 1 && count_op(g, "", "Relu") == 1); /* z broadcasts */
        if (want[g_variant].act && g_variant != 7) CHECK(g->n_nodes == 1 || g_variant == 8);
        /* the domains the nodes use are imported */
        if (n && n->domain[0]) CHECK(nne_model_opset_for(m, n->domain) == 1);
        nne_model_destroy(m);
    }
}

/* MatMul + bias (+ activation): 2-D -> Gemm / FusedGemm, 3-D -> FusedMatMul. */
static nne_model *build_matmul(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[3] = {2, 3, 5}, wd[2] = {5, 4}, bd[1] = {4};
    int nd = g_variant == 2 ? 3 : 2;
    int64_t *xs = nd == 3 ? xd : xd + 1;
    int x = in_nd(g, "x", nd, xs);
    int ins[2] = {x, w_nd(g, "w", 2, wd, 0.5f, 0)};
    int c = op(g, "MatMul", "c", 2, ins, NULL);
    int a[2] = {c, w_nd(g, "b", 1, bd, 0.5f, 0)};
    int y = op(g, "Add", "a", 2, a, NULL);
    int one[1] = {y};
    if (g_variant == 1) y = op(g, "Relu", "y", 1, one, NULL);
    if (g_variant == 2) y = op(g, "Tanh", "y", 1, one, NULL);
    nne_graph_add_output(g, y);
    fmodel_finish(m);
    return m;
}

static void test_matmul_fusion(void) {
    g_variant = 0;
    nne_model *m = same_result(build_matmul, NNE_OPT_ALL, 12, 1e-5);
    CHECK(m->graph->n_nodes == 1 && count_op(m->graph, "", "Gemm") == 1);
    nne_model_destroy(m);
    g_variant = 1;
    m = same_result(build_matmul, NNE_OPT_ALL, 12, 1e-5);
    CHECK(m->graph->n_nodes == 1 && count_op(m->graph, "com.microsoft", "FusedGemm") == 1);
    nne_model_destroy(m);
    g_variant = 2;
    m = same_result(build_matmul, NNE_OPT_ALL, 24, 1e-5);
    CHECK(m->graph->n_nodes == 1 && count_op(m->graph, "ai.nnedge", "FusedMatMul") == 1);
    nne_model_destroy(m);
}

/* A value read twice is never folded away. */
static nne_model *build_shared(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {2, 2, 1, 1};
    int x = in_nd(g, "x", 4, xd);
    int ins[2] = {x, w_nd(g, "w", 4, wd, 0.5f, 0)};
    int c = op(g, "Conv", "c", 2, ins, NULL);
    int one[1] = {c};
    int r = op(g, "Relu", "r", 1, one, NULL);
    int t = op(g, "Tanh", "t", 1, one, NULL);
    int a[2] = {r, t};
    nne_graph_add_output(g, op(g, "Add", "y", 2, a, NULL));
    fmodel_finish(m);
    return m;
}

static void test_no_fusion(void) {
    nne_model *m = same_result(build_shared, NNE_OPT_ALL, 32, 1e-6);
    CHECK(count_op(m->graph, "", "Conv") == 1 && count_op(m->graph, "", "Relu") == 1);
    nne_model_destroy(m);
}

/* ---- Transpose / Reshape chains, shape folding ---- */

static nne_model *build_chains(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[3] = {2, 3, 4}, p1[3] = {0, 2, 1}, p2[3] = {2, 0, 1}, p3[3] = {1, 0, 2};
    int x = in_nd(g, "x", 3, xd), ni;
    int one[1] = {x};
    int t1 = op(g, "Transpose", "t1", 1, one, &ni);
    nne_node_set_attr_ints(g, ni, "perm", 3, p1);
    one[0] = t1;
    int t2 = op(g, "Transpose", "t2", 1, one, &ni); /* t1 then t2: perm (1 0 2), its own inverse */
    nne_node_set_attr_ints(g, ni, "perm", 3, p2);
    one[0] = t2;
    int t3 = op(g, "Transpose", "t3", 1, one, &ni);
    nne_node_set_attr_ints(g, ni, "perm", 3, p3);
    int64_t s1[2] = {4, 6}, s2[3] = {2, 2, 6};
    int r[2] = {t3, i64s(g, "s1", 2, s1)};
    int r1 = op(g, "Reshape", "r1", 2, r, NULL);
    int rr[2] = {r1, i64s(g, "s2", 3, s2)};
    int r2 = op(g, "Reshape", "r2", 2, rr, NULL);
    /* Shape(x) -> Gather(0) -> used as data: folded on the fixed input shape */
    one[0] = x;
    int sh = op(g, "Shape", "sh", 1, one, NULL);
    int64_t idx0[1] = {2};
    int ga[2] = {sh, i64s(g, "i0", 1, idx0)};
    int gv = op(g, "Gather", "gv", 2, ga, NULL);
    int cv[1] = {gv};
    int gf = op(g, "Cast", "gf", 1, cv, &ni);
    nne_node_set_attr_int(g, ni, "to", NNE_DTYPE_FLOAT);
    /* Unsqueeze(axes 0) -> Flatten(axis 1) -> Squeeze(axes 0) -> Reshape back
     * to r2's shape: one Reshape, then nothing (it keeps the shape) */
    int64_t ax0[1] = {0}, same[3] = {2, 2, 6};
    int ua[2] = {r2, i64s(g, "ax0", 1, ax0)};
    int un = op(g, "Unsqueeze", "un", 2, ua, NULL);
    one[0] = un;
    int fl = op(g, "Flatten", "fl", 1, one, &ni);
    nne_node_set_attr_int(g, ni, "axis", 1);
    int sa[2] = {fl, i64s(g, "ax1", 1, ax0)};
    int sq = op(g, "Squeeze", "sq", 2, sa, NULL);
    int rs[2] = {sq, i64s(g, "same", 3, same)};
    int rsame = op(g, "Reshape", "rsame", 2, rs, NULL);
    int ad[2] = {rsame, gf};
    nne_graph_add_output(g, op(g, "Add", "y", 2, ad, NULL));
    fmodel_finish(m);
    return m;
}

static void test_chains(void) {
    nne_model *m = same_result(build_chains, NNE_OPT_BASIC, 24, 0);
    const nne_graph *g = m->graph;
    /* p1 then p2 then p3 compose to the identity: no Transpose is left */
    CHECK(count_op(g, "", "Transpose") == 0);
    CHECK(count_op(g, "", "Reshape") == 1); /* x -> r1 -> r2 is one; un fl sq rsame come back to r2: none */
    CHECK(count_op(g, "", "Unsqueeze") == 0 && count_op(g, "", "Flatten") == 0 && count_op(g, "", "Squeeze") == 0);
    CHECK(count_op(g, "", "Identity") == 0);
    CHECK(count_op(g, "", "Shape") == 0 && count_op(g, "", "Gather") == 0);
    nne_model_destroy(m);
}

/* ---- patterns ---- */

/* x * (1 + Erf(x / sqrt 2)) * 0.5 (variant 0) or (x * 0.5) * (1 + Erf(x * 1/sqrt 2)) (1);
 * x * Clip(x + 3, 0, 6) / 6 (2) */
static nne_model *build_pattern(void) {
    nne_model *m = fmodel(g_variant == 2 ? 11 : g_variant == 3 ? 17 : 13);
    nne_graph *g = m->graph;
    int64_t xd[2] = {3, 5};
    int x = in_nd(g, "x", 2, xd), y, ni;
    if (g_variant >= 4) { /* GELU, tanh form: x^3 as Pow (4) or x * (x * x) with the 0.5 first (5) */
        int p;
        if (g_variant == 4) {
            int pw[2] = {x, scalar(g, "three", 3)};
            p = op(g, "Pow", "p", 2, pw, NULL);
        } else {
            int sq[2] = {x, x};
            int x2 = op(g, "Mul", "x2", 2, sq, NULL);
            int cu[2] = {x2, x};
            p = op(g, "Mul", "p", 2, cu, NULL);
        }
        int mc[2] = {scalar(g, "c", 0.044715f), p};
        int c = op(g, "Mul", "cc", 2, mc, NULL);
        int ad[2] = {x, c};
        int sm = op(g, "Add", "sm", 2, ad, NULL);
        int mk[2] = {sm, scalar(g, "k", 0.7978845608f)};
        int k = op(g, "Mul", "kk", 2, mk, NULL);
        int one[1] = {k};
        int t = op(g, "Tanh", "t", 1, one, NULL);
        int a1[2] = {t, scalar(g, "one", 1)};
        int u = op(g, "Add", "u", 2, a1, NULL);
        if (g_variant == 4) {
            int mu[2] = {x, u};
            int q = op(g, "Mul", "q", 2, mu, NULL);
            int mh[2] = {q, scalar(g, "half", 0.5f)};
            y = op(g, "Mul", "y", 2, mh, NULL);
        } else {
            int mh[2] = {scalar(g, "half", 0.5f), x};
            int h = op(g, "Mul", "h", 2, mh, NULL);
            int mu[2] = {u, h};
            y = op(g, "Mul", "y", 2, mu, NULL);
        }
    } else if (g_variant == 3) { /* LayerNormalization written out, as PaddlePaddle exports it */
        int64_t ax[1] = {-1}, cd[1] = {5};
        int one[1] = {x};
        int mu = op(g, "ReduceMean", "mu", 1, one, &ni);
        nne_node_set_attr_ints(g, ni, "axes", 1, ax);
        int sb[2] = {x, mu};
        int d = op(g, "Sub", "d", 2, sb, NULL);
        int pw[2] = {d, scalar(g, "two", 2)};
        int p = op(g, "Pow", "p", 2, pw, NULL);
        one[0] = p;
        int v = op(g, "ReduceMean", "v", 1, one, &ni);
        nne_node_set_attr_ints(g, ni, "axes", 1, ax);
        int ad[2] = {v, scalar(g, "eps", 1e-5f)};
        int ve = op(g, "Add", "ve", 2, ad, NULL);
        one[0] = ve;
        int sq = op(g, "Sqrt", "sq", 1, one, NULL);
        int dv[2] = {d, sq};
        int nn = op(g, "Div", "nn", 2, dv, NULL);
        int mg[2] = {nn, w_nd(g, "gamma", 1, cd, 0.5f, 1)};
        int a = op(g, "Mul", "a", 2, mg, NULL);
        int ab[2] = {a, w_nd(g, "beta", 1, cd, 0.5f, 0)};
        y = op(g, "Add", "y", 2, ab, NULL);
    } else if (g_variant < 2) {
        int d[2] = {x, scalar(g, "k", g_variant ? 0.70710678f : 1.41421356f)};
        int a = op(g, g_variant ? "Mul" : "Div", "a", 2, d, NULL);
        int one[1] = {a};
        int e = op(g, "Erf", "e", 1, one, NULL);
        int ad[2] = {scalar(g, "one", 1), e};
        int p = op(g, "Add", "p", 2, ad, NULL);
        if (!g_variant) {
            int mu[2] = {x, p};
            int q = op(g, "Mul", "q", 2, mu, NULL);
            int mh[2] = {q, scalar(g, "half", 0.5f)};
            y = op(g, "Mul", "y", 2, mh, NULL);
        } else {
            int mh[2] = {x, scalar(g, "half", 0.5f)};
            int h = op(g, "Mul", "h", 2, mh, NULL);
            int mu[2] = {h, p};
            y = op(g, "Mul", "y", 2, mu, NULL);
        }
    } else {
        int ad[2] = {x, scalar(g, "three", 3)};
        int a = op(g, "Add", "a", 2, ad, NULL);
        int cl[3] = {a, scalar(g, "lo", 0), scalar(g, "hi", 6)};
        int c = op(g, "Clip", "c", 3, cl, NULL);
        int mu[2] = {x, c};
        int q = op(g, "Mul", "q", 2, mu, NULL);
        int dv[2] = {q, scalar(g, "six", 6)};
        y = op(g, "Div", "y", 2, dv, NULL);
    }
    nne_graph_add_output(g, y);
    fmodel_finish(m);
    return m;
}

static void test_patterns(void) {
    for (g_variant = 0; g_variant < 6; g_variant++) {
        nne_model *m = same_result(build_pattern, NNE_OPT_ALL, 15, 1e-5);
        const nne_graph *g = m->graph;
        if (g_variant < 2) CHECK(g->n_nodes == 1 && count_op(g, "com.microsoft", "Gelu") == 1);
        else if (g_variant == 2)
            CHECK(g->n_nodes == 2 && count_op(g, "", "HardSigmoid") == 1 && count_op(g, "", "Mul") == 1);
        else if (g_variant == 3) CHECK(g->n_nodes == 1 && count_op(g, "", "LayerNormalization") == 1);
        else CHECK(g->n_nodes == 1 && count_op(g, "com.microsoft", "FastGelu") == 1);
        nne_model_destroy(m);
    }
}

/* ---- the fused ops refuse what they cannot do ---- */

static void test_fused_op_checks(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[4] = {1, 2, 3, 3}, wd[4] = {2, 2, 1, 1}, zd[4] = {1, 2, 3, 1};
    int x = in_nd(g, "x", 4, xd), z = in_nd(g, "z", 4, zd), ni = -1;
    int y = nne_graph_add_value(g, "y", NNE_VAL_NODE);
    nne_graph_add_node(g, "FusedConv", "ai.nnedge", "f", 1, &ni);
    nne_node_add_input(g, ni, x);
    nne_node_add_input(g, ni, w_nd(g, "w", 4, wd, 1, 0));
    nne_node_add_input(g, ni, -1);
    nne_node_add_input(g, ni, z); /* Z of another shape than Y */
    nne_node_add_output(g, ni, y);
    nne_graph_add_output(g, y);
    fmodel_finish(m);
    float out[18];
    CHECK(frun(m, 1, out, 18) == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "Z is"));
    nne_model_destroy(m);
    /* an activation ONNX Runtime's domain does not have */
    m = fmodel(13);
    g = m->graph;
    x = in_nd(g, "x", 4, xd);
    y = nne_graph_add_value(g, "y", NNE_VAL_NODE);
    nne_graph_add_node(g, "FusedConv", "com.microsoft", "f", 1, &ni);
    nne_node_add_input(g, ni, x);
    nne_node_add_input(g, ni, w_nd(g, "w", 4, wd, 1, 0));
    nne_node_add_output(g, ni, y);
    nne_node_set_attr_string(g, ni, "activation", "Silu");
    nne_graph_add_output(g, y);
    fmodel_finish(m);
    CHECK(frun(m, 1, out, 18) == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "ai.nnedge"));
    nne_model_destroy(m);
}

/* ---- the fused ops' epilogue equals the reference, bit for bit ---- */

/* src/ops/nn_fused.c */
void nne_fused_epilogue_f32(const nne_epilogue *e, float *y, int64_t rows, int64_t cols);

static void test_epilogue_fast(void) {
    enum { R = 3, C = 37 };
    float y0[R * C], y1[R * C], bias[C], rbias[R], res[R * C];
    for (int i = 0; i < R * C; i++) {
        y0[i] = 8.0f * frand();
        res[i] = frand();
    }
    y0[0] = 0.0f, y0[1] = -0.0f, y0[2] = 3.0f, y0[3] = -3.0f, y0[4] = 6.0f; /* the kinks */
    for (int i = 0; i < C; i++) bias[i] = frand();
    for (int i = 0; i < R; i++) rbias[i] = frand();
    int bad = 0;
    for (int act = 0; act < NNE_ACT_COUNT; act++)
        for (int form = 0; form < 3; form++) {
            nne_epilogue e = {.act = act, .alpha = act == NNE_ACT_CLIP ? -1.5f : 0.3f, .beta = act == NNE_ACT_CLIP ? 2.5f : 0.4f};
            if (form == 1) e.bias = bias, e.bias_per_col = 1, e.residual = res, e.ld_res = C;
            if (form == 2) e.bias = rbias;
            memcpy(y1, y0, sizeof y0);
            float yr[R * C];
            memcpy(yr, y0, sizeof y0);
            nne_epilogue_apply_f32(&e, yr, C, 0, R, 0, C);
            nne_fused_epilogue_f32(&e, y1, R, C);
            bad += memcmp(yr, y1, sizeof y1) != 0;
        }
    CHECK(bad == 0);
}

/* ---- the planner: outputs in place of inputs that die at their node ---- */

static void test_inplace_plan(void) {
    nne_model *m = fmodel(13);
    nne_graph *g = m->graph;
    int64_t xd[2] = {4, 64}; /* 1 KiB */
    int x = in_nd(g, "x", 2, xd);
    int one[1] = {x};
    int a = op(g, "Relu", "a", 1, one, NULL);
    one[0] = a;
    int b = op(g, "Sigmoid", "b", 1, one, NULL); /* a is read again below: b may not take it */
    int ab[2] = {a, b};
    int c = op(g, "Add", "c", 2, ab, NULL);      /* a and b die here: c takes one of them */
    one[0] = c;
    nne_graph_add_output(g, op(g, "Neg", "y", 1, one, NULL)); /* y takes c's */
    fmodel_finish(m);
    float xv[256], xc[256];
    for (int i = 0; i < 256; i++) xv[i] = xc[i] = (float)(i - 128) / 16.0f;
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {4, 64}, .data = xv};
    const char *nm = "x";
    nne_session *s = NULL;
    CHECK(nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 1, &nm, &t) == NNE_OK);
    /* a and b alive together: two buffers (three without in place) */
    CHECK(nne_session_arena_bytes(s) == 2048 && nne_session_arena_bound_bytes(s) == 2048);
    CHECK(nne_session_plan_check(s) == 0);
    CHECK(nne_session_set_input(s, "x", &t) == NNE_OK && nne_session_run(s) == NNE_OK);
    nne_tensor o;
    CHECK(nne_session_output(s, 0, &o) == NNE_OK);
    int ok = 1;
    for (int i = 0; i < 256; i++) {
        float r = xc[i] > 0 ? xc[i] : 0;
        float want = -(r + 1.0f / (1.0f + expf(-r)));
        ok &= fabsf(((float *)o.data)[i] - want) <= 1e-6f && xv[i] == xc[i]; /* x itself is never written */
    }
    CHECK(ok);
    nne_session_destroy(s);
    nne_model_destroy(m);
}

void unit_fusion(void) {
    test_epilogue_fast();
    test_inplace_plan();
    test_bn_fold();
    test_gemm_bn();
    test_conv_fusion();
    test_matmul_fusion();
    test_no_fusion();
    test_chains();
    test_patterns();
    test_fused_op_checks();
}
