/* methods.c — the method table: path -> handler. Filled before start, read-only after, so
 * lookups need no lock. A linear scan is enough for the ~15 methods of the service. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int add(vqr_server *s, const char *path, vqr__method m, vq_err *err) {
    VQ_FAIL_IF(s->started, VQ_ESTATE, err, "method", "methods must be added before start");
    VQ_FAIL_IF(!path || path[0] != '/', VQ_EINVAL, err, "method",
               "method path must start with '/'");
    VQ_FAIL_IF(vqr__method_find(s, path), VQ_EEXIST, err, "method", "method %s added twice", path);
    vqr__method *nm = realloc(s->methods, (s->n_methods + 1) * sizeof *nm);
    VQ_FAIL_IF(!nm, VQ_ENOMEM, err, "method", "out of memory");
    s->methods = nm;
    m.path = strdup(path);
    VQ_FAIL_IF(!m.path, VQ_ENOMEM, err, "method", "out of memory");
    s->methods[s->n_methods++] = m;
    return VQ_OK;
}

int vqr_server_add_unary(vqr_server *s, const char *path, vqr_unary_fn fn, void *user,
                         int public_method, vq_err *err) {
    VQ_FAIL_IF(!fn, VQ_EINVAL, err, "method", "null handler for %s", path ? path : "?");
    vqr__method m = {.kind = VQR__UNARY, .public_method = public_method, .unary = fn, .user = user};
    return add(s, path, m, err);
}

int vqr_server_add_stream(vqr_server *s, const char *path, const vqr_stream_fns *fns, void *user,
                          vq_err *err) {
    VQ_FAIL_IF(!fns || !fns->message || !fns->finish, VQ_EINVAL, err, "method",
               "stream handler for %s needs message and finish", path ? path : "?");
    vqr__method m = {.kind = VQR__STREAM, .stream = *fns, .user = user};
    return add(s, path, m, err);
}

const vqr__method *vqr__method_find(const vqr_server *s, const char *path) {
    for (size_t i = 0; i < s->n_methods; i++)
        if (!strcmp(s->methods[i].path, path)) return &s->methods[i];
    return NULL;
}

void vqr__methods_free(vqr_server *s) {
    for (size_t i = 0; i < s->n_methods; i++) free(s->methods[i].path);
    free(s->methods);
    s->methods = NULL;
    s->n_methods = 0;
}
