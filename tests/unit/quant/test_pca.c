/* The PCA pre-transform: exact distances at full rank (pca:d=d+f32), orthonormal components
 * in decreasing-variance order (read back through f32 codes), whitening, composition with
 * sq8 and rabitq, save/load with the nested inner frame, corrupted loads, bad specs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "quant.h"
#include "testutil.h"

static vq_quant *make(const char *spec, size_t d, size_t n, const float *x) {
    vq_quant *q;
    vq_err err;
    cr_assert_eq(vq_quant_new(spec, (unsigned)d, &q, &err), VQ_OK, "%s: %s", spec, err.msg);
    cr_assert_eq(vq_quant_train(q, n, x, &err), VQ_OK, "%s: %s", spec, err.msg);
    return q;
}

/* Data of intrinsic dimension r in R^d with decreasing scales, an offset, and small noise. */
static float *lowrank(size_t n, size_t d, size_t r, float noise, uint64_t seed) {
    float *z = malloc(n * r * 4), *a = malloc(r * d * 4), *x = malloc(n * d * 4);
    tu_fill_normal(z, n * r, seed);
    tu_fill_normal(a, r * d, seed + 1);
    tu_fill_normal(x, n * d, seed + 2);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            double v = 2.0 + noise * x[i * d + j];
            for (size_t t = 0; t < r; t++) v += z[i * r + t] * a[t * d + j] * (1.0 + 4.0 / (1 + t));
            x[i * d + j] = (float)v;
        }
    free(z), free(a);
    return x;
}

Test(pca, full_rank_f32_reproduces_distances) {
    /* The registry refers to pca weakly; this strong reference keeps pca.o linked. */
    cr_assert_str_eq(vq__ops_pca.name, "pca");
    size_t n = 500, d = 48;
    float *x = lowrank(n, d, 10, 0.5f, 1), q[48], dist[500];
    tu_fill_normal(q, d, 9);
    vq_quant *qz = make("pca:d=48+f32", d, n, x);
    cr_expect_str_eq(vq_quant_spec(qz), "pca:d=48,whiten=0+f32");
    cr_expect_eq(vq_quant_code_size(qz), 48 * 4);
    uint8_t *c = malloc(n * vq_quant_code_size(qz));
    cr_assert_eq(vq_quant_encode(qz, n, x, c, NULL), VQ_OK);
    vq_query *qs;
    cr_assert_eq(vq_query_new(qz, &qs, NULL), VQ_OK);
    for (int m = 0; m < 2; m++) {
        cr_assert_eq(vq_query_prepare(qs, q, m ? VQ_METRIC_IP : VQ_METRIC_L2, NULL), VQ_OK);
        vq_quant_score(qs, c, n, dist);
        for (size_t i = 0; i < n; i++) {
            double ex = 0, mag = 0;
            for (size_t j = 0; j < d; j++) {
                double t = m ? q[j] * x[i * d + j] : (q[j] - x[i * d + j]) * (q[j] - x[i * d + j]);
                ex += t;
                mag += fabs(t);
            }
            if (m) ex = -ex;
            cr_expect(fabs(dist[i] - ex) <= 1e-4 * mag + 1e-4, "metric %d row %zu: %g vs %g", m, i,
                      dist[i], ex);
            cr_expect_eq(vq_quant_score_one(qs, c + i * vq_quant_code_size(qz)), dist[i]);
        }
    }
    /* Decode inverts the rotation. */
    float *y = malloc(n * d * 4);
    cr_assert_eq(vq_quant_decode(qz, n, c, y, NULL), VQ_OK);
    for (size_t i = 0; i < n * d; i++)
        cr_expect(fabsf(y[i] - x[i]) <= 1e-4f * (1 + fabsf(x[i])), "decode %zu", i);
    free(y);
    vq_query_free(qs);
    vq_quant_free(qz);
    free(c);
    free(x);
}

