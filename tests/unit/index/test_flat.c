/* test_flat.c — the flat index and the shared index layer: recall@10 against brute force
 * for f32 and SQ8 codes under L2, IP and COS; exact distances returned; sequential and
 * explicit ids; bad input rejected with errors naming the field. */
#include <criterion/criterion.h>

#include "itest.h"

#define N 5000
#define D 32
#define NQ 100
#define K 10

static void recall_case(const char *spec, vq_metric m, double min_recall) {
    float *x = it_data(N, D, 1), *q = it_data(NQ, D, 2);
    uint64_t *gt = malloc(NQ * K * sizeof *gt);
    it_gt(x, N, NULL, NULL, q, NQ, D, K, m, NULL, NULL, gt);
    double r = it_build_recall(spec, x, N, q, NQ, D, K, m, gt, NULL, NULL);
    printf("flat %-24s %s recall@10 = %.4f\n", spec, vq_metric_name(m), r);
    cr_expect(r >= min_recall, "%s (%s): recall@10 %.4f < %.4f", spec, vq_metric_name(m), r,
              min_recall);
    free(x);
    free(q);
    free(gt);
}

Test(flat, recall_f32_exact) {
    recall_case("flat/f32", VQ_METRIC_L2, 0.999);
    recall_case("flat/f32", VQ_METRIC_IP, 0.999);
    recall_case("flat/f32", VQ_METRIC_COS, 0.999);
}

Test(flat, recall_sq8_fp16) {
    recall_case("flat/sq8", VQ_METRIC_L2, 0.99);
    recall_case("flat/sq8/rerank=1", VQ_METRIC_L2, 0.90);
    recall_case("flat/fp16", VQ_METRIC_COS, 0.99);
    recall_case("flat/sq8", VQ_METRIC_IP, 0.99);
}

Test(flat, distances_are_exact_and_sorted) {
    float *x = it_data(1000, D, 3), *q = it_data(5, D, 4);
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new("flat/sq8/rerank=8", D, VQ_METRIC_L2, &idx, &err), 0, "%s", err.msg);
    cr_assert_eq(vqi_index_add(idx, 1000, x, NULL, &err), 0, "%s", err.msg);
    uint64_t ids[5 * K];
    float dist[5 * K];
    cr_assert_eq(vqi_index_search(idx, 5, q, K, NULL, ids, dist, &err), 0, "%s", err.msg);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < K; j++) {
            float e = it_dist(q + i * D, x + ids[i * K + j] * D, D, VQ_METRIC_L2);
            cr_expect(fabsf(e - dist[i * K + j]) <= 1e-3f * (1 + e), "dist %g vs exact %g",
                      dist[i * K + j], e);
            if (j) cr_expect(dist[i * K + j - 1] <= dist[i * K + j]);
        }
    vqi_stats st;
    cr_assert_eq(vqi_index_stats(idx, &st), 0);
    cr_expect_eq(st.n, 1000);
    cr_expect_eq(st.code_bytes, 1000 * D);
    cr_expect_eq(st.vector_bytes, 1000 * D * 4);
    float v[D];
    cr_assert_eq(vqi_index_get_vector(idx, 17, v, &err), 0);
    cr_expect(memcmp(v, x + 17 * D, sizeof v) == 0);
    cr_expect_eq(vqi_index_get_vector(idx, 5000, v, &err), VQ_ENOTFOUND);
    vqi_index_free(idx);
    free(x);
    free(q);
}

Test(flat, explicit_ids_and_fewer_than_k) {
    float *x = it_data(7, D, 5);
    uint64_t ids[7] = {100, 5, 1ull << 40, 7, 8, 9, 11};
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new("flat/f32", D, VQ_METRIC_L2, &idx, &err), 0);
    cr_assert_eq(vqi_index_add(idx, 7, x, ids, &err), 0, "%s", err.msg);
    uint64_t got[K];
    float dist[K];
    cr_assert_eq(vqi_index_search(idx, 1, x + 2 * D, K, NULL, got, dist, &err), 0);
    cr_expect_eq(got[0], 1ull << 40);
    cr_expect_float_eq(dist[0], 0.0f, 1e-5);
    for (int j = 7; j < K; j++) {
        cr_expect_eq(got[j], VQI_NO_ID);
        cr_expect(isinf(dist[j]));
    }
    /* A live id again, or twice in one batch: rejected, nothing added. */
    cr_expect_eq(vqi_index_add(idx, 1, x, ids, &err), VQ_EEXIST);
    cr_expect_str_eq(err.field, "ids");
    uint64_t dup[2] = {50, 50};
    cr_expect_eq(vqi_index_add(idx, 2, x, dup, &err), VQ_EINVAL);
    cr_expect_eq(vqi_index_size(idx), 7);
    vqi_index_free(idx);
    free(x);
}

Test(flat, bad_input_names_the_field) {
    vqi_index *idx = NULL;
    vq_err err = {0};
    cr_expect_eq(vqi_index_new("flat/sq8", 0, VQ_METRIC_L2, &idx, &err), VQ_EDIM);
    cr_expect_str_eq(err.field, "d");
    cr_expect_eq(vqi_index_new("blob/sq8", 8, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.structure");
    cr_expect_eq(vqi_index_new("flat", 8, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.quant");
    cr_expect_neq(vqi_index_new("flat/nosuchquant", 8, VQ_METRIC_L2, &idx, &err), 0);
    cr_expect(strncmp(err.field, "spec", 4) == 0, "field %s", err.field);
    cr_expect_eq(vqi_index_new("flat/sq8/rerank=0.5", 8, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.rerank");
    cr_expect_eq(vqi_index_new("hnsw:m=1/sq8", 8, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.m");
    cr_expect_eq(vqi_index_new("hnsw:m=8,foo=2/sq8", 8, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.foo");
    cr_expect_eq(vqi_index_new("ivf/sq8", 8, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.nlist");
    cr_expect_eq(vqi_index_new("flat/sq8", 8, (vq_metric)7, &idx, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "metric");

    cr_assert_eq(vqi_index_new("flat/f32", 8, VQ_METRIC_COS, &idx, &err), 0);
    float x[16] = {0};
    for (int i = 8; i < 16; i++) x[i] = 1;
    cr_expect_eq(vqi_index_add(idx, 2, x, NULL, &err), VQ_EINVAL); /* zero vector, COS */
    cr_expect_str_eq(err.field, "x");
    x[0] = NAN;
    cr_expect_eq(vqi_index_add(idx, 2, x, NULL, &err), VQ_ENOTFINITE);
    cr_expect_eq(vqi_index_size(idx), 0);
    cr_assert_eq(vqi_index_add(idx, 1, x + 8, NULL, &err), 0);
    uint64_t id;
    float dd;
    cr_expect_eq(vqi_index_search(idx, 1, x + 8, 0, NULL, &id, &dd, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "k");
    float qn[8] = {1, 1, 1, INFINITY, 1, 1, 1, 1};
    cr_expect_eq(vqi_index_search(idx, 1, qn, 1, NULL, &id, &dd, &err), VQ_ENOTFINITE);
    vqi_search_params sp = vqi_search_params_default();
    sp.rerank = 0.5f;
    cr_expect_eq(vqi_index_search(idx, 1, x + 8, 1, &sp, &id, &dd, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "rerank");
    cr_expect_eq(vqi_index_search(idx, 1, x + 8, 1, NULL, &id, &dd, &err), 0);
    cr_expect_eq(id, 0);
    cr_expect_float_eq(dd, 0.0f, 1e-5);
    vqi_index_free(idx);
    vqi_index_free(NULL);
}
