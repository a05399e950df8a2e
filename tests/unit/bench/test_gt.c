/* bench/gt.c: exact top-k equals a brute-force reference (including the tie rule), is the
 * same for every thread count and block size, and rejects bad arguments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../quant/testutil.h"
#include "gt.h"

typedef struct ref_item {
    double dist;
    int32_t id;
} ref_item;

static int cmp_item(const void *a, const void *b) {
    const ref_item *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Reference in double precision with (distance, id) ordering. */
static void brute(const float *xb, size_t nb, const float *xq, size_t nq, size_t d, size_t k,
                  vq_metric m, int32_t *ids, double *kth) {
    ref_item *it = malloc(nb * sizeof *it);
    for (size_t q = 0; q < nq; q++) {
        double qn = 0;
        for (size_t j = 0; j < d; j++) qn += (double)xq[q * d + j] * xq[q * d + j];
        for (size_t i = 0; i < nb; i++) {
            double s = 0, xn = 0;
            for (size_t j = 0; j < d; j++) {
                double a = xq[q * d + j], b = xb[i * d + j];
                s += m == VQ_METRIC_L2 ? (a - b) * (a - b) : a * b;
                xn += b * b;
            }
            if (m == VQ_METRIC_IP) s = -s;
            if (m == VQ_METRIC_COS) s = (xn > 0 && qn > 0) ? -s / sqrt(xn * qn) : 0;
            it[i] = (ref_item){s, (int32_t)i};
        }
        qsort(it, nb, sizeof *it, cmp_item);
        for (size_t j = 0; j < k; j++) ids[q * k + j] = it[j].id;
        if (kth) kth[q] = it[k - 1].dist;
    }
    free(it);
}

/* Small integers make every float distance exact, and produce many ties, so the tie rule
 * (smaller id first) is checked too. */
static void fill_int(float *x, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 7;
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(tu_next(&s) % 7) - 3);
}

Test(gt, exact_on_integer_data_all_threads) {
    size_t nb = 700, nq = 23, d = 19, k = 10;
    float *xb = malloc(nb * d * 4), *xq = malloc(nq * d * 4);
    fill_int(xb, nb * d, 1);
    fill_int(xq, nq * d, 2);
    int32_t *ref = malloc(nq * k * 4), *got = malloc(nq * k * 4), *first = malloc(nq * k * 4);
    float *dist = malloc(nq * k * 4);
    for (int m = 0; m < 2; m++) {
        vq_metric metric = m ? VQ_METRIC_IP : VQ_METRIC_L2;
        brute(xb, nb, xq, nq, d, k, metric, ref, NULL);
        unsigned threads[] = {1, 2, 3, 7, 64};
        size_t blocks[] = {0, 16, 33, 1000};
        for (size_t t = 0; t < 5; t++)
            for (size_t b = 0; b < 4; b++) {
                vq_gt_params p = vq_gt_params_default();
                p.k = k, p.metric = metric, p.threads = threads[t], p.block_rows = blocks[b];
                vq_err err;
                cr_assert_eq(vq_gt_compute(xb, nb, xq, nq, d, &p, got, dist, &err), VQ_OK, "%s",
                             err.msg);
                cr_assert_eq(memcmp(got, ref, nq * k * 4), 0,
                             "metric %d threads %u block %zu differs from brute force", m,
                             threads[t], blocks[b]);
                if (t == 0 && b == 0) memcpy(first, got, nq * k * 4);
                cr_assert_eq(memcmp(got, first, nq * k * 4), 0);
                for (size_t q = 0; q < nq; q++)
                    for (size_t j = 1; j < k; j++)
                        cr_assert(dist[q * k + j - 1] <= dist[q * k + j], "distances sorted");
            }
    }
    free(xb), free(xq), free(ref), free(got), free(first), free(dist);
}

