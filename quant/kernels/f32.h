/* f32.h — dense float kernels: f32 L2/IP/cosine (single and one-query-many-rows), and the
 * asymmetric kernels of the scalar quantizers (fp16, bf16, SQ8), where the query stays
 * float and the codes are widened in registers.
 * Thread safety: tables are immutable. */
#ifndef VQ_KERNELS_F32_H
#define VQ_KERNELS_F32_H

#include <stddef.h>
#include <stdint.h>

#include "../vq.h"

typedef struct vq_k_f32 {
    /* sum_i (a_i - b_i)^2, sum_i a_i b_i over d floats. */
    float (*l2sq)(const float *a, const float *b, size_t d);
    float (*ip)(const float *a, const float *b, size_t d);
    /* <a,b> / (|a| |b|), 0 when either norm is 0. */
    float (*cos)(const float *a, const float *b, size_t d);
    /* One query against n rows of x (n * d floats, row-major) into out[n]. */
    void (*l2sq_ny)(const float *q, const float *x, size_t n, size_t d, float *out);
    void (*ip_ny)(const float *q, const float *x, size_t n, size_t d, float *out);
    /* Float query against binary16 / bfloat16 codes of d values. */
    float (*f16_l2sq)(const float *q, const uint16_t *c, size_t d);
    float (*f16_ip)(const float *q, const uint16_t *c, size_t d);
    float (*bf16_l2sq)(const float *q, const uint16_t *c, size_t d);
    float (*bf16_ip)(const float *q, const uint16_t *c, size_t d);
    /* SQ8: sum_i w_i (qn_i - c_i)^2 where qn is the query in code units and w_i = scale_i^2;
     * and sum_i qs_i c_i (the data-dependent part of the inner product). */
    float (*sq8_l2sq)(const float *qn, const float *w, const uint8_t *c, size_t d);
    float (*sq8_ip)(const float *qs, const uint8_t *c, size_t d);
    /* Exact sum_i w_i c_i of int16 weights and unsigned bytes (SQ8 codes against a query
     * rounded to int16, 3 integer ops per 32 values instead of 6 float ones). The caller
     * keeps sum_i |w_i| * 255 below 2^31, so no partial sum can overflow. */
    int32_t (*u8_dot_i16)(const int16_t *w, const uint8_t *c, size_t d);
} vq_k_f32;

const vq_k_f32 *vq__k_f32(vq_isa isa);

extern const vq_k_f32 vq__k_f32_scalar, vq__k_f32_avx2, vq__k_f32_avx512;

/* Half-precision conversions shared by quantizers (round to nearest even). */
uint16_t vq__f32_to_f16(float f);
float vq__f16_to_f32(uint16_t h);
uint16_t vq__f32_to_bf16(float f);
float vq__bf16_to_f32(uint16_t h);

#endif
