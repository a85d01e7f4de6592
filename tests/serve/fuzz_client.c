/*
 * fuzz_client.c - the request fuzzer's client for `nnedge serve` (driven by
 * tests/serve/fuzz_requests.py, which starts the ASan/UBSan server on the
 * repository of gen_models.py and checks its health and sanitizer output
 * afterwards). T threads, each on a keep-alive connection, send N requests
 * in all: mutated valid requests (a field replaced by something random:
 * shapes wrong, huge or negative, datatypes wrong or unknown, data of the
 * wrong structure, names, outputs, parameters), JSON with flipped bytes,
 * truncated JSON, deep nesting, random bytes, the binary extension with a
 * lying Inference-Header-Content-Length or binary_data_size, truncated
 * binary bodies, random paths, models and methods, and now and then a raw
 * connection with garbage (broken request lines and headers, Content-Length
 * lies, bad chunks, huge URLs and headers, early closes).
 *
 * Every answer must be well-formed HTTP with a status the protocol uses
 * (never 500) and a JSON body ({"error": ...} unless 200; a 200 with the
 * binary extension: its JSON part); an unmutated valid
 * request must get 200 (or 503 from a full queue); no request may time
 * out. Exit 0 when all held, 1 otherwise, 2 on bad usage.
 * Usage: fuzz_client PORT N [SEED [THREADS]]
 */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAIL_SHOWN 10
#define IO_TIMEOUT_S 60

static int port;
static long total;
static atomic_long next_req, n_fail, n_closed, n_raw;
static atomic_long status_count[600];
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;

/* --------------------------------------------------------------- rng -- */

typedef struct { uint64_t s; } rng_t;
static uint64_t rnd(rng_t *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static int rint_(rng_t *r, int n) { return (int)(rnd(r) % (uint64_t)n); }
static double runif(rng_t *r) { return (double)(rnd(r) >> 11) * (1.0 / 9007199254740992.0); }

/* ------------------------------------------------------------ buffers -- */

typedef struct { char *p; size_t n, cap; } buf;
static void b_add(buf *b, const void *p, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) { fprintf(stderr, "fuzz_client: out of memory\n"); exit(2); }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void b_fmt(buf *b, const char *fmt, ...) {
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    b_add(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---------------------------------------------------------- requests -- */

static const char *DTYPES[] = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                               "FP16", "FP32", "FP64", "BF16", "BYTES", "FP8", "", "fp32"};
static const char *ID_DTYPES[] = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                                  "INT32", "INT64", "FP16", "FP32", "FP64", "BF16"};
static const int ID_SIZES[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8, 2};
#define NDT (int)(sizeof DTYPES / sizeof DTYPES[0])
#define NID (int)(sizeof ID_DTYPES / sizeof ID_DTYPES[0])

static json_t *rand_value(rng_t *r) {
    switch (rint_(r, 11)) {
    case 0: return json_integer(0);
    case 1: return json_integer(1);
    case 2: return json_integer(-1);
    case 3: return json_integer(INT64_MAX);
    case 4: return json_integer(INT64_MIN);
    case 5: return json_real(1e308);
    case 6: return json_real(-0.0);
    case 7: return json_real(3.5);
    case 8: return json_true();
    case 9: return json_null();
    default: return json_real(runif(r));
    }
}

static json_t *rand_data(rng_t *r, int depth) {
    int k = rint_(r, 8);
    if (k == 0 && depth < 4) {
        json_t *a = json_array();
        for (int i = rint_(r, 4); i > 0; i--) json_array_append_new(a, rand_data(r, depth + 1));
        return a;
    }
    if (k == 1) return json_string(rint_(r, 2) ? "s" : "ss");
    if (k == 2) return json_pack("{s:i}", "a", 1);
    json_t *a = json_array();
    for (int i = rint_(r, 12); i > 0; i--) json_array_append_new(a, rand_value(r));
    return a;
}

static json_t *rand_shape(rng_t *r) {
    int k = rint_(r, 6);
    json_t *a = json_array();
    if (k == 0) {
        static const int64_t odd[] = {-1, 0, 1LL << 31, 1LL << 62, INT64_MAX, 1, 3, -(1LL << 40)};
        for (int i = rint_(r, 14); i > 0; i--) json_array_append_new(a, json_integer(odd[rint_(r, 8)]));
        return a;
    }
    if (k == 1) {
        json_decref(a);
        return json_string("1x3");
    }
    for (int i = rint_(r, 4); i > 0; i--) json_array_append_new(a, json_integer(rint_(r, 4)));
    return a;
}

static json_t *ones(int n, int integer) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, integer ? json_integer(1) : json_real(1.0));
    return a;
}

