/* gt.h — exact k-nearest-neighbour ground truth by brute force with the dispatched f32
 * kernels, multi-threaded with pthreads.
 *
 * Algorithm: the queries are split into one contiguous range per thread; each thread walks
 * the base in blocks of rows small enough to stay in the L2 cache (about 256 KB), scores
 * every one of its queries against the block with the one-query-many-rows kernel and keeps
 * a bounded max-heap of the best k per query. Ties are broken by the smaller base id, so the
 * result is a pure function of the data: identical for every thread count and block size.
 *
 * Metrics: L2 ranks by squared distance, IP by -<q, x>, COS by -<q, x> / (|q| |x|) (a zero
 * vector has cosine 0 with everything). Distances reported follow the same convention
 * (smaller is closer).
 * Thread safety: reentrant; the inputs are only read.
 */
#ifndef VQ_GT_H
#define VQ_GT_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#define VQ_GT_THREADS_MAX 256u
#define VQ_GT_K_MAX 100000u

/* Called from the calling thread about ten times a second with the number of
 * (query, base row) pairs scored so far out of nq * nb. */
typedef void (*vq_gt_progress_fn)(void *ctx, double done, double total);

typedef struct vq_gt_params {
    size_t k;          /* neighbours per query, 1..min(nb, VQ_GT_K_MAX) */
    vq_metric metric;  /* L2, IP or COS */
    unsigned threads;  /* 1..VQ_GT_THREADS_MAX */
    size_t block_rows; /* base rows per block; 0 = about 256 KB of rows */
    vq_gt_progress_fn progress;
    void *progress_ctx;
} vq_gt_params;

vq_gt_params vq_gt_params_default(void);

/* base: nb * d floats, queries: nq * d floats (row-major, finite). Writes the ids of the k
 * nearest base rows of each query, nearest first, into ids (nq * k) and, when dists is not
 * NULL, their distances into dists (nq * k). */
int vq_gt_compute(const float *base, size_t nb, const float *queries, size_t nq, size_t d,
                  const vq_gt_params *p, int32_t *ids, float *dists, vq_err *err);

#endif
