/*
 * main.c - the nnedge command: dispatches to one file per verb.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: nnedge <verb> [options]\n"
            "  info  MODEL [--shape NAME=1x3x224x224]... [--json]\n"
            "  run   MODEL [-i NAME=FILE.npy]... [-o OUTDIR] [--threads N] [--optimize none|basic|all] [--json]\n"
            "  bench MODEL [--shape NAME=DIMS]... [-i NAME=FILE.npy]... [--threads N] [--runs N] [--warmup N] [--json]\n"
            "  eval  MODEL --data X.npy --labels Y.npy [--scale S] [--json]\n"
            "  limits of every verb: " CLI_LIMITS_USAGE "\n"
            "    --max-memory: bytes a model may use (K/M/G/T suffixes; none); default half of the\n"
            "    memory the process may use\n"
            "exit status: 0 ok, 2 bad input or unsupported model, 1 internal error\n");
}

/* Print "nnedge: <message>" as exactly one line on stderr: control characters
 * (a newline inside a tensor name read from a model, say) are written as \xHH. */
static void print_error_line(const char *fmt, va_list ap) {
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fputs("nnedge: ", stderr);
    for (const char *p = buf; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
    fputc('\n', stderr);
}

int cli_fail(nne_status st, const char *context) {
    const char *msg = nne_last_error();
    if (!msg[0]) msg = nne_status_str(st);
    char tbuf[96];
    if (st == NNE_ERR_CANCELLED && cli_timeout_ms) {
        snprintf(tbuf, sizeof tbuf, "the time limit of %ld ms (--timeout-ms) was reached", cli_timeout_ms);
        msg = tbuf;
    }
    char note[200], mbuf[1400];
    if (st == NNE_ERR_OUT_OF_MEMORY && strstr(msg, "memory limit of") && cli_limits_describe(note, sizeof note)) {
        snprintf(mbuf, sizeof mbuf, "%s (%s)", msg, note);
        msg = mbuf;
    }
    if (context && context[0]) cli_usage_error("%s: %s", context, msg);
    else cli_usage_error("%s", msg);
    return st == NNE_ERR_INTERNAL ? EXIT_INTERNAL : EXIT_BAD_INPUT;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_error_line(fmt, ap);
    va_end(ap);
    return EXIT_BAD_INPUT;
}

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *e;
    long v = strtol(s, &e, 10);
    if (!s[0] || *e || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int cli_parse_shape(const char *arg, char *name, size_t cap, nne_tensor *t) {
    const char *eq = strrchr(arg, '=');
    if (!eq || eq == arg || (size_t)(eq - arg) >= cap) return 0;
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = 0;
    memset(t, 0, sizeof *t);
    const char *p = eq + 1;
    if (!*p) return 0;
    if (strcmp(p, "scalar") == 0) return 1;
    while (*p) {
        char *e;
        long long v = strtoll(p, &e, 10);
        if (e == p || v < 0 || t->ndim >= NNE_MAX_DIMS) return 0;
        t->dims[t->ndim++] = v;
        p = e;
        if (*p == 'x' || *p == ',') p++;
        else if (*p) return 0;
    }
    return 1;
}

void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

void json_dims(FILE *f, int ndim, const int64_t *dims) {
    fputc('[', f);
    for (int i = 0; i < ndim; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)dims[i]);
    fputc(']', f);
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

nne_status cli_input_shapes(const nne_model *m, int n, char (*names)[256], const nne_tensor *shapes,
                            nne_tensor *inputs) {
    int ni = nne_model_num_inputs(m);
    for (int k = 0; k < n; k++) {
        int found = 0;
        for (int i = 0; i < ni; i++) {
            nne_value_info vi;
            nne_model_input_info(m, i, &vi);
            found |= strcmp(vi.name, names[k]) == 0;
        }
        if (!found) {
            cli_usage_error("--shape %s: the model has no input named \"%s\"", names[k], names[k]);
            return NNE_ERR_INVALID_ARG;
        }
    }
    for (int i = 0; i < ni; i++) {
        nne_value_info vi;
        nne_model_input_info(m, i, &vi);
        nne_tensor *t = &inputs[i];
        memset(t, 0, sizeof *t);
        t->dtype = vi.dtype;
        int given = 0;
        for (int k = 0; k < n; k++)
            if (strcmp(vi.name, names[k]) == 0) {
                t->ndim = shapes[k].ndim;
                memcpy(t->dims, shapes[k].dims, sizeof t->dims);
                given = 1;
            }
        if (!given) {
            if (vi.ndim < 0) {
                cli_usage_error("input \"%s\" has no declared shape; give it with --shape %s=DIMS", vi.name,
                                vi.name);
                return NNE_ERR_INVALID_ARG;
            }
            t->ndim = vi.ndim;
            for (int d = 0; d < vi.ndim; d++) t->dims[d] = vi.dims[d] < 0 ? 1 : vi.dims[d];
        }
    }
    return NNE_OK;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BAD_INPUT : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("nnedge %s\n", nne_version()); /* the library linked, not the header */
        return EXIT_OK;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "info")) return cli_info(argc - 1, argv + 1);
    if (!strcmp(verb, "run")) return cli_run(argc - 1, argv + 1);
    if (!strcmp(verb, "bench")) return cli_bench(argc - 1, argv + 1);
    if (!strcmp(verb, "eval")) return cli_eval(argc - 1, argv + 1);
    /* one line, like every other error (the usage text goes to stdout with --help) */
    return cli_usage_error("unknown verb \"%s\" (nnedge --help lists the verbs)", verb);
}
