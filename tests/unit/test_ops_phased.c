/*
 * test_ops_phased.c - every op of the table is defined in phases (infer and
 * run set, no eval) except the one-function ops src/ops/op.h lists and
 * explains; a phased op with state has a size, and no op sets both forms.
 */
#include "ops/op.h"
#include "unit.h"

#include <string.h>

extern const nne_op_def *const nne_op_table[];

/* op.h: sequence-making ops and the subgraph ops. */
static const char *const k_one_function[] = {
    "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceErase", "SplitToSequence",
    "Optional", "OptionalGetElement", "If", "Loop", "Scan"};

void unit_ops_phased(void) {
    int n = 0, phased = 0, bad = 0;
    for (const nne_op_def *const *p = nne_op_table; *p; p++, n++) {
        const nne_op_def *d = *p;
        if (!d->eval) {
            phased++;
            if (!d->infer || !d->run) {
                fprintf(stderr, "op %s: phased without infer/run\n", d->op_type);
                bad++;
            }
            continue;
        }
        int listed = 0;
        for (size_t i = 0; i < sizeof k_one_function / sizeof *k_one_function; i++)
            listed |= !strcmp(d->op_type, k_one_function[i]);
        if (!listed || d->infer || d->run) {
            fprintf(stderr, "op %s: one-function op not listed in op.h (or with phases too)\n", d->op_type);
            bad++;
        }
    }
    CHECK(bad == 0);
    CHECK(n > 200);
    CHECK(phased >= n - (int)(sizeof k_one_function / sizeof *k_one_function));
}
