/* kmeans.c — the IVF coarse quantizer's k-means (Lloyd's algorithm) and list assignment.
 *
 * Initialization: nlist distinct rows drawn with a seeded generator. Each iteration assigns
 * every row to its nearest centroid (squared L2 through the dispatched one-query-many-rows
 * kernel) and moves each centroid to the mean of its rows; an empty cluster takes a row of
 * the largest cluster, nudged, and splits it (FAISS's rule). For COS the centroids are
 * re-normalized at the end (spherical clusters of unit vectors).
 * Assignment of vectors to lists uses the index metric: L2, or the largest inner product.
 * quant/kmeans.c (branch pq) can replace this once it is merged into main.
 */
#include <stdlib.h>

#include "../vqi_internal.h"

static uint64_t sm(uint64_t *st) {
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t nearest_l2(const vq_k_f32 *kf, const float *c, unsigned nlist, const float *x,
                           unsigned d, float *buf) {
    kf->l2sq_ny(x, c, nlist, d, buf);
    uint32_t best = 0;
    for (unsigned j = 1; j < nlist; j++)
        if (buf[j] < buf[best]) best = j;
    return best;
}

void vq__ivf_assign(const vqi_index *idx, const float *centroids, unsigned nlist, size_t n,
                    const float *x, uint32_t *assign) {
    float buf[4096];
    float *b = nlist <= 4096 ? buf : vq_malloc(nlist * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const float *v = x + i * idx->d;
        if (!b) { /* out of memory for a huge nlist: one distance at a time */
            uint32_t best = 0;
            float bd = INFINITY;
            for (unsigned j = 0; j < nlist; j++) {
                float dd = vq__dist(idx, v, centroids + (size_t)j * idx->d);
                if (dd < bd) bd = dd, best = j;
            }
            assign[i] = best;
            continue;
        }
        if (idx->metric == VQ_METRIC_L2) {
            assign[i] = nearest_l2(idx->kf, centroids, nlist, v, idx->d, b);
        } else {
            idx->kf->ip_ny(v, centroids, nlist, idx->d, b);
            uint32_t best = 0;
            for (unsigned j = 1; j < nlist; j++)
                if (b[j] > b[best]) best = j;
            assign[i] = best;
        }
    }
    if (b != buf) vq_free(b);
}

int vq__ivf_kmeans(const vqi_index *idx, size_t n, const float *x, unsigned nlist, unsigned iters,
                   uint64_t seed, float *c, vq_err *err) {
    unsigned d = idx->d;
    VQ_FAIL_IF(n < nlist, VQ_EINVAL, err, "n",
               "%zu training vectors for nlist = %u (need at least nlist)", n, nlist);
    uint32_t *asg = vq_malloc(n * sizeof *asg);
    size_t *cnt = vq_malloc(nlist * sizeof *cnt);
    double *sum = vq_malloc((size_t)nlist * d * sizeof *sum);
    float *buf = vq_malloc(nlist * sizeof *buf);
    int rc = VQ_OK;
    if (!asg || !cnt || !sum || !buf) rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
    uint64_t st = seed ^ 0x5bd1e995ULL;
    if (rc == VQ_OK) {
        /* Distinct initial rows: partial Fisher-Yates over a row permutation. */
        for (size_t i = 0; i < n; i++) asg[i] = (uint32_t)i;
        for (unsigned j = 0; j < nlist; j++) {
            size_t r = j + (size_t)(sm(&st) % (n - j));
            uint32_t t = asg[j];
            asg[j] = asg[r];
            asg[r] = t;
            memcpy(c + (size_t)j * d, x + (size_t)asg[j] * d, d * sizeof(float));
        }
    }
    for (unsigned it = 0; rc == VQ_OK && it < iters; it++) {
        for (size_t i = 0; i < n; i++) asg[i] = nearest_l2(idx->kf, c, nlist, x + i * d, d, buf);
        memset(cnt, 0, nlist * sizeof *cnt);
        memset(sum, 0, (size_t)nlist * d * sizeof *sum);
        for (size_t i = 0; i < n; i++) {
            cnt[asg[i]]++;
            double *s = sum + (size_t)asg[i] * d;
            const float *v = x + i * d;
            for (unsigned t = 0; t < d; t++) s[t] += v[t];
        }
        for (unsigned j = 0; j < nlist; j++)
            if (cnt[j])
                for (unsigned t = 0; t < d; t++)
                    c[(size_t)j * d + t] = (float)(sum[(size_t)j * d + t] / (double)cnt[j]);
        for (unsigned j = 0; j < nlist; j++) {
            if (cnt[j]) continue;
            unsigned big = 0;
            for (unsigned t = 1; t < nlist; t++)
                if (cnt[t] > cnt[big]) big = t;
            /* Split the largest cluster: two symmetric nudges of its centroid. */
            for (unsigned t = 0; t < d; t++) {
                float v = c[(size_t)big * d + t];
                float eps = (v == 0 ? 1e-6f : v * 1e-3f) * ((sm(&st) & 1) ? 1 : -1);
                c[(size_t)j * d + t] = v + eps;
                c[(size_t)big * d + t] = v - eps;
            }
            cnt[j] = cnt[big] / 2;
            cnt[big] -= cnt[j];
        }
    }
    if (rc == VQ_OK && idx->metric == VQ_METRIC_COS)
        for (unsigned j = 0; j < nlist; j++) {
            float *v = c + (size_t)j * d;
            float nn = idx->kf->ip(v, v, d);
            if (nn > 0)
                for (unsigned t = 0; t < d; t++) v[t] /= sqrtf(nn);
        }
    vq_free(asg);
    vq_free(cnt);
    vq_free(sum);
    vq_free(buf);
    return rc;
}
