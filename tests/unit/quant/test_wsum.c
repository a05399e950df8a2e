/* vq_quant_decode_wsum: the weighted sum of decoded codes against decode-then-sum (in
 * double) for every quantizer family (tq and tq-ip run their rotated-domain path, the rest
 * the generic one), over dimensions that hit every SIMD tail, several weight rows with a
 * stride, random and adversarial weights (huge, tiny, signed, zero, one-hot) and vectors
 * (huge and zero norms); plus the argument checks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "quant.h"
#include "testutil.h"

typedef enum { W_RANDOM, W_HUGE, W_TINY, W_SIGNED, W_ZERO, W_ONEHOT, W_KINDS } wkind;

static void weights(float *w, size_t nw, size_t n, size_t ldw, wkind k, uint64_t seed) {
    tu_fill_normal(w, nw * ldw, seed);
    for (size_t r = 0; r < nw; r++)
        for (size_t i = 0; i < n; i++) {
            float *x = &w[r * ldw + i];
            switch (k) {
            case W_RANDOM:
                *x = fabsf(*x);
                break;
            case W_HUGE:
                *x *= 1e20f;
                break;
            case W_TINY:
                *x *= 1e-30f;
                break;
            case W_SIGNED:
                break;
            case W_ZERO:
                *x = 0;
                break;
            case W_ONEHOT:
                *x = i == (r * 7) % n ? 1.0f : 0.0f;
                break;
            default:
                break;
            }
        }
}

/* Compares on n vectors of dimension d already in x; returns the worst error / scale. */
static double compare(vq_quant *q, size_t n, const float *x, size_t nw, wkind wk, uint64_t seed) {
    unsigned d = vq_quant_dim(q);
    size_t cs = vq_quant_code_size(q), ldw = n + 3;
    uint8_t *codes = malloc(n * cs);
    float *dec = malloc(n * d * sizeof(float)), *w = malloc(nw * ldw * sizeof(float));
    float *out = malloc(nw * d * sizeof(float));
    cr_assert(codes && dec && w && out);
    cr_assert_eq(vq_quant_encode(q, n, x, codes, NULL), VQ_OK);
    cr_assert_eq(vq_quant_decode(q, n, codes, dec, NULL), VQ_OK);
    weights(w, nw, n, ldw, wk, seed);
    for (size_t i = 0; i < nw * d; i++) out[i] = NAN; /* must be overwritten */
    vq_err e = {0};
    cr_assert_eq(vq_quant_decode_wsum(q, n, codes, nw, w, nw > 1 ? ldw : n, out, &e), VQ_OK, "%s",
                 e.msg);
    double worst = 0;
    for (size_t r = 0; r < nw; r++) {
        /* Rotations mix coordinates, so the error of one coordinate scales with the norm
         * of the terms, not with the coordinate's own terms. */
        double scale = 0;
        for (size_t i = 0; i < n; i++) {
            double nn = 0;
            for (unsigned j = 0; j < d; j++) nn += (double)dec[i * d + j] * dec[i * d + j];
            scale += fabs((double)w[r * ldw + i]) * sqrt(nn);
        }
        for (unsigned j = 0; j < d; j++) {
            double want = 0;
            for (size_t i = 0; i < n; i++) want += (double)w[r * ldw + i] * dec[i * d + j];
            double err = fabs(out[r * d + j] - want);
            cr_assert(isfinite(out[r * d + j]), "%s d=%u n=%zu row %zu j=%u: not finite",
                      vq_quant_spec(q), d, n, r, j);
            double rel = scale > 0 ? err / scale : err;
            if (scale == 0) cr_assert_eq(out[r * d + j], 0.0f);
            if (rel > worst) worst = rel;
        }
    }
    free(codes);
    free(dec);
    free(w);
    free(out);
    return worst;
}

