/*
 * load_rss.c - how much private memory loading a model costs.
 *
 *   load_rss MODEL [MAX_MB]
 *
 * Reads Private_Dirty and Anonymous from /proc/self/smaps_rollup before the
 * load, after nne_model_load_file and after nne_session_create (which copies
 * weights the file holds at unaligned addresses), and prints the growth in
 * KiB. With MAX_MB, exits 1 when loading grew private memory by more than
 * that (the bound: a 100 MB model adds at most 5 MB before prepare).
 */
#include "nnedge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long field_kb(const char *name) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') v = atol(line + n + 1);
    fclose(f);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: load_rss MODEL [MAX_MB]\n");
        return 2;
    }
    long pd0 = field_kb("Private_Dirty"), an0 = field_kb("Anonymous");
    if (pd0 < 0) {
        fprintf(stderr, "load_rss: /proc/self/smaps_rollup is not readable\n");
        return 2;
    }
    nne_model *m = NULL;
    if (nne_model_load_file(argv[1], NULL, &m) != NNE_OK) {
        fprintf(stderr, "%s\n", nne_last_error());
        return 2;
    }
    long pd1 = field_kb("Private_Dirty"), an1 = field_kb("Anonymous");
    nne_session *s = NULL;
    if (nne_session_create(m, NULL, &s) != NNE_OK) {
        fprintf(stderr, "%s\n", nne_last_error());
        return 2;
    }
    long pd2 = field_kb("Private_Dirty"), an2 = field_kb("Anonymous");
    printf("%s: load: +%ld KiB private dirty, +%ld KiB anonymous; session create: +%ld KiB private dirty, "
           "+%ld KiB anonymous\n",
           argv[1], pd1 - pd0, an1 - an0, pd2 - pd1, an2 - an1);
    nne_session_destroy(s);
    nne_model_destroy(m);
    if (argc > 2) {
        long max_kb = atol(argv[2]) * 1024;
        long grew = pd1 - pd0 > an1 - an0 ? pd1 - pd0 : an1 - an0;
        if (grew > max_kb) {
            fprintf(stderr, "load_rss: loading %s added %ld KiB of private memory, more than %s MB\n", argv[1], grew,
                    argv[2]);
            return 1;
        }
    }
    return 0;
}
