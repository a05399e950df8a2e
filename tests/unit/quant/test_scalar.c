/* Element-wise quantizers (f32, fp16, bf16, sq8, f8e4m3) through the public contract:
 * reconstruction error bounds, scores against decoded vectors, save/load, bad input. */
#include <criterion/criterion.h>
#include <string.h>

#include "quant.h"
#include "testutil.h"

static const char *specs[] = {"f32", "fp16", "bf16", "sq8", "f8e4m3"};
/* Relative MSE ceilings: 0, 2^-22 (fp16), 2^-16 (bf16), (1/255)^2 / 12 * range, e4m3's 3
 * mantissa bits. */
static const double mse_max[] = {0, 1e-6, 2e-5, 1e-3, 4e-3};

Test(scalar, encode_decode_score) {
    size_t n = 200, d = 37;
    float *x = malloc(n * d * 4), *y = malloc(n * d * 4), q[37], dist[200];
    tu_fill_normal(x, n * d, 11);
    tu_fill_normal(q, d, 12);
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        vq_quant *qz;
        vq_err err;
        cr_assert_eq(vq_quant_new(specs[s], (unsigned)d, &qz, &err), VQ_OK, "%s", err.msg);
        cr_assert_eq(vq_quant_train(qz, n, x, &err), VQ_OK);
        uint8_t *codes = malloc(n * vq_quant_code_size(qz));
        cr_assert_eq(vq_quant_encode(qz, n, x, codes, &err), VQ_OK);
        cr_assert_eq(vq_quant_decode(qz, n, codes, y, &err), VQ_OK);
        double num = 0, den = 0;
        for (size_t i = 0; i < n * d; i++) num += (x[i] - y[i]) * (x[i] - y[i]), den += x[i] * x[i];
        cr_expect(num / den <= mse_max[s], "%s: relative MSE %g > %g", specs[s], num / den,
                  mse_max[s]);
        /* The scores are exact functions of the reconstruction. */
        vq_query *qs;
        cr_assert_eq(vq_query_new(qz, &qs, &err), VQ_OK);
        for (int m = 0; m < 2; m++) {
            cr_assert_eq(vq_query_prepare(qs, q, m ? VQ_METRIC_IP : VQ_METRIC_L2, &err), VQ_OK);
            vq_quant_score(qs, codes, n, dist);
            for (size_t i = 0; i < n; i++) {
                double ref = 0, mag = 0;
                for (size_t j = 0; j < d; j++) {
                    double t =
                        m ? q[j] * y[i * d + j] : (q[j] - y[i * d + j]) * (q[j] - y[i * d + j]);
                    ref += t;
                    mag += fabs(t);
                }
                if (m) ref = -ref;
                cr_expect(tu_close(dist[i], ref, 1e-4, mag), "%s metric %d row %zu: %g vs %g",
                          specs[s], m, i, dist[i], ref);
                cr_expect_eq(vq_quant_score_one(qs, codes + i * vq_quant_code_size(qz)), dist[i]);
            }
            /* Scattered codes (reverse order, as a graph visits them) score the same. */
            const uint8_t *ptrs[200];
            float pd[200];
            for (size_t i = 0; i < n; i++) ptrs[i] = codes + (n - 1 - i) * vq_quant_code_size(qz);
            vq_quant_score_ptrs(qs, ptrs, n, pd);
            for (size_t i = 0; i < n; i++)
                cr_expect_eq(pd[i], dist[n - 1 - i], "%s metric %d ptr %zu", specs[s], m, i);
        }
        /* Where offered (sq8), |x^|^2 plus the IP score gives the L2 score. */
        cr_expect_eq(vq_quant_has_sqnorm(qz), !strcmp(specs[s], "sq8"), "%s", specs[s]);
        if (vq_quant_has_sqnorm(qz)) {
            float l2[200], ipd[200], qn = 0;
            for (size_t j = 0; j < d; j++) qn += q[j] * q[j];
            cr_assert_eq(vq_query_prepare(qs, q, VQ_METRIC_L2, &err), VQ_OK);
            vq_quant_score(qs, codes, n, l2);
            cr_assert_eq(vq_query_prepare(qs, q, VQ_METRIC_IP, &err), VQ_OK);
            vq_quant_score(qs, codes, n, ipd);
            for (size_t i = 0; i < n; i++) {
                double nn = 0;
                for (size_t j = 0; j < d; j++) nn += (double)y[i * d + j] * y[i * d + j];
                float sn = vq_quant_sqnorm(qz, codes + i * vq_quant_code_size(qz));
                cr_expect(tu_close(sn, nn, 1e-5, nn), "sqnorm row %zu: %g vs %g", i, sn, nn);
                cr_expect(tu_close(qn + sn + 2 * ipd[i], l2[i], 1e-4, qn + nn),
                          "L2 by IP row %zu: %g vs %g", i, qn + sn + 2 * ipd[i], l2[i]);
            }
        }
        /* Save and load reproduce the codes bit for bit. */
        uint8_t *buf;
        size_t len;
        cr_assert_eq(vq_quant_save(qz, &buf, &len, &err), VQ_OK);
        vq_quant *q2;
        cr_assert_eq(vq_quant_load(buf, len, &q2, &err), VQ_OK, "%s", err.msg);
        uint8_t *codes2 = malloc(n * vq_quant_code_size(qz));
        cr_assert_eq(vq_quant_encode(q2, n, x, codes2, &err), VQ_OK);
        cr_expect_eq(memcmp(codes, codes2, n * vq_quant_code_size(qz)), 0, "%s", specs[s]);
        /* Every single-byte corruption and every truncation is rejected. */
        for (size_t i = 0; i < len; i += 1 + len / 64) {
            buf[i] ^= 0x5a;
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, len, &bad, &err), 0, "%s: flipped byte %zu", specs[s],
                         i);
            buf[i] ^= 0x5a;
        }
        for (size_t l = 0; l < len; l += 1 + len / 32) {
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, l, &bad, &err), 0);
        }
        vq_free(buf);
        free(codes);
        free(codes2);
        vq_query_free(qs);
        vq_quant_free(qz);
        vq_quant_free(q2);
    }
    free(x);
    free(y);
}

