/* TurboQuant/QJL code kernels: every SIMD instantiation against the scalar reference for
 * b = 1..8 and the sign sum, on random, integer-valued (exact), huge and tiny queries,
 * d = 1..67 and 784, unaligned query and code pointers; plus the packer against a direct
 * bit-by-bit reading. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernels/tq.h"
#include "testutil.h"

#define MAXD 784

typedef enum { RANDOM, INTEGER, HUGE_V, TINY } input_kind;

static void fill(float *x, size_t d, input_kind k, uint64_t seed) {
    tu_fill_normal(x, d, seed);
    for (size_t i = 0; i < d; i++) {
        if (k == INTEGER) x[i] = roundf(x[i] * 4);
        if (k == HUGE_V) x[i] *= 1e30f; /* products with |cb| <= 4 stay finite */
        if (k == TINY) x[i] *= 1e-30f;
    }
}

/* A codebook for b bits: integers for the exact case, otherwise Lloyd-like spread values.
 * Always 256 entries so every kernel may read its 16-entry table. */
static void codebook(float *cb, unsigned b, input_kind k) {
    unsigned K = 1u << b;
    for (unsigned i = 0; i < 256; i++) {
        float v = (float)i - 0.5f * (float)(K - 1);
        cb[i] = k == INTEGER ? (float)((int)i - (int)K / 2) : v / (float)K * 3.1f;
        if (i >= K) cb[i] = 1e3f; /* must never be used by a correct kernel beyond 16 */
    }
}

static void check(const vq_k_tq *k, const vq_k_tq *ref, size_t d, unsigned b, input_kind kind,
                  size_t qoff, size_t coff) {
    float qbuf[MAXD + 16], cb[256];
    uint8_t idx[MAXD], cbuf[MAXD + 16];
    float *q = qbuf + qoff;
    uint8_t *c = cbuf + coff;
    fill(q, d, kind, d * 31 + b * 7 + qoff);
    codebook(cb, b, kind);
    uint64_t s = d * 1000 + b * 10 + coff + 1;
    for (size_t i = 0; i < d; i++) idx[i] = (uint8_t)(tu_next(&s) & ((1u << b) - 1));
    if (d > 3) idx[0] = (uint8_t)((1u << b) - 1), idx[d - 1] = (uint8_t)((1u << b) - 1);
    vq__tq_pack(idx, d, b, c);
    double mag = 0;
    for (size_t i = 0; i < d; i++) mag += fabs((double)q[i] * cb[idx[i]]);
    double tol = kind == INTEGER ? 0 : 3e-6 * sqrt((double)d);
    double r = ref->dot[b](q, c, d, cb), v = k->dot[b](q, c, d, cb);
    cr_expect(fabs(r - v) <= tol * mag + (kind == INTEGER ? 0 : 1e-37),
              "dot b=%u d=%zu kind=%d qoff=%zu coff=%zu: %.9g vs ref %.9g", b, d, kind, qoff, coff,
              v, r);
    if (b == 1) {
        double m2 = 0;
        for (size_t i = 0; i < d; i++) m2 += fabs((double)q[i]);
        double r2 = ref->sign_sum(q, c, d), v2 = k->sign_sum(q, c, d);
        cr_expect(fabs(r2 - v2) <= tol * m2, "sign_sum d=%zu kind=%d: %.9g vs %.9g", d, kind, v2,
                  r2);
    }
}

Test(kernels_tq, simd_matches_scalar_reference) {
    vq_isa isas[2];
    int ni = tu_isas(isas);
    cr_assert_gt(ni, 0, "this CPU has no SIMD tier to compare");
    const vq_k_tq *ref = vq__k_tq(VQ_ISA_SCALAR);
    for (int t = 0; t < ni; t++) {
        const vq_k_tq *k = vq__k_tq(isas[t]);
        for (unsigned b = 1; b <= 8; b++) {
            for (size_t d = 1; d <= 67; d++)
                for (int kind = RANDOM; kind <= TINY; kind++)
                    check(k, ref, d, b, (input_kind)kind, d & 1, (d >> 1) & 3);
            for (int kind = RANDOM; kind <= TINY; kind++) check(k, ref, 784, b, kind, 1, 3);
        }
    }
}

