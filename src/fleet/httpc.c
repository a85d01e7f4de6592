/*
 * httpc.c - a small HTTP/1.1 client for the agent's requests to its own
 * server (http://127.0.0.1:PORT: health, /metrics, repository load): one
 * request per connection, bounded time and size, Content-Length, chunked
 * and read-to-close bodies. The agent uses it instead of libcurl, whose
 * thirty-odd shared libraries alone would take the agent's resident
 * memory past its 5 MB budget (see tools/agent/main.c).
 */
#include "fleet/fleet.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

void fleet_buf_free(fleet_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int fleet_httpc_parse(const char *url, fleet_httpc *h, char *err, size_t err_cap) {
    memset(h, 0, sizeof *h);
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(err, err_cap, "--serve-url %s: expected http://HOST:PORT (the node's own server, plain HTTP)", url);
        return 0;
    }
    const char *s = url + 7, *slash = strchr(s, '/');
    size_t hp = slash ? (size_t)(slash - s) : strlen(s);
    char hostport[300];
    if (hp == 0 || hp >= sizeof hostport) { snprintf(err, err_cap, "--serve-url %s: bad host", url); return 0; }
    memcpy(hostport, s, hp);
    hostport[hp] = 0;
    const char *colon = strrchr(hostport, ':');
    if (hostport[0] == '[') {
        const char *rb = strchr(hostport, ']');
        if (!rb) { snprintf(err, err_cap, "--serve-url %s: unclosed '['", url); return 0; }
        colon = rb[1] == ':' ? rb + 1 : NULL;
        size_t n = (size_t)(rb - hostport - 1);
        memcpy(h->host, hostport + 1, n);
        h->host[n] = 0;
    } else {
        size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);
        if (n == 0 || n >= sizeof h->host) { snprintf(err, err_cap, "--serve-url %s: bad host", url); return 0; }
        memcpy(h->host, hostport, n);
        h->host[n] = 0;
    }
    h->port = 80;
    if (colon) {
        char *e;
        long p = strtol(colon + 1, &e, 10);
        if (e == colon + 1 || *e || p < 1 || p > 65535) { snprintf(err, err_cap, "--serve-url %s: the port must be 1..65535", url); return 0; }
        h->port = (int)p;
    }
    if (slash) {
        size_t n = strlen(slash);
        while (n && slash[n - 1] == '/') n--;
        if (n >= sizeof h->base_path) { snprintf(err, err_cap, "--serve-url %s: path too long", url); return 0; }
        memcpy(h->base_path, slash, n);
        h->base_path[n] = 0;
    }
    return 1;
}

static int wait_fd(int fd, short ev, int64_t deadline) {
    for (;;) {
        int64_t left = deadline - fleet_mono_ms();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = ev};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        return r > 0;
    }
}

static int connect_to(const fleet_httpc *h, int64_t deadline, char *err, size_t err_cap) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", h->port);
    int g = getaddrinfo(h->host, port, &hints, &ai);
    if (g != 0) { snprintf(err, err_cap, "%s: %s", h->host, gai_strerror(g)); return -1; }
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline)) {
            int e = 0;
            socklen_t el = sizeof e;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
            if (e == 0) break;
            errno = e;
        } else if (errno == EINPROGRESS) {
            errno = ETIMEDOUT;
        }
        snprintf(err, err_cap, "connect %s:%d: %s", h->host, h->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int fleet_httpc_request(const fleet_httpc *h, const char *method, const char *path, const char *bearer,
                        const char *body, long timeout_ms, size_t max_bytes, fleet_buf *out, long *status, char *err,
                        size_t err_cap) {
    int64_t deadline = fleet_mono_ms() + timeout_ms;
    *status = 0;
    out->n = 0;
    int fd = connect_to(h, deadline, err, err_cap);
    if (fd < 0) return 0;
    size_t blen = body ? strlen(body) : 0;
    char req[2048];
    int rn = snprintf(req, sizeof req,
                      "%s %s%s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\nUser-Agent: nnedge-agent\r\n%s%s%s"
                      "Content-Length: %zu\r\n%s\r\n",
                      method, h->base_path, path, h->host, h->port, bearer ? "Authorization: Bearer " : "",
                      bearer ? bearer : "", bearer ? "\r\n" : "", blen, body ? "Content-Type: application/json\r\n" : "");
    if (rn < 0 || (size_t)rn >= sizeof req) { snprintf(err, err_cap, "request too long"); close(fd); return 0; }
    const char *parts[2] = {req, body};
    size_t lens[2] = {(size_t)rn, blen};
    for (int k = 0; k < 2; k++)
        for (size_t done = 0; done < lens[k];) {
            ssize_t w = send(fd, parts[k] + done, lens[k] - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && errno == EAGAIN && wait_fd(fd, POLLOUT, deadline)) continue;
            if (w <= 0) { snprintf(err, err_cap, "send: %s", w < 0 ? strerror(errno) : "closed"); close(fd); return 0; }
            done += (size_t)w;
        }
    /* read the whole response (headers + body) */
    size_t limit = max_bytes + 16384;
    for (;;) {
        if (out->n + 4097 > out->cap) {
            size_t nc = out->cap ? out->cap * 2 : 8192;
            char *q = realloc(out->p, nc);
            if (!q) { snprintf(err, err_cap, "out of memory"); close(fd); return 0; }
            out->p = q;
            out->cap = nc;
        }
        ssize_t r = recv(fd, out->p + out->n, out->cap - out->n - 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) {
            if (wait_fd(fd, POLLIN, deadline)) continue;
            snprintf(err, err_cap, "no complete answer in %ld ms", timeout_ms);
            close(fd);
            return 0;
        }
        if (r < 0) { snprintf(err, err_cap, "recv: %s", strerror(errno)); close(fd); return 0; }
        if (r == 0) break;
        out->n += (size_t)r;
        if (out->n > limit) { snprintf(err, err_cap, "answer over %zu bytes", max_bytes); close(fd); return 0; }
    }
    close(fd);
    if (!out->p) { snprintf(err, err_cap, "empty answer"); return 0; }
    out->p[out->n] = 0;
    size_t bn = 0;
    return fleet_http_parse_response(out->p, out->n, max_bytes, status, &bn, err, err_cap) && ((out->n = bn), 1);
}
