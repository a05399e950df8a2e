/* TurboQuant (tq, tq-ip) through the public contract: distortion against theory, the known
 * shrinkage of plain tq and its removal by rescale=1, unbiasedness of tq-ip, scores equal to
 * the decode-based computation, SIMD vs scalar scoring, save/load, bad input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kernels/f32.h"
#include "lloyd.h"
#include "quant.h"
#include "testutil.h"
#include "testutil_center.h"

/* These tests exercise the data-oblivious estimators, so a tq-ip spec that does not name
 * `center` asks for center=0 (tq-ip centers by default; the center=1 tests train). */
static vq_quant *mk(const char *spec, unsigned d) {
    vq_quant *q = NULL;
    vq_err err = {0};
    char s[VQ_SPEC_MAX];
    int ip = !strncmp(spec, "tq-ip", 5) && !strstr(spec, "center=");
    snprintf(s, sizeof s, "%s%s%s", spec, ip ? (strchr(spec, ':') ? "," : ":") : "",
             ip ? "center=0" : "");
    cr_assert_eq(vq_quant_new(s, d, &q, &err), VQ_OK, "%s: %s", s, err.msg);
    cr_assert(vq_quant_is_trained(q), "%s needs no training", s);
    return q;
}

Test(turbo, tq_ip_centers_by_default) {
    vq_quant *q = NULL;
    cr_assert_eq(vq_quant_new("tq-ip:bits=3", 16, &q, NULL), VQ_OK);
    cr_expect(!vq_quant_is_trained(q), "tq-ip must train its mean by default");
    cr_expect(strstr(vq_quant_spec(q), "center=1") != NULL, "%s", vq_quant_spec(q));
    vq_quant_free(q);
}

static uint8_t *enc(vq_quant *q, size_t n, const float *x) {
    uint8_t *c = malloc(n * vq_quant_code_size(q));
    vq_err err;
    cr_assert_eq(vq_quant_encode(q, n, x, c, &err), VQ_OK, "%s", err.msg);
    return c;
}

static double mse_rel(vq_quant *q, size_t n, const float *x) {
    unsigned d = vq_quant_dim(q);
    uint8_t *c = enc(q, n, x);
    float *y = malloc(n * d * sizeof(float));
    cr_assert_eq(vq_quant_decode(q, n, c, y, NULL), VQ_OK);
    double num = 0, den = 0;
    for (size_t i = 0; i < n * d; i++)
        num += (double)(x[i] - y[i]) * (x[i] - y[i]), den += (double)x[i] * x[i];
    free(c);
    free(y);
    return num / den;
}

Test(turbo, code_size_is_tight) {
    unsigned ds[] = {1, 7, 128, 784};
    for (size_t t = 0; t < 4; t++)
        for (unsigned b = 1; b <= 8; b++) {
            if (b > 5 && ds[t] != 7) continue; /* 6..8-bit codebooks take longest to solve */
            char spec[64];
            snprintf(spec, sizeof spec, "tq:bits=%u", b);
            vq_quant *q = mk(spec, ds[t]);
            cr_expect_eq(vq_quant_code_size(q), 4 + (ds[t] * b + 7) / 8, "%s d=%u", spec, ds[t]);
            vq_quant_free(q);
            snprintf(spec, sizeof spec, "tq:bits=%u,rescale=1", b);
            q = mk(spec, ds[t]);
            cr_expect_eq(vq_quant_code_size(q), 8 + (ds[t] * b + 7) / 8, "%s", spec);
            vq_quant_free(q);
            snprintf(spec, sizeof spec, "tq:bits=%u,rescale=1,norm=16", b);
            q = mk(spec, ds[t]);
            cr_expect_eq(vq_quant_code_size(q), 4 + (ds[t] * b + 7) / 8, "%s", spec);
            vq_quant_free(q);
            if (ds[t] > 128) continue; /* tq-ip draws a d x d sketch: keep the test short */
            snprintf(spec, sizeof spec, "tq-ip:bits=%u", b);
            q = mk(spec, ds[t]);
            size_t want = (b > 1 ? 8 : 4) + (ds[t] * (b - 1) + 7) / 8 + (ds[t] + 7) / 8;
            cr_expect_eq(vq_quant_code_size(q), want, "%s d=%u", spec, ds[t]);
            vq_quant_free(q);
            snprintf(spec, sizeof spec, "tq-ip:bits=%u,norm=16", b);
            q = mk(spec, ds[t]);
            cr_expect_eq(vq_quant_code_size(q), want - (b > 1 ? 4 : 2), "%s", spec);
            vq_quant_free(q);
        }
}

