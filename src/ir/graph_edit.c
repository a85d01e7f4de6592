/*
 * graph_edit.c - building and editing the graph IR: add inputs,
 * initializers, nodes, attributes and subgraphs (importers use only these);
 * consumer lists, replacing uses, removing nodes, compaction with index
 * remapping (including the outer-scope links of subgraphs), topological sort
 * and the validator that runs between passes in debug builds.
 *
 * Index rules: a value or node index is stable until nne_graph_compact.
 * A subgraph refers to a value of its enclosing graph through a local value
 * of kind NNE_VAL_OUTER whose `outer` is the parent's value index; so every
 * edit that renumbers or replaces a parent value must fix these links, and a
 * link keeps the name of the value it points to (the ONNX writer writes
 * names, and ONNX resolves outer-scope references by name).
 */
#include "ir/graph.h"
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OOM(what) nne_error(NNE_ERR_OUT_OF_MEMORY, "graph: out of memory (%s)", what)

static const char *gname(const nne_graph *g) { return g->name ? g->name : ""; }

/* Grow an int array of *cap slots so it holds n + 1. */
static int grow_ints(int **a, int *cap, int n) {
    if (n < *cap) return 1;
    int nc = *cap ? *cap * 2 : 8;
    if (nc <= n) nc = n + 1;
    int *p = nne_realloc(*a, (size_t)nc * sizeof **a);
    if (!p) return 0;
    *a = p;
    *cap = nc;
    return 1;
}

int nne_model_session_ref(const nne_model *m, int delta) {
    /* sessions only count; the model stays logically const */
    if (delta > 0) __atomic_store_n(&((nne_model *)m)->shared, 1, __ATOMIC_RELEASE);
    return __atomic_add_fetch(&((nne_model *)m)->n_sessions, delta, __ATOMIC_ACQ_REL);
}

/* ------------------------------------------------------------ builder -- */

nne_status nne_graph_add_input(nne_graph *g, const char *name, int *out_idx) {
    if (nne_graph_find(g, name) >= 0)
        return nne_error(NNE_ERR_CORRUPT_MODEL, "graph \"%s\": input \"%s\" is defined twice", gname(g), name);
    /* the slot first, so a failure leaves no value behind */
    if (!grow_ints(&g->inputs, &g->cap_inputs, g->n_inputs)) return OOM("inputs");
    int idx = nne_graph_add_value(g, name, NNE_VAL_INPUT);
    if (idx < 0) return OOM("values");
    g->inputs[g->n_inputs++] = idx;
    if (out_idx) *out_idx = idx;
    return NNE_OK;
}

nne_status nne_graph_add_initializer(nne_graph *g, const char *name, nne_tensor *t, int *out_idx) {
    int idx = nne_graph_find(g, name);
    if (idx >= 0 && g->values[idx].kind != NNE_VAL_INPUT) {
        nne_aligned_free(t->data);
        t->data = NULL;
        return nne_error(NNE_ERR_CORRUPT_MODEL, "graph \"%s\": initializer \"%s\" is defined twice", gname(g), name);
    }
    if (idx < 0) idx = nne_graph_add_value(g, name, NNE_VAL_CONST);
    if (idx < 0) {
        nne_aligned_free(t->data);
        t->data = NULL;
        return OOM("values");
    }
    g->values[idx].kind = NNE_VAL_CONST;
    g->values[idx].init = *t;
    t->data = NULL;
    if (out_idx) *out_idx = idx;
    return NNE_OK;
}

nne_status nne_graph_add_output(nne_graph *g, int v) {
    if (v < 0 || v >= g->n_values)
        return nne_error(NNE_ERR_INVALID_ARG, "graph \"%s\": output value %d out of range", gname(g), v);
    if (!grow_ints(&g->outputs, &g->cap_outputs, g->n_outputs)) return OOM("outputs");
    g->outputs[g->n_outputs++] = v;
    g->values[v].is_output = 1;
    return NNE_OK;
}

/* Drop g's last value (just added; nothing refers to it). */
static void pop_value(nne_graph *g) {
    nne_value_free(&g->values[--g->n_values]);
    nne_graph_rehash_inplace(g);
}

/* Resolve through enclosing graphs, creating OUTER links on the way;
 * *n_added = the graphs that got a link, g's and its enclosing ones (a
 * contiguous chain upward). When a link cannot be added, those added above
 * for this lookup are taken back: the graphs are left as they were. */
