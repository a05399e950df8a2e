/* index.h — the index contract: flat, IVF and HNSW indexes over any quant/ quantizer, and a
 * FAISS-backed index (any index_factory string), all behind one opaque handle.
 *
 * SPEC grammar (one string chooses structure, quantizer and re-rank):
 *   [pca:d=D+]STRUCTURE/QUANT[/rerank=F]
 *   STRUCTURE = flat | ivf:nlist=N[,nprobe=P] | hnsw:m=M,efc=E[,ef=EF] | faiss:FACTORY
 *   QUANT     = any quant/ spec: f32, fp16, bf16, sq8, f8e4m3, pq:m=32,bits=4, tq:bits=4,
 *               rabitq:bits=1, ... (a pca:d=D+ prefix is handed to quant/ as the
 *               quantizer's pre-transform: "pca:d=64+hnsw:m=16,efc=200/sq8" builds the graph
 *               over full vectors and encodes with "pca:d=64+sq8").
 *   rerank=F  = re-rank the best max(k*F, ef) candidates (HNSW) or k*F candidates (flat, IVF)
 *               with exact distances from the full-precision vectors the index keeps.
 *               Default 1 for f32 codes (no re-rank needed), 4 for lossy quantizers.
 *   faiss:FACTORY takes no QUANT part ("faiss:IVF1024,PQ32x4fs", "faiss:HNSW32,Flat",
 *   "faiss:IVF256,Flat"); a trailing "/rerank=F" is ignored for FAISS indexes (use a
 *   FAISS ",RFlat" / "Refine(...)" factory instead).
 * Examples: "hnsw:m=16,efc=200/sq8/rerank=4", "ivf:nlist=1024/pq:m=32,bits=4/rerank=4",
 *   "flat/rabitq:bits=1/rerank=10", "pca:d=64+flat/sq8", "flat/f32".
 *
 * Metrics: VQ_METRIC_L2 (squared Euclidean), VQ_METRIC_IP, VQ_METRIC_COS (vectors and queries
 * are normalized to unit length at add and search time; zero vectors are rejected).
 * Distances returned by search are "smaller is closer": L2 -> ||q - x||^2, IP -> -<q, x>,
 * COS -> 1 - cos(q, x).
 *
 * Ids: each vector has a uint64 external id (given to add, or sequential from the number of
 * vectors ever added when ids == NULL). Adding an id that is already live fails with
 * VQ_EEXIST (nothing from that batch is added). VQI_NO_ID marks an empty result slot.
 *
 * Life cycle: vqi_index_new -> vqi_index_train (IVF k-means, quantizer training; a no-op for
 * data-oblivious ones; add() trains on its first batch when the index is untrained and the
 * batch is large enough) -> vqi_index_add (any number of times, also after searches) ->
 * search / remove / compact / save. vqi_index_load returns a ready index.
 *
 * Filters: vqi_search_params carries an optional CRoaring bitmap of allowed ids (32-bit:
 * ids above UINT32_MAX are never in it) and/or a callback; an id is allowed when it passes
 * both that are given. Results contain only allowed, live ids, and k results come back
 * whenever at least k live ids are allowed (flat and IVF scan with the filter; HNSW
 * traverses through disallowed nodes and, when the bitmap's cardinality is small relative
 * to n (brute_force_ratio), scans the allowed ids exactly instead; IVF widens nprobe until
 * k allowed candidates are found).
 *
 * Deletes: vqi_index_remove marks tombstones (deleted ids are never returned; HNSW still
 * routes through them); vqi_index_compact reclaims them (HNSW: neighbours of deleted nodes
 * are re-linked with the selection heuristic, IVF: entries dropped from the lists, flat:
 * rows dropped).
 *
 * File format (vqi_index_save/load): "VQIX" magic, format version, index type, then
 * sections {u32 type, u64 length, u32 CRC-32, payload}; every section is verified before any
 * byte of it is trusted. A truncated or corrupted file fails with VQ_ECORRUPT naming the
 * section; a newer format version with VQ_EVERSION.
 *
 * Thread safety: many readers, one writer. Any number of threads may search concurrently,
 * each with its own vqi_searcher (or through vqi_index_search, which makes a temporary
 * one). add, remove and compact may run while searches run: the index holds a
 * pthread rwlock; writers take it exclusively for short chunks (add: batches of at most
 * VQI_ADD_CHUNK vectors), searches take it shared per query, so a search sees each chunk
 * entirely or not at all. Writers must not run concurrently with each other (the caller
 * serializes writers; a second concurrent writer is detected and fails with VQ_ESTATE).
 * train, load and free must not run concurrently with anything on the same handle. A
 * vqi_searcher belongs to one thread at a time. FAISS-backed indexes: nprobe/ef are set on
 * the shared FAISS index, so concurrent searchers should use the same values.
 */
