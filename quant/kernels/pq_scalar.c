/* pq_scalar.c — scalar references of the PQ kernels (plain loops, compiled without
 * auto-vectorization), the float LUT scan over row-major 4-bit codes that fast-scan is
 * measured against, the LUT quantizer of fast-scan and the ISA table lookup. */
#include <math.h>

#include "pq.h"

static void pq8_scan(const float *lut, size_t m, const uint8_t *codes, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        float s = 0;
        for (size_t j = 0; j < m; j++) s += lut[j * 256 + c[j]];
        out[i] = s;
    }
}

/* The same integer arithmetic as the SIMD bodies, in uint16 so that wrap-around (which the
 * LUT quantizer rules out, but the kernel contract allows) is identical. */
static void pq4_fastscan(const uint8_t *lut, size_t m, const uint8_t *blocks, size_t nblocks,
                         uint16_t *out) {
    const size_t bb = m / 2 * 32;
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = blocks + b * bb;
        uint16_t acc[VQ_PQ4_BLOCK] = {0};
        for (size_t j = 0; j < m; j++) {
            const uint8_t *t = lut + 16 * j;
            const uint8_t *half = blk + (j / 2) * 32 + (j & 1) * 16;
            for (size_t k = 0; k < 16; k++) {
                size_t v = k % 2 == 0 ? k / 2 : 8 + k / 2;
                acc[v] = (uint16_t)(acc[v] + t[half[k] & 15]);
                acc[16 + v] = (uint16_t)(acc[16 + v] + t[half[k] >> 4]);
            }
        }
        for (size_t i = 0; i < VQ_PQ4_BLOCK; i++) out[b * VQ_PQ4_BLOCK + i] = acc[i];
    }
}

static void u16_affine(const uint16_t *in, size_t n, float bias, float scale, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = fmaf(scale, (float)in[i], bias);
}

void vq__pq4_scan_f32(const float *lut, size_t m, const uint8_t *codes, size_t n, float *out) {
    const size_t cs = m / 2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        float s = 0;
        for (size_t t = 0; t < cs; t++) {
            s += lut[32 * t + (c[t] & 15)];
            s += lut[32 * t + 16 + (c[t] >> 4)];
        }
        out[i] = s;
    }
}

float vq__pq4_quantize_lut(const float *lut, size_t m, uint8_t *lut8, float *bias) {
    double bsum = 0, rsum = 0;
    float rmax = 0;
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + 16 * j;
        float lo = t[0], hi = t[0];
        for (size_t c = 1; c < 16; c++) lo = t[c] < lo ? t[c] : lo, hi = t[c] > hi ? t[c] : hi;
        bsum += lo;
        rsum += (double)hi - lo;
        if (hi - lo > rmax) rmax = hi - lo;
    }
    /* Each entry rounds to at most range_j / scale + 1/2, so a sum over m sub-quantizers
     * stays below 65535 when scale >= sum_j range_j / (65535 - m). */
    double s1 = rmax / 255.0, s2 = rsum / (65535.0 - (double)m);
    float scale = (float)(s1 > s2 ? s1 : s2);
    if (!(scale > 0)) scale = 1.0f;
    for (size_t j = 0; j < m; j++) {
        const float *t = lut + 16 * j;
        float lo = t[0];
        for (size_t c = 1; c < 16; c++) lo = t[c] < lo ? t[c] : lo;
        for (size_t c = 0; c < 16; c++) {
            float v = roundf((t[c] - lo) / scale);
            /* (t - lo) / scale <= 255 up to one rounding of the division. */
            lut8[16 * j + c] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    *bias = (float)bsum;
    return scale;
}

const vq_k_pq vq__k_pq_scalar = {pq8_scan, pq4_fastscan, u16_affine};

const vq_k_pq *vq__k_pq(vq_isa isa) {
    return isa == VQ_ISA_AVX512 ? &vq__k_pq_avx512
           : isa == VQ_ISA_AVX2 ? &vq__k_pq_avx2
                                : &vq__k_pq_scalar;
}
