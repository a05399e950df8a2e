/* bench/gen.c: the synthetic mixture is deterministic (any chunking, any run), has the
 * requested shape and normalization, streams to .fvecs/.npy, and rejects bad parameters. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"
#include "quant.h"
#include "readers.h"

static vq_gen *mk(unsigned d, unsigned c, float a, int norm, uint64_t seed, unsigned stream) {
    vq_gen_params p = vq_gen_params_default();
    p.d = d, p.clusters = c, p.anisotropy = a, p.normalize = norm, p.seed = seed;
    p.stream = stream;
    vq_gen *g;
    vq_err err;
    cr_assert_eq(vq_gen_new(&p, &g, &err), VQ_OK, "%s", err.msg);
    return g;
}

Test(gen, deterministic_any_chunking) {
    size_t n = 300, d = 37;
    float *a = malloc(n * d * 4), *b = malloc(n * d * 4);
    vq_gen *g1 = mk(37, 8, 2.0f, 0, 5, 0), *g2 = mk(37, 8, 2.0f, 0, 5, 0);
    vq_gen_rows(g1, 0, n, a);
    /* The same rows produced in odd pieces, in reverse order, by another handle. */
    for (size_t r = n; r > 0;) {
        size_t m = r >= 7 ? 7 : r;
        r -= m;
        vq_gen_rows(g2, r, m, b + r * d);
    }
    cr_assert_eq(memcmp(a, b, n * d * 4), 0);
    vq_gen_free(g1);
    vq_gen_free(g2);
    free(a);
    free(b);
}

Test(gen, seed_and_stream_change_rows) {
    size_t d = 64;
    float a[64], b[64], c[64];
    vq_gen *g = mk(64, 4, 1.0f, 0, 1, 0), *h = mk(64, 4, 1.0f, 0, 2, 0),
           *q = mk(64, 4, 1.0f, 0, 1, 1);
    vq_gen_rows(g, 10, 1, a);
    vq_gen_rows(h, 10, 1, b);
    vq_gen_rows(q, 10, 1, c);
    cr_expect_neq(memcmp(a, b, d * 4), 0, "another seed must give other rows");
    cr_expect_neq(memcmp(a, c, d * 4), 0, "the query stream must not repeat base rows");
    vq_gen_free(g);
    vq_gen_free(h);
    vq_gen_free(q);
}

/* Rows are reproducible across builds and machines: pinned values of seed 1, d=8. */
Test(gen, pinned_values) {
    float x[16];
    vq_gen *g = mk(8, 64, 2.0f, 1, 1, 0);
    vq_gen_rows(g, 0, 2, x);
    double norm = 0;
    for (int j = 0; j < 8; j++) norm += (double)x[j] * x[j];
    cr_expect(fabs(norm - 1.0) < 1e-6);
    /* Print on failure so a deliberate change of the model can update the pins. */
    static const float pin[4] = {0.249441281f, 0.0310663972f, 0.676644087f, 0.150160357f};
    for (int j = 0; j < 4; j++)
        cr_expect(fabsf(x[j] - pin[j]) <= 1e-6f, "x[%d] = %.9g, pinned %.9g", j, (double)x[j],
                  (double)pin[j]);
    vq_gen_free(g);
}

Test(gen, normalize_and_spectrum) {
    size_t n = 4000, d = 48;
    float *x = malloc(n * d * 4);
    vq_gen *g = mk(48, 16, 3.0f, 1, 9, 0);
    vq_gen_rows(g, 0, n, x);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        cr_assert(fabs(s - 1.0) < 1e-5, "row %zu has squared norm %g", i, s);
    }
    vq_gen_free(g);
    /* Without normalization a single cluster's spread is RMS 1 per coordinate whatever the
     * anisotropy (the spectrum is normalized and the transform is orthogonal); with
     * anisotropy the variance is concentrated: the top principal direction carries far more
     * than 1 / d of it. */
    for (int aniso = 0; aniso < 2; aniso++) {
        g = mk(48, 1, aniso ? 6.0f : 0.0f, 0, 3, 0);
        vq_gen_rows(g, 0, n, x);
        double mean[48] = {0}, tot = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) mean[j] += x[i * d + j] / (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) tot += pow(x[i * d + j] - mean[j], 2) / (double)n;
        cr_expect(fabs(tot / d - 1.0) < 0.05, "anisotropy %d: variance per coordinate %g", aniso,
                  tot / d);
        /* Power iteration for the largest covariance eigenvalue. */
        double v[48], w[48];
        for (size_t j = 0; j < d; j++) v[j] = 1.0 / sqrt((double)d);
        double lam = 0;
        for (int it = 0; it < 50; it++) {
            memset(w, 0, sizeof w);
            for (size_t i = 0; i < n; i++) {
                double t = 0;
                for (size_t j = 0; j < d; j++) t += (x[i * d + j] - mean[j]) * v[j];
                for (size_t j = 0; j < d; j++) w[j] += t * (x[i * d + j] - mean[j]) / (double)n;
            }
            lam = 0;
            for (size_t j = 0; j < d; j++) lam += w[j] * w[j];
            lam = sqrt(lam);
            for (size_t j = 0; j < d; j++) v[j] = w[j] / lam;
        }
        if (aniso)
            cr_expect(lam > 5.0, "anisotropic top eigenvalue %g should be >> 1", lam);
        else
            cr_expect(lam < 1.5, "isotropic top eigenvalue %g should be near 1", lam);
        vq_gen_free(g);
    }
    free(x);
}

