/*
 * haproxy.c - HAProxy runtime API client: one command per connection to the
 * stats socket (`stats socket PATH level admin`), the way socat/haproxyctl
 * use it in non-interactive mode: write "CMD\n", read until HAProxy closes.
 * Commands that change state answer an empty line on success and a
 * sentence on failure ("No such server.").
 * Names are checked by the caller (ctl_name_ok): no space, ';' or newline
 * can reach the command line.
 */
#include "fleet/ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int hap_command(const char *socket_path, const char *cmd, char *out, size_t cap, int timeout_ms) {
    if (cap) out[0] = 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof sa.sun_path) {
        snprintf(out, cap, "haproxy socket path too long: %s", socket_path);
        return 0;
    }
    strcpy(sa.sun_path, socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(out, cap, "socket: %s", strerror(errno));
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(out, cap, "haproxy socket %s: %s", socket_path, strerror(errno));
        close(fd);
        return 0;
    }
    char line[512];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    if (n <= 0 || (size_t)n >= sizeof line) {
        snprintf(out, cap, "haproxy command too long");
        close(fd);
        return 0;
    }
    for (int off = 0; off < n;) {
        ssize_t w = send(fd, line + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(out, cap, "haproxy socket %s: write: %s", socket_path, strerror(errno));
            close(fd);
            return 0;
        }
        off += (int)w;
    }
    size_t len = 0;
    char sink[1024];
    for (;;) {
        char *dst = len + 1 < cap ? out + len : sink;
        size_t room = len + 1 < cap ? cap - 1 - len : sizeof sink;
        ssize_t r = recv(fd, dst, room, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(out, cap, "haproxy socket %s: no answer in %d ms", socket_path, timeout_ms);
            close(fd);
            return 0;
        }
        if (r == 0) break;
        if (dst != sink) len += (size_t)r;
    }
    if (cap) out[len < cap ? len : cap - 1] = 0;
    close(fd);
    return 1;
}

/* 1 when the answer is empty (whitespace only): HAProxy accepted it. */
static int answer_ok(char *ans) {
    size_t n = strlen(ans);
    while (n && (ans[n - 1] == '\n' || ans[n - 1] == ' ' || ans[n - 1] == '\r')) ans[--n] = 0;
    return n == 0;
}

static int set_cmd(const char *socket_path, const char *cmd, char *err, size_t cap, int *sock_err) {
    char ans[512];
    if (!hap_command(socket_path, cmd, ans, sizeof ans, 500)) {
        snprintf(err, cap, "%s", ans);
        if (sock_err) *sock_err = 1;
        return 0;
    }
    if (!answer_ok(ans)) {
        for (char *p = ans; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
        snprintf(err, cap, "haproxy refused \"%s\": %s", cmd, ans);
        return 0;
    }
    return 1;
}

int hap_set_state(const char *socket_path, const char *backend, const char *server, const char *state, char *err,
                  size_t cap, int *sock_err) {
    if (!ctl_name_ok(backend) || !ctl_name_ok(server)) {
        snprintf(err, cap, "bad haproxy backend or server name");
        return 0;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "set server %s/%s state %s", backend, server, state);
    return set_cmd(socket_path, cmd, err, cap, sock_err);
}

int hap_set_weight_pct(const char *socket_path, const char *backend, const char *server, int pct, char *err,
                       size_t cap, int *sock_err) {
    if (!ctl_name_ok(backend) || !ctl_name_ok(server) || pct < 0 || pct > 100) {
        snprintf(err, cap, "bad haproxy backend, server name or weight");
        return 0;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "set server %s/%s weight %d%%", backend, server, pct);
    return set_cmd(socket_path, cmd, err, cap, sock_err);
}
