/*
 * fuzz_serve.c - libFuzzer harness for the inference request parser of
 * `nnedge serve` (srv_infer_parse: JSON with nested or flat data, the binary
 * tensor extension) and the response writer. The first byte picks the
 * Inference-Header-Content-Length (none, or the next byte's value); the rest
 * is the body. The parsed request must describe exactly the bytes it holds.
 */
#include "serve/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static srv_version ver;

static void setup(void) {
    snprintf(ver.model_name, sizeof ver.model_name, "fz");
    ver.version = 1;
    ver.ninputs = 3;
    ver.in[0] = (nne_value_info){.name = "x", .dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {-1, 3}};
    ver.in[1] = (nne_value_info){.name = "m", .dtype = NNE_DTYPE_INT8, .ndim = -1};
    ver.in[2] = (nne_value_info){.name = "b", .dtype = NNE_DTYPE_BOOL, .ndim = 1, .dims = {-1}};
    ver.noutputs = 2;
    ver.out[0] = (nne_value_info){.name = "y", .dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {-1, 3}};
    ver.out[1] = (nne_value_info){.name = "z", .dtype = NNE_DTYPE_FLOAT16, .ndim = 1, .dims = {-1}};
    ver.max_batch = 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!ver.ninputs) setup();
    if (size < 2) return 0;
    long long hdr = data[0] & 1 ? (long long)data[1] * (data[0] >> 1 & 3 ? 1 : 16) : -1;
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    srv_req *r = calloc(1, sizeof *r);
    srv_infer *q = calloc(1, sizeof *q);
    char err[512];
    if (!r || !q) abort();
    r->v = &ver;
    int st = srv_infer_parse(&ver, body, len, hdr, 1 << 20, r, q, err, sizeof err);
    if (st == 0) {
        /* every input holds exactly its shape's bytes: touch them all */
        volatile unsigned char sink = 0;
        for (int i = 0; i < ver.ninputs; i++) {
            size_t n = nne_tensor_nbytes(&r->in[i]);
            if (n == SIZE_MAX || !r->in[i].data) abort();
            for (size_t k = 0; k < n; k++) sink ^= ((unsigned char *)r->in[i].data)[k];
        }
        (void)sink;
        /* the outputs echo inputs: the response writer sees any shape the parser let through */
        r->out[0] = r->in[0];
        r->out[1] = (nne_tensor){.dtype = NNE_DTYPE_FLOAT16, .ndim = 1, .dims = {0}};
        r->nout = 2;
        srv_buf b = {0};
        long jl;
        srv_infer_response(r, q, &b, &jl, err, sizeof err);
        if (!b.oom && jl > (long)b.n) abort();
        srv_buf_free(&b);
        r->out[0].data = NULL;
    } else if (st < 400 || st > 599 || !err[0]) {
        abort();
    }
    srv_req_free_data(r);
    free(r);
    free(q);
    return 0;
}
