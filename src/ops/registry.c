/*
 * registry.c - finds an op by (domain, op_type) in the generated op table
 * (build/gen/op_table.c, made from every NNE_OP_REGISTER line in src/ops/).
 * Lookups go through an index sorted by op_type, built once: a model with
 * 10^5 nodes looks up 10^5 ops, and a linear scan of the table made that a
 * visible part of loading.
 */
#include "ops/op.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

extern const nne_op_def *const nne_op_table[];

static int is_onnx_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

/* The table is static and small (a few hundred ops): a fixed index. */
#define MAX_OPS 2048
static const nne_op_def *g_sorted[MAX_OPS];
static int g_n_sorted = -1; /* -1: the table is too big, scan it */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static int cmp_def(const void *a, const void *b) {
    return strcmp((*(const nne_op_def *const *)a)->op_type, (*(const nne_op_def *const *)b)->op_type);
}

static void build_index(void) {
    int n = 0;
    while (nne_op_table[n]) n++;
    if (n > MAX_OPS) return;
    memcpy(g_sorted, nne_op_table, (size_t)n * sizeof *g_sorted);
    qsort(g_sorted, (size_t)n, sizeof *g_sorted, cmp_def);
    g_n_sorted = n;
}

static int dom_match(const char *domain, const nne_op_def *o) {
    return is_onnx_domain(domain) ? is_onnx_domain(o->domain) : strcmp(domain, o->domain) == 0;
}

const nne_op_def *nne_op_find(const char *domain, const char *op_type) {
    pthread_once(&g_once, build_index);
    if (g_n_sorted < 0) {
        for (const nne_op_def *const *p = nne_op_table; *p; p++)
            if (dom_match(domain, *p) && strcmp((*p)->op_type, op_type) == 0) return *p;
        return NULL;
    }
    /* first entry with this op_type, then the one of the right domain */
    int lo = 0, hi = g_n_sorted;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(g_sorted[mid]->op_type, op_type) < 0) lo = mid + 1;
        else hi = mid;
    }
    for (; lo < g_n_sorted && strcmp(g_sorted[lo]->op_type, op_type) == 0; lo++)
        if (dom_match(domain, g_sorted[lo])) return g_sorted[lo];
    return NULL;
}