/* The fallback (quantizers without their own pointer scoring) is score_one per code. */
Test(scalar, score_ptrs_fallback) {
    size_t n = 50, d = 32;
    float *x = malloc(n * d * 4), q[32], pd[50];
    tu_fill_normal(x, n * d, 21);
    tu_fill_normal(q, d, 22);
    vq_quant *qz;
    vq_err err;
    cr_assert_eq(vq_quant_new("tq:bits=4", (unsigned)d, &qz, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(vq_quant_train(qz, n, x, &err), VQ_OK);
    size_t cs = vq_quant_code_size(qz);
    uint8_t *codes = malloc(n * cs);
    cr_assert_eq(vq_quant_encode(qz, n, x, codes, &err), VQ_OK);
    vq_query *qs;
    cr_assert_eq(vq_query_new(qz, &qs, &err), VQ_OK);
    cr_assert_eq(vq_query_prepare(qs, q, VQ_METRIC_L2, &err), VQ_OK);
    const uint8_t *ptrs[50];
    for (size_t i = 0; i < n; i++) ptrs[i] = codes + ((i * 7) % n) * cs;
    vq_quant_score_ptrs(qs, ptrs, n, pd);
    for (size_t i = 0; i < n; i++) cr_expect_eq(pd[i], vq_quant_score_one(qs, ptrs[i]));
    vq_quant_score_ptrs(qs, ptrs, 0, pd); /* n = 0 is a no-op */
    vq_query_free(qs);
    vq_quant_free(qz);
    free(codes);
    free(x);
}

Test(scalar, bad_input_names_the_field) {
    vq_quant *q;
    vq_err err;
    cr_expect_eq(vq_quant_new("nosuch", 8, &q, &err), VQ_ESPEC);
    cr_expect(strstr(err.msg, "nosuch") != NULL);
    cr_expect_eq(vq_quant_new("sq8:bits=4", 8, &q, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "bits");
    cr_expect_eq(vq_quant_new("sq8", 0, &q, &err), VQ_EDIM);
    cr_expect_str_eq(err.field, "dim");
    cr_assert_eq(vq_quant_new("sq8", 4, &q, &err), VQ_OK);
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t c[8];
    cr_expect_eq(vq_quant_encode(q, 1, x, c, &err), VQ_ESTATE);
    cr_expect_eq(vq_quant_train(q, 2, x, &err), VQ_OK);
    x[6] = NAN;
    cr_expect_eq(vq_quant_encode(q, 2, x, c, &err), VQ_ENOTFINITE);
    cr_expect_str_eq(err.field, "vector[1][2]");
    x[6] = INFINITY;
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, &err), VQ_OK);
    cr_expect_eq(vq_query_prepare(qs, x + 4, VQ_METRIC_L2, &err), VQ_ENOTFINITE);
    vq_query_free(qs);
    vq_quant_free(q);
}

static long g_budget;
static void *fail_alloc(size_t s, void *c) {
    (void)c;
    return g_budget-- > 0 ? malloc(s) : NULL;
}
static void plain_free(void *p, void *c) {
    (void)c;
    free(p);
}

Test(scalar, out_of_memory_is_reported) {
    /* Fail the k-th allocation for every k until the whole sequence succeeds: each failure
     * must come back as VQ_ENOMEM with nothing leaked (ASan checks the leaks). */
    vq_allocator a = {fail_alloc, plain_free, NULL};
    float x[64];
    tu_fill_normal(x, 64, 5);
    int succeeded = 0;
    for (long k = 0; k < 64 && !succeeded; k++) {
        vq_set_allocator(&a);
        g_budget = k;
        vq_quant *q = NULL;
        vq_query *qs = NULL;
        vq_err err;
        int rc = vq_quant_new("sq8", 8, &q, &err);
        if (rc == VQ_OK) rc = vq_quant_train(q, 8, x, &err);
        if (rc == VQ_OK) rc = vq_query_new(q, &qs, &err);
        if (rc == VQ_OK) rc = vq_query_prepare(qs, x, VQ_METRIC_L2, &err);
        if (rc == VQ_OK)
            succeeded = 1;
        else
            cr_expect_eq(rc, VQ_ENOMEM, "allocation %ld: rc %d", k, rc);
        vq_query_free(qs);
        vq_quant_free(q);
        vq_set_allocator(NULL);
    }
    cr_expect(succeeded);
}
