/* Bit kernels: the scalar reference against a naive bit-by-bit count, and every SIMD tier
 * against the scalar reference, exactly, for d = 1..67 and 784 bits, unaligned pointers,
 * random, all-zero and all-one inputs, 1..8 query planes and 1..8 code planes. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernels/bits.h"
#include "testutil.h"

#define MAXNB 98 /* 784 bits */
#define MAXPL 8

typedef enum { RANDOM, ZEROS, ONES } kind_t;

static void fill(uint8_t *p, size_t n, kind_t k, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 7;
    for (size_t i = 0; i < n; i++)
        p[i] = k == ZEROS ? 0 : k == ONES ? 0xff : (uint8_t)(tu_next(&s) >> 24);
}

static uint64_t naive_and(const uint8_t *a, const uint8_t *b, size_t nb) {
    uint64_t s = 0;
    for (size_t i = 0; i < nb * 8; i++) s += ((a[i / 8] & b[i / 8]) >> (i % 8)) & 1;
    return s;
}
static uint64_t naive_xor(const uint8_t *a, const uint8_t *b, size_t nb) {
    uint64_t s = 0;
    for (size_t i = 0; i < nb * 8; i++) s += ((a[i / 8] ^ b[i / 8]) >> (i % 8)) & 1;
    return s;
}

static void check(const vq_k_bits *k, size_t d, kind_t kind, size_t off, int naive) {
    size_t nb = vq__bits_nb(d);
    uint8_t cbuf[MAXPL * MAXNB + 8], qbuf[MAXPL * MAXNB + 8], ones[MAXNB];
    uint8_t *c = cbuf + off, *q = qbuf + (off * 3) % 8;
    fill(c, MAXPL * nb, kind, d * 31 + off);
    fill(q, MAXPL * nb, kind == ONES ? ONES : RANDOM, d * 17 + off + 1);
    memset(ones, 0xff, sizeof ones);
    const vq_k_bits *ref = &vq__k_bits_scalar;
    if (naive) {
        cr_expect_eq(ref->popcnt(c, nb), naive_and(c, ones, nb), "popcnt d=%zu", d);
        cr_expect_eq(ref->hamming(c, q, nb), naive_xor(c, q, nb), "hamming d=%zu", d);
        uint64_t want = 0;
        for (unsigned j = 0; j < 4; j++) want += naive_and(c, q + j * nb, nb) << j;
        cr_expect_eq(ref->ip_planes(c, q, nb, 4), want, "ip_planes d=%zu", d);
        want = 0;
        for (unsigned a = 0; a < 3; a++)
            for (unsigned j = 0; j < 5; j++)
                want += naive_and(c + a * nb, q + j * nb, nb) << (a + j);
        cr_expect_eq(ref->ip_multi(c, 3, q, 5, nb), want, "ip_multi d=%zu", d);
        return;
    }
    cr_expect_eq(k->popcnt(c, nb), ref->popcnt(c, nb), "popcnt d=%zu kind=%d off=%zu", d, kind,
                 off);
    cr_expect_eq(k->hamming(c, q, nb), ref->hamming(c, q, nb), "hamming d=%zu kind=%d off=%zu", d,
                 kind, off);
    for (unsigned p = 1; p <= MAXPL; p++) {
        cr_expect_eq(k->ip_planes(c, q, nb, p), ref->ip_planes(c, q, nb, p),
                     "ip_planes d=%zu planes=%u kind=%d off=%zu", d, p, kind, off);
        cr_expect_eq(k->ip_multi(c, p, q, MAXPL + 1 - p, nb),
                     ref->ip_multi(c, p, q, MAXPL + 1 - p, nb),
                     "ip_multi d=%zu cbits=%u kind=%d off=%zu", d, p, kind, off);
    }
}

static void sweep(const vq_k_bits *k, int naive) {
    for (size_t d = 1; d <= 67; d++)
        for (kind_t kind = RANDOM; kind <= ONES; kind++)
            for (size_t off = 0; off < 4; off++) check(k, d, kind, off, naive);
    for (size_t off = 0; off < 4; off++) check(k, 784, RANDOM, off, naive);
    check(k, 784, ONES, 1, naive);
    check(k, 512, RANDOM, 3, naive); /* exact multiple of both vector widths */
}

Test(kernels_bits, scalar_matches_naive) { sweep(&vq__k_bits_scalar, 1); }

Test(kernels_bits, simd_matches_scalar) {
    vq_isa isas[2];
    int n = tu_isas(isas);
    if (n == 0) cr_log_warn("no SIMD tier on this CPU: only the scalar reference is checked");
    for (int i = 0; i < n; i++) sweep(vq__k_bits(isas[i]), 0);
    /* The dispatch returns the table it names. */
    cr_expect_eq(vq__k_bits(VQ_ISA_SCALAR), &vq__k_bits_scalar);
}

Test(kernels_bits, zero_length) {
    uint8_t a[1] = {0xff};
    vq_isa isas[2];
    int n = tu_isas(isas);
    cr_expect_eq(vq__k_bits_scalar.popcnt(a, 0), 0);
    for (int i = 0; i < n; i++) {
        cr_expect_eq(vq__k_bits(isas[i])->popcnt(a, 0), 0);
        cr_expect_eq(vq__k_bits(isas[i])->hamming(a, a, 0), 0);
        cr_expect_eq(vq__k_bits(isas[i])->ip_planes(a, a, 0, 3), 0);
    }
}
