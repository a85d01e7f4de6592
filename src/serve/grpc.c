/*
 * grpc.c - the gRPC front end of `nnedge serve` (--grpc ADDR:PORT): the
 * Open Inference Protocol's GRPCInferenceService over HTTP/2 cleartext, on
 * nghttp2 (framing, HPACK, flow control) and protobuf-c (messages generated
 * from grpc_predict_v2.proto). One thread per connection owns the HTTP/2
 * session (nghttp2 is not thread-safe); each call whose request has arrived
 * runs on a thread of its own and hands its answer back through an eventfd,
 * so one connection carries many calls at once (and they batch), and a
 * stream the client resets cancels its queued request. With --tls-cert the
 * connection is TLS 1.3 (GnuTLS, ALPN "h2"), with --tls-client-ca mutual. Inference goes through the
 * same repository, scheduler (batching, queue bound), input checks and
 * metrics as REST, so both give the same outputs for the same request.
 * Outputs are answered as raw_output_contents.
 */
#include "serve/serve.h"

#include "grpc_predict_v2.pb-c.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <gnutls/gnutls.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* gRPC status codes (google.rpc.Code). */
enum { G_OK = 0, G_CANCELLED = 1, G_INVALID_ARGUMENT = 3, G_DEADLINE_EXCEEDED = 4, G_NOT_FOUND = 5,
       G_PERMISSION_DENIED = 7, G_RESOURCE_EXHAUSTED = 8, G_FAILED_PRECONDITION = 9, G_UNIMPLEMENTED = 12,
       G_INTERNAL = 13, G_UNAVAILABLE = 14, G_UNAUTHENTICATED = 16 };

static int grpc_code(int http) {
    switch (http) {
    case 400: return G_INVALID_ARGUMENT;
    case 401: return G_UNAUTHENTICATED;
    case 403: return G_PERMISSION_DENIED;
    case 404: return G_NOT_FOUND;
    case 413: return G_RESOURCE_EXHAUSTED;
    case 499: return G_CANCELLED;
    case 503: return G_UNAVAILABLE;
    case 504: return G_DEADLINE_EXCEEDED;
    default: return G_INTERNAL;
    }
}

/* One call (HTTP/2 stream). Freed by the connection thread once its
 * stream is closed and no call thread holds it. */
typedef struct gstream {
    int32_t id;
    char path[128];
    char auth[256];
    int bad_header;     /* a header longer than we keep */
    srv_buf body;
    size_t too_big;
    /* answer, written by the call thread */
    int answered, code;
    char msg[600];
    srv_buf out;        /* framed response message */
    size_t out_off;
    /* life, under the connection's mutex */
    int running;        /* a call thread holds it */
    int closed;         /* its stream is gone */
    atomic_int cancelled;
    struct gstream *next_all, *next_done;
    struct gconn *conn;
} gstream;

typedef struct gconn {
    int fd;
    gnutls_session_t tls; /* NULL: cleartext */
    int efd;            /* eventfd: answers are ready */
    srv_core *core;
    nghttp2_session *ss;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* a call thread finished */
    gstream *all, *done;
    int running;
} gconn;

static struct {
    srv_core *core;
    int lfd;
    int stop_pipe[2];
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nconn;
    int fds[1024];
    int stopping;
    gnutls_certificate_credentials_t cred; /* NULL: cleartext */
    gnutls_priority_t prio;
    int mtls;
} G = {.lfd = -1};

/* ----------------------------------------------------------- replies -- */

/* grpc-message is percent-encoded (gRPC over HTTP/2: bytes outside
 * 0x20..0x7e and '%'). */
static void pct_encode(const char *in, char *out, size_t cap) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '%') o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
        else out[o++] = (char)*p;
    }
    out[o] = 0;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

static ssize_t read_out(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *user);

static void reply_error(gconn *c, gstream *st, int code, const char *msg) {
    st->answered = 1;
    st->code = code;
    snprintf(st->msg, sizeof st->msg, "%s", msg);
}

/* On the connection thread: send the answer a call thread wrote. */
static void submit_answer(gconn *c, gstream *st) {
    if (st->code == G_OK) {
        nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_out};
        nghttp2_submit_response(c->ss, st->id, h, 2, &dp);
        return;
    }
    char cs[16], enc[1024];
    snprintf(cs, sizeof cs, "%d", st->code);
    pct_encode(st->msg, enc, sizeof enc);
    nghttp2_nv h[] = {NV(":status", "200"), NV("content-type", "application/grpc"), NV("grpc-status", cs),
                      NV("grpc-message", enc)};
    nghttp2_submit_response(c->ss, st->id, h, 4, NULL); /* trailers-only response */
}

