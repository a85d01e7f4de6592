/* `nnedge fleet`: see docs/fleet.md. Placeholder until issue 13 lands: it
 * refuses to run rather than pretend. */
#include "cli.h"

int cli_fleet(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_usage_error("fleet: not available in this build yet (issue 13)");
}
