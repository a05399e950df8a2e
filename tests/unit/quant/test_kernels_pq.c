/* PQ kernels: every SIMD instantiation against the scalar reference. pq8_scan on random,
 * integer-valued (exact), huge and tiny tables, m = 1..67 and 784, code counts that leave
 * every tail, unaligned pointers; pq4_fastscan bit-exact on arbitrary bytes (wrap-around
 * included); the packed layout against a direct sum; the LUT quantizer's error bound. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernels/pq.h"
#include "testutil.h"

typedef enum { RANDOM, INTEGER, HUGE_V, TINY } input_kind;

static void fill_lut(float *lut, size_t n, input_kind k, uint64_t seed) {
    tu_fill_normal(lut, n, seed);
    for (size_t i = 0; i < n; i++) {
        if (k == INTEGER) lut[i] = roundf(lut[i] * 8);
        if (k == HUGE_V) lut[i] *= 1e30f; /* sums of hundreds stay below FLT_MAX */
        if (k == TINY) lut[i] *= 1e-30f;
    }
}

static void fill_bytes(uint8_t *b, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 7;
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(tu_next(&s) >> 56);
}

static void check_pq8(const vq_k_pq *k, const vq_k_pq *ref, size_t m, size_t n, input_kind kind,
                      size_t off) {
    float *lutb = malloc((m * 256 + 4) * sizeof(float));
    uint8_t *cb = malloc(m * n + 4);
    float *o1 = malloc(n * sizeof(float)), *o2 = malloc(n * sizeof(float));
    float *lut = lutb + off;
    uint8_t *codes = cb + off;
    fill_lut(lut, m * 256, kind, m * 31 + n + off);
    fill_bytes(codes, m * n, m * 17 + n);
    k->pq8_scan(lut, m, codes, n, o1);
    ref->pq8_scan(lut, m, codes, n, o2);
    for (size_t i = 0; i < n; i++) {
        double sabs = 0;
        for (size_t j = 0; j < m; j++) sabs += fabs((double)lut[j * 256 + codes[i * m + j]]);
        double tol = kind == INTEGER ? 0 : 2e-6 * sqrt((double)m) * sabs;
        cr_expect(fabs((double)o1[i] - o2[i]) <= tol, "pq8 m=%zu n=%zu i=%zu kind=%d: %g vs %g", m,
                  n, i, kind, o1[i], o2[i]);
    }
    free(lutb);
    free(cb);
    free(o1);
    free(o2);
}

Test(kernels_pq, pq8_simd_matches_scalar_reference) {
    vq_isa isas[2];
    int ni = tu_isas(isas);
    const vq_k_pq *ref = vq__k_pq(VQ_ISA_SCALAR);
    for (int t = 0; t < ni; t++) {
        const vq_k_pq *k = vq__k_pq(isas[t]);
        for (size_t m = 1; m <= 67; m++)
            for (int kind = RANDOM; kind <= TINY; kind++)
                check_pq8(k, ref, m, 1 + (m % 11), (input_kind)kind, m % 4);
        for (int kind = RANDOM; kind <= TINY; kind++)
            check_pq8(k, ref, 784, 9, (input_kind)kind, 3);
    }
}

static void check_pq4(const vq_k_pq *k, const vq_k_pq *ref, size_t m, size_t nb, size_t off,
                      int full_range) {
    size_t bb = m / 2 * 32;
    uint8_t *lb = malloc(m * 16 + 4), *cb = malloc(bb * nb + 4);
    uint16_t *o1 = malloc(nb * 32 * sizeof(uint16_t)), *o2 = malloc(nb * 32 * sizeof(uint16_t));
    uint8_t *lut = lb + off, *blocks = cb + (3 - off);
    fill_bytes(lut, m * 16, m * 5 + nb);
    if (!full_range)
        for (size_t i = 0; i < m * 16; i++) lut[i] &= 0x3f;
    fill_bytes(blocks, bb * nb, m * 3 + nb + 1);
    k->pq4_fastscan(lut, m, blocks, nb, o1);
    ref->pq4_fastscan(lut, m, blocks, nb, o2);
    cr_expect(!memcmp(o1, o2, nb * 32 * sizeof(uint16_t)), "pq4 fast-scan m=%zu nb=%zu off=%zu", m,
              nb, off);
    free(lb);
    free(cb);
    free(o1);
    free(o2);
}

Test(kernels_pq, pq4_fastscan_simd_is_bit_exact) {
    vq_isa isas[2];
    int ni = tu_isas(isas);
    const vq_k_pq *ref = vq__k_pq(VQ_ISA_SCALAR);
    for (int t = 0; t < ni; t++) {
        const vq_k_pq *k = vq__k_pq(isas[t]);
        for (size_t m = 2; m <= 68; m += 2)
            for (int full = 0; full <= 1; full++) check_pq4(k, ref, m, 1 + m % 3, m % 4, full);
        /* m = 784 with full-range bytes wraps modulo 2^16: both sides must wrap alike. */
        check_pq4(k, ref, 784, 2, 1, 1);
        check_pq4(k, ref, 784, 2, 2, 0);
    }
}

