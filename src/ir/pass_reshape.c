/*
 * pass_reshape.c - Transpose and Reshape chains simplified (level basic):
 *
 *   Transpose(Transpose(x, p1), p2) -> Transpose(x, p1[p2[i]])
 *   Transpose(x, identity perm)     -> Identity(x) (removed by the Identity pass)
 *   Reshape(R(x), s)                -> Reshape(x, s) when R is Reshape,
 *       Flatten, Squeeze or Unsqueeze and s is a constant with no 0 entry
 *       (a 0 copies a dim of R's output, which x may not have)
 *
 *   with static shapes (pass_shapes.c): a chain of Reshape / Flatten /
 *   Squeeze / Unsqueeze is one Reshape to the final shape, and any of them
 *   that keeps its input's shape is an Identity
 *
 * The inner node's output must be read by the outer node alone; it then
 * goes (the outer node reads x directly). Transposes without a perm
 * attribute (reverse order, rank unknown here) are left alone.
 */
#include "ir/passes.h"
#include "core/core.h"

#include <stdio.h>
#include <string.h>

static int is_op(const nne_node *n, const char *type) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, type);
}

static int sole_reader(const nne_graph *g, const nne_graph_uses *u, int v) {
    if (v < 0 || g->values[v].is_output || nne_uses_count(u, v) != 1) return -1;
    nne_use use = u->use[u->start[v]];
    if (use.slot < 0 || g->nodes[use.node].dead) return -1;
    return use.node;
}

static nne_attr *perm_of(nne_node *n) {
    for (int a = 0; a < n->n_attr; a++)
        if (!strcmp(n->attrs[a].name, "perm") && n->attrs[a].type == NNE_ATTR_INTS) return &n->attrs[a];
    return NULL;
}

static int valid_perm(const nne_attr *p) {
    if (!p || p->n < 1 || p->n > NNE_MAX_DIMS) return 0;
    int seen[NNE_MAX_DIMS] = {0};
    for (int i = 0; i < p->n; i++) {
        if (p->ints[i] < 0 || p->ints[i] >= p->n || seen[p->ints[i]]) return 0;
        seen[p->ints[i]] = 1;
    }
    return 1;
}

/* Node n (a Transpose with an identity perm) becomes an Identity. */
static nne_status to_identity(nne_pass_ctx *ctx, nne_graph *g, int ni) {
    nne_node *n = &g->nodes[ni];
    for (int k = 0; k < n->n_attr; k++) nne_attr_free(&n->attrs[k]);
    n->n_attr = 0;
    n->n_in = 1; /* the data; a shape or axes input goes */
    return nne_pass_set_op(ctx, g, ni, "Identity", "", n->opset);
}

static int is_reshaping(const nne_node *n) {
    return n->n_out == 1 && n->n_in >= 1 &&
           (is_op(n, "Reshape") || is_op(n, "Flatten") || is_op(n, "Squeeze") || is_op(n, "Unsqueeze"));
}

/* Node ni (Reshape/Flatten/Squeeze/Unsqueeze) becomes Reshape(x, its known
 * output shape) (x: its data input, or the one before a chain). */
