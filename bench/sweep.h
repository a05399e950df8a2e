/* sweep.h — the recall/latency sweep runner behind `vqdb bench`.
 *
 * A target is anything that can build over a base set and answer top-k queries: a vqdb index
 * (cli/cmd_bench.c wraps index/), hnswlib (bench/baseline_hnswlib.h), FAISS through its C API
 * (bench/baseline_faiss.c), or a brute-force scan (tests). The runner builds the target once
 * (timed), warms it up with one untimed pass over the queries, then for every value of every
 * sweep parameter the target accepts ("ef", "nprobe"):
 *   - times each query on its own (single thread) for p50/p99 latency; QPS is the number of
 *     queries over the summed time of the pass; recall@k against ground truth;
 *   - then, when threads > 1, runs the queries split over that many threads (QPS = queries /
 *     wall time; latency percentiles over all per-query times).
 * A target that accepts none of the sweep keys gets one point with its default parameters.
 *
 * Isolation: vq_sweep_run_isolated forks a child per target, so a baseline that aborts (FAISS
 * 1.7.3's fast-scan assertion, see STACK.md) costs its rows, not the run. Points travel back
 * through a pipe as fixed-size records.
 *
 * Output: one JSON object per point, one per line (vq_sweep_point_json).
 *
 * Thread safety: a target's search must be callable concurrently with distinct tid values
 * after prepare(nthreads); everything else runs on one thread. The runner itself keeps no
 * global state.
 */
#ifndef VQ_SWEEP_H
#define VQ_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQ_SWEEP_NAME_MAX 256u
#define VQ_SWEEP_PARAMS_MAX 96u
#define VQ_SWEEP_MAX_KEYS 4u
#define VQ_SWEEP_MAX_VALUES 64u
#define VQ_SWEEP_THREADS_MAX 256u
#define VQ_SWEEP_K_MAX 1024u
#define VQ_SWEEP_TARGETS_MAX 32

typedef struct vq_sweep_target {
    char name[VQ_SWEEP_NAME_MAX]; /* the "index" column: the SPEC, "faiss:...", "hnswlib:..." */
    void *ctx;
    /* Builds over x (n * d floats, row-major) with up to `threads` threads. */
    int (*build)(void *ctx, const float *x, size_t n, size_t d, vq_metric metric, unsigned threads,
                 vq_err *err);
    /* Sets a sweep parameter; VQ_EUNSUPPORTED when the target has no such knob. */
    int (*set_param)(void *ctx, const char *key, unsigned value, vq_err *err);
    /* Allocates per-thread scratch for search calls with tid < nthreads. */
    int (*prepare)(void *ctx, unsigned nthreads, vq_err *err);
    /* Top-k ids (closest first; -1 pads) for one query of d floats. */
    int (*search)(void *ctx, unsigned tid, const float *q, unsigned k, int64_t *ids, vq_err *err);
    /* In-memory bytes of the index per vector without / with only the re-rank vectors. */
    void (*stats)(void *ctx, double *bytes_per_vector, double *rerank_bytes_per_vector);
    /* Free text for the "impl" column (ISA, library version); may be NULL. */
    const char *(*describe)(void *ctx);
    void (*destroy)(void *ctx);
} vq_sweep_target;

typedef struct vq_sweep_config {
    const char *dataset; /* "dataset" column */
    const float *base;   /* n * d floats */
    size_t n, d;
    const float *queries; /* nq * d floats */
    size_t nq;
    const int32_t *gt; /* nq * gt_k ids, closest first */
    size_t gt_k;
    vq_metric metric;
    unsigned k;
    unsigned threads;       /* search threads of the second pass; 1: single-thread rows only */
    unsigned build_threads; /* threads for build; 0: same as threads */
    unsigned repeat;        /* timed passes per point; the one with the median QPS is reported */
    size_t nkeys;
    const char *keys[VQ_SWEEP_MAX_KEYS]; /* "ef", "nprobe" */
    size_t nvalues[VQ_SWEEP_MAX_KEYS];
    unsigned values[VQ_SWEEP_MAX_KEYS][VQ_SWEEP_MAX_VALUES];
    /* Progress: called after each query pass with (done, total) passes; may be NULL. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} vq_sweep_config;

typedef struct vq_sweep_point {
    char dataset[VQ_SWEEP_NAME_MAX];
    char index[VQ_SWEEP_NAME_MAX];
    char params[VQ_SWEEP_PARAMS_MAX]; /* "ef=64" or "" */
    char impl[VQ_SWEEP_NAME_MAX];
    char metric[8];
    uint64_t n, d, nq;
    unsigned threads, build_threads, k;
    double recall_at_k, qps, p50_ms, p99_ms, build_s, bytes_per_vector, rerank_bytes_per_vector;
    int status;                  /* VQ_OK, or the failure of this target (msg says why) */
    char msg[VQ_SWEEP_NAME_MAX]; /* empty on success */
} vq_sweep_point;

