/* vqi_internal.h — private to index/: the index handle layout shared by every structure
 * (slots, external ids, full vectors, tombstones, the id map, the rwlock), the per-structure
 * ops vtable, the searcher layout, the top-k heap, the epoch-tagged visited set and the
 * section writer/reader of the file format.
 *
 * Slots: every added vector gets a dense internal slot (uint32, in add order). ext_ids[slot]
 * is its external id, vecs[slot * d] its full-precision vector (normalized for COS),
 * deleted[slot] its tombstone. Structures (flat codes, IVF lists, the HNSW graph) refer to
 * slots only. compact() renumbers slots densely.
 *
 * Locks: `lock` (rwlock) — searches hold it shared per query, writers exclusively per
 * chunk; `wmutex` serializes writers (trylock: a second concurrent writer gets VQ_ESTATE).
 */
#ifndef VQI_INTERNAL_H
#define VQI_INTERNAL_H

/* IVF coarse training switches to two-level k-means from this nlist on (ivf/kmeans.c). */
#define VQI_IVF_TWO_LEVEL_MIN 256u

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "index.h"
#include "kernels/f32.h"

/* ---- id map: open addressing, uint64 external id -> uint32 slot (live ids only) ---- */
typedef struct vqi_idmap {
    uint64_t *keys;
    uint32_t *vals;
    uint8_t *used; /* 0 empty, 1 used, 2 removed */
    size_t cap, n, n_removed;
} vqi_idmap;
int vq__idmap_reserve(vqi_idmap *m, size_t n_more);
/* Returns the slot or UINT32_MAX. */
uint32_t vq__idmap_get(const vqi_idmap *m, uint64_t key);
void vq__idmap_put(vqi_idmap *m, uint64_t key, uint32_t val); /* after reserve */
void vq__idmap_del(vqi_idmap *m, uint64_t key);
void vq__idmap_free(vqi_idmap *m);
size_t vq__idmap_bytes(const vqi_idmap *m);

/* ---- top-k: a binary max-heap on distance (the worst kept candidate on top) ---- */
typedef struct vqi_cand {
    float d;
    uint32_t slot;
} vqi_cand;
typedef struct vqi_heap {
    vqi_cand *a;
    size_t n, cap;
} vqi_heap;
int vq__heap_init(vqi_heap *h, size_t cap);
void vq__heap_free(vqi_heap *h);
/* Keeps the cap smallest; returns 1 when c was kept. */
int vq__heap_push(vqi_heap *h, float d, uint32_t slot);
static inline float vq__heap_worst(const vqi_heap *h) { return h->n ? h->a[0].d : INFINITY; }
/* Sorts the heap's contents ascending in place (the heap is invalid afterwards). */
void vq__heap_sort(vqi_heap *h);
/* Min-heap (closest on top) for HNSW's candidate queue. */
int vq__minheap_push(vqi_heap *h, float d, uint32_t slot); /* grows; -1 on OOM */
vqi_cand vq__minheap_pop(vqi_heap *h);
/* Max-heap push that grows when full instead of evicting. */
int vq__heap_push_grow(vqi_heap *h, float d, uint32_t slot);
vqi_cand vq__heap_pop(vqi_heap *h);

/* ---- visited set with epoch tags: clearing is one increment ---- */
typedef struct vqi_visited {
    uint16_t *tag;
    size_t cap;
    uint16_t epoch;
} vqi_visited;
int vq__visited_reset(vqi_visited *v, size_t n); /* new epoch, grown to n */
static inline int vq__visited_test_set(vqi_visited *v, uint32_t i) {
    if (v->tag[i] == v->epoch) return 1;
    v->tag[i] = v->epoch;
    return 0;
}
void vq__visited_free(vqi_visited *v);

struct vqi_w;
struct vqi_r;

