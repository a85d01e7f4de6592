/*
 * fuzz_common.h - checks shared by the libFuzzer harnesses: every failing
 * call must return a documented status (never NNE_ERR_INTERNAL, never an
 * internal code such as NNE_DYNAMIC) and leave a non-empty, single-line
 * message, because the CLI prints that message as its one line on stderr.
 */
#ifndef NNE_FUZZ_COMMON_H
#define NNE_FUZZ_COMMON_H

#include "core/core.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#endif
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Forget the previous message so a failure that sets none is caught. */
static inline void fuzz_clear_error(void) { nne_error(NNE_OK, "%s", ""); }

static inline void fuzz_check_status(nne_status st, const char *call) {
    if (st == NNE_OK) return;
    const char *msg = nne_last_error();
    if (st < NNE_ERR_INVALID_ARG || st > NNE_ERR_IO) {
        fprintf(stderr, "fuzz: %s returned status %d (%s): %s\n", call, (int)st, nne_status_str(st), msg);
        abort();
    }
    if (!msg[0]) {
        fprintf(stderr, "fuzz: %s failed with %s but left no message\n", call, nne_status_str(st));
        abort();
    }
    for (const char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') {
            fprintf(stderr, "fuzz: %s: message is not a single line: \"%s\"\n", call, msg);
            abort();
        }
}

/* Check that every byte of a buffer is addressable (ASan). One shadow-memory
 * query instead of a loop over the bytes: built with comparison tracing, that
 * loop called a tracing hook per byte and was the largest single cost of
 * fuzz_model/fuzz_tflite. On a bad byte we read it, so ASan reports it with
 * its usual stack and allocation history. */
static inline unsigned fuzz_touch(const void *p, size_t n) {
    if (!n) return 0;
    const volatile unsigned char *b = p;
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
    const volatile unsigned char *bad = __asan_region_is_poisoned((void *)(uintptr_t)p, n);
    if (bad) return *bad;
#endif
#endif
    return (unsigned)b[0] + b[n - 1];
}

#endif
