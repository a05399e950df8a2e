/* buf.c — little-endian serialization buffers. Writers grow and remember a failed
 * allocation; readers check every length against what is left, so a truncated or hostile
 * file yields VQ_ECORRUPT naming the record and offset, never a read past the buffer. */
#include <zlib.h>

#include "internal.h"

static int grow(vq_wbuf *w, size_t n) {
    if (w->oom) return 0;
    if (w->len + n <= w->cap) return 1;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n) cap *= 2;
    uint8_t *p = vq_realloc(w->p, w->len, cap);
    if (!p) {
        w->oom = 1;
        return 0;
    }
    w->p = p;
    w->cap = cap;
    return 1;
}

void vq__w_bytes(vq_wbuf *w, const void *src, size_t n) {
    if (!n || !grow(w, n)) return;
    memcpy(w->p + w->len, src, n);
    w->len += n;
}
/* The on-disk byte order is little-endian; the supported targets are little-endian too. */
void vq__w_u32(vq_wbuf *w, uint32_t v) { vq__w_bytes(w, &v, 4); }
void vq__w_u64(vq_wbuf *w, uint64_t v) { vq__w_bytes(w, &v, 8); }
void vq__w_f32(vq_wbuf *w, float v) { vq__w_bytes(w, &v, 4); }
void vq__w_f32s(vq_wbuf *w, const float *v, size_t n) { vq__w_bytes(w, v, n * 4); }

int vq__r_bytes(vq_rbuf *r, void *dst, size_t n, vq_err *err) {
    if (n > r->len - r->pos)
        return vq_err_set(err, VQ_ECORRUPT, r->what ? r->what : "data",
                          "%s truncated: need %zu bytes at offset %zu, %zu left",
                          r->what ? r->what : "data", n, r->pos, r->len - r->pos);
    if (n) memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return VQ_OK;
}
int vq__r_u32(vq_rbuf *r, uint32_t *v, vq_err *err) { return vq__r_bytes(r, v, 4, err); }
int vq__r_u64(vq_rbuf *r, uint64_t *v, vq_err *err) { return vq__r_bytes(r, v, 8, err); }
int vq__r_f32(vq_rbuf *r, float *v, vq_err *err) { return vq__r_bytes(r, v, 4, err); }
int vq__r_f32s(vq_rbuf *r, float *v, size_t n, vq_err *err) {
    if (n > (r->len - r->pos) / 4)
        return vq_err_set(err, VQ_ECORRUPT, r->what ? r->what : "data",
                          "%s truncated: need %zu floats at offset %zu", r->what ? r->what : "data",
                          n, r->pos);
    return vq__r_bytes(r, v, n * 4, err);
}
int vq__r_end(const vq_rbuf *r, vq_err *err) {
    VQ_FAIL_IF(r->pos != r->len, VQ_ECORRUPT, err, r->what ? r->what : "data",
               "%s has %zu unexpected trailing bytes at offset %zu", r->what ? r->what : "data",
               r->len - r->pos, r->pos);
    return VQ_OK;
}

uint32_t vq__crc32(uint32_t crc, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return crc;
}
