/*
 * graph.c - graph IR containers: value table with a name hash, node list,
 * attribute lookup and teardown.
 */
#include "ir/graph.h"
#include "core/core.h"

#include <string.h>

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    /* FNV's multiply only carries bits upward, so the low bits the table
     * masks see little of the name ("v1".."v100000" cluster under linear
     * probing): fold the high bits down */
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

nne_graph *nne_graph_create(nne_graph *parent) {
    nne_graph *g = nne_calloc(1, sizeof *g);
    if (g) g->parent = parent;
    return g;
}

static void tensor_free(nne_tensor *t) {
    if (t) nne_aligned_free(t->data);
}

void nne_attr_free(nne_attr *a) {
    nne_free(a->name);
    nne_free(a->s);
    nne_free(a->ints);
    nne_free(a->floats);
    if (a->strings)
        for (int i = 0; i < a->n; i++) nne_free(a->strings[i]);
    nne_free(a->strings);
    if (a->t) {
        tensor_free(a->t);
        nne_free(a->t);
    }
    nne_graph_destroy(a->g);
    nne_free(a->doc);
    nne_free(a->raw);
}

void nne_kv_free(int n, nne_kv *kv) {
    for (int i = 0; kv && i < n; i++) {
        nne_free(kv[i].key);
        nne_free(kv[i].value);
    }
    nne_free(kv);
}

void nne_raw_free(int n, nne_raw_field *raw) {
    for (int i = 0; raw && i < n; i++) nne_free(raw[i].data);
    nne_free(raw);
}

void nne_value_free(nne_value *v) {
    nne_free(v->name);
    for (int d = 0; d < NNE_MAX_DIMS; d++) nne_free(v->dim_names[d]);
    if (!v->init_borrowed) tensor_free(&v->init); /* borrowed: points into a model mapping */
    nne_free(v->doc);
    nne_free(v->type_raw);
    v->name = NULL;
    memset(v->dim_names, 0, sizeof v->dim_names);
    v->init.data = NULL;
    v->init_borrowed = 0;
    v->init_src = NULL;
    v->doc = NULL;
    v->type_raw = NULL;
    v->type_raw_len = 0;
}

/* Everything a node owns: strings, index lists, attributes, doc, metadata. */
void nne_node_free(nne_node *n) {
    nne_free(n->name);
    nne_free(n->op_type);
    nne_free(n->domain);
    nne_free(n->in);
    nne_free(n->out);
    for (int a = 0; a < n->n_attr; a++) nne_attr_free(&n->attrs[a]);
    nne_free(n->attrs);
    nne_free(n->doc);
    nne_kv_free(n->n_meta, n->meta);
}

void nne_graph_destroy(nne_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_values; i++) nne_value_free(&g->values[i]);
    for (int i = 0; i < g->n_nodes; i++) nne_node_free(&g->nodes[i]);
    nne_free(g->values);
    nne_free(g->nodes);
    nne_free(g->inputs);
    nne_free(g->outputs);
    nne_free(g->hash);
    nne_free(g->name);
    nne_free(g->doc);
    nne_kv_free(g->n_meta, g->meta);
    nne_raw_free(g->n_raw, g->raw);
    nne_free(g);
}

int nne_graph_find(const nne_graph *g, const char *name) {
    if (!g->hash_cap) return -1;
    size_t mask = (size_t)g->hash_cap - 1;
    for (size_t h = hash_str(name) & mask;; h = (h + 1) & mask) {
        int idx = g->hash[h];
        if (idx < 0) return -1;
        if (strcmp(g->values[idx].name, name) == 0) return idx;
    }
}

void nne_graph_rehash_inplace(nne_graph *g) {
    if (!g->hash_cap) return;
    size_t mask = (size_t)g->hash_cap - 1;
    for (int i = 0; i < g->hash_cap; i++) g->hash[i] = -1;
    for (int i = 0; i < g->n_values; i++) {
        size_t k = hash_str(g->values[i].name) & mask;
        while (g->hash[k] >= 0) k = (k + 1) & mask;
        g->hash[k] = i;
    }
}

int nne_graph_rehash(nne_graph *g, int cap) {
    int *h = nne_malloc((size_t)cap * sizeof *h);
    if (!h) return 0;
    for (int i = 0; i < cap; i++) h[i] = -1;
    for (int i = 0; i < g->n_values; i++) {
        size_t mask = (size_t)cap - 1, k = hash_str(g->values[i].name) & mask;
        while (h[k] >= 0) k = (k + 1) & mask;
        h[k] = i;
    }
    nne_free(g->hash);
    g->hash = h;
    g->hash_cap = cap;
    return 1;
}

int nne_graph_add_value(nne_graph *g, const char *name, int kind) {
    if (g->n_values == g->cap_values) {
        int cap = g->cap_values ? g->cap_values * 2 : 64;
        nne_value *nv = nne_realloc(g->values, (size_t)cap * sizeof *nv);
        if (!nv) return -1;
        g->values = nv;
        g->cap_values = cap;
    }
    nne_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = nne_strdup(name);
    if (!v->name) return -1;
    v->kind = kind;
    v->producer = -1;
    v->outer = -1;
    v->ndim = -1;
    int idx = g->n_values++;
    if ((size_t)g->n_values * 2 > (size_t)g->hash_cap) {
        if (!nne_graph_rehash(g, g->hash_cap ? g->hash_cap * 2 : 128)) {
            g->n_values--;
            nne_free(v->name);
            return -1;
        }
    } else {
        size_t mask = (size_t)g->hash_cap - 1, k = hash_str(name) & mask;
        while (g->hash[k] >= 0) k = (k + 1) & mask;
        g->hash[k] = idx;
    }
    return idx;
}

const nne_attr *nne_node_attr(const nne_node *n, const char *name) {
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

nne_model *nne_model_new(void) {
    nne_model *m = nne_calloc(1, sizeof(nne_model));
    if (m) nne_model_wcache_init(m);
    return m;
}

int64_t nne_model_opset_for(const nne_model *m, const char *domain) {
    int onnx = !domain[0] || strcmp(domain, "ai.onnx") == 0;
    for (int i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        int donnx = !d[0] || strcmp(d, "ai.onnx") == 0;
        if ((onnx && donnx) || strcmp(d, domain) == 0) return m->opsets[i].version;
    }
    return onnx && m->ir_version < 3 ? 1 : -1;
}