static ssize_t read_out(nghttp2_session *ss, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *user) {
    gstream *st = src->ptr;
    size_t n = st->out.n - st->out_off;
    if (n > len) n = len;
    memcpy(buf, st->out.p + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.n) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv t[] = {NV("grpc-status", "0")};
        if (nghttp2_submit_trailer(ss, id, t, 1) != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* Frame one message (uncompressed) and answer it with status OK. */
static void reply_msg(gconn *c, gstream *st, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t hdr[5] = {0, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    srv_buf_add(&st->out, hdr, 5);
    uint8_t *tmp = malloc(n ? n : 1);
    if (!tmp || st->out.oom || n > UINT32_MAX) {
        free(tmp);
        reply_error(c, st, G_INTERNAL, "out of memory writing the response");
        return;
    }
    protobuf_c_message_pack(m, tmp);
    srv_buf_add(&st->out, tmp, n);
    free(tmp);
    if (st->out.oom) {
        reply_error(c, st, G_INTERNAL, "out of memory writing the response");
        return;
    }
    st->answered = 1;
    st->code = G_OK;
}

/* ----------------------------------------------------------- methods -- */

static int parse_ver(const char *s, int64_t *v) {
    if (!s || !s[0]) { *v = -1; return 1; }
    size_t n = strlen(s);
    if (n > 15 || strspn(s, "0123456789") != n) return 0;
    *v = strtoll(s, NULL, 10);
    return *v >= 1;
}

static void model_metadata(gconn *c, gstream *st, const uint8_t *msg, size_t len) {
    Inference__ModelMetadataRequest *q = inference__model_metadata_request__unpack(NULL, len, msg);
    if (!q) { reply_error(c, st, G_INVALID_ARGUMENT, "malformed ModelMetadataRequest"); return; }
    int64_t ver;
    int status = 0;
    char err[512];
    srv_version *v = NULL;
    if (!parse_ver(q->version, &ver)) { status = 400; snprintf(err, sizeof err, "a version is a positive integer"); }
    else v = srv_repo_get(&c->core->repo, q->name, ver, &status, err, sizeof err);
    if (!v) {
        reply_error(c, st, grpc_code(status), err);
        inference__model_metadata_request__free_unpacked(q, NULL);
        return;
    }
    Inference__ModelMetadataResponse r = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
    Inference__ModelMetadataResponse__TensorMetadata tm[2 * SRV_MAX_IO], *tp[2 * SRV_MAX_IO];
    int64_t shapes[2 * SRV_MAX_IO][NNE_MAX_DIMS];
    char vs[SRV_MAX_VERSIONS][24];
    char *vp[SRV_MAX_VERSIONS];
    int64_t vers[SRV_MAX_VERSIONS];
    int nv = srv_repo_versions(&c->core->repo, q->name, vers, SRV_MAX_VERSIONS);
    for (int i = 0; i < nv; i++) {
        snprintf(vs[i], sizeof vs[i], "%lld", (long long)vers[i]);
        vp[i] = vs[i];
    }
    r.name = v->model_name;
    r.n_versions = (size_t)nv;
    r.versions = vp;
    r.platform = "onnx";
    for (int k = 0; k < v->ninputs + v->noutputs; k++) {
        const nne_value_info *vi = k < v->ninputs ? &v->in[k] : &v->out[k - v->ninputs];
        Inference__ModelMetadataResponse__TensorMetadata t = INFERENCE__MODEL_METADATA_RESPONSE__TENSOR_METADATA__INIT;
        t.name = (char *)vi->name;
        t.datatype = (char *)(srv_dtype_name(vi->dtype) ? srv_dtype_name(vi->dtype) : "UNSUPPORTED");
        int nd = vi->ndim < 0 ? 1 : vi->ndim;
        for (int d = 0; d < nd; d++) shapes[k][d] = vi->ndim < 0 || vi->dims[d] < 0 ? -1 : vi->dims[d];
        t.n_shape = (size_t)nd;
        t.shape = shapes[k];
        tm[k] = t;
        tp[k] = &tm[k];
    }
    r.n_inputs = (size_t)v->ninputs;
    r.inputs = tp;
    r.n_outputs = (size_t)v->noutputs;
    r.outputs = tp + v->ninputs;
    reply_msg(c, st, &r.base);
    srv_version_release(v);
    inference__model_metadata_request__free_unpacked(q, NULL);
}

/* Typed contents of one input into t->data (nbytes), checked against the
 * shape's element count and the datatype's range. 0 or 400. */
static int typed_contents(const Inference__InferTensorContents *ct, nne_tensor *t, size_t nbytes, const char *name,
                          char *err, size_t cap) {
    size_t numel = (size_t)nne_tensor_numel(t), have = 0;
    long long lo = 0, hi = 0;
    switch (t->dtype) {
    case NNE_DTYPE_BOOL: have = ct->n_bool_contents; break;
    case NNE_DTYPE_INT8: have = ct->n_int_contents; lo = -128; hi = 127; break;
    case NNE_DTYPE_INT16: have = ct->n_int_contents; lo = -32768; hi = 32767; break;
    case NNE_DTYPE_INT32: have = ct->n_int_contents; lo = INT32_MIN; hi = INT32_MAX; break;
    case NNE_DTYPE_INT64: have = ct->n_int64_contents; break;
    case NNE_DTYPE_UINT8: have = ct->n_uint_contents; hi = 255; break;
    case NNE_DTYPE_UINT16: have = ct->n_uint_contents; hi = 65535; break;
    case NNE_DTYPE_UINT32: have = ct->n_uint_contents; hi = UINT32_MAX; break;
    case NNE_DTYPE_UINT64: have = ct->n_uint64_contents; break;
    case NNE_DTYPE_FLOAT: have = ct->n_fp32_contents; break;
    case NNE_DTYPE_DOUBLE: have = ct->n_fp64_contents; break;
    default:
        snprintf(err, cap, "input '%s': %s has no typed contents field: send raw_input_contents", name,
                 srv_dtype_name(t->dtype));
        return 400;
    }
    if (have != numel) {
        snprintf(err, cap, "input '%s': contents has %zu elements; shape says %zu", name, have, numel);
        return 400;
    }
    if (!(t->data = malloc(nbytes ? nbytes : 1))) { snprintf(err, cap, "out of memory"); return 500; }
    for (size_t i = 0; i < numel; i++) {
        long long x = 0;
        switch (t->dtype) {
        case NNE_DTYPE_BOOL: ((uint8_t *)t->data)[i] = ct->bool_contents[i] ? 1 : 0; continue;
        case NNE_DTYPE_INT64: ((int64_t *)t->data)[i] = ct->int64_contents[i]; continue;
        case NNE_DTYPE_UINT64: ((uint64_t *)t->data)[i] = ct->uint64_contents[i]; continue;
        case NNE_DTYPE_FLOAT: ((float *)t->data)[i] = ct->fp32_contents[i]; continue;
        case NNE_DTYPE_DOUBLE: ((double *)t->data)[i] = ct->fp64_contents[i]; continue;
        case NNE_DTYPE_INT8: case NNE_DTYPE_INT16: case NNE_DTYPE_INT32: x = ct->int_contents[i]; break;
        default: x = ct->uint_contents[i]; break;
        }
        if (x < lo || x > hi) {
            snprintf(err, cap, "input '%s': element %zu (%lld) is out of %s's range", name, i, x, srv_dtype_name(t->dtype));
            return 400;
        }
        switch (t->dtype) {
        case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)x; break;
        case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)x; break;
        default: ((uint32_t *)t->data)[i] = (uint32_t)x; break;
        }
    }
    return 0;
}

static int stream_gone(void *user) { return atomic_load(&((gstream *)user)->cancelled); }

static void model_infer(gconn *c, gstream *st, const uint8_t *msg, size_t len, double t0) {
    srv_core *core = c->core;
    Inference__ModelInferRequest *q = inference__model_infer_request__unpack(NULL, len, msg);
    if (!q) { reply_error(c, st, G_INVALID_ARGUMENT, "malformed ModelInferRequest"); return; }
    int64_t ver;
    int status = 0, reason = -1;
    char err[600];
    srv_version *v = NULL;
    srv_req *r = NULL;
    int order[SRV_MAX_IO], nsel = 0;
    if (!parse_ver(q->model_version, &ver)) { status = 400; snprintf(err, sizeof err, "a version is a positive integer"); }
    else v = srv_repo_get(&core->repo, q->model_name, ver, &status, err, sizeof err);
    if (!v) goto out;
    srv_stats_request(v->stats);
    reason = SRV_FAIL_BAD_REQUEST;
    if (!(r = calloc(1, sizeof *r))) { status = 500; reason = SRV_FAIL_INTERNAL; snprintf(err, sizeof err, "out of memory"); goto out; }
    r->v = v;
    if (q->n_inputs != (size_t)v->ninputs) {
        status = 400;
        snprintf(err, sizeof err, "the request has %zu inputs; model '%s' takes %d", q->n_inputs, v->model_name, v->ninputs);
        goto out;
    }
    if (q->n_raw_input_contents && q->n_raw_input_contents != q->n_inputs) {
        status = 400;
        snprintf(err, sizeof err, "raw_input_contents has %zu entries for %zu inputs", q->n_raw_input_contents, q->n_inputs);
        goto out;
    }
    int seen[SRV_MAX_IO] = {0};
    for (size_t k = 0; k < q->n_inputs; k++) {
        const Inference__ModelInferRequest__InferInputTensor *in = q->inputs[k];
        if (in->n_shape > NNE_MAX_DIMS) {
            status = 400;
            snprintf(err, sizeof err, "input '%.128s': %zu dims; at most %d", in->name, in->n_shape, NNE_MAX_DIMS);
            goto out;
        }
        int idx;
        size_t nbytes;
        if ((status = srv_input_check(v, in->name, in->datatype, (int)in->n_shape, in->shape, seen, &idx, r->in,
                                      &nbytes, err, sizeof err)))
            goto out;
        seen[idx] = 1;
        nne_tensor *t = &r->in[idx];
        if (q->n_raw_input_contents) {
            if (in->contents) {
                status = 400;
                snprintf(err, sizeof err, "input '%s': both contents and raw_input_contents given", in->name);
                goto out;
            }
            if (q->raw_input_contents[k].len != nbytes) {
                status = 400;
                snprintf(err, sizeof err, "input '%s': raw_input_contents has %zu bytes; shape and datatype need %zu",
                         in->name, q->raw_input_contents[k].len, nbytes);
                goto out;
            }
            if (!(t->data = malloc(nbytes ? nbytes : 1))) { status = 500; snprintf(err, sizeof err, "out of memory"); goto out; }
            if (nbytes) memcpy(t->data, q->raw_input_contents[k].data, nbytes);
        } else if (in->contents) {
            if ((status = typed_contents(in->contents, t, nbytes, in->name, err, sizeof err))) goto out;
        } else {
            status = 400;
            snprintf(err, sizeof err, "input '%s': no contents (and no raw_input_contents)", in->name);
            goto out;
        }
    }
    double deadline = 0;
    for (size_t k = 0; k < q->n_parameters; k++) {
        const Inference__ModelInferRequest__ParametersEntry *p = q->parameters[k];
        if (p->key && strcmp(p->key, "timeout") == 0) {
            if (!p->value || p->value->parameter_choice_case != INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM ||
                p->value->int64_param < 0) {
                status = 400;
                snprintf(err, sizeof err, "parameter timeout must be a non-negative int64 (microseconds)");
                goto out;
            }
            if (p->value->int64_param > 0) deadline = t0 + (double)p->value->int64_param * 1e-6;
        }
    }
    if (q->n_outputs > (size_t)v->noutputs) {
        status = 400;
        snprintf(err, sizeof err, "%zu outputs requested; model '%s' has %d", q->n_outputs, v->model_name, v->noutputs);
        goto out;
    }
    for (size_t k = 0; k < q->n_outputs; k++) {
        int found = -1;
        for (int i = 0; i < v->noutputs; i++)
            if (strcmp(v->out[i].name, q->outputs[k]->name) == 0) found = i;
        for (int j = 0; j < nsel && found >= 0; j++)
            if (order[j] == found) {
                status = 400;
                snprintf(err, sizeof err, "output '%.128s' is requested twice", q->outputs[k]->name);
                goto out;
            }
        if (found < 0) {
            status = 400;
            snprintf(err, sizeof err, "model '%s' has no output '%.128s'", v->model_name, q->outputs[k]->name);
            goto out;
        }
        order[nsel++] = found;
    }
    if (!nsel)
        for (int i = 0; i < v->noutputs; i++) order[nsel++] = i;
    srv_req_batch(v, r);
    int w = srv_sched_run(&core->sched, r, deadline, stream_gone, st);
    if (w == 503) {
        status = 503;
        reason = SRV_FAIL_QUEUE_FULL;
        snprintf(err, sizeof err, "the request queue is full (--max-queue %d); retry later", core->cfg.max_queue);
        goto out;
    }
    if (w) {
        status = w == SRV_FAIL_TIMEOUT ? 504 : 499;
        reason = w;
        snprintf(err, sizeof err, w == SRV_FAIL_TIMEOUT ? "the request's timeout passed while it was queued"
                                                        : "the client cancelled the call");
        goto out;
    }
    if (r->http_status) {
        status = r->http_status;
        reason = r->fail_reason;
        snprintf(err, sizeof err, "%s", r->err);
        goto out;
    }
    {
        Inference__ModelInferResponse resp = INFERENCE__MODEL_INFER_RESPONSE__INIT;
        Inference__ModelInferResponse__InferOutputTensor ot[SRV_MAX_IO], *op[SRV_MAX_IO];
        ProtobufCBinaryData raw[SRV_MAX_IO];
        char vs[24];
        snprintf(vs, sizeof vs, "%lld", (long long)v->version);
        resp.model_name = v->model_name;
        resp.model_version = vs;
        resp.id = q->id ? q->id : (char *)"";
        for (int k = 0; k < nsel; k++) {
            const nne_tensor *t = &r->out[order[k]];
            const char *dn = srv_dtype_name(t->dtype);
            Inference__ModelInferResponse__InferOutputTensor o = INFERENCE__MODEL_INFER_RESPONSE__INFER_OUTPUT_TENSOR__INIT;
            if (!dn || t->dtype == NNE_DTYPE_STRING) {
                status = 500;
                reason = SRV_FAIL_INTERNAL;
                snprintf(err, sizeof err, "output '%s' has a datatype the protocol cannot carry", v->out[order[k]].name);
                goto out;
            }
            o.name = (char *)v->out[order[k]].name;
            o.datatype = (char *)dn;
            o.n_shape = (size_t)t->ndim;
            o.shape = (int64_t *)t->dims;
            ot[k] = o;
            op[k] = &ot[k];
            raw[k].len = nne_tensor_nbytes(t);
            raw[k].data = t->data;
        }
        resp.n_outputs = (size_t)nsel;
        resp.outputs = op;
        resp.n_raw_output_contents = (size_t)nsel;
        resp.raw_output_contents = raw;
        reply_msg(c, st, &resp.base);
        reason = -1;
    }
out:
    if (status) reply_error(c, st, grpc_code(status), err);
    if (v) srv_stats_done(v->stats, reason, r && r->t_start > 0 ? r->t_start - r->t_enqueue : 0,
                          r && r->t_start > 0 ? r->t_end - r->t_start : 0, srv_now() - t0);
    else srv_stats_rejected(status);
    if (r) srv_req_free_data(r);
    free(r);
    srv_version_release(v);
    inference__model_infer_request__free_unpacked(q, NULL);
}

static void handle(gconn *c, gstream *st) {
    double t0 = srv_now();
    static const char pre[] = "/inference.GRPCInferenceService/";
    if (st->too_big) { reply_error(c, st, G_RESOURCE_EXHAUSTED, "the request is larger than --max-body"); return; }
    if (st->bad_header) { reply_error(c, st, G_INVALID_ARGUMENT, "a header is too long"); return; }
    if (strncmp(st->path, pre, sizeof pre - 1) != 0) { reply_error(c, st, G_UNIMPLEMENTED, "unknown service"); return; }
    const char *m = st->path + sizeof pre - 1;
    if (st->body.n < 5) { reply_error(c, st, G_INVALID_ARGUMENT, "no gRPC message in the request"); return; }
    const uint8_t *b = (const uint8_t *)st->body.p;
    size_t len = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];
    if (b[0] != 0) { reply_error(c, st, G_UNIMPLEMENTED, "compressed messages are not supported"); return; }
    if (len != st->body.n - 5) { reply_error(c, st, G_INVALID_ARGUMENT, "the gRPC message length does not match the body"); return; }
    b += 5;
    int model_call = !strcmp(m, "ModelReady") || !strcmp(m, "ModelMetadata") || !strcmp(m, "ModelInfer");
    if (model_call) {
        int a = srv_auth(c->core, st->auth[0] ? st->auth : NULL, 0);
        if (a) {
            srv_stats_rejected(a);
            reply_error(c, st, grpc_code(a), a == 401 ? "a bearer token is required (inference)" : "this token may not infer");
            return;
        }
    }
    if (!strcmp(m, "ServerLive")) {
        Inference__ServerLiveResponse r = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
        r.live = 1;
        reply_msg(c, st, &r.base);
    } else if (!strcmp(m, "ServerReady")) {
        Inference__ServerReadyResponse r = INFERENCE__SERVER_READY_RESPONSE__INIT;
        r.ready = atomic_load(&c->core->ready) != 0;
        reply_msg(c, st, &r.base);
    } else if (!strcmp(m, "ServerMetadata")) {
        Inference__ServerMetadataResponse r = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
        char *ext[] = {"model_repository", "metrics"};
        r.name = "nnedge";
        r.version = (char *)nne_version();
        r.n_extensions = 2;
        r.extensions = ext;
        reply_msg(c, st, &r.base);
    } else if (!strcmp(m, "ModelReady")) {
        Inference__ModelReadyRequest *q = inference__model_ready_request__unpack(NULL, len, b);
        if (!q) { reply_error(c, st, G_INVALID_ARGUMENT, "malformed ModelReadyRequest"); return; }
        int64_t ver;
        int status = 0;
        char err[256];
        srv_version *v = parse_ver(q->version, &ver) ? srv_repo_get(&c->core->repo, q->name, ver, &status, err, sizeof err) : NULL;
        Inference__ModelReadyResponse r = INFERENCE__MODEL_READY_RESPONSE__INIT;
        r.ready = v != NULL;
        srv_version_release(v);
        reply_msg(c, st, &r.base);
        inference__model_ready_request__free_unpacked(q, NULL);
    } else if (!strcmp(m, "ModelMetadata")) {
        model_metadata(c, st, b, len);
    } else if (!strcmp(m, "ModelInfer")) {
        model_infer(c, st, b, len, t0);
    } else {
        reply_error(c, st, G_UNIMPLEMENTED, "unknown method");
    }
}