Test(gen, write_fvecs_and_npy) {
    char dir[] = "/tmp/vq_gen_XXXXXX";
    cr_assert(mkdtemp(dir));
    char f1[64], f2[64];
    snprintf(f1, sizeof f1, "%s/a.fvecs", dir);
    snprintf(f2, sizeof f2, "%s/a.npy", dir);
    vq_gen_params p = vq_gen_params_default();
    p.n = 5000, p.d = 13, p.normalize = 1, p.seed = 4;
    vq_err err;
    cr_assert_eq(vq_gen_write(&p, f1, NULL, NULL, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(vq_gen_write(&p, f2, NULL, NULL, &err), VQ_OK, "%s", err.msg);
    vq_matrix a, b;
    cr_assert_eq(vq_read_vectors(f1, 0, &a, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(vq_read_vectors(f2, 0, &b, &err), VQ_OK, "%s", err.msg);
    cr_expect(a.n == 5000 && a.d == 13 && b.n == 5000 && b.d == 13);
    float *ref = malloc(5000 * 13 * 4);
    vq_gen *g;
    cr_assert_eq(vq_gen_new(&p, &g, &err), VQ_OK);
    vq_gen_rows(g, 0, 5000, ref);
    cr_expect_eq(memcmp(a.data, ref, 5000 * 13 * 4), 0);
    cr_expect_eq(memcmp(b.data, ref, 5000 * 13 * 4), 0);
    vq_gen_free(g);
    vq_matrix_free(&a);
    vq_matrix_free(&b);
    free(ref);
    unlink(f1);
    unlink(f2);
    /* Bad input: unknown extension, zero rows, an unwritable path. */
    snprintf(f1, sizeof f1, "%s/a.txt", dir);
    cr_expect_eq(vq_gen_write(&p, f1, NULL, NULL, &err), VQ_EUNSUPPORTED);
    cr_expect_eq(access(f1, F_OK), -1, "no file is left behind");
    p.n = 0;
    cr_expect_eq(vq_gen_write(&p, f2, NULL, NULL, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "n");
    p.n = 10;
    cr_expect_eq(vq_gen_write(&p, "/nonexistent-dir/x.fvecs", NULL, NULL, &err), VQ_EIO);
    rmdir(dir);
}

Test(gen, bad_params) {
    vq_gen_params p = vq_gen_params_default();
    vq_gen *g = NULL;
    vq_err err;
    p.d = 0;
    cr_expect_eq(vq_gen_new(&p, &g, &err), VQ_EDIM);
    cr_expect_str_eq(err.field, "d");
    p.d = VQ_DIM_MAX + 1;
    cr_expect_eq(vq_gen_new(&p, &g, &err), VQ_EDIM);
    p.d = 16;
    p.clusters = 0;
    cr_expect_eq(vq_gen_new(&p, &g, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "clusters");
    p.clusters = 4;
    p.anisotropy = NAN;
    cr_expect_eq(vq_gen_new(&p, &g, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "anisotropy");
    p.anisotropy = -1;
    cr_expect_eq(vq_gen_new(&p, &g, &err), VQ_EINVAL);
    p.anisotropy = 1;
    p.d = 65536, p.clusters = 65536;
    cr_expect_eq(vq_gen_new(&p, &g, &err), VQ_ETOOBIG);
    cr_expect(g == NULL, "out is written only on success");
    vq_gen_free(NULL);
}
