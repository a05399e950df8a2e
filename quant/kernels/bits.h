/* bits.h — integer kernels over packed bit strings: popcount, Hamming distance, and the
 * bit-plane inner products that score RaBitQ and binary codes.
 *
 * Bit layout shared by every user: a "plane" of d bits is nb = ceil(d / 8) bytes, bit i of
 * the vector at byte i / 8, bit i % 8 (LSB first); padding bits are zero. A query quantized
 * to b bits is stored as b planes (plane j = bit j of every coordinate), so that
 *   <code, u> = sum_j 2^j popcount(code & plane_j)
 * for a 0/1 code and unsigned b-bit query values u. A multi-bit code of c bits per
 * coordinate is likewise c planes, and <k, u> = sum_a 2^a sum_j 2^j popcount(code_a & q_j).
 * Pointers need no alignment; nothing is read past nb bytes of any plane. Results are exact
 * integers, so every instantiation returns the same value as the scalar reference.
 * Thread safety: tables are immutable. */
#ifndef VQ_KERNELS_BITS_H
#define VQ_KERNELS_BITS_H

#include <stddef.h>
#include <stdint.h>

#include "../vq.h"

typedef struct vq_k_bits {
    /* Number of set bits in nb bytes. */
    uint64_t (*popcnt)(const uint8_t *a, size_t nb);
    /* popcount(a ^ b) over nb bytes. */
    uint64_t (*hamming)(const uint8_t *a, const uint8_t *b, size_t nb);
    /* sum_{j < nplanes} 2^j popcount(code & planes + j * nb), nplanes <= 16. */
    uint64_t (*ip_planes)(const uint8_t *code, const uint8_t *planes, size_t nb, unsigned nplanes);
    /* sum_{a < cbits} 2^a ip_planes(code + a * nb, planes, nb, qbits): a cbits-bit code
     * (cbits planes) against a qbits-bit query; cbits, qbits <= 16. */
    uint64_t (*ip_multi)(const uint8_t *code, unsigned cbits, const uint8_t *planes, unsigned qbits,
                         size_t nb);
} vq_k_bits;

const vq_k_bits *vq__k_bits(vq_isa isa);

extern const vq_k_bits vq__k_bits_scalar, vq__k_bits_avx2, vq__k_bits_avx512;

/* Bytes of one plane of d bits. */
static inline size_t vq__bits_nb(size_t d) { return (d + 7) / 8; }

#endif
