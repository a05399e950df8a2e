/* query.h — hybrid queries over one collection: any number of dense, BM25 text and sparse
 * sub-queries, one filter for all of them, fused into one ranking (fusion.h).
 *
 * Pipeline (vqe_query), all under the collection's shared lock so every stage sees the same
 * records:
 *   1. the filter (if any) is evaluated once to the bitmap of live ids it allows;
 *   2. each sub-query produces its own candidate list of up to `prefetch` ids, restricted to
 *      that bitmap, best first:
 *        dense   the planner of vqe_search (exact scan or filtered index search, never
 *                fewer than min(prefetch, matches)); its score is -distance (larger is
 *                better: -squared L2, <q,x> for ip, cos - 1 for cos);
 *        text    exact BM25 top-k (MaxScore, text.h) over the collection's text field,
 *                scored as SQLite FTS5's bm25() with k1 = 1.2, b = 0.75 and statistics
 *                (N, avgdl, df) over the live records that have the field;
 *        sparse  exact inner-product top-k (MaxScore) over a sparse field;
 *      a text or sparse list holds only records sharing at least one term with the query,
 *      so it can be shorter than prefetch even when more records match the filter;
 *   3. the lists are fused (RRF by default; fusion NONE keeps a single list's own scores);
 *   4. the best k of the fused pool are returned with their user ids.
 * Later stages (diversity, graph expansion) run between 3 and 4 over the whole fused pool.
 *
 * Thread safety: vqe_query may run concurrently with other searches and with writes (as
 * vqe_search); a vqe_query_result belongs to its caller.
 */
#ifndef VQ_ENGINE_QUERY_H
#define VQ_ENGINE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "diversity.h"
#include "engine.h"
#include "fusion.h"
#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_SUBQUERIES_MAX 16
#define VQE_PREFETCH_DEFAULT 100 /* prefetch 0: max(k, VQE_PREFETCH_DEFAULT) */
#define VQE_PREFETCH_MAX VQE_K_MAX

typedef enum vqe_sub_kind {
    VQE_SUB_DENSE = 1,  /* a vector of the collection's dimension */
    VQE_SUB_TEXT = 2,   /* BM25 over the text field */
    VQE_SUB_SPARSE = 3, /* inner product over a sparse field */
} vqe_sub_kind;

typedef struct vqe_subquery {
    vqe_sub_kind kind;
    /* TEXT: NULL or the text field's name; SPARSE: a sparse field's name, or NULL when the
     * schema has exactly one sparse field. */
    const char *field;
    const float *vector; /* DENSE: dim floats, finite */
    unsigned ef;         /* DENSE: index search effort (0: the index default) */
    const char *text;    /* TEXT: UTF-8, text_len bytes <= VQE_TEXT_MAX (terms are ORed, as
                            "a OR b"; a text without terms yields an empty list) */
    size_t text_len;
    const uint32_t *indices; /* SPARSE: nnz <= VQE_SPARSE_NNZ_MAX indices, any order, unique */
    const float *values;     /* SPARSE: nnz finite weights */
    size_t nnz;
    unsigned prefetch; /* candidates this sub-query contributes, 1..VQE_PREFETCH_MAX; 0: default */
    double weight;     /* fusion weight, (0, VQE_FUSION_WEIGHT_MAX]; 0: 1 */
} vqe_subquery;
/* Zeroes s and sets kind (prefetch and weight take their defaults). */
void vqe_subquery_init(vqe_subquery *s, vqe_sub_kind kind);

typedef struct vqe_query_params {
    const vqe_subquery *subs; /* n_subs sub-queries, 1..VQE_SUBQUERIES_MAX */
    size_t n_subs;
    const vqe_filter *filter; /* NULL: none; must be bound (vqe_filter_bind) */
    vqe_fusion_params fusion; /* NONE requires n_subs == 1 */
    unsigned k;               /* results, 1..VQE_K_MAX */
    /* After fusion (graph.h): mode NONE = no expansion; otherwise the top k fused hits are
     * the seeds, the query vector is the first dense sub-query's (none: proximity only),
     * and the pool becomes the seeds plus the records reached, scored by the blend. */
    vqe_graph_params graph;
    /* Then (diversity.h): method TOPK = plain cut to k; MMR / FL select k from the pool with
     * relevance = pool scores min-max normalized to [0, 1] (k and sim: this k, cosine). */
    vqe_diversity_params diversity;
} vqe_query_params;
/* No sub-queries, no filter, RRF with k = 60, k = 10. */
void vqe_query_params_default(vqe_query_params *p);

typedef struct vqe_qhit {
    uint32_t internal;
    double score; /* fused score, larger is better */
    vqe_id id;    /* id.s points into the collection; valid while the collection is open */
} vqe_qhit;

/* One sub-query's candidate list, best first, scores as in step 2 (larger is better). */
typedef struct vqe_sub_result {
    size_t n;
    uint32_t *internal; /* n ids */
    double *score;      /* n scores */
    double ms;          /* time spent on this sub-query */
} vqe_sub_result;

typedef struct vqe_query_result {
    vqe_qhit *hits; /* n fused hits, best first, n <= k */
    size_t n;
    size_t pool;          /* distinct candidates fused (the union of the lists) */
    vqe_sub_result *subs; /* n_subs lists, in request order */
    size_t n_subs;
    uint64_t live, matches; /* live records; of those, the ones the filter allows */
    double filter_ms, fuse_ms, total_ms;
    size_t expanded;    /* records the graph stage added to the pool */
    vqe_div_report div; /* the diversity stage's report (zeroed when it did not run) */
    double graph_ms, diversity_ms;
} vqe_query_result;

/* Runs the query. On success *out holds the result (free with vqe_query_result_free); on
 * failure *out is zeroed. Errors name "subs[i].<what>" for a bad sub-query (dimension,
 * NaN/Inf, unknown or wrong field, sparse indices/values), "k", "fusion",
 * "filter". */
int vqe_query(vqe_collection *c, const vqe_query_params *p, vqe_query_result *out, vq_err *err);
void vqe_query_result_free(vqe_query_result *r);

#ifdef __cplusplus
}
#endif
#endif