static int resolve_outer(nne_graph *g, const char *name, int *oom, int *n_added) {
    *n_added = 0;
    nne_graph *p = g->parent;
    if (!p) return -1;
    int pi = nne_graph_find(p, name), up = 0;
    if (pi < 0) pi = resolve_outer(p, name, oom, &up);
    if (pi < 0) return -1;
    int idx = nne_graph_add_value(g, name, NNE_VAL_OUTER);
    if (idx < 0) {
        *oom = 1;
        nne_graph *q = p;
        for (int k = 0; k < up; k++, q = q->parent) pop_value(q);
        return -1;
    }
    g->values[idx].outer = pi;
    *n_added = up + 1;
    return idx;
}

nne_status nne_graph_resolve(nne_graph *g, const char *name, int *out_idx) {
    int oom = 0, added = 0;
    int idx = nne_graph_find(g, name);
    if (idx < 0) idx = resolve_outer(g, name, &oom, &added);
    *out_idx = idx;
    return oom ? OOM("outer-scope link") : NNE_OK;
}

/* 1 when `name` is defined in g or any graph nested in it. */
static int name_used_below(const nne_graph *g, const char *name) {
    if (nne_graph_find(g, name) >= 0) return 1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g && name_used_below(g->nodes[i].attrs[a].g, name)) return 1;
    return 0;
}

static int name_used(const nne_graph *g, const char *name) {
    for (const nne_graph *p = g->parent; p; p = p->parent)
        if (nne_graph_find(p, name) >= 0) return 1;
    return name_used_below(g, name);
}

nne_status nne_graph_add_unique_value(nne_graph *g, const char *base, int kind, int *out_idx) {
    size_t bl = strlen(base);
    char *nm = nne_malloc(bl + 24);
    if (!nm) return OOM("name");
    memcpy(nm, base, bl + 1);
    while (name_used(g, nm)) snprintf(nm + bl, 24, "_%d", ++g->anon_serial);
    int idx = nne_graph_add_value(g, nm, kind);
    nne_free(nm);
    if (idx < 0) return OOM("values");
    *out_idx = idx;
    return NNE_OK;
}

static nne_node *node_at(nne_graph *g, int ni) { return ni >= 0 && ni < g->n_nodes ? &g->nodes[ni] : NULL; }

