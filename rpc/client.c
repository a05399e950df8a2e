/* client.c — a small blocking unary client on the gRPC C core, for `vqdb loadgen` and the
 * C integration tests. One channel per client; each call uses its own pluck queue, so a
 * client may be shared by threads (grpc channels are thread safe). */
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

struct vqr_client {
    grpc_channel *ch;
    char auth[512];
    int has_auth;
    int spin; /* poll for the reply instead of sleeping (vqr_client_set_spin) */
};

void vqr_client_set_spin(vqr_client *c, int spin) { c->spin = spin; }

int vqr_client_new(const char *target, const char *token, vqr_client **out, vq_err *err) {
    VQ_FAIL_IF(!target || !*target, VQ_EINVAL, err, "target", "empty target address");
    VQ_FAIL_IF(token && strlen(token) > 400, VQ_EINVAL, err, "token",
               "token longer than 400 bytes");
    vqr_client *c = calloc(1, sizeof *c);
    VQ_FAIL_IF(!c, VQ_ENOMEM, err, "client", "out of memory");
    grpc_init();
    grpc_arg arg = {
        GRPC_ARG_INTEGER, (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = 1 << 30}};
    grpc_channel_args args = {1, &arg};
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    if (token) {
        snprintf(c->auth, sizeof c->auth, "Bearer %s", token);
        c->has_auth = 1;
    }
    *out = c;
    return VQ_OK;
}

void vqr_client_free(vqr_client *c) {
    if (!c) return;
    grpc_channel_destroy(c->ch);
    free(c);
    grpc_shutdown();
}

int vqr_client_call(vqr_client *c, const char *method, const uint8_t *req, size_t len,
                    double timeout_s, uint8_t **resp, size_t *resp_len, int *status, char *details,
                    size_t details_cap) {
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline =
        timeout_s > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                     gpr_time_from_micros((int64_t)(timeout_s * 1e6), GPR_TIMESPAN))
                      : gpr_inf_future(GPR_CLOCK_REALTIME);
    grpc_slice path = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL,
                                               deadline, NULL);
    grpc_slice_unref(path);
    grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata md;
    memset(&md, 0, sizeof md);
    if (c->has_auth) {
        md.key = grpc_slice_from_static_string("authorization");
        md.value = grpc_slice_from_copied_string(c->auth);
    }
    grpc_metadata_array init_md, trail_md;
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    grpc_byte_buffer *recv = NULL;
    grpc_status_code st = GRPC_STATUS_UNKNOWN;
    grpc_slice st_details;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = c->has_auth ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = c->has_auth ? &md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[5].data.recv_status_on_client.status = &st;
    ops[5].data.recv_status_on_client.status_details = &st_details;
    int rc = VQ_OK;
    if (grpc_call_start_batch(call, ops, 6, call, NULL) != GRPC_CALL_OK) {
        rc = VQ_EINTERNAL;
    } else {
        /* Spinning: each pluck with a deadline already past polls the connection once
         * (epoll_wait with a zero timeout); the call's own deadline still ends it, as the
         * transport fails the batch when it passes. */
        gpr_timespec wait =
            c->spin ? gpr_inf_past(GPR_CLOCK_REALTIME) : gpr_inf_future(GPR_CLOCK_REALTIME);
        grpc_event ev;
        do ev = grpc_completion_queue_pluck(cq, call, wait, NULL);
        while (ev.type == GRPC_QUEUE_TIMEOUT);
        if (ev.type != GRPC_OP_COMPLETE) rc = VQ_EINTERNAL;
    }
    *status = rc == VQ_OK ? (int)st : 2;
    if (details && details_cap) {
        details[0] = '\0';
        if (rc == VQ_OK) {
            size_t n = GRPC_SLICE_LENGTH(st_details);
            if (n >= details_cap) n = details_cap - 1;
            memcpy(details, GRPC_SLICE_START_PTR(st_details), n);
            details[n] = '\0';
        }
    }
    *resp = NULL;
    *resp_len = 0;
    if (rc == VQ_OK && recv) {
        grpc_byte_buffer_reader r;
        if (grpc_byte_buffer_reader_init(&r, recv)) {
            grpc_slice all = grpc_byte_buffer_reader_readall(&r);
            grpc_byte_buffer_reader_destroy(&r);
            size_t n = GRPC_SLICE_LENGTH(all);
            *resp = vq_malloc(n ? n : 1);
            if (*resp) {
                memcpy(*resp, GRPC_SLICE_START_PTR(all), n);
                *resp_len = n;
            } else {
                rc = VQ_ENOMEM;
            }
            grpc_slice_unref(all);
        }
    }
    if (rc == VQ_OK) grpc_slice_unref(st_details);
    if (recv) grpc_byte_buffer_destroy(recv);
    grpc_byte_buffer_destroy(send);
    if (c->has_auth) grpc_slice_unref(md.value);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    return rc;
}