/* The layout documented in pq.h, checked independently of the kernels' code paths: a block
 * built from row-major codes through vq__pq4_pos scores every vector as the direct sum. */
Test(kernels_pq, pq4_layout_matches_direct_sum) {
    const size_t m = 10;
    uint8_t lut[10 * 16], codes[32][10], block[10 / 2 * 32];
    fill_bytes(lut, sizeof lut, 1);
    fill_bytes(&codes[0][0], sizeof codes, 2);
    memset(block, 0, sizeof block);
    for (size_t i = 0; i < 32; i++)
        for (size_t j = 0; j < m; j++) {
            codes[i][j] &= 15;
            int high;
            size_t at = vq__pq4_pos(j, i, &high);
            cr_assert(at < sizeof block);
            cr_assert_eq(block[at] & (high ? 0xf0 : 0x0f), 0, "slot (%zu,%zu) used twice", j, i);
            block[at] |= (uint8_t)(high ? codes[i][j] << 4 : codes[i][j]);
        }
    vq_isa isas[3] = {VQ_ISA_SCALAR};
    int ni = 1 + tu_isas(isas + 1);
    for (int t = 0; t < ni; t++) {
        uint16_t out[32];
        vq__k_pq(isas[t])->pq4_fastscan(lut, m, block, 1, out);
        for (size_t i = 0; i < 32; i++) {
            unsigned s = 0;
            for (size_t j = 0; j < m; j++) s += lut[16 * j + codes[i][j]];
            cr_expect_eq(out[i], s, "isa %d vector %zu: %u vs %u", isas[t], i, out[i], s);
        }
    }
}

Test(kernels_pq, pq4_float_scan_is_the_plain_sum) {
    const size_t m = 12, n = 37;
    float lut[12 * 16];
    uint8_t codes[37 * 6];
    fill_lut(lut, sizeof lut / sizeof lut[0], INTEGER, 3);
    fill_bytes(codes, sizeof codes, 4);
    float out[37];
    vq__pq4_scan_f32(lut, m, codes, n, out);
    for (size_t i = 0; i < n; i++) {
        float s = 0;
        for (size_t j = 0; j < m; j++) {
            uint8_t b = codes[i * 6 + j / 2];
            s += lut[16 * j + (j % 2 ? b >> 4 : b & 15)];
        }
        cr_expect_eq(out[i], s, "code %zu", i);
    }
}

/* Quantized sums stay within m * scale / 2 of the float sums and never overflow 16 bits,
 * including for m where 255 * m would (m = 2048). */
Test(kernels_pq, lut_quantizer_bounds_error_and_overflow) {
    const size_t ms[] = {2, 16, 64, 2048};
    for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++) {
        size_t m = ms[t];
        float *lut = malloc(m * 16 * sizeof(float));
        uint8_t *l8 = malloc(m * 16);
        fill_lut(lut, m * 16, RANDOM, m);
        for (size_t i = 0; i < m * 16; i++) lut[i] = lut[i] * lut[i] * (1 + (float)(i % 7));
        float bias, scale = vq__pq4_quantize_lut(lut, m, l8, &bias);
        cr_assert(scale > 0);
        /* Worst case for overflow: every sub-quantizer's largest entry. */
        unsigned long worst = 0;
        for (size_t j = 0; j < m; j++) {
            unsigned mx = 0;
            for (size_t c = 0; c < 16; c++) mx = l8[16 * j + c] > mx ? l8[16 * j + c] : mx;
            worst += mx;
        }
        cr_expect(worst <= 65535, "m=%zu: worst sum %lu overflows 16 bits", m, worst);
        uint64_t s = m + 99;
        for (int trial = 0; trial < 50; trial++) {
            double f = 0;
            unsigned long q = 0;
            for (size_t j = 0; j < m; j++) {
                unsigned c = (unsigned)(tu_next(&s) & 15);
                f += lut[16 * j + c];
                q += l8[16 * j + c];
            }
            double est = bias + (double)scale * (double)q;
            cr_expect(fabs(est - f) <= m * scale * 0.5 * 1.001 + 1e-5 * fabs(f),
                      "m=%zu: quantized %g vs float %g (scale %g)", m, est, f, scale);
        }
        free(lut);
        free(l8);
    }
}

Test(kernels_pq, u16_affine_simd_is_bit_exact) {
    vq_isa isas[2];
    int ni = tu_isas(isas);
    const vq_k_pq *ref = vq__k_pq(VQ_ISA_SCALAR);
    uint16_t inb[800];
    float o1[800], o2[800];
    fill_bytes((uint8_t *)inb, sizeof inb, 9);
    for (int t = 0; t < ni; t++)
        for (size_t n = 1; n <= 785; n += n < 67 ? 1 : 718) {
            const uint16_t *in = inb + n % 3;
            float bias = -3.25f + (float)n, scale = 1e-3f * (float)(n % 13 + 1) / 3.0f;
            vq__k_pq(isas[t])->u16_affine(in, n, bias, scale, o1 + n % 5);
            ref->u16_affine(in, n, bias, scale, o2);
            cr_expect(!memcmp(o1 + n % 5, o2, n * sizeof(float)), "isa %d n=%zu", isas[t], n);
        }
}
