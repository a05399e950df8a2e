/* k-means (quant/kmeans.c): recovers well-separated clusters, is deterministic per seed,
 * subsamples, rejects n < k naming "n", survives fewer distinct points than k, and its
 * assignment agrees with brute force. */
#include <criterion/criterion.h>
#include <string.h>

#include "kmeans.h"
#include "testutil.h"

/* One BLAS/OpenMP thread: the runs stay deterministic and a shared 2-core machine is not
 * oversubscribed (OpenBLAS and FAISS spin their pools). Weak, as not every BLAS has it. */
extern void openblas_set_num_threads(int) __attribute__((weak));
extern void omp_set_num_threads(int) __attribute__((weak));
static void single_thread(void) {
    if (openblas_set_num_threads) openblas_set_num_threads(1);
    if (omp_set_num_threads) omp_set_num_threads(1);
}
TestSuite(kmeans, .init = single_thread);

/* k true centres far apart (distance >= 20), points with sigma 0.1 around them. */
static float *blobs(size_t k, size_t per, size_t d, uint64_t seed, float *centres,
                    uint32_t *label) {
    float *x = malloc(k * per * d * sizeof(float));
    tu_fill_normal(centres, k * d, seed);
    for (size_t c = 0; c < k; c++)
        for (size_t t = 0; t < d; t++)
            centres[c * d + t] = 20.0f * (float)c * (t == c % d) + 10.0f * centres[c * d + t];
    tu_fill_normal(x, k * per * d, seed + 1);
    for (size_t i = 0; i < k * per; i++) {
        size_t c = i % k; /* interleaved, so a subsample keeps every cluster */
        label[i] = (uint32_t)c;
        for (size_t t = 0; t < d; t++) x[i * d + t] = centres[c * d + t] + 0.1f * x[i * d + t];
    }
    return x;
}

static double sqdist(const float *a, const float *b, size_t d) {
    double s = 0;
    for (size_t t = 0; t < d; t++) s += ((double)a[t] - b[t]) * ((double)a[t] - b[t]);
    return s;
}

Test(kmeans, recovers_separated_clusters) {
    const size_t k = 10, per = 300, d = 16, n = k * per;
    float centres[10 * 16], c[10 * 16];
    uint32_t *label = malloc(n * sizeof(uint32_t)), *as = malloc(n * sizeof(uint32_t));
    float *x = blobs(k, per, d, 42, centres, label);
    vq_kmeans_params p;
    vq__kmeans_params_default(&p);
    double obj;
    vq_err err;
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, c, as, &obj, &err), VQ_OK, "%s", err.msg);
    /* Every true centre has a found centroid within 0.05 (the mean of 300 points with sigma
     * 0.1 per dimension is within ~0.03 in norm). */
    int used[10] = {0};
    for (size_t t = 0; t < k; t++) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (sqdist(centres + t * d, c + j * d, d) < sqdist(centres + t * d, c + best * d, d))
                best = j;
        cr_expect(sqdist(centres + t * d, c + best * d, d) < 0.05 * 0.05, "centre %zu missed", t);
        used[best]++;
    }
    for (size_t j = 0; j < k; j++)
        cr_expect_eq(used[j], 1, "centroid %zu matched %d times", j, used[j]);
    /* The partition equals the labels up to renaming. */
    uint32_t map[10];
    for (size_t t = 0; t < k; t++) map[t] = as[t];
    for (size_t i = 0; i < n; i++) cr_expect_eq(as[i], map[label[i]], "point %zu", i);
    cr_expect(obj < 16 * 0.01 * 1.2, "objective %g above the noise floor", obj);
    free(x);
    free(label);
    free(as);
}

Test(kmeans, deterministic_per_seed) {
    const size_t n = 2000, d = 8, k = 32;
    float *x = malloc(n * d * sizeof(float));
    tu_fill_normal(x, n * d, 7);
    float a[32 * 8], b[32 * 8], c[32 * 8];
    vq_kmeans_params p;
    vq__kmeans_params_default(&p);
    p.seed = 99;
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, a, NULL, NULL, NULL), VQ_OK);
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, b, NULL, NULL, NULL), VQ_OK);
    cr_expect(!memcmp(a, b, sizeof a), "same seed gave different centroids");
    p.seed = 100;
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, c, NULL, NULL, NULL), VQ_OK);
    cr_expect(memcmp(a, c, sizeof a), "a different seed gave identical centroids");
    p.init = VQ_KMEANS_RANDOM;
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, a, NULL, NULL, NULL), VQ_OK);
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, b, NULL, NULL, NULL), VQ_OK);
    cr_expect(!memcmp(a, b, sizeof a), "random init: same seed gave different centroids");
    free(x);
}

