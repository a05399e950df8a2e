/* pq_body.h — one body of the PQ scan kernels (see pq.h for the contracts and the packed
 * 4-bit layout), instantiated per ISA by pq_avx2.c and pq_avx512.c.
 *
 * pq8_scan gathers VF_W LUT entries per instruction (indices = code bytes + 256 j) and
 * interleaves four codes so that the gathers' latency overlaps; sub-quantizers past the last
 * full vector are added in scalar code, so nothing is read past a code. Results differ from
 * the scalar reference only by summation order.
 *
 * pq4_fastscan keeps everything in integer registers: per pair of sub-quantizers one load of
 * 32 code bytes (VB_W / 32 pairs per step), two in-lane shuffles against the 32-byte table of
 * the pair, and widening adds into four uint16 accumulators (even/odd bytes x low/high
 * nibbles). The final fold adds the 128-bit lanes, which hold the same vectors' terms for
 * different sub-quantizers. All adds wrap modulo 2^16 exactly as the scalar reference does, so
 * the results are bit-identical. */
#include <math.h>

#include "pq.h"
#include "simd.h"

#if defined(VQ_KERNEL_AVX512)
#define PQ_W16(x) _mm512_set1_epi16((short)(x))
#define PQ_AND(a, b) _mm512_and_si512(a, b)
/* VF_W code bytes widened to 32-bit indices. */
#define PQ_IDX(p) _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define PQ_IADD(a, b) _mm512_add_epi32(a, b)
#define PQ_ISET1(x) _mm512_set1_epi32(x)
#define PQ_GATHER(base, idx) _mm512_i32gather_ps(idx, base, 4)
static const int32_t pq_lane_off[16] = {0,    256,  512,  768,  1024, 1280, 1536, 1792,
                                        2048, 2304, 2560, 2816, 3072, 3328, 3584, 3840};
#define PQ_LANES() _mm512_loadu_si512((const void *)pq_lane_off)
static inline __m128i pq_fold(__m512i a) {
    __m128i s = _mm_add_epi16(_mm512_castsi512_si128(a), _mm512_extracti32x4_epi32(a, 1));
    s = _mm_add_epi16(s, _mm512_extracti32x4_epi32(a, 2));
    return _mm_add_epi16(s, _mm512_extracti32x4_epi32(a, 3));
}
/* The last pair when m / 2 is odd: 32 bytes in the low half, zeros above (code 0 against a
 * zero table adds nothing). */
#define PQ_LOAD_HALF(p) _mm512_maskz_loadu_epi8(0xffffffffull, (const void *)(p))
/* VF_W uint16 values widened to floats. */
#define PQ_U16F(p)      \
    _mm512_cvtepi32_ps( \
        _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))))
#else
#define PQ_W16(x) _mm256_set1_epi16((short)(x))
#define PQ_AND(a, b) _mm256_and_si256(a, b)
#define PQ_IDX(p) _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p)))
#define PQ_IADD(a, b) _mm256_add_epi32(a, b)
#define PQ_ISET1(x) _mm256_set1_epi32(x)
#define PQ_GATHER(base, idx) _mm256_i32gather_ps(base, idx, 4)
static const int32_t pq_lane_off[8] = {0, 256, 512, 768, 1024, 1280, 1536, 1792};
#define PQ_LANES() _mm256_loadu_si256((const __m256i *)(const void *)pq_lane_off)
static inline __m128i pq_fold(__m256i a) {
    return _mm_add_epi16(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}
#define PQ_U16F(p) \
    _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))
#endif

