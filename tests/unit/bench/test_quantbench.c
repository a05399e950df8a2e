/* bench/quantbench.c: the inner-product statistics on a hand-computed example, the figures
 * of exact and near-exact quantizers, the JSON row, timing helpers and bad input. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../quant/testutil.h"
#include "gen.h"
#include "quantbench.h"

/* 3 base vectors, 2 queries. Errors e = est - true: q0 (0.5, 0, -1), q1 (0, 1, 0).
 * bias = 0.5 / 6; mean true = 7 / 6; rel_bias = 0.5 / 7; rel_err = 2.5 / 9;
 * per-base means m = (0.25, 0.5, -0.5); sum (m - bias)^2 = 1/36 + 25/144 + 49/144 = 13/24;
 * se = sqrt(13/24 / (2 * 3)) = sqrt(13) / 12. */
Test(quantbench, ip_stats_hand_example) {
    vq_qb_ipacc a;
    vq_err err;
    cr_assert_eq(vq_qb_ipacc_init(&a, 3, &err), VQ_OK);
    const float t0[3] = {1, 2, 3}, e0[3] = {1.5f, 2, 2};
    const float t1[3] = {2, 0, -1}, e1[3] = {2, 1, -1};
    vq_qb_ipacc_add(&a, e0, t0);
    vq_qb_ipacc_add(&a, e1, t1);
    vq_qb_row row;
    vq_qb_row_init(&row, "hand", 2, 3);
    vq_qb_ipacc_finish(&a, &row);
    cr_expect(fabs(row.ip_bias - 0.5 / 6) < 1e-12, "bias %g", row.ip_bias);
    cr_expect(fabs(row.ip_rel_bias - 0.5 / 7) < 1e-12, "rel bias %g", row.ip_rel_bias);
    cr_expect(fabs(row.ip_rel_err - 2.5 / 9) < 1e-12, "rel err %g", row.ip_rel_err);
    cr_expect(fabs(row.ip_bias_se - sqrt(13.0) / 12) < 1e-12, "se %g", row.ip_bias_se);
    vq_qb_ipacc_free(&a);
    /* One base vector has no spread to estimate: the standard error is NaN, not 0. */
    cr_assert_eq(vq_qb_ipacc_init(&a, 1, &err), VQ_OK);
    vq_qb_ipacc_add(&a, e0, t0);
    vq_qb_row_init(&row, "one", 2, 1);
    vq_qb_ipacc_finish(&a, &row);
    cr_expect(isnan(row.ip_bias_se));
    cr_expect(fabs(row.ip_bias - 0.5) < 1e-12);
    vq_qb_ipacc_free(&a);
    cr_expect_eq(vq_qb_ipacc_init(&a, 0, &err), VQ_EINVAL);
}

static float *data_set(size_t n, size_t d, unsigned stream) {
    vq_gen_params p = vq_gen_params_default();
    p.d = (unsigned)d, p.clusters = 8, p.normalize = 0, p.seed = 7, p.stream = stream;
    vq_gen *g;
    cr_assert_eq(vq_gen_new(&p, &g, NULL), VQ_OK);
    float *x = malloc(n * d * 4);
    vq_gen_rows(g, 0, n, x);
    vq_gen_free(g);
    return x;
}

static vq_qb_params fast_params(unsigned threads) {
    vq_qb_params p = vq_qb_params_default();
    p.repeats = 1, p.min_sample_s = 0.0, p.budget_s = 1.0, p.threads = threads;
    return p;
}

Test(quantbench, exact_and_scalar_quantizers) {
    size_t n = 2000, nq = 20, d = 40;
    float *xb = data_set(n, d, 0), *xq = data_set(nq, d, 1);
    vq_qb_data data = {xb, n, xq, nq, d};
    vq_qb_params p = fast_params(1);
    vq_qb_row r;
    vq_err err;
    /* f32: the estimate is the same kernel call as the truth, so every error is exactly 0. */
    cr_assert_eq(vq_qb_quant("f32", &data, &p, &r, &err), VQ_OK, "%s", err.msg);
    cr_expect_eq(r.mse_rel, 0.0);
    cr_expect_eq(r.ip_bias, 0.0);
    cr_expect_eq(r.ip_rel_err, 0.0);
    cr_expect_eq(r.ip_bias_se, 0.0);
    cr_expect_eq(r.bytes_per_vector, 4.0 * d);
    cr_expect(r.d == d && r.n == n);
    cr_expect_str_eq(r.spec, "f32");
    cr_expect(r.encode_vec_per_s > 0 && r.scan_codes_per_s > 0 && r.scalar_scan_codes_per_s > 0);
    cr_expect(fabs(r.scan_gbps - r.scan_codes_per_s * 4.0 * d * 1e-9) < 1e-6 * r.scan_gbps);
    cr_expect(r.train_s >= 0);
    /* fp16: 11-bit mantissa, relative error ~2^-12 per value. */
    cr_assert_eq(vq_qb_quant("fp16", &data, &p, &r, &err), VQ_OK, "%s", err.msg);
    cr_expect(r.mse_rel > 0 && r.mse_rel < 1e-6, "fp16 mse_rel %g", r.mse_rel);
    cr_expect(fabs(r.ip_rel_bias) < 1e-4, "fp16 ip_rel_bias %g", r.ip_rel_bias);
    cr_expect(r.ip_rel_err < 1e-3);
    /* sq8: small positive distortion; the bias is within a few standard errors of 0. */
    cr_assert_eq(vq_qb_quant("sq8", &data, &p, &r, &err), VQ_OK, "%s", err.msg);
    cr_expect(r.mse_rel > 1e-7 && r.mse_rel < 1e-3, "sq8 mse_rel %g", r.mse_rel);
    cr_expect(r.ip_bias_se > 0);
    cr_expect(fabs(r.ip_bias) < 6 * r.ip_bias_se + 1e-6, "sq8 bias %g se %g", r.ip_bias,
              r.ip_bias_se);
    /* More threads: the same quality figures, bit for bit. */
    vq_qb_row r2;
    vq_qb_params p2 = fast_params(3);
    cr_assert_eq(vq_qb_quant("sq8", &data, &p2, &r2, &err), VQ_OK, "%s", err.msg);
    cr_expect_eq(r.mse_rel, r2.mse_rel);
    cr_expect_eq(r.ip_bias, r2.ip_bias);
    cr_expect_eq(r.ip_bias_se, r2.ip_bias_se);
    free(xb);
    free(xq);
}

