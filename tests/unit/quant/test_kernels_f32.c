/* Dense float kernels: every SIMD instantiation against the scalar reference, on random,
 * integer-valued (exact), huge and tiny inputs, d = 1..67 and 784, unaligned pointers. */
#include <criterion/criterion.h>
#include <float.h>
#include <string.h>

#include "kernels/f32.h"
#include "testutil.h"

#define MAXD 784

typedef enum { RANDOM, INTEGER, HUGE_V, TINY } input_kind;

static void fill(float *x, size_t d, input_kind k, uint64_t seed) {
    tu_fill_normal(x, d, seed);
    for (size_t i = 0; i < d; i++) {
        if (k == INTEGER) x[i] = roundf(x[i] * 4);
        if (k == HUGE_V) x[i] *= 1e17f; /* squares stay below FLT_MAX */
        if (k == TINY) x[i] *= 1e-19f;
    }
}

static void check_isa(const vq_k_f32 *k, const vq_k_f32 *ref, size_t d, input_kind kind,
                      size_t off) {
    float abuf[MAXD + 8], bbuf[MAXD + 8];
    uint16_t hbuf[MAXD + 8], bfbuf[MAXD + 8];
    uint8_t cbuf[MAXD + 8];
    float wbuf[MAXD + 8];
    float *a = abuf + off, *b = bbuf + off, *w = wbuf + off;
    uint16_t *h = hbuf + off, *bf = bfbuf + off;
    uint8_t *c = cbuf + off;
    fill(a, d, kind, d * 7 + off);
    fill(b, d, kind, d * 13 + off + 1);
    for (size_t i = 0; i < d; i++) {
        h[i] = vq__f32_to_f16(kind == HUGE_V ? b[i] * 1e-14f : b[i]);
        bf[i] = vq__f32_to_bf16(b[i]);
        c[i] = (uint8_t)(i * 37 + d);
        w[i] = kind == INTEGER ? 1.0f : fabsf(a[i]) + 0.5f;
    }
    double exact_tol = kind == INTEGER ? 0 : 2e-5 * sqrt((double)d);
    /* Tolerances are relative to the sum of absolute terms, which bounds reordering error. */
    double aa = 0, ab = 0;
    for (size_t i = 0; i < d; i++)
        aa += (double)(a[i] - b[i]) * (a[i] - b[i]), ab += fabs((double)a[i] * b[i]);
    double r1 = ref->l2sq(a, b, d), s1 = k->l2sq(a, b, d);
    cr_expect(tu_close(s1, r1, exact_tol, aa), "l2sq d=%zu kind=%d off=%zu: %g vs %g", d, kind, off,
              s1, r1);
    double r2 = ref->ip(a, b, d), s2 = k->ip(a, b, d);
    cr_expect(tu_close(s2, r2, exact_tol + 1e-6, ab), "ip d=%zu kind=%d: %g vs %g", d, kind, s2,
              r2);
    double r3 = ref->cos(a, b, d), s3 = k->cos(a, b, d);
    cr_expect(fabs(s3 - r3) <= 1e-4, "cos d=%zu kind=%d: %g vs %g", d, kind, s3, r3);
    if (kind == HUGE_V || kind == TINY) return; /* fp16/sq8 inputs are in code range only */
    double sc = 0;
    for (size_t i = 0; i < d; i++)
        sc += fabs((double)a[i]) * (fabs(vq__f16_to_f32(h[i])) + 1) + 255.0 * 255.0 * w[i];
    cr_expect(tu_close(k->f16_l2sq(a, h, d), ref->f16_l2sq(a, h, d), 2e-5 * sqrt((double)d), sc),
              "f16_l2sq d=%zu", d);
    cr_expect(tu_close(k->f16_ip(a, h, d), ref->f16_ip(a, h, d), 2e-5 * sqrt((double)d), sc),
              "f16_ip d=%zu", d);
    cr_expect(
        tu_close(k->bf16_l2sq(a, bf, d), ref->bf16_l2sq(a, bf, d), 2e-5 * sqrt((double)d), sc),
        "bf16_l2sq d=%zu", d);
    cr_expect(tu_close(k->bf16_ip(a, bf, d), ref->bf16_ip(a, bf, d), 2e-5 * sqrt((double)d), sc),
              "bf16_ip d=%zu", d);
    cr_expect(
        tu_close(k->sq8_l2sq(a, w, c, d), ref->sq8_l2sq(a, w, c, d), 2e-5 * sqrt((double)d), sc),
        "sq8_l2sq d=%zu", d);
    cr_expect(tu_close(k->sq8_ip(a, c, d), ref->sq8_ip(a, c, d), 2e-5 * sqrt((double)d), sc),
              "sq8_ip d=%zu", d);
}

