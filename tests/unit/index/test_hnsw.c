/* test_hnsw.c — HNSW: recall@10 against brute force over f32 and SQ8 codes (single- and
 * multi-threaded builds), incremental adds after searches, the ef knob, and searches that
 * run concurrently with an add (many readers, one writer). */
#include <criterion/criterion.h>
#include <pthread.h>

#include "itest.h"

#define N 5000
#define D 32
#define NQ 100
#define K 10

static void recall_case(const char *spec, vq_metric m, unsigned threads, double min_recall) {
    float *x = it_data(N, D, 11), *q = it_data(NQ, D, 12);
    uint64_t *gt = malloc(NQ * K * sizeof *gt);
    it_gt(x, N, NULL, NULL, q, NQ, D, K, m, NULL, NULL, gt);
    vqi_params p = vqi_params_default();
    p.threads = threads;
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new_params(spec, D, m, &p, &idx, &err), 0, "%s", err.msg);
    cr_assert_eq(vqi_index_add(idx, N, x, NULL, &err), 0, "%s", err.msg);
    uint64_t *got = malloc(NQ * K * sizeof *got);
    float *dist = malloc(NQ * K * sizeof *dist);
    cr_assert_eq(vqi_index_search(idx, NQ, q, K, NULL, got, dist, &err), 0, "%s", err.msg);
    double r = it_recall(got, gt, NQ, K);
    printf("hnsw %-32s %s threads=%u recall@10 = %.4f\n", spec, vq_metric_name(m), threads, r);
    cr_expect(r >= min_recall, "%s: recall %.4f < %.4f", spec, r, min_recall);
    /* A larger ef never hurts much and must reach near-exact recall. */
    vqi_search_params sp = vqi_search_params_default();
    sp.ef = 200;
    cr_assert_eq(vqi_index_search(idx, NQ, q, K, &sp, got, dist, &err), 0);
    double r2 = it_recall(got, gt, NQ, K);
    cr_expect(r2 >= 0.95 && r2 >= r - 0.005, "%s ef=200: recall %.4f (ef=64: %.4f)", spec, r2, r);
    vqi_stats st;
    vqi_index_stats(idx, &st);
    cr_expect_eq(st.n, N);
    cr_expect(st.graph_bytes > 0 && st.code_bytes > 0);
    vqi_index_free(idx);
    free(got);
    free(dist);
    free(x);
    free(q);
    free(gt);
}

Test(hnsw, recall_f32) { recall_case("hnsw:m=16,efc=100,ef=64/f32", VQ_METRIC_L2, 1, 0.95); }
Test(hnsw, recall_sq8_rerank) {
    recall_case("hnsw:m=16,efc=100,ef=64/sq8/rerank=4", VQ_METRIC_L2, 1, 0.95);
}
Test(hnsw, recall_sq8_cos_two_threads) {
    recall_case("hnsw:m=12,efc=80,ef=64/sq8", VQ_METRIC_COS, 2, 0.93);
}
Test(hnsw, recall_fp16_ip_four_threads) {
    recall_case("hnsw:m=16,efc=80,ef=64/fp16", VQ_METRIC_IP, 4, 0.90);
}

Test(hnsw, incremental_adds) {
    float *x = it_data(N, D, 13), *q = it_data(NQ, D, 14);
    uint64_t *gt = malloc(NQ * K * sizeof *gt);
    it_gt(x, N, NULL, NULL, q, NQ, D, K, VQ_METRIC_L2, NULL, NULL, gt);
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new("hnsw:m=16,efc=100/sq8", D, VQ_METRIC_L2, &idx, &err), 0);
    uint64_t *got = malloc(NQ * K * sizeof *got);
    float *dist = malloc(NQ * K * sizeof *dist);
    /* Five batches with searches in between; sq8 trains on the first batch. */
    for (int b = 0; b < 5; b++) {
        cr_assert_eq(vqi_index_add(idx, N / 5, x + (size_t)b * (N / 5) * D, NULL, &err), 0, "%s",
                     err.msg);
        cr_assert_eq(vqi_index_search(idx, NQ, q, K, NULL, got, dist, &err), 0);
        for (int i = 0; i < NQ * K; i++) cr_assert(got[i] < (uint64_t)(b + 1) * (N / 5));
    }
    double r = it_recall(got, gt, NQ, K);
    printf("hnsw incremental recall@10 = %.4f\n", r);
    cr_expect(r >= 0.95, "recall %.4f", r);
    vqi_index_free(idx);
    free(got);
    free(dist);
    free(x);
    free(q);
    free(gt);
}

