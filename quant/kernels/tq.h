/* tq.h — scoring kernels of TurboQuant, TurboQuant-prod and QJL codes against a float query
 * that has already been rotated/projected (the code is never decoded to score it).
 *
 * Code layout (the definition used by quant/turbo.c and quant/qjl.c): d indices of b bits,
 * b = 1..8, packed LSB-first as one bit stream: index i occupies bits [i*b, i*b + b) of the
 * byte string, bit k of the stream being bit (k & 7) of byte k >> 3. ceil(d*b/8) bytes; the
 * unused high bits of the last byte are zero. Sign sketches are the b = 1 case (bit set:
 * +1, clear: -1).
 *
 * dot[b](q, c, d, cb) = sum_i q[i] * cb[index_i]. cb holds max(16, 2^b) floats (entries past
 * 2^b are read by the 16-entry register tables and must be finite). Fast paths: b = 1 via
 * masked adds of the query (cb[0]·Σq + (cb[1]-cb[0])·Σ_{set} q); b = 2..4 (and 5 on
 * AVX-512) via an in-register table (vpermps / vpermt2ps); b = 5..8 via gathers. Indices
 * are unpacked VF_W at a time with one byte shuffle and a per-lane variable shift.
 * sign_sum(y, s, d) = sum of y[i] over the set bits i of s (so <y, ±1> = 2·sign_sum - Σy).
 * acc[b](c, d, cb, a, na, y, ldy): y[r·ldy + i] += a[r]·cb[index_i] for r < na, i < d — the
 * transpose of dot, for weighted sums of codes (vq_quant_decode_wsum): one code's indices are
 * unpacked and looked up once and added to na accumulator rows. Sign sketches use b = 1
 * with cb = {-1, +1}. Tails go through a lane buffer, so nothing is read or written past d.
 *
 * SIMD results differ from the scalar reference (tq_scalar.c) only by summation order.
 * Thread safety: tables are immutable. */
#ifndef VQ_KERNELS_TQ_H
#define VQ_KERNELS_TQ_H

#include <stddef.h>
#include <stdint.h>

#include "../vq.h"

#define VQ_TQ_BITS_MAX 8u

typedef float (*vq_k_tq_dot_fn)(const float *q, const uint8_t *c, size_t d, const float *cb);

typedef void (*vq_k_tq_acc_fn)(const uint8_t *c, size_t d, const float *cb, const float *a,
                               size_t na, float *y, size_t ldy);

typedef struct vq_k_tq {
    vq_k_tq_dot_fn dot[VQ_TQ_BITS_MAX + 1]; /* dot[b] for b = 1..8; dot[0] is NULL */
    float (*sign_sum)(const float *y, const uint8_t *s, size_t d);
    vq_k_tq_acc_fn acc[VQ_TQ_BITS_MAX + 1]; /* acc[b] for b = 1..8; acc[0] is NULL */
} vq_k_tq;

const vq_k_tq *vq__k_tq(vq_isa isa);

extern const vq_k_tq vq__k_tq_scalar, vq__k_tq_avx2, vq__k_tq_avx512;

/* Bytes of d packed b-bit indices. */
static inline size_t vq__tq_packed_bytes(size_t d, unsigned b) { return (d * b + 7) / 8; }
/* Packs d indices (each < 2^b) into vq__tq_packed_bytes(d, b) bytes. */
void vq__tq_pack(const uint8_t *idx, size_t d, unsigned b, uint8_t *out);
/* Index i of a packed string. */
static inline unsigned vq__tq_get(const uint8_t *c, size_t i, unsigned b) {
    size_t bit = i * b, byte = bit >> 3;
    unsigned sh = (unsigned)(bit & 7), v = c[byte];
    if (sh + b > 8) v |= (unsigned)c[byte + 1] << 8;
    return (v >> sh) & ((1u << b) - 1u);
}

#endif
