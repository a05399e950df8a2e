/* internal.h — private to rpc/: the server struct and the method table. */
#ifndef VQ_RPC_INTERNAL_H
#define VQ_RPC_INTERNAL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "rpc.h"

enum { VQR__UNARY, VQR__STREAM };

typedef struct vqr__method {
    char *path;
    int kind;
    int public_method;
    vqr_unary_fn unary;
    vqr_stream_fns stream;
    void *user;
    void *registered; /* grpc_server_register_method's handle (unary methods), after start */
} vqr__method;

struct vqr_server {
    vqr_server_params p;
    char listen[256];
    char *token;
    double default_timeout;
    int log_requests;
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    vqr__method *methods;
    size_t n_methods;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t *workers;
    unsigned n_workers;
    int port, started, grpc_inited;
    atomic_int shutting_down;
    int shutdown_done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint_fast64_t calls, errors, unauthenticated, unimplemented, in_flight;
    /* error-line rate limit (log_call): lines in the current one-second window, lines
     * dropped in it, and dropped in all */
    double log_window;
    unsigned log_lines;
    uint64_t log_dropped;
    atomic_uint_fast64_t log_dropped_total;
};

const vqr__method *vqr__method_find(const vqr_server *s, const char *path);
void vqr__methods_free(vqr_server *s);
/* Constant-time check of "authorization: Bearer <token>" among the request metadata. */
int vqr__auth_ok(const char *token, const grpc_metadata_array *md);

#endif
