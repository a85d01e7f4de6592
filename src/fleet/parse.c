/*
 * parse.c - the parsers of what the agent reads from its server (fuzzed by
 * tests/fuzz/fuzz_agent.c): HTTP/1.x responses (src/fleet/httpc.c reads
 * them whole), and the figures a heartbeat needs (docs/fleet.md section 4)
 * from the Prometheus text of `nnedge serve`'s /metrics (src/serve/metrics.c):
 * per model version the request, success and failure counters, the loaded
 * memory and the end-to-end latency histogram; the queue length and the
 * server's RSS. Bounded: at most FLEET_PROM_SERIES series and
 * FLEET_PROM_BUCKETS buckets each, whatever the text holds.
 */
#include "fleet/fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A label's value in {a="x",b="y"}; 0 when absent. */
static int label(const char *lb, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *p = lb; (p = strstr(p, name)); p++) {
        if ((p == lb || p[-1] == '{' || p[-1] == ',') && p[nl] == '=' && p[nl + 1] == '"') {
            const char *v = p + nl + 2, *e = strchr(v, '"');
            if (!e || (size_t)(e - v) >= cap) return 0;
            memcpy(out, v, (size_t)(e - v));
            out[e - v] = 0;
            return 1;
        }
    }
    return 0;
}

static fleet_prom_series *series_get(fleet_prom *sc, const char *model, long long version) {
    for (int i = 0; i < sc->n; i++)
        if (sc->s[i].version == version && !strcmp(sc->s[i].model, model)) return &sc->s[i];
    if (sc->n == FLEET_PROM_SERIES) return NULL;
    fleet_prom_series *s = &sc->s[sc->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->model, sizeof s->model, "%s", model);
    s->version = version;
    return s;
}

/* The figures docs/fleet.md section 4 needs from the Prometheus text of
 * src/serve/metrics.c. */
void fleet_prom_parse(char *text, fleet_prom *sc) {
    memset(sc, 0, sizeof *sc);
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (line[0] == '#') continue;
        char *sp = line + strcspn(line, "{ ");
        char lb[512] = "";
        char *vp = sp;
        if (*sp == '{') {
            char *e = strchr(sp, '}');
            if (!e) continue;
            size_t n = (size_t)(e - sp + 1) < sizeof lb - 1 ? (size_t)(e - sp + 1) : sizeof lb - 1;
            memcpy(lb, sp, n);
            lb[n] = 0;
            vp = e + 1;
        }
        char nm[96];
        size_t nn = (size_t)(sp - line);
        if (nn >= sizeof nm) continue;
        memcpy(nm, line, nn);
        nm[nn] = 0;
        double v = strtod(vp, NULL);
        if (!strcmp(nm, "nnedge_queue_length")) sc->queue = v, sc->have_queue = 1;
        else if (!strcmp(nm, "nnedge_process_resident_memory_bytes")) sc->rss = v, sc->have_rss = 1;
        if (strncmp(nm, "nnedge_request", 14) != 0 && strcmp(nm, "nnedge_model_memory_bytes") != 0) continue;
        char model[128], ver[32], le[32];
        if (!label(lb, "model", model, sizeof model) || !label(lb, "version", ver, sizeof ver)) continue;
        fleet_prom_series *s = series_get(sc, model, strtoll(ver, NULL, 10));
        if (!s) continue;
        if (!strcmp(nm, "nnedge_requests_total")) s->requests = v;
        else if (!strcmp(nm, "nnedge_request_success_total")) s->success = v;
        else if (!strcmp(nm, "nnedge_request_failure_total")) s->failures += v;
        else if (!strcmp(nm, "nnedge_model_memory_bytes")) s->memory = v;
        else if (!strcmp(nm, "nnedge_request_duration_seconds_bucket") && label(lb, "le", le, sizeof le) &&
                 s->nb < FLEET_PROM_BUCKETS) {
            s->bound[s->nb] = !strcmp(le, "+Inf") ? INFINITY : strtod(le, NULL);
            s->cum[s->nb++] = v;
        }
    }
}

/* Quantile q of a cumulative histogram (counts cum over upper bounds), in
 * ms, linear within the bucket as Prometheus' histogram_quantile; NAN when
 * empty. */
double fleet_quantile_ms(const double *cum, const double *bound, int nb, double q) {
    if (nb == 0 || cum[nb - 1] <= 0) return NAN;
    double rank = q * cum[nb - 1];
    for (int i = 0; i < nb; i++) {
        if (cum[i] < rank) continue;
        if (isinf(bound[i])) return i ? bound[i - 1] * 1000 : NAN;
        double lo = i ? bound[i - 1] : 0, below = i ? cum[i - 1] : 0;
        double frac = cum[i] > below ? (rank - below) / (cum[i] - below) : 1;
        return (lo + (bound[i] - lo) * frac) * 1000;
    }
    return NAN;
}


/* Decode a chunked body in place; 0 when malformed or incomplete. */
static int unchunk(char *p, size_t n, size_t *out_n) {
    size_t r = 0, w = 0;
    for (;;) {
        char *e;
        if (r >= n) return 0;
        unsigned long long len = strtoull(p + r, &e, 16);
        char *nl = memchr(p + r, '\n', n - r);
        if (!nl || e == p + r) return 0;
        r = (size_t)(nl - p) + 1;
        if (len == 0) break;
        if (len > n - r) return 0;
        memmove(p + w, p + r, (size_t)len);
        w += (size_t)len;
        r += (size_t)len;
        if (r < n && p[r] == '\r') r++;
        if (r < n && p[r] == '\n') r++;
    }
    p[w] = 0;
    *out_n = w;
    return 1;
}

int fleet_http_parse_response(char *buf, size_t n, size_t max_bytes, long *status, size_t *body_n, char *err,
                              size_t err_cap) {
    *status = 0;
    int maj, mn;
    long st;
    if (sscanf(buf, "HTTP/%d.%d %ld", &maj, &mn, &st) != 3) { snprintf(err, err_cap, "not an HTTP answer"); return 0; }
    char *hend = strstr(buf, "\r\n\r\n");
    if (!hend) { snprintf(err, err_cap, "incomplete HTTP headers"); return 0; }
    *hend = 0;
    int chunked = 0;
    long long clen = -1;
    for (char *l = strstr(buf, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        char *hl = l + 2;
        if (!strncasecmp(hl, "Content-Length:", 15)) clen = strtoll(hl + 15, NULL, 10);
        else if (!strncasecmp(hl, "Transfer-Encoding:", 18) && strstr(hl, "chunked")) chunked = 1;
    }
    char *b = hend + 4;
    size_t bn = n - (size_t)(b - buf);
    if (chunked) {
        if (!unchunk(b, bn, &bn)) { snprintf(err, err_cap, "malformed chunked body"); return 0; }
    } else if (clen >= 0) {
        if ((unsigned long long)clen > bn) { snprintf(err, err_cap, "body shorter than its Content-Length"); return 0; }
        bn = (size_t)clen;
    }
    if (bn > max_bytes) { snprintf(err, err_cap, "answer over %zu bytes", max_bytes); return 0; }
    memmove(buf, b, bn);
    buf[bn] = 0;
    *status = st;
    *body_n = bn;
    return 1;
}
