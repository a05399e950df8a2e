/* rpc.h — the gRPC server of vqdb on the gRPC C core API (grpc/grpc.h). A fixed pool of
 * worker threads drains one completion queue; every in-flight RPC is one call object that
 * moves through a small state machine (see server.c). Methods are looked up by path in a
 * table filled with vqr_server_add_method before start; unknown paths get UNIMPLEMENTED.
 *
 * Handlers receive the serialized request bytes and return serialized response bytes (the
 * protobuf-c packing is theirs, in the handler files), or a vq error code whose gRPC status
 * comes from VQ_ERRNO_MAP, with the vq_err message (which names the field) as the details.
 *
 * Thread safety: handlers run concurrently on the worker threads; whatever they share must
 * be thread safe (the engine is). vqr_server_shutdown may be called from any thread, once.
 */
#ifndef VQ_RPC_H
#define VQ_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vqr_server vqr_server;

#define VQR_THREADS_DEFAULT 4u
#define VQR_THREADS_MAX 256u
#define VQR_MAX_MSG_DEFAULT (64u << 20)
#define VQR_MAX_MSG_MIN 1024u
#define VQR_MAX_MSG_MAX (1u << 30)

typedef struct vqr_server_params {
    const char *listen;   /* "127.0.0.1:50051" by default; port 0 picks a free one */
    unsigned threads;     /* completion-queue workers */
    size_t max_message;   /* bytes; larger requests get RESOURCE_EXHAUSTED */
    const char *token;    /* bearer token required on every method but health; NULL: off */
    const char *tls_cert; /* PEM file paths; both set: TLS, else plaintext */
    const char *tls_key;
    double default_timeout; /* seconds applied when a call has no deadline; 0: none */
    int log_requests;       /* one structured line per request on stderr (debug level) */
} vqr_server_params;

void vqr_server_params_default(vqr_server_params *p);

/* Per-call context handed to handlers. */
typedef struct vqr_call_ctx {
    const char *method; /* the path, "/vqdb.v1.VectorDB/Search" */
    double deadline;    /* vq_now() seconds at which the call expires; 0: none */
    void *user;         /* the pointer given to vqr_server_add_method */
} vqr_call_ctx;

/* A unary handler: req/req_len is the request message; on success *resp is a buffer
 * allocated with vq_malloc (the server frees it) holding the packed response. */
typedef int (*vqr_unary_fn)(const vqr_call_ctx *ctx, const uint8_t *req, size_t req_len,
                            uint8_t **resp, size_t *resp_len, vq_err *err);

/* A client-streaming handler: begin creates per-call state, each message is handed to
 * message in order (an error ends the call with that status), finish produces the single
 * response, and end frees the state whatever happened. */
typedef struct vqr_stream_fns {
    int (*begin)(const vqr_call_ctx *ctx, void **state, vq_err *err);
    int (*message)(const vqr_call_ctx *ctx, void *state, const uint8_t *msg, size_t len,
                   vq_err *err);
    int (*finish)(const vqr_call_ctx *ctx, void *state, uint8_t **resp, size_t *resp_len,
                  vq_err *err);
    void (*end)(void *state);
} vqr_stream_fns;

int vqr_server_new(const vqr_server_params *p, vqr_server **out, vq_err *err);
/* Methods must be added before vqr_server_start. `public_method` exempts it from auth. */
int vqr_server_add_unary(vqr_server *s, const char *path, vqr_unary_fn fn, void *user,
                         int public_method, vq_err *err);
int vqr_server_add_stream(vqr_server *s, const char *path, const vqr_stream_fns *fns, void *user,
                          vq_err *err);
/* Binds and starts the workers. The bound port is reported by vqr_server_port. */
int vqr_server_start(vqr_server *s, vq_err *err);
int vqr_server_port(const vqr_server *s);
/* Stops accepting calls, lets in-flight calls finish for up to grace seconds, cancels the
 * rest, and joins the workers. Health reports NOT_SERVING from the moment it is called. */
void vqr_server_shutdown(vqr_server *s, double grace);
int vqr_server_is_shutting_down(const vqr_server *s);
void vqr_server_free(vqr_server *s);

/* The most searches one SearchBatch may carry (the service's limit; loadgen checks --batch
 * against it). */
#define VQR_BATCH_MAX 1024u

/* Log sink for structured lines (one JSON object per line): errors always, every request
 * when params.log_requests is set. The library itself never prints. Without log_requests,
 * error lines are limited to VQR_ERROR_LINES_PER_S a second (a client repeating a bad
 * request must not flood the log or stall workers on a slow sink); the first line of the
 * next window says how many were dropped ({"event":"log_suppressed","lines":N}). */
#define VQR_ERROR_LINES_PER_S 50u
void vqr_server_set_log(vqr_server *s, void (*log)(void *ctx, const char *line), void *ctx);

/* Registers the standard /grpc.health.v1.Health/Check (public). */
int vqr_health_register(vqr_server *s, vq_err *err);

/* Counters for tests and logs. */
typedef struct vqr_stats {
    uint64_t calls, errors, unauthenticated, unimplemented, in_flight;
    uint64_t log_suppressed; /* error lines dropped by the rate limit */
} vqr_stats;
void vqr_server_stats(const vqr_server *s, vqr_stats *st);

/* A blocking unary client (rpc/client.c) for loadgen and tests. A client may be shared by
 * threads. *resp (vq_malloc'd, may be NULL) holds the response bytes when *status is 0;
 * details receives the status message. Returns VQ_OK when a status was received. */
typedef struct vqr_client vqr_client;
int vqr_client_new(const char *target, const char *token, vqr_client **out, vq_err *err);
void vqr_client_free(vqr_client *c);
/* spin != 0: a call waits for its reply by polling (burning its CPU) instead of sleeping.
 * For measurement: the server's send then has no sleeping thread to wake, which on a VM where
 * a cross-CPU wake-up is a hypercall is a large part of a loopback call's server-side cost,
 * and one that a client on another machine does not impose (bench/results/rpc5.md). */
void vqr_client_set_spin(vqr_client *c, int spin);
int vqr_client_call(vqr_client *c, const char *method, const uint8_t *req, size_t len,
                    double timeout_s, uint8_t **resp, size_t *resp_len, int *status, char *details,
                    size_t details_cap);

#ifdef __cplusplus
}
#endif
#endif
