/* QJL through the public contract: unbiased inner products (over seeds), variance within the
 * paper's bound, scores equal to the decode-based computation on every ISA, save/load,
 * bad specs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kernels/f32.h"
#include "quant.h"
#include "testutil.h"
#include "testutil_center.h"

static vq_quant *mk(const char *spec, unsigned d) {
    vq_quant *q = NULL;
    vq_err err = {0};
    cr_assert_eq(vq_quant_new(spec, d, &q, &err), VQ_OK, "%s: %s", spec, err.msg);
    return q;
}

Test(qjl, code_size_and_spec) {
    vq_quant *q = mk("qjl", 100);
    cr_expect_eq(vq_quant_code_size(q), 4 + 13);
    cr_expect_str_eq(vq_quant_spec(q), "qjl:m=100,seed=42,norm=32");
    vq_quant_free(q);
    q = mk("qjl:norm=16", 100);
    cr_expect_eq(vq_quant_code_size(q), 2 + 13);
    vq_quant_free(q);
    q = mk("qjl:m=256,seed=3", 64);
    cr_expect_eq(vq_quant_code_size(q), 4 + 32);
    vq_quant_free(q);
}

Test(qjl, unbiased_with_bounded_variance) {
    /* Fixed vectors x, q; over 300 seeds the mean estimate matches <q, x> within 4 standard
     * errors, and the variance stays below (π/(2m))·|q|²|x|² (the paper's bound). */
    size_t d = 48, seeds = 300;
    unsigned m = 64;
    float x[48], qv[48];
    tu_fill_normal(x, d, 1);
    tu_fill_normal(qv, d, 2);
    for (size_t j = 0; j < d; j++) qv[j] += 0.8f * x[j];
    double t = 0, xn = 0, qn = 0;
    for (size_t j = 0; j < d; j++) t += qv[j] * x[j], xn += x[j] * x[j], qn += qv[j] * qv[j];
    double s1 = 0, s2 = 0;
    for (size_t s = 0; s < seeds; s++) {
        char spec[48];
        snprintf(spec, sizeof spec, "qjl:m=%u,seed=%zu", m, s);
        vq_quant *q = mk(spec, (unsigned)d);
        uint8_t c[64];
        vq_query *qs;
        cr_assert_eq(vq_quant_encode(q, 1, x, c, NULL), VQ_OK);
        cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
        cr_assert_eq(vq_query_prepare(qs, qv, VQ_METRIC_IP, NULL), VQ_OK);
        double e = -vq_quant_score_one(qs, c);
        s1 += e / seeds, s2 += e * e / seeds;
        vq_query_free(qs);
        vq_quant_free(q);
    }
    double var = s2 - s1 * s1, se = sqrt(var / (seeds - 1));
    cr_expect(fabs(s1 - t) < 4 * se, "mean %.4f vs true %.4f (se %.4f)", s1, t, se);
    cr_expect(var < 1.2 * 3.14159265 / (2 * m) * qn * xn, "variance %.4f above the bound %.4f", var,
              3.14159265 / (2 * m) * qn * xn);
    cr_expect(var > 0.1 * 3.14159265 / (2 * m) * qn * xn, "variance %.5f implausibly small", var);
}

static void check_scores(const char *spec, size_t d, vq_isa isa) {
    size_t n = 60;
    vq_quant *q = mk(spec, (unsigned)d);
    float *x = malloc(n * d * 4), *y = malloc(n * d * 4), *qv = malloc(d * 4), dist[60];
    tu_fill_normal(x, n * d, d);
    tu_fill_normal(qv, d, d + 1);
    size_t cs = vq_quant_code_size(q);
    uint8_t *c = malloc(n * cs);
    cr_assert_eq(vq_quant_encode(q, n, x, c, NULL), VQ_OK);
    cr_assert_eq(vq_quant_decode(q, n, c, y, NULL), VQ_OK);
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
    vq_query_set_isa(qs, isa);
    double qn2 = 0;
    for (size_t j = 0; j < d; j++) qn2 += (double)qv[j] * qv[j];
    for (int m = 0; m < 2; m++) {
        cr_assert_eq(vq_query_prepare(qs, qv, m ? VQ_METRIC_IP : VQ_METRIC_L2, NULL), VQ_OK);
        vq_quant_score(qs, c, n, dist);
        for (size_t i = 0; i < n; i++) {
            double ip = 0, mag = 0, xn2 = 0;
            for (size_t j = 0; j < d; j++) {
                ip += (double)qv[j] * y[i * d + j];
                mag += fabs((double)qv[j] * y[i * d + j]);
                xn2 += (double)x[i * d + j] * x[i * d + j];
            }
            /* The L2 term uses the stored norm (binary16 with norm=16). */
            double nrm;
            if (strstr(spec, "norm=16")) {
                uint16_t h;
                memcpy(&h, c + i * cs, 2);
                nrm = vq__f16_to_f32(h);
            } else {
                float f;
                memcpy(&f, c + i * cs, 4);
                nrm = f;
            }
            cr_expect(tu_close(nrm, sqrt(xn2), 1e-3, sqrt(xn2)), "stored norm %g vs %g", nrm,
                      sqrt(xn2));
            double want = m ? -ip : qn2 + nrm * nrm - 2 * ip;
            cr_expect(tu_close(dist[i], want, 1e-4, m ? mag : qn2 + xn2 + 2 * mag),
                      "%s d=%zu isa=%d metric=%d row %zu: %.6g vs %.6g", spec, d, isa, m, i,
                      dist[i], want);
            cr_expect_eq(vq_quant_score_one(qs, c + i * cs), dist[i]);
        }
    }
    vq_query_free(qs);
    vq_quant_free(q);
    free(c), free(x), free(y), free(qv);
}

