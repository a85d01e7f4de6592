/*
 * size.h - saturating size arithmetic, shared by the core and the ops (which
 * see only op.h). Self-contained: stddef.h and stdint.h only.
 */
#ifndef NNE_SIZE_H
#define NNE_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Saturating size arithmetic for sizes derived from dims (scratch requests,
 * buffers): on overflow the result is SIZE_MAX, a size no allocation can
 * satisfy, so a size computed from hostile dims fails at the allocation with
 * a clean NNE_ERR_OUT_OF_MEMORY instead of wrapping to a small buffer that is
 * then overrun. A negative count also gives SIZE_MAX. */
static inline size_t nne_size_mul(size_t a, size_t b) {
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}
static inline size_t nne_size_add(size_t a, size_t b) {
    size_t r;
    return __builtin_add_overflow(a, b, &r) ? SIZE_MAX : r;
}
static inline size_t nne_size_elems(int64_t count, size_t elem) {
    return count < 0 ? SIZE_MAX : nne_size_mul((size_t)count, elem);
}
/* Round up to a multiple of 64 (saturating). */
static inline size_t nne_size_align64(size_t n) {
    return n > SIZE_MAX - 63 ? SIZE_MAX : (n + 63) & ~(size_t)63;
}

#endif
