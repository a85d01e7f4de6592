/*
 * limits.c - the options every verb that loads a model takes to bound what a
 * model may cost: --max-memory SIZE, --max-loop-iterations N and
 * --timeout-ms N.
 *
 * --max-memory covers the session (the library counts every byte it
 * allocates while preparing and running) and the command's own buffers
 * (bench's random inputs, run's and eval's input arrays): those are charged
 * here first and the session gets what is left.
 */
#include "cli.h"
#include "cli_pkg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long cli_timeout_ms;
static double g_deadline;
void cli_limits_note_model(const cli_limits *l, size_t model_bytes);

/* "512M", "2G", "1.5G", "4096", "64KiB"; binary units. 0 on a bad value. */
static int parse_size(const char *s, size_t *out) {
    if (!strcmp(s, "none") || !strcmp(s, "unlimited")) {
        *out = SIZE_MAX;
        return 1;
    }
    char *e;
    double v = strtod(s, &e);
    if (e == s || !(v >= 0)) return 0;
    double mul = 1;
    switch (*e) {
    case 'k': case 'K': mul = 1024.0; e++; break;
    case 'm': case 'M': mul = 1024.0 * 1024; e++; break;
    case 'g': case 'G': mul = 1024.0 * 1024 * 1024; e++; break;
    case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; e++; break;
    default: break;
    }
    if (mul > 1 && *e == 'i') e++;
    if (*e == 'B' || *e == 'b') e++;
    if (*e) return 0;
    v *= mul;
    if (v < 1 || v >= 18446744073709551615.0) return 0;
    *out = (size_t)v;
    return 1;
}

int cli_limit_option(int argc, char **argv, int *i, cli_limits *l) {
    int pr = cli_pkg_option(argc, argv, i); /* --trust, --key: .nne packages */
    if (pr) return pr;
    const char *a = argv[*i];
    int mem = !strcmp(a, "--max-memory"), loop = !strcmp(a, "--max-loop-iterations"),
        tmo = !strcmp(a, "--timeout-ms");
    if (!mem && !loop && !tmo) return 0;
    const char *v = cli_opt_value(argc, argv, i,
                                  mem ? "SIZE (like 512M, 2G or none)" : loop ? "N (iterations)" : "MS (milliseconds)");
    if (!v) return -1;
    if (mem) {
        if (!parse_size(v, &l->max_memory)) {
            cli_usage_error("--max-memory %s: expected a size like 512M, 2G or 1073741824 (bytes), or none", v);
            return -1;
        }
    } else if (loop) {
        char *e;
        long long n = strtoll(v, &e, 10);
        if (!v[0] || *e || n < 1) {
            cli_usage_error("--max-loop-iterations %s: expected a positive number", v);
            return -1;
        }
        l->max_loop = n;
    } else {
        long ms;
        if (!cli_parse_int(v, 1, 1000L * 3600 * 24 * 365, &ms)) {
            cli_usage_error("--timeout-ms %s: expected a positive number of milliseconds", v);
            return -1;
        }
        cli_timeout_ms = ms;
        g_deadline = cli_now_ms() + (double)ms;
    }
    return 1;
}

static size_t limit_of(const cli_limits *l) {
    if (l->max_memory == SIZE_MAX) return SIZE_MAX;
    if (l->max_memory) return l->max_memory;
    return nne_session_options_memory_limit(NULL);
}

int cli_limits_charge(cli_limits *l, size_t n, const char *what) {
    size_t lim = limit_of(l);
    if (lim != SIZE_MAX && (n > lim || l->used > lim - n)) {
        cli_usage_error("%s needs %zu bytes; with the %zu bytes already in use that is over the memory limit of %zu "
                        "bytes (--max-memory)", what, n, l->used, lim);
        return 0;
    }
    l->used += n;
    return 1;
}

static int past_deadline(void *user) {
    (void)user;
    return cli_now_ms() > g_deadline;
}

int cli_limits_apply(const cli_limits *l, nne_session_options *so) {
    size_t lim = limit_of(l);
    if (lim != SIZE_MAX) {
        if (l->used >= lim) {
            cli_usage_error("the command's own buffers (%zu bytes) leave nothing of the memory limit of %zu bytes "
                            "(--max-memory)", l->used, lim);
            return 0;
        }
        so->memory_limit_bytes = lim - l->used;
    } else {
        so->memory_limit_bytes = SIZE_MAX;
    }
    so->max_loop_iterations = l->max_loop;
    if (cli_timeout_ms) so->cancel_fn = past_deadline;
    return 1;
}

nne_status cli_load_model(const char *path, cli_limits *l, const nne_model_options *base, nne_model **m) {
    nne_model_options mo = base ? *base : nne_model_options_default();
    size_t lim = limit_of(l);
    mo.max_memory_bytes = lim == SIZE_MAX ? SIZE_MAX : lim > l->used ? lim - l->used : 1;
    nne_status st = cli_pkg_wanted(path) ? cli_pkg_load_model(path, &mo, m) : nne_model_load_file(path, &mo, m);
    if (st == NNE_OK) {
        l->used += nne_model_memory_bytes(*m);
        cli_limits_note_model(l, nne_model_memory_bytes(*m));
    }
    return st;
}

/* The limits of the command being run, for cli_fail's note. */
static const cli_limits *g_active;
static size_t g_model_bytes;

void cli_limits_note_model(const cli_limits *l, size_t model_bytes) {
    g_active = l;
    g_model_bytes = model_bytes;
}

int cli_limits_describe(char *buf, size_t cap) {
    if (!g_active) return 0;
    size_t lim = limit_of(g_active);
    if (lim == SIZE_MAX) return 0;
    snprintf(buf, cap, "--max-memory is %zu bytes%s: the model holds %zu, the command's buffers %zu", lim,
             g_active->max_memory ? "" : " by default", g_model_bytes, g_active->used - g_model_bytes);
    return 1;
}
