/*
 * wcache.c - the packed-weight cache of a model.
 *
 * Plans pack constant weights (a layout for a kernel, a dtype conversion)
 * once. The packed buffer is cached by the model under (the initializer's
 * data pointer, a tag the op makes from how it packed), so a second plan of
 * the same model -- another batch size, another thread's plan -- reuses it
 * instead of packing again. Only initializers are cached: their data lives
 * as long as the model, so the address is a stable key. Entries are freed
 * with the model and charged to the model's memory budget. The cache is the
 * model's one mutable part; a mutex per model guards it (plans of one model
 * may be made in many threads at once).
 */
#include "ir/graph.h"
#include "ir/session_internal.h"
#include "core/core.h"

#include <string.h>

struct nne_wc_entry {
    const void *key;
    uint64_t tag;
    size_t bytes;
    void *buf;
    struct nne_wc_entry *next;
};

void nne_model_wcache_init(nne_model *m) {
    pthread_mutex_init(&m->wc_lock, NULL);
    m->wc = NULL;
}

void nne_model_wcache_free(nne_model *m) {
    struct nne_wc_entry *e = m->wc;
    while (e) {
        struct nne_wc_entry *next = e->next;
        nne_aligned_free(e->buf);
        nne_free(e);
        e = next;
    }
    m->wc = NULL;
    pthread_mutex_destroy(&m->wc_lock);
}

const void *nne_wcache_get(const nne_model *cm, const void *key, uint64_t tag, size_t bytes, nne_pack_fn fill,
                           void *user) {
    /* the cache is not part of the model's observable value: a const model
     * may still fill it (under its lock) */
    nne_model *m = (nne_model *)cm;
    void *r = NULL;
    pthread_mutex_lock(&m->wc_lock);
    for (struct nne_wc_entry *e = m->wc; e; e = e->next)
        if (e->key == key && e->tag == tag && e->bytes == bytes) {
            r = e->buf;
            goto out;
        }
    /* packed weights belong to the model (they outlive the plan and the
     * session that made them): charge them to the model's memory budget, not
     * to the session's that is current now */
    nne_budget *prev = nne_budget_enter(m->budget);
    struct nne_wc_entry *e = nne_calloc(1, sizeof *e);
    void *buf = nne_aligned_alloc(bytes ? bytes : NNE_ALIGN);
    nne_budget_leave(prev);
    if (!e || !buf) {
        nne_free(e);
        nne_aligned_free(buf);
        nne_error(NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of packed weights", bytes);
        goto out;
    }
    fill(user, buf);
    e->key = key;
    e->tag = tag;
    e->bytes = bytes;
    e->buf = buf;
    e->next = m->wc;
    m->wc = e;
    r = buf;
out:
    pthread_mutex_unlock(&m->wc_lock);
    return r;
}

void nne_model_wcache_stats(const nne_model *cm, int *entries, size_t *bytes) {
    nne_model *m = (nne_model *)cm;
    *entries = 0;
    *bytes = 0;
    pthread_mutex_lock(&m->wc_lock);
    for (struct nne_wc_entry *e = m->wc; e; e = e->next) {
        (*entries)++;
        *bytes += e->bytes;
    }
    pthread_mutex_unlock(&m->wc_lock);
}