Test(pca, components_orthonormal_and_ordered) {
    size_t n = 2000, d = 32, D = 12;
    float *x = lowrank(n, d, 8, 0.3f, 2);
    vq_quant *qz = make("pca:d=12+f32", d, n, x);
    /* Row k of U read back through f32 codes: encode(mu + e_j) = U e_j. */
    float mu[32] = {0}, *e = malloc(d * d * 4), *u = malloc(d * D * 4);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mu[j] += x[i * d + j] / n;
    for (size_t j = 0; j < d; j++)
        for (size_t t = 0; t < d; t++) e[j * d + t] = mu[t] + (j == t);
    cr_assert_eq(vq_quant_encode(qz, d, e, (uint8_t *)u, NULL), VQ_OK); /* u[j * D + k] */
    for (size_t a = 0; a < D; a++)
        for (size_t b = 0; b < D; b++) {
            double s = 0;
            for (size_t j = 0; j < d; j++) s += (double)u[j * D + a] * u[j * D + b];
            cr_expect(fabs(s - (a == b)) < 1e-3, "U U^T [%zu][%zu] = %g", a, b, s);
        }
    /* Variances of the projected training data decrease and capture most of the total. */
    float *z = malloc(n * D * 4);
    cr_assert_eq(vq_quant_encode(qz, n, x, (uint8_t *)z, NULL), VQ_OK);
    double prev = INFINITY, kept = 0, total = 0;
    for (size_t k = 0; k < D; k++) {
        double v = 0, m = 0;
        for (size_t i = 0; i < n; i++) m += z[i * D + k] / n;
        cr_expect(fabs(m) < 1e-3 * sqrt(prev < INFINITY ? prev : 1) + 1e-3, "mean of z_%zu %g", k,
                  m);
        for (size_t i = 0; i < n; i++) v += (z[i * D + k] - m) * (z[i * D + k] - m) / n;
        cr_expect(v <= prev * (1 + 1e-5), "variance of component %zu (%g) > previous (%g)", k, v,
                  prev);
        prev = v;
        kept += v;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) total += (x[i * d + j] - mu[j]) * (x[i * d + j] - mu[j]) / n;
    cr_log_info("explained variance of 12 components: %.4f", kept / total);
    cr_expect(kept / total > 0.95, "explained %g", kept / total);
    cr_expect(kept / total <= 1 + 1e-4);
    free(e), free(u), free(z), free(x);
    vq_quant_free(qz);
}

Test(pca, whitening_gives_unit_variance) {
    size_t n = 3000, d = 24, D = 6;
    float *x = lowrank(n, d, 6, 0.2f, 3);
    vq_quant *qz = make("pca:d=6,whiten=1+f32", d, n, x);
    float *z = malloc(n * D * 4), *y = malloc(n * d * 4);
    cr_assert_eq(vq_quant_encode(qz, n, x, (uint8_t *)z, NULL), VQ_OK);
    for (size_t k = 0; k < D; k++) {
        double v = 0;
        for (size_t i = 0; i < n; i++) v += (double)z[i * D + k] * z[i * D + k] / n;
        cr_expect(fabs(v - 1) < 1e-3, "whitened variance of component %zu: %g", k, v);
    }
    /* Decode undoes the whitening: the rank-6 data comes back up to its noise. */
    cr_assert_eq(vq_quant_decode(qz, n, (uint8_t *)z, y, NULL), VQ_OK);
    double num = 0, den = 0;
    for (size_t i = 0; i < n * d; i++)
        num += (x[i] - y[i]) * (x[i] - y[i]), den += (x[i] - 2) * (x[i] - 2);
    cr_expect(num / den < 0.01, "whitened round trip error %g", num / den);
    free(z), free(y), free(x);
    vq_quant_free(qz);
}

/* Composition: scores of pca+INNER against brute force on the decoded vectors. */
Test(pca, composes_with_sq8_and_rabitq) {
    cr_assert_str_eq(vq__ops_rabitq.name, "rabitq");
    size_t n = 1500, d = 64;
    float *x = lowrank(n, d, 16, 0.05f, 4), *y = malloc(n * d * 4), q[64], dist[1500];
    memcpy(q, x + 3 * d, sizeof q);
    for (size_t j = 0; j < d; j++) q[j] += 0.1f;
    const char *specs[] = {"pca:d=16+sq8", "pca:d=16+rabitq:bits=4", "pca:d=32+rabitq:bits=1"};
    for (size_t s = 0; s < 3; s++) {
        vq_quant *qz = make(specs[s], d, n, x);
        size_t cs = vq_quant_code_size(qz);
        uint8_t *c = malloc(n * cs);
        cr_assert_eq(vq_quant_encode(qz, n, x, c, NULL), VQ_OK);
        cr_assert_eq(vq_quant_decode(qz, n, c, y, NULL), VQ_OK);
        double num = 0, den = 0;
        for (size_t i = 0; i < n * d; i++)
            num += (x[i] - y[i]) * (x[i] - y[i]), den += (x[i] - 2) * (x[i] - 2);
        vq_query *qs;
        cr_assert_eq(vq_query_new(qz, &qs, NULL), VQ_OK);
        double err_l2 = 0, err_ip = 0, sum_l2 = 0, sum_ip = 0;
        for (int m = 0; m < 2; m++) {
            cr_assert_eq(vq_query_prepare(qs, q, m ? VQ_METRIC_IP : VQ_METRIC_L2, NULL), VQ_OK);
            vq_quant_score(qs, c, n, dist);
            for (size_t i = 0; i < n; i++) {
                double ex = 0;
                for (size_t j = 0; j < d; j++)
                    ex += m ? q[j] * x[i * d + j] : (q[j] - x[i * d + j]) * (q[j] - x[i * d + j]);
                if (m) {
                    err_ip += (-dist[i] - ex);
                    sum_ip += fabs(ex);
                } else {
                    err_l2 += fabs(dist[i] - ex);
                    sum_l2 += ex;
                }
            }
        }
        cr_log_info("%s: mse_rel %g, mean |L2 err|/L2 %g, IP bias/|IP| %g", specs[s], num / den,
                    err_l2 / sum_l2, err_ip / sum_ip);
        /* 1-bit RaBitQ keeps about 64% of the residual energy (mse_rel ~0.36), and one
         * query's mean error over codes that share a rotation is noisier. */
        cr_expect(num / den < (s == 2 ? 0.45 : 0.02), "%s: mse_rel %g", specs[s], num / den);
        cr_expect(err_l2 / sum_l2 < (s == 2 ? 0.2 : 0.03), "%s: L2 error %g", specs[s],
                  err_l2 / sum_l2);
        cr_expect(fabs(err_ip / sum_ip) < (s == 2 ? 0.05 : 0.01), "%s: IP bias %g", specs[s],
                  err_ip / sum_ip);
        /* pack/unpack delegate to the inner quantizer. */
        uint8_t *blk = malloc(vq_quant_block_bytes(qz)), *back = malloc(cs);
        vq_quant_pack(qz, 1, c + 5 * cs, blk);
        vq_quant_unpack(qz, blk, 0, back);
        cr_expect_eq(memcmp(back, c + 5 * cs, cs), 0);
        free(blk), free(back), free(c);
        vq_query_free(qs);
        vq_quant_free(qz);
    }
    free(x), free(y);
}