/* --------------------------------------------------------- callbacks -- */

static ssize_t on_send(nghttp2_session *ss, const uint8_t *data, size_t len, int flags, void *user) {
    gconn *c = user;
    size_t off = 0;
    while (off < len) {
        ssize_t n = c->tls ? gnutls_record_send(c->tls, data + off, len - off)
                           : send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (c->tls ? (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) : (n < 0 && errno == EINTR)) continue;
        if (n <= 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
        off += (size_t)n;
    }
    return (ssize_t)len;
}

static int on_begin_headers(nghttp2_session *ss, const nghttp2_frame *f, void *user) {
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    gconn *c = user;
    gstream *st = calloc(1, sizeof *st);
    if (!st) return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->id = f->hd.stream_id;
    st->conn = c;
    pthread_mutex_lock(&c->mu);
    st->next_all = c->all;
    c->all = st;
    pthread_mutex_unlock(&c->mu);
    nghttp2_session_set_stream_user_data(ss, f->hd.stream_id, st);
    return 0;
}

static int on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *user) {
    gstream *st = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
    if (!st || f->hd.type != NGHTTP2_HEADERS) return 0;
    char *dst = NULL;
    size_t cap = 0;
    if (nl == 5 && memcmp(name, ":path", 5) == 0) dst = st->path, cap = sizeof st->path;
    else if (nl == 13 && memcmp(name, "authorization", 13) == 0) dst = st->auth, cap = sizeof st->auth;
    if (!dst) return 0;
    if (vl >= cap || memchr(value, 0, vl)) { st->bad_header = 1; return 0; }
    memcpy(dst, value, vl);
    dst[vl] = 0;
    return 0;
}

