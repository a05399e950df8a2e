/* Binary codes (bin): sign codes of centred vectors, thermometer codes of quantiles, the
 * Hamming proxy against a naive count, the asymmetric estimate against the decoded vector,
 * SIMD = scalar, save/load, corrupted loads, bad specs. */
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

static float *data(size_t n, size_t d, uint64_t seed) {
    float *x = malloc(n * d * 4);
    tu_fill_normal(x, n * d, seed);
    for (size_t i = 0; i < n * d; i++) x[i] = 1.5f + x[i] * (1 + (float)(i % d) / d);
    return x;
}

static unsigned bit(const uint8_t *c, size_t nb, unsigned k, size_t j) {
    return c[k * nb + j / 8] >> (j % 8) & 1;
}

Test(binary, sign_code_and_hamming) {
    size_t n = 500, d = 45, nb = (d + 7) / 8;
    float *x = data(n, d, 1), mean[45] = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
    vq_quant *q = make("bin", d, n, x);
    cr_expect_str_eq(vq_quant_spec(q), "bin:bits=1,center=1,asym=0,qbits=8");
    cr_expect_eq(vq_quant_code_size(q), nb);
    uint8_t *c = malloc(n * nb);
    cr_assert_eq(vq_quant_encode(q, n, x, c, NULL), VQ_OK);
    size_t agree = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            agree += bit(c + i * nb, nb, 0, j) == (x[i * d + j] > mean[j]);
    /* float vs double means may disagree on values within rounding of the mean */
    cr_expect(agree >= n * d - 2, "sign bits agree on %zu of %zu", agree, n * d);
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
    float dist[500];
    for (size_t t = 0; t < 5; t++) {
        cr_assert_eq(vq_query_prepare(qs, x + t * d, VQ_METRIC_L2, NULL), VQ_OK);
        vq_quant_score(qs, c, n, dist);
        for (size_t i = 0; i < n; i++) {
            unsigned h = 0;
            for (size_t j = 0; j < d; j++)
                h += bit(c + i * nb, nb, 0, j) != bit(c + t * nb, nb, 0, j);
            cr_expect_eq(dist[i], (float)h, "query %zu code %zu", t, i);
            cr_expect_eq(vq_quant_score_one(qs, c + i * nb), dist[i]);
        }
    }
    vq_query_free(qs);
    vq_quant_free(q);
    free(c);
    free(x);
}

Test(binary, thermometer_levels) {
    size_t n = 2000, d = 19;
    float *x = data(n, d, 2);
    for (unsigned B = 2; B <= 4; B++) {
        char spec[32];
        snprintf(spec, sizeof spec, "bin:bits=%u", B);
        vq_quant *q = make(spec, d, n, x);
        size_t nb = (d + 7) / 8, cs = vq_quant_code_size(q);
        cr_expect_eq(cs, B * nb);
        uint8_t *c = malloc(n * cs);
        cr_assert_eq(vq_quant_encode(q, n, x, c, NULL), VQ_OK);
        /* Thermometer: plane k set implies plane k-1 set; levels are close to uniform. */
        size_t hist[5] = {0};
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++) {
                unsigned l = 0;
                for (unsigned k = 0; k < B; k++) {
                    unsigned b = bit(c + i * cs, nb, k, j);
                    if (k) cr_expect(!b || bit(c + i * cs, nb, k - 1, j), "not a thermometer");
                    l += b;
                }
                hist[l]++;
            }
        for (unsigned l = 0; l <= B; l++)
            cr_expect(fabs((double)hist[l] / (n * d) - 1.0 / (B + 1)) < 0.02, "B=%u level %u: %zu",
                      B, l, hist[l]);
        /* Hamming between thermometer codes = L1 distance between levels. */
        vq_query *qs;
        cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
        cr_assert_eq(vq_query_prepare(qs, x, VQ_METRIC_IP, NULL), VQ_OK);
        for (size_t i = 0; i < 50; i++) {
            int h = 0;
            for (size_t j = 0; j < d; j++) {
                int la = 0, lb = 0;
                for (unsigned k = 0; k < B; k++)
                    la += bit(c + i * cs, nb, k, j), lb += bit(c, nb, k, j);
                h += abs(la - lb);
            }
            cr_expect_eq(vq_quant_score_one(qs, c + i * cs), (float)h);
        }
        vq_query_free(qs);
        vq_quant_free(q);
        free(c);
    }
    free(x);
}

