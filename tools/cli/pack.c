/*
 * pack.c - `nnedge pack MODEL -o OUT.nne [--name N] [--version SEMVER]
 * [--counter N] [--labels FILE] [--preprocess SPEC] [--license SPDX]
 * [--golden NAME=IN.npy]... [--golden-expect NAME=OUT.npy]... [--expires DURATION] [--sign KEY.sec
 * [--cert KEY.cert]] [--encrypt-for DEVICE.pub]...`: a .nne package
 * (docs/format.md).
 *
 * The model is written as ONNX with its weights in a separate data segment
 * ("weights.bin", every tensor 64-byte aligned; the segment itself starts on
 * a 4 KiB boundary), so a device maps the package and uses the weights where
 * they lie. With --golden the model runs on the given inputs here and the
 * outputs are stored too: `install` runs the same check on the device and
 * reverts a package that fails it. The version counter (rollback protection)
 * defaults to MAJOR*10^12 + MINOR*10^6 + PATCH of --version. The ONNX and
 * .npy intermediates go through a private temporary directory (mode 0700)
 * removed before pack returns; they are the model you gave, not a secret of
 * the device.
 */
#include "cli.h"
#include "cli_pkg.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PACK_MAX_GOLDEN 64
#define PACK_MAX_DEVICES 4096

static int read_file(const char *path, uint8_t **buf, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return 0;
    }
    *size = (size_t)sb.st_size;
    *buf = malloc(*size ? *size : 1);
    int ok = *buf && fread(*buf, 1, *size, f) == *size;
    fclose(f);
    if (!ok) free(*buf), *buf = NULL;
    return ok;
}

static int hash_file(const char *path, uint8_t out[32]) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    crypto_generichash_state s;
    crypto_generichash_init(&s, NULL, 0, 32);
    static uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_generichash_update(&s, buf, n);
    int ok = !ferror(f);
    fclose(f);
    crypto_generichash_final(&s, out, 32);
    return ok;
}

/* MAJOR.MINOR.PATCH[-pre][+build], each number below 10^6. */
static int parse_semver(const char *s, uint64_t *counter) {
    long v[3];
    const char *p = s;
    for (int k = 0; k < 3; k++) {
        char *e;
        if (*p < '0' || *p > '9') return 0;
        v[k] = strtol(p, &e, 10);
        if (v[k] < 0 || v[k] >= 1000000 || (e - p > 1 && *p == '0')) return 0;
        p = e;
        if (k < 2 && *p++ != '.') return 0;
    }
    if (*p && *p != '-' && *p != '+') return 0;
    for (const char *q = p; *q; q++)
        if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '.' ||
              *q == '-' || *q == '+'))
            return 0;
    *counter = (uint64_t)v[0] * 1000000000000ull + (uint64_t)v[1] * 1000000ull + (uint64_t)v[2];
    return 1;
}

/* "resize=256,crop=224,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,layout=nchw,scale=0.00392,color=rgb" */
static int check_preprocess(const char *spec, char *why, size_t cap) {
    static const char *keys[] = {"resize", "crop", "mean", "std", "layout", "scale", "color", NULL};
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        if (!eq || eq > end || eq == p || eq + 1 == end) {
            snprintf(why, cap, "expected KEY=VALUE items separated by commas");
            return 0;
        }
        int ok = 0;
        for (int k = 0; keys[k]; k++) ok |= (size_t)(eq - p) == strlen(keys[k]) && !strncmp(p, keys[k], (size_t)(eq - p));
        if (!ok) {
            snprintf(why, cap, "unknown key \"%.*s\" (known: resize, crop, mean, std, layout, scale, color)",
                     (int)(eq - p), p);
            return 0;
        }
        p = *end ? end + 1 : end;
    }
    return 1;
}

typedef struct pack_state {
    char dir[4096];
    uint8_t *graph, *weights;
    size_t graph_n, weights_n;
    uint8_t *gold[2 * PACK_MAX_GOLDEN];
    size_t gold_n[2 * PACK_MAX_GOLDEN];
    char *gold_name[2 * PACK_MAX_GOLDEN];
    int n_gold;
    char **labels;
    int n_labels;
    char *label_buf;
} pack_state;

static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[8300];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

