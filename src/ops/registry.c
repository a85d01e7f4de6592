/*
 * registry.c - finds an op by (domain, op_type) in the generated op table
 * (build/gen/op_table.c, made from every NNE_OP_REGISTER line in src/ops/).
 */
#include "ops/op.h"

#include <string.h>

extern const nne_op_def *const nne_op_table[];

static int is_onnx_domain(const char *d) { return !d || !d[0] || strcmp(d, "ai.onnx") == 0; }

const nne_op_def *nne_op_find(const char *domain, const char *op_type) {
    for (const nne_op_def *const *p = nne_op_table; *p; p++) {
        const nne_op_def *o = *p;
        int dom_ok = is_onnx_domain(domain) ? is_onnx_domain(o->domain) : strcmp(domain, o->domain) == 0;
        if (dom_ok && strcmp(o->op_type, op_type) == 0) return o;
    }
    return NULL;
}
