/*
 * core.h - internal helpers shared by every module: error text, allocation
 * with overflow checks, logging.
 */
#ifndef NNE_CORE_H
#define NNE_CORE_H

#include "nnedge.h"
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Set this thread's last error and return st. */
nne_status nne_error(nne_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
nne_status nne_verror(nne_status st, const char *fmt, va_list ap);
/* Prefix the current error text with "prefix: ". */
void nne_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nne_log(nne_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Multiply with overflow check: returns 0 on overflow. */
static inline int nne_mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* Saturating size arithmetic (nne_size_mul, _add, _elems, _align64). */
#include "core/size.h"
size_t nne_mem_cap(void);            /* bytes of physical memory */
void *nne_malloc(size_t n);           /* NULL when n is absurd or allocation fails */
void *nne_calloc(size_t n, size_t sz); /* overflow-checked */
void *nne_realloc(void *p, size_t n);
void nne_free(void *p);
void *nne_aligned_alloc(size_t n);    /* 64-byte aligned, free with nne_aligned_free */
void nne_aligned_free(void *p);
char *nne_strdup(const char *s);
char *nne_strndup(const char *s, size_t n);

/* Read a caller's option struct (nne_model_options, nne_session_options, ...)
 * of any size into dst, which holds the library's defaults (dst_size bytes):
 * only fields inside the caller's struct_size are copied. NULL src keeps the
 * defaults. Fails (message names `what`) on struct_size 0 or when the caller
 * sets an option past dst_size (a newer header). abi.c explains the rule. */
nne_status nne_options_read(void *dst, size_t dst_size, const void *src, const char *what);
/* Memory budgets (alloc.c): while a budget is current on a thread, the
 * library's allocations on that thread are charged to it and refused (NULL)
 * when they would take `used` over `limit` (0: no limit); each block gives
 * its bytes back to its budget when freed. A budget must outlive the blocks
 * charged to it. */
typedef struct nne_budget {
    size_t limit;
    size_t used, peak;   /* updated atomically */
    int refused;         /* an allocation was refused for the limit */
    size_t refused_bytes, refused_used; /* the request refused, the bytes in use then */
} nne_budget;
nne_budget *nne_budget_enter(nne_budget *b); /* returns the previous one */
void nne_budget_leave(nne_budget *prev);
nne_budget *nne_budget_current(void); /* NULL when none */
size_t nne_budget_used(const nne_budget *b);

/* Element count of dims with overflow check; -1 when it overflows or a dim < 0. */
int64_t nne_dims_numel(int ndim, const int64_t *dims);

/* THE checked size of a tensor: every size computed from dims (tensors, .npy,
 * initializers, arena buffers, CLI buffers) goes through this. Returns 1 and
 * sets *nbytes (and *numel when not NULL) when every dim is >= 0, ndim is
 * within 0..NNE_MAX_DIMS and both the element count and the byte count
 * (count * elem) fit in int64_t (so byte offsets computed in int64_t or
 * ptrdiff_t cannot overflow either); returns 0 otherwise (*nbytes = SIZE_MAX,
 * *numel = -1). As in numpy, the product of the NON-ZERO dims must fit as
 * well: (0, 2^62, 2^62) is refused, so products of an empty tensor's dims
 * stay representable. elem 0 (a dtype without a size) gives 0 bytes. */
int nne_dims_nbytes(int ndim, const int64_t *dims, size_t elem, size_t *nbytes, int64_t *numel);
/* The same check as an error: NNE_OK, or NNE_ERR_INVALID_ARG with the message
 * "<what>: shape AxBxC of <dtype> overflows (more than 2^63 bytes)" or naming
 * the negative dim. */
nne_status nne_shape_check(const char *what, nne_dtype dt, int ndim, const int64_t *dims, size_t *nbytes);

#define NNE_ALIGN 64

/* Data movers whose loops run over sizes, never compare input values: a
 * fuzzing build (clang, -fsanitize=fuzzer) leaves them without coverage
 * hooks, which otherwise cost a call per element and tell the fuzzer
 * nothing (tests/fuzz/fuzz.mk does the same for whole kernel files). */
#if defined(__clang__)
#define NNE_NO_FUZZ_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define NNE_NO_FUZZ_COVERAGE
#endif
#define NNE_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