static int on_data(nghttp2_session *ss, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user) {
    gconn *c = user;
    gstream *st = nghttp2_session_get_stream_user_data(ss, id);
    if (!st) return 0;
    if (st->too_big || len > c->core->cfg.max_body - st->body.n) {
        if (!st->too_big) srv_buf_free(&st->body);
        st->too_big += len;
        return 0;
    }
    srv_buf_add(&st->body, data, len);
    if (st->body.oom) return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static void *call_thread(void *arg) {
    gstream *st = arg;
    gconn *c = st->conn;
    handle(c, st);
    srv_buf_free(&st->body);
    pthread_mutex_lock(&c->mu);
    st->next_done = c->done;
    c->done = st;
    pthread_mutex_unlock(&c->mu);
    uint64_t one = 1;
    if (write(c->efd, &one, sizeof one) != sizeof one) { /* the counter is full: a wake-up is pending anyway */ }
    return NULL;
}

static int on_frame(nghttp2_session *ss, const nghttp2_frame *f, void *user) {
    gconn *c = user;
    if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    gstream *st = nghttp2_session_get_stream_user_data(ss, f->hd.stream_id);
    if (!st || st->running || st->answered) return 0;
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&c->mu);
    st->running = 1;
    c->running++;
    pthread_mutex_unlock(&c->mu);
    if (pthread_create(&t, &at, call_thread, st) != 0) {
        pthread_mutex_lock(&c->mu);
        st->running = 0;
        c->running--;
        pthread_mutex_unlock(&c->mu);
        reply_error(c, st, G_UNAVAILABLE, "cannot start a thread for the call");
        submit_answer(c, st);
    }
    pthread_attr_destroy(&at);
    return 0;
}