/* ---- per-structure operations ---- */
typedef struct vqi_ops {
    const char *name;
    /* Structure-specific training after the common checks (IVF k-means + quantizer). */
    int (*train)(vqi_index *idx, size_t n, const float *x, vq_err *err);
    /* Slots [slot0, slot0 + n) were appended (ids, vectors in place; x = their vectors). */
    int (*add)(vqi_index *idx, size_t slot0, size_t n, const float *x, vq_err *err);
    /* One query (already normalized for COS): fills s->res with up to kk candidates
     * (slot, approximate distance) that pass vq__allowed. */
    int (*search)(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                  vq_err *err);
    /* Drops deleted slots: old2new[slot] is the new slot or UINT32_MAX. */
    int (*compact)(vqi_index *idx, const uint32_t *old2new, size_t n_new, vq_err *err);
    int (*save)(const vqi_index *idx, struct vqi_w *w, vq_err *err);
    int (*load)(vqi_index *idx, struct vqi_r *r, vq_err *err);
    void (*stats)(const vqi_index *idx, vqi_stats *st);
    void (*destroy)(vqi_index *idx);
    /* Per-searcher scratch. */
    int (*searcher_init)(vqi_searcher *s, vq_err *err);
    void (*searcher_free)(vqi_searcher *s);
} vqi_ops;

extern const vqi_ops vq__ops_flat, vq__ops_ivf, vq__ops_hnsw, vq__ops_faiss;

struct vqi_index {
    vqi_type type;
    const vqi_ops *ops;
    unsigned d;
    vq_metric metric;
    char spec[VQ_SPEC_MAX * 2];
    char quant_spec[VQ_SPEC_MAX];
    char structure[VQ_SPEC_MAX];
    vqi_params params;
    float rerank;
    unsigned nlist, nprobe; /* IVF */
    unsigned m, efc, ef;    /* HNSW */
    vq_quant *quant;        /* NULL for FAISS */
    size_t code_size;
    int exact_codes; /* f32 codes without transform: scores are exact */
    int trained;
    int keep_vectors; /* 0 for FAISS (it keeps its own) */

    size_t n_slots, cap;
    uint64_t *ext_ids;
    float *vecs;
    uint8_t *deleted;
    size_t n_deleted;
    vqi_idmap map; /* ids outside the identity prefix */
    size_t ident;  /* slots [0, ident) hold id == slot: no map entry (see index.c id_slot) */
    uint64_t next_seq;

    pthread_rwlock_t lock;
    pthread_mutex_t wmutex;
    const vq_k_f32 *kf; /* float kernels */
    void *impl;
};

struct vqi_searcher {
    const vqi_index *idx;
    vq_query *qs;  /* quantizer query state (NULL for FAISS) */
    vqi_heap res;  /* candidates from the structure */
    vqi_heap cand; /* HNSW candidate queue */
    vqi_visited vis;
    float *qbuf; /* normalized / residual query, d floats */
    float *dbuf; /* score buffer */
    size_t dbuf_cap;
    int exact;                         /* res holds final exact distances (brute force, FAISS) */
    uint32_t nbuf[2 * VQI_HNSW_M_MAX]; /* HNSW: the unvisited neighbours of one node */
    const uint8_t *pbuf[2 * VQI_HNSW_M_MAX]; /* their codes */
    float sbuf[2 * VQI_HNSW_M_MAX];          /* their scores */
    void *impl;
};

static inline void vq__rdlock(const vqi_index *idx) {
    pthread_rwlock_rdlock((pthread_rwlock_t *)&idx->lock);
}
static inline void vq__unlock(const vqi_index *idx) {
    pthread_rwlock_unlock((pthread_rwlock_t *)&idx->lock);
}

/* Exact distance of the final results ("smaller is closer", see index.h). */
static inline float vq__exact(const vqi_index *idx, const float *q, const float *x) {
    switch (idx->metric) {
    case VQ_METRIC_L2:
        return idx->kf->l2sq(q, x, idx->d);
    case VQ_METRIC_IP:
        return -idx->kf->ip(q, x, idx->d);
    default:
        return 1.0f - idx->kf->ip(q, x, idx->d);
    }
}
/* The distance used inside structures (graph build, k-means assignment): L2 or -IP. */
static inline float vq__dist(const vqi_index *idx, const float *a, const float *b) {
    return idx->metric == VQ_METRIC_L2 ? idx->kf->l2sq(a, b, idx->d) : -idx->kf->ip(a, b, idx->d);
}
static inline const float *vq__vec(const vqi_index *idx, uint32_t slot) {
    return idx->vecs + (size_t)slot * idx->d;
}

/* Live and passing the filter of sp (NULL = no filter). */
static inline int vq__allowed(const vqi_index *idx, const vqi_search_params *sp, uint32_t slot) {
    if (idx->deleted[slot]) return 0;
    if (!sp) return 1;
    uint64_t id = idx->ext_ids[slot];
    if (sp->filter_bitmap &&
        (id > UINT32_MAX || !roaring_bitmap_contains(sp->filter_bitmap, (uint32_t)id)))
        return 0;
    if (sp->filter_fn && !sp->filter_fn(id, sp->filter_ctx)) return 0;
    return 1;
}
static inline int vq__has_filter(const vqi_search_params *sp) {
    return sp && (sp->filter_bitmap || sp->filter_fn);
}

