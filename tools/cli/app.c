/*
 * app.c - `nnedge app <name> ...`: end-to-end applications built on the
 * pre/post-processing pipeline. One file per application (app_<name>.c);
 * this file only dispatches, so applications are added by one table line.
 */
#include "app.h"

#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} apps[] = {
    {"ocr", cli_app_ocr, "ocr IMAGE... [--models DIR] [--json] [--threads N]"},
    {"classify", cli_app_classify,
     "classify MODEL IMAGE... [--labels FILE] [--top K] [--preprocess SPEC] [--json] [--threads N]"},
};

int cli_app(int argc, char **argv) {
    int n = (int)(sizeof apps / sizeof apps[0]);
    if (argc >= 2)
        for (int i = 0; i < n; i++)
            if (!strcmp(argv[1], apps[i].name)) return apps[i].fn(argc - 1, argv + 1);
    int help = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
    FILE *f = help ? stdout : stderr;
    if (argc >= 2 && !help) fprintf(f, "nnedge: app: unknown application \"%s\"\n", argv[1]);
    fprintf(f, "usage:\n");
    for (int i = 0; i < n; i++) fprintf(f, "  nnedge app %s\n", apps[i].usage);
    return help ? EXIT_OK : EXIT_BAD_INPUT;
}