Test(binary, asymmetric_matches_decoded_and_error_shrinks) {
    size_t n = 1000, d = 70;
    float *x = data(n, d, 3), *y = malloc(n * d * 4), dist[1000];
    double prev = 1e30;
    for (unsigned B = 1; B <= 4; B++) {
        char spec[64];
        snprintf(spec, sizeof spec, "bin:bits=%u,asym=1,qbits=12", B);
        vq_quant *q = make(spec, d, n, x);
        size_t cs = vq_quant_code_size(q);
        uint8_t *c = malloc(n * cs);
        cr_assert_eq(vq_quant_encode(q, n, x, c, NULL), VQ_OK);
        cr_assert_eq(vq_quant_decode(q, n, c, y, NULL), VQ_OK);
        double num = 0, den = 0;
        for (size_t i = 0; i < n * d; i++) {
            num += (x[i] - y[i]) * (x[i] - y[i]);
            den += (x[i] - 1.5) * (x[i] - 1.5);
        }
        cr_log_info("bin:bits=%u mse relative to the variance %g", B, num / den);
        cr_expect(num / den < 0.8 * prev, "B=%u mse %g vs %g", B, num / den, prev);
        prev = num / den;
        vq_query *qs, *ref;
        cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
        cr_assert_eq(vq_query_new(q, &ref, NULL), VQ_OK);
        vq_query_set_isa(ref, VQ_ISA_SCALAR);
        float qv[70], dref[1000];
        tu_fill_normal(qv, d, 99 + B);
        for (int m = 0; m < 2; m++) {
            vq_metric met = m ? VQ_METRIC_IP : VQ_METRIC_L2;
            cr_assert_eq(vq_query_prepare(qs, qv, met, NULL), VQ_OK);
            cr_assert_eq(vq_query_prepare(ref, qv, met, NULL), VQ_OK);
            vq_quant_score(qs, c, n, dist);
            vq_quant_score(ref, c, n, dref);
            cr_expect_eq(memcmp(dist, dref, n * 4), 0, "SIMD and scalar differ, B=%u", B);
            for (size_t i = 0; i < n; i++) {
                double ex = 0, mag = 0;
                for (size_t j = 0; j < d; j++) {
                    double t =
                        m ? qv[j] * y[i * d + j] : (qv[j] - y[i * d + j]) * (qv[j] - y[i * d + j]);
                    ex += t;
                    mag += fabs(t);
                }
                if (m) ex = -ex;
                /* 12-bit weights: rounding error <= delta/2 per set bit. */
                cr_expect(fabs(dist[i] - ex) <= 2e-3 * mag + 1e-3, "B=%u m=%d i=%zu: %g vs %g", B,
                          m, i, dist[i], ex);
            }
        }
        vq_query_free(qs);
        vq_query_free(ref);
        vq_quant_free(q);
        free(c);
    }
    free(x);
    free(y);
}

