/* server.c — completion-queue workers and the per-call state machine.
 *
 * One completion queue, drained by `threads` workers; a worker runs the handler of the event
 * it dequeued itself (no hand-off to another thread). Every unary method is registered with
 * gRPC (grpc_server_register_method, payload read before the call is reported), and a pool
 * of outstanding grpc_server_request_registered_call()s per method accepts its calls: the
 * request message arrives with the call, so a unary call costs two batches (accept, then
 * response + status) and two completion-queue events. Streaming and unknown methods go
 * through a pool of generic grpc_server_request_call()s. Each accepted call is a
 * `struct call` whose pointer is the tag of every batch it starts, and whose `st` says which
 * batch completed:
 *
 *   REQUESTED --(accepted)--> check auth (look up the method: generic calls)
 *        |-- unknown/unauthenticated --> FINISHING (status only)
 *        |-- unary (registered): run handler --> FINISHING (metadata + message + status)
 *        '-- stream: SEND_INITIAL_METADATA + RECV_MESSAGE --> RECEIVING
 *   RECEIVING --(message)--> stream: handler->message, RECV_MESSAGE again --> RECEIVING
 *             --(end of client stream)--> stream: finish --> FINISHING
 *   FINISHING --(done)--> free
 *
 * Only one batch of a call is in flight at a time, so a call is touched by one worker at a
 * time and needs no lock. Server-wide counters are atomics.
 *
 * Shutdown: grpc_server_shutdown_and_notify stops new calls (clients get UNAVAILABLE),
 * in-flight calls run on; after the grace period grpc_server_cancel_all_calls; once the
 * notify tag arrives the queue is shut down and the workers exit when it drains. */
#include <dlfcn.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void vqr_server_params_default(vqr_server_params *p) {
    memset(p, 0, sizeof *p);
    p->listen = "127.0.0.1:50051";
    p->threads = VQR_THREADS_DEFAULT;
    p->max_message = VQR_MAX_MSG_DEFAULT;
}

enum state { ST_REQUESTED, ST_RECEIVING, ST_FINISHING };

struct call {
    vqr_server *s;
    enum state st;
    grpc_call *call;
    grpc_call_details details;
    const vqr__method *reg; /* the registered method this request was for (NULL: generic) */
    gpr_timespec reg_deadline;
    grpc_metadata_array req_md;
    grpc_byte_buffer *recv;
    const vqr__method *m;
    vqr_call_ctx ctx;
    void *stream_state;
    int stream_begun;
    int cancelled;    /* RECV_CLOSE_ON_SERVER result */
    int want_initial; /* a unary call's initial metadata goes out with its response */
    grpc_byte_buffer *send;
    grpc_slice status_details;
    int has_details;
    double started;
    char method[128];
};

static char g_shutdown_tag;

/* The request's bytes: borrowed from the byte buffer when it is one uncompressed slice (the
 * usual case for requests of a few KB; no copy), else copied into *owned (to vq_free). */
static int read_payload(grpc_byte_buffer *bb, const uint8_t **out, size_t *len, uint8_t **owned) {
    *owned = NULL;
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1) {
        grpc_slice sl = bb->data.raw.slice_buffer.slices[0];
        *out = GRPC_SLICE_START_PTR(sl);
        *len = GRPC_SLICE_LENGTH(sl);
        return VQ_OK;
    }
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) return VQ_EINTERNAL;
    grpc_slice all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    size_t n = GRPC_SLICE_LENGTH(all);
    uint8_t *p = vq_malloc(n ? n : 1);
    if (!p) {
        grpc_slice_unref(all);
        return VQ_ENOMEM;
    }
    memcpy(p, GRPC_SLICE_START_PTR(all), n);
    grpc_slice_unref(all);
    *out = *owned = p;
    *len = n;
    return VQ_OK;
}

static void call_free(struct call *c) {
    vqr_server *s = c->s;
    if (c->stream_begun && c->m && c->m->stream.end) c->m->stream.end(c->stream_state);
    if (c->recv) grpc_byte_buffer_destroy(c->recv);
    if (c->send) grpc_byte_buffer_destroy(c->send);
    if (c->has_details) grpc_slice_unref(c->status_details);
    grpc_metadata_array_destroy(&c->req_md);
    grpc_call_details_destroy(&c->details);
    if (c->call) grpc_call_unref(c->call);
    free(c);
    atomic_fetch_sub(&s->in_flight, 1);
}