nne_status nne_graph_add_node(nne_graph *g, const char *op_type, const char *domain, const char *name, int opset,
                              int *out_idx) {
    if (!op_type) return nne_error(NNE_ERR_CORRUPT_MODEL, "graph \"%s\": node without op_type", gname(g));
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        nne_node *nn = nne_realloc(g->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return OOM("nodes");
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    nne_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op_type = nne_strdup(op_type);
    n->domain = nne_strdup(domain ? domain : "");
    n->name = nne_strdup(name ? name : "");
    if (!n->op_type || !n->domain || !n->name) {
        nne_free(n->op_type);
        nne_free(n->domain);
        nne_free(n->name);
        return OOM("node");
    }
    n->opset = opset;
    n->op = nne_op_find(n->domain, n->op_type);
    if (out_idx) *out_idx = g->n_nodes;
    g->n_nodes++;
    return NNE_OK;
}

nne_status nne_node_add_input(nne_graph *g, int ni, int v) {
    nne_node *n = node_at(g, ni);
    if (!n || v < -1 || v >= g->n_values)
        return nne_error(NNE_ERR_INVALID_ARG, "graph \"%s\": node %d / value %d out of range", gname(g), ni, v);
    if (!grow_ints(&n->in, &n->cap_in, n->n_in)) return OOM("node inputs");
    n->in[n->n_in++] = v;
    return NNE_OK;
}

nne_status nne_node_add_output(nne_graph *g, int ni, int v) {
    nne_node *n = node_at(g, ni);
    if (!n || v < -1 || v >= g->n_values)
        return nne_error(NNE_ERR_INVALID_ARG, "graph \"%s\": node %d / value %d out of range", gname(g), ni, v);
    if (!grow_ints(&n->out, &n->cap_out, n->n_out)) return OOM("node outputs");
    if (v < 0) {
        /* an omitted optional output: a private value so kernels can write it;
         * the \x01 prefix keeps it apart from every name a file can hold */
        char anon[48];
        do snprintf(anon, sizeof anon, "\x01unused:%d", g->anon_serial++);
        while (nne_graph_find(g, anon) >= 0);
        v = nne_graph_add_value(g, anon, NNE_VAL_NODE);
        if (v < 0) return OOM("values");
    } else {
        nne_value *val = &g->values[v];
        if (!(val->kind == NNE_VAL_PENDING || (val->kind == NNE_VAL_NODE && val->producer < 0)))
            return nne_error(NNE_ERR_CORRUPT_MODEL, "graph \"%s\": node \"%s\" (%s): output \"%s\" is already defined",
                             gname(g), n->name, n->op_type, val->name);
    }
    g->values[v].kind = NNE_VAL_NODE;
    g->values[v].producer = ni;
    n->out[n->n_out++] = v;
    return NNE_OK;
}

nne_status nne_node_add_attr(nne_graph *g, int ni, nne_attr **out) {
    nne_node *n = node_at(g, ni);
    *out = NULL;
    if (!n) return nne_error(NNE_ERR_INVALID_ARG, "graph \"%s\": node %d out of range", gname(g), ni);
    if (n->n_attr >= n->cap_attr) {
        int cap = n->cap_attr ? n->cap_attr * 2 : 4;
        if (cap <= n->n_attr) cap = n->n_attr + 1;
        nne_attr *a = nne_realloc(n->attrs, (size_t)cap * sizeof *a);
        if (!a) return OOM("attributes");
        n->attrs = a;
        n->cap_attr = cap;
    }
    *out = &n->attrs[n->n_attr++];
    memset(*out, 0, sizeof **out);
    return NNE_OK;
}

static nne_status new_attr(nne_graph *g, int ni, const char *name, int type, nne_attr **out) {
    NNE_TRY(nne_node_add_attr(g, ni, out));
    (*out)->type = type;
    (*out)->name = nne_strdup(name);
    if (!(*out)->name) {
        g->nodes[ni].n_attr--;
        return OOM("attribute name");
    }
    return NNE_OK;
}

/* Drop the attribute just added (after a failed fill). */
static nne_status drop_last_attr(nne_graph *g, int ni, const char *what) {
    nne_node *n = &g->nodes[ni];
    nne_attr_free(&n->attrs[--n->n_attr]);
    return OOM(what);
}

nne_status nne_node_set_attr_int(nne_graph *g, int ni, const char *name, int64_t v) {
    nne_attr *a;
    NNE_TRY(new_attr(g, ni, name, NNE_ATTR_INT, &a));
    a->i = v;
    return NNE_OK;
}

nne_status nne_node_set_attr_float(nne_graph *g, int ni, const char *name, float v) {
    nne_attr *a;
    NNE_TRY(new_attr(g, ni, name, NNE_ATTR_FLOAT, &a));
    a->f = v;
    return NNE_OK;
}

nne_status nne_node_set_attr_ints(nne_graph *g, int ni, const char *name, int n, const int64_t *v) {
    nne_attr *a;
    NNE_TRY(new_attr(g, ni, name, NNE_ATTR_INTS, &a));
    a->ints = nne_calloc((size_t)(n > 0 ? n : 1), sizeof *a->ints);
    if (!a->ints) return drop_last_attr(g, ni, "ints attribute");
    if (n > 0) memcpy(a->ints, v, (size_t)n * sizeof *v);
    a->n = n;
    return NNE_OK;
}

nne_status nne_node_set_attr_string(nne_graph *g, int ni, const char *name, const char *v) {
    nne_attr *a;
    NNE_TRY(new_attr(g, ni, name, NNE_ATTR_STRING, &a));
    a->s = nne_strdup(v);
    if (!a->s) return drop_last_attr(g, ni, "string attribute");
    a->slen = strlen(v);
    return NNE_OK;
}

nne_status nne_node_set_attr_tensor(nne_graph *g, int ni, const char *name, const nne_tensor *t) {
    nne_attr *a;
    NNE_TRY(new_attr(g, ni, name, NNE_ATTR_TENSOR, &a));
    a->t = nne_calloc(1, sizeof *a->t);
    if (!a->t) return drop_last_attr(g, ni, "tensor attribute");
    *a->t = *t;
    size_t nb = nne_tensor_nbytes(t);
    a->t->data = nb ? nne_aligned_alloc(nb) : NULL;
    if (nb && !a->t->data) return drop_last_attr(g, ni, "tensor attribute");
    if (nb) memcpy(a->t->data, t->data, nb);
    return NNE_OK;
}

nne_status nne_node_set_attr_graph(nne_graph *g, int ni, const char *name, nne_graph *sub) {
    nne_attr *a;
    nne_status st = new_attr(g, ni, name, NNE_ATTR_GRAPH, &a);
    if (st != NNE_OK) {
        nne_graph_destroy(sub);
        return st;
    }
    sub->parent = g;
    a->g = sub;
    return NNE_OK;
}

/* ------------------------------------------------------------- editor -- */

nne_status nne_graph_for_each_subgraph(nne_graph *g, nne_status (*fn)(nne_graph *sub, void *user), void *user) {
    for (int i = 0; i < g->n_nodes; i++) {
        nne_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int a = 0; a < n->n_attr; a++)
            if (n->attrs[a].g) NNE_TRY(fn(n->attrs[a].g, user));
    }
    return NNE_OK;
}