Test(qjl, scores_equal_decode_based_computation) {
    const char *specs[] = {"qjl", "qjl:m=1", "qjl:m=67", "qjl:m=300,norm=16"};
    size_t ds[] = {1, 9, 64, 130};
    vq_isa isas[3] = {VQ_ISA_SCALAR};
    int ni = 1 + tu_isas(isas + 1);
    for (size_t s = 0; s < 4; s++)
        for (size_t t = 0; t < 4; t++)
            for (int k = 0; k < ni; k++) check_scores(specs[s], ds[t], isas[k]);
}

Test(qjl, save_load_and_corruption) {
    size_t n = 20, d = 30;
    float x[600];
    tu_fill_normal(x, n * d, 4);
    vq_quant *q = mk("qjl:m=40,seed=7", (unsigned)d);
    uint8_t c1[20 * 9], c2[20 * 9], *buf;
    size_t len;
    cr_assert_eq(vq_quant_code_size(q), 9);
    cr_assert_eq(vq_quant_encode(q, n, x, c1, NULL), VQ_OK);
    cr_assert_eq(vq_quant_save(q, &buf, &len, NULL), VQ_OK);
    vq_quant *q2;
    vq_err err;
    cr_assert_eq(vq_quant_load(buf, len, &q2, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(vq_quant_encode(q2, n, x, c2, NULL), VQ_OK);
    cr_expect_eq(memcmp(c1, c2, sizeof c1), 0);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x40;
        vq_quant *bad = NULL;
        cr_expect_lt(vq_quant_load(buf, len, &bad, &err), 0, "flipped byte %zu", i);
        buf[i] ^= 0x40;
    }
    for (size_t l = 0; l < len; l++) {
        vq_quant *bad = NULL;
        cr_expect_lt(vq_quant_load(buf, l, &bad, &err), 0, "truncated to %zu", l);
    }
    vq_free(buf);
    vq_quant_free(q);
    vq_quant_free(q2);
}

Test(qjl, bad_specs_are_rejected) {
    struct {
        const char *spec;
        unsigned d;
        const char *field;
    } bad[] = {{"qjl:m=0", 16, "m"},
               {"qjl:m=70000", 16, "m"},
               {"qjl:m=65536", 4096, "m"},
               {"qjl:bits=2", 16, "bits"},
               {"qjl:seed=-1", 16, "seed"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vq_quant *q = NULL;
        vq_err err = {0};
        cr_expect_eq(vq_quant_new(bad[i].spec, bad[i].d, &q, &err), VQ_ESPEC, "%s", bad[i].spec);
        cr_expect_str_eq(err.field, bad[i].field, "%s: field '%s' (%s)", bad[i].spec, err.field,
                         err.msg);
        cr_expect_null(q);
    }
    vq_quant *q = mk("qjl", 4);
    float v[4] = {1, INFINITY, 0, 0};
    uint8_t c[8];
    cr_expect_eq(vq_quant_encode(q, 1, v, c, NULL), VQ_ENOTFINITE);
    vq_quant_free(q);
    /* A norm above binary16's range is an error with norm=16, never a silent clamp. */
    q = mk("qjl:norm=16", 4);
    float big[4] = {7e4f, 0, 0, 0};
    vq_err err;
    cr_expect_eq(vq_quant_encode(q, 1, big, c, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "vector");
    vq_quant_free(q);
}

Test(qjl, center_scores_equal_decode_based_computation) {
    size_t n = 50, d = 33, nq = 3;
    float *x = malloc(n * d * sizeof(float)), *qv = malloc(nq * d * sizeof(float));
    float *y = malloc(n * d * sizeof(float)), *c = calloc(d, sizeof(float));
    offset_data(x, n, d, 41);
    offset_data(qv, nq, d, 42);
    for (size_t j = 0; j < d; j++) {
        double a = 0;
        for (size_t i = 0; i < n; i++) a += x[i * d + j];
        c[j] = (float)(a / (double)n);
    }
    vq_quant *q = mk_center("qjl:m=40,seed=3,center=1", (unsigned)d, n, x);
    size_t cs = vq_quant_code_size(q);
    uint8_t *code = malloc(n * cs);
    cr_assert_eq(vq_quant_encode(q, n, x, code, NULL), VQ_OK);
    cr_assert_eq(vq_quant_decode(q, n, code, y, NULL), VQ_OK);
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
    for (size_t k = 0; k < nq; k++) {
        const float *qk = qv + k * d;
        for (int met = 0; met < 2; met++) {
            cr_assert_eq(vq_query_prepare(qs, qk, met ? VQ_METRIC_L2 : VQ_METRIC_IP, NULL), VQ_OK);
            for (size_t i = 0; i < n; i++) {
                double ip = 0, qc2 = 0, ipq = 0, mag = 0, nr;
                float f;
                memcpy(&f, code + i * cs, 4);
                nr = f;
                for (size_t j = 0; j < d; j++) {
                    ip += (double)(qk[j] - c[j]) * (y[i * d + j] - c[j]);
                    qc2 += (double)(qk[j] - c[j]) * (qk[j] - c[j]);
                    ipq += (double)qk[j] * y[i * d + j];
                    mag += fabs((double)qk[j] * y[i * d + j]);
                }
                double want = met ? qc2 + nr * nr - 2 * ip : -ipq;
                if (met) mag = qc2 + nr * nr;
                float got = vq_quant_score_one(qs, code + i * cs);
                cr_expect(fabs(got - want) <= 2e-4 * mag + 1e-4, "%s: %zu/%zu %g vs %g",
                          met ? "L2" : "IP", k, i, got, want);
            }
        }
    }
    vq_query_free(qs);
    free(code), free(x), free(qv), free(y), free(c);
    vq_quant_free(q);
}

Test(qjl, center_save_load_and_corruption) {
    size_t n = 40, d = 24;
    float *x = malloc(n * d * sizeof(float));
    offset_data(x, n, d, 51);
    vq_quant *q = mk_center("qjl:m=32,seed=2,center=1", (unsigned)d, n, x), *q2;
    cr_expect(strstr(vq_quant_spec(q), "center=1") != NULL, "%s", vq_quant_spec(q));
    size_t cs = vq_quant_code_size(q), len;
    uint8_t *c1 = malloc(n * cs), *c2 = malloc(n * cs), *buf;
    vq_err err;
    cr_assert_eq(vq_quant_encode(q, n, x, c1, NULL), VQ_OK);
    cr_assert_eq(vq_quant_save(q, &buf, &len, &err), VQ_OK);
    cr_assert_eq(vq_quant_load(buf, len, &q2, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(vq_quant_encode(q2, n, x, c2, NULL), VQ_OK);
    cr_expect_eq(memcmp(c1, c2, n * cs), 0, "codes differ after load");
    for (size_t l = 0; l < len; l++) {
        vq_quant *bad = NULL;
        cr_expect_lt(vq_quant_load(buf, l, &bad, &err), 0, "truncated to %zu", l);
    }
    /* Infinite center coordinate behind a valid CRC: rejected by the body parser. */
    float inf = INFINITY;
    memcpy(buf + len - 4 - 4 * 5, &inf, 4);
    uint32_t crc = vq__crc32(0, buf, len - 4);
    memcpy(buf + len - 4, &crc, 4);
    vq_quant *bad = NULL;
    cr_expect_eq(vq_quant_load(buf, len, &bad, &err), VQ_ECORRUPT);
    cr_expect_null(bad);
    vq_free(buf);
    free(c1), free(c2), free(x);
    vq_quant_free(q), vq_quant_free(q2);
}

Test(qjl, center_is_unbiased_over_seeds) {
    /* Offset data, IP: with one seed the errors share S, so average the relative bias over
     * seeds and compare with its standard error. */
    size_t n = 200, d = 48, nq = 8, seeds = 16;
    float *x = malloc(n * d * sizeof(float)), *qv = malloc(nq * d * sizeof(float));
    float *dist = malloc(n * sizeof(float));
    offset_data(x, n, d, 61);
    offset_data(qv, nq, d, 62);
    double m = 0, m2 = 0;
    for (size_t s = 0; s < seeds; s++) {
        char spec[64];
        snprintf(spec, sizeof spec, "qjl:seed=%zu,center=1", 700 + s);
        vq_quant *q = mk_center(spec, (unsigned)d, n, x);
        uint8_t *code = malloc(n * vq_quant_code_size(q));
        cr_assert_eq(vq_quant_encode(q, n, x, code, NULL), VQ_OK);
        vq_query *qs;
        cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
        double se = 0, st = 0;
        for (size_t k = 0; k < nq; k++) {
            cr_assert_eq(vq_query_prepare(qs, qv + k * d, VQ_METRIC_IP, NULL), VQ_OK);
            vq_quant_score(qs, code, n, dist);
            for (size_t i = 0; i < n; i++) {
                double t = 0;
                for (size_t j = 0; j < d; j++) t += (double)qv[k * d + j] * x[i * d + j];
                se += -dist[i] - t, st += t;
            }
        }
        m += se / st / seeds, m2 += (se / st) * (se / st) / seeds;
        vq_query_free(qs);
        free(code);
        vq_quant_free(q);
    }
    double sd = sqrt((m2 - m * m) / (seeds - 1));
    cr_expect(fabs(m) < 4 * sd + 1e-6 && fabs(m) < 0.02,
              "qjl center=1: mean rel bias %.5f (se %.5f)", m, sd);
    free(x), free(qv), free(dist);
}
