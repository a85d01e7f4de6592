/*
 * agent.c - `nnedge agent` (docs/fleet.md): checks the options, then runs
 * the agent as build/nnedge-agent (installed beside nnedge; tools/agent/),
 * a small program that links only libmosquitto and jansson, so the agent
 * stays under 5 MB of resident memory. The nnedge command itself links
 * some thirty shared libraries (TLS, HTTP, audio and image codecs): their
 * pages alone take a process of it past 6 MB before main() runs. The
 * agent runs every heavy step as a child process of this command, among
 * them:
 *
 *   nnedge agent --fetch URL -o FILE [--max-bytes N] [--ca CA.pem]
 *
 * which downloads URL (http://, https://, file://) into FILE with libcurl
 * and prints {"bytes": N, "blake2b": "<BLAKE2b-256 hex>"}.
 */
#include "cli.h"
#include "fleet/fleet.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int agent_fetch(int argc, char **argv) {
    const char *url = NULL, *out = NULL, *ca = NULL;
    long long max = 512LL << 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--fetch")) {
            if (!(url = cli_opt_value(argc, argv, &i, "URL"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "-o")) {
            if (!(out = cli_opt_value(argc, argv, &i, "FILE"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--ca")) {
            if (!(ca = cli_opt_value(argc, argv, &i, "CA.pem"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--max-bytes")) {
            const char *v = cli_opt_value(argc, argv, &i, "N");
            long n;
            if (!v) return EXIT_BAD_INPUT;
            if (!cli_parse_int(v, 1, LONG_MAX, &n)) return cli_usage_error("agent: --max-bytes %s: expected a positive integer", v);
            max = n;
        } else {
            return cli_usage_error("agent --fetch: unknown option %s", a);
        }
    }
    if (!url || !out) return cli_usage_error("agent --fetch URL -o FILE: both are required");
    char err[1200], hex[65];
    uint64_t bytes = 0;
    if (!fleet_http_global_init(err, sizeof err)) return cli_usage_error("agent --fetch: %s", err);
    if (!fleet_http_download(url, out, (uint64_t)max, ca, 600000, &bytes, hex, err, sizeof err))
        return cli_usage_error("fetch: %s", err);
    printf("{\"bytes\": %llu, \"blake2b\": \"%s\"}\n", (unsigned long long)bytes, hex);
    return EXIT_OK;
}

int cli_agent(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--fetch")) return agent_fetch(argc, argv);
    fleet_agent_config c;
    char err[1200];
    if (!fleet_agent_parse(argc, argv, &c, err, sizeof err)) return cli_usage_error("%s", err);
    char self[PATH_MAX], prog[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return cli_usage_error("agent: cannot read /proc/self/exe: %s", strerror(errno));
    self[n] = 0;
    char *slash = strrchr(self, '/');
    snprintf(prog, sizeof prog, "%.*s/nnedge-agent", slash ? (int)(slash - self) : 1, slash ? self : ".");
    char **av = calloc((size_t)argc + 4, sizeof *av);
    if (!av) return cli_usage_error("agent: out of memory");
    int k = 0;
    av[k++] = prog;
    if (!c.nnedge) av[k++] = "--nnedge", av[k++] = self;
    for (int i = 1; i < argc; i++) av[k++] = argv[i];
    av[k] = NULL;
    fflush(stdout);
    execv(prog, av);
    int e = errno;
    free(av);
    return cli_usage_error("agent: cannot run %s: %s (make builds it beside nnedge; make install installs it)", prog,
                           strerror(e));
}
