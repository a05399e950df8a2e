/* cli.c — error printing and the progress bar shared by the subcommands. */
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

int vq_cli_fail(const char *cmd, int rc, const vq_err *err) {
    if (err && err->msg[0])
        fprintf(stderr, "vqdb %s: %s%s%s%s\n", cmd, err->msg, err->field[0] ? " (field: " : "",
                err->field, err->field[0] ? ")" : "");
    else
        fprintf(stderr, "vqdb %s: %s\n", cmd, vq_strerror(rc));
    return 1;
}

void vq_progress_start(vq_progress *p, const char *label, size_t total) {
    p->label = label;
    p->total = total;
    p->start = p->last = vq_now();
    p->tty = isatty(2);
    p->shown = 0;
}

void vq_progress_update(vq_progress *p, size_t done) {
    if (!p->tty) return;
    double now = vq_now();
    if (now - p->start < 1.0 || now - p->last < 0.1) return;
    p->last = now;
    p->shown = 1;
    int width = 40, fill = p->total ? (int)((double)done / (double)p->total * width) : 0;
    fprintf(stderr, "\r%-12s [", p->label);
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : ' ', stderr);
    double rate = (double)done / (now - p->start);
    fprintf(stderr, "] %zu/%zu %.0f/s eta %.0fs ", done, p->total, rate,
            rate > 0 ? (double)(p->total - done) / rate : 0.0);
    fflush(stderr);
}

void vq_progress_end(vq_progress *p) {
    if (p->shown) fprintf(stderr, "\r%80s\r", "");
}
