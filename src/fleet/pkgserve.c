/*
 * pkgserve.c - the controller's package server: the regular files under
 * --packages DIR over HTTP GET (and HEAD), for the agents' downloads
 * (libmicrohttpd, one internal polling thread; it shares nothing with the
 * controller's state).
 *
 * Path rules: the URL path is split at '/'; every component must be
 * [A-Za-z0-9._-]{1,128} and not start with '.', at most 8 of them. Each
 * directory is opened with openat(O_NOFOLLOW|O_DIRECTORY) from DIR and the
 * file with openat(O_NOFOLLOW), so no symlink is followed anywhere and
 * nothing outside DIR can be reached; a non-regular file is 404 too.
 * libmicrohttpd sends Content-Length from the file's size.
 */
#include "fleet/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

struct pkgsrv {
    struct MHD_Daemon *d;
    int dirfd;
    int port;
};

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *text) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static int component_ok(const char *s, size_t n) {
    if (n == 0 || n > 128 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Open url below dirfd as described above; -1 when not allowed or missing. */
static int open_below(int dirfd, const char *url) {
    if (url[0] != '/') return -1;
    const char *p = url + 1;
    int cur = dirfd, depth = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char name[129];
        if (!component_ok(p, n) || ++depth > 8) break;
        memcpy(name, p, n);
        name[n] = 0;
        int fd = openat(cur, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : O_NONBLOCK));
        if (cur != dirfd) close(cur);
        cur = dirfd;
        if (fd < 0) return -1;
        if (!slash) return fd;
        cur = fd;
        p = slash + 1;
    }
    if (cur != dirfd) close(cur);
    return -1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **ptr) {
    pkgsrv *s = cls;
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0, is_head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!*ptr) { /* first call: headers only */
        *ptr = (void *)1;
        if (!is_get && !is_head) return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n");
        return MHD_YES;
    }
    if (*upload_size) { /* a GET with a body: ignore the body */
        *upload_size = 0;
        return MHD_YES;
    }
    int fd = open_below(s->dirfd, url);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) return send_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* takes fd */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    (void)fmt;
    (void)ap; /* connection-level noise (resets by clients) is not the controller's business */
}

pkgsrv *pkgsrv_start(const char *dir, const char *addr, char *err, size_t cap) {
    char host[128];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof host || colon == addr) {
        snprintf(err, cap, "--http %s: expected ADDR:PORT", addr);
        return NULL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    char *e;
    long port = strtol(colon + 1, &e, 10);
    if (*e || e == colon + 1 || port < 0 || port > 65535) {
        snprintf(err, cap, "--http %s: the port must be 0..65535", addr);
        return NULL;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, cap, "--http %s: expected an IPv4 address", addr);
        return NULL;
    }
    pkgsrv *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        snprintf(err, cap, "--packages %s: %s", dir, strerror(errno));
        free(s);
        return NULL;
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, 256u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, cap, "--http %s: cannot listen (address in use?)", addr);
        close(s->dirfd);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : (int)port;
    return s;
}

int pkgsrv_port(const pkgsrv *s) { return s->port; }

void pkgsrv_stop(pkgsrv *s) {
    if (!s) return;
    MHD_stop_daemon(s->d);
    close(s->dirfd);
    free(s);
}