static json_t *input(const char *name, int rows, int cols, const char *dt, int integer) {
    return json_pack("{s:s, s:[i,i], s:s, s:o}", "name", name, "shape", rows, cols, "datatype", dt, "data",
                     ones(rows * cols, integer));
}

/* A valid JSON request for one of the models of gen_models.py. */
static json_t *valid(rng_t *r, const char **model) {
    int m = rint_(r, 4);
    if (m == 0) {
        int n = 1 + rint_(r, 3);
        *model = "add";
        return json_pack("{s:[o,o]}", "inputs", input("a", n, 4, "FP32", 0), input("b", n, 4, "FP32", 0));
    }
    if (m == 1) {
        *model = "fixed";
        return json_pack("{s:[o]}", "inputs", input("x", 2, 3, "FP32", 0));
    }
    int n = 1 + rint_(r, 4);
    *model = m == 2 ? "id_FP32" : "id_INT8";
    return json_pack("{s:[o]}", "inputs", input("x", n, 3, m == 2 ? "FP32" : "INT8", 1));
}

/* Replace a random field of a valid request by something random. */
static void mutate(rng_t *r, json_t *o) {
    json_t *inputs = json_object_get(o, "inputs");
    json_t *in = json_array_get(inputs, 0);
    switch (rint_(r, 13)) {
    case 0: json_object_set_new(in, "shape", rand_shape(r)); break;
    case 1: json_object_set_new(in, "datatype", json_string(DTYPES[rint_(r, NDT)])); break;
    case 2: json_object_set_new(in, "data", rand_data(r, 0)); break;
    case 3: {
        static const char *names[] = {"x", "a", "b", "", "y"};
        int k = rint_(r, 7);
        json_object_set_new(in, "name", k < 5 ? json_string(names[k]) : k == 5 ? json_integer(5) : json_null());
        break;
    }
    case 4: {
        json_t *v;
        switch (rint_(r, 6)) {
        case 0: v = json_integer(-1); break;
        case 1: v = json_integer(0); break;
        case 2: v = json_integer(12); break;
        case 3: v = json_integer(1LL << 62); break;
        case 4: v = json_string("12"); break;
        default: v = json_null(); break;
        }
        json_object_set_new(in, "parameters", json_pack("{s:o}", "binary_data_size", v));
        break;
    }
    case 5: {
        json_t *outs = json_array();
        static const char *names[] = {"y", "sum", "zz"};
        for (int i = rint_(r, 3); i > 0; i--) {
            int k = rint_(r, 4);
            json_array_append_new(outs, json_pack("{s:o}", "name", k < 3 ? json_string(names[k]) : json_integer(3)));
        }
        json_object_set_new(o, "outputs", outs);
        break;
    }
    case 6: {
        static const char *keys[] = {"timeout", "binary_data_output", "x", "classification"};
        json_object_set_new(o, "parameters", json_pack("{s:o}", keys[rint_(r, 4)], rand_value(r)));
        break;
    }
    case 7: { /* the inputs 0, 1 or 2 times */
        int k = rint_(r, 3);
        json_t *a = json_array();
        for (int t = 0; t < k; t++)
            for (size_t i = 0; i < json_array_size(inputs); i++) json_array_append(a, json_array_get(inputs, i));
        json_object_set_new(o, "inputs", a);
        break;
    }
    case 8: {
        int k = rint_(r, 4);
        char big[501];
        memset(big, 'x', 500);
        big[500] = 0;
        json_object_set_new(o, "id", k == 0 ? json_integer(1) : k == 1 ? json_string(big) : k == 2 ? json_stringn("\0", 1) : json_null());
        break;
    }
    case 9: json_object_del(in, "data"); break;
    case 10: json_object_set_new(o, "inputs", rand_data(r, 0)); break;
    case 11: { /* data nested 0..2 times more */
        json_t *d = json_object_get(in, "data");
        json_incref(d);
        json_t *a = json_array();
        for (int i = rint_(r, 3); i > 0; i--) json_array_append(a, d);
        json_object_set_new(in, "data", a);
        json_decref(d);
        break;
    }
    default: { /* a key the protocol does not have, or the wrong type for one it has */
        static const char *keys[] = {"inputs", "outputs", "parameters", "id", "zzz"};
        json_object_set_new(o, keys[rint_(r, 5)], rand_value(r));
        break;
    }
    }
}

