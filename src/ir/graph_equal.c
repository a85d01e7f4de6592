/*
 * graph_equal.c - structural equality of two models, for round-trip tests
 * and the load -> write -> load fuzzer.
 *
 * Two models are equal when their headers (IR version, opsets, producer,
 * domain, model_version, doc, metadata, kept raw fields) and graphs match.
 * Graphs are compared by names, not value indices (a writer may list values
 * in another order): nodes in order with op, domain, name, doc, metadata,
 * input and output names and attributes (subgraphs recursively, floats
 * bitwise); inputs and outputs in order with their declared types;
 * initializers by name with dtype, dims and bytes; the set of value_info
 * entries. The first difference is described in `why`.
 */
#include "ir/graph.h"
#include "core/core.h"

#include <stdio.h>
#include <string.h>

typedef struct cmp {
    char *why;
    size_t cap;
} cmp;

static int differ(cmp *c, const char *fmt, const char *a, const char *b) {
    if (c->why && c->cap) snprintf(c->why, c->cap, fmt, a ? a : "", b ? b : "");
    return 0;
}

static int str_eq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* empty and anonymous ("\x01unused:...") value names are the same: no value */
static const char *vname(const nne_graph *g, int v) {
    if (v < 0) return "";
    const char *n = g->values[v].name;
    return n[0] == '\x01' ? "" : n;
}

static int kv_eq(int na, const nne_kv *a, int nb, const nne_kv *b) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (!str_eq(a[i].key, b[i].key) || !str_eq(a[i].value, b[i].value)) return 0;
    return 1;
}

static int raw_eq(int na, const nne_raw_field *a, int nb, const nne_raw_field *b) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (a[i].num != b[i].num || a[i].len != b[i].len || memcmp(a[i].data, b[i].data, a[i].len)) return 0;
    return 1;
}

static int tensor_eq(const nne_tensor *a, const void *da, const nne_tensor *b, const void *db) {
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    size_t n = nne_tensor_nbytes(a);
    return n == 0 || (da && db && memcmp(da, db, n) == 0);
}

/* declared type of a value */
static int type_eq(const nne_value *a, const nne_value *b) {
    if (a->vtype != b->vtype || a->type_raw_len != b->type_raw_len) return 0;
    if (a->type_raw && memcmp(a->type_raw, b->type_raw, a->type_raw_len)) return 0;
    if (a->dtype != b->dtype || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++) {
        if (a->dims[d] != b->dims[d]) return 0;
        if (a->dims[d] < 0 && !str_eq(a->dim_names[d], b->dim_names[d])) return 0;
    }
    return 1;
}

static int graph_eq(cmp *c, const nne_graph *a, const nne_graph *b);

static int attr_eq(cmp *c, const nne_attr *a, const nne_attr *b) {
    if (!str_eq(a->name, b->name) || a->type != b->type || !str_eq(a->doc, b->doc))
        return differ(c, "attribute %s differs from %s (name, type or doc)", a->name, b->name);
    if (a->raw_len != b->raw_len || (a->raw && memcmp(a->raw, b->raw, a->raw_len)))
        return differ(c, "attribute %s: kept bytes differ%s", a->name, "");
    if (a->raw) return 1;
    /* every payload, whatever the type says (the writer keeps them all) */
    int ok = memcmp(&a->f, &b->f, sizeof a->f) == 0 && a->i == b->i && a->n == b->n && a->slen == b->slen &&
             !a->s == !b->s && !a->t == !b->t && !a->g == !b->g && !a->floats == !b->floats && !a->ints == !b->ints &&
             !a->strings == !b->strings;
    if (ok && a->s) ok = !a->slen || memcmp(a->s, b->s, a->slen) == 0;
    if (ok && a->t) ok = tensor_eq(a->t, a->t->data, b->t, b->t->data);
    if (ok && a->floats) ok = !a->n || memcmp(a->floats, b->floats, (size_t)a->n * sizeof(float)) == 0;
    if (ok && a->ints) ok = !a->n || memcmp(a->ints, b->ints, (size_t)a->n * sizeof(int64_t)) == 0;
    for (int i = 0; ok && a->strings && i < a->n; i++) ok = str_eq(a->strings[i], b->strings[i]);
    if (ok && a->g && !graph_eq(c, a->g, b->g)) return 0;
    return ok ? 1 : differ(c, "attribute %s: values differ%s", a->name, "");
}