Test(kernels_f32, simd_matches_scalar_reference) {
    vq_isa isas[2];
    int ni = tu_isas(isas);
    const vq_k_f32 *ref = vq__k_f32(VQ_ISA_SCALAR);
    for (int t = 0; t < ni; t++) {
        const vq_k_f32 *k = vq__k_f32(isas[t]);
        for (size_t d = 1; d <= 67; d++)
            for (int kind = RANDOM; kind <= TINY; kind++)
                for (size_t off = 0; off < 2; off++) check_isa(k, ref, d, (input_kind)kind, off);
        for (int kind = RANDOM; kind <= TINY; kind++) check_isa(k, ref, 784, (input_kind)kind, 1);
    }
}

/* The integer SQ8 kernel is exact: equal to the scalar reference (and to an int64 sum) on
 * random weights, on the extremes (+-32767 against 255, the overflow bound's worst case at
 * d = 784) and on every tail length, with unaligned pointers. */
Test(kernels_f32, u8_dot_i16_exact) {
    int16_t wbuf[1024 + 8];
    uint8_t cbuf[1024 + 8];
    vq_isa isas[2];
    int ni = tu_isas(isas);
    const vq_k_f32 *ref = vq__k_f32(VQ_ISA_SCALAR);
    uint64_t st = 99;
    for (int pass = 0; pass < 4; pass++)
        for (size_t d = 1; d <= 1000; d += d < 130 ? 1 : 97) {
            size_t off = (d + pass) % 3;
            int16_t *w = wbuf + off;
            uint8_t *c = cbuf + off;
            int64_t want = 0;
            for (size_t i = 0; i < d; i++) {
                st = st * 6364136223846793005ULL + 1442695040888963407ULL;
                uint32_t r = (uint32_t)(st >> 33);
                /* pass 0: random; 1: all extremes; 2: alternating signs; 3: tiny weights */
                w[i] = pass == 0   ? (int16_t)((int32_t)(r & 0xffff) - 32768)
                       : pass == 1 ? 32767
                       : pass == 2 ? (i & 1 ? -32767 : 32767)
                                   : (int16_t)((int32_t)(r % 5) - 2);
                c[i] = pass == 1 || pass == 2 ? 255 : (uint8_t)(r >> 16);
                want += (int64_t)w[i] * c[i];
            }
            if (want > INT32_MAX || want < INT32_MIN) continue; /* outside the contract */
            cr_expect_eq(ref->u8_dot_i16(w, c, d), (int32_t)want, "scalar d=%zu pass %d", d, pass);
            for (int t = 0; t < ni; t++)
                cr_expect_eq(vq__k_f32(isas[t])->u8_dot_i16(w, c, d), (int32_t)want,
                             "isa %d d=%zu pass %d", (int)isas[t], d, pass);
        }
}

Test(kernels_f32, batch_equals_single) {
    size_t n = 37, d = 45;
    float *x = malloc(n * d * sizeof(float) + 4), q[45], out[37];
    float *xu = x + 1; /* unaligned rows */
    tu_fill_normal(xu, n * d, 3);
    tu_fill_normal(q, d, 4);
    vq_isa isas[3] = {VQ_ISA_SCALAR};
    int ni = 1 + tu_isas(isas + 1);
    for (int t = 0; t < ni; t++) {
        const vq_k_f32 *k = vq__k_f32(isas[t]);
        k->l2sq_ny(q, xu, n, d, out);
        for (size_t i = 0; i < n; i++) cr_expect_eq(out[i], k->l2sq(q, xu + i * d, d));
        k->ip_ny(q, xu, n, d, out);
        for (size_t i = 0; i < n; i++) cr_expect_eq(out[i], k->ip(q, xu + i * d, d));
    }
    free(x);
}

Test(kernels_f32, half_conversions_round_trip) {
    /* Every finite binary16 value converts to float and back unchanged. */
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00u) == 0x7c00u) continue;
        float f = vq__f16_to_f32((uint16_t)h);
        cr_assert_eq(vq__f32_to_f16(f), h, "f16 0x%04x -> %g -> 0x%04x", h, f, vq__f32_to_f16(f));
    }
    cr_expect_eq(vq__f32_to_f16(1e6f), 0x7c00); /* overflow goes to +inf */
    cr_expect_eq(vq__f32_to_f16(1.0f), 0x3c00);
    cr_expect_eq(vq__f32_to_bf16(1.0f), 0x3f80);
    cr_expect_float_eq(vq__bf16_to_f32(vq__f32_to_bf16(3.140625f)), 3.140625f, 0);
}
