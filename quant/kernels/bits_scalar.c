/* bits_scalar.c — the scalar reference of the bit kernels: 64-bit words in index order with
 * a portable SWAR popcount (no POPCNT instruction), bytes for the tail. Compiled without
 * auto-vectorization; tests compare the SIMD tiers with it and benchmarks report speed-ups
 * against it. */
#include <string.h>

#include "bits.h"

static inline uint64_t swar(uint64_t x) {
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (x * 0x0101010101010101ull) >> 56;
}

/* Word i of a plane (zero-extended past nb). */
static inline uint64_t word(const uint8_t *p, size_t nb, size_t i) {
    uint64_t w = 0;
    size_t off = i * 8, n = nb - off < 8 ? nb - off : 8;
    memcpy(&w, p + off, n);
    return w;
}

static uint64_t popcnt(const uint8_t *a, size_t nb) {
    uint64_t s = 0;
    for (size_t i = 0; i * 8 < nb; i++) s += swar(word(a, nb, i));
    return s;
}

static uint64_t hamming(const uint8_t *a, const uint8_t *b, size_t nb) {
    uint64_t s = 0;
    for (size_t i = 0; i * 8 < nb; i++) s += swar(word(a, nb, i) ^ word(b, nb, i));
    return s;
}

static uint64_t ip_planes(const uint8_t *code, const uint8_t *planes, size_t nb, unsigned nplanes) {
    uint64_t s = 0;
    for (unsigned j = 0; j < nplanes; j++) {
        uint64_t t = 0;
        for (size_t i = 0; i * 8 < nb; i++)
            t += swar(word(code, nb, i) & word(planes + (size_t)j * nb, nb, i));
        s += t << j;
    }
    return s;
}

static uint64_t ip_multi(const uint8_t *code, unsigned cbits, const uint8_t *planes, unsigned qbits,
                         size_t nb) {
    uint64_t s = 0;
    for (unsigned a = 0; a < cbits; a++)
        s += ip_planes(code + (size_t)a * nb, planes, nb, qbits) << a;
    return s;
}

const vq_k_bits vq__k_bits_scalar = {popcnt, hamming, ip_planes, ip_multi};

const vq_k_bits *vq__k_bits(vq_isa isa) {
    return isa == VQ_ISA_AVX512 ? &vq__k_bits_avx512
           : isa == VQ_ISA_AVX2 ? &vq__k_bits_avx2
                                : &vq__k_bits_scalar;
}
