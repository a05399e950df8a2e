/* fusion.h — combining ranked candidate lists into one ranking (hybrid retrieval).
 *
 * Input: any number of lists, each holding distinct document ids with scores where larger
 * is better (dense distances are negated by the caller), best first, and a weight.
 * Output: the union of the ids with their fused score, best first; ties are broken by the
 * smaller id, so the result is a deterministic function of the input.
 *
 *   RRF (reciprocal rank fusion, Cormack et al. 2009; the definition Milvus and Qdrant use):
 *     fused(d) = sum over lists l holding d of  w_l / (rrf_k + rank_l(d)),
 *     rank 1-based within the list, rrf_k >= 0 (default 60). Only ranks matter, so lists
 *     with incomparable scores (BM25, inner products, distances) combine without scaling.
 *   Weighted fusion of normalized scores:
 *     fused(d) = sum over lists l holding d of  w_l * norm_l(score_l(d)),
 *     min-max:  norm(s) = (s - min_l) / (max_l - min_l), in [0, 1]; a list whose scores are
 *               all equal maps them to 1 (every member is its list's best);
 *     z-score:  norm(s) = (s - mean_l) / sd_l with the population standard deviation; a
 *               list with sd 0 maps its scores to 0.
 *     A document absent from a list gets no contribution from it (0): for min-max that is
 *     the value of the list's worst member, for z-score that of its mean.
 *
 * Thread safety: the functions are pure (no shared state); call them from any thread.
 */
#ifndef VQ_ENGINE_FUSION_H
#define VQ_ENGINE_FUSION_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_RRF_K_DEFAULT 60.0
#define VQE_RRF_K_MIN 0.0
#define VQE_RRF_K_MAX 1e6
#define VQE_FUSION_WEIGHT_MAX 1e6 /* weights are finite, in [0, VQE_FUSION_WEIGHT_MAX] */

typedef enum vqe_fusion_kind {
    VQE_FUSION_RRF = 0,      /* reciprocal rank fusion */
    VQE_FUSION_WEIGHTED = 1, /* weighted sum of normalized scores */
    VQE_FUSION_NONE = 2      /* one list only: its own scores, unchanged */
} vqe_fusion_kind;

typedef enum vqe_norm_kind { VQE_NORM_MINMAX = 0, VQE_NORM_ZSCORE = 1 } vqe_norm_kind;

typedef struct vqe_fusion_params {
    vqe_fusion_kind kind; /* default RRF */
    double rrf_k;         /* RRF constant, VQE_RRF_K_MIN..MAX, default 60 */
    vqe_norm_kind norm;   /* VQE_FUSION_WEIGHTED: the per-list normalization, default min-max */
} vqe_fusion_params;
void vqe_fusion_params_default(vqe_fusion_params *p);
/* "rrf", "weighted:norm=minmax", "weighted:norm=zscore" ("weighted" alone is min-max),
 * optionally "rrf:k=20"; "none". Errors name "fusion". */
int vqe_fusion_parse(const char *s, vqe_fusion_params *p, vq_err *err);

/* One ranked list: n distinct ids, best first (scores non-increasing), larger is better. */
typedef struct vqe_rank_list {
    const uint32_t *ids;  /* n ids */
    const double *scores; /* n finite scores */
    size_t n;
    double weight; /* finite, 0..VQE_FUSION_WEIGHT_MAX */
} vqe_rank_list;

typedef struct vqe_fused {
    uint32_t id;
    double score; /* larger is better */
} vqe_fused;

/* Fuses n_lists lists. *out (vq_malloc'd, free with vq_free) receives the union of the ids,
 * best first; *n_out its size. Errors: VQ_EINVAL naming "lists[i]" for a NULL list, a
 * duplicate id, scores out of order or not finite, a bad weight; "fusion" for bad params
 * or NONE with more than one list. */
int vqe_fuse(const vqe_fusion_params *p, const vqe_rank_list *lists, size_t n_lists,
             vqe_fused **out, size_t *n_out, vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