static int load_labels(pack_state *ps, const char *path) {
    uint8_t *b;
    size_t n;
    if (!read_file(path, &b, &n)) return cli_usage_error("--labels %s: cannot read the file", path);
    ps->label_buf = realloc(b, n + 1);
    if (!ps->label_buf) return free(b), cli_usage_error("--labels: out of memory");
    ps->label_buf[n] = 0;
    if (memchr(ps->label_buf, 0, n)) return cli_usage_error("--labels %s: holds a NUL byte (expected one label per line)", path);
    int lines = 1;
    for (size_t i = 0; i < n; i++) lines += ps->label_buf[i] == '\n';
    ps->labels = calloc((size_t)lines, sizeof *ps->labels);
    if (!ps->labels) return cli_usage_error("--labels: out of memory");
    char *s = ps->label_buf;
    while (*s) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        size_t L = strlen(s);
        if (L && s[L - 1] == '\r') s[L - 1] = 0;
        if (!cli_utf8_len((const unsigned char *)s) && s[0]) return cli_usage_error("--labels %s: a label is not UTF-8", path);
        ps->labels[ps->n_labels++] = s;
        if (!nl) break;
        s = nl + 1;
    }
    return 0;
}

int cli_pack(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *name = NULL, *semver = "1.0.0", *labels = NULL, *pre = NULL,
               *license = NULL, *sign = NULL, *cert = NULL;
    const char *golden[PACK_MAX_GOLDEN], *devices[PACK_MAX_DEVICES], *expect[PACK_MAX_GOLDEN];
    int n_expect = 0;
    int n_golden = 0, n_devices = 0, json = 0;
    int64_t expires = 365 * 86400LL;
    uint64_t counter = 0;
    int counter_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
#define VAL(what) if (!(v = cli_opt_value(argc, argv, &i, what))) return EXIT_BAD_INPUT
        if (!strcmp(a, "-o")) { VAL("OUT.nne"); out = v; }
        else if (!strcmp(a, "--name")) { VAL("NAME"); name = v; }
        else if (!strcmp(a, "--version")) { VAL("SEMVER"); semver = v; }
        else if (!strcmp(a, "--counter")) {
            VAL("N");
            char *e;
            unsigned long long c = strtoull(v, &e, 10);
            if (!v[0] || *e || v[0] == '-' || c == 0) return cli_usage_error("--counter %s: expected a positive integer", v);
            counter = c;
            counter_given = 1;
        }
        else if (!strcmp(a, "--labels")) { VAL("FILE"); labels = v; }
        else if (!strcmp(a, "--preprocess")) { VAL("SPEC"); pre = v; }
        else if (!strcmp(a, "--license")) { VAL("SPDX-ID"); license = v; }
        else if (!strcmp(a, "--sign")) { VAL("KEY.sec"); sign = v; }
        else if (!strcmp(a, "--cert")) { VAL("KEY.cert"); cert = v; }
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--expires")) {
            VAL("DURATION");
            if (!cli_parse_duration(v, &expires))
                return cli_usage_error("--expires %s: expected a duration like 90s, 12h, 30d, 2w or 1y", v);
        } else if (!strcmp(a, "--golden")) {
            VAL("NAME=IN.npy");
            if (n_golden >= PACK_MAX_GOLDEN) return cli_usage_error("--golden: at most %d inputs", PACK_MAX_GOLDEN);
            if (!strchr(v, '=') || v[0] == '=') return cli_usage_error("--golden %s: expected NAME=IN.npy", v);
            golden[n_golden++] = v;
        } else if (!strcmp(a, "--golden-expect")) {
            VAL("NAME=OUT.npy");
            if (n_expect >= PACK_MAX_GOLDEN) return cli_usage_error("--golden-expect: at most %d outputs", PACK_MAX_GOLDEN);
            if (!strchr(v, '=') || v[0] == '=') return cli_usage_error("--golden-expect %s: expected NAME=OUT.npy", v);
            expect[n_expect++] = v;
        } else if (!strcmp(a, "--encrypt-for")) {
            VAL("DEVICE.pub");
            if (n_devices >= PACK_MAX_DEVICES) return cli_usage_error("--encrypt-for: at most %d devices", PACK_MAX_DEVICES);
            devices[n_devices++] = v;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("pack: unknown option %s", a);
        } else if (!model) {
            model = a;
        } else {
            return cli_usage_error("pack: more than one MODEL (%s and %s)", model, a);
        }