/* Candidates to re-rank for k results. */
static inline size_t vq__rerank_count(const vqi_index *idx, const vqi_search_params *sp,
                                      unsigned k) {
    float f = sp && sp->rerank > 0 ? sp->rerank : idx->rerank;
    double c = ceil((double)k * f);
    return c < k ? k : (size_t)c;
}

/* Exact scan of the allowed ids of a bitmap (or all slots when bm is NULL) into s->res. */
int vq__brute_force(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                    vq_err *err);

/* FAISS-backed index (faiss.c): builds the FAISS index from idx->structure. */
int vq__faiss_create(vqi_index *idx, vq_err *err);

/* Packed code storage in the quantizer's blocks (flat.c; also used by IVF lists). */
typedef struct vqi_codes {
    uint8_t *blocks; /* ceil(n / block) * block_bytes */
    size_t n, cap;   /* vectors stored / capacity in vectors (a multiple of block) */
} vqi_codes;
/* Appends n row-major codes. */
int vq__codes_append(const vq_quant *q, vqi_codes *c, size_t n, const uint8_t *codes);
/* Copies code i out in row-major form. */
void vq__codes_get(const vq_quant *q, const vqi_codes *c, size_t i, uint8_t *code);
size_t vq__codes_bytes(const vq_quant *q, const vqi_codes *c);
void vq__codes_free(vqi_codes *c);
/* Scores all n codes into s->dbuf (grown as needed); returns the buffer or NULL on OOM. */
float *vq__codes_score(vqi_searcher *s, const vqi_codes *c);

/* ---- file sections (serial.c) ----
 * A growable writer (allocation failure sticks in oom) and a bounds-checked reader whose
 * every read fails with VQ_ECORRUPT naming `what` instead of reading past the end. */
typedef struct vqi_w {
    uint8_t *p;
    size_t len, cap;
    int oom;
} vqi_w;
void vq__iw_bytes(vqi_w *w, const void *src, size_t n);
void vq__iw_u32(vqi_w *w, uint32_t v);
void vq__iw_u64(vqi_w *w, uint64_t v);
void vq__iw_f32(vqi_w *w, float v);
/* Section framing: begin returns a mark; end fills in length and CRC-32. */
size_t vq__iw_sec_begin(vqi_w *w, uint32_t type);
void vq__iw_sec_end(vqi_w *w, size_t mark);

typedef struct vqi_r {
    const uint8_t *p;
    size_t len, pos;
    const char *what;
} vqi_r;
int vq__ir_bytes(vqi_r *r, void *dst, size_t n, vq_err *err);
/* Borrows n bytes in place. */
int vq__ir_ptr(vqi_r *r, const void **out, size_t n, vq_err *err);
int vq__ir_u32(vqi_r *r, uint32_t *v, vq_err *err);
int vq__ir_u64(vqi_r *r, uint64_t *v, vq_err *err);
int vq__ir_f32(vqi_r *r, float *v, vq_err *err);
int vq__ir_end(const vqi_r *r, vq_err *err);
/* Reads one section header of the expected type, verifies length and CRC, and returns a
 * reader over its payload (named `what`). */
int vq__ir_sec(vqi_r *r, uint32_t type, const char *what, vqi_r *sec, vq_err *err);

enum {
    VQI_SEC_META = 1,
    VQI_SEC_QUANT = 2,
    VQI_SEC_SLOTS = 3,
    VQI_SEC_VECS = 4,
    VQI_SEC_FLAT = 10,
    VQI_SEC_IVF = 11,
    VQI_SEC_HNSW = 12,
    VQI_SEC_FAISS = 13,
    VQI_SEC_END = 99
};

/* Shared k-means (index/ivf/kmeans.c): n * d floats into nlist centroids. */
int vq__ivf_kmeans(const vqi_index *idx, size_t n, const float *x, unsigned nlist, unsigned iters,
                   uint64_t seed, float *centroids, vq_err *err);
/* Nearest centroid of each of n vectors (metric: L2, or max IP). */
void vq__ivf_assign(const vqi_index *idx, const float *centroids, unsigned nlist, size_t n,
                    const float *x, uint32_t *assign);

#endif
