/*
 * infer.c - the Open Inference Protocol's inference request and response:
 * the JSON request ({"id", "parameters", "inputs": [{"name", "shape",
 * "datatype", "parameters", "data"}], "outputs": [...]}, data nested or
 * flat) and the binary tensor extension (a JSON header of
 * Inference-Header-Content-Length bytes followed by each input's raw bytes,
 * in order, sized by its "binary_data_size"). Nothing from the request is
 * trusted: shapes are checked against the model and against the bytes that
 * actually came, element counts against the shape, values against the
 * datatype's range, before anything is allocated for them.
 */
#include "serve/serve.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { nne_dtype dt; const char *name; } dtypes[] = {
    {NNE_DTYPE_BOOL, "BOOL"},     {NNE_DTYPE_UINT8, "UINT8"},   {NNE_DTYPE_UINT16, "UINT16"},
    {NNE_DTYPE_UINT32, "UINT32"}, {NNE_DTYPE_UINT64, "UINT64"}, {NNE_DTYPE_INT8, "INT8"},
    {NNE_DTYPE_INT16, "INT16"},   {NNE_DTYPE_INT32, "INT32"},   {NNE_DTYPE_INT64, "INT64"},
    {NNE_DTYPE_FLOAT16, "FP16"},  {NNE_DTYPE_FLOAT, "FP32"},    {NNE_DTYPE_DOUBLE, "FP64"},
    {NNE_DTYPE_BFLOAT16, "BF16"}, {NNE_DTYPE_STRING, "BYTES"},
};

const char *srv_dtype_name(nne_dtype dt) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dt == dt) return dtypes[i].name;
    return NULL;
}

static int dtype_known(const char *name) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0) return 1;
    return 0;
}

static void io_list(srv_buf *b, const nne_value_info *vi, int n) {
    srv_buf_str(b, "[");
    for (int i = 0; i < n; i++) {
        const char *dn = srv_dtype_name(vi[i].dtype);
        srv_buf_str(b, i ? ",{\"name\":" : "{\"name\":");
        srv_buf_json_str(b, vi[i].name);
        srv_buf_fmt(b, ",\"datatype\":\"%s\",\"shape\":[", dn ? dn : "UNSUPPORTED");
        if (vi[i].ndim < 0) srv_buf_str(b, "-1");
        for (int d = 0; d < vi[i].ndim; d++)
            srv_buf_fmt(b, "%s%lld", d ? "," : "", (long long)(vi[i].dims[d] < 0 ? -1 : vi[i].dims[d]));
        srv_buf_str(b, "]}");
    }
    srv_buf_str(b, "]");
}

void srv_version_io_json(const srv_version *v, srv_buf *b) {
    srv_buf_str(b, "\"inputs\":");
    io_list(b, v->in, v->ninputs);
    srv_buf_str(b, ",\"outputs\":");
    io_list(b, v->out, v->noutputs);
}

void srv_req_free_data(srv_req *r) {
    for (int i = 0; i < SRV_MAX_IO; i++) {
        free(r->in[i].data);
        r->in[i].data = NULL;
        free(r->out[i].data);
        r->out[i].data = NULL;
    }
}

#define FAIL(code, ...) do { snprintf(err, cap, __VA_ARGS__); status = (code); goto done; } while (0)

/* Count the scalars of nested `data` (depth at most maxdepth). -1 on a
 * structure that is not arrays of scalars. */
static int64_t data_count(const json_t *j, int depth, int maxdepth) {
    if (!json_is_array(j)) return 1;
    if (depth >= maxdepth) return -1;
    int64_t n = 0;
    for (size_t i = 0; i < json_array_size(j); i++) {
        const json_t *e = json_array_get(j, i);
        int64_t k = data_count(e, depth + 1, maxdepth);
        if (k < 0) return -1;
        n += k;
    }
    return n;
}

typedef struct conv {
    nne_dtype dt;
    char *out;
    int64_t i;
    const char *bad; /* why a value was refused */
} conv;

