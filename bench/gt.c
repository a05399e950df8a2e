/* gt.c — brute-force top-k (gt.h): per-thread query ranges, base blocks that stay in cache,
 * bounded heaps with (distance, id) ordering so that ties resolve the same way every time.
 * Progress is counted in an atomic by the workers and reported by the calling thread. */
#include "gt.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "kernels/f32.h"
#include "quant.h"

typedef struct gt_job {
    const float *base, *queries, *inv_norm; /* inv_norm: COS only, nb entries */
    size_t nb, d, k, block_rows;
    size_t q0, q1; /* this thread's query range */
    vq_metric metric;
    const vq_k_f32 *k32;
    float *heap_d; /* (q1 - q0) * k, max-heaps */
    int32_t *heap_i;
    size_t *heap_n; /* fill count per query */
    float *scratch; /* block_rows */
    _Atomic unsigned long long *done;
    atomic_int *finished;
} gt_job;

/* a is worse than b: farther, or as far with a larger id. */
static int worse(float da, int32_t ia, float db, int32_t ib) {
    return da > db || (da == db && ia > ib);
}

static void sift_down(float *hd, int32_t *hi, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(hd[l], hi[l], hd[m], hi[m])) m = l;
        if (r < n && worse(hd[r], hi[r], hd[m], hi[m])) m = r;
        if (m == i) return;
        float td = hd[i];
        int32_t ti = hi[i];
        hd[i] = hd[m], hi[i] = hi[m];
        hd[m] = td, hi[m] = ti;
        i = m;
    }
}

static void heap_push(float *hd, int32_t *hi, size_t *n, size_t k, float dist, int32_t id) {
    if (*n < k) {
        size_t i = (*n)++;
        hd[i] = dist, hi[i] = id;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!worse(hd[i], hi[i], hd[p], hi[p])) break;
            float td = hd[i];
            int32_t ti = hi[i];
            hd[i] = hd[p], hi[i] = hi[p];
            hd[p] = td, hi[p] = ti;
            i = p;
        }
    } else if (worse(hd[0], hi[0], dist, id)) {
        hd[0] = dist, hi[0] = id;
        sift_down(hd, hi, k, 0);
    }
}

static void *gt_worker(void *arg) {
    gt_job *j = arg;
    size_t d = j->d;
    for (size_t b0 = 0; b0 < j->nb; b0 += j->block_rows) {
        size_t m = j->nb - b0 < j->block_rows ? j->nb - b0 : j->block_rows;
        const float *blk = j->base + b0 * d;
        for (size_t q = j->q0; q < j->q1; q++) {
            const float *qv = j->queries + q * d;
            float *s = j->scratch;
            size_t h = q - j->q0;
            float *hd = j->heap_d + h * j->k;
            int32_t *hi = j->heap_i + h * j->k;
            if (j->metric == VQ_METRIC_L2) {
                j->k32->l2sq_ny(qv, blk, m, d, s);
            } else {
                j->k32->ip_ny(qv, blk, m, d, s);
                for (size_t r = 0; r < m; r++) s[r] = -s[r];
                if (j->metric == VQ_METRIC_COS)
                    for (size_t r = 0; r < m; r++) s[r] *= j->inv_norm[b0 + r];
            }
            for (size_t r = 0; r < m; r++)
                heap_push(hd, hi, &j->heap_n[h], j->k, s[r], (int32_t)(b0 + r));
        }
        atomic_fetch_add(j->done, (unsigned long long)m * (j->q1 - j->q0));
    }
    atomic_fetch_add(j->finished, 1);
    return NULL;
}

vq_gt_params vq_gt_params_default(void) {
    vq_gt_params p = {0};
    p.k = 100;
    p.metric = VQ_METRIC_L2;
    p.threads = 1;
    return p;
}

static float inv_norm_of(const vq_k_f32 *k32, const float *x, size_t d) {
    float s = k32->ip(x, x, d);
    return s > 0 ? 1.0f / sqrtf(s) : 0.0f;
}