nne_status nne_graph_uses_build(const nne_graph *g, nne_graph_uses *u) {
    memset(u, 0, sizeof *u);
    int nv = g->n_values;
    u->n_values = nv;
    u->start = nne_calloc((size_t)nv + 2, sizeof(int));
    if (!u->start) return OOM("consumer lists");
    /* count, prefix-sum, fill: two walks over the same edges */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < g->n_nodes; i++) {
            const nne_node *n = &g->nodes[i];
            if (n->dead) continue;
            for (int k = 0; k < n->n_in; k++) {
                int v = n->in[k];
                if (v < 0 || v >= nv) continue;
                if (pass == 0) u->start[v + 1]++;
                else u->use[u->start[v]++] = (nne_use){i, k};
            }
            for (int a = 0; a < n->n_attr; a++) {
                const nne_graph *sg = n->attrs[a].g;
                for (int sv = 0; sg && sv < sg->n_values; sv++) {
                    int v = sg->values[sv].kind == NNE_VAL_OUTER ? sg->values[sv].outer : -1;
                    if (v < 0 || v >= nv) continue;
                    if (pass == 0) u->start[v + 1]++;
                    else u->use[u->start[v]++] = (nne_use){i, -1};
                }
            }
        }
        if (pass == 0) {
            for (int v = 0; v < nv; v++) u->start[v + 1] += u->start[v];
            u->use = nne_calloc((size_t)u->start[nv] + 1, sizeof *u->use);
            if (!u->use) {
                nne_graph_uses_free(u);
                return OOM("consumer lists");
            }
        }
    }
    /* the fill advanced each start to the next one's: shift back */
    for (int v = nv; v > 0; v--) u->start[v] = u->start[v - 1];
    u->start[0] = 0;
    return NNE_OK;
}

void nne_graph_uses_free(nne_graph_uses *u) {
    nne_free(u->start);
    nne_free(u->use);
    memset(u, 0, sizeof *u);
}

/* Names reserved before an edit renames links: every rename of one
 * replace_uses gives a link the same name (new_v's), so the pool holds
 * copies of it, one per outer-scope link below the graph (a bound). */
typedef struct name_pool {
    char **names;
    int n, used;
} name_pool;

static int count_links_below(const nne_graph *g) {
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++) {
            const nne_graph *S = g->nodes[i].attrs[a].g;
            if (!S) continue;
            for (int v = 0; v < S->n_values; v++) k += S->values[v].kind == NNE_VAL_OUTER;
            k += count_links_below(S);
        }
    return k;
}

static void replace_in_nodes(nne_graph *g, int old_v, int new_v) {
    for (int i = 0; i < g->n_nodes; i++) {
        nne_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == old_v) n->in[k] = new_v;
    }
}

/*
 * Parent p's value old_v is replaced by new_v (or renamed: old_v == new_v).
 * Each direct subgraph S of p that links to old_v through a value L:
 *   - S already links to new_v through M: S's uses of L move to M
 *     (recursively, and S's outputs too: subgraph outputs are positional);
 *   - S defines new_v's name itself: shadowing, refused;
 *   - else L is renamed to new_v's name and points at new_v, and S's own
 *     subgraphs that link to L are renamed the same way.
 * With dry = 1 nothing changes: the walk only reports whether it can.
 */