static void VQ_FN(pq8_scan)(const float *lut, size_t m, const uint8_t *codes, size_t n,
                            float *out) {
    const vi lanes = PQ_LANES();
    const vi step = PQ_ISET1(VF_W * 256);
    size_t mv = m - m % VF_W; /* sub-quantizers handled by gathers */
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint8_t *c0 = codes + i * m, *c1 = c0 + m, *c2 = c1 + m, *c3 = c2 + m;
        vf s0 = vf_zero(), s1 = vf_zero(), s2 = vf_zero(), s3 = vf_zero();
        vi off = lanes;
        for (size_t j = 0; j < mv; j += VF_W) {
            s0 = vf_add(s0, PQ_GATHER(lut, PQ_IADD(PQ_IDX(c0 + j), off)));
            s1 = vf_add(s1, PQ_GATHER(lut, PQ_IADD(PQ_IDX(c1 + j), off)));
            s2 = vf_add(s2, PQ_GATHER(lut, PQ_IADD(PQ_IDX(c2 + j), off)));
            s3 = vf_add(s3, PQ_GATHER(lut, PQ_IADD(PQ_IDX(c3 + j), off)));
            off = PQ_IADD(off, step);
        }
        float r0 = vf_hsum(s0), r1 = vf_hsum(s1), r2 = vf_hsum(s2), r3 = vf_hsum(s3);
        for (size_t j = mv; j < m; j++) {
            const float *t = lut + j * 256;
            r0 += t[c0[j]];
            r1 += t[c1[j]];
            r2 += t[c2[j]];
            r3 += t[c3[j]];
        }
        out[i] = r0;
        out[i + 1] = r1;
        out[i + 2] = r2;
        out[i + 3] = r3;
    }
    for (; i < n; i++) {
        const uint8_t *c = codes + i * m;
        vf s = vf_zero();
        vi off = lanes;
        for (size_t j = 0; j < mv; j += VF_W) {
            s = vf_add(s, PQ_GATHER(lut, PQ_IADD(PQ_IDX(c + j), off)));
            off = PQ_IADD(off, step);
        }
        float r = vf_hsum(s);
        for (size_t j = mv; j < m; j++) r += lut[j * 256 + c[j]];
        out[i] = r;
    }
}

static void VQ_FN(pq4_fastscan)(const uint8_t *lut, size_t m, const uint8_t *blocks, size_t nblocks,
                                uint16_t *out) {
    const size_t np = m / 2, bb = np * 32;
    const vb nib = vb_set1(0x0f), low8 = PQ_W16(0x00ff);
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = blocks + b * bb;
        /* Blocks stream from memory: ask for the one four ahead, as l2sq_ny does for rows. */
        for (size_t o = 0; o < bb; o += 64) __builtin_prefetch(blk + 4 * bb + o, 0, 0);
        vb a0 = vb_zero(), a1 = vb_zero(), a2 = vb_zero(), a3 = vb_zero();
        size_t p = 0;
        for (; p + VB_W / 32 <= np; p += VB_W / 32) {
            vb c = vb_loadu(blk + 32 * p), t = vb_loadu(lut + 32 * p);
            vb lo = vb_shuffle(t, vb_and(c, nib));
            vb hi = vb_shuffle(t, vb_and(vb_srli16(c, 4), nib));
            a0 = vb_add16(a0, PQ_AND(lo, low8));
            a1 = vb_add16(a1, vb_srli16(lo, 8));
            a2 = vb_add16(a2, PQ_AND(hi, low8));
            a3 = vb_add16(a3, vb_srli16(hi, 8));
        }
#if defined(VQ_KERNEL_AVX512)
        if (p < np) {
            vb c = PQ_LOAD_HALF(blk + 32 * p), t = PQ_LOAD_HALF(lut + 32 * p);
            vb lo = vb_shuffle(t, vb_and(c, nib));
            vb hi = vb_shuffle(t, vb_and(vb_srli16(c, 4), nib));
            a0 = vb_add16(a0, PQ_AND(lo, low8));
            a1 = vb_add16(a1, vb_srli16(lo, 8));
            a2 = vb_add16(a2, PQ_AND(hi, low8));
            a3 = vb_add16(a3, vb_srli16(hi, 8));
        }
#endif
        uint16_t *o = out + b * VQ_PQ4_BLOCK;
        _mm_storeu_si128((__m128i *)(void *)o, pq_fold(a0));
        _mm_storeu_si128((__m128i *)(void *)(o + 8), pq_fold(a1));
        _mm_storeu_si128((__m128i *)(void *)(o + 16), pq_fold(a2));
        _mm_storeu_si128((__m128i *)(void *)(o + 24), pq_fold(a3));
    }
}

static void VQ_FN(u16_affine)(const uint16_t *in, size_t n, float bias, float scale, float *out) {
    const vf b = vf_set1(bias), s = vf_set1(scale);
    size_t i = 0;
    for (; i + VF_W <= n; i += VF_W) vf_storeu(out + i, vf_fmadd(s, PQ_U16F(in + i), b));
    for (; i < n; i++) out[i] = fmaf(scale, (float)in[i], bias);
}

const vq_k_pq VQ_FN(vq__k_pq) = {VQ_FN(pq8_scan), VQ_FN(pq4_fastscan), VQ_FN(u16_affine)};
