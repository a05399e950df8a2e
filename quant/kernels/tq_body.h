/* tq_body.h — one body of the TurboQuant/QJL code kernels (see tq.h), instantiated per ISA
 * by tq_avx2.c and tq_avx512.c.
 *
 * Unpacking: VF_W consecutive b-bit indices span VF_W*b/8 whole bytes (a "chunk": b bytes on
 * AVX2, 2b on AVX-512), so every chunk starts on a byte boundary. The chunk is broadcast to
 * every 128-bit lane, a byte shuffle moves the two bytes that hold index k into the low half
 * of 32-bit lane k, and a per-lane variable shift and mask leave the index. Lookup: an
 * in-register table for small b (vpermps holds 8 entries on AVX2, two of them and a blend
 * make 16; vpermps/vpermt2ps hold 16/32 on AVX-512), a gather for the rest. Tails use
 * masked/partial loads, so nothing is read past d query floats or the packed code. */
#include <string.h>

#include "simd.h"
#include "tq.h"

#define TQ_O(b, k) ((unsigned)(((k) * (b)) >> 3))
#define TQ_CTL(b, k) ((int32_t)(0x80800000u | TQ_O(b, k) | ((TQ_O(b, k) + 1u) << 8)))
#define TQ_SH(b, k) ((int32_t)(((k) * (b)) & 7))
#define TQ_ROW(M, b)                                                                              \
    {                                                                                             \
        M(b, 0), M(b, 1), M(b, 2), M(b, 3), M(b, 4), M(b, 5), M(b, 6), M(b, 7), M(b, 8), M(b, 9), \
            M(b, 10), M(b, 11), M(b, 12), M(b, 13), M(b, 14), M(b, 15)                            \
    }
#define TQ_TABLE(M)                                                                              \
    {                                                                                            \
        {0}, TQ_ROW(M, 1), TQ_ROW(M, 2), TQ_ROW(M, 3), TQ_ROW(M, 4), TQ_ROW(M, 5), TQ_ROW(M, 6), \
            TQ_ROW(M, 7), TQ_ROW(M, 8)                                                           \
    }
static const int32_t tq_ctl[VQ_TQ_BITS_MAX + 1][16] = TQ_TABLE(TQ_CTL);
static const int32_t tq_sh[VQ_TQ_BITS_MAX + 1][16] = TQ_TABLE(TQ_SH);

#define TQ_INLINE static inline __attribute__((always_inline))

#if defined(VQ_KERNEL_AVX512)
#define vi_load(p) _mm512_loadu_si512((const void *)(p))
#define vi_set1(x) _mm512_set1_epi32(x)
/* Indices of one chunk of which nb <= 2b bytes are present. */
TQ_INLINE vi tq_idx(const uint8_t *p, size_t nb, vi ctl, vi sh, vi mask) {
    __m128i ch = _mm_maskz_loadu_epi8((__mmask16)((1u << nb) - 1u), p);
    vi x = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(ch), ctl);
    return _mm512_and_si512(_mm512_srlv_epi32(x, sh), mask);
}
TQ_INLINE vf tq_lookup(vi idx, vf t0, vf t1, const float *cb, unsigned b) {
    if (b <= 4) return _mm512_permutexvar_ps(idx, t0);
    if (b == 5) return _mm512_permutex2var_ps(t0, idx, t1);
    return _mm512_i32gather_ps(idx, cb, 4);
}
/* Adds the query lanes whose bit is set: 16 bits (nb <= 2 bytes) per step. */
TQ_INLINE vf tq_add_set(vf acc, vf qv, const uint8_t *s, size_t nb) {
    uint16_t m = 0;
    memcpy(&m, s, nb);
    return _mm512_mask_add_ps(acc, (__mmask16)m, acc, qv);
}
#else
#define vi_load(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define vi_set1(x) _mm256_set1_epi32(x)
TQ_INLINE vi tq_idx(const uint8_t *p, size_t nb, vi ctl, vi sh, vi mask) {
    uint64_t u = 0;
    memcpy(&u, p, nb);
    vi x = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_cvtsi64_si128((long long)u)), ctl);
    return _mm256_and_si256(_mm256_srlv_epi32(x, sh), mask);
}
TQ_INLINE vf tq_lookup(vi idx, vf t0, vf t1, const float *cb, unsigned b) {
    if (b <= 3) return _mm256_permutevar8x32_ps(t0, idx);
    if (b == 4)
        return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, idx),
                                _mm256_permutevar8x32_ps(t1, idx),
                                _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
    return _mm256_i32gather_ps(cb, idx, 4);
}
/* Adds the query lanes whose bit is set: 8 bits (one byte) per step. */
TQ_INLINE vf tq_add_set(vf acc, vf qv, const uint8_t *s, size_t nb) {
    (void)nb;
    const vi sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    vi m = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(*s), sel), sel);
    return _mm256_add_ps(acc, _mm256_and_ps(qv, _mm256_castsi256_ps(m)));
}
#endif

