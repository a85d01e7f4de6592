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
} apps[] = {
    {"wakeword", cli_app_wakeword},
    {"ocr", cli_app_ocr},
    {"classify", cli_app_classify},
};

/* The usage lines are main.c's verb table (`nnedge app --help`). */
int cli_app(int argc, char **argv) {
    int n = (int)(sizeof apps / sizeof apps[0]);
    if (argc >= 2)
        for (int i = 0; i < n; i++)
            if (!strcmp(argv[1], apps[i].name)) return apps[i].fn(argc - 1, argv + 1);
    if (argc < 2) return cli_usage_error("app: no application given (nnedge app --help lists them)");
    return cli_usage_error("app: unknown application \"%s\" (nnedge app --help lists them)", argv[1]);
}