int vq_gt_compute(const float *base, size_t nb, const float *queries, size_t nq, size_t d,
                  const vq_gt_params *p, int32_t *ids, float *dists, vq_err *err) {
    VQ_FAIL_IF(!base || !queries || !p || !ids, VQ_EINVAL, err, "gt", "null argument");
    VQ_FAIL_IF(d == 0 || d > VQ_DIM_MAX, VQ_EDIM, err, "d", "dimension %zu is outside [1, %u]", d,
               VQ_DIM_MAX);
    VQ_FAIL_IF(nb == 0 || nb > INT32_MAX, VQ_EINVAL, err, "base",
               "base rows %zu outside [1, 2^31 - 1] (ids are int32)", nb);
    VQ_FAIL_IF(nq == 0, VQ_EINVAL, err, "queries", "no query vectors");
    VQ_FAIL_IF(p->k == 0 || p->k > nb || p->k > VQ_GT_K_MAX, VQ_EINVAL, err, "k",
               "k = %zu is outside [1, %zu] (base rows, at most %u)", p->k,
               nb < VQ_GT_K_MAX ? nb : (size_t)VQ_GT_K_MAX, VQ_GT_K_MAX);
    VQ_FAIL_IF(p->metric != VQ_METRIC_L2 && p->metric != VQ_METRIC_IP && p->metric != VQ_METRIC_COS,
               VQ_EINVAL, err, "metric", "unknown metric %d", (int)p->metric);
    VQ_FAIL_IF(p->threads == 0 || p->threads > VQ_GT_THREADS_MAX, VQ_EINVAL, err, "threads",
               "threads %u is outside [1, %u]", p->threads, VQ_GT_THREADS_MAX);
    const vq_k_f32 *k32 = vq__k_f32(vq_init());
    size_t k = p->k, T = p->threads < nq ? p->threads : nq;
    size_t br = p->block_rows ? p->block_rows : (256u * 1024u) / (d * sizeof(float));
    if (br < 16) br = 16;

    float *inv_norm = NULL, *qinv = NULL;
    float *heap_d = vq_malloc(nq * k * sizeof(float));
    int32_t *heap_i = vq_malloc(nq * k * sizeof(int32_t));
    size_t *heap_n = vq_calloc(nq, sizeof(size_t));
    float *scratch = vq_malloc(T * br * sizeof(float));
    gt_job *jobs = vq_calloc(T, sizeof *jobs);
    pthread_t *tid = vq_calloc(T, sizeof *tid);
    int rc = VQ_OK;
    if (!heap_d || !heap_i || !heap_n || !scratch || !jobs || !tid) {
        rc = vq_err_set(err, VQ_ENOMEM, "gt", "out of memory for %zu x %zu results", nq, k);
        goto out;
    }
    if (p->metric == VQ_METRIC_COS) {
        inv_norm = vq_malloc(nb * sizeof(float));
        qinv = vq_malloc(nq * sizeof(float));
        if (!inv_norm || !qinv) {
            rc = vq_err_set(err, VQ_ENOMEM, "gt", "out of memory for base norms");
            goto out;
        }
        for (size_t i = 0; i < nb; i++) inv_norm[i] = inv_norm_of(k32, base + i * d, d);
        for (size_t i = 0; i < nq; i++) qinv[i] = inv_norm_of(k32, queries + i * d, d);
    }
    _Atomic unsigned long long done = 0;
    atomic_int finished = 0;
    size_t started = 0;
    for (size_t t = 0; t < T; t++) {
        gt_job *j = &jobs[t];
        j->base = base, j->queries = queries, j->inv_norm = inv_norm;
        j->nb = nb, j->d = d, j->k = k, j->block_rows = br;
        j->q0 = nq * t / T, j->q1 = nq * (t + 1) / T;
        j->metric = p->metric, j->k32 = k32;
        j->heap_d = heap_d + j->q0 * k, j->heap_i = heap_i + j->q0 * k;
        j->heap_n = heap_n + j->q0;
        j->scratch = scratch + t * br;
        j->done = &done, j->finished = &finished;
    }
    if (T == 1 && !p->progress) {
        gt_worker(&jobs[0]);
    } else {
        for (; started < T; started++)
            if (pthread_create(&tid[started], NULL, gt_worker, &jobs[started]) != 0) break;
        if (started < T) {
            /* Run the ranges that got no thread here, so a thread limit never fails a run. */
            for (size_t t = started; t < T; t++) gt_worker(&jobs[t]);
        }
        double total = (double)nq * (double)nb;
        while (p->progress && (size_t)atomic_load(&finished) < started) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
            p->progress(p->progress_ctx, (double)atomic_load(&done), total);
        }
        for (size_t t = 0; t < started; t++) pthread_join(tid[t], NULL);
    }
    if (p->progress) p->progress(p->progress_ctx, (double)nq * nb, (double)nq * nb);
    /* Heap sort each query's heap in place: repeatedly move the worst to the end. */
    for (size_t q = 0; q < nq; q++) {
        float *hd = heap_d + q * k;
        int32_t *hi = heap_i + q * k;
        for (size_t n = k; n > 1; n--) {
            float td = hd[0];
            int32_t ti = hi[0];
            hd[0] = hd[n - 1], hi[0] = hi[n - 1];
            hd[n - 1] = td, hi[n - 1] = ti;
            sift_down(hd, hi, n - 1, 0);
        }
        memcpy(ids + q * k, hi, k * sizeof(int32_t));
        if (dists) {
            float s = p->metric == VQ_METRIC_COS ? qinv[q] : 1.0f;
            for (size_t i = 0; i < k; i++) dists[q * k + i] = hd[i] * s;
        }
    }
out:
    vq_free(inv_norm);
    vq_free(qinv);
    vq_free(heap_d);
    vq_free(heap_i);
    vq_free(heap_n);
    vq_free(scratch);
    vq_free(jobs);
    vq_free(tid);
    return rc;
}
