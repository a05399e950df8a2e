/* serial.c — the byte-level pieces of the index file format: a growable writer, a
 * bounds-checked reader, and section framing {u32 type, u64 length, u32 CRC-32, payload}
 * (zlib's CRC-32). Every read is checked against the remaining length, so a truncated or
 * corrupted file ends in VQ_ECORRUPT naming the section, never in an out-of-bounds read.
 * Integers are little-endian (the only byte order vqdb builds for; checked at compile time).
 */
#include <zlib.h>

#include "vqi_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "index files are little-endian");

static int w_grow(vqi_w *w, size_t n) {
    if (w->oom) return -1;
    if (w->len + n <= w->cap) return 0;
    size_t nc = w->cap ? w->cap : 4096;
    while (nc < w->len + n) nc *= 2;
    uint8_t *p = vq_realloc(w->p, w->cap, nc);
    if (!p) {
        w->oom = 1;
        return -1;
    }
    w->p = p;
    w->cap = nc;
    return 0;
}

void vq__iw_bytes(vqi_w *w, const void *src, size_t n) {
    if (!n || w_grow(w, n)) return;
    memcpy(w->p + w->len, src, n);
    w->len += n;
}
void vq__iw_u32(vqi_w *w, uint32_t v) { vq__iw_bytes(w, &v, 4); }
void vq__iw_u64(vqi_w *w, uint64_t v) { vq__iw_bytes(w, &v, 8); }
void vq__iw_f32(vqi_w *w, float v) { vq__iw_bytes(w, &v, 4); }

size_t vq__iw_sec_begin(vqi_w *w, uint32_t type) {
    size_t mark = w->len;
    vq__iw_u32(w, type);
    vq__iw_u64(w, 0);
    vq__iw_u32(w, 0);
    return mark;
}

void vq__iw_sec_end(vqi_w *w, size_t mark) {
    if (w->oom) return;
    uint64_t len = w->len - mark - 16;
    const uint8_t *payload = w->p + mark + 16;
    uLong crc = crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths: feed large payloads in pieces. */
    for (uint64_t off = 0; off < len;) {
        uint64_t piece = len - off > (1u << 30) ? (1u << 30) : len - off;
        crc = crc32(crc, payload + off, (uInt)piece);
        off += piece;
    }
    uint32_t c = (uint32_t)crc;
    memcpy(w->p + mark + 4, &len, 8);
    memcpy(w->p + mark + 12, &c, 4);
}

int vq__ir_ptr(vqi_r *r, const void **out, size_t n, vq_err *err) {
    if (n > r->len - r->pos)
        return vq_err_set(err, VQ_ECORRUPT, r->what,
                          "truncated: need %zu bytes at offset %zu, %zu left", n, r->pos,
                          r->len - r->pos);
    *out = r->p + r->pos;
    r->pos += n;
    return VQ_OK;
}
int vq__ir_bytes(vqi_r *r, void *dst, size_t n, vq_err *err) {
    const void *p = NULL;
    VQ_TRY(vq__ir_ptr(r, &p, n, err));
    if (n) memcpy(dst, p, n);
    return VQ_OK;
}
int vq__ir_u32(vqi_r *r, uint32_t *v, vq_err *err) { return vq__ir_bytes(r, v, 4, err); }
int vq__ir_u64(vqi_r *r, uint64_t *v, vq_err *err) { return vq__ir_bytes(r, v, 8, err); }
int vq__ir_f32(vqi_r *r, float *v, vq_err *err) { return vq__ir_bytes(r, v, 4, err); }
int vq__ir_end(const vqi_r *r, vq_err *err) {
    VQ_FAIL_IF(r->pos != r->len, VQ_ECORRUPT, err, r->what, "%zu unexpected trailing bytes",
               r->len - r->pos);
    return VQ_OK;
}

int vq__ir_sec(vqi_r *r, uint32_t type, const char *what, vqi_r *sec, vq_err *err) {
    uint32_t t, crc;
    uint64_t len;
    const char *outer = r->what;
    r->what = what;
    VQ_TRY(vq__ir_u32(r, &t, err));
    VQ_TRY(vq__ir_u64(r, &len, err));
    VQ_TRY(vq__ir_u32(r, &crc, err));
    r->what = outer;
    VQ_FAIL_IF(t != type, VQ_ECORRUPT, err, what, "section type %u where %u was expected", t, type);
    VQ_FAIL_IF(len > r->len - r->pos, VQ_ECORRUPT, err, what,
               "truncated: section of %llu bytes, %zu left in the file", (unsigned long long)len,
               r->len - r->pos);
    const uint8_t *payload = r->p + r->pos;
    uLong c = crc32(0L, Z_NULL, 0);
    for (uint64_t off = 0; off < len;) {
        uint64_t piece = len - off > (1u << 30) ? (1u << 30) : len - off;
        c = crc32(c, payload + off, (uInt)piece);
        off += piece;
    }
    VQ_FAIL_IF((uint32_t)c != crc, VQ_ECORRUPT, err, what,
               "checksum mismatch (stored %08x, computed %08x)", crc, (uint32_t)c);
    sec->p = payload;
    sec->len = (size_t)len;
    sec->pos = 0;
    sec->what = what;
    r->pos += (size_t)len;
    return VQ_OK;
}