static nne_status fix_links(nne_graph *p, int old_v, int new_v, int dry, name_pool *pool) {
    const char *want = p->values[new_v].name;
    for (int i = 0; i < p->n_nodes; i++) {
        nne_node *n = &p->nodes[i];
        if (n->dead) continue;
        for (int a = 0; a < n->n_attr; a++) {
            nne_graph *S = n->attrs[a].g;
            if (!S) continue;
            for (int L = 0; L < S->n_values; L++) {
                if (S->values[L].kind != NNE_VAL_OUTER || S->values[L].outer != old_v) continue;
                int M = nne_graph_find(S, want);
                if (M == L) {
                    if (!dry) S->values[L].outer = new_v;
                } else if (M >= 0) {
                    if (S->values[M].kind != NNE_VAL_OUTER || S->values[M].outer != new_v)
                        return nne_error(NNE_ERR_UNSUPPORTED,
                                         "graph \"%s\": subgraph \"%s\" defines \"%s\", which shadows the outer value",
                                         gname(p), gname(S), want);
                    NNE_TRY(fix_links(S, L, M, dry, pool));
                    if (!dry) {
                        replace_in_nodes(S, L, M);
                        for (int o = 0; o < S->n_outputs; o++)
                            if (S->outputs[o] == L) S->outputs[o] = M, S->values[M].is_output = 1;
                        /* L is unused now (its outer link still names old_v, so the
                         * graph stays valid); compaction drops it */
                        S->values[L].is_output = 0;
                    }
                } else {
                    if (name_used_below(S, want))
                        return nne_error(NNE_ERR_UNSUPPORTED,
                                         "graph \"%s\": a subgraph of \"%s\" defines \"%s\", which shadows the outer "
                                         "value", gname(p), gname(S), want);
                    if (!dry) {
                        /* the pool holds enough copies (nothing here may fail) */
                        if (pool->used >= pool->n)
                            return nne_error(NNE_ERR_INTERNAL, "graph \"%s\": replace_uses: name pool exhausted",
                                             gname(p));
                        char *nm = pool->names[pool->used++];
                        nne_free(S->values[L].name);
                        S->values[L].name = nm;
                        S->values[L].outer = new_v;
                        nne_graph_rehash_inplace(S);
                    }
                    NNE_TRY(fix_links(S, L, L, dry, pool));
                }
            }
        }
    }
    return NNE_OK;
}

nne_status nne_graph_can_replace_uses(nne_graph *g, int old_v, int new_v) {
    if (old_v < 0 || old_v >= g->n_values || new_v < 0 || new_v >= g->n_values)
        return nne_error(NNE_ERR_INVALID_ARG, "graph \"%s\": replace_uses: value %d / %d out of range", gname(g),
                         old_v, new_v);
    return old_v == new_v ? NNE_OK : fix_links(g, old_v, new_v, 1, NULL);
}

nne_status nne_graph_replace_uses(nne_graph *g, int old_v, int new_v) {
    if (old_v < 0 || old_v >= g->n_values || new_v < 0 || new_v >= g->n_values)
        return nne_error(NNE_ERR_INVALID_ARG, "graph \"%s\": replace_uses: value %d / %d out of range", gname(g),
                         old_v, new_v);
    if (old_v == new_v) return NNE_OK;
    NNE_TRY(fix_links(g, old_v, new_v, 1, NULL));
    /* reserve the names links may be renamed to, then edit (nothing fails after this) */
    name_pool pool = {0};
    int links = count_links_below(g);
    if (links) {
        pool.names = nne_calloc((size_t)links, sizeof *pool.names);
        if (!pool.names) return OOM("replace_uses");
        for (pool.n = 0; pool.n < links; pool.n++)
            if (!(pool.names[pool.n] = nne_strdup(g->values[new_v].name))) break;
        if (pool.n < links) {
            for (int i = 0; i < pool.n; i++) nne_free(pool.names[i]);
            nne_free(pool.names);
            return OOM("replace_uses names");
        }
    }
    replace_in_nodes(g, old_v, new_v);
    nne_status st = fix_links(g, old_v, new_v, 0, &pool);
    for (int i = pool.used; i < pool.n; i++) nne_free(pool.names[i]);
    nne_free(pool.names);
    return st;
}

void nne_graph_remove_node(nne_graph *g, int ni) {
    nne_node *n = node_at(g, ni);
    if (!n || n->dead) return;
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v >= 0 && g->values[v].kind == NNE_VAL_NODE && g->values[v].producer == ni) {
            g->values[v].kind = NNE_VAL_PENDING;
            g->values[v].producer = -1;
        }
    }
    nne_node_free(n);
    memset(n, 0, sizeof *n);
    n->dead = 1;
}

static nne_status mark_link_refs(nne_graph *sub, void *user) {
    uint8_t *ref = user;
    for (int v = 0; v < sub->n_values; v++)
        if (sub->values[v].kind == NNE_VAL_OUTER && sub->values[v].outer >= 0) ref[sub->values[v].outer] = 1;
    return NNE_OK;
}

static nne_status remap_links(nne_graph *sub, void *user) {
    const int *map = user;
    for (int v = 0; v < sub->n_values; v++)
        if (sub->values[v].kind == NNE_VAL_OUTER && sub->values[v].outer >= 0)
            sub->values[v].outer = map[sub->values[v].outer];
    return NNE_OK;
}

/* The work arrays of one graph's compaction, allocated before anything changes. */
typedef struct compact_buf {
    uint8_t *ref;
    int *vmap, *nmap;
} compact_buf;

static void compact_buf_free(compact_buf *b) {
    nne_free(b->ref);
    nne_free(b->vmap);
    nne_free(b->nmap);
    b->ref = NULL;
    b->vmap = b->nmap = NULL;
}

