/* wire.c — see wire.h. The walk reads each tag (field number, wire type), skips scalar
 * values, and descends into a length-delimited field only when the descriptor says it is a
 * message (map entries are messages too); unknown fields are skipped, as protobuf-c keeps
 * them as opaque bytes. Recursion is bounded by max_depth, so the walk itself is safe. */
#include "wire.h"

#include <string.h>

enum { WT_VARINT = 0, WT_64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_32 = 5 };

/* Reads a varint of at most 10 bytes; 0 when it is truncated or too long. */
static size_t varint(const uint8_t *p, size_t n, uint64_t *v) {
    uint64_t x = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

typedef struct walk {
    unsigned max_depth;
    const char *top_field; /* the depth-1 field on the path being walked */
    int too_deep;
} walk;

static int walk_msg(walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
                    unsigned depth) {
    size_t i = 0;
    while (i < n) {
        uint64_t tag, v;
        size_t k = varint(p + i, n - i, &tag);
        if (!k || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return -1;
        i += k;
        switch (tag & 7) {
        case WT_VARINT:
            if (!(k = varint(p + i, n - i, &v))) return -1;
            i += k;
            break;
        case WT_64:
            if (n - i < 8) return -1;
            i += 8;
            break;
        case WT_32:
            if (n - i < 4) return -1;
            i += 4;
            break;
        case WT_LEN: {
            if (!(k = varint(p + i, n - i, &v)) || v > n - i - k) return -1;
            i += k;
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (depth + 1 > w->max_depth) {
                    w->too_deep = 1;
                    return -1;
                }
                if (depth == 0) w->top_field = f->name;
                if (walk_msg(w, f->descriptor, p + i, (size_t)v, depth + 1) < 0) return -1;
            }
            i += (size_t)v;
            break;
        }
        default: /* groups (deprecated, unsupported by protobuf-c) and invalid wire types */
            return -1;
        }
    }
    return 0;
}

int vqr__wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                    unsigned max_depth, vq_err *err) {
    walk w = {.max_depth = max_depth, .top_field = NULL, .too_deep = 0};
    if (walk_msg(&w, d, buf, len, 0) == 0) return VQ_OK;
    if (w.too_deep)
        return vq_err_set(err, VQ_EINVAL, w.top_field ? w.top_field : "request",
                          "%s nests messages deeper than %u levels (the server's limit)",
                          d->short_name, max_depth);
    return vq_err_set(err, VQ_EINVAL, "request", "malformed %s (bad protobuf wire data)",
                      d->short_name);
}

ProtobufCMessage *vqr__unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                              vq_err *err) {
    if (vqr__wire_check(d, buf, len, VQR_NESTING_MAX, err) < 0) return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m) vq_err_set(err, VQ_EINVAL, "request", "malformed %s", d->short_name);
    return m;
}
