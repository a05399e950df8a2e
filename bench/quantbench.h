/* quantbench.h — the measurements behind `vqdb quant-bench`: distortion, inner-product
 * error and bias, training, encoding and scanning speed of one quantizer on one data set,
 * kept apart from argument parsing so that tests can check the arithmetic.
 *
 * Definitions (x_i base rows, i = 1..n; q_j queries, j = 1..nq; x^_i the decoded code;
 * e_ij = est_ij - <q_j, x_i>, where est_ij is the quantizer's inner-product estimate:
 * the query prepared with VQ_METRIC_IP and the score negated, i.e. exactly what a search
 * by inner product ranks by):
 *   mse_rel      = sum_i |x_i - x^_i|^2 / sum_i |x_i|^2
 *   ip_rel_err   = sum_ij |e_ij| / sum_ij |<q_j, x_i>|
 *   ip_bias      = (1 / (n nq)) sum_ij e_ij
 *   ip_rel_bias  = ip_bias / ((1 / (n nq)) sum_ij <q_j, x_i>)
 *   ip_bias_se   = sqrt(sum_i (m_i - ip_bias)^2 / ((n - 1) n)), m_i = (1 / nq) sum_j e_ij:
 *                  the standard error of the mean over base vectors of their mean errors,
 *                  since one code's errors against all queries are correlated.
 * Speeds are medians over repeated samples after one discarded warm-up run; a sample loops
 * until it lasts at least min_sample_s. scan_* time vq_quant_score over the packed codes of
 * all n base vectors for one prepared query (the dispatched kernels, then VQ_ISA_SCALAR).
 * A figure that does not apply is NaN (printed as JSON null).
 *
 * Thread safety: reentrant; inputs are only read.
 */
#ifndef VQ_QUANTBENCH_H
#define VQ_QUANTBENCH_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

#define VQ_QB_REPEATS_DEFAULT 5u
#define VQ_QB_REPEATS_MAX 101u
#define VQ_QB_THREADS_MAX 256u

typedef struct vq_qb_params {
    vq_metric metric;    /* metric of the scan timing: L2 or IP */
    unsigned repeats;    /* timed samples per speed figure (median); 1..VQ_QB_REPEATS_MAX */
    double min_sample_s; /* a sample repeats its work until it lasts this long */
    double budget_s;     /* stop adding samples to one figure after this many seconds */
    unsigned threads;    /* encode and scan threads, 1..VQ_QB_THREADS_MAX (FAISS: OpenMP) */
} vq_qb_params;

vq_qb_params vq_qb_params_default(void);

/* The data: n base rows and nq queries of d floats, row-major and finite. */
typedef struct vq_qb_data {
    const float *base;
    size_t n;
    const float *queries;
    size_t nq;
    size_t d;
} vq_qb_data;

typedef struct vq_qb_row {
    char spec[VQ_SPEC_MAX + 16]; /* as given by the user ("faiss:PQ16" for baselines) */
    size_t d, n;
    double bytes_per_vector, mse_rel, ip_rel_err, ip_bias, ip_rel_bias, ip_bias_se;
    double train_s, encode_vec_per_s, scan_codes_per_s, scan_gbps, scalar_scan_codes_per_s;
} vq_qb_row;

/* Fills every figure of row with NaN and sets spec, d and n. */
void vq_qb_row_init(vq_qb_row *row, const char *spec, size_t d, size_t n);

/* Streaming accumulator of the inner-product statistics: add one query's estimates and
 * true inner products against all n base rows at a time. */
typedef struct vq_qb_ipacc {
    size_t n, nq;
    double *err_sum; /* n: sum over queries of e_ij, per base row */
    double sum_err, sum_abs_err, sum_true, sum_abs_true;
} vq_qb_ipacc;

int vq_qb_ipacc_init(vq_qb_ipacc *a, size_t n, vq_err *err);
void vq_qb_ipacc_add(vq_qb_ipacc *a, const float *est, const float *truth);
/* Writes ip_rel_err, ip_bias, ip_rel_bias and ip_bias_se into row. */
void vq_qb_ipacc_finish(const vq_qb_ipacc *a, vq_qb_row *row);
void vq_qb_ipacc_free(vq_qb_ipacc *a);

/* Measures one quantizer given by spec (trained on all n base rows). */
int vq_qb_quant(const char *spec, const vq_qb_data *data, const vq_qb_params *p, vq_qb_row *row,
                vq_err *err);

/* Scan speed alone (no quality figures): trains spec on the first train_n rows of base,
 * encodes and packs all n, and times vq_quant_score over them for one query prepared
 * under p->metric, with the dispatched kernels and with VQ_ISA_SCALAR. */
int vq_qb_scan_speed(const char *spec, const float *base, size_t n, size_t d, size_t train_n,
                     const float *query, const vq_qb_params *p, double *codes_per_s,
                     double *scalar_codes_per_s, double *gbps, vq_err *err);

/* The kernel figures of `quant-bench --kernels`, one JSON object per call of emit:
 *   f32_l2sq:      the f32 L2 kernel at dimension d on rows that stay in cache, dispatched
 *                  vs the scalar reference (ratio = scalar time / SIMD time);
 *   f32_flat_scan: the one-query-many-rows L2 kernel over n x d generated floats, in GB/s,
 *                  vs the plain read loop of membw.h over the same buffer, same run
 *                  (fraction = scan GB/s / read GB/s);
 *   scan:<spec>:   for each registered spec of a fixed list (4-bit fast-scan PQ, 8-bit PQ,
 *                  sq8, fp16, tq, rabitq, bin), packed-code scan with the dispatched kernels
 *                  vs the scalar reference over n codes.
 * Single-threaded regardless of p->threads. */
int vq_qb_kernels(size_t n, size_t d, const vq_qb_params *p,
                  void (*emit)(void *ctx, const char *json), void *ctx, vq_err *err);

/* Median seconds per call of fn(ctx): one discarded warm-up call, then up to p->repeats
 * samples of as many calls as fill p->min_sample_s, stopping early past p->budget_s (at
 * least one sample). */
double vq_qb_time(void (*fn)(void *ctx), void *ctx, const vq_qb_params *p);

/* One JSON object (no newline) with exactly the row's fields, NaN as null. The caller
 * frees the string with free(). NULL when out of memory. */
char *vq_qb_row_json(const vq_qb_row *row);

#endif
