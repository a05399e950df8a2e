/* kmeans.c — seeded k-means (k-means++ or random seeding, Lloyd iterations, FAISS-style
 * subsampling and empty-cluster repair) for PQ codebooks and the IVF coarse quantizer.
 *
 * Assignment is the hot loop: points are processed in tiles of TILE_N rows against tiles of
 * TILE_K centroids; one cblas_sgemm gives the tile's inner products and the squared distance
 * is ||x||^2 - 2<x,c> + ||c||^2. Centroid updates sum in double so that the mean of 65,536
 * points does not drift with the order of the sum. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "internal.h"
#include "kernels/f32.h"
#include "kmeans.h"

#define TILE_N 256
#define TILE_K 1024
/* Relative nudge applied to a split centroid (FAISS uses 1/1024 too). */
#define SPLIT_EPS (1.0f / 1024.0f)

void vq__kmeans_params_default(vq_kmeans_params *p) {
    p->iters = VQ_KMEANS_ITERS_DEFAULT;
    p->seed = 1234;
    p->max_points_per_centroid = VQ_KMEANS_MAX_PPC_DEFAULT;
    p->init = VQ_KMEANS_PLUSPLUS;
}

int vq__kmeans_sample(size_t n, size_t m, uint64_t seed, size_t *idx, vq_err *err) {
    VQ_FAIL_IF(m > n, VQ_EINVAL, err, "n", "cannot sample %zu of %zu points", m, n);
    /* Knuth's selection sampling (Algorithm S): one pass, no n-sized scratch, sorted output. */
    vq_rng r;
    vq__rng_seed(&r, seed);
    size_t got = 0;
    for (size_t i = 0; i < n && got < m; i++)
        if ((double)(n - i) * vq__rng_uniform(&r) < (double)(m - got)) idx[got++] = i;
    return VQ_OK;
}

static void row_norms(const float *x, size_t n, size_t d, float *out) {
    const vq_k_f32 *k = vq__k_f32(vq_isa_active());
    for (size_t i = 0; i < n; i++) out[i] = k->ip(x + i * d, x + i * d, d);
}

/* The assignment core; xn and cn are the precomputed squared norms, ip a TILE_N * TILE_K
 * scratch. */
static void assign_core(const float *x, const float *xn, size_t n, size_t d, const float *c,
                        const float *cn, size_t k, float *ip, uint32_t *assign, float *dist) {
    for (size_t i0 = 0; i0 < n; i0 += TILE_N) {
        size_t bn = n - i0 < TILE_N ? n - i0 : TILE_N;
        float best[TILE_N];
        uint32_t bi[TILE_N];
        for (size_t i = 0; i < bn; i++) best[i] = FLT_MAX, bi[i] = 0;
        for (size_t j0 = 0; j0 < k; j0 += TILE_K) {
            size_t bk = k - j0 < TILE_K ? k - j0 : TILE_K;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)bn, (int)bk, (int)d, 1.0f,
                        x + i0 * d, (int)d, c + j0 * d, (int)d, 0.0f, ip, (int)bk);
            for (size_t i = 0; i < bn; i++) {
                const float *row = ip + i * bk;
                float b = best[i];
                uint32_t at = bi[i];
                /* ||x||^2 is the same for every centroid: compare ||c||^2 - 2<x,c> only. */
                for (size_t j = 0; j < bk; j++) {
                    float v = cn[j0 + j] - 2.0f * row[j];
                    if (v < b) b = v, at = (uint32_t)(j0 + j);
                }
                best[i] = b;
                bi[i] = at;
            }
        }
        for (size_t i = 0; i < bn; i++) {
            assign[i0 + i] = bi[i];
            if (dist) {
                float v = xn[i0 + i] + best[i];
                dist[i0 + i] = v > 0 ? v : 0;
            }
        }
    }
}

int vq__kmeans_assign(const float *x, size_t n, size_t d, const float *centroids, size_t k,
                      uint32_t *assign, float *dist, vq_err *err) {
    VQ_FAIL_IF(k == 0, VQ_EINVAL, err, "k", "k-means needs at least one centroid");
    if (n == 0) return VQ_OK;
    size_t tk = k < TILE_K ? k : TILE_K;
    float *xn = vq_malloc(n * sizeof(float)), *cn = vq_malloc(k * sizeof(float));
    float *ip = vq_malloc((size_t)TILE_N * tk * sizeof(float));
    int rc = VQ_OK;
    if (!xn || !cn || !ip) {
        rc = vq_err_set(err, VQ_ENOMEM, "kmeans", "out of memory for %zu x %zu assignment", n, k);
    } else {
        row_norms(x, n, d, xn);
        row_norms(centroids, k, d, cn);
        assign_core(x, xn, n, d, centroids, cn, k, ip, assign, dist);
    }
    vq_free(xn);
    vq_free(cn);
    vq_free(ip);
    return rc;
}