typedef struct reader {
    vqi_index *idx;
    const float *q;
    volatile int *stop;
    int bad, searches;
} reader;

static void *read_loop(void *p) {
    reader *r = p;
    vqi_searcher *s;
    if (vqi_searcher_new(r->idx, &s, NULL)) {
        r->bad++;
        return NULL;
    }
    uint64_t ids[K];
    float dist[K];
    while (!*r->stop) {
        size_t before = vqi_index_size(r->idx);
        vq_err err = {0};
        if (vqi_searcher_search(s, 1, r->q + (r->searches % NQ) * D, K, NULL, ids, dist, &err)) {
            r->bad++;
            break;
        }
        /* Every result is a real id added so far, distances ascending. */
        for (int j = 0; j < K; j++) {
            if (before >= K && ids[j] == VQI_NO_ID) r->bad++;
            if (ids[j] != VQI_NO_ID && ids[j] >= (uint64_t)N) r->bad++;
            if (j && dist[j] < dist[j - 1]) r->bad++;
        }
        r->searches++;
    }
    vqi_searcher_free(s);
    return NULL;
}

Test(hnsw, searches_during_add) {
    float *x = it_data(N, D, 15), *q = it_data(NQ, D, 16);
    vqi_params p = vqi_params_default();
    p.threads = 2;
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new_params("hnsw:m=8,efc=40/sq8", D, VQ_METRIC_L2, &p, &idx, &err), 0);
    cr_assert_eq(vqi_index_add(idx, 500, x, NULL, &err), 0);
    volatile int stop = 0;
    reader r[3];
    pthread_t th[3];
    for (int t = 0; t < 3; t++) {
        r[t] = (reader){idx, q, &stop, 0, 0};
        pthread_create(&th[t], NULL, read_loop, &r[t]);
    }
    for (size_t off = 500; off < N; off += 900) {
        size_t c = N - off < 900 ? N - off : 900;
        cr_assert_eq(vqi_index_add(idx, c, x + off * D, NULL, &err), 0, "%s", err.msg);
    }
    stop = 1;
    int total = 0;
    for (int t = 0; t < 3; t++) {
        pthread_join(th[t], NULL);
        cr_expect_eq(r[t].bad, 0, "reader %d saw %d bad results", t, r[t].bad);
        total += r[t].searches;
    }
    printf("hnsw: %d searches ran during the adds\n", total);
    cr_expect(total > 0);
    cr_expect_eq(vqi_index_size(idx), N);
    vqi_index_free(idx);
    free(x);
    free(q);
}

/* A searcher reused across queries answers a narrow query exactly as a fresh searcher does,
 * after a wide one (the heaps keep their allocation, not their bound): HNSW's ef and IVF's
 * k * rerank shortlist. */
static void reuse_case(const char *spec, vqi_search_params wide, vqi_search_params narrow) {
    float *x = it_data(N, D, 31), *q = it_data(NQ, D, 32);
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new(spec, D, VQ_METRIC_L2, &idx, &err), 0, "%s", err.msg);
    cr_assert_eq(vqi_index_add(idx, N, x, NULL, &err), 0, "%s", err.msg);
    uint64_t a[NQ * K], b[NQ * K];
    float da[NQ * K], db[NQ * K];
    cr_assert_eq(vqi_index_search(idx, NQ, q, K, &narrow, a, da, &err), 0, "%s", err.msg);
    vqi_searcher *s;
    cr_assert_eq(vqi_searcher_new(idx, &s, &err), 0);
    cr_assert_eq(vqi_searcher_search(s, NQ, q, K, &wide, b, db, &err), 0);
    cr_assert_eq(vqi_searcher_search(s, NQ, q, K, &narrow, b, db, &err), 0);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "%s: a narrow query after a wide one differs", spec);
    cr_expect_eq(memcmp(da, db, sizeof da), 0, "%s: distances differ", spec);
    vqi_searcher_free(s);
    vqi_index_free(idx);
    free(x);
    free(q);
}

Test(hnsw, reused_searcher_keeps_each_querys_ef) {
    vqi_search_params wide = vqi_search_params_default(), narrow = wide;
    wide.ef = 400;
    narrow.ef = 12;
    narrow.rerank = 1;
    reuse_case("hnsw:m=8,efc=40/sq8", wide, narrow);
    wide = narrow = vqi_search_params_default();
    wide.nprobe = 16;
    wide.rerank = 50;
    narrow.nprobe = 16;
    narrow.rerank = 1;
    reuse_case("ivf:nlist=32/sq8", wide, narrow);
}
