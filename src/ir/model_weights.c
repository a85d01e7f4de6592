/*
 * model_weights.c - weights used where they lie.
 *
 * The loader points initializers into the mapped model file (and mapped
 * external data files) when the bytes are aligned for their element type.
 * Bytes at an unaligned address (protobuf puts raw_data wherever the previous
 * field ended) cannot be read through a typed pointer, so the loader leaves
 * init.data NULL and init_src pointing at them; the first session created on
 * the model copies those into aligned memory here. Loading alone therefore
 * costs almost no private memory, and a model whose writer aligned its
 * tensors (nnedge convert does) never copies at all.
 */
#include "ir/graph.h"
#include "core/core.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The whole pages of [p, p + n) of a read-only private file mapping leave
 * the resident set (read again from the file if ever touched): once a
 * tensor is copied, its mapped bytes would otherwise count twice. */
void nne_model_drop_pages(const nne_model *m, const void *p, size_t n) {
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !p || !m) return;
    /* only in the model's own file mappings (a buffer the caller loaded the
     * model from is the caller's memory: dropping its pages would zero it) */
    int ours = 0;
    for (int i = 0; i < m->n_maps && !ours; i++) {
        uintptr_t a0 = (uintptr_t)m->maps[i].addr;
        ours = m->maps[i].addr && (uintptr_t)p >= a0 && (uintptr_t)p + n <= a0 + m->maps[i].size;
    }
    if (!ours) return;
    uintptr_t a = (uintptr_t)p, lo = (a + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t hi = (a + n) & ~((uintptr_t)pg - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* One lock for every model: materializing happens once per model. */
static pthread_mutex_t g_weights_lock = PTHREAD_MUTEX_INITIALIZER;

static nne_status graph_ready(const nne_model *m, nne_graph *g) {
    for (int i = 0; i < g->n_values; i++) {
        nne_value *v = &g->values[i];
        if (v->kind != NNE_VAL_CONST || v->init.data || !v->init_src) continue;
        size_t n = nne_tensor_nbytes(&v->init);
        void *p = nne_aligned_alloc(n);
        if (!p)
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "model: cannot allocate %zu bytes for initializer \"%s\"", n,
                             v->name);
        memcpy(p, v->init_src, n);
        nne_model_drop_pages(m, v->init_src, n);
        /* init_src stays: a reader (the writer, in another thread) that saw
         * init.data NULL still finds the bytes there (nne_value_init_bytes) */
        v->init_borrowed = 0;
        __atomic_store_n(&v->init.data, p, __ATOMIC_RELEASE);
    }
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g) {
                nne_status st = graph_ready(m, g->nodes[i].attrs[a].g);
                if (st != NNE_OK) return st;
            }
    return NNE_OK;
}

nne_status nne_model_weights_ready(const nne_model *cm) {
    nne_model *m = (nne_model *)cm; /* lazy state inside an otherwise immutable model */
    if (!m || __atomic_load_n(&m->weights_ready, __ATOMIC_ACQUIRE)) return NNE_OK;
    pthread_mutex_lock(&g_weights_lock);
    nne_status st = NNE_OK;
    if (!m->weights_ready) {
        st = graph_ready(m, m->graph);
        if (st == NNE_OK) __atomic_store_n(&m->weights_ready, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_weights_lock);
    return st;
}