static int put_value(conv *c, const json_t *e) {
    size_t es = nne_dtype_size(c->dt);
    char *p = c->out + (size_t)c->i * es;
    c->i++;
    switch (c->dt) {
    case NNE_DTYPE_BOOL:
        if (!json_is_boolean(e)) { c->bad = "BOOL data must be true or false"; return 0; }
        *(uint8_t *)p = json_is_true(e);
        return 1;
    case NNE_DTYPE_FLOAT: case NNE_DTYPE_DOUBLE: case NNE_DTYPE_FLOAT16: case NNE_DTYPE_BFLOAT16: {
        if (!json_is_number(e)) { c->bad = "floating-point data must be numbers"; return 0; }
        double x = json_number_value(e);
        if (c->dt == NNE_DTYPE_FLOAT) { float f = (float)x; memcpy(p, &f, 4); }
        else if (c->dt == NNE_DTYPE_DOUBLE) memcpy(p, &x, 8);
        else { uint16_t h = c->dt == NNE_DTYPE_FLOAT16 ? nne_f32_to_f16((float)x) : nne_f32_to_bf16((float)x); memcpy(p, &h, 2); }
        return 1;
    }
    default: break;
    }
    if (!json_is_integer(e)) { c->bad = "integer data must be integers"; return 0; }
    json_int_t x = json_integer_value(e);
    long long lo, hi;
    switch (c->dt) {
    case NNE_DTYPE_UINT8: lo = 0; hi = 255; break;
    case NNE_DTYPE_INT8: lo = -128; hi = 127; break;
    case NNE_DTYPE_UINT16: lo = 0; hi = 65535; break;
    case NNE_DTYPE_INT16: lo = -32768; hi = 32767; break;
    case NNE_DTYPE_UINT32: lo = 0; hi = 4294967295LL; break;
    case NNE_DTYPE_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    case NNE_DTYPE_UINT64: lo = 0; hi = INT64_MAX; break;
    case NNE_DTYPE_INT64: lo = INT64_MIN; hi = INT64_MAX; break;
    default: c->bad = "this datatype cannot be sent as JSON"; return 0;
    }
    if (x < lo || x > hi) { c->bad = "a value is out of the datatype's range"; return 0; }
    switch (c->dt) {
    case NNE_DTYPE_UINT8: case NNE_DTYPE_INT8: *(int8_t *)p = (int8_t)(uint8_t)x; break;
    case NNE_DTYPE_UINT16: case NNE_DTYPE_INT16: { uint16_t u = (uint16_t)x; memcpy(p, &u, 2); break; }
    case NNE_DTYPE_UINT32: case NNE_DTYPE_INT32: { uint32_t u = (uint32_t)x; memcpy(p, &u, 4); break; }
    default: { int64_t u = x; memcpy(p, &u, 8); break; }
    }
    return 1;
}

static int convert(conv *c, const json_t *j) {
    if (!json_is_array(j)) return put_value(c, j);
    for (size_t i = 0; i < json_array_size(j); i++)
        if (!convert(c, json_array_get(j, i))) return 0;
    return 1;
}

/* Parameter values are strings, numbers or booleans (the protocol's $parameter). */
static int param_ok(const json_t *p) { return json_is_string(p) || json_is_number(p) || json_is_boolean(p); }

