/* testutil_center.h — shared by the tests of the centering quantizers (tq, tq-ip, qjl with
 * center=1): data with a large common offset, and a quantizer trained on it. Needs
 * Criterion (it asserts), so it is separate from testutil.h. */
#ifndef VQ_TESTUTIL_CENTER_H
#define VQ_TESTUTIL_CENTER_H

#include <criterion/criterion.h>

#include "quant.h"
#include "testutil.h"

/* A center=1 spec, trained on x: train stores the mean c that encode subtracts. */
static inline vq_quant *mk_center(const char *spec, unsigned d, size_t n, const float *x) {
    vq_quant *q = NULL;
    vq_err err = {0};
    cr_assert_eq(vq_quant_new(spec, d, &q, &err), VQ_OK, "%s: %s", spec, err.msg);
    cr_assert(!vq_quant_is_trained(q), "%s: centering needs training", spec);
    cr_assert_eq(vq_quant_train(q, n, x, &err), VQ_OK, "%s: %s", spec, err.msg);
    return q;
}

/* Normal data around 3 + 0.01 * column: a common direction far larger than the spread. */
static inline void offset_data(float *x, size_t n, size_t d, uint64_t seed) {
    tu_fill_normal(x, n * d, seed);
    for (size_t i = 0; i < n * d; i++) x[i] = 3.0f + 0.5f * x[i] + (float)(i % d) * 0.01f;
}

#endif