Test(gt, cosine_matches_reference) {
    size_t nb = 500, nq = 12, d = 33, k = 5;
    float *xb = malloc(nb * d * 4), *xq = malloc(nq * d * 4);
    tu_fill_normal(xb, nb * d, 3);
    tu_fill_normal(xq, nq * d, 4);
    memset(xb + 17 * d, 0, d * 4); /* a zero vector has cosine 0, not NaN */
    int32_t *ref = malloc(nq * k * 4), *got = malloc(nq * k * 4);
    float *dist = malloc(nq * k * 4);
    double kth[12];
    brute(xb, nb, xq, nq, d, k, VQ_METRIC_COS, ref, kth);
    vq_gt_params p = vq_gt_params_default();
    p.k = k, p.metric = VQ_METRIC_COS, p.threads = 2;
    vq_err err;
    cr_assert_eq(vq_gt_compute(xb, nb, xq, nq, d, &p, got, dist, &err), VQ_OK, "%s", err.msg);
    for (size_t q = 0; q < nq; q++) {
        cr_expect(fabs(dist[q * k + k - 1] - kth[q]) < 1e-5, "query %zu: k-th cosine %g vs %g", q,
                  dist[q * k + k - 1], kth[q]);
        for (size_t j = 0; j < k; j++) {
            cr_expect(dist[q * k + j] >= -1.0001 && dist[q * k + j] <= 1.0001);
            cr_expect_eq(got[q * k + j], ref[q * k + j], "query %zu rank %zu", q, j);
        }
    }
    free(xb), free(xq), free(ref), free(got), free(dist);
}

static double g_last = -1;
static void prog(void *ctx, double done, double total) {
    (void)ctx;
    cr_assert(done <= total && done >= g_last);
    g_last = done;
}

Test(gt, progress_reaches_total) {
    size_t nb = 300, nq = 8, d = 4;
    float *xb = malloc(nb * d * 4), *xq = malloc(nq * d * 4);
    tu_fill_normal(xb, nb * d, 5);
    tu_fill_normal(xq, nq * d, 6);
    int32_t ids[8 * 3];
    vq_gt_params p = vq_gt_params_default();
    p.k = 3, p.threads = 2, p.progress = prog;
    cr_assert_eq(vq_gt_compute(xb, nb, xq, nq, d, &p, ids, NULL, NULL), VQ_OK);
    cr_expect_eq(g_last, (double)nb * nq);
    free(xb), free(xq);
}

Test(gt, bad_arguments) {
    float xb[40] = {0}, xq[4] = {0};
    int32_t ids[16];
    vq_err err;
    vq_gt_params p = vq_gt_params_default();
    p.k = 11; /* 10 base rows of d = 4 */
    cr_expect_eq(vq_gt_compute(xb, 10, xq, 1, 4, &p, ids, NULL, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "k");
    p.k = 0;
    cr_expect_eq(vq_gt_compute(xb, 10, xq, 1, 4, &p, ids, NULL, &err), VQ_EINVAL);
    p.k = 2, p.threads = 0;
    cr_expect_eq(vq_gt_compute(xb, 10, xq, 1, 4, &p, ids, NULL, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "threads");
    p.threads = 1, p.metric = (vq_metric)9;
    cr_expect_eq(vq_gt_compute(xb, 10, xq, 1, 4, &p, ids, NULL, &err), VQ_EINVAL);
    p.metric = VQ_METRIC_L2;
    cr_expect_eq(vq_gt_compute(xb, 10, xq, 1, 0, &p, ids, NULL, &err), VQ_EDIM);
    cr_expect_eq(vq_gt_compute(xb, 0, xq, 1, 4, &p, ids, NULL, &err), VQ_EINVAL);
    cr_expect_eq(vq_gt_compute(xb, 10, xq, 0, 4, &p, ids, NULL, &err), VQ_EINVAL);
    cr_expect_eq(vq_gt_compute(NULL, 10, xq, 1, 4, &p, ids, NULL, &err), VQ_EINVAL);
}
