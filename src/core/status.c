/*
 * status.c - status names, the per-thread last-error buffer and the logging
 * callback. The library never prints; it leaves text here for the caller.
 */
#include "core/core.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char g_err[1024];
static nne_log_fn g_log_fn;
static void *g_log_user;

const char *nne_status_str(nne_status st) {
    switch (st) {
    case NNE_OK: return "NNE_OK";
    case NNE_ERR_INVALID_ARG: return "NNE_ERR_INVALID_ARG";
    case NNE_ERR_UNSUPPORTED: return "NNE_ERR_UNSUPPORTED";
    case NNE_ERR_OUT_OF_MEMORY: return "NNE_ERR_OUT_OF_MEMORY";
    case NNE_ERR_CORRUPT_MODEL: return "NNE_ERR_CORRUPT_MODEL";
    case NNE_ERR_IO: return "NNE_ERR_IO";
    case NNE_ERR_INTERNAL: return "NNE_ERR_INTERNAL";
    case NNE_ERR_CANCELLED: return "NNE_ERR_CANCELLED";
    case NNE_ERR_LIMIT: return "NNE_ERR_LIMIT";
    }
    return "NNE_ERR_UNKNOWN";
}

const char *nne_last_error(void) { return g_err; }

/* Store msg as this thread's error, with control characters (a newline in a
 * tensor name read from a model, say) written as \xHH: a message is always
 * one line, as the CLI contract needs (one line per problem on stderr). */
static void set_error(const char *msg) {
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    for (; *msg && k + 1 < sizeof g_err; msg++) {
        unsigned char c = (unsigned char)*msg;
        if (c >= 0x20 && c != 0x7f) {
            g_err[k++] = (char)c;
        } else {
            if (k + 5 > sizeof g_err) break;
            g_err[k++] = '\\';
            g_err[k++] = 'x';
            g_err[k++] = hex[c >> 4];
            g_err[k++] = hex[c & 15];
        }
    }
    g_err[k] = 0;
}

nne_status nne_last_error_set(nne_status st, const char *msg) {
    set_error(msg ? msg : "");
    return st;
}

nne_status nne_verror(nne_status st, const char *fmt, va_list ap) {
    char msg[sizeof g_err];
    vsnprintf(msg, sizeof msg, fmt, ap);
    set_error(msg);
    return st;
}

nne_status nne_error(nne_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    nne_verror(st, fmt, ap);
    va_end(ap);
    return st;
}

void nne_error_prefix(const char *fmt, ...) {
    char pre[512], old[sizeof g_err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%.400s: %.600s", pre, g_err);
    set_error(old);
}

void nne_log_set(nne_log_fn fn, void *user) {
    g_log_fn = fn;
    g_log_user = user;
}

void nne_log(nne_log_level lvl, const char *fmt, ...) {
    if (!g_log_fn) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_fn(g_log_user, lvl, buf);
}

/* Requests above this are refused outright: no length field in a file can
 * make us try to allocate more than the machine could ever hold. */
#define NNE_MAX_ALLOC ((size_t)1 << 40)

/* Physical memory: no single tensor or arena may be larger (a length or a
 * shape in a hostile file must not drive the process into the OOM killer). */
static size_t g_mem_cap;
static pthread_once_t g_mem_cap_once = PTHREAD_ONCE_INIT;
static void mem_cap_init(void) {
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    g_mem_cap = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : NNE_MAX_ALLOC;
}
/* Read once (behind a once-guard: contexts call this from many threads). */
size_t nne_mem_cap(void) {
    pthread_once(&g_mem_cap_once, mem_cap_init);
    return g_mem_cap;
}

char *nne_strndup(const char *s, size_t n) {
    char *r = nne_malloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}
char *nne_strdup(const char *s) { return nne_strndup(s, strlen(s)); }

int64_t nne_dims_numel(int ndim, const int64_t *dims) {
    int64_t n;
    size_t nb;
    nne_dims_nbytes(ndim, dims, 1, &nb, &n);
    return n;
}

int nne_dims_nbytes(int ndim, const int64_t *dims, size_t elem, size_t *nbytes, int64_t *numel) {
    int64_t n = 1, b;
    *nbytes = SIZE_MAX;
    if (numel) *numel = -1;
    if (ndim < 0 || ndim > NNE_MAX_DIMS || elem > INT64_MAX) return 0;
    int empty = 0;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return 0;
        empty |= dims[i] == 0;
    }
    /* The product of the non-zero dims (times elem) must fit too, as numpy
     * demands: an empty tensor of shape (0, 2^62, 2^62) is refused like a
     * full one, so every product of a tensor's dims that an op computes stays
     * representable, empty tensor or not. */
    for (int i = 0; i < ndim; i++)
        if (dims[i] && __builtin_mul_overflow(n, dims[i], &n)) return 0;
    if (__builtin_mul_overflow(n, elem ? (int64_t)elem : 1, &b)) return 0;
    if (empty) n = b = 0;
    *nbytes = (size_t)b;
    if (numel) *numel = n;
    return 1;
}

nne_status nne_shape_check(const char *what, nne_dtype dt, int ndim, const int64_t *dims, size_t *nbytes) {
    size_t nb;
    if (nne_dims_nbytes(ndim, dims, nne_dtype_size(dt), &nb, NULL)) {
        if (nbytes) *nbytes = nb;
        return NNE_OK;
    }
    if (nbytes) *nbytes = SIZE_MAX;
    if (ndim < 0 || ndim > NNE_MAX_DIMS)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: rank %d is outside 0..%d", what, ndim, NNE_MAX_DIMS);
    char b[320];
    size_t off = 0;
    b[0] = 0;
    for (int i = 0; i < ndim && off < sizeof b; i++)
        off += (size_t)snprintf(b + off, sizeof b - off, i ? "x%lld" : "%lld", (long long)dims[i]);
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0)
            return nne_error(NNE_ERR_INVALID_ARG, "%s: shape %s has a negative dimension", what, b);
    return nne_error(NNE_ERR_INVALID_ARG, "%s: shape %s of %s is too large (the size overflows 2^63 bytes)", what,
                     b, nne_dtype_name(dt));
}