#undef VAL
    }
    if (!model) return cli_usage_error("pack: MODEL is required (nnedge pack MODEL.onnx -o OUT.nne)");
    if (!out) return cli_usage_error("pack: -o OUT.nne is required");
    uint64_t sv_counter;
    if (!parse_semver(semver, &sv_counter))
        return cli_usage_error("--version %s: expected a semantic version MAJOR.MINOR.PATCH (each below 1000000)", semver);
    if (!counter_given) counter = sv_counter;
    if (!counter) return cli_usage_error("--version %s gives version counter 0; give --counter N (N >= 1)", semver);
    char why[200];
    if (pre && !check_preprocess(pre, why, sizeof why)) return cli_usage_error("--preprocess %s: %s", pre, why);
    if (cert && !sign) return cli_usage_error("pack: --cert needs --sign KEY.sec");
    if (n_expect && !n_golden) return cli_usage_error("pack: --golden-expect needs --golden inputs");
    if (sodium_init() < 0) return cli_usage_error("pack: libsodium failed to initialize");

    nne_status st;
    nne_pkg_key sk;
    nne_pkg_key *devs = NULL;
    nne_pkg_cert cr;
    int have_cert = 0;
    if (sign) {
        if ((st = nne_pkg_key_read(sign, NNE_KEY_SIGN_SECRET, &sk)) != NNE_OK) return cli_fail(st, NULL);
        char cp[4200];
        size_t L = strlen(sign);
        if (!cert && L > 4 && L < 4000 && !strcmp(sign + L - 4, ".sec")) {
            snprintf(cp, sizeof cp, "%.*s.cert", (int)(L - 4), sign);
            if (access(cp, F_OK) == 0) cert = cp;
        }
        if (cert) {
            if ((st = nne_pkg_cert_read(cert, &cr)) != NNE_OK) return cli_fail(st, NULL);
            if (memcmp(cr.key, sk.pub, 32) != 0)
                return cli_usage_error("--cert %s: certifies another key than %s", cert, sign);
            if ((int64_t)time(NULL) > cr.not_after)
                return cli_usage_error("--cert %s: the release key's certificate has expired; certify a new release key "
                                       "(nnedge keygen --certify ROOT.sec)", cert);
            have_cert = 1;
        }
    }
    if (n_devices) {
        devs = calloc((size_t)n_devices, sizeof *devs);
        if (!devs) return cli_usage_error("pack: out of memory");
        for (int k = 0; k < n_devices; k++)
            if ((st = nne_pkg_key_read(devices[k], NNE_KEY_DEVICE_PUBLIC, &devs[k])) != NNE_OK) {
                free(devs);
                return cli_fail(st, NULL);
            }
    }
    if (nne_pkg_sniff_file(model)) {
        free(devs);
        return cli_usage_error("pack: %s is already a package; pack the .onnx model it was made from", model);
    }

    pack_state ps;
    memset(&ps, 0, sizeof ps);
    int rc = EXIT_BAD_INPUT;
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_tensor gin[PACK_MAX_GOLDEN];
    const char *gnames[PACK_MAX_GOLDEN];
    char gname_buf[PACK_MAX_GOLDEN][256];
    memset(gin, 0, sizeof gin);
    nne_pkg_tensor_spec *ins = NULL, *outs = NULL;
    uint8_t build_hash[32];
    if (!hash_file(model, build_hash)) {
        rc = cli_usage_error("pack: cannot read %s", model);
        goto done;
    }
    if ((st = nne_model_load_file(model, NULL, &m)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    const char *tmpd = getenv("TMPDIR");
    snprintf(ps.dir, sizeof ps.dir, "%s/nnedge-pack-XXXXXX", tmpd && tmpd[0] ? tmpd : "/tmp");
    if (!mkdtemp(ps.dir)) {
        ps.dir[0] = 0;
        rc = cli_usage_error("pack: cannot create a temporary directory: %s", strerror(errno));
        goto done;
    }
    char path[8300];
    snprintf(path, sizeof path, "%s/graph.onnx", ps.dir);
    nne_save_options so = nne_save_options_default();
    so.external_data = "weights.bin";
    so.external_align = NNE_PKG_TENSOR_ALIGN;
    if ((st = nne_model_save_file(m, path, &so)) != NNE_OK) {
        rc = cli_fail(st, "pack");
        goto done;
    }
    if (!read_file(path, &ps.graph, &ps.graph_n)) {
        rc = cli_usage_error("pack: cannot read back %s", path);
        goto done;
    }
    snprintf(path, sizeof path, "%s/weights.bin", ps.dir);
    if (access(path, F_OK) == 0 && !read_file(path, &ps.weights, &ps.weights_n)) {
        rc = cli_usage_error("pack: cannot read back %s", path);
        goto done;
    }
    /* golden: run the model on the given inputs, keep inputs and outputs as .npy bytes */
    for (int k = 0; k < n_golden; k++) {
        const char *eq = strchr(golden[k], '=');
        size_t nl = (size_t)(eq - golden[k]);
        if (nl >= 256) {
            rc = cli_usage_error("--golden: input name too long");
            goto done;
        }
        memcpy(gname_buf[k], golden[k], nl);
        gname_buf[k][nl] = 0;
        gnames[k] = gname_buf[k];
        if ((st = nne_npy_read_file(eq + 1, &gin[k])) != NNE_OK) {
            rc = cli_fail(st, "--golden");
            goto done;
        }
        uint8_t *b;
        size_t n;
        if (!read_file(eq + 1, &b, &n)) {
            rc = cli_usage_error("--golden %s: cannot read the file", eq + 1);
            goto done;
        }
        ps.gold[ps.n_gold] = b;
        ps.gold_n[ps.n_gold] = n;
        ps.gold_name[ps.n_gold] = gname_buf[k];
        ps.n_gold++;
    }
    int n_golden_in = ps.n_gold;
    if (n_golden) {
        if ((st = nne_session_create(m, NULL, &s)) != NNE_OK || (st = nne_session_prepare(s, n_golden, gnames, gin)) != NNE_OK) {
            rc = cli_fail(st, "--golden");
            goto done;
        }
        for (int k = 0; k < n_golden; k++)
            if ((st = nne_session_set_input(s, gnames[k], &gin[k])) != NNE_OK) {
                rc = cli_fail(st, "--golden");
                goto done;
            }
        if ((st = nne_session_run(s)) != NNE_OK) {
            rc = cli_fail(st, "--golden: the model failed to run");
            goto done;
        }
        for (int o = 0; o < nne_model_num_outputs(m) && ps.n_gold < 2 * PACK_MAX_GOLDEN; o++) {
            nne_value_info vi;
            nne_model_output_info(m, o, &vi);
            nne_tensor t;
            nne_session_output(s, o, &t);
            snprintf(path, sizeof path, "%s/golden-%d.npy", ps.dir, o);
            /* --golden-expect NAME=OUT.npy: the expected output from elsewhere (the training framework) */
            for (int k = 0; k < n_expect; k++) {
                const char *eq = strchr(expect[k], '=');
                if ((size_t)(eq - expect[k]) == strlen(vi.name) && !strncmp(expect[k], vi.name, strlen(vi.name)))
                    snprintf(path, sizeof path, "%s", eq + 1);
            }
            uint8_t *b;
            size_t n;
            if ((strstr(path, ps.dir) == path && (st = nne_npy_write_file(path, &t)) != NNE_OK) || !read_file(path, &b, &n)) {
                rc = cli_fail(st ? st : NNE_ERR_IO, "--golden: writing the expected output");
                goto done;
            }
            ps.gold[ps.n_gold] = b;
            ps.gold_n[ps.n_gold] = n;
            ps.gold_name[ps.n_gold] = (char *)vi.name;
            ps.n_gold++;
        }
    }
    if (labels && load_labels(&ps, labels) != 0) goto done;

    /* inputs/outputs spec */
    int ni = nne_model_num_inputs(m), no = nne_model_num_outputs(m);
    ins = calloc((size_t)ni + 1, sizeof *ins);
    outs = calloc((size_t)no + 1, sizeof *outs);
    if (!ins || !outs) {
        rc = cli_usage_error("pack: out of memory");
        goto done;
    }
    for (int k = 0; k < ni + no; k++) {
        nne_value_info vi;
        nne_pkg_tensor_spec *t = k < ni ? &ins[k] : &outs[k - ni];
        if (k < ni) nne_model_input_info(m, k, &vi);
        else nne_model_output_info(m, k - ni, &vi);
        t->name = (char *)vi.name;
        t->dtype = vi.dtype;
        t->ndim = vi.ndim;
        for (int d = 0; d < vi.ndim && d < NNE_MAX_DIMS; d++) t->dims[d] = vi.dims[d] < 0 ? -1 : vi.dims[d];
    }
    /* segments: graph, weights, golden inputs and outputs */
    nne_pkg_input_seg segs[2 + 2 * PACK_MAX_GOLDEN];
    char segname[2 * PACK_MAX_GOLDEN][300];
    int nseg = 0;
    segs[nseg++] = (nne_pkg_input_seg){.name = "graph.onnx", .kind = NNE_SEG_GRAPH, .data = ps.graph, .size = ps.graph_n};
    if (ps.weights_n)
        segs[nseg++] = (nne_pkg_input_seg){.name = "weights.bin", .kind = NNE_SEG_DATA, .data = ps.weights, .size = ps.weights_n};
    for (int k = 0; k < ps.n_gold; k++) {
        snprintf(segname[k], sizeof segname[k], "%s", ps.gold_name[k]);
        segs[nseg++] = (nne_pkg_input_seg){.name = segname[k], .kind = k < n_golden_in ? NNE_SEG_GOLDEN_IN : NNE_SEG_GOLDEN_OUT,
                                           .data = ps.gold[k], .size = ps.gold_n[k]};
    }
    for (int a = 0; a < nseg; a++)
        for (int b = 0; b < a; b++)
            if (segs[a].kind != NNE_SEG_GRAPH && !strcmp(segs[a].name, segs[b].name)) {
                rc = cli_usage_error("pack: two package segments would be named \"%s\" (a golden input and output share a name?)",
                                     segs[a].name);
                goto done;
            }
    char idbuf[256];
    if (!name) {
        const char *base = strrchr(model, '/');
        base = base ? base + 1 : model;
        snprintf(idbuf, sizeof idbuf, "%s", base);
        char *dot = strrchr(idbuf, '.');
        if (dot && dot != idbuf) *dot = 0;
        name = idbuf;
    }
    int64_t now = (int64_t)time(NULL);
    nne_pkg_build bld = {
        .man = {.model_id = (char *)name, .semver = (char *)semver, .license = (char *)license, .preprocess = (char *)pre,
                .counter = counter, .created = now, .not_after = now + expires, .n_inputs = ni, .n_outputs = no,
                .inputs = ins, .outputs = outs, .n_labels = ps.n_labels, .labels = ps.labels},
        .n_segs = nseg, .segs = segs, .sign = sign ? &sk : NULL, .cert = have_cert ? &cr : NULL,
        .n_devices = n_devices, .devices = devs};
    memcpy(bld.man.build_hash, build_hash, 32);
    if ((st = nne_pkg_write(out, &bld)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    if (json) {
        printf("{\"package\": ");
        json_str(stdout, out);
        printf(", \"model_id\": ");
        json_str(stdout, name);
        printf(", \"version\": ");
        json_str(stdout, semver);
        printf(", \"counter\": %llu, \"signed\": %s, \"certified\": %s, \"recipients\": %d, \"golden_outputs\": %d}\n",
               (unsigned long long)counter, sign ? "true" : "false", have_cert ? "true" : "false", n_devices,
               ps.n_gold - n_golden_in);
    } else {
        printf("packed %s: %s %s (counter %llu), %s%s, %d segment(s)%s\n", out, name, semver, (unsigned long long)counter,
               sign ? "signed" : "unsigned", have_cert ? " by a certified release key" : "", nseg,
               n_devices ? ", encrypted" : "");
    }
    rc = EXIT_OK;
done:
    sodium_memzero(&sk, sizeof sk);
    nne_session_destroy(s);
    nne_model_destroy(m);
    for (int k = 0; k < n_golden; k++) nne_tensor_free_data(&gin[k]);
    for (int k = 0; k < ps.n_gold; k++) free(ps.gold[k]);
    free(ps.graph);
    free(ps.weights);
    free(ps.labels);
    free(ps.label_buf);
    free(ins);
    free(outs);
    free(devs);
    if (ps.dir[0]) rm_dir(ps.dir);
    return rc;
}