Test(turbo, mse_matches_theory_on_unit_vectors) {
    /* Paper's D_b (d -> infinity) within 5%, and the exact-d Lloyd prediction within 3% for
     * every b = 1..8 (decode is the inverse up to the scalar quantization). */
    const double paper[] = {0, 0.3634, 0.1175, 0.0345, 0.0095};
    size_t n = 1000, d = 128;
    float *x = malloc(n * d * sizeof(float));
    tu_fill_normal(x, n * d, 1);
    tu_normalize(x, n, d);
    for (unsigned b = 1; b <= 8; b++) {
        char spec[32];
        snprintf(spec, sizeof spec, "tq:bits=%u", b);
        vq_quant *q = mk(spec, (unsigned)d);
        double m = mse_rel(q, n, x);
        float cb[256], thr[255];
        double mc;
        cr_assert_eq(vq__lloyd_sphere((unsigned)d, b, cb, thr, &mc, NULL), VQ_OK);
        cr_expect(fabs(m / (mc * d) - 1) < 0.03, "b=%u: mse_rel %.5f vs exact-d theory %.5f", b, m,
                  mc * d);
        if (b <= 4)
            cr_expect(fabs(m / paper[b] - 1) < 0.05, "b=%u: mse_rel %.5f vs paper %.4f", b, m,
                      paper[b]);
        vq_quant_free(q);
    }
    free(x);
}

Test(turbo, mse_scales_with_the_norm) {
    /* Non-unit vectors: the norm is stored exactly, so the relative error is unchanged. */
    size_t n = 500, d = 96;
    float *x = malloc(n * d * sizeof(float));
    tu_fill_normal(x, n * d, 2);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * d + j] *= (float)(1 + i % 17) * 100.0f;
    vq_quant *q = mk("tq:bits=3", (unsigned)d);
    double m = mse_rel(q, n, x);
    cr_expect(fabs(m / 0.0345 - 1) < 0.06, "mse_rel %.5f", m);
    vq_quant_free(q);
    free(x);
}

/* Inner-product estimates from the scores (IP metric: score = -estimate) for nq queries that
 * are noisy copies of base vectors, so <q, x> is far from 0. Returns the relative bias
 * sum(est - true) / sum(true), and in *z the mean signed error in units of its standard error
 * over per-base-vector mean errors. */
static double ip_bias(vq_quant *q, size_t n, const float *x, size_t nq, const float *qv,
                      double *z) {
    unsigned d = vq_quant_dim(q);
    uint8_t *c = enc(q, n, x);
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
    float *dist = malloc(n * sizeof(float));
    double *pe = calloc(n, sizeof(double)), st = 0, se = 0;
    for (size_t k = 0; k < nq; k++) {
        cr_assert_eq(vq_query_prepare(qs, qv + k * d, VQ_METRIC_IP, NULL), VQ_OK);
        vq_quant_score(qs, c, n, dist);
        for (size_t i = 0; i < n; i++) {
            double t = 0;
            for (unsigned j = 0; j < d; j++) t += (double)qv[k * d + j] * x[i * d + j];
            double e = -dist[i] - t;
            pe[i] += e / nq;
            st += t;
            se += e;
        }
    }
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += pe[i] / n;
    for (size_t i = 0; i < n; i++) v += (pe[i] - m) * (pe[i] - m) / (n - 1);
    *z = m / sqrt(v / n);
    free(pe);
    free(dist);
    free(c);
    vq_query_free(qs);
    return se / st;
}