Test(kmeans, lloyd_improves_on_its_seeding) {
    const size_t n = 3000, d = 4, k = 16;
    float *x = malloc(n * d * sizeof(float));
    tu_fill_normal(x, n * d, 11);
    float c[16 * 4];
    vq_kmeans_params p;
    vq__kmeans_params_default(&p);
    double o1, o25;
    p.iters = 1;
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, c, NULL, &o1, NULL), VQ_OK);
    p.iters = 25;
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, c, NULL, &o25, NULL), VQ_OK);
    cr_expect(o25 < 0.9 * o1, "25 iterations (%g) should beat the seeding (%g)", o25, o1);
}

Test(kmeans, rejects_fewer_points_than_centroids) {
    float x[5 * 3] = {0};
    float c[8 * 3];
    vq_err err;
    vq_err_clear(&err);
    cr_expect_eq(vq__kmeans(x, 5, 3, 8, NULL, c, NULL, NULL, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "n");
    cr_expect_eq(vq__kmeans(x, 5, 3, 0, NULL, c, NULL, NULL, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "k");
}

/* 200 points on only 3 distinct positions with k = 6: the extra centroids start as
 * duplicates and come out of the repair; the result must stay finite and every point must
 * sit on a centroid. */
Test(kmeans, fewer_distinct_points_than_k) {
    const size_t n = 200, d = 2, k = 6;
    float x[200 * 2], c[6 * 2];
    for (size_t i = 0; i < n; i++) x[i * d] = (float)(i % 3), x[i * d + 1] = i % 3 == 1 ? 5 : 0;
    uint32_t as[200];
    double obj;
    cr_assert_eq(vq__kmeans(x, n, d, k, NULL, c, as, &obj, NULL), VQ_OK);
    for (size_t j = 0; j < k * d; j++) cr_expect(isfinite(c[j]));
    for (size_t i = 0; i < n; i++)
        cr_expect(sqdist(x + i * d, c + as[i] * d, d) < 1e-4, "point %zu is off its centroid", i);
}

Test(kmeans, assignment_matches_brute_force) {
    const size_t n = 777, d = 13, k = 1500; /* k above one tile of centroids */
    float *x = malloc(n * d * sizeof(float)), *c = malloc(k * d * sizeof(float));
    tu_fill_normal(x, n * d, 3);
    tu_fill_normal(c, k * d, 4);
    uint32_t *as = malloc(n * sizeof(uint32_t));
    float *dist = malloc(n * sizeof(float));
    cr_assert_eq(vq__kmeans_assign(x, n, d, c, k, as, dist, NULL), VQ_OK);
    for (size_t i = 0; i < n; i++) {
        double best = 1e30;
        for (size_t j = 0; j < k; j++) {
            double v = sqdist(x + i * d, c + j * d, d);
            if (v < best) best = v;
        }
        double got = sqdist(x + i * d, c + as[i] * d, d);
        /* The norm expansion may pick a near-tie; it must be a tie within rounding. */
        cr_expect(got <= best + 1e-4 * (1 + best), "point %zu: %g vs best %g", i, got, best);
        cr_expect(fabs(dist[i] - got) <= 1e-3 * (1 + got), "point %zu distance", i);
    }
    free(x);
    free(c);
    free(as);
    free(dist);
}

Test(kmeans, subsampling_is_seeded_and_sorted) {
    size_t a[100], b[100];
    cr_assert_eq(vq__kmeans_sample(1000, 100, 5, a, NULL), VQ_OK);
    cr_assert_eq(vq__kmeans_sample(1000, 100, 5, b, NULL), VQ_OK);
    cr_expect(!memcmp(a, b, sizeof a));
    for (size_t i = 1; i < 100; i++) cr_expect(a[i] > a[i - 1] && a[i] < 1000);
    cr_expect_eq(vq__kmeans_sample(10, 11, 5, a, NULL), VQ_EINVAL);
    /* Training with a cap of 4 points per centroid still recovers separated clusters. */
    const size_t k = 4, per = 500, d = 4, n = k * per;
    float centres[4 * 4], c[4 * 4];
    uint32_t *label = malloc(n * sizeof(uint32_t)), *as = malloc(n * sizeof(uint32_t));
    float *x = blobs(k, per, d, 8, centres, label);
    vq_kmeans_params p;
    vq__kmeans_params_default(&p);
    p.max_points_per_centroid = 4;
    cr_assert_eq(vq__kmeans(x, n, d, k, &p, c, as, NULL, NULL), VQ_OK);
    for (size_t i = 0; i < n; i++) cr_expect_eq(as[i], as[label[i]], "point %zu", i);
    free(x);
    free(label);
    free(as);
}
