/* `nnedge agent`: see docs/fleet.md. Placeholder until issue 13 lands: it
 * refuses to run rather than pretend. */
#include "cli.h"

int cli_agent(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return cli_usage_error("agent: not available in this build yet (issue 13)");
}