static int on_close(nghttp2_session *ss, int32_t id, uint32_t code, void *user) {
    gstream *st = nghttp2_session_get_stream_user_data(ss, id);
    if (st) {
        nghttp2_session_set_stream_user_data(ss, id, NULL);
        atomic_store(&st->cancelled, 1); /* a queued request of a reset stream leaves the queue */
        st->closed = 1;
    }
    return 0;
}

/* Free the calls whose stream is closed and whose thread is done. */
static void sweep(gconn *c) {
    pthread_mutex_lock(&c->mu);
    for (gstream **pp = &c->all; *pp;) {
        gstream *st = *pp;
        if (st->closed && !st->running) {
            *pp = st->next_all;
            srv_buf_free(&st->body);
            srv_buf_free(&st->out);
            free(st);
        } else {
            pp = &st->next_all;
        }
    }
    pthread_mutex_unlock(&c->mu);
}

/* Send the answers call threads finished (streams still open). */
static void collect(gconn *c) {
    uint64_t n;
    if (read(c->efd, &n, sizeof n) != sizeof n) { /* nothing pending */ }
    pthread_mutex_lock(&c->mu);
    gstream *done = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    for (gstream *st = done, *nx; st; st = nx) {
        nx = st->next_done;
        if (!st->closed) submit_answer(c, st);
        pthread_mutex_lock(&c->mu);
        st->running = 0;
        c->running--;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

/* ------------------------------------------------------- connections -- */

static void conn_untrack(int fd) {
    pthread_mutex_lock(&G.mu);
    for (int i = 0; i < G.nconn; i++)
        if (G.fds[i] == fd) { G.fds[i] = G.fds[--G.nconn]; break; }
    pthread_cond_broadcast(&G.cv);
    pthread_mutex_unlock(&G.mu);
}

/* TLS 1.3 handshake with ALPN h2 (and a verified client certificate with
 * --tls-client-ca); 0 on failure. */
static int tls_accept(gconn *c) {
    if (gnutls_init(&c->tls, GNUTLS_SERVER) != GNUTLS_E_SUCCESS) { c->tls = NULL; return 0; }
    gnutls_datum_t h2 = {(unsigned char *)"h2", 2};
    if (gnutls_priority_set(c->tls, G.prio) != GNUTLS_E_SUCCESS ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, G.cred) != GNUTLS_E_SUCCESS ||
        gnutls_alpn_set_protocols(c->tls, &h2, 1, GNUTLS_ALPN_MANDATORY) != GNUTLS_E_SUCCESS)
        return 0;
    if (G.mtls) gnutls_certificate_server_set_request(c->tls, GNUTLS_CERT_REQUIRE);
    gnutls_transport_set_int(c->tls, c->fd);
    gnutls_handshake_set_timeout(c->tls, 10000);
    int r;
    do r = gnutls_handshake(c->tls);
    while (r < 0 && !gnutls_error_is_fatal(r));
    if (r < 0) return 0;
    if (G.mtls) {
        unsigned status = 0;
        if (gnutls_certificate_verify_peers2(c->tls, &status) != 0 || status != 0) return 0;
    }
    return 1;
}

static void *conn_thread(void *arg) {
    gconn *c = arg;
    nghttp2_session_callbacks *cb;
    if ((!G.cred || tls_accept(c)) && nghttp2_session_callbacks_new(&cb) == 0) {
        nghttp2_session_callbacks_set_send_callback(cb, on_send);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
        if (nghttp2_session_server_new(&c->ss, cb, c) == 0) {
            nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 32}};
            nghttp2_submit_settings(c->ss, NGHTTP2_FLAG_NONE, iv, 1);
            uint8_t buf[16384];
            for (;;) {
                if (nghttp2_session_send(c->ss) != 0) break;
                sweep(c);
                if (!nghttp2_session_want_read(c->ss) && !nghttp2_session_want_write(c->ss)) break;
                struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->efd, .events = POLLIN}};
                /* TLS may hold decrypted bytes the socket no longer shows */
                int pending = c->tls && gnutls_record_check_pending(c->tls) > 0;
                int pr = poll(p, 2, pending ? 0 : 60000);
                if (pending) {
                    p[0].revents |= POLLIN;
                    if (pr <= 0) pr = 1;
                }
                if (pr < 0 && errno == EINTR) continue;
                if (pr == 0) {
                    pthread_mutex_lock(&c->mu);
                    int busy = c->running;
                    pthread_mutex_unlock(&c->mu);
                    if (!busy) break; /* idle for 60 s */
                    continue;
                }
                if (pr < 0) break;
                if (p[1].revents & POLLIN) collect(c);
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                    ssize_t n = c->tls ? gnutls_record_recv(c->tls, buf, sizeof buf) : recv(c->fd, buf, sizeof buf, 0);
                    if (c->tls ? (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) : (n < 0 && errno == EINTR)) continue;
                    if (n <= 0) break; /* closed, or the server stopping */
                    if (nghttp2_session_mem_recv(c->ss, buf, (size_t)n) < 0) break;
                }
            }
            /* Calls still running are cancelled and waited for: they hold
             * their stream and write to this connection. */
            pthread_mutex_lock(&c->mu);
            for (gstream *st = c->all; st; st = st->next_all) {
                atomic_store(&st->cancelled, 1);
                st->closed = 1;
            }
            while (c->running > 0) {
                pthread_mutex_unlock(&c->mu);
                struct pollfd p = {.fd = c->efd, .events = POLLIN};
                poll(&p, 1, 100);
                collect(c);
                pthread_mutex_lock(&c->mu);
            }
            pthread_mutex_unlock(&c->mu);
            sweep(c);
            nghttp2_session_del(c->ss);
        }
        nghttp2_session_callbacks_del(cb);
    }
    if (c->tls) gnutls_deinit(c->tls);
    conn_untrack(c->fd);
    close(c->fd);
    close(c->efd);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    return NULL;
}