static nne_status compact_buf_alloc(const nne_graph *g, compact_buf *b) {
    b->ref = nne_calloc((size_t)g->n_values + 1, 1);
    b->vmap = nne_calloc((size_t)g->n_values + 1, sizeof(int));
    b->nmap = nne_calloc((size_t)g->n_nodes + 1, sizeof(int));
    if (b->ref && b->vmap && b->nmap) return NNE_OK;
    compact_buf_free(b);
    return OOM("compaction");
}

/* Compact g with its reserved arrays (freed here); allocates nothing. */
static void compact_apply(nne_graph *g, compact_buf *b) {
    int nv = g->n_values, nn = g->n_nodes;
    uint8_t *ref = b->ref;
    int *vmap = b->vmap, *nmap = b->nmap;
    memset(ref, 0, (size_t)nv + 1);
    for (int i = 0; i < g->n_inputs; i++) ref[g->inputs[i]] = 1;
    for (int i = 0; i < g->n_outputs; i++) ref[g->outputs[i]] = 1;
    for (int i = 0; i < nn; i++) {
        const nne_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) ref[n->in[k]] = 1;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) ref[n->out[k]] = 1;
    }
    nne_graph_for_each_subgraph(g, mark_link_refs, ref);
    int k = 0;
    for (int i = 0; i < nn; i++) nmap[i] = g->nodes[i].dead ? -1 : k++;
    int new_nn = k;
    k = 0;
    for (int v = 0; v < nv; v++) vmap[v] = ref[v] ? k++ : -1;
    int new_nv = k;
    /* nodes */
    for (int i = 0; i < nn; i++) {
        if (nmap[i] < 0) continue;
        nne_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) n->in[j] = vmap[n->in[j]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0) n->out[j] = vmap[n->out[j]];
        if (nmap[i] != i) g->nodes[nmap[i]] = *n;
    }
    g->n_nodes = new_nn;
    /* values */
    for (int v = 0; v < nv; v++) {
        nne_value *val = &g->values[v];
        if (vmap[v] < 0) {
            nne_value_free(val);
            continue;
        }
        if (val->kind == NNE_VAL_NODE && val->producer >= 0) val->producer = nmap[val->producer];
        if (vmap[v] != v) g->values[vmap[v]] = *val;
    }
    g->n_values = new_nv;
    for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = vmap[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = vmap[g->outputs[i]];
    nne_graph_for_each_subgraph(g, remap_links, vmap);
    compact_buf_free(b);
    /* fewer values in the same slots: no allocation after the edit */
    nne_graph_rehash_inplace(g);
}

nne_status nne_graph_compact(nne_graph *g) {
    compact_buf b = {0};
    NNE_TRY(compact_buf_alloc(g, &b));
    compact_apply(g, &b);
    return NNE_OK;
}

/* Graphs in g's tree (g included), in the order compact_all visits them:
 * every subgraph before the graph that holds it. */
static int tree_count(const nne_graph *g) {
    int k = 1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g && !g->nodes[i].dead) k += tree_count(g->nodes[i].attrs[a].g);
    return k;
}

static nne_status tree_alloc(const nne_graph *g, compact_buf *bufs, int *k) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g && !g->nodes[i].dead) NNE_TRY(tree_alloc(g->nodes[i].attrs[a].g, bufs, k));
    return compact_buf_alloc(g, &bufs[(*k)++]);
}

static void tree_apply(nne_graph *g, compact_buf *bufs, int *k) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g && !g->nodes[i].dead) tree_apply(g->nodes[i].attrs[a].g, bufs, k);
    compact_apply(g, &bufs[(*k)++]);
}

nne_status nne_graph_compact_all(nne_graph *g) {
    /* innermost first (a subgraph that drops links frees parent values);
     * every graph's arrays are reserved before the first one changes */
    int n = tree_count(g), k = 0;
    compact_buf *bufs = nne_calloc((size_t)n, sizeof *bufs);
    if (!bufs) return OOM("compaction");
    nne_status st = tree_alloc(g, bufs, &k);
    if (st == NNE_OK) {
        k = 0;
        tree_apply(g, bufs, &k);
    }
    for (int i = 0; i < n; i++) compact_buf_free(&bufs[i]);
    nne_free(bufs);
    return st;
}

/* Producer (node index) of value v as an input of g's node, or -1. */
static int producer_of(const nne_graph *g, int v) {
    if (v < 0) return -1;
    const nne_value *val = &g->values[v];
    return val->kind == NNE_VAL_NODE ? val->producer : -1;
}

