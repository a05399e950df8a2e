/* test_faiss.c — the FAISS-backed index through the C API: recall@10 of FAISS Flat, HNSW and
 * IVF against brute force, external ids, tombstones and filters applied on top of FAISS,
 * nprobe/efSearch set through search params, and a factory error naming the spec. */
#include <criterion/criterion.h>

#include "itest.h"

#define N 4000
#define D 16
#define NQ 50
#define K 10

static int even(uint64_t id, void *ctx) {
    (void)ctx;
    return id % 2 == 0;
}

static void run(const char *spec, vq_metric m, double min_recall, unsigned nprobe, unsigned ef) {
    float *x = it_data(N, D, 61), *q = it_data(NQ, D, 62);
    uint64_t gt[NQ * K], got[NQ * K];
    float dist[NQ * K];
    it_gt(x, N, NULL, NULL, q, NQ, D, K, m, NULL, NULL, gt);
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new(spec, D, m, &idx, &err), 0, "%s: %s", spec, err.msg);
    cr_assert_eq(vqi_index_add(idx, N, x, NULL, &err), 0, "%s: %s", spec, err.msg);
    vqi_search_params sp = vqi_search_params_default();
    sp.nprobe = nprobe;
    sp.ef = ef;
    cr_assert_eq(vqi_index_search(idx, NQ, q, K, &sp, got, dist, &err), 0, "%s", err.msg);
    double r = it_recall(got, gt, NQ, K);
    printf("faiss %-20s %s recall@10 = %.4f\n", spec, vq_metric_name(m), r);
    cr_expect(r >= min_recall, "%s: recall %.4f", spec, r);
    for (int i = 0; i < K; i++) {
        float e = it_dist(q, x + got[i] * D, D, m);
        cr_expect(fabsf(e - dist[i]) < 1e-3f * (1 + fabsf(e)), "%s: dist %g vs %g", spec, dist[i],
                  e);
    }
    /* Filter through a callback and tombstones, on top of FAISS. */
    uint64_t del[2] = {got[0], got[1]};
    cr_assert_eq(vqi_index_remove(idx, 2, del, NULL, &err), 0);
    sp.filter_fn = even;
    cr_assert_eq(vqi_index_search(idx, NQ, q, K, &sp, got, dist, &err), 0);
    for (int i = 0; i < NQ * K; i++) {
        cr_expect(got[i] != VQI_NO_ID && got[i] % 2 == 0, "%s: id %llu", spec,
                  (unsigned long long)got[i]);
        cr_expect(got[i] != del[0] && got[i] != del[1]);
    }
    cr_expect_eq(vqi_index_compact(idx, &err), VQ_EUNSUPPORTED);
    vqi_stats st;
    vqi_index_stats(idx, &st);
    cr_expect(st.index_bytes > 0);
    cr_expect_eq(st.vector_bytes, 0);
    vqi_index_free(idx);
    free(x);
    free(q);
}

Test(faiss, flat) {
    run("faiss:Flat", VQ_METRIC_L2, 0.999, 0, 0);
    run("faiss:Flat", VQ_METRIC_COS, 0.999, 0, 0);
}
Test(faiss, hnsw) { run("faiss:HNSW16,Flat", VQ_METRIC_L2, 0.95, 0, 64); }
Test(faiss, ivf) { run("faiss:IVF32,Flat", VQ_METRIC_L2, 0.95, 16, 0); }

Test(faiss, bad_factory) {
    vqi_index *idx = NULL;
    vq_err err = {0};
    cr_expect_eq(vqi_index_new("faiss:NoSuchIndex", D, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.structure");
    cr_expect_null(idx);
    cr_expect_eq(vqi_index_new("faiss:Flat/sq8", D, VQ_METRIC_L2, &idx, &err), VQ_ESPEC);
    cr_expect_str_eq(err.field, "spec.quant");
}
