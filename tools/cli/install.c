/* install.c - placeholder replaced below */
#include "cli.h"
int cli_install(int argc, char **argv) { (void)argc; (void)argv; return cli_usage_error("install: not yet"); }