static void *acceptor(void *arg) {
    for (;;) {
        struct pollfd p[2] = {{.fd = G.lfd, .events = POLLIN}, {.fd = G.stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (p[1].revents) break;
        if (!(p[0].revents & POLLIN)) continue;
        int fd = accept(G.lfd, NULL, NULL);
        if (fd < 0) continue;
        pthread_mutex_lock(&G.mu);
        int full = G.nconn >= G.core->cfg.max_connections || G.nconn >= (int)(sizeof G.fds / sizeof G.fds[0]);
        if (!full) G.fds[G.nconn++] = fd;
        pthread_mutex_unlock(&G.mu);
        gconn *c = full ? NULL : calloc(1, sizeof *c);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (c) {
            c->fd = fd;
            c->core = G.core;
            c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            pthread_mutex_init(&c->mu, NULL);
            pthread_cond_init(&c->cv, NULL);
            if (c->efd < 0) {
                pthread_mutex_destroy(&c->mu);
                pthread_cond_destroy(&c->cv);
                free(c);
                c = NULL;
            }
        }
        if (!c || pthread_create(&t, &at, conn_thread, c) != 0) {
            if (!full) conn_untrack(fd);
            close(fd);
            if (c) {
                close(c->efd);
                pthread_mutex_destroy(&c->mu);
                pthread_cond_destroy(&c->cv);
                free(c);
            }
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

int srv_grpc_start(srv_core *core, unsigned *port, char *err, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t len;
    int v6;
    if (!srv_parse_addr(core->cfg.grpc_addr, &ss, &len, &v6)) { snprintf(err, cap, "expected ADDR:PORT"); return -1; }
    G.core = core;
    if (core->cfg.tls_cert) {
        int e;
        if ((e = gnutls_certificate_allocate_credentials(&G.cred)) != 0 ||
            (e = gnutls_certificate_set_x509_key_file(G.cred, core->cfg.tls_cert, core->cfg.tls_key, GNUTLS_X509_FMT_PEM)) < 0 ||
            (core->cfg.tls_client_ca &&
             (e = gnutls_certificate_set_x509_trust_file(G.cred, core->cfg.tls_client_ca, GNUTLS_X509_FMT_PEM)) < 0) ||
            (e = gnutls_priority_init(&G.prio, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL)) != 0) {
            snprintf(err, cap, "TLS: %s", gnutls_strerror(e));
            if (G.cred) gnutls_certificate_free_credentials(G.cred);
            G.cred = NULL;
            return -1;
        }
        G.mtls = core->cfg.tls_client_ca != NULL;
    }
    pthread_mutex_init(&G.mu, NULL);
    pthread_cond_init(&G.cv, NULL);
    G.lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (G.lfd < 0 || setsockopt(G.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(G.lfd, (struct sockaddr *)&ss, len) != 0 || listen(G.lfd, 64) != 0 || pipe(G.stop_pipe) != 0) {
        snprintf(err, cap, "cannot listen there: %s", strerror(errno));
        if (G.lfd >= 0) close(G.lfd);
        G.lfd = -1;
        return -1;
    }
    getsockname(G.lfd, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    if (pthread_create(&G.acceptor, NULL, acceptor, NULL) != 0) {
        snprintf(err, cap, "cannot start a thread");
        close(G.lfd);
        G.lfd = -1;
        return -1;
    }
    return 0;
}

void srv_grpc_stop(void) {
    if (G.lfd < 0) return;
    if (write(G.stop_pipe[1], "x", 1) != 1) { /* the acceptor then waits for poll: close wakes it */ }
    pthread_join(G.acceptor, NULL);
    close(G.lfd);
    G.lfd = -1;
    /* Wake every connection (its recv returns) and wait until all are gone:
     * a call being answered finishes first. */
    pthread_mutex_lock(&G.mu);
    for (int i = 0; i < G.nconn; i++) shutdown(G.fds[i], SHUT_RDWR);
    while (G.nconn > 0) pthread_cond_wait(&G.cv, &G.mu);
    pthread_mutex_unlock(&G.mu);
    close(G.stop_pipe[0]);
    close(G.stop_pipe[1]);
    if (G.cred) {
        gnutls_priority_deinit(G.prio);
        gnutls_certificate_free_credentials(G.cred);
        G.cred = NULL;
    }
}