/* Posts one request for a new call: of registered method `m`, or generic when m is NULL. */
static void request_one(vqr_server *s, const vqr__method *m) {
    struct call *c = calloc(1, sizeof *c);
    if (!c) return; /* the pool shrinks by one; the remaining requests keep serving */
    c->s = s;
    c->st = ST_REQUESTED;
    c->reg = m;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->req_md);
    atomic_fetch_add(&s->in_flight, 1);
    grpc_call_error e =
        m ? grpc_server_request_registered_call(s->server, m->registered, &c->call,
                                                &c->reg_deadline, &c->req_md, &c->recv, s->cq,
                                                s->cq, c)
          : grpc_server_request_call(s->server, &c->call, &c->details, &c->req_md, s->cq, s->cq, c);
    if (e != GRPC_CALL_OK) call_free(c);
}

/* Admits an error line under the per-second limit; *dropped gets the count of the window
 * that just ended when this line opens a new one (to be reported first). */
static int log_admit(vqr_server *s, uint64_t *dropped) {
    *dropped = 0;
    double now = vq_now();
    pthread_mutex_lock(&s->mu);
    if (now - s->log_window >= 1.0) {
        *dropped = s->log_dropped;
        s->log_window = now;
        s->log_lines = 0;
        s->log_dropped = 0;
    }
    int ok = s->log_lines < VQR_ERROR_LINES_PER_S;
    if (ok)
        s->log_lines++;
    else
        s->log_dropped++;
    pthread_mutex_unlock(&s->mu);
    if (!ok) atomic_fetch_add(&s->log_dropped_total, 1);
    return ok;
}

static void log_call(struct call *c, int status, const char *msg) {
    vqr_server *s = c->s;
    if (!s->log) return;
    if (!s->log_requests && status == 0) return;
    if (!s->log_requests) {
        uint64_t dropped;
        if (!log_admit(s, &dropped)) return;
        if (dropped) {
            char note[96];
            snprintf(note, sizeof note, "{\"event\":\"log_suppressed\",\"lines\":%llu}",
                     (unsigned long long)dropped);
            s->log(s->log_ctx, note);
        }
    }
    char line[512];
    snprintf(line, sizeof line,
             "{\"event\":\"rpc\",\"method\":\"%s\",\"status\":%d,\"ms\":%.3f%s%s%s}", c->method,
             status, 1e3 * (vq_now() - c->started), msg && *msg ? ",\"error\":\"" : "",
             msg && *msg ? msg : "", msg && *msg ? "\"" : "");
    for (char *p = line; *p; p++)
        if (*p == '\n') *p = ' ';
    s->log(s->log_ctx, line);
}

/* Ends the call: optional response message, then the status; one batch. Takes `resp` (a
 * vq_malloc'd buffer, or NULL): the response slice points at it and frees it. */
static void finish(struct call *c, int grpc_status, const char *msg, uint8_t *resp, size_t resp_len,
                   int send_initial) {
    /* Unary calls defer their initial metadata to here, so headers, message and trailers
     * leave in one write (measured: an early header write cost a send and a client wake-up
     * per call). */
    if (c->want_initial) send_initial = 1, c->want_initial = 0;
    grpc_op ops[4];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (send_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = 0;
        n++;
    }
    if (resp) {
        grpc_slice sl = resp_len ? grpc_slice_new(resp, resp_len, vq_free) : grpc_empty_slice();
        if (!resp_len) vq_free(resp);
        c->send = grpc_raw_byte_buffer_create(&sl, 1);
        grpc_slice_unref(sl);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->send;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.trailing_metadata_count = 0;
    ops[n].data.send_status_from_server.status = (grpc_status_code)grpc_status;
    if (msg && *msg) {
        c->status_details = grpc_slice_from_copied_string(msg);
        c->has_details = 1;
        ops[n].data.send_status_from_server.status_details = &c->status_details;
    }
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
    n++;
    if (grpc_status != 0) atomic_fetch_add(&c->s->errors, 1);
    log_call(c, grpc_status, msg);
    c->st = ST_FINISHING;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) call_free(c);
}

static void finish_err(struct call *c, int rc, const vq_err *err, int send_initial) {
    char msg[400];
    if (err && err->msg[0]) {
        if (err->field[0] && !strstr(err->msg, err->field))
            snprintf(msg, sizeof msg, "%s: %s", err->field, err->msg);
        else
            snprintf(msg, sizeof msg, "%s", err->msg);
    } else {
        snprintf(msg, sizeof msg, "%s", vq_strerror(rc));
    }
    finish(c, vq_grpc_status(rc), msg, NULL, 0, send_initial);
}

