/*
 * pass_cse.c - common-subexpression elimination: two nodes with the same op
 * (domain, type, opset), the same inputs in the same order and equal
 * attributes compute the same outputs, so the later one's readers read the
 * earlier one's outputs and the later node goes.
 *
 * Nodes are visited in order with a hash table of signatures; a merge
 * rewrites later inputs before their signatures are taken, so chains of
 * duplicates collapse in one walk. Left alone: nondeterministic ops (two
 * RandomNormal nodes differ), ops with subgraphs, unknown ops, and nodes
 * whose outputs are graph outputs (their names are the interface; such a
 * node can still be the one others merge into). Runs on subgraphs too.
 * Cost: O(nodes + edges) with the replacements of passes.h (nne_alias).
 */
#include "ir/passes.h"
#include "core/core.h"

#include <string.h>

static uint64_t mix(uint64_t h, uint64_t x) { return (h ^ x) * 1099511628211ull; }

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = mix(h, b[i]);
    return h;
}

static int eligible(const nne_node *n) {
    if (n->dead || !n->op || n->n_out < 1 || (n->op->flags & (NNE_OPF_NONDETERMINISTIC | NNE_OPF_SUBGRAPH)))
        return 0;
    for (int a = 0; a < n->n_attr; a++)
        if (n->attrs[a].g || n->attrs[a].type == NNE_ATTR_GRAPH || n->attrs[a].type == NNE_ATTR_GRAPHS) return 0;
    return 1;
}

/* Hash of op, inputs and attribute names and scalar values (lists and
 * tensors are compared in full on a hash match only). */
static uint64_t signature(const nne_node *n) {
    uint64_t h = 1469598103934665603ull;
    h = mix(h, (uint64_t)(uintptr_t)n->op);
    h = mix(h, (uint64_t)n->opset);
    h = mix(h, (uint64_t)n->n_in);
    h = mix(h, (uint64_t)n->n_out);
    for (int k = 0; k < n->n_in; k++) h = mix(h, (uint64_t)(int64_t)n->in[k]);
    uint64_t ah = 0; /* order-independent: attributes may come in any order */
    for (int a = 0; a < n->n_attr; a++) {
        const nne_attr *at = &n->attrs[a];
        uint64_t x = mix_bytes(1469598103934665603ull, at->name, strlen(at->name));
        x = mix(x, (uint64_t)at->type);
        x = mix(x, (uint64_t)at->i);
        x = mix_bytes(x, &at->f, sizeof at->f);
        x = mix(x, (uint64_t)at->n);
        ah += x;
    }
    return mix(h, ah);
}

static int tensor_equal(const nne_tensor *a, const nne_tensor *b) {
    if (!a || !b) return a == b;
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    size_t nb = nne_tensor_nbytes(a);
    return !nb || (a->data && b->data && memcmp(a->data, b->data, nb) == 0);
}

static int attr_equal(const nne_attr *a, const nne_attr *b) {
    if (strcmp(a->name, b->name) || a->type != b->type || a->i != b->i || a->n != b->n) return 0;
    if (memcmp(&a->f, &b->f, sizeof a->f)) return 0; /* bitwise: NaN equals itself, -0 differs from 0 */
    if (!a->s != !b->s || (a->s && (a->slen != b->slen || memcmp(a->s, b->s, a->slen)))) return 0;
    if (!a->ints != !b->ints || (a->ints && memcmp(a->ints, b->ints, (size_t)a->n * sizeof *a->ints))) return 0;
    if (!a->floats != !b->floats || (a->floats && memcmp(a->floats, b->floats, (size_t)a->n * sizeof *a->floats)))
        return 0;
    if (!a->strings != !b->strings) return 0;
    for (int k = 0; a->strings && k < a->n; k++)
        if (strcmp(a->strings[k], b->strings[k])) return 0;
    return tensor_equal(a->t, b->t);
}

static int nodes_equal(const nne_node *a, const nne_node *b) {
    if (a->op != b->op || strcmp(a->op_type, b->op_type) || a->opset != b->opset || a->n_in != b->n_in ||
        a->n_out != b->n_out || a->n_attr != b->n_attr)
        return 0;
    for (int k = 0; k < a->n_in; k++)
        if (a->in[k] != b->in[k]) return 0;
    for (int i = 0; i < a->n_attr; i++) {
        const nne_attr *m = NULL;
        for (int j = 0; j < b->n_attr && !m; j++)
            if (!strcmp(a->attrs[i].name, b->attrs[j].name)) m = &b->attrs[j];
        if (!m || !attr_equal(&a->attrs[i], m)) return 0;
    }
    return 1;
}

static nne_status cse_sub(nne_graph *sub, void *user) {
    return nne_pass_cse(((void **)user)[0], sub, ((void **)user)[1]);
}

nne_status nne_pass_cse(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    int cap = 16;
    while (cap < g->n_nodes * 2) cap *= 2;
    int *tab = nne_malloc((size_t)cap * sizeof(int));
    uint64_t *sig = nne_calloc((size_t)g->n_nodes + 1, sizeof *sig);
    if (!tab || !sig) {
        nne_free(tab);
        nne_free(sig);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "cse: out of memory");
    }
    for (int i = 0; i < cap; i++) tab[i] = -1;
    nne_alias al;
    nne_status rc = nne_alias_init(&al, g);
    for (int i = 0; i < g->n_nodes && rc == NNE_OK; i++) {
        nne_node *n = &g->nodes[i];
        if (n->dead) continue;
        nne_alias_inputs(&al, n);
        if (!eligible(n)) continue;
        sig[i] = signature(n);
        size_t mask = (size_t)cap - 1, k = sig[i] & mask;
        int same = -1;
        for (; tab[k] >= 0; k = (k + 1) & mask)
            if (sig[tab[k]] == sig[i] && nodes_equal(&g->nodes[tab[k]], n)) {
                same = tab[k];
                break;
            }
        int mergeable = same >= 0;
        for (int o = 0; mergeable && o < n->n_out; o++) {
            int v = n->out[o], w = g->nodes[same].out[o];
            mergeable = !g->values[v].is_output && nne_alias_can_replace(&al, g, v, w) == NNE_OK;
        }
        if (!mergeable) {
            if (same < 0) tab[k] = i; /* the first of its kind: later nodes may merge into it */
            continue;
        }
        for (int o = 0; o < n->n_out && rc == NNE_OK; o++) rc = nne_alias_replace(&al, g, n->out[o], g->nodes[same].out[o]);
        nne_graph_remove_node(g, i);
        st->removed++;
    }
    nne_alias_free(&al);
    nne_free(tab);
    nne_free(sig);
    NNE_TRY(rc);
    void *pair[2] = {ctx, st};
    return nne_graph_for_each_subgraph(g, cse_sub, pair);
}
