/*
 * main.c - the nnedge command: dispatches to one file per verb.
 */
#include "cli.h"
#include "app.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One entry per verb: its usage lines (after "nnedge "), and whether it
 * loads a model (then the limit options apply). `nnedge --help` prints them
 * all; `nnedge VERB --help` (or -h, or `nnedge help VERB`) prints one. */
typedef struct verb_usage {
    const char *verb;
    int (*fn)(int argc, char **argv);
    int loads_model;
    const char *text;
} verb_usage;

static const verb_usage k_verbs[] = {
    {"info", cli_info, 1, "info  MODEL [--shape NAME=1x3x224x224]... [--json]\n"},
    {"run", cli_run, 1,
     "run   MODEL [-i NAME=FILE.npy]... [-o OUTDIR] [--threads N] [--optimize none|basic|all] [--json] [--dump DIR]\n"},
    {"bench", cli_bench, 1,
     "bench MODEL [--shape NAME=DIMS]... [-i NAME=FILE.npy]... [--threads N] [--runs N] [--warmup N]\n"
     "        [--optimize none|basic|all] [--profile] [--json]\n"},
    {"eval", cli_eval, 1, "eval  MODEL --data X.npy --labels Y.npy [--scale S] [--threads N] [--json]\n"},
    {"train", cli_train, 1,
     "train MODEL -o OUT.onnx --data X.npy --labels Y.npy [--scale S] [--epochs N] [--batch N] [--lr F]\n"
     "        [--optimizer adam|sgd] [--momentum F] [--weight-decay F] [--lr-schedule constant|cosine] [--reinit]\n"
     "        [--seed N] [--teacher T.onnx --kd-alpha A --kd-temperature T] [--val-data X.npy --val-labels Y.npy]\n"
     "        [--threads N] [--json]\n"},
    {"prune", cli_prune, 1, "prune MODEL -o OUT.onnx (--sparsity R | --threshold-ratio A) [--structured] [--json]\n"},
    {"quantize", cli_quantize, 1,
     "quantize MODEL -o OUT.onnx --calib X.npy [--scale S] [--method minmax|percentile|entropy|mse]\n"
     "        [--percentile P] [--per-tensor] [--full-range] [--eval-data X.npy --eval-labels Y.npy [--max-drop PP]]\n"
     "        [--report FILE] [--keep-float NODE]... [--dynamic] [--batch N] [--threads N] [--json]\n"},
    {"convert", cli_convert, 1,
     "convert MODEL -o OUT.onnx [--optimize none|basic|all] [--shape NAME=DIMS]... [--external-data NAME]\n"},
    {"keygen", cli_keygen, 0,
     "keygen -o PREFIX [--device] [--certify ROOT.sec]... [--expires DURATION] [--threshold N]\n"},
    {"pack", cli_pack, 0,
     "pack  MODEL -o OUT.nne [--name N] [--version SEMVER] [--counter N] [--labels FILE] [--preprocess SPEC]\n"
     "        [--license SPDX] [--golden NAME=IN.npy]... [--golden-expect NAME=OUT.npy]... [--expires DURATION] [--sign KEY.sec [--cert KEY.cert]]\n"
     "        [--encrypt-for DEVICE.pub]...\n"},
    {"sign", cli_sign, 0,
     "sign  PKG.nne --key KEY.sec [--cert KEY.cert] -o OUT.nne   (add a signature; the model bytes are kept)\n"
     "  sign  KEY.cert|REVOKED --key ROOT.sec -o OUT        (add a root key's signature to a certificate or revocation list)\n"},
    {"revoke", cli_revoke, 0,
     "revoke RELEASE.pub... --sign ROOT.sec... --version N -o REVOKED   (a root-signed revocation list)\n"},
    {"verify", cli_verify, 0, "verify PKG.nne --trust ROOT.pub [--revoked FILE] [--key DEVICE.sec] [--json]\n"},
    {"install", cli_install, 0,
     "install PKG.nne --store DIR --trust ROOT.pub [--revoked FILE] [--key DEVICE.sec] [--json];  install --store DIR --status [--json]\n"
     "  install --store DIR --revert [--trust ROOT.pub [--key DEVICE.sec]] [--json]   (previous.nne back as current.nne)\n"},
    {"serve", cli_serve, 0,
     "serve --repo DIR [--http ADDR:PORT] [--threads N] [--max-queue N] [--batch-delay-us N] [--tokens FILE] [--tls-cert C --tls-key K [--tls-client-ca CA]] [--poll-s N] [--max-body BYTES] [--max-json BYTES] [--max-run-memory BYTES]\n"
     "        [--grpc ADDR:PORT] [--trust ROOT.pub] [--key DEVICE.sec] [--revoked FILE]\n"},
    {"agent", cli_agent, 0,
     "agent --broker mqtt[s]://HOST:PORT --id NODE [--group G] --store DIR --serve-repo DIR --serve-url http://HOST:PORT\n"
     "        --trust ROOT.pub [--key DEVICE.sec] [--revoked FILE] [--admin-token FILE] [--ca CA.pem] [--cert C --cert-key K]\n"
     "        [--user U] [--password-file F] [--heartbeat-ms N] [--keepalive-s N] [--haproxy-server NAME]   (docs/fleet.md)\n"},
    {"fleet", cli_fleet, 0,
     "fleet run --broker URL --packages DIR [--http ADDR:PORT] [--public-url URL] [--haproxy SOCKET --backend NAME]\n"
     "        [--state FILE] [--offline-after-ms N] [--overload-queue N] [--overload-p99-ms MS] [--overload-weight PCT]\n"
     "        [--client-id ID] [--quiet]\n"
     "  fleet deploy PKG.nne --group G --packages DIR [--canary N] [--rate N] [--abort-threshold F] [--timeout-s N]\n"
     "        [--check-data X.npy --check-labels Y.npy [--min-top1 F] [--max-p50-ms MS]] [--wait] [--json] --broker URL\n"
     "  fleet abort DEPLOYMENT --broker URL;  fleet status [--json] --broker URL\n"
     "        every fleet command: [--user NAME --password-file F] [--ca CA.pem]; deploy, abort, status:\n"
     "        [--answer-timeout-s N] (default 10, status 3) (docs/fleet.md)\n"},
    {"app", cli_app, 1,
     "app   wakeword [--models DIR] [--format onnx|tflite] [--threshold T] [--release R] [--debounce S]\n"
     "        [--threads N] [--frames FILE.csv] [--json] FILE.wav... | -\n"
     "  app   ocr IMAGE... [--models DIR] [--json] [--threads N]\n"
     "  app   classify MODEL IMAGE... [--labels FILE] [--top K] [--preprocess SPEC] [--json] [--threads N]\n"},
};
#define N_VERBS ((int)(sizeof k_verbs / sizeof *k_verbs))

