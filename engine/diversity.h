/* diversity.h — selecting a compact, representative result set from a candidate pool:
 * maximal marginal relevance (MMR) and greedy facility-location coverage.
 *
 * Input: a pool of n candidates, each a vector (n * d floats, row-major) and a relevance
 * score (larger is better; the engine passes its fused scores min-max normalized to [0, 1]).
 * Pool order matters only for ties: among equal objective values the candidate that comes
 * first in the pool wins (the engine's pool is sorted best first, so ties go to the better
 * ranked candidate).
 *
 * Similarity sim(a, b) between two candidates (vqe_sim_kind): cosine (default; 0 when
 * either vector is zero), inner product, or -||a - b||^2. It is computed with quant/'s f32
 * SIMD kernels (one candidate against a block of rows, vq_k_f32.ip_ny / l2sq_ny), in float,
 * then widened to double for the selection arithmetic.
 *
 * Methods (vqe_div_method):
 *   TOPK  the k most relevant (stable order); the baseline the reports compare against.
 *   MMR   (Carbonell & Goldstein 1998) pick by pick,
 *           argmax_{d not in S}  lambda * rel(d) - (1 - lambda) * max_{s in S} sim(d, s),
 *         with the max taken as 0 while S is empty. lambda = 1 is plain top-k, lambda = 0
 *         ignores relevance after the first pick. Costs k * n similarity evaluations.
 *   FL    facility location: maximize f(S) = sum_{p in pool} max_{s in S} sim'(p, s) with
 *         sim' = sim - m, m = the smallest pairwise similarity in the pool (so sim' >= 0 and
 *         f is monotone submodular with f({}) = 0: greedy reaches >= (1 - 1/e) of the
 *         optimum, Nemhauser, Wolsey & Fisher 1978). Relevance is not used except to break
 *         ties through pool order. Selection is lazy greedy (Minoux 1978): a max-heap of
 *         stale marginal gains, which are upper bounds by submodularity; the top is
 *         re-evaluated until it stays on top. This picks exactly what plain greedy picks
 *         (floating-point addition is monotone, so the stale bounds stay upper bounds even
 *         with rounding). Needs the pool's n x n similarity matrix: n^2 / 2 evaluations and
 *         8 n^2 bytes.
 *
 * Report (vqe_div_report), whatever the method:
 *   objective      TOPK: sum of the picked relevances; MMR: sum of the MMR scores at which
 *                  the candidates were picked; FL: f(S) as defined above.
 *   mean_pairwise  mean sim(s_i, s_j) over the pairs i < j of the selection (0 when fewer
 *                  than two are picked): lower means a less redundant result set.
 *   coverage       mean over the pool of max_{s in S} sim(p, s): how well the selection
 *                  represents the whole pool (1 for cosine when every candidate is picked).
 *
 * Thread safety: the functions keep no state; concurrent calls are independent.
 */
#ifndef VQ_ENGINE_DIVERSITY_H
#define VQ_ENGINE_DIVERSITY_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_DIV_POOL_MAX 10000u /* candidates in one pool (the FL matrix is 8 * n^2 bytes) */
#define VQE_DIV_K_MAX 10000u
#define VQE_DIV_FL_POOL_MAX 2048u /* facility location keeps the n x n matrix: 32 MiB at 2048 */
#define VQE_MMR_LAMBDA_DEFAULT 0.5
#define VQE_MMR_LAMBDA_MIN 0.0
#define VQE_MMR_LAMBDA_MAX 1.0

typedef enum vqe_div_method {
    VQE_DIV_TOPK = 0, /* plain top-k by relevance */
    VQE_DIV_MMR = 1,  /* maximal marginal relevance, lambda */
    VQE_DIV_FL = 2    /* greedy facility location */
} vqe_div_method;

typedef enum vqe_sim_kind {
    VQE_SIM_COS = 0,  /* cosine */
    VQE_SIM_IP = 1,   /* inner product */
    VQE_SIM_NEGL2 = 2 /* -||a - b||^2 */
} vqe_sim_kind;

typedef struct vqe_diversity_params {
    vqe_div_method method;
    double lambda;    /* MMR only: VQE_MMR_LAMBDA_MIN..MAX, default VQE_MMR_LAMBDA_DEFAULT */
    vqe_sim_kind sim; /* default VQE_SIM_COS */
    unsigned k;       /* picks, 1..VQE_DIV_K_MAX (fewer when the pool is smaller) */
    unsigned pool;    /* vqe_query: the best `pool` candidates considered; 0 = all of them */
} vqe_diversity_params;
/* TOPK, lambda 0.5, cosine, k 10. */
void vqe_diversity_params_default(vqe_diversity_params *p);
/* Parses "mmr", "mmr:lambda=0.3", "fl", "topk" (the CLI's --diversity); k is not touched.
 * VQ_EINVAL naming "diversity" or "diversity.lambda". */
int vqe_diversity_parse(const char *s, vqe_diversity_params *p, vq_err *err);
/* "topk", "mmr", "fl". */
const char *vqe_div_method_name(vqe_div_method m);

typedef struct vqe_div_report {
    size_t n_sel;
    double objective;
    double mean_pairwise;
    double coverage;
    double sim_evals; /* similarity evaluations done (vector pairs) */
    double ms;        /* time spent in the call */
} vqe_div_report;

/* Selects min(p->k, n) candidates of the pool. vecs: n * d floats, row-major, finite;
 * rel: n finite relevance scores (larger is better). Writes the pool indices of the picks
 * in pick order into sel[] (room for min(k, n)) and fills rep (may be NULL). n = 0 selects
 * nothing. Errors: VQ_EINVAL ("diversity.method", "diversity.lambda", "diversity.sim",
 * "diversity.k", "pool"), VQ_ETOOBIG ("pool": n > VQE_DIV_POOL_MAX), VQ_EDIM ("pool.d"),
 * VQ_ENOTFINITE ("pool.vectors[i][j]", "pool.relevance[i]"), VQ_ENOMEM. */
int vqe_diversity_select(const vqe_diversity_params *p, size_t n, unsigned d, const float *vecs,
                         const double *rel, uint32_t *sel, vqe_div_report *rep, vq_err *err);

/* The report of a given selection (sel: n_sel distinct pool indices) without selecting:
 * objective as for method p->method (MMR: the scores the picks would have had in this
 * order), mean pairwise similarity and coverage. Used to score plain top-k against the
 * diversified sets with one definition. */
int vqe_diversity_report(const vqe_diversity_params *p, size_t n, unsigned d, const float *vecs,
                         const double *rel, const uint32_t *sel, size_t n_sel, vqe_div_report *rep,
                         vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
