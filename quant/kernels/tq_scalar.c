/* tq_scalar.c — the scalar reference of the TurboQuant/QJL code kernels (plain loops in
 * index order, no auto-vectorization), the dispatch table and the bit packer. Tests compare
 * every SIMD instantiation with these. */
#include <math.h>
#include <string.h>

#include "tq.h"

static inline float dot_ref(const float *q, const uint8_t *c, size_t d, const float *cb,
                            unsigned b) {
    float s = 0;
    for (size_t i = 0; i < d; i++) s += q[i] * cb[vq__tq_get(c, i, b)];
    return s;
}
#define DOT_REF(B)                                                                     \
    static float dot##B(const float *q, const uint8_t *c, size_t d, const float *cb) { \
        return dot_ref(q, c, d, cb, B);                                                \
    }
DOT_REF(1)
DOT_REF(2)
DOT_REF(3)
DOT_REF(4)
DOT_REF(5)
DOT_REF(6)
DOT_REF(7)
DOT_REF(8)

/* Branch-free (multiplying by the bit) so that random sign bits cost no mispredictions:
 * adding y·0 = ±0 leaves the sum of the set terms unchanged. */
static float sign_sum(const float *y, const uint8_t *s, size_t d) {
    float acc = 0;
    for (size_t i = 0; i < d; i++) acc += y[i] * (float)((s[i >> 3] >> (i & 7)) & 1);
    return acc;
}

/* Row by row, index order; a single rounding per update (fmaf), as the SIMD bodies' FMA. */
static inline void acc_ref(const uint8_t *c, size_t d, const float *cb, const float *a, size_t na,
                           float *y, size_t ldy, unsigned b) {
    for (size_t r = 0; r < na; r++)
        for (size_t i = 0; i < d; i++)
            y[r * ldy + i] = fmaf(a[r], cb[vq__tq_get(c, i, b)], y[r * ldy + i]);
}
#define ACC_REF(B)                                                                             \
    static void acc##B(const uint8_t *c, size_t d, const float *cb, const float *a, size_t na, \
                       float *y, size_t ldy) {                                                 \
        acc_ref(c, d, cb, a, na, y, ldy, B);                                                   \
    }
ACC_REF(1)
ACC_REF(2)
ACC_REF(3)
ACC_REF(4)
ACC_REF(5)
ACC_REF(6)
ACC_REF(7)
ACC_REF(8)

const vq_k_tq vq__k_tq_scalar = {
    {NULL, dot1, dot2, dot3, dot4, dot5, dot6, dot7, dot8},
    sign_sum,
    {NULL, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8},
};

const vq_k_tq *vq__k_tq(vq_isa isa) {
    return isa == VQ_ISA_AVX512 ? &vq__k_tq_avx512
           : isa == VQ_ISA_AVX2 ? &vq__k_tq_avx2
                                : &vq__k_tq_scalar;
}

void vq__tq_pack(const uint8_t *idx, size_t d, unsigned b, uint8_t *out) {
    memset(out, 0, vq__tq_packed_bytes(d, b));
    for (size_t i = 0; i < d; i++) {
        size_t bit = i * b, byte = bit >> 3;
        unsigned sh = (unsigned)(bit & 7), v = (unsigned)idx[i] << sh;
        out[byte] |= (uint8_t)v;
        if (sh + b > 8) out[byte + 1] |= (uint8_t)(v >> 8);
    }
}
