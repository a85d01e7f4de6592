/*
 * main.c - nnedge-agent, the program `nnedge agent` runs (src/fleet/agent.c;
 * docs/fleet.md). It links only libmosquitto, jansson, libc and pthreads,
 * which keeps the agent's resident memory under 5 MB; every heavy step runs
 * in a child process of the nnedge command given by --nnedge (by default
 * the nnedge beside this program).
 */
#include "fleet/fleet.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    fleet_agent_config c;
    char err[1200];
    if (!fleet_agent_parse(argc, argv, &c, err, sizeof err)) {
        fprintf(stderr, "nnedge: %s\n", err);
        return 2;
    }
    static char nn[PATH_MAX + 16];
    if (!c.nnedge) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            fprintf(stderr, "nnedge: agent: cannot read /proc/self/exe; give --nnedge PATH\n");
            return 2;
        }
        self[n] = 0;
        char *slash = strrchr(self, '/');
        snprintf(nn, sizeof nn, "%.*s/nnedge", slash ? (int)(slash - self) : 1, slash ? self : ".");
        c.nnedge = nn;
    }
    return fleet_agent_run(&c);
}