/* Data with a common direction m (like MNIST, whose pixels are all >= 0): unit base vectors
 * normalize(m + 0.7 g) and queries m + 0.7 g', so every pair has <q, x> well away from 0. */
static void clustered_pairs(float *x, size_t n, float *qv, size_t nq, size_t d, uint64_t seed) {
    float *m = malloc(d * sizeof(float));
    tu_fill_normal(m, d, seed);
    tu_normalize(m, 1, d);
    tu_fill_normal(x, n * d, seed + 1);
    tu_fill_normal(qv, nq * d, seed + 2);
    float s = 0.7f / sqrtf((float)d);
    for (size_t i = 0; i < n * d; i++) x[i] = m[i % d] + s * x[i];
    for (size_t i = 0; i < nq * d; i++) qv[i] = m[i % d] + s * qv[i];
    tu_normalize(x, n, d);
    free(m);
}

Test(turbo, plain_tq_shrinks_and_rescale_removes_it) {
    size_t n = 2000, d = 128, nq = 40;
    float *x = malloc(n * d * sizeof(float)), *qv = malloc(nq * d * sizeof(float));
    clustered_pairs(x, n, qv, nq, d, 3);
    for (unsigned b = 1; b <= 4; b++) {
        char spec[48];
        float cb[256], thr[255];
        double mc, z;
        cr_assert_eq(vq__lloyd_sphere((unsigned)d, b, cb, thr, &mc, NULL), VQ_OK);
        snprintf(spec, sizeof spec, "tq:bits=%u", b);
        vq_quant *q = mk(spec, (unsigned)d);
        double rb = ip_bias(q, n, x, nq, qv, &z);
        cr_expect(fabs(rb - (-mc * d)) < 0.01, "%s: relative bias %.4f, expected -D = %.4f", spec,
                  rb, -mc * d);
        vq_quant_free(q);
        snprintf(spec, sizeof spec, "tq:bits=%u,rescale=1", b);
        q = mk(spec, (unsigned)d);
        rb = ip_bias(q, n, x, nq, qv, &z);
        cr_expect(fabs(rb) < 0.25 * mc * d && fabs(rb) < 0.02,
                  "%s: relative bias %.4f (plain %.4f)", spec, rb, -mc * d);
        vq_quant_free(q);
    }
    free(x);
    free(qv);
}

Test(turbo, tq_ip_is_unbiased) {
    /* The estimator is unbiased over the draw of S (and of the rotation): with one seed the
     * errors of all codes share that draw, so the mean is taken over seeds, and its standard
     * error over the per-seed means. */
    size_t n = 400, d = 64, nq = 10, seeds = 24;
    float *x = malloc(n * d * sizeof(float)), *qv = malloc(nq * d * sizeof(float));
    clustered_pairs(x, n, qv, nq, d, 5);
    for (unsigned b = 1; b <= 4; b++) {
        double m = 0, m2 = 0, z;
        for (size_t s = 0; s < seeds; s++) {
            char spec[48];
            snprintf(spec, sizeof spec, "tq-ip:bits=%u,seed=%zu", b, 100 * b + s);
            vq_quant *q = mk(spec, (unsigned)d);
            double rb = ip_bias(q, n, x, nq, qv, &z);
            m += rb / seeds;
            m2 += rb * rb / seeds;
            vq_quant_free(q);
        }
        double se = sqrt((m2 - m * m) / (seeds - 1));
        cr_expect(fabs(m) < 4 * se,
                  "tq-ip:bits=%u: mean relative bias %.5f is %.1f standard errors "
                  "from 0",
                  b, m, m / se);
        cr_expect(fabs(m) < (b == 1 ? 0.08 : 0.02), "tq-ip:bits=%u: mean relative bias %.5f", b, m);
    }
    /* The same check detects the shrinkage of plain tq, so it can fail. */
    double m = 0, m2 = 0, z;
    for (size_t s = 0; s < 8; s++) {
        char spec[48];
        snprintf(spec, sizeof spec, "tq:bits=2,seed=%zu", s);
        vq_quant *q = mk(spec, (unsigned)d);
        double rb = ip_bias(q, n, x, nq, qv, &z);
        m += rb / 8, m2 += rb * rb / 8;
        vq_quant_free(q);
    }
    cr_expect(m < -0.05 && fabs(m) > 10 * sqrt((m2 - m * m) / 7), "plain tq: mean rel bias %.4f",
              m);
    free(x);
    free(qv);
}

