/* bits_body.h — one body of the bit kernels (see bits.h), instantiated per ISA by
 * bits_avx2.c and bits_avx512.c.
 *
 * A vector of VB_W bytes is popcounted into 64-bit lanes: VPOPCNTDQ on AVX-512; on AVX2 the
 * nibble-table method (two pshufb lookups per byte, then psadbw sums the byte counts into
 * 64-bit lanes). Tails: AVX-512 uses a masked byte load, so one more vector step finishes
 * the plane; AVX2 finishes with 64-bit words and the POPCNT instruction. Nothing is read
 * past nb bytes. */
#include <string.h>

#include "bits.h"
#include "simd.h"

#if defined(VQ_KERNEL_AVX512)
#define VQ__BITS_MASKED_TAIL 1
static inline vb VQ_FN(vpop)(vb v) { return _mm512_popcnt_epi64(v); }
static inline vb VQ_FN(vload_part)(const uint8_t *p, size_t n) {
    return _mm512_maskz_loadu_epi8(n >= 64 ? ~0ull : (1ull << n) - 1, p);
}
#define vb_xor(a, b) _mm512_xor_si512(a, b)
#define vq_add64(a, b) _mm512_add_epi64(a, b)
#define vq_sll64(a, k) _mm512_sll_epi64(a, _mm_cvtsi32_si128((int)(k)))
#define vq_hsum64(v) ((uint64_t)_mm512_reduce_add_epi64(v))
#else
#define VQ__BITS_MASKED_TAIL 0
static inline vb VQ_FN(vpop)(vb v) {
    const vb tbl = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1,
                                    2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const vb lo = _mm256_set1_epi8(0x0f);
    vb c = _mm256_add_epi8(_mm256_shuffle_epi8(tbl, _mm256_and_si256(v, lo)),
                           _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), lo)));
    return _mm256_sad_epu8(c, _mm256_setzero_si256());
}
#define vb_xor(a, b) _mm256_xor_si256(a, b)
#define vq_add64(a, b) _mm256_add_epi64(a, b)
#define vq_sll64(a, k) _mm256_sll_epi64(a, _mm_cvtsi32_si128((int)(k)))
static inline uint64_t VQ_FN(hsum64)(vb v) {
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
}
#define vq_hsum64(v) VQ_FN(hsum64)(v)
#endif

/* Scalar tail words (AVX2 only): bytes [i, nb) zero-extended to 64-bit words. */
static inline uint64_t VQ_FN(word)(const uint8_t *p, size_t nb, size_t off) {
    uint64_t w = 0;
    memcpy(&w, p + off, nb - off < 8 ? nb - off : 8);
    return w;
}

static uint64_t VQ_FN(popcnt)(const uint8_t *a, size_t nb) {
    vb acc = vb_zero();
    size_t i = 0;
    for (; i + VB_W <= nb; i += VB_W) acc = vq_add64(acc, VQ_FN(vpop)(vb_loadu(a + i)));
#if VQ__BITS_MASKED_TAIL
    if (i < nb) acc = vq_add64(acc, VQ_FN(vpop)(VQ_FN(vload_part)(a + i, nb - i)));
    return vq_hsum64(acc);
#else
    uint64_t s = vq_hsum64(acc);
    for (; i < nb; i += 8) s += (uint64_t)__builtin_popcountll(VQ_FN(word)(a, nb, i));
    return s;
#endif
}

static uint64_t VQ_FN(hamming)(const uint8_t *a, const uint8_t *b, size_t nb) {
    vb acc = vb_zero();
    size_t i = 0;
    for (; i + VB_W <= nb; i += VB_W)
        acc = vq_add64(acc, VQ_FN(vpop)(vb_xor(vb_loadu(a + i), vb_loadu(b + i))));
#if VQ__BITS_MASKED_TAIL
    if (i < nb)
        acc = vq_add64(acc, VQ_FN(vpop)(vb_xor(VQ_FN(vload_part)(a + i, nb - i),
                                               VQ_FN(vload_part)(b + i, nb - i))));
    return vq_hsum64(acc);
#else
    uint64_t s = vq_hsum64(acc);
    for (; i < nb; i += 8)
        s += (uint64_t)__builtin_popcountll(VQ_FN(word)(a, nb, i) ^ VQ_FN(word)(b, nb, i));
    return s;
#endif
}

static uint64_t VQ_FN(ip_planes)(const uint8_t *code, const uint8_t *planes, size_t nb,
                                 unsigned nplanes) {
    vb acc = vb_zero();
    size_t i = 0;
    for (; i + VB_W <= nb; i += VB_W) {
        vb c = vb_loadu(code + i);
        for (unsigned j = 0; j < nplanes; j++) {
            vb t = VQ_FN(vpop)(vb_and(c, vb_loadu(planes + (size_t)j * nb + i)));
            acc = vq_add64(acc, vq_sll64(t, j));
        }
    }
#if VQ__BITS_MASKED_TAIL
    if (i < nb) {
        vb c = VQ_FN(vload_part)(code + i, nb - i);
        for (unsigned j = 0; j < nplanes; j++) {
            vb t = VQ_FN(vpop)(vb_and(c, VQ_FN(vload_part)(planes + (size_t)j * nb + i, nb - i)));
            acc = vq_add64(acc, vq_sll64(t, j));
        }
    }
    return vq_hsum64(acc);
#else
    uint64_t s = vq_hsum64(acc);
    for (; i < nb; i += 8) {
        uint64_t c = VQ_FN(word)(code, nb, i);
        for (unsigned j = 0; j < nplanes; j++)
            s += (uint64_t)__builtin_popcountll(c & VQ_FN(word)(planes + (size_t)j * nb, nb, i))
                 << j;
    }
    return s;
#endif
}

static uint64_t VQ_FN(ip_multi)(const uint8_t *code, unsigned cbits, const uint8_t *planes,
                                unsigned qbits, size_t nb) {
    uint64_t s = 0;
    for (unsigned a = 0; a < cbits; a++)
        s += VQ_FN(ip_planes)(code + (size_t)a * nb, planes, nb, qbits) << a;
    return s;
}

const vq_k_bits VQ_FN(vq__k_bits) = {VQ_FN(popcnt), VQ_FN(hamming), VQ_FN(ip_planes),
                                     VQ_FN(ip_multi)};
