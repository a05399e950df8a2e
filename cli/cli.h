/* cli.h — helpers shared by the subcommands: error reporting and a progress bar that
 * appears only when stderr is a terminal and the work takes over a second. */
#ifndef VQ_CLI_H
#define VQ_CLI_H

#include <stddef.h>

#include "vq.h"

/* Prints "vqdb <cmd>: <message> (<field>)" for a failed call and returns exit status 1. */
int vq_cli_fail(const char *cmd, int rc, const vq_err *err);

typedef struct vq_progress {
    const char *label;
    size_t total;
    double start, last;
    int tty, shown;
} vq_progress;
void vq_progress_start(vq_progress *p, const char *label, size_t total);
void vq_progress_update(vq_progress *p, size_t done);
void vq_progress_end(vq_progress *p);

#endif