static int graph_eq(cmp *c, const nne_graph *a, const nne_graph *b) {
    if (!str_eq(a->name, b->name) || !str_eq(a->doc, b->doc))
        return differ(c, "graph name or doc differs: \"%s\" vs \"%s\"", a->name, b->name);
    if (!kv_eq(a->n_meta, a->meta, b->n_meta, b->meta) || !raw_eq(a->n_raw, a->raw, b->n_raw, b->raw))
        return differ(c, "graph %s: metadata or kept fields differ%s", a->name, "");
    if (a->n_nodes != b->n_nodes || a->n_inputs != b->n_inputs || a->n_outputs != b->n_outputs)
        return differ(c, "graph %s: node, input or output counts differ%s", a->name, "");
    for (int i = 0; i < a->n_inputs + a->n_outputs; i++) {
        int out = i >= a->n_inputs;
        const nne_value *va = &a->values[out ? a->outputs[i - a->n_inputs] : a->inputs[i]];
        const nne_value *vb = &b->values[out ? b->outputs[i - a->n_inputs] : b->inputs[i]];
        if (!str_eq(va->name, vb->name) || va->kind != vb->kind || !type_eq(va, vb) || !str_eq(va->doc, vb->doc))
            return differ(c, "graph input/output %s differs from %s (name, kind, type or doc)", va->name, vb->name);
    }
    int na = 0, nb = 0;
    for (int v = 0; v < a->n_values; v++) {
        const nne_value *va = &a->values[v];
        if (va->kind == NNE_VAL_CONST) na++;
        if (va->kind != NNE_VAL_CONST && !va->in_value_info) continue;
        int w = nne_graph_find(b, va->name);
        if (w < 0) return differ(c, "value %s is missing after the round trip%s", va->name, "");
        const nne_value *vb = &b->values[w];
        if (vb->kind != va->kind || vb->in_value_info != va->in_value_info)
            return differ(c, "value %s: kind or value_info differs%s", va->name, "");
        if (va->in_value_info && (!type_eq(va, vb) || !str_eq(va->doc, vb->doc)))
            return differ(c, "value_info of %s differs%s", va->name, "");
        if (va->kind == NNE_VAL_CONST &&
            !tensor_eq(&va->init, nne_value_init_bytes(va), &vb->init, nne_value_init_bytes(vb)))
            return differ(c, "initializer %s differs%s", va->name, "");
    }
    for (int v = 0; v < b->n_values; v++) {
        if (b->values[v].kind == NNE_VAL_CONST) nb++;
        if (b->values[v].in_value_info && nne_graph_find(a, b->values[v].name) < 0)
            return differ(c, "value_info %s appeared after the round trip%s", b->values[v].name, "");
    }
    if (na != nb) return differ(c, "graph %s: initializer counts differ%s", a->name, "");
    for (int i = 0; i < a->n_nodes; i++) {
        const nne_node *x = &a->nodes[i], *y = &b->nodes[i];
        if (!str_eq(x->op_type, y->op_type) || !str_eq(x->domain, y->domain) || !str_eq(x->name, y->name) ||
            !str_eq(x->doc, y->doc) || !kv_eq(x->n_meta, x->meta, y->n_meta, y->meta) || x->n_in != y->n_in ||
            x->n_out != y->n_out || x->n_attr != y->n_attr)
            return differ(c, "node %s differs from %s (op, domain, name, doc, metadata or counts)", x->name, y->name);
        for (int k = 0; k < x->n_in; k++)
            if (!str_eq(vname(a, x->in[k]), vname(b, y->in[k])))
                return differ(c, "node %s: input %s differs", x->name, vname(a, x->in[k]));
        for (int k = 0; k < x->n_out; k++)
            if (!str_eq(vname(a, x->out[k]), vname(b, y->out[k])))
                return differ(c, "node %s: output %s differs", x->name, vname(a, x->out[k]));
        for (int k = 0; k < x->n_attr; k++)
            if (!attr_eq(c, &x->attrs[k], &y->attrs[k])) return 0;
    }
    return 1;
}

int nne_model_equal(const nne_model *a, const nne_model *b, char *why, size_t why_cap) {
    cmp c = {why, why_cap};
    if (why && why_cap) why[0] = 0;
    if (a->ir_version != b->ir_version || a->model_version != b->model_version)
        return differ(&c, "IR or model version differs%s%s", "", "");
    if (!str_eq(a->producer, b->producer) || !str_eq(a->producer_version, b->producer_version) ||
        !str_eq(a->domain, b->domain) || !str_eq(a->doc, b->doc))
        return differ(&c, "producer, domain or doc differs: \"%s\" vs \"%s\"", a->producer, b->producer);
    if (!kv_eq(a->n_meta, a->meta, b->n_meta, b->meta) || !raw_eq(a->n_raw, a->raw, b->n_raw, b->raw))
        return differ(&c, "model metadata or kept fields (functions, training info) differ%s%s", "", "");
    if (a->n_opsets != b->n_opsets) return differ(&c, "opset import counts differ%s%s", "", "");
    for (int i = 0; i < a->n_opsets; i++)
        if (!str_eq(a->opsets[i].domain, b->opsets[i].domain) || a->opsets[i].version != b->opsets[i].version)
            return differ(&c, "opset import %s differs from %s", a->opsets[i].domain, b->opsets[i].domain);
    return graph_eq(&c, a->graph, b->graph);
}