static void start_recv(struct call *c, int send_initial) {
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    if (send_initial) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n].data.recv_message.recv_message = &c->recv;
    n++;
    c->st = ST_RECEIVING;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) call_free(c);
}

static double deadline_of(gpr_timespec deadline, double default_timeout) {
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    gpr_timespec dl = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
    if (gpr_time_cmp(dl, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0)
        return default_timeout > 0 ? vq_now() + default_timeout : 0;
    gpr_timespec left = gpr_time_sub(dl, now);
    return vq_now() + (double)left.tv_sec + 1e-9 * (double)left.tv_nsec;
}

static void on_received(struct call *c, int ok);

static void on_accepted(struct call *c) {
    vqr_server *s = c->s;
    atomic_fetch_add(&s->calls, 1);
    c->started = vq_now();
    if (c->reg) {
        size_t ml = strlen(c->reg->path);
        if (ml >= sizeof c->method) ml = sizeof c->method - 1;
        memcpy(c->method, c->reg->path, ml);
        c->method[ml] = '\0';
        c->m = c->reg;
    } else {
        size_t ml = GRPC_SLICE_LENGTH(c->details.method);
        if (ml >= sizeof c->method) ml = sizeof c->method - 1;
        memcpy(c->method, GRPC_SLICE_START_PTR(c->details.method), ml);
        c->method[ml] = '\0';
        c->m = vqr__method_find(s, c->method);
    }
    /* Authenticate before revealing whether a method exists. */
    if (s->token && !(c->m && c->m->public_method) && !vqr__auth_ok(s->token, &c->req_md)) {
        atomic_fetch_add(&s->unauthenticated, 1);
        finish(c, 16 /* UNAUTHENTICATED */, "missing or invalid bearer token (authorization)", NULL,
               0, 1);
        return;
    }
    if (!c->m) {
        atomic_fetch_add(&s->unimplemented, 1);
        char msg[200];
        snprintf(msg, sizeof msg, "method %s is not implemented by this server", c->method);
        finish(c, 12 /* UNIMPLEMENTED */, msg, NULL, 0, 1);
        return;
    }
    c->ctx.method = c->method;
    c->ctx.deadline =
        deadline_of(c->reg ? c->reg_deadline : c->details.deadline, s->default_timeout);
    c->ctx.user = c->m->user;
    if (c->m->kind == VQR__STREAM) {
        vq_err err;
        vq_err_clear(&err);
        int rc = c->m->stream.begin ? c->m->stream.begin(&c->ctx, &c->stream_state, &err) : 0;
        if (rc < 0) {
            finish_err(c, rc, &err, 1);
            return;
        }
        c->stream_begun = 1;
        start_recv(c, 1);
        return;
    }
    c->want_initial = 1;
    if (c->reg) { /* the request message came with the call */
        on_received(c, 1);
        return;
    }
    start_recv(c, 0);
}

static void on_received(struct call *c, int ok) {
    if (!ok) { /* the call failed (client gone, message over the size limit): grpc has
                * already sent the status; only our side needs releasing */
        c->want_initial = 0;
        finish(c, 1 /* CANCELLED */, "receive failed", NULL, 0, 0);
        return;
    }
    if (c->ctx.deadline > 0 && vq_now() > c->ctx.deadline) {
        finish(c, 4 /* DEADLINE_EXCEEDED */, "deadline passed before the request was handled", NULL,
               0, 0);
        return;
    }
    vq_err err;
    vq_err_clear(&err);
    const uint8_t *req = NULL;
    uint8_t *req_owned = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0;
    if (c->recv) {
        int rc = read_payload(c->recv, &req, &req_len, &req_owned);
        if (rc < 0) {
            grpc_byte_buffer_destroy(c->recv);
            c->recv = NULL;
            finish_err(c, rc, NULL, 0);
            return;
        }
    }
    int rc;
    if (c->m->kind == VQR__UNARY) {
        if (!req) {
            finish(c, 3 /* INVALID_ARGUMENT */, "no request message", NULL, 0, 0);
            return;
        }
        rc = c->m->unary(&c->ctx, req, req_len, &resp, &resp_len, &err);
    } else if (req) {
        rc = c->m->stream.message(&c->ctx, c->stream_state, req, req_len, &err);
    } else {
        rc = c->m->stream.finish(&c->ctx, c->stream_state, &resp, &resp_len, &err);
    }
    /* The request is no longer needed (handlers copy what they keep). */
    vq_free(req_owned);
    if (c->recv) {
        grpc_byte_buffer_destroy(c->recv);
        c->recv = NULL;
    }
    if (c->m->kind == VQR__STREAM && req) {
        if (rc == VQ_OK) {
            start_recv(c, 0);
            return;
        }
    }
    if (rc < 0) {
        vq_free(resp);
        finish_err(c, rc, &err, 0);
        return;
    }
    if (!resp) {
        resp = vq_malloc(1);
        resp_len = 0;
        if (!resp) {
            finish_err(c, VQ_ENOMEM, NULL, 0);
            return;
        }
    }
    finish(c, 0, NULL, resp, resp_len, 0);
}

static void *worker(void *arg) {
    vqr_server *s = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        if (ev.tag == &g_shutdown_tag) {
            pthread_mutex_lock(&s->mu);
            s->shutdown_done = 1;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        struct call *c = ev.tag;
        switch (c->st) {
        case ST_REQUESTED:
            if (!ev.success) {
                call_free(c);
                break;
            }
            if (!atomic_load(&s->shutting_down)) request_one(s, c->reg);
            on_accepted(c);
            break;
        case ST_RECEIVING:
            on_received(c, ev.success);
            break;
        case ST_FINISHING:
            call_free(c);
            break;
        }
    }
    return NULL;
}

static int read_text(const char *path, char **out, vq_err *err) {
    FILE *f = fopen(path, "rb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "cannot open %s", path);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF) {
        if (len + 2 > cap) {
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return vq_err_set(err, VQ_ENOMEM, path, "out of memory reading %s", path);
            }
            buf = nb;
        }
        buf[len++] = (char)ch;
    }
    fclose(f);
    if (!buf) buf = calloc(1, 1);
    VQ_FAIL_IF(!buf, VQ_ENOMEM, err, path, "out of memory");
    buf[len] = '\0';
    *out = buf;
    return VQ_OK;
}

