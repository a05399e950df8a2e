/* f32_scalar.c — the scalar reference of the dense float kernels: plain loops in index
 * order, compiled without auto-vectorization. Tests compare every SIMD kernel with these,
 * and benchmarks report speed-ups against them. */
#include <math.h>
#include <string.h>

#include "f32.h"

static float l2sq(const float *a, const float *b, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}
static float ip(const float *a, const float *b, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}
static float cosine(const float *a, const float *b, size_t d) {
    float ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < d; i++) {
        ab += a[i] * b[i];
        aa += a[i] * a[i];
        bb += b[i] * b[i];
    }
    if (aa <= 0.0f || bb <= 0.0f) return 0.0f;
    return ab / (sqrtf(aa) * sqrtf(bb));
}
static void l2sq_ny(const float *q, const float *x, size_t n, size_t d, float *out) {
    for (size_t r = 0; r < n; r++) out[r] = l2sq(q, x + r * d, d);
}
static void ip_ny(const float *q, const float *x, size_t n, size_t d, float *out) {
    for (size_t r = 0; r < n; r++) out[r] = ip(q, x + r * d, d);
}
static float f16_l2sq(const float *q, const uint16_t *c, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) {
        float t = q[i] - vq__f16_to_f32(c[i]);
        s += t * t;
    }
    return s;
}
static float f16_ip(const float *q, const uint16_t *c, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) s += q[i] * vq__f16_to_f32(c[i]);
    return s;
}
static float bf16_l2sq(const float *q, const uint16_t *c, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) {
        float t = q[i] - vq__bf16_to_f32(c[i]);
        s += t * t;
    }
    return s;
}
static float bf16_ip(const float *q, const uint16_t *c, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) s += q[i] * vq__bf16_to_f32(c[i]);
    return s;
}
static float sq8_l2sq(const float *qn, const float *w, const uint8_t *c, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) {
        float t = qn[i] - (float)c[i];
        s += w[i] * t * t;
    }
    return s;
}
static float sq8_ip(const float *qs, const uint8_t *c, size_t d) {
    float s = 0;
    for (size_t i = 0; i < d; i++) s += qs[i] * (float)c[i];
    return s;
}

static int32_t u8_dot_i16(const int16_t *w, const uint8_t *c, size_t d) {
    int64_t s = 0;
    for (size_t i = 0; i < d; i++) s += (int32_t)w[i] * c[i];
    return (int32_t)s;
}

const vq_k_f32 vq__k_f32_scalar = {l2sq,   ip,        cosine,  l2sq_ny,  ip_ny,  f16_l2sq,
                                   f16_ip, bf16_l2sq, bf16_ip, sq8_l2sq, sq8_ip, u8_dot_i16};

const vq_k_f32 *vq__k_f32(vq_isa isa) {
    return isa == VQ_ISA_AVX512 ? &vq__k_f32_avx512
           : isa == VQ_ISA_AVX2 ? &vq__k_f32_avx2
                                : &vq__k_f32_scalar;
}

/* binary16 conversions, round to nearest even, with subnormals, infinities and NaN. */
uint16_t vq__f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow to infinity */
    if (ax < 0x38800000u) {                                   /* subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign;
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(ax >> 23); /* value = m * 2^(E-150) = r * 2^-24 */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((ax - 0x38000000u) >> 13);
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;
    return (uint16_t)(sign | r);
}

float vq__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0) {
            x = sign;
        } else {
            e = 127 - 15 + 1;
            while (!(m & 0x400u)) {
                m <<= 1;
                e--;
            }
            x = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

uint16_t vq__f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

float vq__bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}