static nne_status to_reshape(nne_pass_ctx *ctx, nne_graph *g, int ni, int x, const nne_tensor *out) {
    nne_tensor t = {.dtype = NNE_DTYPE_INT64, .ndim = 1, .dims = {out->ndim}};
    t.data = nne_aligned_alloc((size_t)(out->ndim ? out->ndim : 1) * sizeof(int64_t));
    if (!t.data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
    memcpy(t.data, out->dims, (size_t)out->ndim * sizeof(int64_t));
    int sv = -1;
    char base[160];
    snprintf(base, sizeof base, "%s_shape", g->nodes[ni].name[0] ? g->nodes[ni].name : "reshape");
    NNE_TRY(nne_pass_add_const(g, base, &t, &sv));
    nne_node *n = &g->nodes[ni];
    for (int k = 0; k < n->n_attr; k++) nne_attr_free(&n->attrs[k]);
    n->n_attr = 0;
    n->in[0] = x;
    if (n->n_in >= 2) {
        n->in[1] = sv;
        n->n_in = 2;
    } else {
        NNE_TRY(nne_node_add_input(g, ni, sv));
    }
    /* Reshape exists in every opset; from 5 the shape is an input */
    return nne_pass_set_op(ctx, g, ni, "Reshape", "", g->nodes[ni].opset < 5 ? 5 : g->nodes[ni].opset);
}

nne_status nne_pass_reshape_chains(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    nne_graph_uses u = {0};
    NNE_TRY(nne_graph_uses_build(g, &u));
    nne_shapes sh;
    nne_status rc = nne_shapes_infer(ctx, g, &sh);
    if (rc != NNE_OK) {
        nne_graph_uses_free(&u);
        return rc;
    }
    int64_t onnx_opset = ctx->m ? nne_model_opset_for(ctx->m, "") : 0;
    for (int i = 0; i < g->n_nodes && rc == NNE_OK; i++) {
        nne_node *n = &g->nodes[i];
        if (n->dead || n->n_in < 1 || n->in[0] < 0) continue;
        int x = n->in[0];
        const nne_value *xv = &g->values[x];
        int pi = xv->kind == NNE_VAL_NODE ? xv->producer : -1;
        nne_node *p = pi >= 0 ? &g->nodes[pi] : NULL;
        int chained = p && !p->dead && p->n_out == 1 && p->n_in >= 1 && p->in[0] >= 0 && sole_reader(g, &u, x) == i;
        if (is_op(n, "Transpose") && n->n_in == 1) {
            nne_attr *p2 = perm_of(n);
            if (!valid_perm(p2)) continue;
            if (chained && is_op(p, "Transpose")) {
                nne_attr *p1 = perm_of(p);
                if (!valid_perm(p1) || p1->n != p2->n) continue;
                int64_t c[NNE_MAX_DIMS];
                for (int k = 0; k < p2->n; k++) c[k] = p1->ints[p2->ints[k]];
                memcpy(p2->ints, c, (size_t)p2->n * sizeof *c);
                n->in[0] = p->in[0];
                nne_graph_remove_node(g, pi);
                st->removed++;
                st->folded++;
                n = &g->nodes[i];
            }
            int ident = 1;
            for (int k = 0; k < p2->n; k++) ident &= p2->ints[k] == k;
            if (ident) {
                rc = to_identity(ctx, g, i);
                st->folded++;
            }
            continue;
        }
        /* with known shapes: a chain of reshaping ops is one Reshape, and a
         * reshaping op that keeps the shape is an Identity */
        const nne_tensor *to = is_reshaping(n) ? nne_shape_of(&sh, n->out[0]) : NULL;
        const nne_tensor *from = to ? nne_shape_of(&sh, x) : NULL;
        if (to && from && onnx_opset >= 5) {
            int same = from->ndim == to->ndim;
            for (int d = 0; same && d < to->ndim; d++) same = from->dims[d] == to->dims[d];
            int zero = 0; /* a 0 dim would read as "copy" in a Reshape shape */
            for (int d = 0; d < to->ndim; d++) zero |= to->dims[d] == 0;
            if (same) {
                rc = to_identity(ctx, g, i);
                st->folded++;
                continue;
            }
            if (chained && is_reshaping(p) && !zero) {
                int x0 = p->in[0];
                nne_graph_remove_node(g, pi);
                rc = to_reshape(ctx, g, i, x0, to);
                st->removed++;
                st->folded++;
                continue;
            }
        }
        if (is_op(n, "Reshape") && n->n_in == 2 && chained &&
            (is_op(p, "Reshape") || is_op(p, "Flatten") || is_op(p, "Squeeze") || is_op(p, "Unsqueeze"))) {
            const nne_tensor *s = nne_graph_const_value(g, n->in[1], ctx->m ? ctx->m->ir_version : 13);
            if (!s || s->dtype != NNE_DTYPE_INT64 || s->ndim != 1 || (!s->data && nne_tensor_numel(s))) continue;
            int zero = 0;
            for (int64_t k = 0; k < s->dims[0]; k++) zero |= ((const int64_t *)s->data)[k] == 0;
            if (zero) continue;
            n->in[0] = p->in[0];
            nne_graph_remove_node(g, pi);
            st->removed++;
            st->folded++;
        }
    }
    nne_graph_uses_free(&u);
    nne_shapes_free(&sh);
    return rc;
}
