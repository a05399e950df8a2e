/* simd.h — the vector vocabulary kernel bodies are written in. A body file (*_body.h) is
 * written once against these names and included by one translation unit per ISA
 * (*_avx2.c, *_avx512.c), which CMake compiles with that ISA's flags. Scalar references
 * are separate plain-C files (*_scalar.c), compiled without auto-vectorization.
 *
 * Names: vf = float vector of VF_W lanes; vi = 32-bit int vector of the same lane count;
 * vb = byte vector of VB_W bytes (in-lane 16-byte shuffles, as pshufb works);
 * VQ_FN(name) appends the ISA suffix so every instantiation has distinct symbols.
 * Tails are handled by the *_part loads, which never touch memory past n elements. */
#ifndef VQ_KERNELS_SIMD_H
#define VQ_KERNELS_SIMD_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#define VQ__CAT2(a, b) a##_##b
#define VQ__CAT(a, b) VQ__CAT2(a, b)
#define VQ_FN(name) VQ__CAT(name, VQ_SFX)

#if defined(VQ_KERNEL_AVX512)
#define VQ_SFX avx512
#define VF_W 16
#define VB_W 64
typedef __m512 vf;
typedef __m512i vi;
typedef __m512i vb;
#define vf_zero() _mm512_setzero_ps()
#define vf_set1(x) _mm512_set1_ps(x)
#define vf_loadu(p) _mm512_loadu_ps(p)
#define vf_storeu(p, v) _mm512_storeu_ps((p), (v))
#define vf_add(a, b) _mm512_add_ps(a, b)
#define vf_sub(a, b) _mm512_sub_ps(a, b)
#define vf_mul(a, b) _mm512_mul_ps(a, b)
#define vf_fmadd(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vf_hsum(v) _mm512_reduce_add_ps(v)
static inline __mmask16 vq__mask16(size_t n) { return (__mmask16)((1u << n) - 1u); }
static inline vf vf_loadu_part(const float *p, size_t n) {
    return _mm512_maskz_loadu_ps(vq__mask16(n), p);
}
/* Loads VF_W half floats (IEEE binary16) and widens them. */
#define vf_load_f16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
/* Loads VF_W bfloat16 values and widens them. */
#define vf_load_bf16(p)                    \
    _mm512_castsi512_ps(_mm512_slli_epi32( \
        _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
/* Loads VF_W unsigned bytes and converts them to floats. */
#define vf_load_u8(p) \
    _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))
/* Bytes. */
#define vb_loadu(p) _mm512_loadu_si512((const void *)(p))
#define vb_storeu(p, v) _mm512_storeu_si512((void *)(p), (v))
#define vb_zero() _mm512_setzero_si512()
#define vb_set1(x) _mm512_set1_epi8((char)(x))
#define vb_and(a, b) _mm512_and_si512(a, b)
#define vb_srli16(a, k) _mm512_srli_epi16(a, k)
#define vb_shuffle(tbl, idx) _mm512_shuffle_epi8(tbl, idx)
#define vb_add16(a, b) _mm512_add_epi16(a, b)
/* Broadcasts one 16-byte table to every 128-bit lane. */
#define vb_bcast16(p) _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)(p)))

#elif defined(VQ_KERNEL_AVX2)
#define VQ_SFX avx2
#define VF_W 8
#define VB_W 32
typedef __m256 vf;
typedef __m256i vi;
typedef __m256i vb;
#define vf_zero() _mm256_setzero_ps()
#define vf_set1(x) _mm256_set1_ps(x)
#define vf_loadu(p) _mm256_loadu_ps(p)
#define vf_storeu(p, v) _mm256_storeu_ps((p), (v))
#define vf_add(a, b) _mm256_add_ps(a, b)
#define vf_sub(a, b) _mm256_sub_ps(a, b)
#define vf_mul(a, b) _mm256_mul_ps(a, b)
#define vf_fmadd(a, b, c) _mm256_fmadd_ps(a, b, c)
static inline float vf_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline vf vf_loadu_part(const float *p, size_t n) {
    static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_maskload_ps(p, _mm256_loadu_si256((const __m256i *)(const void *)(m + 8 - n)));
}
#define vf_load_f16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define vf_load_bf16(p)                    \
    _mm256_castsi256_ps(_mm256_slli_epi32( \
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define vf_load_u8(p) \
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))
#define vb_loadu(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define vb_storeu(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define vb_zero() _mm256_setzero_si256()
#define vb_set1(x) _mm256_set1_epi8((char)(x))
#define vb_and(a, b) _mm256_and_si256(a, b)
#define vb_srli16(a, k) _mm256_srli_epi16(a, k)
#define vb_shuffle(tbl, idx) _mm256_shuffle_epi8(tbl, idx)
#define vb_add16(a, b) _mm256_add_epi16(a, b)
#define vb_bcast16(p) \
    _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(p)))

#else
#error "simd.h: define VQ_KERNEL_AVX512 or VQ_KERNEL_AVX2 before including it"
#endif

#endif