/* 1 when every node reads only what earlier nodes made. */
static int is_sorted(const nne_graph *g) {
    for (int i = 0; i < g->n_nodes; i++) {
        const nne_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (producer_of(g, n->in[k]) >= i) return 0;
        for (int a = 0; a < n->n_attr; a++) {
            const nne_graph *sg = n->attrs[a].g;
            for (int v = 0; sg && v < sg->n_values; v++)
                if (sg->values[v].kind == NNE_VAL_OUTER && producer_of(g, sg->values[v].outer) >= i) return 0;
        }
    }
    return 1;
}

/*
 * Kahn's algorithm over consumer lists, O(nodes + edges): in-degree = the
 * inputs (explicit and through subgraph links) made by nodes; ready nodes
 * are taken in file order as far as the dependencies allow.
 */
nne_status nne_graph_topo_sort(nne_graph *g) {
    if (is_sorted(g)) return NNE_OK;
    int nn = g->n_nodes;
    nne_graph_uses u;
    NNE_TRY(nne_graph_uses_build(g, &u));
    int *indeg = nne_calloc((size_t)nn + 1, sizeof(int));
    int *order = nne_calloc((size_t)nn + 1, sizeof(int));
    int *newidx = nne_calloc((size_t)nn + 1, sizeof(int));
    nne_node *sorted = nne_calloc((size_t)nn + 1, sizeof(nne_node));
    nne_status st = NNE_OK;
    if (!indeg || !order || !newidx || !sorted) {
        st = OOM("topological sort");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++)
        if (producer_of(g, v) >= 0)
            for (int k = u.start[v]; k < u.start[v + 1]; k++) indeg[u.use[k].node]++;
    int head = 0, tail = 0;
    for (int i = 0; i < nn; i++)
        if (!indeg[i]) order[tail++] = i;
    while (head < tail) {
        const nne_node *n = &g->nodes[order[head++]];
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v < 0) continue;
            for (int k = u.start[v]; k < u.start[v + 1]; k++)
                if (--indeg[u.use[k].node] == 0) order[tail++] = u.use[k].node;
        }
    }
    if (tail != nn) {
        st = nne_error(NNE_ERR_CORRUPT_MODEL, "graph \"%s\" has a cycle (%d of %d nodes can be ordered)", gname(g),
                       tail, nn);
        goto done;
    }
    for (int i = 0; i < nn; i++) {
        sorted[i] = g->nodes[order[i]];
        newidx[order[i]] = i;
    }
    memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);
    for (int v = 0; v < g->n_values; v++)
        if (producer_of(g, v) >= 0) g->values[v].producer = newidx[g->values[v].producer];
done:
    nne_graph_uses_free(&u);
    nne_free(indeg);
    nne_free(order);
    nne_free(newidx);
    nne_free(sorted);
    return st;
}

/* ---------------------------------------------------------- validator -- */

int nne_validate_enabled(void) {
#ifdef NNE_DEBUG_VALIDATE
    return 1;
#else
    const char *e = getenv("NNE_VALIDATE");
    return e && e[0] == '1';
#endif
}

#define BAD(...) return nne_error(NNE_ERR_INTERNAL, "graph validator: graph \"%s\": " __VA_ARGS__)

