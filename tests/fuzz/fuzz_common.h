/*
 * fuzz_common.h - checks shared by the libFuzzer harnesses: every failing
 * call must return a documented status (never NNE_ERR_INTERNAL, never an
 * internal code such as NNE_DYNAMIC) and leave a non-empty, single-line
 * message, because the CLI prints that message as its one line on stderr.
 */
#ifndef NNE_FUZZ_COMMON_H
#define NNE_FUZZ_COMMON_H

#include "core/core.h"

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

/* Read every byte of a buffer so ASan checks its extent. */
static inline unsigned fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += b[i];
    return sum;
}

#endif