static const char k_limits[] =
    "    --max-memory: bytes a model may use (K/M/G/T suffixes; none); default half of the\n"
    "    memory the process may use\n";
static const char k_exit[] = "exit status: 0 ok, 2 bad input or unsupported model, 1 internal error\n";

static void usage(FILE *f) {
    fprintf(f, "usage: nnedge <verb> [options]   (nnedge VERB --help: one verb)\n");
    for (int i = 0; i < N_VERBS; i++) fprintf(f, "  %s", k_verbs[i].text);
    fprintf(f, "  limits of every verb: " CLI_LIMITS_USAGE "\n%s%s", k_limits, k_exit);
}

static int verb_help(const verb_usage *v) {
    printf("usage: nnedge %s", v->text);
    if (v->loads_model) printf("  limits: " CLI_LIMITS_USAGE "\n%s", k_limits);
    printf("%s", k_exit);
    return EXIT_OK;
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

const char *cli_opt_value(int argc, char **argv, int *i, const char *what) {
    const char *opt = argv[*i];
    if (*i + 1 >= argc) {
        cli_usage_error("option %s needs a value %s", opt, what);
        return NULL;
    }
    const char *v = argv[*i + 1];
    /* "-i --json", "-i -o": the value is missing and the next option would be
     * taken for it ("--scale -1" or "--scale -inf" are values) */
    if ((v[0] == '-' && v[1] == '-' && v[2]) || (v[0] == '-' && v[1] && !v[2] && v[1] != '.' && !(v[1] >= '0' && v[1] <= '9'))) {
        cli_usage_error("option %s needs a value %s (got option %s)", opt, what, v);
        return NULL;
    }
    ++*i;
    return v;
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
        if (*p < '0' || *p > '9') return 0; /* no sign, no spaces */
        errno = 0;
        long long v = strtoll(p, &e, 10);
        if (e == p || v < 0 || errno == ERANGE || t->ndim >= NNE_MAX_DIMS) return 0;
        t->dims[t->ndim++] = v;
        p = e;
        if ((*p == 'x' || *p == ',') && p[1]) p++;
        else if (*p) return 0;
    }
    /* the element count must be representable; the byte count is checked
     * once the dtype is known (cli_input_shapes) */
    t->dtype = NNE_DTYPE_UINT8;
    int ok = nne_tensor_numel(t) >= 0;
    t->dtype = NNE_DTYPE_UNDEFINED;
    return ok;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the bytes there
 * are not valid UTF-8 (overlong forms, surrogates, code points past
 * U+10FFFF, truncated sequences). */
int cli_utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
    else return 0;
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0; /* also stops at the terminating NUL */
        cp = cp << 6 | (s[k] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void json_str(FILE *f, const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    fputc('"', f);
    while (*s) {
        unsigned char c = *s;
        int n = cli_utf8_len(s);
        if (n == 0) {
            fputs("\\ufffd", f); /* an invalid byte: U+FFFD, one per byte */
            s++;
            continue;
        }
        if (n > 1) {
            fwrite(s, 1, (size_t)n, f);
            s += n;
            continue;
        }
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
        s++;
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
        /* every buffer the CLI allocates for an input is sized from this */
        size_t nb;
        nne_status st = nne_tensor_nbytes_checked(t, &nb);
        if (st != NNE_OK) {
            char dims[320];
            size_t off = 0;
            dims[0] = 0;
            for (int d = 0; d < t->ndim && off < sizeof dims; d++)
                off += (size_t)snprintf(dims + off, sizeof dims - off, d ? "x%lld" : "%lld", (long long)t->dims[d]);
            cli_usage_error("input \"%s\": shape %s of %s is too large (its size overflows 2^63 bytes)", vi.name,
                            t->ndim ? dims : "scalar", nne_dtype_name(t->dtype));
            return st;
        }
    }
    return NNE_OK;
}

/* NNE_LOG=info|debug: the library's log lines on stderr (kernel choices
 * such as sparse weights, optimization passes); unset: none. */
static void log_stderr(void *user, nne_log_level lvl, const char *msg) {
    int max = *(const int *)user;
    if ((int)lvl <= max) fprintf(stderr, "nnedge: log: %s\n", msg);
}

int main(int argc, char **argv) {
    static int log_max;
    const char *le = getenv("NNE_LOG");
    if (le && (!strcmp(le, "info") || !strcmp(le, "debug"))) {
        log_max = !strcmp(le, "debug") ? NNE_LOG_DEBUG : NNE_LOG_INFO;
        nne_log_set(log_stderr, &log_max);
    }
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || (!strcmp(argv[1], "help") && argc == 2)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_BAD_INPUT : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("nnedge %s\n", nne_version()); /* the library linked, not the header */
        return EXIT_OK;
    }
    const char *verb = argv[1];
    const verb_usage *v = NULL;
    for (int i = 0; i < N_VERBS; i++)
        if (!strcmp(verb, k_verbs[i].verb)) v = &k_verbs[i];
    if (!strcmp(verb, "help") && argc == 3) {
        for (int i = 0; i < N_VERBS; i++)
            if (!strcmp(argv[2], k_verbs[i].verb)) return verb_help(&k_verbs[i]);
        return cli_usage_error("help: unknown verb \"%s\" (nnedge --help lists the verbs)", argv[2]);
    }
    if (v) {
        /* -h/--help anywhere: no option takes a value starting with "-h" or "--"
         * (cli_opt_value refuses them), so it is never an option's value */
        for (int i = 2; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return verb_help(v);
        return v->fn(argc - 1, argv + 1);
    }
    /* one line, like every other error (the usage text goes to stdout with --help) */
    return cli_usage_error("unknown verb \"%s\" (nnedge --help lists the verbs)", verb);
}
