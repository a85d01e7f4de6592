/*
 * alloc.c - every allocation of the library, through the user's allocator
 * hook, with a small header in front of each block that records its size and
 * the memory budget it was charged to.
 *
 * Budgets make a session's memory limit cover everything the session makes
 * while it prepares or runs (arena, scratch, folded constants, data-shaped
 * outputs, Loop and sequence buffers, op temporaries) without each call site
 * having to count: the session makes its budget current on the thread for
 * the duration of the call, allocations are charged to it and refused above
 * its limit, and a block gives its bytes back to the budget it was charged to
 * when freed, whichever thread frees it.
 */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

/* Requests above this are refused outright: no length field in a file can
 * make us try to allocate more than the machine could ever hold. */
#define NNE_MAX_ALLOC ((size_t)1 << 40)

static void *libc_malloc(void *u, size_t n) { (void)u; return malloc(n); }
static void *libc_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void *libc_aligned(void *u, size_t a, size_t n) { (void)u; return aligned_alloc(a, n); }
static void libc_free(void *u, void *p) { (void)u; free(p); }
static nne_allocator g_alloc = {libc_malloc, libc_realloc, libc_aligned, libc_free, NULL};

void nne_allocator_set(const nne_allocator *a) {
    static const nne_allocator libc = {libc_malloc, libc_realloc, libc_aligned, libc_free, NULL};
    g_alloc = a ? *a : libc;
}

/* Sits right before every block handed out (32 bytes keeps malloc's 16-byte
 * alignment; aligned blocks reserve 64 bytes in front and use the last 32). */
typedef struct alloc_hdr {
    nne_budget *budget; /* charged to, or NULL */
    size_t size;        /* bytes requested */
    size_t base_off;    /* distance from the block the hook returned */
    size_t magic;
} alloc_hdr;
#define HDR 32
#define HDR_MAGIC ((size_t)0x6e6e6562u)
_Static_assert(sizeof(alloc_hdr) == HDR, "allocation header size");

static _Thread_local nne_budget *g_budget;

nne_budget *nne_budget_enter(nne_budget *b) {
    nne_budget *prev = g_budget;
    g_budget = b;
    return prev;
}
void nne_budget_leave(nne_budget *prev) { g_budget = prev; }
nne_budget *nne_budget_current(void) { return g_budget; }

size_t nne_budget_used(const nne_budget *b) { return __atomic_load_n(&b->used, __ATOMIC_RELAXED); }

/* Charge n bytes to the current budget; 0 when that would pass its limit. */
static int charge(nne_budget *b, size_t n) {
    if (!b) return 1;
    size_t used = __atomic_add_fetch(&b->used, n, __ATOMIC_RELAXED);
    if (b->limit && (used > b->limit || used < n)) {
        __atomic_sub_fetch(&b->used, n, __ATOMIC_RELAXED);
        b->refused = 1;
        b->refused_bytes = n;
        b->refused_used = used - n;
        return 0;
    }
    size_t peak = __atomic_load_n(&b->peak, __ATOMIC_RELAXED);
    while (used > peak && !__atomic_compare_exchange_n(&b->peak, &peak, used, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return 1;
}
static void uncharge(nne_budget *b, size_t n) {
    if (b) __atomic_sub_fetch(&b->used, n, __ATOMIC_RELAXED);
}

static void *finish(void *base, size_t off, size_t n, nne_budget *b) {
    if (!base) {
        uncharge(b, n);
        return NULL;
    }
    alloc_hdr *h = (alloc_hdr *)((char *)base + off - HDR);
    h->budget = b;
    h->size = n;
    h->base_off = off;
    h->magic = HDR_MAGIC;
    return (char *)base + off;
}

void *nne_malloc(size_t n) {
    if (n > NNE_MAX_ALLOC) return NULL;
    nne_budget *b = g_budget;
    if (!charge(b, n)) return NULL;
    return finish(g_alloc.malloc_fn(g_alloc.user, HDR + (n ? n : 1)), HDR, n, b);
}
void *nne_calloc(size_t n, size_t sz) {
    size_t tot;
    if (!nne_mul_ok(n, sz, &tot)) return NULL;
    void *p = nne_malloc(tot);
    if (p) memset(p, 0, tot);
    return p;
}
void *nne_realloc(void *p, size_t n) {
    if (!p) return nne_malloc(n);
    if (n > NNE_MAX_ALLOC) return NULL;
    alloc_hdr *h = (alloc_hdr *)((char *)p - HDR);
    if (h->base_off != HDR) { /* an aligned block: move it (rare) */
        void *q = nne_malloc(n);
        if (!q) return NULL;
        memcpy(q, p, h->size < n ? h->size : n);
        nne_free(p);
        return q;
    }
    nne_budget *b = h->budget;
    size_t old = h->size;
    if (n > old && !charge(b, n - old)) return NULL;
    void *base = g_alloc.realloc_fn(g_alloc.user, (char *)p - HDR, HDR + (n ? n : 1));
    if (!base) {
        if (n > old) uncharge(b, n - old);
        return NULL;
    }
    if (n < old) uncharge(b, old - n);
    h = (alloc_hdr *)base;
    h->size = n;
    return (char *)base + HDR;
}
void nne_free(void *p) {
    if (!p) return;
    alloc_hdr *h = (alloc_hdr *)((char *)p - HDR);
    uncharge(h->budget, h->size);
    g_alloc.free_fn(g_alloc.user, (char *)p - h->base_off);
}

void *nne_aligned_alloc(size_t n) {
    if (n > NNE_MAX_ALLOC || n > nne_mem_cap()) return NULL;
    size_t r = (n + NNE_ALIGN - 1) / NNE_ALIGN * NNE_ALIGN;
    nne_budget *b = g_budget;
    if (!charge(b, r)) return NULL;
    return finish(g_alloc.aligned_alloc_fn(g_alloc.user, NNE_ALIGN, NNE_ALIGN + (r ? r : NNE_ALIGN)), NNE_ALIGN, r,
                  b);
}
void nne_aligned_free(void *p) { nne_free(p); }