Test(kernels_tq, reference_is_the_plain_sum) {
    /* The reference itself against an independent bit-by-bit reading of the code. */
    const vq_k_tq *ref = vq__k_tq(VQ_ISA_SCALAR);
    float q[100], cb[256];
    uint8_t idx[100], c[100];
    for (unsigned b = 1; b <= 8; b++) {
        for (unsigned i = 0; i < 256; i++) cb[i] = (float)i;
        for (size_t i = 0; i < 100; i++)
            q[i] = (float)(i % 7) - 3, idx[i] = (uint8_t)((i * 37 + b) % (1u << b));
        vq__tq_pack(idx, 100, b, c);
        double want = 0;
        for (size_t i = 0; i < 100; i++) {
            unsigned v = 0;
            for (unsigned j = 0; j < b; j++) {
                size_t bit = i * b + j;
                v |= ((c[bit >> 3] >> (bit & 7)) & 1u) << j;
            }
            cr_assert_eq(v, idx[i], "b=%u index %zu unpacked as %u", b, i, v);
            cr_assert_eq(vq__tq_get(c, i, b), idx[i]);
            want += q[i] * cb[v];
        }
        cr_expect_eq(ref->dot[b](q, c, 100, cb), (float)want, "b=%u", b);
        /* Unused high bits of the last byte stay zero. */
        size_t used = 100 * b;
        if (used & 7) cr_expect_eq(c[used >> 3] >> (used & 7), 0, "b=%u", b);
    }
}

/* acc (the weighted code sum): each output element is one fused multiply-add in both the
 * SIMD bodies and the reference, so results must be bit-identical for every input kind;
 * guard values after each row (stride ldy > d) must stay untouched. */
static void check_acc(const vq_k_tq *k, const vq_k_tq *ref, size_t d, unsigned b, input_kind kind,
                      size_t coff, size_t na) {
    enum { GUARD = 5 };
    float cb[256], a[4], y0[4 * (MAXD + GUARD)], y1[4 * (MAXD + GUARD)];
    uint8_t idx[MAXD], cbuf[MAXD + 16];
    uint8_t *c = cbuf + coff;
    size_t ldy = d + GUARD;
    codebook(cb, b, kind);
    fill(a, na, kind, d * 13 + b);
    fill(y0, na * ldy, kind, d * 17 + b + na);
    if (kind == INTEGER) /* keep a·cb + y exactly representable */
        for (size_t i = 0; i < na; i++) a[i] = fmodf(a[i], 8.0f);
    memcpy(y1, y0, na * ldy * sizeof(float));
    uint64_t s = d * 977 + b * 3 + coff + na;
    for (size_t i = 0; i < d; i++) idx[i] = (uint8_t)(tu_next(&s) & ((1u << b) - 1));
    if (d > 3) idx[0] = (uint8_t)((1u << b) - 1), idx[d - 1] = (uint8_t)((1u << b) - 1);
    vq__tq_pack(idx, d, b, c);
    ref->acc[b](c, d, cb, a, na, y0, ldy);
    k->acc[b](c, d, cb, a, na, y1, ldy);
    for (size_t r = 0; r < na; r++) {
        for (size_t i = 0; i < ldy; i++) {
            float want = y0[r * ldy + i];
            cr_expect(memcmp(&y1[r * ldy + i], &want, sizeof want) == 0,
                      "acc b=%u d=%zu kind=%d na=%zu row %zu i=%zu: %.9g vs ref %.9g", b, d, kind,
                      na, r, i, y1[r * ldy + i], want);
        }
    }
}

Test(kernels_tq, acc_simd_matches_scalar_reference) {
    vq_isa isas[2];
    int ni = tu_isas(isas);
    cr_assert_gt(ni, 0, "this CPU has no SIMD tier to compare");
    const vq_k_tq *ref = vq__k_tq(VQ_ISA_SCALAR);
    for (int t = 0; t < ni; t++) {
        const vq_k_tq *k = vq__k_tq(isas[t]);
        for (unsigned b = 1; b <= 8; b++) {
            for (size_t d = 1; d <= 67; d++)
                for (int kind = RANDOM; kind <= TINY; kind++)
                    check_acc(k, ref, d, b, (input_kind)kind, (d >> 1) & 3, 1 + d % 4);
            for (int kind = RANDOM; kind <= TINY; kind++) check_acc(k, ref, 784, b, kind, 3, 4);
        }
    }
}

Test(kernels_tq, acc_reference_is_the_plain_update) {
    /* The reference against an independent reading: y += a·cb[idx] per row. */
    const vq_k_tq *ref = vq__k_tq(VQ_ISA_SCALAR);
    float cb[256], a[2] = {3.0f, -0.5f}, y[2 * 100];
    uint8_t idx[100], c[100];
    for (unsigned b = 1; b <= 8; b++) {
        for (unsigned i = 0; i < 256; i++) cb[i] = (float)i - 7.0f;
        for (size_t i = 0; i < 100; i++) idx[i] = (uint8_t)((i * 53 + b) % (1u << b));
        for (size_t i = 0; i < 200; i++) y[i] = (float)(i % 11);
        vq__tq_pack(idx, 100, b, c);
        ref->acc[b](c, 100, cb, a, 2, y, 100);
        for (size_t r = 0; r < 2; r++)
            for (size_t i = 0; i < 100; i++)
                cr_expect_eq(y[r * 100 + i], (float)((r * 100 + i) % 11) + a[r] * cb[idx[i]],
                             "b=%u row %zu i=%zu", b, r, i);
    }
}
