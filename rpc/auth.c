/* auth.c — bearer-token check. The comparison runs over the whole token whatever the
 * input, so its time does not reveal how many leading bytes matched. */
#include <grpc/slice.h>
#include <string.h>

#include "internal.h"

static int ct_equal(const char *a, size_t al, const char *b, size_t bl) {
    unsigned diff = (unsigned)(al ^ bl);
    for (size_t i = 0; i < bl; i++)
        diff |= (unsigned char)(i < al ? a[i] : 0) ^ (unsigned char)b[i];
    return diff == 0;
}

int vqr__auth_ok(const char *token, const grpc_metadata_array *md) {
    static const char prefix[] = "Bearer ";
    size_t tl = strlen(token);
    for (size_t i = 0; i < md->count; i++) {
        const grpc_slice *k = &md->metadata[i].key, *v = &md->metadata[i].value;
        if (GRPC_SLICE_LENGTH(*k) != 13 ||
            memcmp(GRPC_SLICE_START_PTR(*k), "authorization", 13) != 0)
            continue;
        size_t vl = GRPC_SLICE_LENGTH(*v);
        const char *vs = (const char *)GRPC_SLICE_START_PTR(*v);
        if (vl < sizeof prefix - 1 || memcmp(vs, prefix, sizeof prefix - 1) != 0) return 0;
        return ct_equal(vs + sizeof prefix - 1, vl - (sizeof prefix - 1), token, tl);
    }
    return 0;
}