int srv_input_check(const srv_version *v, const char *name, const char *dtname, int ndim, const int64_t *dims,
                    const int *seen, int *idx_out, nne_tensor *in, size_t *nbytes, char *err, size_t cap) {
    int idx = -1;
    for (int i = 0; i < v->ninputs; i++)
        if (strcmp(v->in[i].name, name) == 0) idx = i;
    if (idx < 0) { snprintf(err, cap, "model '%s' has no input '%.128s'", v->model_name, name); return 400; }
    if (seen[idx]) { snprintf(err, cap, "input '%.128s' is given twice", name); return 400; }
    const nne_value_info *vi = &v->in[idx];
    const char *want = srv_dtype_name(vi->dtype);
    if (!dtype_known(dtname)) { snprintf(err, cap, "input '%s': unknown datatype '%.32s'", vi->name, dtname); return 400; }
    if (!want || strcmp(want, dtname) != 0) {
        snprintf(err, cap, "input '%s': datatype %.32s does not match the model's %s", vi->name, dtname,
                 want ? want : "unsupported type");
        return 400;
    }
    if (vi->dtype == NNE_DTYPE_STRING) { snprintf(err, cap, "input '%s': BYTES tensors are not supported by nnedge", vi->name); return 400; }
    if (ndim < 0 || ndim > NNE_MAX_DIMS) { snprintf(err, cap, "input '%s': %d dims; at most %d", vi->name, ndim, NNE_MAX_DIMS); return 400; }
    if (vi->ndim >= 0 && ndim != vi->ndim) {
        snprintf(err, cap, "input '%s': shape has %d dims; the model's has %d", vi->name, ndim, vi->ndim);
        return 400;
    }
    nne_tensor *t = &in[idx];
    t->dtype = vi->dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] < 0) { snprintf(err, cap, "input '%s': shape[%d] must be a non-negative integer", vi->name, d); return 400; }
        t->dims[d] = dims[d];
        if (vi->ndim >= 0 && vi->dims[d] >= 0 && vi->dims[d] != dims[d]) {
            snprintf(err, cap, "input '%s': shape[%d] is %lld; the model's is %lld", vi->name, d, (long long)dims[d],
                     (long long)vi->dims[d]);
            return 400;
        }
    }
    if (nne_tensor_nbytes_checked(t, nbytes) != NNE_OK) {
        snprintf(err, cap, "input '%s': the shape's size does not fit in memory", vi->name);
        return 400;
    }
    *idx_out = idx;
    return 0;
}

void srv_req_batch(const srv_version *v, srv_req *r) {
    /* Rows along dim 0, when requests of this model may be joined. */
    r->batch = -1;
    if (v->max_batch > 1 && v->ninputs > 0) {
        r->batch = r->in[0].ndim > 0 ? r->in[0].dims[0] : -1;
        for (int i = 1; i < v->ninputs; i++)
            if (r->in[i].ndim < 1 || r->in[i].dims[0] != r->batch) r->batch = -1;
        if (r->batch == 0) r->batch = -1;
    }
}