/* Bytes of one VF_W-index chunk at 1 bit. */
#define TQ_SBYTES (VF_W / 8)

TQ_INLINE void VQ_FN(tq_sums)(const float *y, const uint8_t *s, size_t d, float *set, float *all) {
    vf a0 = vf_zero(), a1 = vf_zero(), t0 = vf_zero(), t1 = vf_zero();
    size_t i = 0;
    for (; i + 2 * VF_W <= d; i += 2 * VF_W, s += 2 * TQ_SBYTES) {
        vf q0 = vf_loadu(y + i), q1 = vf_loadu(y + i + VF_W);
        a0 = tq_add_set(a0, q0, s, TQ_SBYTES);
        a1 = tq_add_set(a1, q1, s + TQ_SBYTES, TQ_SBYTES);
        if (all) t0 = vf_add(t0, q0), t1 = vf_add(t1, q1);
    }
    for (; i < d; i += VF_W, s += TQ_SBYTES) {
        size_t left = d - i, nb = (left + 7) / 8;
        vf qv = left >= VF_W ? vf_loadu(y + i) : vf_loadu_part(y + i, left);
        a0 = tq_add_set(a0, qv, s, nb < TQ_SBYTES ? nb : TQ_SBYTES);
        if (all) t0 = vf_add(t0, qv);
    }
    *set = vf_hsum(vf_add(a0, a1));
    if (all) *all = vf_hsum(vf_add(t0, t1));
}

static float VQ_FN(sign_sum)(const float *y, const uint8_t *s, size_t d) {
    float set;
    VQ_FN(tq_sums)(y, s, d, &set, NULL);
    return set;
}

static float VQ_FN(dot1)(const float *q, const uint8_t *c, size_t d, const float *cb) {
    float set, all;
    VQ_FN(tq_sums)(q, c, d, &set, &all);
    return cb[0] * all + (cb[1] - cb[0]) * set;
}

TQ_INLINE float VQ_FN(dot_gen)(const float *q, const uint8_t *c, size_t d, const float *cb,
                               const unsigned b) {
    const size_t ch = (size_t)VF_W * b / 8, total = vq__tq_packed_bytes(d, b);
    const vi ctl = vi_load(tq_ctl[b]), sh = vi_load(tq_sh[b]), mask = vi_set1((1 << b) - 1);
    const vf t0 = b <= 5 ? vf_loadu(cb) : vf_zero();
    const vf t1 = (b == 4 && VF_W == 8) || b == 5 ? vf_loadu(cb + VF_W) : vf_zero();
    vf s0 = vf_zero(), s1 = vf_zero();
    const uint8_t *p = c;
    size_t i = 0;
    for (; i + 2 * VF_W <= d; i += 2 * VF_W, p += 2 * ch) {
        s0 = vf_fmadd(vf_loadu(q + i), tq_lookup(tq_idx(p, ch, ctl, sh, mask), t0, t1, cb, b), s0);
        s1 = vf_fmadd(vf_loadu(q + i + VF_W),
                      tq_lookup(tq_idx(p + ch, ch, ctl, sh, mask), t0, t1, cb, b), s1);
    }
    for (; i < d; i += VF_W, p += ch) {
        size_t left = d - i, nb = total - (size_t)(p - c);
        vf qv = left >= VF_W ? vf_loadu(q + i) : vf_loadu_part(q + i, left);
        /* Lanes past d see zero query values, so whatever index they decode adds 0. */
        s0 =
            vf_fmadd(qv, tq_lookup(tq_idx(p, nb < ch ? nb : ch, ctl, sh, mask), t0, t1, cb, b), s0);
    }
    return vf_hsum(vf_add(s0, s1));
}