/* Scores against the decode-based computation: tq L2 = |q|^2 + |x|^2 - 2<q, x^>, IP =
 * -(w/|x|)<q, x^>; tq-ip IP = -<q, x^> (its decode carries the QJL correction). */
/* Header float k of a code (fp32, or binary16 with norm=16). */
static double hdr(const uint8_t *c, unsigned k, int half) {
    if (half) {
        uint16_t h;
        memcpy(&h, c + 2 * k, 2);
        return vq__f16_to_f32(h);
    }
    float f;
    memcpy(&f, c + 4 * k, 4);
    return f;
}

static void check_scores_isa(vq_quant *q, const char *spec, size_t d, vq_isa isa) {
    size_t n = 150;
    float *x = malloc(n * d * sizeof(float)), *y = malloc(n * d * sizeof(float));
    float *qv = malloc(d * sizeof(float)), dist[150];
    tu_fill_normal(x, n * d, d + 8);
    tu_fill_normal(qv, d, d + 9);
    for (size_t j = 0; j < d; j++) x[j] = 0; /* a zero vector too */
    uint8_t *c = enc(q, n, x);
    cr_assert_eq(vq_quant_decode(q, n, c, y, NULL), VQ_OK);
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
    vq_query_set_isa(qs, isa);
    size_t cs = vq_quant_code_size(q);
    int prod = !strncmp(spec, "tq-ip", 5), resc = strstr(spec, "rescale=1") != NULL;
    for (int m = 0; m < 2; m++) {
        cr_assert_eq(vq_query_prepare(qs, qv, m ? VQ_METRIC_IP : VQ_METRIC_L2, NULL), VQ_OK);
        vq_quant_score(qs, c, n, dist);
        double qn2 = 0;
        for (size_t j = 0; j < d; j++) qn2 += (double)qv[j] * qv[j];
        for (size_t i = 0; i < n; i++) {
            double ip = 0, xn2 = 0, mag = 0;
            for (size_t j = 0; j < d; j++) {
                ip += (double)qv[j] * y[i * d + j];
                mag += fabs((double)qv[j] * y[i * d + j]);
                xn2 += (double)x[i * d + j] * x[i * d + j];
            }
            int half = strstr(spec, "norm=16") != NULL;
            double nrm = hdr(c + i * cs, 0, half), f = 1;
            cr_expect(tu_close(nrm, sqrt(xn2), half ? 1e-3 : 1e-6, sqrt(xn2)),
                      "%s stored norm %g vs %g", spec, nrm, sqrt(xn2));
            if (resc && nrm > 0) f = hdr(c + i * cs, 1, half) / nrm;
            double want = m ? -f * ip : qn2 + nrm * nrm - 2 * f * ip;
            double tol = prod ? 1e-4 : 2e-5;
            cr_expect(tu_close(dist[i], want, tol, m ? f * mag : qn2 + xn2 + 2 * f * mag),
                      "%s d=%zu isa=%d metric=%d row %zu: %.7g vs %.7g", spec, d, isa, m, i,
                      dist[i], want);
            cr_expect_eq(vq_quant_score_one(qs, c + i * cs), dist[i], "%s score_one", spec);
        }
        if (m == 1) cr_expect_eq(dist[0], 0.0f, "%s: zero vector scores 0", spec);
        (void)prod;
    }
    vq_query_free(qs);
    free(c);
    free(x);
    free(y);
    free(qv);
}

static void check_scores(const char *spec, size_t d, const vq_isa *isas, int ni) {
    vq_quant *q = mk(spec, (unsigned)d);
    for (int k = 0; k < ni; k++) check_scores_isa(q, spec, d, isas[k]);
    vq_quant_free(q);
}

