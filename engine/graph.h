/* graph.h — graph-augmented retrieval over a collection: user-defined typed links between
 * records, a kNN-graph overlay, and multi-hop expansion of a query's hits.
 *
 * Links: directed, typed edges between two records' user ids (document -> chunk, citation,
 * next-chunk, related), with a positive weight. They are stored in RocksDB (the `links`
 * column family, key encoding at the top of store.c) in one durable batch per call, kept in
 * memory per collection (loaded at open), removed in the same batch that deletes either
 * endpoint, and kept when a record is replaced by an upsert of the same id (links name user
 * ids, not internal ids). Adding a link whose endpoints are not both live fails.
 *
 * kNN overlay: the neighbours of a record are its live neighbours in the HNSW base layer
 * (vqi_index_neighbors) when the collection's index is HNSW; otherwise, for collections of
 * at most VQE_GRAPH_EXACT_MAX live records, its exact `knn` nearest live records under the
 * collection's metric, computed on first use and cached until the next write to the
 * collection. Larger non-HNSW collections have no overlay (VQ_EUNSUPPORTED naming
 * "graph.knn" when one is asked for).
 *
 * Expansion (vqe_graph_expand): seeds are a query's hits with their scores (larger is
 * better, any scale). Each seed gets a weight r in [0.5, 1] (its score min-max normalized
 * into that range, so the last seed's neighbours still count). The graph is undirected for
 * expansion (a next-chunk link also leads back to the previous chunk), over the links whose
 * type is in type_mask plus the kNN overlay when use_knn is set.
 *   HOPS  breadth-first up to `hops` (1..VQE_GRAPH_HOPS_MAX) from the seeds; graph
 *         proximity prox(v) = max over seeds s of r_s * decay^dist(s, v).
 *   PPR   personalized PageRank (restart probability `restart`, personalization = the seed
 *         weights) on the subgraph within `hops` of the seeds, by power iteration to an L1
 *         change below 1e-10 (vqe_ppr); prox(v) = ppr(v) / max ppr.
 * At most max_nodes records are reached (closest hops first). Final score:
 *   score(v) = alpha * vsim(v) + (1 - alpha) * prox(v)
 * where vsim is the similarity to the query vector (-squared L2, inner product or cosine by
 * the metric) min-max normalized to [0, 1] over the seeds and reached records; without a
 * query vector (keyword-only queries) score = prox. Seeds have prox = r (HOPS) or their
 * PPR share. Results are sorted by score, then hops, then internal id.
 *
 * Thread safety: link writes are serialized with the collection's other writes; expansion
 * runs under the collection's shared lock like a search, concurrently with other readers.
 */
#ifndef VQ_ENGINE_GRAPH_H
#define VQ_ENGINE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_LINKS_MAX 65536u       /* links per add/remove call */
#define VQE_LINK_WEIGHT_MAX 1e6    /* weights are in (0, VQE_LINK_WEIGHT_MAX] */
#define VQE_GRAPH_HOPS_MAX 4u      /* HOPS: 1..4 (1-2 is the useful range); PPR radius */
#define VQE_GRAPH_EXACT_MAX 20000u /* exact kNN overlay for non-HNSW collections up to this */
#define VQE_GRAPH_KNN_DEFAULT 8u
#define VQE_GRAPH_KNN_MAX 256u
#define VQE_GRAPH_NODES_DEFAULT 1000u
#define VQE_GRAPH_NODES_MAX 100000u
#define VQE_PPR_RESTART_DEFAULT 0.15
#define VQE_GRAPH_DECAY_DEFAULT 0.5
#define VQE_GRAPH_ALPHA_DEFAULT 0.5

typedef enum vqe_link_type {
    VQE_LINK_NEXT = 1,   /* "next": next chunk of the same document */
    VQE_LINK_CHUNK = 2,  /* "chunk": document -> one of its chunks */
    VQE_LINK_CITE = 3,   /* "cite": citation */
    VQE_LINK_RELATED = 4 /* "related": any other user relation */
} vqe_link_type;
#define VQE_LINK_TYPE_MAX 4
/* Bit of a type in a type mask. */
#define VQE_LINK_BIT(t) (1u << (t))
/* "next", "chunk", "cite", "related"; NULL for a bad value. */
const char *vqe_link_type_name(vqe_link_type t);
int vqe_link_type_parse(const char *s, vqe_link_type *out, vq_err *err);

typedef struct vqe_link {
    vqe_id from, to;
    vqe_link_type type;
    float weight; /* (0, VQE_LINK_WEIGHT_MAX]; 0 means 1 */
} vqe_link;

/* Adds (or re-weights) n links as one durable batch (the collection's durability). Both
 * ends must be live records; a link from a record to itself is rejected. Errors name
 * "links[i].from", "links[i].to", "links[i].type", "links[i].weight". */
int vqe_link_add(vqe_collection *c, const vqe_link *links, size_t n, vq_err *err);
/* Removes the given links (absent ones are ignored; *removed, may be NULL, counts the
 * others). Weights are ignored. */