/* k-means++: each new centroid is a point drawn with probability proportional to its squared
 * distance to the nearest centroid chosen so far. mind holds that distance per point. */
static void init_plusplus(const float *x, size_t n, size_t d, size_t k, vq_rng *r, float *c,
                          float *mind, float *tmp) {
    const vq_k_f32 *kf = vq__k_f32(vq_isa_active());
    size_t first = (size_t)(vq__rng_uniform(r) * (double)n);
    if (first >= n) first = n - 1;
    memcpy(c, x + first * d, d * sizeof(float));
    kf->l2sq_ny(c, x, n, d, mind);
    for (size_t j = 1; j < k; j++) {
        double total = 0;
        for (size_t i = 0; i < n; i++) total += mind[i];
        size_t pick = 0;
        if (total > 0) {
            double u = vq__rng_uniform(r) * total, acc = 0;
            pick = n - 1;
            for (size_t i = 0; i < n; i++) {
                acc += mind[i];
                if (acc > u && mind[i] > 0) {
                    pick = i;
                    break;
                }
            }
            /* Rounding can leave u past the running sum: take the last point not yet chosen. */
            while (mind[pick] <= 0 && pick > 0) pick--;
        } else {
            /* Every point coincides with a centroid: there are fewer distinct points than k.
             * Any point will do; Lloyd keeps the duplicate centroid empty and the repair
             * splits another cluster. */
            pick = (size_t)(vq__rng_uniform(r) * (double)n);
            if (pick >= n) pick = n - 1;
        }
        float *cj = c + j * d;
        memcpy(cj, x + pick * d, d * sizeof(float));
        kf->l2sq_ny(cj, x, n, d, tmp);
        for (size_t i = 0; i < n; i++)
            if (tmp[i] < mind[i]) mind[i] = tmp[i];
    }
}

static int init_random(const float *x, size_t n, size_t d, size_t k, uint64_t seed, float *c,
                       vq_err *err) {
    size_t *idx = vq_malloc(k * sizeof(size_t));
    VQ_FAIL_IF(!idx, VQ_ENOMEM, err, "kmeans", "out of memory");
    int rc = vq__kmeans_sample(n, k, seed, idx, err);
    for (size_t j = 0; rc == VQ_OK && j < k; j++)
        memcpy(c + j * d, x + idx[j] * d, d * sizeof(float));
    vq_free(idx);
    return rc;
}

/* Empty-cluster repair: returns how many clusters were split. */
static size_t repair_empty(float *c, size_t k, size_t d, size_t *count, vq_rng *r) {
    size_t split = 0;
    for (size_t ci = 0; ci < k; ci++) {
        if (count[ci]) continue;
        /* Choose a cluster to split with probability proportional to size - 1, so singletons
         * are never split (FAISS's rule). */
        double total = 0;
        for (size_t t = 0; t < k; t++)
            if (count[t] > 1) total += (double)(count[t] - 1);
        if (total <= 0) break; /* every point is alone: nothing can be split */
        double u = vq__rng_uniform(r) * total, acc = 0;
        size_t cj = k;
        for (size_t t = 0; t < k; t++) {
            if (count[t] <= 1) continue;
            acc += (double)(count[t] - 1);
            cj = t;
            if (acc > u) break;
        }
        memcpy(c + ci * d, c + cj * d, d * sizeof(float));
        for (size_t t = 0; t < d; t++) {
            float *a = c + ci * d + t, *b = c + cj * d + t;
            float s = t % 2 == 0 ? SPLIT_EPS : -SPLIT_EPS;
            *a *= 1 + s;
            *b *= 1 - s;
            /* A zero coordinate stays equal under scaling: offset it instead. */
            if (*a == *b) *a += s, *b -= s;
        }
        count[ci] = count[cj] / 2;
        count[cj] -= count[ci];
        split++;
    }
    return split;
}