#ifndef VQI_INDEX_H
#define VQI_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#include "quant.h"
#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vqi_index vqi_index;
typedef struct vqi_searcher vqi_searcher;

#define VQI_NO_ID UINT64_MAX
#define VQI_FORMAT_VERSION 1u
#define VQI_ADD_CHUNK 1024u

/* Tunables with their limits (checked when the spec is parsed). */
#define VQI_HNSW_M_DEFAULT 16u
#define VQI_HNSW_M_MIN 2u
#define VQI_HNSW_M_MAX 256u
#define VQI_HNSW_EFC_DEFAULT 200u
#define VQI_HNSW_EFC_MIN 1u
#define VQI_HNSW_EFC_MAX 100000u
#define VQI_EF_DEFAULT 64u
#define VQI_EF_MIN 1u
#define VQI_EF_MAX 100000u
#define VQI_IVF_NLIST_MIN 1u
#define VQI_IVF_NLIST_MAX 1048576u
#define VQI_NPROBE_DEFAULT 8u
#define VQI_RERANK_MIN 1.0f
#define VQI_RERANK_MAX 1000.0f
#define VQI_K_MAX 100000u

typedef enum vqi_type { VQI_FLAT = 0, VQI_IVF = 1, VQI_HNSW = 2, VQI_FAISS = 3 } vqi_type;

/* Build-time options that are not part of the SPEC. */
typedef struct vqi_params {
    unsigned threads;      /* threads for add/train (HNSW build, encoding); 0 or 1 = caller's */
    uint64_t seed;         /* k-means, HNSW levels, quantizer seeds not given in the spec */
    size_t train_max;      /* at most this many vectors are sampled for training (0 = all) */
    unsigned kmeans_iters; /* IVF coarse k-means iterations */
} vqi_params;
vqi_params vqi_params_default(void);

/* Creates an empty index for d-dimensional vectors. Fails with VQ_ESPEC naming the part of
 * the spec that is wrong ("spec.structure", "spec.quant", "spec.rerank", "spec.m"...). */
int vqi_index_new(const char *spec, unsigned d, vq_metric metric, vqi_index **out, vq_err *err);
/* Same with build options (NULL = vqi_params_default()). */
int vqi_index_new_params(const char *spec, unsigned d, vq_metric metric, const vqi_params *p,
                         vqi_index **out, vq_err *err);
void vqi_index_free(vqi_index *idx);

/* Trains on n * d floats, row-major (sampled to train_max). Coarse k-means for IVF, then the
 * quantizer (on residuals for IVF with residual-coded quantizers). Training twice fails with
 * VQ_ESTATE. */
int vqi_index_train(vqi_index *idx, size_t n, const float *x, vq_err *err);
int vqi_index_is_trained(const vqi_index *idx);

/* Adds n * d floats (row-major) with ids (n uint64, or NULL for sequential ids). Validates
 * every vector (finite; non-zero for COS) and every id (not live, not duplicated in the
 * batch) before changing anything. */
int vqi_index_add(vqi_index *idx, size_t n, const float *x, const uint64_t *ids, vq_err *err);

/* Marks n ids deleted. Ids that are not live are ignored; *n_removed (optional) counts the
 * ones that were. */
int vqi_index_remove(vqi_index *idx, size_t n, const uint64_t *ids, size_t *n_removed, vq_err *err);
/* Reclaims deleted entries (see the top comment). */
int vqi_index_compact(vqi_index *idx, vq_err *err);

