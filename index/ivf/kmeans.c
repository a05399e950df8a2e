/* kmeans.c — the IVF coarse quantizer: training through quant/'s shared k-means
 * (vq__kmeans: subsample to 256 points per centroid, k-means++ seeding, Lloyd iterations
 * with sgemm-tiled assignment, FAISS-style repair of empty clusters), and the assignment
 * of vectors to lists. For COS the centroids are re-normalized after training (spherical
 * clusters of unit vectors). Assignment follows the index metric: L2 through
 * vq__kmeans_assign (sgemm; the per-row kernel when that fails for lack of memory), or the
 * largest inner product for IP/COS.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../vqi_internal.h"
#include "kmeans.h"

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
    if (idx->metric == VQ_METRIC_L2 && n >= 16 &&
        vq__kmeans_assign(x, n, idx->d, centroids, nlist, assign, NULL, NULL) == VQ_OK)
        return;
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

/* Two-level training for large nlist: k1 = sqrt(nlist) top clusters over the sample, then
 * each top cluster split into a share of nlist proportional to its size (largest
 * remainders, never more than its points). Each Lloyd iteration then costs
 * n * (k1 + nlist / k1) distances instead of n * nlist: 16x fewer at nlist = 1024, which
 * is what makes an IVF build several times cheaper than FAISS's flat coarse k-means. The
 * cells are those of a hierarchical k-means, slightly less even than flat k-means; the
 * bench measures the recall this costs at each nprobe (see README, "IVF training"). */
static int kmeans_two_level(size_t n, size_t d, const float *x, unsigned nlist,
                            const vq_kmeans_params *p, float *c, vq_err *err) {
    unsigned k1 = (unsigned)ceil(sqrt((double)nlist));
    vq_kmeans_params top = *p;
    top.init = VQ_KMEANS_PLUSPLUS;
    /* The top level needs no more points than its own cap; the subsample is seeded. */
    float *c1 = vq_malloc((size_t)k1 * d * sizeof(float));
    uint32_t *as = vq_malloc(n * sizeof(uint32_t) + 1);
    size_t *cnt = vq_calloc(k1, sizeof(size_t)), *share = vq_calloc(k1, sizeof(size_t));
    double *rem = vq_calloc(k1, sizeof(double));
    size_t *order = vq_malloc(n * sizeof(size_t) + 1);
    float *xs = NULL;
    int rc = VQ_OK;
    if (!c1 || !as || !cnt || !share || !rem || !order) {
        rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory for two-level k-means");
        goto out;
    }
    if ((rc = vq__kmeans(x, n, d, k1, &top, c1, as, NULL, err))) goto out;
    for (size_t i = 0; i < n; i++) cnt[as[i]]++;
    size_t given = 0;
    for (unsigned j = 0; j < k1; j++) {
        double want = (double)nlist * (double)cnt[j] / (double)n;
        share[j] = (size_t)want;
        if (share[j] > cnt[j]) share[j] = cnt[j];
        rem[j] = want - (double)share[j];
        given += share[j];
    }
    while (given < nlist) { /* largest remainder among clusters with points to spare */
        unsigned best = k1;
        for (unsigned j = 0; j < k1; j++)
            if (share[j] < cnt[j] && (best == k1 || rem[j] > rem[best])) best = j;
        if (best == k1) break;
        share[best]++;
        rem[best] -= 1.0;
        given++;
    }
    if (given < nlist) { /* fewer distinct cells than nlist: only possible when n < nlist */
        rc = vq_err_set(err, VQ_EINVAL, "n", "IVF training with nlist=%u needs at least %u points",
                        nlist, nlist);
        goto out;
    }
    /* Points grouped by top cluster (counting sort), then each group clustered alone. */
    size_t *off = vq_calloc((size_t)k1 + 1, sizeof(size_t));
    size_t maxc = 0;
    if (!off) {
        rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory for two-level k-means");
        goto out;
    }
    for (unsigned j = 0; j < k1; j++) {
        off[j + 1] = off[j] + cnt[j];
        if (cnt[j] > maxc) maxc = cnt[j];
    }
    for (size_t i = 0; i < n; i++) order[off[as[i]]++] = i;
    for (unsigned j = k1; j > 0; j--) off[j] = off[j - 1];
    off[0] = 0;
    xs = vq_malloc(maxc * d * sizeof(float) + 1);
    if (!xs) rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory for two-level k-means");
    size_t at = 0;
    for (unsigned j = 0; rc == VQ_OK && j < k1; j++) {
        if (!share[j]) continue;
        for (size_t t = 0; t < cnt[j]; t++)
            memcpy(xs + t * d, x + order[off[j] + t] * d, d * sizeof(float));
        vq_kmeans_params sub = *p;
        sub.seed = p->seed + 0x9e3779b97f4a7c15ull * (j + 1);
        sub.init = share[j] > 64 ? VQ_KMEANS_RANDOM : VQ_KMEANS_PLUSPLUS;
        rc = vq__kmeans(xs, cnt[j], d, share[j], &sub, c + at * d, NULL, NULL, err);
        at += share[j];
    }
    vq_free(off);
out:
    vq_free(c1);
    vq_free(as);
    vq_free(cnt);
    vq_free(share);
    vq_free(rem);
    vq_free(order);
    vq_free(xs);
    return rc;
}

int vq__ivf_kmeans(const vqi_index *idx, size_t n, const float *x, unsigned nlist, unsigned iters,
                   uint64_t seed, float *c, vq_err *err) {
    vq_kmeans_params p;
    vq__kmeans_params_default(&p);
    p.iters = iters;
    p.seed = seed;
    if (nlist >= VQI_IVF_TWO_LEVEL_MIN && n >= 4 * (size_t)nlist) {
        VQ_TRY(kmeans_two_level(n, idx->d, x, nlist, &p, c, err));
        goto normalize;
    }
    /* k-means++ seeding is k sequential passes over the sample (O(n k d) without sgemm):
     * at nlist = 1024 it cost more than the ten Lloyd iterations together. A coarse
     * quantizer only needs balanced, roughly right cells (the lists are re-ranked), so it
     * seeds with random points as FAISS's IVF training does; small nlist keeps k-means++. */
    if (nlist > 64) p.init = VQ_KMEANS_RANDOM;
    VQ_TRY(vq__kmeans(x, n, idx->d, nlist, &p, c, NULL, NULL, err));
normalize:
    if (idx->metric == VQ_METRIC_COS)
        for (unsigned j = 0; j < nlist; j++) {
            float *v = c + (size_t)j * idx->d;
            float nn = idx->kf->ip(v, v, idx->d);
            if (nn > 0)
                for (unsigned t = 0; t < idx->d; t++) v[t] /= sqrtf(nn);
        }
    return VQ_OK;
}
