/* kmeans.h — private k-means shared by PQ (per-subspace codebooks) and index/ (the IVF coarse
 * quantizer). Not part of the public contract: the signature may change with its callers.
 *
 * Algorithm: seeded subsample to at most max_points_per_centroid * k points (FAISS's rule,
 * 256 by default), k-means++ seeding (Arthur & Vassilvitskii 2007: D^2 sampling) or a random
 * pick, then Lloyd iterations. Assignment uses ||x||^2 - 2<x,c> + ||c||^2 with the inner
 * products from one cblas_sgemm per tile, which is what makes large k affordable. A cluster
 * that loses all its points is repaired FAISS-style: a cluster is chosen with probability
 * proportional to its size, its centroid is copied and both copies are nudged apart
 * symmetrically, and its size is split between them.
 *
 * Determinism: for a given seed and input the result is the same on every run as long as the
 * BLAS library runs with a fixed thread count (OpenBLAS's sums do not depend on the thread
 * count for sgemm's inner dimension, but set OPENBLAS_NUM_THREADS for strict reproduction).
 *
 * Thread safety: every function works only on its arguments; concurrent calls are safe.
 */
#ifndef VQ_KMEANS_H
#define VQ_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

typedef enum vq_kmeans_init {
    VQ_KMEANS_PLUSPLUS = 0, /* D^2 sampling: O(n k d), best quality */
    VQ_KMEANS_RANDOM = 1    /* k distinct random points: O(k d), for very large k */
} vq_kmeans_init;

#define VQ_KMEANS_ITERS_DEFAULT 25u
#define VQ_KMEANS_ITERS_MIN 1u
#define VQ_KMEANS_ITERS_MAX 1000u
#define VQ_KMEANS_MAX_PPC_DEFAULT 256u /* training points kept per centroid; 0 keeps all */

typedef struct vq_kmeans_params {
    unsigned iters;                   /* Lloyd iterations (stops early once nothing moves) */
    uint64_t seed;                    /* subsample, seeding and repair draws */
    unsigned max_points_per_centroid; /* subsample cap, 0 = use every point */
    vq_kmeans_init init;
} vq_kmeans_params;

void vq__kmeans_params_default(vq_kmeans_params *p);

/* Clusters x (n * d floats, row-major, finite) into k centroids (k * d floats, row-major,
 * written on success). assign (n entries, may be NULL) receives each input point's nearest
 * final centroid, computed over all n points even when training used a subsample; obj (may be
 * NULL) the mean squared distance of the points used for training at the last iteration.
 * Fails with VQ_EINVAL naming "n" when n < k (no duplicated centroids are invented), "k" when
 * k == 0, "d" when d == 0; VQ_ENOMEM when scratch cannot be allocated. */
int vq__kmeans(const float *x, size_t n, size_t d, size_t k, const vq_kmeans_params *p,
               float *centroids, uint32_t *assign, double *obj, vq_err *err);

/* Nearest centroid for each of n points: assign[i] in [0, k), dist (may be NULL) the squared
 * distance (clamped at 0 against rounding of the norm expansion). Ties go to the lower index. */
int vq__kmeans_assign(const float *x, size_t n, size_t d, const float *centroids, size_t k,
                      uint32_t *assign, float *dist, vq_err *err);

/* Draws m distinct indices of [0, n) (m <= n) into idx, sorted ascending so that gathers read
 * memory in order. Seeded; the same (n, m, seed) gives the same indices. */
int vq__kmeans_sample(size_t n, size_t m, uint64_t seed, size_t *idx, vq_err *err);

#endif