Test(turbo, scores_equal_decode_based_computation) {
    const char *specs[] = {"tq:bits=1",           "tq:bits=2",
                           "tq:bits=3",           "tq:bits=4",
                           "tq:bits=5",           "tq:bits=6",
                           "tq:bits=7",           "tq:bits=8",
                           "tq:bits=4,rescale=1", "tq:bits=1,rescale=1,rounds=1",
                           "tq-ip:bits=1",        "tq-ip:bits=3",
                           "tq-ip:bits=8"};
    size_t ds[] = {1, 5, 33, 128, 200};
    vq_isa isas[3] = {VQ_ISA_SCALAR};
    int ni = 1 + tu_isas(isas + 1);
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
        for (size_t t = 0; t < sizeof ds / sizeof *ds; t++) check_scores(specs[s], ds[t], isas, ni);
}

Test(turbo, save_load_round_trip_and_corruption) {
    const char *specs[] = {"tq:bits=3,rescale=1,seed=9,rounds=2", "tq-ip:bits=2,seed=5,rounds=3"};
    size_t n = 64, d = 50;
    float *x = malloc(n * d * sizeof(float));
    tu_fill_normal(x, n * d, 12);
    for (size_t s = 0; s < 2; s++) {
        vq_quant *q = mk(specs[s], (unsigned)d);
        cr_expect(!strncmp(vq_quant_spec(q), specs[s], strlen(specs[s])), "%s", vq_quant_spec(q));
        uint8_t *c = enc(q, n, x), *buf;
        size_t len;
        vq_err err;
        cr_assert_eq(vq_quant_save(q, &buf, &len, &err), VQ_OK);
        vq_quant *q2;
        cr_assert_eq(vq_quant_load(buf, len, &q2, &err), VQ_OK, "%s", err.msg);
        uint8_t *c2 = enc(q2, n, x);
        cr_expect_eq(memcmp(c, c2, n * vq_quant_code_size(q)), 0, "%s: codes differ after load",
                     specs[s]);
        cr_expect_str_eq(vq_quant_spec(q2), vq_quant_spec(q));
        for (size_t i = 0; i < len; i++) {
            buf[i] ^= 0x21;
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, len, &bad, &err), 0, "%s: flipped byte %zu loaded",
                         specs[s], i);
            cr_expect_null(bad);
            buf[i] ^= 0x21;
        }
        for (size_t l = 0; l < len; l++) {
            vq_quant *bad = NULL;
            cr_expect_lt(vq_quant_load(buf, l, &bad, &err), 0, "truncated to %zu", l);
        }
        vq_free(buf);
        free(c);
        free(c2);
        vq_quant_free(q);
        vq_quant_free(q2);
    }
    /* A different seed gives different codes (the seed is really used). */
    vq_quant *a = mk("tq:bits=2,seed=1", (unsigned)d), *b = mk("tq:bits=2,seed=2", (unsigned)d);
    uint8_t *ca = enc(a, n, x), *cb = enc(b, n, x);
    cr_expect_neq(memcmp(ca, cb, n * vq_quant_code_size(a)), 0);
    free(ca);
    free(cb);
    vq_quant_free(a);
    vq_quant_free(b);
    free(x);
}