#define TQ_DOT(B)                                                                             \
    static float VQ_FN(dot##B)(const float *q, const uint8_t *c, size_t d, const float *cb) { \
        return VQ_FN(dot_gen)(q, c, d, cb, B);                                                \
    }
TQ_DOT(2)
TQ_DOT(3)
TQ_DOT(4)
TQ_DOT(5)
TQ_DOT(6)
TQ_DOT(7)
TQ_DOT(8)

/* y[r·ldy + i] += a[r]·cb[index_i]: each chunk of indices is unpacked and looked up once,
 * then added to every row. Full chunks lie inside the code (VF_W·b/8 bytes each); the tail
 * chunk reads only the bytes left and adds only the lanes below d. */
TQ_INLINE void VQ_FN(acc_gen)(const uint8_t *c, size_t d, const float *cb, const float *a,
                              size_t na, float *y, size_t ldy, const unsigned b) {
    const size_t ch = (size_t)VF_W * b / 8, total = vq__tq_packed_bytes(d, b);
    const vi ctl = vi_load(tq_ctl[b]), sh = vi_load(tq_sh[b]), mask = vi_set1((1 << b) - 1);
    const vf t0 = b <= 5 ? vf_loadu(cb) : vf_zero();
    const vf t1 = (b == 4 && VF_W == 8) || b == 5 ? vf_loadu(cb + VF_W) : vf_zero();
    const uint8_t *p = c;
    size_t i = 0;
    for (; i + VF_W <= d; i += VF_W, p += ch) {
        vf v = tq_lookup(tq_idx(p, ch, ctl, sh, mask), t0, t1, cb, b);
        for (size_t r = 0; r < na; r++) {
            float *o = y + r * ldy + i;
            vf_storeu(o, vf_fmadd(vf_set1(a[r]), v, vf_loadu(o)));
        }
    }
    if (i < d) {
        size_t nb = total - (size_t)(p - c), left = d - i;
        float lane[VF_W];
        vf_storeu(lane, tq_lookup(tq_idx(p, nb < ch ? nb : ch, ctl, sh, mask), t0, t1, cb, b));
        for (size_t r = 0; r < na; r++) {
            float *o = y + r * ldy + i;
            for (size_t k = 0; k < left; k++) o[k] = __builtin_fmaf(a[r], lane[k], o[k]);
        }
    }
}

#define TQ_ACC(B)                                                                          \
    static void VQ_FN(acc##B)(const uint8_t *c, size_t d, const float *cb, const float *a, \
                              size_t na, float *y, size_t ldy) {                           \
        VQ_FN(acc_gen)(c, d, cb, a, na, y, ldy, B);                                        \
    }
TQ_ACC(1)
TQ_ACC(2)
TQ_ACC(3)
TQ_ACC(4)
TQ_ACC(5)
TQ_ACC(6)
TQ_ACC(7)
TQ_ACC(8)

const vq_k_tq VQ_FN(vq__k_tq) = {
    {NULL, VQ_FN(dot1), VQ_FN(dot2), VQ_FN(dot3), VQ_FN(dot4), VQ_FN(dot5), VQ_FN(dot6),
     VQ_FN(dot7), VQ_FN(dot8)},
    VQ_FN(sign_sum),
    {NULL, VQ_FN(acc1), VQ_FN(acc2), VQ_FN(acc3), VQ_FN(acc4), VQ_FN(acc5), VQ_FN(acc6),
     VQ_FN(acc7), VQ_FN(acc8)},
};
