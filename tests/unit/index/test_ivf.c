/* test_ivf.c — IVF: recall@10 against brute force over f32 and SQ8 codes (and over every
 * residual-coded quantizer this build has: PQ, RaBitQ), nprobe as the recall knob, IP/COS,
 * and the k-means partition covering every vector exactly once. */
#include <criterion/criterion.h>

#include "itest.h"

#define N 6000
#define D 32
#define NQ 100
#define K 10

static double run(const char *spec, vq_metric m, unsigned nprobe, int *ok) {
    float *x = it_data(N, D, 21), *q = it_data(NQ, D, 22);
    uint64_t *gt = malloc(NQ * K * sizeof *gt);
    it_gt(x, N, NULL, NULL, q, NQ, D, K, m, NULL, NULL, gt);
    vqi_search_params sp = vqi_search_params_default();
    sp.nprobe = nprobe;
    double r = it_build_recall(spec, x, N, q, NQ, D, K, m, gt, &sp, NULL);
    printf("ivf %-36s %s nprobe=%u recall@10 = %.4f\n", spec, vq_metric_name(m), nprobe, r);
    *ok = r >= 0;
    free(x);
    free(q);
    free(gt);
    return r;
}

Test(ivf, recall_f32_sq8) {
    int ok;
    double r1 = run("ivf:nlist=32/f32", VQ_METRIC_L2, 1, &ok);
    cr_assert(ok);
    double r8 = run("ivf:nlist=32/f32", VQ_METRIC_L2, 8, &ok);
    cr_expect(r8 >= 0.93, "nprobe=8 recall %.4f", r8);
    cr_expect(r8 > r1, "more probes must help (%.4f vs %.4f)", r8, r1);
    cr_expect(run("ivf:nlist=32/f32", VQ_METRIC_L2, 32, &ok) >= 0.999, "all lists = exact");
    cr_expect(run("ivf:nlist=32,nprobe=8/sq8", VQ_METRIC_L2, 0, &ok) >= 0.93);
    cr_expect(run("ivf:nlist=32/sq8/rerank=2", VQ_METRIC_COS, 8, &ok) >= 0.85);
    /* Inner product on un-normalized clusters: centroid probing favours large norms less
     * than exact MIPS does, so IVF needs more probes for the same recall. */
    cr_expect(run("ivf:nlist=32/f32", VQ_METRIC_IP, 8, &ok) >= 0.80);
    cr_expect(run("ivf:nlist=32/f32", VQ_METRIC_IP, 16, &ok) >= 0.92);
}

Test(ivf, residual_quantizers_when_built) {
    /* Quantizers merged from their branches; each one present must give good recall. */
    const char *specs[] = {
        "ivf:nlist=32/pq:m=8,bits=8/rerank=8", "ivf:nlist=32/pq:m=16,bits=4/rerank=10",
        "ivf:nlist=32/rabitq:bits=4,center=0/rerank=4",
        /* 1 bit on 32 dimensions is coarse: a wider re-rank. */
        "ivf:nlist=32/rabitq:bits=1,center=0/rerank=25", "ivf:nlist=32/tq:bits=4/rerank=4"};
    int tested = 0;
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        vqi_index *idx;
        vq_err err = {0};
        if (vqi_index_new(specs[i], D, VQ_METRIC_L2, &idx, &err)) {
            printf("ivf: %s not in this build (%s: %s)\n", specs[i], err.field, err.msg);
            continue;
        }
        vqi_index_free(idx);
        int ok;
        double r = run(specs[i], VQ_METRIC_L2, 8, &ok);
        cr_expect(r >= 0.90, "%s: recall %.4f", specs[i], r);
        tested++;
    }
    /* sq8 always exists: the loop above must at least have found unknown names cleanly. */
    vqi_index *idx;
    cr_expect_eq(vqi_index_new("ivf:nlist=4/sq8", D, VQ_METRIC_L2, &idx, NULL), 0);
    vqi_index_free(idx);
    printf("ivf: %d residual quantizers tested\n", tested);
}

Test(ivf, train_needs_enough_vectors) {
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new("ivf:nlist=64/f32", D, VQ_METRIC_L2, &idx, &err), 0);
    float *x = it_data(32, D, 23);
    cr_expect_eq(vqi_index_add(idx, 32, x, NULL, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "n");
    cr_expect_eq(vqi_index_size(idx), 0);
    cr_expect_eq(vqi_index_train(idx, 32, x, &err), VQ_EINVAL);
    free(x);
    x = it_data(640, D, 24);
    cr_assert_eq(vqi_index_train(idx, 640, x, &err), 0, "%s", err.msg);
    cr_expect_eq(vqi_index_train(idx, 640, x, &err), VQ_ESTATE);
    cr_assert_eq(vqi_index_add(idx, 640, x, NULL, &err), 0);
    /* Every vector is in exactly one list: an exhaustive probe finds each one itself. */
    vqi_search_params sp = vqi_search_params_default();
    sp.nprobe = 64;
    for (int i = 0; i < 640; i += 37) {
        uint64_t id;
        float dd;
        cr_assert_eq(vqi_index_search(idx, 1, x + (size_t)i * D, 1, &sp, &id, &dd, &err), 0);
        cr_expect_eq(id, (uint64_t)i);
    }
    vqi_stats st;
    vqi_index_stats(idx, &st);
    cr_expect_eq(st.n, 640);
    cr_expect(st.list_bytes >= 64 * D * 4);
    vqi_index_free(idx);
    free(x);
}

Test(ivf, two_level_training_for_large_nlist) {
    /* nlist >= VQI_IVF_TWO_LEVEL_MIN trains sqrt(nlist) top cells, then splits each: the
     * partition must still cover the data (recall climbs with nprobe to exact) and match
     * what flat k-means gives at the same nprobe within a few points. nlist=250 stays below
     * the threshold (flat k-means) and is the reference. */
    int ok;
    double two8 = run("ivf:nlist=256/f32", VQ_METRIC_L2, 8, &ok);
    cr_assert(ok);
    double flat8 = run("ivf:nlist=250/f32", VQ_METRIC_L2, 8, &ok);
    cr_expect(two8 >= flat8 - 0.05, "two-level %.4f vs flat %.4f at nprobe=8", two8, flat8);
    double two32 = run("ivf:nlist=256/f32", VQ_METRIC_L2, 32, &ok);
    cr_expect(two32 > two8, "more probes must help (%.4f vs %.4f)", two32, two8);
    cr_expect(run("ivf:nlist=256/f32", VQ_METRIC_L2, 256, &ok) >= 0.999, "all lists = exact");
    cr_expect(run("ivf:nlist=256/sq8/rerank=2", VQ_METRIC_COS, 32, &ok) >= 0.85);
}
