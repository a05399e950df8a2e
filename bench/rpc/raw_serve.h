/* raw_serve.h — rpc_inproc's raw-socket window: the searches of the in-process windows, served
 * over one loopback connection with no RPC stack (bench/rpc_overhead.sh, RAW=1). */
#ifndef VQ_BENCH_RAW_SERVE_H
#define VQ_BENCH_RAW_SERVE_H
#include <stdint.h>

#include "engine.h"
#include "readers.h"

typedef struct raw_result {
    uint64_t calls;
    double server_cpu_s; /* this process's CPU over the window (the client is another process) */
    double wall_s;
} raw_result;

/* Forks a client that sends the rows of q in turn (a 4-byte row number, then the vector) for
 * secs seconds, one call in flight; this process answers each with vqe_search(c, row, sp)
 * (k hits: a 4-byte count, then id and score per hit). client_cpu: that CPU, or -2 for any;
 * spin: the client polls for replies instead of sleeping. Returns 0, or -1 when the client
 * could not be run. */
int raw_serve(vqe_collection *c, const vq_matrix *q, const vqe_search_params *sp, double secs,
              int client_cpu, int spin, raw_result *out);

#endif
