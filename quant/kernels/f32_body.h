/* f32_body.h — one body of the dense float kernels, instantiated per ISA by f32_avx2.c and
 * f32_avx512.c. Four accumulators hide FMA latency; tails use masked loads, so nothing is
 * read past d. Results differ from the scalar reference only by summation order. */
#include "f32.h"
#include "simd.h"

static float VQ_FN(l2sq)(const float *a, const float *b, size_t d) {
    vf s0 = vf_zero(), s1 = vf_zero(), s2 = vf_zero(), s3 = vf_zero();
    size_t i = 0;
    for (; i + 4 * VF_W <= d; i += 4 * VF_W) {
        vf t0 = vf_sub(vf_loadu(a + i), vf_loadu(b + i));
        vf t1 = vf_sub(vf_loadu(a + i + VF_W), vf_loadu(b + i + VF_W));
        vf t2 = vf_sub(vf_loadu(a + i + 2 * VF_W), vf_loadu(b + i + 2 * VF_W));
        vf t3 = vf_sub(vf_loadu(a + i + 3 * VF_W), vf_loadu(b + i + 3 * VF_W));
        s0 = vf_fmadd(t0, t0, s0);
        s1 = vf_fmadd(t1, t1, s1);
        s2 = vf_fmadd(t2, t2, s2);
        s3 = vf_fmadd(t3, t3, s3);
    }
    for (; i + VF_W <= d; i += VF_W) {
        vf t = vf_sub(vf_loadu(a + i), vf_loadu(b + i));
        s0 = vf_fmadd(t, t, s0);
    }
    if (i < d) {
        vf t = vf_sub(vf_loadu_part(a + i, d - i), vf_loadu_part(b + i, d - i));
        s1 = vf_fmadd(t, t, s1);
    }
    return vf_hsum(vf_add(vf_add(s0, s1), vf_add(s2, s3)));
}

static float VQ_FN(ip)(const float *a, const float *b, size_t d) {
    vf s0 = vf_zero(), s1 = vf_zero(), s2 = vf_zero(), s3 = vf_zero();
    size_t i = 0;
    for (; i + 4 * VF_W <= d; i += 4 * VF_W) {
        s0 = vf_fmadd(vf_loadu(a + i), vf_loadu(b + i), s0);
        s1 = vf_fmadd(vf_loadu(a + i + VF_W), vf_loadu(b + i + VF_W), s1);
        s2 = vf_fmadd(vf_loadu(a + i + 2 * VF_W), vf_loadu(b + i + 2 * VF_W), s2);
        s3 = vf_fmadd(vf_loadu(a + i + 3 * VF_W), vf_loadu(b + i + 3 * VF_W), s3);
    }
    for (; i + VF_W <= d; i += VF_W) s0 = vf_fmadd(vf_loadu(a + i), vf_loadu(b + i), s0);
    if (i < d) s1 = vf_fmadd(vf_loadu_part(a + i, d - i), vf_loadu_part(b + i, d - i), s1);
    return vf_hsum(vf_add(vf_add(s0, s1), vf_add(s2, s3)));
}

static float VQ_FN(cos)(const float *a, const float *b, size_t d) {
    vf sab = vf_zero(), saa = vf_zero(), sbb = vf_zero();
    size_t i = 0;
    for (; i < d; i += VF_W) {
        size_t m = d - i < VF_W ? d - i : VF_W;
        vf x = m == VF_W ? vf_loadu(a + i) : vf_loadu_part(a + i, m);
        vf y = m == VF_W ? vf_loadu(b + i) : vf_loadu_part(b + i, m);
        sab = vf_fmadd(x, y, sab);
        saa = vf_fmadd(x, x, saa);
        sbb = vf_fmadd(y, y, sbb);
    }
    float ab = vf_hsum(sab), aa = vf_hsum(saa), bb = vf_hsum(sbb);
    if (aa <= 0.0f || bb <= 0.0f) return 0.0f;
    return ab / (__builtin_sqrtf(aa) * __builtin_sqrtf(bb));
}

static void VQ_FN(l2sq_ny)(const float *q, const float *x, size_t n, size_t d, float *out) {
    for (size_t r = 0; r < n; r++) {
        /* The stream is sequential; a software prefetch a few rows ahead keeps the
         * hardware prefetcher's page-boundary stalls out of the loop. */
        __builtin_prefetch(x + (r + 4) * d, 0, 0);
        out[r] = VQ_FN(l2sq)(q, x + r * d, d);
    }
}

static void VQ_FN(ip_ny)(const float *q, const float *x, size_t n, size_t d, float *out) {
    for (size_t r = 0; r < n; r++) {
        __builtin_prefetch(x + (r + 4) * d, 0, 0);
        out[r] = VQ_FN(ip)(q, x + r * d, d);
    }
}

/* The widened-code kernels share one shape: LOAD(c + i) gives VF_W floats. Tails fall back
 * to the scalar conversion so that no load reads past the code. */
#define VQ__ASYM_L2(NAME, CT, LOAD, CONV)                               \
    static float VQ_FN(NAME)(const float *q, const CT *c, size_t d) {   \
        vf s0 = vf_zero(), s1 = vf_zero();                              \
        size_t i = 0;                                                   \
        for (; i + 2 * VF_W <= d; i += 2 * VF_W) {                      \
            vf t0 = vf_sub(vf_loadu(q + i), LOAD(c + i));               \
            vf t1 = vf_sub(vf_loadu(q + i + VF_W), LOAD(c + i + VF_W)); \
            s0 = vf_fmadd(t0, t0, s0);                                  \
            s1 = vf_fmadd(t1, t1, s1);                                  \
        }                                                               \
        for (; i + VF_W <= d; i += VF_W) {                              \
            vf t = vf_sub(vf_loadu(q + i), LOAD(c + i));                \
            s0 = vf_fmadd(t, t, s0);                                    \
        }                                                               \
        float s = vf_hsum(vf_add(s0, s1));                              \
        for (; i < d; i++) {                                            \
            float t = q[i] - CONV(c[i]);                                \
            s += t * t;                                                 \
        }                                                               \
        return s;                                                       \
    }
