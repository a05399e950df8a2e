/* test_filter.c — filtered search on 20,000 vectors: for flat, IVF and HNSW, with a CRoaring
 * bitmap at selectivities 50%, 1% and 0.1% and with a callback, results contain only
 * allowed ids, exactly k come back whenever at least k are allowed, and recall@10 against
 * the filtered brute force stays high. */
#include <criterion/criterion.h>

#include "itest.h"

#define N 20000
#define D 16
#define NQ 30
#define K 10

static float *X, *Q;

static void setup(void) {
    X = it_data(N, D, 31);
    Q = it_data(NQ, D, 32);
}
static void teardown(void) {
    free(X);
    free(Q);
}

static int in_bm(uint64_t id, void *ctx) {
    return id <= UINT32_MAX && roaring_bitmap_contains(ctx, (uint32_t)id);
}
static int odd_thirds(uint64_t id, void *ctx) {
    (void)ctx;
    return id % 3 == 1;
}

static void check(vqi_index *idx, const char *name, double sel, double min_recall) {
    /* Allowed set: a seeded sample of ids (ids are 10 * row + 3: not the slots). */
    roaring_bitmap_t *bm = roaring_bitmap_create();
    uint64_t s = 99 + (uint64_t)(sel * 1e6);
    size_t allowed = 0;
    for (size_t i = 0; i < N; i++)
        if (it_uniform(&s) < sel) {
            roaring_bitmap_add(bm, (uint32_t)(10 * i + 3));
            allowed++;
        }
    uint64_t *ids = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++) ids[i] = 10 * i + 3;
    uint64_t gt[NQ * K], got[NQ * K];
    float dist[NQ * K];
    it_gt(X, N, ids, NULL, Q, NQ, D, K, vqi_index_metric(idx), in_bm, bm, gt);
    vqi_search_params sp = vqi_search_params_default();
    sp.filter_bitmap = bm;
    vq_err err = {0};
    cr_assert_eq(vqi_index_search(idx, NQ, Q, K, &sp, got, dist, &err), 0, "%s", err.msg);
    size_t expect_n = allowed < K ? allowed : K;
    for (int qi = 0; qi < NQ; qi++) {
        size_t n = 0;
        for (int j = 0; j < K; j++) {
            uint64_t id = got[qi * K + j];
            if (id == VQI_NO_ID) continue;
            n++;
            cr_expect(in_bm(id, bm), "%s sel %g: id %llu not allowed", name, sel,
                      (unsigned long long)id);
        }
        cr_expect_eq(n, expect_n, "%s sel %g: %zu results, expected %zu", name, sel, n, expect_n);
    }
    double r = it_recall(got, gt, NQ, K);
    printf("filter %-28s sel %6.3f%% (%zu allowed) recall@10 = %.4f\n", name, sel * 100, allowed,
           r);
    cr_expect(r >= min_recall, "%s sel %g: recall %.4f < %.4f", name, sel, r, min_recall);
    free(ids);
    roaring_bitmap_free(bm);
}

static vqi_index *build(const char *spec) {
    vqi_index *idx;
    vq_err err = {0};
    vqi_params p = vqi_params_default();
    p.threads = 2;
    cr_assert_eq(vqi_index_new_params(spec, D, VQ_METRIC_L2, &p, &idx, &err), 0, "%s", err.msg);
    uint64_t *ids = malloc(N * sizeof *ids);
    for (size_t i = 0; i < N; i++) ids[i] = 10 * i + 3;
    cr_assert_eq(vqi_index_add(idx, N, X, ids, &err), 0, "%s", err.msg);
    free(ids);
    return idx;
}

static void all_selectivities(const char *spec) {
    vqi_index *idx = build(spec);
    check(idx, spec, 0.5, 0.93);
    check(idx, spec, 0.05, 0.93); /* traversal / widened probes */
    check(idx, spec, 0.01, 0.93);
    check(idx, spec, 0.001, 0.999);  /* 20 allowed: scanned exactly */
    check(idx, spec, 0.0002, 0.999); /* 4 allowed: fewer than k */
    vqi_index_free(idx);
}

TestSuite(filter, .init = setup, .fini = teardown);

Test(filter, flat) { all_selectivities("flat/sq8"); }
Test(filter, ivf) { all_selectivities("ivf:nlist=64,nprobe=8/sq8"); }
Test(filter, hnsw) { all_selectivities("hnsw:m=12,efc=60,ef=64/sq8"); }

Test(filter, callback_and_bitmap_together) {
    vqi_index *idx = build("hnsw:m=12,efc=60,ef=64/sq8");
    roaring_bitmap_t *bm = roaring_bitmap_create();
    for (size_t i = 0; i < N; i += 2) roaring_bitmap_add(bm, (uint32_t)(10 * i + 3));
    vqi_search_params sp = vqi_search_params_default();
    sp.filter_bitmap = bm;
    sp.filter_fn = odd_thirds;
    uint64_t got[NQ * K];
    float dist[NQ * K];
    vq_err err = {0};
    cr_assert_eq(vqi_index_search(idx, NQ, Q, K, &sp, got, dist, &err), 0);
    for (int i = 0; i < NQ * K; i++) {
        cr_expect_neq(got[i], VQI_NO_ID);
        cr_expect(got[i] % 3 == 1 && in_bm(got[i], bm), "id %llu", (unsigned long long)got[i]);
    }
    /* Callback only, no cardinality estimate: traversal still returns k allowed ids. */
    sp.filter_bitmap = NULL;
    cr_assert_eq(vqi_index_search(idx, NQ, Q, K, &sp, got, dist, &err), 0);
    for (int i = 0; i < NQ * K; i++) cr_expect(got[i] != VQI_NO_ID && got[i] % 3 == 1);
    roaring_bitmap_free(bm);
    vqi_index_free(idx);
}