int srv_infer_parse(srv_version *v, const char *body, size_t len, long long hdr_len, size_t max_json, srv_req *r,
                    srv_infer *q, char *err, size_t cap) {
    int status = 0;
    json_t *root = NULL;
    memset(q, 0, sizeof *q);
    size_t jlen = len;
    if (hdr_len >= 0) {
        if ((unsigned long long)hdr_len > len)
            FAIL(400, "Inference-Header-Content-Length %lld is larger than the body (%zu bytes)", hdr_len, len);
        jlen = (size_t)hdr_len;
    }
    if (jlen > max_json) FAIL(413, "the JSON part of the request is %zu bytes; the limit is %zu (--max-json)", jlen, max_json);
    if (jlen == 0) FAIL(400, "empty request: expected a JSON object with \"inputs\"");
    json_error_t je;
    root = json_loadb(body, jlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) FAIL(400, "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
    if (!json_is_object(root)) FAIL(400, "the request must be a JSON object");
    json_t *id = json_object_get(root, "id");
    if (id) {
        if (!json_is_string(id)) FAIL(400, "\"id\" must be a string");
        if (json_string_length(id) >= sizeof q->id) FAIL(400, "\"id\" is longer than %zu bytes", sizeof q->id - 1);
        if (strlen(json_string_value(id)) != json_string_length(id)) FAIL(400, "\"id\" contains a NUL character");
        snprintf(q->id, sizeof q->id, "%s", json_string_value(id));
        q->has_id = 1;
    }
    json_t *params = json_object_get(root, "parameters");
    if (params) {
        if (!json_is_object(params)) FAIL(400, "\"parameters\" must be an object");
        const char *k;
        json_t *pv;
        json_object_foreach(params, k, pv) {
            if (!param_ok(pv)) FAIL(400, "parameter '%.64s' must be a string, number or boolean", k);
            if (strcmp(k, "binary_data_output") == 0) {
                if (!json_is_boolean(pv)) FAIL(400, "parameter binary_data_output must be a boolean");
                q->binary_out_all = json_is_true(pv);
            } else if (strcmp(k, "timeout") == 0) {
                if (!json_is_integer(pv) || json_integer_value(pv) < 0)
                    FAIL(400, "parameter timeout must be a non-negative integer (microseconds)");
                q->timeout_us = json_integer_value(pv);
            } else if (strcmp(k, "classification") == 0 || strcmp(k, "sequence_id") == 0) {
                FAIL(400, "parameter '%s' needs an extension this server does not have", k);
            }
            /* other parameters are hints a server may ignore (the protocol leaves them open) */
        }
    }
    json_t *inputs = json_object_get(root, "inputs");
    if (!inputs || !json_is_array(inputs)) FAIL(400, "\"inputs\" must be an array");
    if (json_array_size(inputs) != (size_t)v->ninputs)
        FAIL(400, "the request has %zu inputs; model '%s' takes %d", json_array_size(inputs), v->model_name, v->ninputs);
    size_t boff = jlen; /* binary data of the next binary input */
    int seen[SRV_MAX_IO] = {0};
    for (size_t k = 0; k < json_array_size(inputs); k++) {
        json_t *in = json_array_get(inputs, k);
        if (!json_is_object(in)) FAIL(400, "inputs[%zu] must be an object", k);
        json_t *jn = json_object_get(in, "name"), *js = json_object_get(in, "shape"),
               *jd = json_object_get(in, "datatype"), *jp = json_object_get(in, "parameters"),
               *data = json_object_get(in, "data");
        if (!jn || !json_is_string(jn)) FAIL(400, "inputs[%zu]: \"name\" must be a string", k);
        const char *name = json_string_value(jn);
        if (strlen(name) != json_string_length(jn)) FAIL(400, "inputs[%zu]: the name contains a NUL character", k);
        if (!jd || !json_is_string(jd)) FAIL(400, "input '%.128s': \"datatype\" must be a string", name);
        if (!js || !json_is_array(js)) FAIL(400, "input '%.128s': \"shape\" must be an array of integers", name);
        size_t nd = json_array_size(js);
        if (nd > NNE_MAX_DIMS) FAIL(400, "input '%.128s': %zu dims; at most %d", name, nd, NNE_MAX_DIMS);
        int64_t dims[NNE_MAX_DIMS];
        for (size_t d = 0; d < nd; d++) {
            json_t *x = json_array_get(js, d);
            if (!json_is_integer(x) || json_integer_value(x) < 0)
                FAIL(400, "input '%.128s': shape[%zu] must be a non-negative integer", name, d);
            dims[d] = json_integer_value(x);
        }
        int idx;
        size_t nbytes;
        status = srv_input_check(v, name, json_string_value(jd), (int)nd, dims, seen, &idx, r->in, &nbytes, err, cap);
        if (status) goto done;
        seen[idx] = 1;
        const nne_value_info *vi = &v->in[idx];
        nne_tensor *t = &r->in[idx];
        int64_t numel = nne_tensor_numel(t);
        long long bsize = -1;
        if (jp) {
            if (!json_is_object(jp)) FAIL(400, "input '%s': \"parameters\" must be an object", vi->name);
            const char *pk;
            json_t *pv;
            json_object_foreach(jp, pk, pv) {
                if (!param_ok(pv)) FAIL(400, "input '%s': parameter '%.64s' must be a string, number or boolean", vi->name, pk);
                if (strcmp(pk, "binary_data_size") == 0) {
                    if (!json_is_integer(pv) || json_integer_value(pv) < 0)
                        FAIL(400, "input '%s': binary_data_size must be a non-negative integer", vi->name);
                    bsize = json_integer_value(pv);
                }
            }
        }
        if (bsize >= 0) {
            if (data) FAIL(400, "input '%s': both \"data\" and binary_data_size given", vi->name);
            if (hdr_len < 0) FAIL(400, "input '%s': binary_data_size without an Inference-Header-Content-Length header", vi->name);
            if ((unsigned long long)bsize != nbytes)
                FAIL(400, "input '%s': binary_data_size %lld does not match shape and datatype (%zu bytes)", vi->name, bsize, nbytes);
            if (nbytes > len - boff)
                FAIL(400, "input '%s': binary data ends after the body (%zu bytes left, %zu needed)", vi->name, len - boff, nbytes);
            t->data = malloc(nbytes ? nbytes : 1);
            if (!t->data) FAIL(500, "out of memory for input '%s'", vi->name);
            memcpy(t->data, body + boff, nbytes);
            boff += nbytes;
        } else {
            if (!data) FAIL(400, "input '%s': no \"data\" (and no binary_data_size)", vi->name);
            int64_t cnt = data_count(data, 0, (int)nd > 0 ? (int)nd : 1);
            if (cnt < 0) FAIL(400, "input '%s': \"data\" nests deeper than the shape's %zu dims", vi->name, nd);
            if (!json_is_array(data) && nd > 0) FAIL(400, "input '%s': \"data\" must be an array", vi->name);
            if (cnt != numel)
                FAIL(400, "input '%s': \"data\" has %lld elements; shape says %lld", vi->name, (long long)cnt, (long long)numel);
            t->data = malloc(nbytes ? nbytes : 1);
            if (!t->data) FAIL(500, "out of memory for input '%s'", vi->name);
            conv c = {t->dtype, t->data, 0, NULL};
            if (!convert(&c, data)) FAIL(400, "input '%s': element %lld: %s", vi->name, (long long)(c.i - 1), c.bad);
        }
    }
    if (boff != len) FAIL(400, "%zu bytes of binary data after the last binary input", len - boff);
    json_t *outs = json_object_get(root, "outputs");
    if (outs) {
        if (!json_is_array(outs)) FAIL(400, "\"outputs\" must be an array");
        if (json_array_size(outs) > (size_t)v->noutputs)
            FAIL(400, "%zu outputs requested; model '%s' has %d", json_array_size(outs), v->model_name, v->noutputs);
        for (size_t k = 0; k < json_array_size(outs); k++) {
            json_t *o = json_array_get(outs, k), *on = json_is_object(o) ? json_object_get(o, "name") : NULL;
            if (!on || !json_is_string(on)) FAIL(400, "outputs[%zu]: \"name\" must be a string", k);
            const char *nm = json_string_value(on);
            int found = 0;
            for (int i = 0; i < v->noutputs; i++) found |= strcmp(v->out[i].name, nm) == 0 && strlen(nm) == json_string_length(on);
            if (!found) FAIL(400, "outputs[%zu]: model '%s' has no output '%.128s'", k, v->model_name, nm);
            for (int i = 0; i < q->nreq_out; i++)
                if (strcmp(q->req_out[i], nm) == 0) FAIL(400, "output '%.128s' is requested twice", nm);
            snprintf(q->req_out[q->nreq_out], sizeof q->req_out[0], "%s", nm);
            json_t *op = json_object_get(o, "parameters");
            if (op) {
                if (!json_is_object(op)) FAIL(400, "output '%s': \"parameters\" must be an object", nm);
                json_t *bd = json_object_get(op, "binary_data");
                if (bd && !json_is_boolean(bd)) FAIL(400, "output '%s': binary_data must be a boolean", nm);
                q->req_out_binary[q->nreq_out] = bd && json_is_true(bd);
                if (json_object_get(op, "classification"))
                    FAIL(400, "output '%s': the classification extension is not supported", nm);
            }
            q->nreq_out++;
        }
    }
    srv_req_batch(v, r);
done:
    json_decref(root);
    return status;
}

static void write_data(srv_buf *b, const nne_tensor *t) {
    int64_t n = nne_tensor_numel(t);
    const char *p = t->data;
    char tmp[48];
    srv_buf_str(b, "[");
    for (int64_t i = 0; i < n && !b->oom; i++) {
        int k = 0;
        double x = 0;
        int isf = 0;
        switch (t->dtype) {
        case NNE_DTYPE_BOOL: k = snprintf(tmp, sizeof tmp, "%s", ((const uint8_t *)p)[i] ? "true" : "false"); break;
        case NNE_DTYPE_UINT8: k = snprintf(tmp, sizeof tmp, "%u", ((const uint8_t *)p)[i]); break;
        case NNE_DTYPE_INT8: k = snprintf(tmp, sizeof tmp, "%d", ((const int8_t *)p)[i]); break;
        case NNE_DTYPE_UINT16: k = snprintf(tmp, sizeof tmp, "%u", ((const uint16_t *)p)[i]); break;
        case NNE_DTYPE_INT16: k = snprintf(tmp, sizeof tmp, "%d", ((const int16_t *)p)[i]); break;
        case NNE_DTYPE_UINT32: k = snprintf(tmp, sizeof tmp, "%u", ((const uint32_t *)p)[i]); break;
        case NNE_DTYPE_INT32: k = snprintf(tmp, sizeof tmp, "%d", ((const int32_t *)p)[i]); break;
        case NNE_DTYPE_UINT64: k = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)((const uint64_t *)p)[i]); break;
        case NNE_DTYPE_INT64: k = snprintf(tmp, sizeof tmp, "%lld", (long long)((const int64_t *)p)[i]); break;
        case NNE_DTYPE_FLOAT: x = ((const float *)p)[i]; isf = 1; break;
        case NNE_DTYPE_DOUBLE: x = ((const double *)p)[i]; isf = 2; break;
        case NNE_DTYPE_FLOAT16: x = nne_f16_to_f32(((const uint16_t *)p)[i]); isf = 1; break;
        case NNE_DTYPE_BFLOAT16: x = nne_bf16_to_f32(((const uint16_t *)p)[i]); isf = 1; break;
        default: k = snprintf(tmp, sizeof tmp, "null"); break;
        }
        /* JSON has no NaN or infinity: null (the binary extension carries them). */
        if (isf) k = isfinite(x) ? snprintf(tmp, sizeof tmp, isf == 2 ? "%.17g" : "%.9g", x) : snprintf(tmp, sizeof tmp, "null");
        if (i) srv_buf_add(b, ",", 1);
        srv_buf_add(b, tmp, (size_t)k);
    }
    srv_buf_str(b, "]");
}

