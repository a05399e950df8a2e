/* testutil.h — shared helpers for quant/ tests: seeded data, relative comparisons, the
 * ISAs this CPU can run. Header-only so each test file stays one executable. */
#ifndef VQ_TESTUTIL_H
#define VQ_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "vq.h"

static inline uint64_t tu_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static inline float tu_uniform(uint64_t *s) { return (float)((tu_next(s) >> 11) * 0x1.0p-53); }
static inline float tu_normal(uint64_t *s) {
    float u1 = tu_uniform(s), u2 = tu_uniform(s);
    if (u1 < 1e-30f) u1 = 1e-30f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}
static inline void tu_fill_normal(float *x, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) x[i] = tu_normal(&s);
}
static inline void tu_normalize(float *x, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (size_t j = 0; j < d; j++) x[i * d + j] *= inv;
    }
}
/* |a - b| <= tol * max(1, |ref magnitude|) */
static inline int tu_close(double a, double b, double rel, double scale) {
    return fabs(a - b) <= rel * (scale > 1 ? scale : 1);
}
/* The ISAs to compare with the scalar reference on this CPU. */
static inline int tu_isas(vq_isa *out) {
    int n = 0;
    vq_isa best = vq_isa_supported();
    if (best >= VQ_ISA_AVX2) out[n++] = VQ_ISA_AVX2;
    if (best >= VQ_ISA_AVX512) out[n++] = VQ_ISA_AVX512;
    return n;
}

#endif