int vqe_link_remove(vqe_collection *c, const vqe_link *links, size_t n, size_t *removed,
                    vq_err *err);

typedef enum vqe_link_dir { VQE_LINKS_OUT = 1, VQE_LINKS_IN = 2, VQE_LINKS_BOTH = 3 } vqe_link_dir;
typedef struct vqe_links {
    vqe_link *links; /* n links, sorted by (direction, type, other end's key) */
    size_t n;
    void *mem; /* owns the string ids */
} vqe_links;
/* The links of one record: outgoing, incoming or both. An id with no links (or no record)
 * gives an empty list. Free with vqe_links_free. */
int vqe_link_list(vqe_collection *c, const vqe_id *id, vqe_link_dir dir, vqe_links *out,
                  vq_err *err);
void vqe_links_free(vqe_links *l);
/* Links stored in the collection. */
size_t vqe_link_count(vqe_collection *c);

/* ---- expansion ---- */
typedef enum vqe_expand_mode {
    VQE_EXPAND_NONE = 0,
    VQE_EXPAND_HOPS = 1, /* breadth-first, decay per hop */
    VQE_EXPAND_PPR = 2   /* personalized PageRank around the seeds */
} vqe_expand_mode;

typedef struct vqe_graph_params {
    vqe_expand_mode mode;
    unsigned hops;      /* HOPS: 1..VQE_GRAPH_HOPS_MAX; PPR: radius of the subgraph */
    double alpha;       /* weight of vector similarity, [0, 1] */
    double decay;       /* HOPS: proximity factor per hop, (0, 1] */
    double restart;     /* PPR: restart probability, (0, 1) */
    int use_links;      /* follow user links (default 1) */
    uint32_t type_mask; /* link types followed (VQE_LINK_BIT); 0 = all */
    int use_knn;        /* follow the kNN overlay (default 0) */
    unsigned knn;       /* overlay neighbours per record, 1..VQE_GRAPH_KNN_MAX */
    unsigned max_nodes; /* records reached at most, 1..VQE_GRAPH_NODES_MAX */
} vqe_graph_params;
/* NONE, hops 1, alpha 0.5, decay 0.5, restart 0.15, links on, knn off (8), 1000 nodes. */
void vqe_graph_params_default(vqe_graph_params *p);

typedef struct vqe_ghit {
    uint32_t internal;
    double score;  /* blended, larger is better */
    double vsim;   /* normalized vector similarity (0 without a query vector) */
    double prox;   /* graph proximity */
    uint32_t via;  /* the seed it was reached from (itself for a seed; PPR: nearest seed) */
    unsigned hops; /* distance from the nearest seed (0 for seeds) */
    vqe_id id;     /* id.s points into the collection; valid while the collection is open */
} vqe_ghit;

typedef struct vqe_graph_result {
    vqe_ghit *hits; /* n, best first */
    size_t n;
    size_t n_seeds;   /* seeds used (live, distinct) */
    size_t n_edges;   /* edges traversed */
    unsigned ppr_its; /* PPR iterations */
    double ms;
} vqe_graph_result;

/* Expands seeds (n_seeds internal ids with scores, larger is better) over the collection's
 * graph. query: dim floats or NULL. Takes the collection's shared lock. Dead or repeated
 * seeds are skipped. Free the result with vqe_graph_result_free. Errors name "graph.mode",
 * "graph.hops", "graph.alpha", "graph.decay", "graph.restart", "graph.knn",
 * "graph.max_nodes", "seeds", "query". */
int vqe_graph_expand(vqe_collection *c, const vqe_graph_params *p, const float *query,
                     const uint32_t *seeds, const double *seed_scores, size_t n_seeds,
                     vqe_graph_result *out, vq_err *err);
/* The same, for a caller that already holds the collection's shared lock (vqe_query). */
int vqe__graph_expand_locked(vqe_collection *c, const vqe_graph_params *p, const float *query,
                             const uint32_t *seeds, const double *seed_scores, size_t n_seeds,
                             vqe_graph_result *out, vq_err *err);
void vqe_graph_result_free(vqe_graph_result *r);

/* Personalized PageRank on a weighted directed graph in CSR form: node u's out-edges are
 * col[rowptr[u] .. rowptr[u+1]) with weights w (NULL: 1), all > 0 and finite. pers: n
 * non-negative weights, not all 0 (normalized here). Iterates
 *   x <- restart * p + (1 - restart) * (sum_u x_u * w(u, v) / W(u) + dangling mass * p)
 * from x = p until the L1 change is < tol (or max_iter); out: n scores summing to 1.
 * *iters (may be NULL) receives the iterations done. */
int vqe_ppr(size_t n, const size_t *rowptr, const uint32_t *col, const double *w,
            const double *pers, double restart, double tol, unsigned max_iter, double *out,
            unsigned *iters, vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
