/*
 * dump.c - `nnedge run --dump DIR`: an observer that writes every output of
 * every top-level node as DIR/<seq>_<name>.npy during the run, and an index
 * DIR/index.json that maps each node to its op and its output names to the
 * files. File names are unique (a running number) and safe (only
 * [A-Za-z0-9._-], at most 80 characters of the name, the rest replaced by a
 * hash). Values that are not tensors (sequences) are listed with file null.
 * Nodes inside If/Loop/Scan bodies come too (the library's observer reports
 * them before the node that runs the body), named with their scope path
 * "<node>/<attribute>/[iter<k>/]<body node>", once per run of the body.
 * A Loop runs its body up to a million times, so the dump stops with an
 * error after DUMP_MAX_FILES files (env NNE_DUMP_MAX_FILES changes it)
 * instead of filling the disk.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define DUMP_MAX_FILES 100000

typedef struct dump_out {
    char *name;
    char *file; /* NULL: not written (not a tensor) */
} dump_out;

typedef struct dump_node {
    char *name, *op;
    int n;
    dump_out *outs;
} dump_node;

struct cli_dump {
    char dir[2048];
    int seq;
    long max_files;
    int n_nodes, cap;
    dump_node *nodes;
    nne_status err;  /* first failure, reported after the run */
    char errmsg[512];
};

static char *dup_s(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* "<seq>_<safe name>.npy"; names longer than 80 characters keep their start
 * and get the FNV-1a hash of the whole name. */
static void safe_name(int seq, const char *name, char *out, size_t cap) {
    char buf[96];
    size_t k = 0, len = strlen(name);
    for (size_t i = 0; name[i] && k < 80; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                 c == '-' || c == '_';
        buf[k++] = ok ? c : '_';
    }
    buf[k] = 0;
    if (len > 80) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)name[i]) * 16777619u;
        snprintf(out, cap, "%05d_%s_%08x.npy", seq, buf, h);
    } else {
        snprintf(out, cap, "%05d_%s.npy", seq, buf);
    }
}

static void dump_observe(void *user, const char *node_name, const char *op_type, int32_t n,
                         const char *const *names, const nne_tensor *outs) {
    cli_dump *d = user;
    if (d->err != NNE_OK) return;
    if (d->n_nodes == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        dump_node *p = realloc(d->nodes, (size_t)cap * sizeof *p);
        if (!p) goto oom;
        d->nodes = p;
        d->cap = cap;
    }
    dump_node *nd = &d->nodes[d->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->name = dup_s(node_name);
    nd->op = dup_s(op_type);
    nd->outs = calloc((size_t)(n > 0 ? n : 1), sizeof *nd->outs);
    d->n_nodes++;
    if (!nd->name || !nd->op || !nd->outs) goto oom;
    for (int i = 0; i < n; i++) {
        nd->n++;
        nd->outs[i].name = dup_s(names[i]);
        if (!nd->outs[i].name) goto oom;
        if (!outs[i].data && outs[i].dtype == NNE_DTYPE_UNDEFINED) continue;
        if (d->seq >= d->max_files) {
            d->err = NNE_ERR_LIMIT;
            snprintf(d->errmsg, sizeof d->errmsg,
                     "--dump: stopped after %ld files (nodes inside Loop/Scan bodies are written once per iteration); "
                     "set NNE_DUMP_MAX_FILES to allow more", d->max_files);
            return;
        }
        char fname[160], full[2400];
        safe_name(d->seq++, names[i], fname, sizeof fname);
        snprintf(full, sizeof full, "%s/%s", d->dir, fname);
        nne_status st = nne_npy_write_file(full, &outs[i]);
        if (st != NNE_OK) {
            d->err = st;
            snprintf(d->errmsg, sizeof d->errmsg, "--dump: %s", nne_last_error());
            return;
        }
        nd->outs[i].file = dup_s(fname);
        if (!nd->outs[i].file) goto oom;
    }
    return;
oom:
    d->err = NNE_ERR_OUT_OF_MEMORY;
    snprintf(d->errmsg, sizeof d->errmsg, "--dump: out of memory");
}

cli_dump *cli_dump_create(const char *dir) {
    cli_dump *d = calloc(1, sizeof *d);
    if (d) {
        snprintf(d->dir, sizeof d->dir, "%s", dir);
        const char *e = getenv("NNE_DUMP_MAX_FILES");
        d->max_files = e && atol(e) > 0 ? atol(e) : DUMP_MAX_FILES;
    }
    return d;
}

void cli_dump_attach(cli_dump *d, nne_session *s) { nne_session_set_observer(s, dump_observe, d); }

const char *cli_dump_error(const cli_dump *d) { return d->err != NNE_OK ? d->errmsg : NULL; }

/* index.json: {"nodes": [{"name", "op", "outputs": {name: file|null}}]} */
int cli_dump_write_index(const cli_dump *d) {
    char path[2400];
    snprintf(path, sizeof path, "%s/index.json", d->dir);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    fprintf(f, "{\"nodes\": [");
    for (int i = 0; i < d->n_nodes; i++) {
        const dump_node *nd = &d->nodes[i];
        fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
        json_str(f, nd->name ? nd->name : "");
        fprintf(f, ", \"op\": ");
        json_str(f, nd->op ? nd->op : "");
        fprintf(f, ", \"outputs\": {");
        for (int k = 0; k < nd->n; k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_str(f, nd->outs[k].name ? nd->outs[k].name : "");
            fprintf(f, ": ");
            if (nd->outs[k].file) json_str(f, nd->outs[k].file);
            else fprintf(f, "null");
        }
        fprintf(f, "}}");
    }
    fprintf(f, "\n]}\n");
    return fclose(f) == 0;
}

void cli_dump_destroy(cli_dump *d) {
    if (!d) return;
    for (int i = 0; i < d->n_nodes; i++) {
        for (int k = 0; k < d->nodes[i].n; k++) {
            free(d->nodes[i].outs[k].name);
            free(d->nodes[i].outs[k].file);
        }
        free(d->nodes[i].outs);
        free(d->nodes[i].name);
        free(d->nodes[i].op);
    }
    free(d->nodes);
    free(d);
}
