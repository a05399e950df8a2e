/* kmeans.c — the IVF coarse quantizer: training through quant/'s shared k-means
 * (vq__kmeans: subsample to 256 points per centroid, k-means++ seeding, Lloyd iterations
 * with sgemm-tiled assignment, FAISS-style repair of empty clusters), and the assignment
 * of vectors to lists. For COS the centroids are re-normalized after training (spherical
 * clusters of unit vectors). Assignment follows the index metric: L2 through
 * vq__kmeans_assign (sgemm; the per-row kernel when that fails for lack of memory), or the
 * largest inner product for IP/COS.
 */
#include <stdlib.h>

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

int vq__ivf_kmeans(const vqi_index *idx, size_t n, const float *x, unsigned nlist, unsigned iters,
                   uint64_t seed, float *c, vq_err *err) {
    vq_kmeans_params p;
    vq__kmeans_params_default(&p);
    p.iters = iters;
    p.seed = seed;
    /* k-means++ costs O(n k d) before the first iteration: random picks for large k. */
    if (nlist > 4096) p.init = VQ_KMEANS_RANDOM;
    VQ_TRY(vq__kmeans(x, n, idx->d, nlist, &p, c, NULL, NULL, err));
    if (idx->metric == VQ_METRIC_COS)
        for (unsigned j = 0; j < nlist; j++) {
            float *v = c + (size_t)j * idx->d;
            float nn = idx->kf->ip(v, v, idx->d);
            if (nn > 0)
                for (unsigned t = 0; t < idx->d; t++) v[t] /= sqrtf(nn);
        }
    return VQ_OK;
}
