/*
 * http.c - HTTP requests and downloads on libcurl (http:// and https://
 * only, no redirects, bounded bodies), file:// copies, and the BLAKE2b-256
 * of a file (libsodium). Used by the nnedge command: the controller and
 * `nnedge agent --fetch`, the agent's download step in a child process, so
 * the agent's own process never loads libcurl (docs/fleet.md section 1).
 */
#include "fleet/fleet.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fleet_http_global_init(char *err, size_t err_cap) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, err_cap, "libcurl initialization failed");
        return 0;
    }
    if (sodium_init() < 0) {
        snprintf(err, err_cap, "libsodium initialization failed");
        return 0;
    }
    return 1;
}

typedef struct sink {
    fleet_buf *buf;               /* memory, or */
    int fd;                       /* a file */
    crypto_generichash_state *hs; /* with its hash */
    uint64_t n, max;
    int too_big, io_err;
} sink;

static size_t sink_write(char *p, size_t sz, size_t nm, void *u) {
    sink *s = u;
    size_t n = sz * nm;
    if (s->n + n > s->max) {
        s->too_big = 1;
        return 0;
    }
    if (s->buf) {
        fleet_buf *b = s->buf;
        if (b->n + n + 1 > b->cap) {
            size_t nc = b->cap ? b->cap : 4096;
            while (nc < b->n + n + 1) nc *= 2;
            char *q = realloc(b->p, nc);
            if (!q) { s->io_err = ENOMEM; return 0; }
            b->p = q;
            b->cap = nc;
        }
        memcpy(b->p + b->n, p, n);
        b->n += n;
        b->p[b->n] = 0;
    } else {
        for (size_t done = 0; done < n;) {
            ssize_t w = write(s->fd, p + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) { s->io_err = errno ? errno : EIO; return 0; }
            done += (size_t)w;
        }
        crypto_generichash_update(s->hs, (const unsigned char *)p, n);
    }
    s->n += n;
    return n;
}

static int curl_run(const char *method, const char *url, const char *bearer, const char *body, const char *ca,
                    long timeout_ms, sink *s, long *status, char *err, size_t err_cap) {
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        snprintf(err, err_cap, "%s: only http:// and https:// URLs", url);
        return 0;
    }
    CURL *c = curl_easy_init();
    if (!c) { snprintf(err, err_cap, "libcurl: out of memory"); return 0; }
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    char auth[1100];
    if (bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        hdr = curl_slist_append(hdr, auth);
    }
    if (body) hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    if (s->max < (uint64_t)1 << 62) curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
    if (ca) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    if (hdr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    }
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdr);
    if (rc != CURLE_OK) {
        if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED)
            snprintf(err, err_cap, "%s: more than %llu bytes", url, (unsigned long long)s->max);
        else if (s->io_err) snprintf(err, err_cap, "%s: writing: %s", url, strerror(s->io_err));
        else snprintf(err, err_cap, "%s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
        return 0;
    }
    return 1;
}

int fleet_http_request(const char *method, const char *url, const char *bearer, const char *body, const char *ca,
                       long timeout_ms, size_t max_bytes, fleet_buf *out, long *status, char *err, size_t err_cap) {
    sink s = {.buf = out, .fd = -1, .max = max_bytes};
    out->n = 0;
    if (!curl_run(method, url, bearer, body, ca, timeout_ms, &s, status, err, err_cap)) return 0;
    if (!out->p && !(out->p = calloc(1, 1))) { snprintf(err, err_cap, "out of memory"); return 0; }
    return 1;
}

static void hex32(const unsigned char *h, char hex[65]) {
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

int fleet_blake2b_file(const char *path, char hex[65], char *err, size_t err_cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(err, err_cap, "%s: %s", path, strerror(errno)); return 0; }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    static _Thread_local unsigned char buf[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { snprintf(err, err_cap, "%s: %s", path, strerror(errno)); close(fd); return 0; }
        if (n == 0) break;
        crypto_generichash_update(&st, buf, (unsigned long long)n);
    }
    close(fd);
    unsigned char h[32];
    crypto_generichash_final(&st, h, sizeof h);
    hex32(h, hex);
    return 1;
}

int fleet_http_download(const char *url, const char *path, uint64_t max_bytes, const char *ca, long timeout_ms,
                        uint64_t *bytes, char hex[65], char *err, size_t err_cap) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) { snprintf(err, err_cap, "%s: %s", path, strerror(errno)); return 0; }
    crypto_generichash_state hs;
    crypto_generichash_init(&hs, NULL, 0, 32);
    sink s = {.fd = fd, .hs = &hs, .max = max_bytes};
    int ok;
    if (!strncmp(url, "file://", 7)) {
        const char *src = url + 7;
        int in = open(src, O_RDONLY | O_CLOEXEC);
        ok = in >= 0;
        if (!ok) snprintf(err, err_cap, "%s: %s", url, strerror(errno));
        static _Thread_local char buf[1 << 16];
        while (ok) {
            ssize_t n = read(in, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) { snprintf(err, err_cap, "%s: %s", url, strerror(errno)); ok = 0; break; }
            if (n == 0) break;
            if (sink_write(buf, 1, (size_t)n, &s) != (size_t)n) {
                if (s.too_big) snprintf(err, err_cap, "%s: more than %llu bytes", url, (unsigned long long)max_bytes);
                else snprintf(err, err_cap, "%s: writing %s: %s", url, path, strerror(s.io_err));
                ok = 0;
            }
        }
        if (in >= 0) close(in);
    } else {
        long status = 0;
        ok = curl_run("GET", url, NULL, NULL, ca, timeout_ms, &s, &status, err, err_cap);
        if (ok && status != 200) {
            snprintf(err, err_cap, "%s: HTTP status %ld", url, status);
            ok = 0;
        }
    }
    if (ok && fsync(fd) != 0) {
        snprintf(err, err_cap, "%s: fsync: %s", path, strerror(errno));
        ok = 0;
    }
    if (close(fd) != 0 && ok) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        ok = 0;
    }
    if (!ok) {
        unlink(path);
        return 0;
    }
    unsigned char h[32];
    crypto_generichash_final(&hs, h, sizeof h);
    hex32(h, hex);
    *bytes = s.n;
    return 1;
}