int vq__kmeans(const float *x, size_t n, size_t d, size_t k, const vq_kmeans_params *p,
               float *centroids, uint32_t *assign, double *obj, vq_err *err) {
    vq_kmeans_params def;
    if (!p) {
        vq__kmeans_params_default(&def);
        p = &def;
    }
    VQ_FAIL_IF(k == 0, VQ_EINVAL, err, "k", "k-means needs at least one centroid");
    VQ_FAIL_IF(d == 0, VQ_EINVAL, err, "d", "k-means needs a dimension of at least 1");
    VQ_FAIL_IF(n < k, VQ_EINVAL, err, "n", "k-means with k=%zu needs at least %zu points, got %zu",
               k, k, n);
    VQ_FAIL_IF(p->iters < VQ_KMEANS_ITERS_MIN || p->iters > VQ_KMEANS_ITERS_MAX, VQ_EINVAL, err,
               "iters", "k-means iterations %u outside [%u, %u]", p->iters, VQ_KMEANS_ITERS_MIN,
               VQ_KMEANS_ITERS_MAX);
    vq_rng r;
    vq__rng_seed(&r, p->seed);

    /* Subsample, as FAISS does: beyond a few hundred points per centroid the centroids no
     * longer move measurably, while the cost grows linearly. */
    size_t nt = n;
    float *xs = NULL;
    const float *xt = x;
    if (p->max_points_per_centroid && n / k > p->max_points_per_centroid) {
        nt = k * (size_t)p->max_points_per_centroid;
        size_t *idx = vq_malloc(nt * sizeof(size_t));
        xs = vq_malloc(nt * d * sizeof(float));
        if (!idx || !xs) {
            vq_free(idx);
            vq_free(xs);
            return vq_err_set(err, VQ_ENOMEM, "kmeans", "out of memory for %zu samples", nt);
        }
        vq__kmeans_sample(n, nt, vq__rng_u64(&r), idx, NULL);
        for (size_t i = 0; i < nt; i++) memcpy(xs + i * d, x + idx[i] * d, d * sizeof(float));
        vq_free(idx);
        xt = xs;
    }

    size_t tk = k < TILE_K ? k : TILE_K;
    float *c = vq_malloc(k * d * sizeof(float));
    float *xn = vq_malloc(nt * sizeof(float)), *cn = vq_malloc(k * sizeof(float));
    float *dist = vq_malloc(nt * sizeof(float)), *tmp = vq_malloc(nt * sizeof(float));
    float *ip = vq_malloc((size_t)TILE_N * tk * sizeof(float));
    uint32_t *as = vq_malloc(nt * sizeof(uint32_t)), *prev = vq_malloc(nt * sizeof(uint32_t));
    double *sum = vq_malloc(k * d * sizeof(double));
    size_t *count = vq_malloc(k * sizeof(size_t));
    int rc = VQ_OK;
    if (!c || !xn || !cn || !dist || !tmp || !ip || !as || !prev || !sum || !count) {
        rc =
            vq_err_set(err, VQ_ENOMEM, "kmeans", "out of memory for k=%zu, n=%zu, d=%zu", k, nt, d);
        goto done;
    }

    if (p->init == VQ_KMEANS_RANDOM)
        rc = init_random(xt, nt, d, k, vq__rng_u64(&r), c, err);
    else
        init_plusplus(xt, nt, d, k, &r, c, dist, tmp);
    if (rc < 0) goto done;

    row_norms(xt, nt, d, xn);
    double last = 0;
    for (unsigned it = 0; it < p->iters; it++) {
        row_norms(c, k, d, cn);
        assign_core(xt, xn, nt, d, c, cn, k, ip, as, dist);
        double o = 0;
        for (size_t i = 0; i < nt; i++) o += dist[i];
        last = o / (double)nt;
        if (it > 0 && !memcmp(as, prev, nt * sizeof(uint32_t))) break; /* converged */
        memcpy(prev, as, nt * sizeof(uint32_t));
        memset(sum, 0, k * d * sizeof(double));
        memset(count, 0, k * sizeof(size_t));
        for (size_t i = 0; i < nt; i++) {
            double *s = sum + (size_t)as[i] * d;
            const float *v = xt + i * d;
            for (size_t t = 0; t < d; t++) s[t] += v[t];
            count[as[i]]++;
        }
        for (size_t j = 0; j < k; j++) {
            if (!count[j]) continue;
            double inv = 1.0 / (double)count[j];
            for (size_t t = 0; t < d; t++) c[j * d + t] = (float)(sum[j * d + t] * inv);
        }
        /* A repaired centroid changes assignments: keep iterating even if nothing else did. */
        if (repair_empty(c, k, d, count, &r)) memset(prev, 0xff, nt * sizeof(uint32_t));
    }
    memcpy(centroids, c, k * d * sizeof(float));
    if (obj) *obj = last;
    if (assign) rc = vq__kmeans_assign(x, n, d, centroids, k, assign, NULL, err);

done:
    vq_free(xs);
    vq_free(c);
    vq_free(xn);
    vq_free(cn);
    vq_free(dist);
    vq_free(tmp);
    vq_free(ip);
    vq_free(as);
    vq_free(prev);
    vq_free(sum);
    vq_free(count);
    return rc;
}