Test(binary, symmetric_simd_matches_scalar) {
    size_t n = 300, d = 784;
    float *x = data(n, d, 4);
    for (unsigned B = 1; B <= 4; B += 3) {
        char spec[32];
        snprintf(spec, sizeof spec, "bin:bits=%u", B);
        vq_quant *q = make(spec, d, n, x);
        uint8_t *c = malloc(n * vq_quant_code_size(q));
        cr_assert_eq(vq_quant_encode(q, n, x, c, NULL), VQ_OK);
        vq_query *a, *b;
        cr_assert_eq(vq_query_new(q, &a, NULL), VQ_OK);
        cr_assert_eq(vq_query_new(q, &b, NULL), VQ_OK);
        vq_query_set_isa(b, VQ_ISA_SCALAR);
        float da[300], db[300];
        cr_assert_eq(vq_query_prepare(a, x + 7 * d, VQ_METRIC_L2, NULL), VQ_OK);
        cr_assert_eq(vq_query_prepare(b, x + 7 * d, VQ_METRIC_L2, NULL), VQ_OK);
        vq_quant_score(a, c, n, da);
        vq_quant_score(b, c, n, db);
        cr_expect_eq(memcmp(da, db, sizeof da), 0);
        cr_expect_eq(da[7], 0.0f, "a code is at Hamming distance 0 from itself");
        vq_query_free(a);
        vq_query_free(b);
        vq_quant_free(q);
        free(c);
    }
    free(x);
}

Test(binary, save_load_and_corruption) {
    size_t n = 200, d = 30;
    float *x = data(n, d, 5);
    const char *specs[] = {"bin", "bin:center=0", "bin:bits=3,asym=1"};
    for (size_t s = 0; s < 3; s++) {
        vq_quant *q = make(specs[s], d, n, x);
        size_t cs = vq_quant_code_size(q);
        uint8_t *c1 = malloc(n * cs), *c2 = malloc(n * cs), *buf;
        float *y1 = malloc(n * d * 4), *y2 = malloc(n * d * 4);
        size_t len;
        vq_err err;
        cr_assert_eq(vq_quant_encode(q, n, x, c1, NULL), VQ_OK);
        cr_assert_eq(vq_quant_save(q, &buf, &len, &err), VQ_OK);
        vq_quant *q2;
        cr_assert_eq(vq_quant_load(buf, len, &q2, &err), VQ_OK, "%s", err.msg);
        cr_assert_eq(vq_quant_encode(q2, n, x, c2, NULL), VQ_OK);
        cr_expect_eq(memcmp(c1, c2, n * cs), 0, "%s", specs[s]);
        vq_quant_decode(q, n, c1, y1, NULL);
        vq_quant_decode(q2, n, c1, y2, NULL);
        cr_expect_eq(memcmp(y1, y2, n * d * 4), 0);
        for (size_t i = 0; i < len; i += 1 + len / 64) {
            buf[i] ^= 0x40;
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, len, &bad, &err), 0, "%s flipped %zu", specs[s], i);
            buf[i] ^= 0x40;
        }
        for (size_t l = 0; l < len; l += 1 + len / 32) {
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, l, &bad, &err), 0);
        }
        vq_free(buf);
        free(c1), free(c2), free(y1), free(y2);
        vq_quant_free(q);
        vq_quant_free(q2);
    }
    free(x);
}

Test(binary, bad_specs_name_the_key) {
    struct {
        const char *spec, *field;
    } bad[] = {{"bin:bits=0", "bits"},     {"bin:bits=5", "bits"},
               {"bin:center=3", "center"}, {"bin:bits=2,center=1", "center"},
               {"bin:asym=2", "asym"},     {"bin:qbits=0", "qbits"},
               {"bin:mode=x", "mode"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vq_quant *q = NULL;
        vq_err err;
        cr_expect_eq(vq_quant_new(bad[i].spec, 8, &q, &err), VQ_ESPEC, "%s", bad[i].spec);
        cr_expect_str_eq(err.field, bad[i].field, "%s: '%s'", bad[i].spec, err.field);
    }
    vq_quant *q;
    cr_assert_eq(vq_quant_new("bin", 8, &q, NULL), VQ_OK);
    float v[8] = {0};
    uint8_t c[1];
    cr_expect_eq(vq_quant_encode(q, 1, v, c, NULL), VQ_ESTATE);
    vq_quant_free(q);
    /* The registry entry is this file's (a strong reference keeps it linked). */
    cr_expect_str_eq(vq__ops_bin.name, "bin");
}