Test(quantbench, bad_input) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    vq_qb_data data = {x, 2, x, 2, 4};
    vq_qb_params p = fast_params(1);
    vq_qb_row r;
    vq_err err;
    cr_expect_eq(vq_qb_quant("nope:x=1", &data, &p, &r, &err), VQ_ESPEC);
    cr_expect_eq(vq_qb_quant("sq8:bits=3", &data, &p, &r, &err), VQ_ESPEC);
    p.threads = 0;
    cr_expect_eq(vq_qb_quant("f32", &data, &p, &r, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "threads");
    p.threads = 1;
    p.metric = VQ_METRIC_COS;
    cr_expect_eq(vq_qb_quant("f32", &data, &p, &r, &err), VQ_EINVAL);
    p.metric = VQ_METRIC_L2;
    data.nq = 0;
    cr_expect_eq(vq_qb_quant("f32", &data, &p, &r, &err), VQ_EINVAL);
    data.nq = 2, data.n = 0;
    cr_expect_eq(vq_qb_quant("f32", &data, &p, &r, &err), VQ_EINVAL);
}

Test(quantbench, json_row_has_exactly_the_fields) {
    vq_qb_row r;
    vq_qb_row_init(&r, "pq:m=16,bits=8", 128, 1000);
    r.mse_rel = 0.25;
    r.scan_codes_per_s = INFINITY; /* not finite: printed as null like NaN */
    char *s = vq_qb_row_json(&r);
    cr_assert(s);
    cJSON *o = cJSON_Parse(s);
    cr_assert(o, "invalid JSON: %s", s);
    static const char *keys[] = {"spec",
                                 "d",
                                 "n",
                                 "bytes_per_vector",
                                 "mse_rel",
                                 "ip_rel_err",
                                 "ip_bias",
                                 "ip_rel_bias",
                                 "ip_bias_se",
                                 "train_s",
                                 "encode_vec_per_s",
                                 "scan_codes_per_s",
                                 "scan_gbps",
                                 "scalar_scan_codes_per_s"};
    cr_expect_eq(cJSON_GetArraySize(o), 14);
    for (size_t i = 0; i < 14; i++) cr_expect(cJSON_GetObjectItem(o, keys[i]), "%s", keys[i]);
    cr_expect_str_eq(cJSON_GetObjectItem(o, "spec")->valuestring, "pq:m=16,bits=8");
    cr_expect_eq(cJSON_GetObjectItem(o, "d")->valuedouble, 128);
    cr_expect_eq(cJSON_GetObjectItem(o, "mse_rel")->valuedouble, 0.25);
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(o, "ip_bias")));
    cr_expect(cJSON_IsNull(cJSON_GetObjectItem(o, "scan_codes_per_s")));
    cJSON_Delete(o);
    free(s);
}

static int g_calls;
static void count_call(void *ctx) {
    (void)ctx;
    g_calls++;
}

Test(quantbench, timing_runs_warmup_and_repeats) {
    vq_qb_params p = vq_qb_params_default();
    p.repeats = 5, p.min_sample_s = 0.0, p.budget_s = 100;
    g_calls = 0;
    double t = vq_qb_time(count_call, NULL, &p);
    cr_expect(t >= 0);
    cr_expect_eq(g_calls, 6, "one warm-up and five samples, got %d calls", g_calls);
    /* A sample lasts at least min_sample_s: many calls of a near-empty function. */
    p.repeats = 1, p.min_sample_s = 0.002;
    g_calls = 0;
    vq_qb_time(count_call, NULL, &p);
    cr_expect(g_calls > 10);
}