static void run_spec(const char *spec, unsigned d, double tol) {
    size_t ntrain = 300, ns[] = {1, 7, 33, 100};
    float *x = malloc(ntrain * d * sizeof(float));
    cr_assert(x);
    tu_fill_normal(x, ntrain * d, d * 7 + strlen(spec));
    for (size_t i = 0; i < ntrain * d; i++) x[i] += 0.3f; /* a mean for center=1 */
    vq_quant *q = NULL;
    vq_err e = {0};
    cr_assert_eq(vq_quant_new(spec, d, &q, &e), VQ_OK, "%s: %s", spec, e.msg);
    cr_assert_eq(vq_quant_train(q, ntrain, x, &e), VQ_OK, "%s: %s", spec, e.msg);
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++)
        for (size_t nw = 1; nw <= 3; nw += 2)
            for (int wk = 0; wk < W_KINDS; wk++) {
                double r = compare(q, ns[k], x, nw, (wkind)wk, d + k * 10 + nw + 100 * wk);
                cr_expect(r <= tol, "%s d=%u n=%zu nw=%zu weights %d: error %.3g of scale > %.3g",
                          spec, d, ns[k], nw, wk, r, tol);
            }
    /* Adversarial vectors: huge and zero norms among ordinary ones. */
    for (unsigned j = 0; j < d; j++) x[j] *= 1e15f, x[d + j] = 0.0f;
    if (!strstr(spec, "norm=16") && !strstr(spec, "sq8") && !strstr(spec, "pq") &&
        !strstr(spec, "fp16")) { /* formats with a bounded range reject or clip 1e15 */
        double r = compare(q, 20, x, 3, W_SIGNED, d);
        cr_expect(r <= tol, "%s d=%u huge/zero vectors: error %.3g of scale", spec, d, r);
    }
    vq_quant_free(q);
    free(x);
}

Test(wsum, tq_rotated_domain_matches_decode_then_sum) {
    static const char *specs[] = {"tq:bits=1",
                                  "tq:bits=2",
                                  "tq:bits=3",
                                  "tq:bits=4",
                                  "tq:bits=5",
                                  "tq:bits=6",
                                  "tq:bits=7",
                                  "tq:bits=8",
                                  "tq:bits=4,rescale=1",
                                  "tq:bits=3,center=1",
                                  "tq:bits=4,norm=16,center=1",
                                  "tq:bits=3,hi=1",
                                  "tq:bits=1,hi=1,rescale=1"};
    unsigned ds[] = {1, 2, 5, 16, 17, 33, 64, 67, 130};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
        for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) run_spec(specs[s], ds[k], 2e-5);
}

Test(wsum, tq_ip_rotated_domain_matches_decode_then_sum) {
    static const char *specs[] = {"tq-ip:bits=1", "tq-ip:bits=2", "tq-ip:bits=3", "tq-ip:bits=4",
                                  "tq-ip:bits=3,center=0"};
    unsigned ds[] = {1, 3, 16, 17, 64, 67};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
        for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) run_spec(specs[s], ds[k], 2e-5);
}

Test(wsum, generic_path_matches_decode_then_sum) {
    static const char *specs[] = {"f32", "fp16", "sq8", "bf16"};
    unsigned ds[] = {1, 16, 67};
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++)
        for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) run_spec(specs[s], ds[k], 1e-5);
    run_spec("pq:m=8,bits=4", 16, 1e-5);
    run_spec("pq:m=4,bits=8", 64, 1e-5);
}