Test(turbo, bad_specs_and_input_are_rejected) {
    struct {
        const char *spec;
        unsigned d;
        int code;
        const char *field;
    } bad[] = {
        {"tq:bits=0", 16, VQ_ESPEC, "bits"},
        {"tq:bits=9", 16, VQ_ESPEC, "bits"},
        {"tq", 16, VQ_ESPEC, "bits"},
        {"tq:bits=4,rescale=2", 16, VQ_ESPEC, "rescale"},
        {"tq:bits=4,rounds=0", 16, VQ_ESPEC, "rounds"},
        {"tq:bits=4,bogus=1", 16, VQ_ESPEC, "bogus"},
        {"tq:bits=x", 16, VQ_ESPEC, "bits"},
        {"tq-ip:bits=0", 16, VQ_ESPEC, "bits"},
        {"tq-ip:bits=9", 16, VQ_ESPEC, "bits"},
        {"tq-ip:bits=3,rescale=1", 16, VQ_ESPEC, "rescale"},
        {"tq-ip:bits=3", 5000, VQ_EDIM, "dim"},
        {"tq:bits=3,norm=8", 16, VQ_ESPEC, "norm"},
        {"tq-ip:bits=3,norm=24", 16, VQ_ESPEC, "norm"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vq_quant *q = NULL;
        vq_err err = {0};
        cr_expect_eq(vq_quant_new(bad[i].spec, bad[i].d, &q, &err), bad[i].code, "%s", bad[i].spec);
        cr_expect_str_eq(err.field, bad[i].field, "%s: field '%s' (%s)", bad[i].spec, err.field,
                         err.msg);
        cr_expect_null(q);
    }
    vq_quant *q = mk("tq:bits=2", 8);
    float v[8] = {1, 2, 3, 4, 5, 6, 7, NAN};
    uint8_t c[16];
    vq_err err;
    cr_expect_eq(vq_quant_encode(q, 1, v, c, &err), VQ_ENOTFINITE);
    v[7] = 3e38f; /* finite, but the norm overflows fp32 */
    v[6] = 3e38f;
    cr_expect_eq(vq_quant_encode(q, 1, v, c, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "vector");
    vq_quant_free(q);
    /* With norm=16 the limit is binary16's 65504, reported rather than clamped. */
    q = mk("tq:bits=2,norm=16", 8);
    float w[8] = {5e4f, 5e4f, 0, 0, 0, 0, 0, 0};
    cr_expect_eq(vq_quant_encode(q, 1, w, c, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "vector");
    w[1] = 0;
    cr_expect_eq(vq_quant_encode(q, 1, w, c, &err), VQ_OK);
    vq_quant_free(q);
}

Test(turbo, center_scores_equal_decode_based_computation) {
    const char *specs[] = {"tq-ip:bits=3,seed=4,center=1", "tq-ip:bits=1,seed=4,center=1",
                           "tq:bits=3,center=1", "tq-ip:bits=3,seed=4,center=1,norm=16"};
    size_t n = 60, d = 37, nq = 4;
    float *x = malloc(n * d * sizeof(float)), *qv = malloc(nq * d * sizeof(float));
    float *y = malloc(n * d * sizeof(float)), *c = calloc(d, sizeof(float));
    offset_data(x, n, d, 21);
    offset_data(qv, nq, d, 22);
    for (size_t j = 0; j < d; j++) { /* the mean as train computes it */
        double a = 0;
        for (size_t i = 0; i < n; i++) a += x[i * d + j];
        c[j] = (float)(a / (double)n);
    }
    for (size_t s = 0; s < 4; s++) {
        vq_quant *q = mk_center(specs[s], (unsigned)d, n, x);
        int half = strstr(specs[s], "norm=16") != NULL;
        uint8_t *code = enc(q, n, x);
        cr_assert_eq(vq_quant_decode(q, n, code, y, NULL), VQ_OK);
        vq_query *qs;
        cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
        for (size_t k = 0; k < nq; k++) {
            const float *qk = qv + k * d;
            for (int met = 0; met < 2; met++) {
                vq_metric m = met ? VQ_METRIC_L2 : VQ_METRIC_IP;
                cr_assert_eq(vq_query_prepare(qs, qk, m, NULL), VQ_OK);
                for (size_t i = 0; i < n; i++) {
                    const uint8_t *ci = code + i * vq_quant_code_size(q);
                    double ip = 0, qc2 = 0, mag = 0;
                    for (size_t j = 0; j < d; j++) {
                        ip += (double)(qk[j] - c[j]) * (y[i * d + j] - c[j]);
                        qc2 += (double)(qk[j] - c[j]) * (qk[j] - c[j]);
                    }
                    double want;
                    if (m == VQ_METRIC_L2) {
                        double nr = hdr(ci, 0, half);
                        want = qc2 + nr * nr - 2 * ip;
                        mag = qc2 + nr * nr;
                    } else {
                        want = 0;
                        for (size_t j = 0; j < d; j++) want -= (double)qk[j] * y[i * d + j];
                        for (size_t j = 0; j < d; j++) mag += fabs((double)qk[j] * y[i * d + j]);
                    }
                    float got = vq_quant_score_one(qs, ci);
                    cr_expect(fabs(got - want) <= 2e-4 * mag + 1e-4, "%s %s: %zu/%zu %g vs %g",
                              specs[s], met ? "L2" : "IP", k, i, got, want);
                }
            }
        }
        vq_query_free(qs);
        free(code);
        vq_quant_free(q);
    }
    free(x), free(qv), free(y), free(c);
}

Test(turbo, center_save_load_round_trip_and_corruption) {
    size_t n = 50, d = 30;
    float *x = malloc(n * d * sizeof(float));
    offset_data(x, n, d, 31);
    vq_quant *q = mk_center("tq-ip:bits=2,seed=7,center=1", (unsigned)d, n, x);
    cr_expect(strstr(vq_quant_spec(q), "center=1") != NULL, "%s", vq_quant_spec(q));
    uint8_t *c = enc(q, n, x), *buf;
    size_t len;
    vq_err err;
    cr_assert_eq(vq_quant_save(q, &buf, &len, &err), VQ_OK);
    vq_quant *q2;
    cr_assert_eq(vq_quant_load(buf, len, &q2, &err), VQ_OK, "%s", err.msg);
    uint8_t *c2 = enc(q2, n, x);
    cr_expect_eq(memcmp(c, c2, n * vq_quant_code_size(q)), 0, "codes differ after load");
    cr_expect_str_eq(vq_quant_spec(q2), vq_quant_spec(q));
    for (size_t l = 0; l < len; l++) {
        vq_quant *bad = NULL;
        cr_expect_lt(vq_quant_load(buf, l, &bad, &err), 0, "truncated to %zu", l);
    }
    /* A non-finite center with a valid CRC: the body parser itself must reject it. The body
     * ends with the d center floats, just before the CRC. */
    float nan = NAN;
    memcpy(buf + len - 4 - 4 * 3, &nan, 4);
    uint32_t crc = vq__crc32(0, buf, len - 4);
    memcpy(buf + len - 4, &crc, 4);
    vq_quant *bad = NULL;
    cr_expect_eq(vq_quant_load(buf, len, &bad, &err), VQ_ECORRUPT);
    cr_expect_null(bad);
    /* A center=0 save keeps the old state (version 1) and still loads. */
    vq_free(buf);
    vq_quant *p0 = mk("tq-ip:bits=2,seed=7", (unsigned)d);
    cr_assert_eq(vq_quant_save(p0, &buf, &len, &err), VQ_OK);
    vq_quant *p1;
    cr_expect_eq(vq_quant_load(buf, len, &p1, &err), VQ_OK, "center=0 save: %s", err.msg);
    vq_quant_free(p1);
    vq_quant_free(p0);
    vq_free(buf);
    free(c), free(c2), free(x);
    vq_quant_free(q), vq_quant_free(q2);
}

Test(turbo, center_tq_ip_is_unbiased_over_seeds) {
    size_t n = 300, d = 64, nq = 10, seeds = 16;
    float *x = malloc(n * d * sizeof(float)), *qv = malloc(nq * d * sizeof(float));
    clustered_pairs(x, n, qv, nq, d, 6);
    double m = 0, m2 = 0, z;
    for (size_t s = 0; s < seeds; s++) {
        char spec[64];
        snprintf(spec, sizeof spec, "tq-ip:bits=3,seed=%zu,center=1", 500 + s);
        vq_quant *q = mk_center(spec, (unsigned)d, n, x);
        double rb = ip_bias(q, n, x, nq, qv, &z);
        m += rb / seeds, m2 += rb * rb / seeds;
        vq_quant_free(q);
    }
    double se = sqrt((m2 - m * m) / (seeds - 1));
    cr_expect(fabs(m) < 4 * se && fabs(m) < 0.02, "center=1: mean rel bias %.5f (se %.5f)", m, se);
    free(x);
    free(qv);
}
