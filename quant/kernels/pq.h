/* pq.h — product-quantization scan kernels.
 *
 * pq8_scan: 8-bit codes (one byte per sub-quantizer, row-major), float LUT of m * 256
 *   entries (sub-quantizer j's table at lut + 256 j): out[i] = sum_j lut[256 j + code_i[j]].
 *   The SIMD bodies gather VF_W table entries per instruction, several codes at a time.
 *
 * pq4_fastscan: 4-bit codes in packed blocks of 32 vectors (FAISS "fast-scan", Andre et al.
 *   2015 / FAISS IndexPQFastScan), scored with a uint8 LUT of m * 16 entries (sub-quantizer
 *   j's table at lut + 16 j): out[i] = sum_j lut[16 j + code_i[j]] in uint16 arithmetic
 *   (modulo 2^16, so every implementation gives the same bits; callers quantize the LUT so
 *   that the sum fits). m must be even.
 *
 *   Packed block layout (VQ_PQ4_BLOCK = 32 vectors, m / 2 * 32 bytes): for each pair of
 *   sub-quantizers p = 0 .. m/2 - 1, 32 bytes; bytes 0..15 serve sub-quantizer 2p and bytes
 *   16..31 sub-quantizer 2p + 1. Within each 16-byte half, byte k holds vector v(k) in its low
 *   nibble and vector 16 + v(k) in its high nibble, where v(k) = k / 2 for even k and
 *   8 + k / 2 for odd k. Why: the two 16-byte halves line up with the 128-bit lanes of
 *   pshufb, and the table for the pair is the 32 contiguous LUT bytes 32 p .. 32 p + 31, so
 *   one load of codes, one load of the table and two shuffles (low and high nibbles) give the
 *   32 vectors' terms for both sub-quantizers; widening even and odd bytes to uint16 then
 *   yields vectors 0..7 and 8..15 in order, with no final permutation.
 *
 * Thread safety: tables are immutable; kernels touch only their arguments. */
#ifndef VQ_KERNELS_PQ_H
#define VQ_KERNELS_PQ_H

#include <stddef.h>
#include <stdint.h>

#include "../vq.h"

#define VQ_PQ4_BLOCK 32

typedef struct vq_k_pq {
    /* n codes of m bytes (row-major), lut m * 256 floats -> out[n]. */
    void (*pq8_scan)(const float *lut, size_t m, const uint8_t *codes, size_t n, float *out);
    /* nblocks packed blocks (m / 2 * 32 bytes each, contiguous), lut m * 16 bytes ->
     * out[32 * nblocks] (vector i of block b at out[32 b + i]). m even. */
    void (*pq4_fastscan)(const uint8_t *lut, size_t m, const uint8_t *blocks, size_t nblocks,
                         uint16_t *out);
    /* out[i] = fmaf(scale, in[i], bias) for n uint16 sums: fast-scan sums back to distances.
     * Fused in every implementation, so results are bit-identical across ISAs. */
    void (*u16_affine)(const uint16_t *in, size_t n, float bias, float scale, float *out);
} vq_k_pq;

const vq_k_pq *vq__k_pq(vq_isa isa);
extern const vq_k_pq vq__k_pq_scalar, vq__k_pq_avx2, vq__k_pq_avx512;

/* The plain float LUT scan over row-major 4-bit codes (m / 2 bytes per code; byte t holds
 * sub-quantizer 2t in its low nibble and 2t + 1 in its high nibble), lut m * 16 floats.
 * Scalar only: it is the baseline fast-scan is measured against, and the exact score. */
void vq__pq4_scan_f32(const float *lut, size_t m, const uint8_t *codes, size_t n, float *out);

/* Position of vector i (0..31) of sub-quantizer j in a packed block: byte offset and whether
 * it is the high nibble. Shared by pack/unpack and the scalar reference. */
static inline size_t vq__pq4_pos(size_t j, size_t i, int *high) {
    size_t v = i & 15, k = v < 8 ? 2 * v : 2 * (v - 8) + 1;
    *high = i >= 16;
    return (j / 2) * 32 + (j & 1) * 16 + k;
}

/* Quantizes a float LUT (m * 16 entries) to uint8 for pq4_fastscan, FAISS-style: entry
 * (j, c) becomes round((lut[j][c] - min_j) / scale), with min_j the smallest entry of
 * sub-quantizer j and one scale for all j chosen so that every entry fits 8 bits and any sum
 * over the m sub-quantizers fits 16 bits. Then a float score is *bias + scale * acc, with
 * |error| <= m * scale / 2. Returns scale (1 when the LUT is constant). */
float vq__pq4_quantize_lut(const float *lut, size_t m, uint8_t *lut8, float *bias);

#endif