int srv_infer_response(const srv_req *r, const srv_infer *q, srv_buf *b, long *json_len, char *err, size_t cap) {
    const srv_version *v = r->v;
    int order[SRV_MAX_IO], bin[SRV_MAX_IO], n = 0, anybin = 0;
    if (q->nreq_out) {
        for (int k = 0; k < q->nreq_out; k++)
            for (int i = 0; i < v->noutputs; i++)
                if (strcmp(v->out[i].name, q->req_out[k]) == 0) {
                    order[n] = i;
                    bin[n++] = q->binary_out_all || q->req_out_binary[k];
                }
    } else {
        for (int i = 0; i < v->noutputs; i++) {
            order[n] = i;
            bin[n++] = q->binary_out_all;
        }
    }
    srv_buf_str(b, "{\"model_name\":");
    srv_buf_json_str(b, v->model_name);
    srv_buf_fmt(b, ",\"model_version\":\"%lld\"", (long long)v->version);
    if (q->has_id) {
        srv_buf_str(b, ",\"id\":");
        srv_buf_json_str(b, q->id);
    }
    srv_buf_str(b, ",\"outputs\":[");
    for (int k = 0; k < n; k++) {
        const nne_tensor *t = &r->out[order[k]];
        const char *dn = srv_dtype_name(t->dtype);
        if (!dn || t->dtype == NNE_DTYPE_STRING) {
            snprintf(err, cap, "output '%s' has a datatype the protocol cannot carry", v->out[order[k]].name);
            return 500;
        }
        srv_buf_str(b, k ? ",{\"name\":" : "{\"name\":");
        srv_buf_json_str(b, v->out[order[k]].name);
        srv_buf_fmt(b, ",\"datatype\":\"%s\",\"shape\":[", dn);
        for (int d = 0; d < t->ndim; d++) srv_buf_fmt(b, "%s%lld", d ? "," : "", (long long)t->dims[d]);
        srv_buf_str(b, "]");
        if (bin[k]) {
            srv_buf_fmt(b, ",\"parameters\":{\"binary_data_size\":%zu}}", nne_tensor_nbytes(t));
            anybin = 1;
        } else {
            srv_buf_str(b, ",\"data\":");
            write_data(b, t);
            srv_buf_str(b, "}");
        }
    }
    srv_buf_str(b, "]}");
    *json_len = -1;
    if (anybin) {
        *json_len = (long)b->n;
        for (int k = 0; k < n; k++)
            if (bin[k]) srv_buf_add(b, r->out[order[k]].data, nne_tensor_nbytes(&r->out[order[k]]));
    }
    if (b->oom) {
        snprintf(err, cap, "out of memory writing the response");
        return 500;
    }
    return 0;
}