Test(pca, save_load_and_corruption) {
    size_t n = 400, d = 20;
    float *x = lowrank(n, d, 5, 0.1f, 5), q[20];
    tu_fill_normal(q, d, 6);
    const char *specs[] = {"pca:d=8,whiten=1+sq8", "pca:d=5+rabitq:bits=2"};
    for (size_t s = 0; s < 2; s++) {
        vq_quant *qz = make(specs[s], d, n, x);
        size_t cs = vq_quant_code_size(qz);
        uint8_t *c1 = malloc(n * cs), *c2 = malloc(n * cs), *buf;
        size_t len;
        vq_err err;
        cr_assert_eq(vq_quant_encode(qz, n, x, c1, NULL), VQ_OK);
        cr_assert_eq(vq_quant_save(qz, &buf, &len, &err), VQ_OK, "%s", err.msg);
        vq_quant *q2;
        cr_assert_eq(vq_quant_load(buf, len, &q2, &err), VQ_OK, "%s: %s", specs[s], err.msg);
        cr_expect_str_eq(vq_quant_spec(q2), vq_quant_spec(qz));
        cr_assert_eq(vq_quant_encode(q2, n, x, c2, NULL), VQ_OK);
        cr_expect_eq(memcmp(c1, c2, n * cs), 0, "%s", specs[s]);
        vq_query *a, *b;
        cr_assert_eq(vq_query_new(qz, &a, NULL), VQ_OK);
        cr_assert_eq(vq_query_new(q2, &b, NULL), VQ_OK);
        cr_assert_eq(vq_query_prepare(a, q, VQ_METRIC_IP, NULL), VQ_OK);
        cr_assert_eq(vq_query_prepare(b, q, VQ_METRIC_IP, NULL), VQ_OK);
        cr_expect_eq(vq_quant_score_one(a, c1), vq_quant_score_one(b, c1));
        vq_query_free(a), vq_query_free(b);
        for (size_t i = 0; i < len; i += 1 + len / 64) {
            buf[i] ^= 0x11;
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, len, &bad, &err), 0, "%s flipped %zu", specs[s], i);
            buf[i] ^= 0x11;
        }
        for (size_t l = 0; l < len; l += 1 + len / 32) {
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, l, &bad, &err), 0, "%s truncated %zu", specs[s], l);
        }
        vq_free(buf);
        free(c1), free(c2);
        vq_quant_free(qz), vq_quant_free(q2);
    }
    free(x);
}

Test(pca, bad_specs_name_the_key) {
    struct {
        const char *spec, *field;
        int code;
    } bad[] = {{"pca:d=8", "spec", VQ_ESPEC},
               {"pca:d=17+f32", "d", VQ_ESPEC},
               {"pca:d=0+f32", "d", VQ_ESPEC},
               {"pca+f32", "d", VQ_ESPEC},
               {"pca:d=4,whiten=2+f32", "whiten", VQ_ESPEC},
               {"pca:d=4+nosuch", "spec", VQ_ESPEC},
               {"pca:d=4+rabitq:bits=0", "bits", VQ_ESPEC},
               {"pca:d=4,k=1+f32", "k", VQ_ESPEC}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vq_quant *q = NULL;
        vq_err err;
        cr_expect_eq(vq_quant_new(bad[i].spec, 16, &q, &err), bad[i].code, "%s", bad[i].spec);
        cr_expect_str_eq(err.field, bad[i].field, "%s: field '%s' (%s)", bad[i].spec, err.field,
                         err.msg);
        cr_expect_null(q);
    }
    vq_quant *q;
    cr_assert_eq(vq_quant_new("pca:d=4+sq8", 16, &q, NULL), VQ_OK);
    float v[16] = {0};
    uint8_t c[16];
    cr_expect_eq(vq_quant_encode(q, 1, v, c, NULL), VQ_ESTATE);
    vq_quant_free(q);
}