int vqr_server_new(const vqr_server_params *p, vqr_server **out, vq_err *err) {
    vqr_server_params d;
    if (!p) {
        vqr_server_params_default(&d);
        p = &d;
    }
    VQ_FAIL_IF(p->threads < 1 || p->threads > VQR_THREADS_MAX, VQ_EINVAL, err, "threads",
               "threads %u is outside [1, %u]", p->threads, VQR_THREADS_MAX);
    VQ_FAIL_IF(p->max_message < VQR_MAX_MSG_MIN || p->max_message > VQR_MAX_MSG_MAX, VQ_EINVAL, err,
               "max_message", "max message size %zu is outside [%u, %u]", p->max_message,
               VQR_MAX_MSG_MIN, VQR_MAX_MSG_MAX);
    VQ_FAIL_IF(!!p->tls_cert != !!p->tls_key, VQ_EINVAL, err, p->tls_cert ? "tls_key" : "tls_cert",
               "TLS needs both a certificate and a key");
    VQ_FAIL_IF(!p->listen || !*p->listen, VQ_EINVAL, err, "listen", "empty listen address");
    vqr_server *s = calloc(1, sizeof *s);
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "server", "out of memory");
    s->p = *p;
    snprintf(s->listen, sizeof s->listen, "%s", p->listen);
    if (p->token) s->token = strdup(p->token);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->default_timeout = p->default_timeout;
    s->log_requests = p->log_requests;
    *out = s;
    return VQ_OK;
}

void vqr_server_set_log(vqr_server *s, void (*log)(void *, const char *), void *ctx) {
    s->log = log;
    s->log_ctx = ctx;
}

/* Debian's gRPC runs on an Abseil built without NDEBUG, where absl::Mutex keeps a global
 * lock-order graph for deadlock detection on every Lock (a global mutex, a hash lookup and
 * thread-local bookkeeping per lock; ~4% of a cheap Search call's server CPU in `perf`).
 * Release builds of Abseil have it off; turn it off the same way, through its public
 * SetMutexDeadlockDetectionMode(kIgnore), looked up at run time so that a differently
 * namespaced or a release Abseil (where it is already off) is simply left alone. */
static void absl_quiet(void) {
    static const char *const names[] = {
        "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE",
        "_ZN4absl12lts_2022062329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE",
        "_ZN4absl29SetMutexDeadlockDetectionModeENS_15OnDeadlockCycleE"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *sym = dlsym(RTLD_DEFAULT, names[i]);
        if (sym) {
            void (*set)(int);
            memcpy(&set, &sym, sizeof set);
            set(0); /* absl::OnDeadlockCycle::kIgnore */
            return;
        }
    }
}

