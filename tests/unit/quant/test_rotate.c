/* The randomized Hadamard rotation: orthogonal (norms and inner products kept, inverse
 * exact to rounding) for every d, reproducible from its seed, and mixing: a basis vector's
 * energy spreads over all coordinates. */
#include <criterion/criterion.h>

#include "rotate.h"
#include "testutil.h"

Test(rotate, orthogonal_any_dimension) {
    unsigned dims[] = {1, 2, 3, 7, 16, 31, 64, 67, 100, 128, 384, 784, 1000};
    for (size_t t = 0; t < sizeof dims / sizeof *dims; t++) {
        unsigned d = dims[t];
        vq_rot *r;
        cr_assert_eq(vq__rot_new(d, 42, 3, &r, NULL), VQ_OK);
        float *x = malloc(d * 4), *y = malloc(d * 4), *z = malloc(d * 4), *w = malloc(d * 4);
        tu_fill_normal(x, d, d);
        tu_fill_normal(w, d, d + 1);
        cr_assert_eq(vq__rot_apply(r, x, y), VQ_OK);
        cr_assert_eq(vq__rot_apply_t(r, y, z), VQ_OK);
        double nx = 0, ny = 0, ipxw = 0, ipyw = 0;
        for (unsigned i = 0; i < d; i++) {
            nx += x[i] * x[i];
            ny += y[i] * y[i];
            cr_expect(fabsf(z[i] - x[i]) < 1e-4f, "d=%u inverse coord %u: %g vs %g", d, i, z[i],
                      x[i]);
        }
        cr_expect(fabs(nx - ny) < 1e-4 * nx, "d=%u norm %g vs %g", d, nx, ny);
        float *rw = malloc(d * 4);
        vq__rot_apply(r, w, rw);
        for (unsigned i = 0; i < d; i++) ipxw += x[i] * w[i], ipyw += y[i] * rw[i];
        cr_expect(fabs(ipxw - ipyw) < 1e-3 * sqrt(nx * d), "d=%u ip", d);
        /* In place gives the same result. */
        vq__rot_apply(r, x, x);
        for (unsigned i = 0; i < d; i++) cr_expect_eq(x[i], y[i]);
        free(x), free(y), free(z), free(w), free(rw);
        vq__rot_free(r);
    }
}

Test(rotate, reproducible_and_mixing) {
    unsigned d = 784;
    vq_rot *a, *b, *c;
    cr_assert_eq(vq__rot_new(d, 7, 3, &a, NULL), VQ_OK);
    cr_assert_eq(vq__rot_new(d, 7, 3, &b, NULL), VQ_OK);
    cr_assert_eq(vq__rot_new(d, 8, 3, &c, NULL), VQ_OK);
    float e[784] = {0}, ya[784], yb[784], yc[784];
    e[5] = 1;
    vq__rot_apply(a, e, ya);
    vq__rot_apply(b, e, yb);
    vq__rot_apply(c, e, yc);
    int same = 1, diff = 0;
    double mx = 0;
    for (unsigned i = 0; i < d; i++) {
        same &= ya[i] == yb[i];
        diff |= ya[i] != yc[i];
        if (fabsf(ya[i]) > mx) mx = fabsf(ya[i]);
    }
    cr_expect(same, "same seed, same rotation");
    cr_expect(diff, "another seed, another rotation");
    /* A basis vector must not stay concentrated: no coordinate keeps over 1/4 of it. */
    cr_expect(mx * mx < 0.25, "max coordinate^2 %g", mx * mx);
    vq__rot_free(a), vq__rot_free(b), vq__rot_free(c);
}