/* Parses "ef=16,32,64" into cfg->keys/values (appends one key). */
int vq_sweep_parse(vq_sweep_config *cfg, const char *arg, vq_err *err);

/* Runs one target in this process; emit is called for each point (also a failure point with
 * status < 0 when build or a search fails). Returns the first failure or VQ_OK. */
int vq_sweep_run(const vq_sweep_config *cfg, vq_sweep_target *t,
                 void (*emit)(void *ctx, const vq_sweep_point *p), void *emit_ctx, vq_err *err);
/* Every target in this process, built one after the other and then measured interleaved:
 * for each sweep value and thread count, the R timed passes go round the targets (pass r of
 * target 1, pass r of target 2, ..., then pass r+1), and each target reports its fastest.
 * Load on a shared machine that comes and goes then falls on every target alike instead of
 * on whichever ran during it, so the ratios between targets are what stays comparable.
 * Points are emitted per (value, threads) for every target. Targets accepting no sweep key
 * are measured once, interleaved among themselves. Returns the first failure or VQ_OK. */
int vq_sweep_run_interleaved(const vq_sweep_config *cfg, vq_sweep_target *t, size_t nt,
                             void (*emit)(void *ctx, const vq_sweep_point *p), void *emit_ctx,
                             vq_err *err);
/* The same in a forked child; the target's destroy runs in the child. If the child dies, one
 * failure point naming the signal is emitted. */
int vq_sweep_run_isolated(const vq_sweep_config *cfg, vq_sweep_target *t,
                          void (*emit)(void *ctx, const vq_sweep_point *p), void *emit_ctx,
                          vq_err *err);

/* Writes p as one JSON line (with trailing newline). */
void vq_sweep_point_json(FILE *f, const vq_sweep_point *p);

/* Mean over queries of |ids[i][0..k) ∩ gt[i][0..k)| / k. */
double vq_sweep_recall(const int64_t *ids, size_t ids_stride, const int32_t *gt, size_t gt_k,
                       size_t nq, unsigned k);
/* The p-quantile (0..1) of x[0..n) by nearest rank; sorts x in place. */
double vq_sweep_percentile(double *x, size_t n, double p);
/* QPS at recall r along a curve of (recall, qps) points: linear interpolation in recall of
 * log(qps) between the two points that bracket r, taking the curve in order of recall; when
 * points lie exactly at r, the fastest of them.
 * Returns VQ_ENOTFOUND when no point reaches r, or when r is below every point (the curve
 * does not go down that far: the lowest point's QPS is then a lower bound, not a value). */
int vq_sweep_qps_at_recall(const double *recall, const double *qps, size_t n, double r,
                           double *out);

/* Exact top-k by brute force with the dispatched f32 kernels, blocked for cache reuse and
 * split over threads by query. COS normalizes copies of both sides. out: nq * k ids. */
int vq_sweep_ground_truth(const float *base, size_t n, const float *queries, size_t nq, size_t d,
                          unsigned k, vq_metric metric, unsigned threads, int32_t *out,
                          vq_err *err);

/* Baseline targets. params/factory come from `--baseline hnswlib:PARAMS` and
 * `--baseline faiss:FACTORY[@key=value,...]`; the target's name is the whole argument.
 * hnswlib: "m=16,efc=200" (bench/baseline_hnswlib.cpp). faiss: any index_factory string,
 * optionally followed by '@' and FAISS ParameterSpace settings applied after training, e.g.
 * "IVF1024,PQ32x4fs,RFlat@k_factor_rf=4" (bench/baseline_faiss.c). */
int vq_hnswlib_target(const char *params, vq_sweep_target *out, vq_err *err);
int vq_faiss_target(const char *factory, vq_sweep_target *out, vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