int vqr_server_start(vqr_server *s, vq_err *err) {
    VQ_FAIL_IF(s->started, VQ_ESTATE, err, "server", "server already started");
    grpc_init();
    s->grpc_inited = 1;
    absl_quiet();
    grpc_arg args[3];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)s->p.max_message;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)s->p.max_message;
    /* channelz (per-call and per-message counters for the channelz service, which this
     * server does not expose) is off. */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = (char *)GRPC_ARG_ENABLE_CHANNELZ;
    args[2].value.integer = 0;
    grpc_channel_args ca = {3, args};
    s->server = grpc_server_create(&ca, NULL);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->cq, NULL);
    for (size_t m = 0; m < s->n_methods; m++)
        if (s->methods[m].kind == VQR__UNARY) {
            s->methods[m].registered = grpc_server_register_method(
                s->server, s->methods[m].path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
            VQ_FAIL_IF(!s->methods[m].registered, VQ_EINTERNAL, err, "method",
                       "gRPC refused to register %s", s->methods[m].path);
        }
    grpc_server_credentials *creds;
    if (s->p.tls_cert) {
        char *cert, *key;
        VQ_TRY(read_text(s->p.tls_cert, &cert, err));
        int rc = read_text(s->p.tls_key, &key, err);
        if (rc < 0) {
            free(cert);
            return rc;
        }
        grpc_ssl_pem_key_cert_pair pair = {key, cert};
        creds = grpc_ssl_server_credentials_create_ex(
            NULL, &pair, 1, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
        free(cert);
        free(key);
        VQ_FAIL_IF(!creds, VQ_EINVAL, err, "tls_cert", "TLS certificate or key rejected");
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    s->port = grpc_server_add_http2_port(s->server, s->listen, creds);
    grpc_server_credentials_release(creds);
    VQ_FAIL_IF(s->port <= 0, VQ_EIO, err, "listen", "cannot bind %s", s->listen);
    grpc_server_start(s->server);
    s->started = 1;
    unsigned pool = 2 * s->p.threads < 8 ? 8 : 2 * s->p.threads;
    for (unsigned i = 0; i < pool; i++) request_one(s, NULL);
    /* Per registered method, enough outstanding requests that every worker can be running
     * one call of it while the next is already matched. */
    for (size_t m = 0; m < s->n_methods; m++)
        if (s->methods[m].registered)
            for (unsigned i = 0; i < s->p.threads + 1; i++) request_one(s, &s->methods[m]);
    s->workers = calloc(s->p.threads, sizeof(pthread_t));
    VQ_FAIL_IF(!s->workers, VQ_ENOMEM, err, "threads", "out of memory");
    for (unsigned i = 0; i < s->p.threads; i++) {
        VQ_FAIL_IF(pthread_create(&s->workers[i], NULL, worker, s) != 0, VQ_EINTERNAL, err,
                   "threads", "cannot start worker %u", i);
        s->n_workers++;
    }
    return VQ_OK;
}

int vqr_server_port(const vqr_server *s) { return s->port; }
int vqr_server_is_shutting_down(const vqr_server *s) { return atomic_load(&s->shutting_down); }

void vqr_server_shutdown(vqr_server *s, double grace) {
    if (!s->started || atomic_exchange(&s->shutting_down, 1)) return;
    grpc_server_shutdown_and_notify(s->server, s->cq, &g_shutdown_tag);
    double until = vq_now() + (grace > 0 ? grace : 0);
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_done) {
        double left = until - vq_now();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec + (left < 0.05 ? left : 0.05);
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int done = s->shutdown_done;
    pthread_mutex_unlock(&s->mu);
    if (!done) grpc_server_cancel_all_calls(s->server);
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_done) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    grpc_completion_queue_shutdown(s->cq);
    for (unsigned i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
    s->n_workers = 0;
}

void vqr_server_free(vqr_server *s) {
    if (!s) return;
    if (s->started) {
        vqr_server_shutdown(s, 0);
        grpc_server_destroy(s->server);
        grpc_completion_queue_destroy(s->cq);
    }
    if (s->grpc_inited) grpc_shutdown();
    vqr__methods_free(s);
    free(s->workers);
    free(s->token);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

void vqr_server_stats(const vqr_server *s, vqr_stats *st) {
    st->calls = atomic_load(&s->calls);
    st->errors = atomic_load(&s->errors);
    st->unauthenticated = atomic_load(&s->unauthenticated);
    st->unimplemented = atomic_load(&s->unimplemented);
    st->in_flight = atomic_load(&s->in_flight);
    st->log_suppressed = atomic_load(&s->log_dropped_total);
}