/* Search-time options. Zero fields take the index defaults (from the spec). */
typedef struct vqi_search_params {
    unsigned ef;     /* HNSW beam width (>= k is enforced by using max(ef, k)) */
    unsigned nprobe; /* IVF lists probed */
    /* (ef and nprobe are ignored by structures they do not apply to.) */
    float rerank; /* re-rank factor, >= 1; 0 = the spec's */
    /* Filter: allowed ids. Either, both (AND) or neither. The bitmap is read, not kept. */
    const roaring_bitmap_t *filter_bitmap;
    int (*filter_fn)(uint64_t id, void *ctx); /* non-zero = allowed */
    void *filter_ctx;
    /* HNSW with a bitmap: scan the allowed ids exactly when cardinality < ratio * n.
     * 0 = default (0.02). */
    float brute_force_ratio;
} vqi_search_params;
vqi_search_params vqi_search_params_default(void);

/* Per-thread search scratch (visited set with epoch tags, heaps, quantizer query state).
 * Valid while idx lives; it grows itself when the index grows. */
int vqi_searcher_new(const vqi_index *idx, vqi_searcher **out, vq_err *err);
void vqi_searcher_free(vqi_searcher *s);

/* nq queries (nq * d floats, row-major); writes nq * k ids and distances, row-major, best
 * first; empty slots (fewer than k allowed live ids) get VQI_NO_ID and INFINITY.
 * sp may be NULL. k in 1..VQI_K_MAX. */
int vqi_searcher_search(vqi_searcher *s, size_t nq, const float *q, unsigned k,
                        const vqi_search_params *sp, uint64_t *ids, float *dists, vq_err *err);
/* Convenience: a temporary searcher per call. */
int vqi_index_search(const vqi_index *idx, size_t nq, const float *q, unsigned k,
                     const vqi_search_params *sp, uint64_t *ids, float *dists, vq_err *err);

/* One file: see the top comment. */
int vqi_index_save(const vqi_index *idx, const char *path, vq_err *err);
int vqi_index_load(const char *path, vqi_index **out, vq_err *err);
/* The same format in memory (buf allocated with vq_malloc; free with vq_free). */
int vqi_index_save_mem(const vqi_index *idx, uint8_t **buf, size_t *len, vq_err *err);
int vqi_index_load_mem(const uint8_t *buf, size_t len, vqi_index **out, vq_err *err);

typedef struct vqi_stats {
    vqi_type type;
    unsigned d;
    vq_metric metric;
    uint64_t n;         /* live vectors */
    uint64_t n_deleted; /* tombstoned, not yet compacted */
    /* In-memory bytes by part. index_bytes = graph + lists + codes + ids + quant_state:
     * what bytes_per_vector reports. vector_bytes = the full-precision copies kept for
     * re-rank (rerank_bytes_per_vector). For FAISS indexes everything is index_bytes
     * (estimated from the serialized size). */
    size_t graph_bytes;
    size_t list_bytes; /* IVF centroids and list bookkeeping */
    size_t code_bytes;
    size_t id_bytes;
    size_t quant_state_bytes;
    size_t index_bytes;
    size_t vector_bytes;
} vqi_stats;
int vqi_index_stats(const vqi_index *idx, vqi_stats *st);

/* Copies the stored full-precision vector of a live id into out (d floats; normalized for
 * COS). VQ_ENOTFOUND when the id is not live. */
int vqi_index_get_vector(const vqi_index *idx, uint64_t id, float *out, vq_err *err);
/* Non-zero when id is live. */
int vqi_index_contains(const vqi_index *idx, uint64_t id);

unsigned vqi_index_dim(const vqi_index *idx);
vq_metric vqi_index_metric(const vqi_index *idx);
vqi_type vqi_index_type(const vqi_index *idx);
/* The spec as given to vqi_index_new (valid while idx lives). */
const char *vqi_index_spec(const vqi_index *idx);
/* Live vectors. */
uint64_t vqi_index_size(const vqi_index *idx);

/* Graph-augmented retrieval: the live neighbours of id in the HNSW base layer (level 0,
 * at most 2M links), as external ids. Writes min(cap, count) ids into out and the count
 * into *n (call with cap 0 to size). VQ_EUNSUPPORTED for non-HNSW indexes, VQ_ENOTFOUND
 * when id is not live. */
int vqi_index_neighbors(const vqi_index *idx, uint64_t id, uint64_t *out, size_t cap, size_t *n,
                        vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