static void json_body(buf *b, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) b_add(b, s, strlen(s));
    free(s);
}

/* One request (method, path, headers, body) into out; *valid_req: the
 * unmutated valid class (must be answered 200 or 503). */
static void make_request(rng_t *r, buf *out, int *valid_req) {
    buf body = {0}, extra = {0};
    const char *model;
    json_t *o = valid(r, &model);
    int k = rint_(r, 11);
    *valid_req = 0;
    if (k <= 3) {
        mutate(r, o);
        if (rint_(r, 3) == 0) mutate(r, o);
        json_body(&body, o);
    } else if (k == 4) { /* flipped bytes */
        json_body(&body, o);
        for (int i = 1 + rint_(r, 5); i > 0 && body.n; i--) body.p[rint_(r, (int)body.n)] = (char)rint_(r, 256);
    } else if (k == 5) { /* truncated JSON */
        json_body(&body, o);
        size_t keep = (size_t)rint_(r, 60);
        if (keep < body.n) body.n = keep;
    } else if (k == 6) { /* binary extension with lies */
        int rows = rint_(r, 4);
        static const int sizes[] = {0, 12, 24, 36, 7};
        buf h = {0};
        b_fmt(&h, "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,3],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":%d}}]}",
              rows, sizes[rint_(r, 5)]);
        int blob = rint_(r, 50);
        b_add(&body, h.p, h.n);
        for (int i = 0; i < blob; i++) b_add(&body, &(char){(char)rint_(r, 256)}, 1);
        long long hl;
        switch (rint_(r, 7)) {
        case 0: hl = (long long)h.n; break;
        case 1: hl = (long long)h.n + 1; break;
        case 2: hl = (long long)h.n - 1; break;
        case 3: hl = 0; break;
        case 4: hl = 1LL << 40; break;
        case 5: hl = -3; break;
        default: hl = -999; break;
        }
        if (hl == -999) b_fmt(&extra, "Inference-Header-Content-Length: x\r\n");
        else b_fmt(&extra, "Inference-Header-Content-Length: %lld\r\n", hl);
        free(h.p);
        model = "id_FP32";
    } else if (k == 7) { /* a correct binary request, truncated or padded */
        int d = rint_(r, NID), rows = 1 + rint_(r, 3);
        size_t nb = (size_t)(rows * 3 * ID_SIZES[d]);
        buf h = {0};
        b_fmt(&h, "{\"inputs\":[{\"name\":\"x\",\"shape\":[%d,3],\"datatype\":\"%s\",\"parameters\":{\"binary_data_size\":%zu}}]"
                  ",\"parameters\":{\"binary_data_output\":%s}}",
              rows, ID_DTYPES[d], nb, rint_(r, 2) ? "true" : "false");
        b_add(&body, h.p, h.n);
        for (size_t i = 0; i < nb; i++) b_add(&body, &(char){(char)(rint_(r, 2) ? 1 : rint_(r, 256))}, 1);
        int cut = rint_(r, 3);
        if (cut == 0 && body.n > h.n) body.n = h.n + (size_t)rint_(r, (int)(body.n - h.n)); /* truncated */
        else if (cut == 1) b_add(&body, "tail", 4);                                     /* extra bytes */
        b_fmt(&extra, "Inference-Header-Content-Length: %zu\r\n", h.n);
        free(h.p);
        static char mname[32];
        snprintf(mname, sizeof mname, "id_%s", ID_DTYPES[d]);
        model = mname;
    } else if (k == 8) { /* random bytes */
        for (int i = rint_(r, 200); i > 0; i--) b_add(&body, &(char){(char)rint_(r, 256)}, 1);
    } else if (k == 9) { /* deep nesting */
        int n = 1 + rint_(r, 5000);
        for (int i = 0; i < n; i++) b_add(&body, rint_(r, 8) ? "[" : "{\"a\":", rint_(r, 8) ? 1 : 5);
    } else {
        json_body(&body, o);
        *valid_req = 1;
    }
    json_decref(o);
    static const char *MODELS[] = {"id_FP32", "id_INT8", "id_BOOL", "id_UINT64", "id_BF16", "add", "fixed", "nosuch", "..", "%2e%2e", "a%00b"};
    char longname[301];
    if (runif(r) < 0.1) {
        *valid_req = 0;
        int m = rint_(r, 12);
        if (m < 11) model = MODELS[m];
        else {
            memset(longname, 'a', 300);
            longname[300] = 0;
            model = longname;
        }
    }
    char path[512];
    snprintf(path, sizeof path, "/v2/models/%s/infer", model);
    if (runif(r) < 0.15) {
        static const char *vers[] = {"1", "0", "x", "99", "-1", "18446744073709551617"};
        *valid_req = 0;
        switch (rint_(r, 6)) {
        case 0: snprintf(path, sizeof path, "/v2/models/%s/versions/%s/infer", model, vers[rint_(r, 6)]); break;
        case 1: snprintf(path, sizeof path, "/v2/models/%s", model); break;
        case 2: snprintf(path, sizeof path, "/v2/repository/index"); break;
        case 3: snprintf(path, sizeof path, "/v2/models/%s/ready", model); break;
        case 4: snprintf(path, sizeof path, "/v2/models/%s/infer/", model); break;
        default: snprintf(path, sizeof path, "/v2/models//infer?x=%d", rint_(r, 9)); break;
        }
    }
    const char *method = "POST";
    if (runif(r) < 0.05) {
        static const char *ms[] = {"GET", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"};
        method = ms[rint_(r, 6)];
        *valid_req = 0;
    }
    out->n = 0;
    b_fmt(out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n", method, path);
    if (extra.n) b_add(out, extra.p, extra.n);
    b_fmt(out, "Content-Length: %zu\r\n\r\n", body.n);
    b_add(out, body.p ? body.p : "", body.n);
    free(body.p);
    free(extra.p);
}

/* -------------------------------------------------------------- wire -- */

static int connect_server(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int tries = 0; connect(fd, (struct sockaddr *)&a, sizeof a) != 0; tries++) {
        if (tries == 50 || (errno != ECONNREFUSED && errno != EAGAIN && errno != EINTR)) {
            close(fd);
            return -1;
        }
        usleep(20000);
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef struct {
    int status;
    int close;         /* Connection: close */
    long long ihcl;    /* Inference-Header-Content-Length, -1 none */
    char *body;
    size_t body_n;
} response;

/* Read one response from fd into rb (which may hold bytes already). 0 ok,
 * -1 connection closed or reset before a full response, -2 timeout, -3
 * malformed. */
static int read_response(int fd, buf *rb, response *resp, int head_only) {
    char *end;
    for (;;) {
        end = rb->n ? memmem(rb->p, rb->n, "\r\n\r\n", 4) : NULL;
        if (end) break;
        if (rb->n > (1 << 20)) return -3;
        char tmp[65536];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -2;
        if (n <= 0) return rb->n ? -3 : -1;
        b_add(rb, tmp, (size_t)n);
    }
    size_t hlen = (size_t)(end - rb->p) + 4;
    if (rb->n < 12 || memcmp(rb->p, "HTTP/1.", 7) != 0 || rb->p[8] != ' ') return -3;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (rb->p[i] < '0' || rb->p[i] > '9') return -3;
        st = st * 10 + rb->p[i] - '0';
    }
    resp->status = st;
    resp->close = 0;
    resp->ihcl = -1;
    long long cl = -1;
    int chunked = 0;
    for (char *h = memchr(rb->p, '\n', hlen) + 1; h < rb->p + hlen - 2;) {
        char *eol = memchr(h, '\n', (size_t)(rb->p + hlen - h));
        if (!eol) break;
        char line[512];
        size_t ln = (size_t)(eol - h) < sizeof line - 1 ? (size_t)(eol - h) : sizeof line - 1;
        memcpy(line, h, ln);
        line[ln] = 0;
        if (!strncasecmp(line, "Content-Length:", 15)) cl = strtoll(line + 15, NULL, 10);
        else if (!strncasecmp(line, "Inference-Header-Content-Length:", 32)) resp->ihcl = strtoll(line + 32, NULL, 10);
        else if (!strncasecmp(line, "Connection:", 11) && strcasestr(line, "close")) resp->close = 1;
        else if (!strncasecmp(line, "Transfer-Encoding:", 18)) chunked = 1;
        h = eol + 1;
    }
    if (chunked || (cl < 0 && !head_only)) return -3; /* the server always sends Content-Length */
    if (head_only) cl = 0;
    while (rb->n < hlen + (size_t)cl) {
        char tmp[65536];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -2;
        if (n <= 0) return -3;
        b_add(rb, tmp, (size_t)n);
    }
    resp->body = rb->p + hlen;
    resp->body_n = (size_t)cl;
    /* nothing may follow: one request, one response */
    return rb->n == hlen + (size_t)cl ? 0 : -3;
}

static const int OK_STATUS[] = {200, 400, 401, 403, 404, 405, 413, 431, 499, 503, 504};

/* and what libmicrohttpd itself answers to broken HTTP (raw requests only) */
static const int RAW_STATUS[] = {414, 417, 501, 505};

static int status_ok(int st) {
    for (size_t i = 0; i < sizeof OK_STATUS / sizeof OK_STATUS[0]; i++)
        if (OK_STATUS[i] == st) return 1;
    return 0;
}

static int raw_status_ok(int st) {
    for (size_t i = 0; i < sizeof RAW_STATUS / sizeof RAW_STATUS[0]; i++)
        if (RAW_STATUS[i] == st) return 1;
    return status_ok(st);
}

static void fail(const char *what, const char *req, size_t req_n, const char *detail, size_t detail_n) {
    long n = atomic_fetch_add(&n_fail, 1);
    if (n >= MAX_FAIL_SHOWN) return;
    pthread_mutex_lock(&fail_mu);
    fprintf(stderr, "FAIL %s\n  request: %.300s%s\n  answer: %.300s\n", what, req, req_n > 300 ? "..." : "",
            detail ? detail : "(none)");
    (void)detail_n;
    pthread_mutex_unlock(&fail_mu);
}

/* The body of a non-binary answer must be a JSON object, with "error"
 * unless the status is 200. */
static int body_ok(const response *rp) {
    size_t jn = rp->body_n;
    if (rp->ihcl >= 0) {
        if (rp->status != 200 || (size_t)rp->ihcl > rp->body_n) return 0;
        jn = (size_t)rp->ihcl;
    }
    json_error_t je;
    json_t *j = json_loadb(rp->body, jn, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je); /* UINT64 data may pass INT64_MAX */
    int ok = j && (rp->status == 200 || (json_is_object(j) && json_is_string(json_object_get(j, "error"))));
    json_decref(j);
    return ok;
}

/* --------------------------------------------------------------- raw -- */

static void raw_request(rng_t *r) {
    buf req = {0};
    switch (rint_(r, 12)) {
    case 0: b_fmt(&req, "GARBAGE\r\n\r\n"); break;
    case 1: b_fmt(&req, "POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inputs\":"); break;
    case 2: b_fmt(&req, "POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"); break;
    case 3: b_fmt(&req, "POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n"); break;
    case 4:
        b_fmt(&req, "GET /");
        for (int i = 0; i < 20000; i++) b_add(&req, "a", 1);
        b_fmt(&req, " HTTP/1.1\r\nHost: x\r\n\r\n");
        break;
    case 5:
        b_fmt(&req, "GET /v2 HTTP/1.1\r\nHost: x\r\nX: ");
        for (int i = 0; i < 40000; i++) b_add(&req, "y", 1);
        b_fmt(&req, "\r\n\r\n");
        break;
    case 6: b_fmt(&req, "POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"); break;
    case 7:
        for (int i = 1 + rint_(r, 300); i > 0; i--) b_add(&req, &(char){(char)rint_(r, 256)}, 1);
        break;
    case 8: b_fmt(&req, "GET /v2/models/%%00/infer HTTP/1.1\r\nHost: x\r\n\r\n"); break;
    case 9: b_fmt(&req, "POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: 5\r\nContent-Length: 3\r\n\r\nabc"); break;
    case 10: { /* a valid chunked request, cut somewhere */
        const char *body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}";
        b_fmt(&req, "POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
              strlen(body), body);
        req.n = (size_t)rint_(r, (int)req.n + 1);
        break;
    }
    default: { /* a request line with random bytes in it */
        b_fmt(&req, "POST /v2/models/id_FP32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
        for (int i = 1 + rint_(r, 4); i > 0; i--) req.p[rint_(r, (int)req.n)] = (char)rint_(r, 256);
        break;
    }
    }
    int fd = connect_server();
    if (fd < 0) {
        fail("raw: cannot connect", req.p, req.n, NULL, 0);
        free(req.p);
        return;
    }
    /* Short waits: most raw requests end with our half-close, so the server
     * sees the end at once; a few leave it waiting and go away. */
    int half_close = rint_(r, 20) != 0;
    struct timeval tv = {.tv_usec = half_close ? 0 : 20000, .tv_sec = half_close ? 10 : 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)send_all(fd, req.p, req.n); /* the server may close while we send */
    if (half_close) shutdown(fd, SHUT_WR);
    buf rb = {0};
    for (;;) {
        char tmp[65536];
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && half_close)
                fail("raw: no answer and no close within 10 s of a half-close", req.p, req.n, rb.p, rb.n);
            break;
        }
        b_add(&rb, tmp, (size_t)n);
        if (rb.n > (1 << 20)) break;
    }
    close(fd);
    /* The answer, if any, must be well-formed HTTP, never 500 (one request
     * was sent: only the first response counts; libmicrohttpd's own error
     * pages close the connection and may carry no Content-Length). */
    if (rb.n) {
        int st = rb.n >= 12 && memcmp(rb.p, "HTTP/1.", 7) == 0 && rb.p[8] == ' ' ? atoi(rb.p + 9) : -1;
        if (st < 0) fail("raw: malformed answer", req.p, req.n, rb.p, rb.n);
        else if (!raw_status_ok(st)) fail("raw: status not allowed", req.p, req.n, rb.p, rb.n);
        if (st >= 0 && st < 600) atomic_fetch_add(&status_count[st], 1);
    }
    atomic_fetch_add(&n_raw, 1);
    free(rb.p);
    free(req.p);
}