static nne_status validate_one(const nne_graph *g, int depth) {
    const char *gn = gname(g);
    if (depth > 64) BAD("subgraphs nested more than 64 deep", gn);
    int nv = g->n_values, nn = g->n_nodes;
    for (int v = 0; v < nv; v++) {
        const nne_value *val = &g->values[v];
        if (!val->name) BAD("value %d has no name", gn, v);
        if (nne_graph_find(g, val->name) != v) BAD("value \"%s\" (%d) is not found by name", gn, val->name, v);
        if (val->ndim < -1 || val->ndim > NNE_MAX_DIMS) BAD("value \"%s\" has rank %d", gn, val->name, val->ndim);
        switch (val->kind) {
        case NNE_VAL_NODE: {
            int p = val->producer;
            if (p < 0 || p >= nn) BAD("value \"%s\" has producer %d of %d nodes", gn, val->name, p, nn);
            const nne_node *n = &g->nodes[p];
            int found = 0;
            for (int k = 0; k < n->n_out; k++) found += n->out[k] == v;
            if (found != 1)
                BAD("value \"%s\" names producer \"%s\", which lists it %d times", gn, val->name, n->name, found);
            break;
        }
        case NNE_VAL_OUTER: {
            const nne_graph *p = g->parent;
            if (!p) BAD("value \"%s\" links to an outer scope but the graph has none", gn, val->name);
            if (val->outer < 0 || val->outer >= p->n_values)
                BAD("outer link \"%s\" -> %d is out of range (%d values)", gn, val->name, val->outer, p->n_values);
            if (strcmp(p->values[val->outer].name, val->name) != 0)
                BAD("outer link \"%s\" points at \"%s\"", gn, val->name, p->values[val->outer].name);
            break;
        }
        case NNE_VAL_CONST: {
            const nne_tensor *t = &val->init;
            if (!nne_dtype_size(t->dtype) || t->ndim < 0 || t->ndim > NNE_MAX_DIMS || nne_dims_numel(t->ndim, t->dims) < 0)
                BAD("initializer \"%s\" has an invalid dtype or shape", gn, val->name);
            if (!nne_value_init_bytes(val) && nne_tensor_nbytes(t)) BAD("initializer \"%s\" has no data", gn, val->name);
            if (val->dtype != NNE_DTYPE_UNDEFINED && val->dtype != t->dtype)
                BAD("initializer \"%s\" is declared %s but holds %s", gn, val->name, nne_dtype_name(val->dtype),
                    nne_dtype_name(t->dtype));
            if (val->ndim >= 0 && val->ndim != t->ndim)
                BAD("initializer \"%s\" is declared with rank %d but holds rank %d", gn, val->name, val->ndim, t->ndim);
            break;
        }
        case NNE_VAL_INPUT: break;
        case NNE_VAL_PENDING: BAD("value \"%s\" has no producer", gn, val->name);
        default: BAD("value \"%s\" has kind %d", gn, val->name, val->kind);
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (v < 0 || v >= nv) BAD("input %d is value %d of %d", gn, i, v, nv);
        if (g->values[v].kind != NNE_VAL_INPUT && g->values[v].kind != NNE_VAL_CONST)
            BAD("input \"%s\" is not an input or initializer", gn, g->values[v].name);
    }
    uint8_t *listed = nne_calloc((size_t)nv + 1, 1);
    if (!listed) return OOM("validator");
    for (int i = 0; i < g->n_inputs; i++) listed[g->inputs[i]] = 1;
    int unlisted = -1;
    for (int v = 0; v < nv && unlisted < 0; v++)
        if (g->values[v].kind == NNE_VAL_INPUT && !listed[v]) unlisted = v;
    nne_free(listed);
    if (unlisted >= 0) BAD("input value \"%s\" is not listed as a graph input", gn, g->values[unlisted].name);
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (v < 0 || v >= nv) BAD("output %d is value %d of %d", gn, i, v, nv);
        if (!g->values[v].is_output) BAD("output \"%s\" is not flagged as an output", gn, g->values[v].name);
    }
    for (int i = 0; i < nn; i++) {
        const nne_node *n = &g->nodes[i];
        if (n->dead) BAD("node %d is removed but not compacted away", gn, i);
        if (!n->op_type || !n->domain || !n->name) BAD("node %d lacks op_type/domain/name", gn, i);
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < -1 || v >= nv) BAD("node \"%s\" (%s): input %d is value %d of %d", gn, n->name, n->op_type, k, v, nv);
            if (v >= 0 && producer_of(g, v) >= i)
                BAD("node \"%s\" (%s) reads \"%s\" before node %d makes it (cycle or unsorted)", gn, n->name,
                    n->op_type, g->values[v].name, producer_of(g, v));
        }
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0 || v >= nv) BAD("node \"%s\" (%s): output %d is value %d of %d", gn, n->name, n->op_type, k, v, nv);
            if (g->values[v].kind != NNE_VAL_NODE || g->values[v].producer != i)
                BAD("node \"%s\" (%s): output \"%s\" has another producer (one producer per value)", gn, n->name,
                    n->op_type, g->values[v].name);
        }
        for (int a = 0; a < n->n_attr; a++) {
            const nne_graph *sg = n->attrs[a].g;
            if (!n->attrs[a].name) BAD("node \"%s\": attribute %d has no name", gn, n->name, a);
            if (!sg) continue;
            if (sg->parent != g) BAD("node \"%s\": subgraph \"%s\" has the wrong parent", gn, n->name, gname(sg));
            for (int v = 0; v < sg->n_values; v++)
                if (sg->values[v].kind == NNE_VAL_OUTER && sg->values[v].outer >= 0 && sg->values[v].outer < nv &&
                    producer_of(g, sg->values[v].outer) >= i)
                    BAD("node \"%s\": subgraph reads \"%s\" before it is made", gn, n->name, sg->values[v].name);
            NNE_TRY(validate_one(sg, depth + 1));
        }
    }
    return NNE_OK;
}

nne_status nne_graph_validate(const nne_graph *g) { return validate_one(g, 0); }