#define VQ__ASYM_IP(NAME, CT, LOAD, CONV)                                                 \
    static float VQ_FN(NAME)(const float *q, const CT *c, size_t d) {                     \
        vf s0 = vf_zero(), s1 = vf_zero();                                                \
        size_t i = 0;                                                                     \
        for (; i + 2 * VF_W <= d; i += 2 * VF_W) {                                        \
            s0 = vf_fmadd(vf_loadu(q + i), LOAD(c + i), s0);                              \
            s1 = vf_fmadd(vf_loadu(q + i + VF_W), LOAD(c + i + VF_W), s1);                \
        }                                                                                 \
        for (; i + VF_W <= d; i += VF_W) s0 = vf_fmadd(vf_loadu(q + i), LOAD(c + i), s0); \
        float s = vf_hsum(vf_add(s0, s1));                                                \
        for (; i < d; i++) s += q[i] * CONV(c[i]);                                        \
        return s;                                                                         \
    }
#define VQ__U8F(x) ((float)(x))
VQ__ASYM_L2(f16_l2sq, uint16_t, vf_load_f16, vq__f16_to_f32)
VQ__ASYM_IP(f16_ip, uint16_t, vf_load_f16, vq__f16_to_f32)
VQ__ASYM_L2(bf16_l2sq, uint16_t, vf_load_bf16, vq__bf16_to_f32)
VQ__ASYM_IP(bf16_ip, uint16_t, vf_load_bf16, vq__bf16_to_f32)
VQ__ASYM_IP(sq8_ip, uint8_t, vf_load_u8, VQ__U8F)

static float VQ_FN(sq8_l2sq)(const float *qn, const float *w, const uint8_t *c, size_t d) {
    vf s0 = vf_zero(), s1 = vf_zero();
    size_t i = 0;
    for (; i + 2 * VF_W <= d; i += 2 * VF_W) {
        vf t0 = vf_sub(vf_loadu(qn + i), vf_load_u8(c + i));
        vf t1 = vf_sub(vf_loadu(qn + i + VF_W), vf_load_u8(c + i + VF_W));
        s0 = vf_fmadd(vf_mul(t0, t0), vf_loadu(w + i), s0);
        s1 = vf_fmadd(vf_mul(t1, t1), vf_loadu(w + i + VF_W), s1);
    }
    for (; i + VF_W <= d; i += VF_W) {
        vf t = vf_sub(vf_loadu(qn + i), vf_load_u8(c + i));
        s0 = vf_fmadd(vf_mul(t, t), vf_loadu(w + i), s0);
    }
    float s = vf_hsum(vf_add(s0, s1));
    for (; i < d; i++) {
        float t = qn[i] - (float)c[i];
        s += w[i] * t * t;
    }
    return s;
}

static int32_t VQ_FN(u8_dot_i16)(const int16_t *w, const uint8_t *c, size_t d) {
    size_t i = 0;
#if defined(VQ_KERNEL_AVX512)
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
    for (; i + 64 <= d; i += 64) {
        __m512i c0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + i)));
        __m512i c1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + i + 32)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(c0, _mm512_loadu_si512(w + i)));
        s1 = _mm512_add_epi32(s1, _mm512_madd_epi16(c1, _mm512_loadu_si512(w + i + 32)));
    }
    for (; i + 32 <= d; i += 32) {
        __m512i c0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(c + i)));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(c0, _mm512_loadu_si512(w + i)));
    }
    if (i < d) { /* masked loads: lanes past d are neither read nor faulted on */
        __mmask32 m = (__mmask32)((1ull << (d - i)) - 1);
        __m512i c0 = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, c + i));
        s0 = _mm512_add_epi32(s0, _mm512_madd_epi16(c0, _mm512_maskz_loadu_epi16(m, w + i)));
        i = d;
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(s0, s1));
#else
    __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
    for (; i + 32 <= d; i += 32) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(c + i)));
        __m256i c1 =
            _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(c + i + 16)));
        s0 = _mm256_add_epi32(
            s0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(const void *)(w + i))));
        s1 = _mm256_add_epi32(
            s1,
            _mm256_madd_epi16(c1, _mm256_loadu_si256((const __m256i *)(const void *)(w + i + 16))));
    }
    for (; i + 16 <= d; i += 16) {
        __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(c + i)));
        s0 = _mm256_add_epi32(
            s0, _mm256_madd_epi16(c0, _mm256_loadu_si256((const __m256i *)(const void *)(w + i))));
    }
    __m256i t = _mm256_add_epi32(s0, s1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    int32_t s = _mm_cvtsi128_si32(h);
    for (; i < d; i++) s += (int32_t)w[i] * c[i];
    return s;
#endif
}

const vq_k_f32 VQ_FN(vq__k_f32) = {
    VQ_FN(l2sq),    VQ_FN(ip),       VQ_FN(cos),    VQ_FN(l2sq_ny),
    VQ_FN(ip_ny),   VQ_FN(f16_l2sq), VQ_FN(f16_ip), VQ_FN(bf16_l2sq),
    VQ_FN(bf16_ip), VQ_FN(sq8_l2sq), VQ_FN(sq8_ip), VQ_FN(u8_dot_i16),
};
