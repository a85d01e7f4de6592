/*
 * http_floor.c - the floor under `nnedge serve`'s per-request overhead: a
 * minimal HTTP/1.1 keep-alive server (one thread per connection, blocking
 * reads, TCP_NODELAY) that reads each request (headers and Content-Length
 * body) and answers 200 with a fixed body of the size an inference answer
 * has, without parsing or computing anything. wrk against it measures what
 * loopback TCP, the client and the kernel's wake-ups cost on this machine,
 * so the server's own overhead can be stated honestly (tests/serve/bench.sh).
 * Usage: http_floor PORT_FILE [RESPONSE_BODY_BYTES [SPIN_US]]: listens on
 * 127.0.0.1:0 and writes the port to PORT_FILE; runs until killed. SPIN_US:
 * busy-wait that long before each answer, as a model run would (an idle CPU
 * wakes more slowly than a busy one, most of all in a VM).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char reply[8192];
static size_t reply_len;
static double spin_us;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static void *conn_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    size_t have = 0;
    for (;;) {
        char *end = NULL;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == sizeof buf) goto out;
            ssize_t n = read(fd, buf + have, sizeof buf - have);
            if (n <= 0) goto out;
            have += (size_t)n;
        }
        size_t hdr = (size_t)(end - buf) + 4, body = 0;
        for (char *p = buf; p < end; p++)
            if ((p == buf || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0) body = strtoul(p + 15, NULL, 10);
        size_t need = hdr + body;
        while (have < need) {
            /* the body may be larger than the buffer: read and drop */
            ssize_t n = read(fd, buf + (have < sizeof buf ? have : 0), have < sizeof buf ? sizeof buf - have : sizeof buf);
            if (n <= 0) goto out;
            have += (size_t)n;
        }
        if (spin_us > 0)
            for (double t = now_us(); now_us() - t < spin_us;) {
            }
        if (write(fd, reply, reply_len) != (ssize_t)reply_len) goto out;
        size_t rest = have - need;
        if (rest && need < sizeof buf) memmove(buf, buf + need, rest);
        have = need < sizeof buf ? rest : 0;
    }
out:
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: http_floor PORT_FILE [BODY_BYTES [SPIN_US]]\n"); return 2; }
    size_t body = argc > 2 ? strtoul(argv[2], NULL, 10) : 180;
    spin_us = argc > 3 ? strtod(argv[3], NULL) : 0;
    if (body > 4096) body = 4096;
    int h = snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\n\r\n", body);
    memset(reply + h, 'x', body);
    reply_len = (size_t)h + body;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 128) || getsockname(ls, (struct sockaddr *)&a, &al)) {
        perror("http_floor");
        return 1;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) { perror(argv[1]); return 1; }
    fprintf(f, "%d\n", ntohs(a.sin_port));
    fclose(f);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0) close(fd);
        else pthread_detach(t);
    }
}
