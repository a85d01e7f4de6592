/*
 * app.c - `nnedge app NAME ...`: applications built from several models and
 * the pre/post-processing of src/pipeline (app_<name>.c, one per app).
 */
#include "cli.h"

#include <string.h>

int cli_app(int argc, char **argv) {
    if (argc < 2) return cli_usage_error("app: no application given (nnedge app wakeword ...)");
    if (!strcmp(argv[1], "wakeword")) return cli_app_wakeword(argc - 1, argv + 1);
    return cli_usage_error("app: unknown application %s (known: wakeword)", argv[1]);
}