Test(wsum, argument_checks) {
    vq_quant *q = NULL, *u = NULL;
    cr_assert_eq(vq_quant_new("tq:bits=3", 8, &q, NULL), VQ_OK);
    float x[2 * 8], w[4] = {1, 2, 3, 4}, out[2 * 8];
    uint8_t codes[2 * 64];
    tu_fill_normal(x, 16, 5);
    cr_assert_eq(vq_quant_encode(q, 2, x, codes, NULL), VQ_OK);
    vq_err e = {0};
    cr_expect_eq(vq_quant_decode_wsum(q, 2, codes, 2, w, 1, out, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "ldw");
    w[1] = NAN;
    cr_expect_eq(vq_quant_decode_wsum(q, 2, codes, 1, w, 2, out, &e), VQ_ENOTFINITE);
    w[1] = INFINITY;
    cr_expect_eq(vq_quant_decode_wsum(q, 2, codes, 1, w, 2, out, &e), VQ_ENOTFINITE);
    cr_expect_eq(vq_quant_decode_wsum(q, 2, NULL, 1, w, 2, out, &e), VQ_EINVAL);
    for (int i = 0; i < 16; i++) out[i] = NAN;
    cr_expect_eq(vq_quant_decode_wsum(q, 0, codes, 2, w, 0, out, &e), VQ_OK);
    for (int i = 0; i < 16; i++) cr_expect_eq(out[i], 0.0f, "n = 0 gives zeros");
    cr_expect_eq(vq_quant_decode_wsum(q, 2, codes, 0, w, 0, NULL, &e), VQ_OK);
    cr_assert_eq(vq_quant_new("sq8", 8, &u, NULL), VQ_OK);
    w[1] = 1;
    cr_expect_eq(vq_quant_decode_wsum(u, 2, codes, 1, w, 2, out, &e), VQ_ESTATE);
    vq_quant_free(u);
    vq_quant_free(q);
}

/* tq hi=K: K rotated coordinates at bits+1. Code size, scores against the decoded vectors,
 * MSE between the two integer widths, save/load, and the spec checks. */
Test(wsum, tq_hi_split) {
    enum { N = 400 };
    unsigned ds[] = {16, 17, 64, 67};
    for (size_t k = 0; k < sizeof ds / sizeof *ds; k++) {
        unsigned d = ds[k];
        float *x = malloc((size_t)N * d * sizeof(float)),
              *y = malloc((size_t)N * d * sizeof(float));
        uint8_t *c = malloc((size_t)N * (8 + d));
        cr_assert(x && y && c);
        tu_fill_normal(x, (size_t)N * d, d);
        double mse[3];
        const unsigned his[3] = {0, d / 2, 0};
        for (int v = 0; v < 3; v++) {
            char spec[64];
            snprintf(spec, sizeof spec, "tq:bits=%u%s%u", v == 2 ? 4 : 3,
                     his[v] ? ",hi=" : ",seed=", his[v] ? his[v] : 42);
            vq_quant *q;
            vq_err e = {0};
            cr_assert_eq(vq_quant_new(spec, d, &q, &e), VQ_OK, "%s: %s", spec, e.msg);
            size_t want = 4 + (v == 1 ? (his[v] * 4 + 7) / 8 + ((d - his[v]) * 3 + 7) / 8
                                      : ((size_t)d * (v == 2 ? 4 : 3) + 7) / 8);
            cr_assert_eq(vq_quant_code_size(q), want, "%s: code %zu bytes", spec,
                         vq_quant_code_size(q));
            cr_assert_eq(vq_quant_encode(q, N, x, c, NULL), VQ_OK);
            cr_assert_eq(vq_quant_decode(q, N, c, y, NULL), VQ_OK);
            double num = 0, den = 0;
            for (size_t i = 0; i < (size_t)N * d; i++)
                num += (double)(x[i] - y[i]) * (x[i] - y[i]), den += (double)x[i] * x[i];
            mse[v] = num / den;
            /* The IP score is -<q, x^> exactly (plain tq): scores and decode agree. */
            vq_query *qs;
            cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
            cr_assert_eq(vq_query_prepare(qs, x + d, VQ_METRIC_IP, NULL), VQ_OK);
            for (size_t i = 0; i < 20; i++) {
                double ip = 0, mag = 0;
                for (unsigned j = 0; j < d; j++)
                    ip += (double)x[d + j] * y[i * d + j],
                        mag += fabs((double)x[d + j] * y[i * d + j]);
                float sc = vq_quant_score_one(qs, c + i * vq_quant_code_size(q));
                cr_expect(fabs(sc + ip) <= 1e-5 * mag + 1e-6, "%s vector %zu: %g vs %g", spec, i,
                          sc, -ip);
            }
            vq_query_free(qs);
            if (v == 1) { /* save/load keeps hi */
                uint8_t *buf;
                size_t len;
                vq_quant *l;
                cr_assert_eq(vq_quant_save(q, &buf, &len, NULL), VQ_OK);
                cr_assert_eq(vq_quant_load(buf, len, &l, NULL), VQ_OK);
                cr_expect_str_eq(vq_quant_spec(l), vq_quant_spec(q));
                float z[67];
                cr_assert_eq(vq_quant_decode(l, 1, c, z, NULL), VQ_OK);
                cr_expect(!memcmp(z, y, d * sizeof(float)), "%s: loaded decode differs", spec);
                vq_quant_free(l);
                vq_free(buf);
            }
            vq_quant_free(q);
        }
        cr_expect(mse[1] < mse[0] && mse[1] > mse[2], "d=%u: mse 3 bits %g, 3.5 %g, 4 %g", d,
                  mse[0], mse[1], mse[2]);
        free(x);
        free(y);
        free(c);
    }
    vq_quant *q = NULL;
    vq_err e = {0};
    cr_expect_eq(vq_quant_new("tq:bits=8,hi=3", 16, &q, &e), VQ_ESPEC);
    cr_expect_eq(vq_quant_new("tq:bits=3,hi=17", 16, &q, &e), VQ_ESPEC);
    cr_expect_eq(vq_quant_new("tq-ip:bits=3,hi=4", 16, &q, &e), VQ_ESPEC);
    cr_expect_eq(vq_quant_new("tq:bits=3,hi=16", 16, &q, &e), VQ_OK);
    vq_quant_free(q);
    run_spec("tq:bits=4,hi=40", 64, 2e-5);
    run_spec("tq:bits=2,hi=67,center=1", 67, 2e-5);
    run_spec("tq:bits=7,hi=33,norm=16", 33, 2e-5);
}
