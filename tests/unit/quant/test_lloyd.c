/* Lloyd-Max codebooks for the rotated-coordinate density: the d -> infinity table of
 * ALGORITHMS.md (TurboQuant paper, ×1/√d), closed forms at d = 3 (uniform density), the
 * finite-d shift at d = 128, structure (ascending, symmetric, midpoint thresholds), speed. */
#include <criterion/criterion.h>

#include "lloyd.h"
#include "testutil.h"

/* Positive-half centroids × √d for d -> infinity. */
static const double table[5][8] = {
    {0},
    {0.7979},
    {0.4528, 1.5104},
    {0.2451, 0.7560, 1.3440, 2.1520},
    {0.1284, 0.3881, 0.6568, 0.9424, 1.2562, 1.6180, 2.0690, 2.7326},
};
static const double dist_table[5] = {0, 0.3634, 0.1175, 0.0345, 0.0095};

Test(lloyd, matches_the_gaussian_limit_table) {
    unsigned d = 65536;
    float c[256], t[255];
    double mse;
    for (unsigned b = 1; b <= 4; b++) {
        cr_assert_eq(vq__lloyd_sphere(d, b, c, t, &mse, NULL), VQ_OK);
        unsigned K = 1u << b;
        for (unsigned k = 0; k < K / 2; k++) {
            double got = c[K / 2 + k] * sqrt((double)d);
            cr_expect(fabs(got - table[b][k]) < 2e-4 + 1e-4 * table[b][k],
                      "b=%u centroid %u: %.5f vs table %.4f", b, k, got, table[b][k]);
        }
        cr_expect(fabs(mse * d / dist_table[b] - 1) < 0.01, "b=%u D=%.5f vs %.4f", b, mse * d,
                  dist_table[b]);
    }
}

Test(lloyd, exact_density_at_small_d) {
    float c[256], t[255];
    double mse;
    /* d = 3: the coordinate is uniform on [-1, 1], so Lloyd-Max is the uniform quantizer. */
    for (unsigned b = 1; b <= 6; b++) {
        cr_assert_eq(vq__lloyd_sphere(3, b, c, t, &mse, NULL), VQ_OK);
        unsigned K = 1u << b;
        for (unsigned k = 0; k < K; k++)
            cr_expect(fabs(c[k] - (-1.0 + (2.0 * k + 1) / K)) < 1e-5, "d=3 b=%u c[%u]=%g", b, k,
                      c[k]);
        cr_expect(fabs(mse - 1.0 / (3.0 * K * K)) < 1e-6 / K, "d=3 b=%u mse %g", b, mse);
    }
    /* d = 128, b = 4: the outer centroids move inward by 1-2% from the Gaussian limit. */
    cr_assert_eq(vq__lloyd_sphere(128, 4, c, t, &mse, NULL), VQ_OK);
    double outer = c[15] * sqrt(128.0);
    cr_expect(outer > 2.67 && outer < 2.70, "d=128 outermost %.4f", outer);
    cr_expect(mse * 128 < 0.0095 && mse * 128 > 0.0090, "d=128 D_4 = %.5f", mse * 128);
    /* d = 2 (arcsine density) and d = 1 (±1): finite, and d = 1 is exact. */
    cr_assert_eq(vq__lloyd_sphere(2, 1, c, t, &mse, NULL), VQ_OK);
    cr_expect(fabs(c[1] - 2 / 3.14159265358979) < 1e-4, "d=2 b=1 centroid %g (2/π)", c[1]);
    cr_assert_eq(vq__lloyd_sphere(1, 3, c, t, &mse, NULL), VQ_OK);
    cr_expect(c[0] == -1.0f && c[7] == 1.0f && mse == 0);
}

Test(lloyd, structure_and_speed) {
    unsigned ds[] = {2, 5, 64, 784, 4096};
    float c[256], t[255];
    double mse, prev;
    for (size_t i = 0; i < 5; i++) {
        prev = 1;
        for (unsigned b = 1; b <= 8; b++) {
            double t0 = vq_now();
            cr_assert_eq(vq__lloyd_sphere(ds[i], b, c, t, &mse, NULL), VQ_OK);
            cr_expect(vq_now() - t0 < 1.0, "d=%u b=%u took %.2f s", ds[i], b, vq_now() - t0);
            unsigned K = 1u << b;
            for (unsigned k = 0; k < K; k++) cr_expect_eq(c[k], -c[K - 1 - k]);
            for (unsigned k = 0; k + 1 < K; k++) {
                cr_expect(c[k] < c[k + 1], "d=%u b=%u not ascending at %u", ds[i], b, k);
                cr_expect(fabs(t[k] - 0.5 * (c[k] + c[k + 1])) < 1e-7);
                cr_expect_eq(vq__lloyd_cell(t, b, t[k]), k + 1);
                cr_expect_eq(vq__lloyd_cell(t, b, nextafterf(t[k], -1.0f)), k);
            }
            cr_expect_eq(t[K / 2 - 1], 0.0f);
            /* Each extra bit cuts the distortion by close to 4x. */
            cr_expect(b == 1 || mse * ds[i] < prev / 3.0, "d=%u b=%u D=%g prev %g", ds[i], b, mse * ds[i],
                      prev);
            prev = mse * ds[i];
        }
    }
    cr_expect_eq(vq__lloyd_sphere(16, 0, c, t, &mse, NULL), VQ_EINVAL);
    cr_expect_eq(vq__lloyd_sphere(16, 9, c, t, &mse, NULL), VQ_EINVAL);
    cr_expect_eq(vq__lloyd_sphere(0, 2, c, t, &mse, NULL), VQ_EINVAL);
}