/* ------------------------------------------------------------ threads -- */

typedef struct { int id; uint64_t seed; } targ;

static void *thread_main(void *arg) {
    targ *t = arg;
    rng_t r = {t->seed * 1000003u + (uint64_t)t->id * 7919u + 1};
    buf req = {0}, rb = {0};
    int fd = -1;
    while (atomic_fetch_add(&next_req, 1) < total) {
        if (runif(&r) < 0.08) {
            raw_request(&r);
            continue;
        }
        int valid_req;
        make_request(&r, &req, &valid_req);
        int head_only = strncmp(req.p, "HEAD ", 5) == 0;
        for (int attempt = 0;; attempt++) {
            if (fd < 0 && (fd = connect_server()) < 0) {
                fail("cannot connect", req.p, req.n, NULL, 0);
                break;
            }
            rb.n = 0;
            int sent = send_all(fd, req.p, req.n);
            response rp = {0};
            int rc = read_response(fd, &rb, &rp, head_only);
            if (rc == -1 && attempt == 0 && sent == 0 && rb.n == 0) {
                /* the server closed a kept-alive connection before this request (its idle timeout): once more */
                close(fd);
                fd = -1;
                continue;
            }
            if (rc == -2) fail("timeout: no answer within 60 s", req.p, req.n, rb.p, rb.n);
            else if (rc == -3) fail("malformed answer", req.p, req.n, rb.p, rb.n);
            else if (rc == -1) {
                /* closed without an answer: allowed only where the server
                 * refuses a body early (it may close while we send) */
                atomic_fetch_add(&n_closed, 1);
                if (valid_req) fail("a valid request's connection closed without an answer", req.p, req.n, NULL, 0);
            } else {
                if (rp.status >= 0 && rp.status < 600) atomic_fetch_add(&status_count[rp.status], 1);
                if (!status_ok(rp.status)) fail("status not allowed", req.p, req.n, rb.p, rb.n);
                else if (valid_req && rp.status != 200 && rp.status != 503)
                    fail("a valid request was not answered 200", req.p, req.n, rb.p, rb.n);
                else if (!head_only && !body_ok(&rp)) fail("body is not the JSON expected", req.p, req.n, rb.p, rb.n);
            }
            if (rc != 0 || rp.close) {
                close(fd);
                fd = -1;
            }
            break;
        }
    }
    if (fd >= 0) close(fd);
    free(req.p);
    free(rb.p);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_client PORT N [SEED [THREADS]]\n");
        return 2;
    }
    port = atoi(argv[1]);
    total = atol(argv[2]);
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    int nt = argc > 4 ? atoi(argv[4]) : 8;
    if (port <= 0 || port > 65535 || total < 0 || nt < 1 || nt > 256) {
        fprintf(stderr, "fuzz_client: bad arguments\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t th[256];
    targ ta[256];
    for (int i = 0; i < nt; i++) {
        ta[i] = (targ){i, seed};
        if (pthread_create(&th[i], NULL, thread_main, &ta[i]) != 0) {
            fprintf(stderr, "fuzz_client: cannot start threads\n");
            return 2;
        }
    }
    for (int i = 0; i < nt; i++) pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("fuzz: %ld requests in %.1f s (%.0f/s), %ld raw connections, %ld closed without an answer; statuses",
           total, dt, (double)total / dt, (long)atomic_load(&n_raw), (long)atomic_load(&n_closed));
    for (int s = 0; s < 600; s++)
        if (atomic_load(&status_count[s])) printf(" %d:%ld", s, (long)atomic_load(&status_count[s]));
    printf("; %ld failures\n", (long)atomic_load(&n_fail));
    return atomic_load(&n_fail) ? 1 : 0;
}
