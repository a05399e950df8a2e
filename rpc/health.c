/* health.c — grpc.health.v1.Health/Check: SERVING for the whole server ("") and for
 * "vqdb.v1.VectorDB", NOT_SERVING once shutdown has begun, NOT_FOUND for other services (as
 * the health-checking protocol specifies). Public: no token needed. */
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "internal.h"

static int check(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                 size_t *resp_len, vq_err *err) {
    const vqr_server *s = ctx->user;
    Grpc__Health__V1__HealthCheckRequest *in =
        grpc__health__v1__health_check_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed HealthCheckRequest");
    int known = !in->service || !*in->service || !strcmp(in->service, "vqdb.v1.VectorDB");
    grpc__health__v1__health_check_request__free_unpacked(in, NULL);
    VQ_FAIL_IF(!known, VQ_ENOTFOUND, err, "service", "unknown service");
    Grpc__Health__V1__HealthCheckResponse out = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    out.status = vqr_server_is_shutting_down(s)
                     ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
                     : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    size_t n = grpc__health__v1__health_check_response__get_packed_size(&out);
    *resp = vq_malloc(n ? n : 1);
    VQ_FAIL_IF(!*resp, VQ_ENOMEM, err, "response", "out of memory");
    *resp_len = grpc__health__v1__health_check_response__pack(&out, *resp);
    return VQ_OK;
}

int vqr_health_register(vqr_server *s, vq_err *err) {
    return vqr_server_add_unary(s, "/grpc.health.v1.Health/Check", check, s, 1, err);
}
