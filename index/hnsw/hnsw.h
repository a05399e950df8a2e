/* hnsw.h — private to index/hnsw/: the graph layout shared by build.c, search.c, delete.c
 * and graph.c.
 *
 * Layout (hnswlib's): level 0 is one contiguous array of fixed-size records, one per slot:
 *   [u32 count][u32 links[2M]]([f32 |x^|^2])[code bytes (row-major quantizer code)]
 * so a traversal step reads a node's links and its code from one place. The squared norm
 * of the decoded code is there for L2 indexes whose quantizer scores the inner product
 * faster than L2 (vq_quant_has_sqnorm: sq8's integer kernel); L2 is then
 * |q|^2 + |x^|^2 - 2<q, x^>. It is not saved (the file keeps the plain layout) but
 * recomputed from the codes on load. Upper levels (a node
 * has level L >= 1 with probability M^-L) are a per-node array of L records
 * [u32 count][u32 links[M]]. Links are slot numbers.
 *
 * Locks: a 1-byte spinlock per node guards its link lists while several threads insert
 * (only then; a single-threaded add takes none); `glock` guards entry point and max level.
 * Readers never take them: index.c's rwlock keeps searches and inserts apart.
 */
#ifndef VQI_HNSW_H
#define VQI_HNSW_H

#include <stdatomic.h>

#include "../vqi_internal.h"

typedef struct hnsw {
    unsigned M, M0;     /* links per node on upper levels / on level 0 */
    size_t rec0;        /* bytes of one level-0 record */
    size_t off_code;    /* offset of the code inside a level-0 record */
    size_t off_norm;    /* offset of |x^|^2 when has_norm */
    int has_norm;       /* L2 scored as |q|^2 + |x^|^2 + 2 * IP score */
    uint8_t *level0;    /* cap records */
    uint8_t *levels;    /* level of each slot */
    uint32_t **upper;   /* upper[slot]: levels[slot] records of (1 + M) u32, or NULL */
    atomic_flag *locks; /* one per slot */
    size_t cap;
    uint32_t entry; /* UINT32_MAX when empty */
    int max_level;
    double mult;  /* 1 / ln(M): level = floor(-ln(U) * mult) */
    uint64_t rng; /* level draws (splitmix64 state) */
    pthread_mutex_t glock;
    int mt; /* several inserting threads: take node locks */
} hnsw;

static inline hnsw *H(const vqi_index *idx) { return idx->impl; }

static inline uint32_t *hnsw_links(const hnsw *g, uint32_t slot, int level) {
    if (level == 0) return (uint32_t *)(g->level0 + (size_t)slot * g->rec0);
    return g->upper[slot] + (size_t)(level - 1) * (1 + g->M);
}
static inline const uint8_t *hnsw_code(const hnsw *g, uint32_t slot) {
    return g->level0 + (size_t)slot * g->rec0 + g->off_code;
}
static inline float *hnsw_norm(const hnsw *g, uint32_t slot) {
    return (float *)(void *)(g->level0 + (size_t)slot * g->rec0 + g->off_norm);
}
static inline unsigned hnsw_maxlinks(const hnsw *g, int level) { return level ? g->M : g->M0; }

static inline void hnsw_lock(hnsw *g, uint32_t s) {
    if (!g->mt) return;
    while (atomic_flag_test_and_set_explicit(&g->locks[s], memory_order_acquire)) {
    }
}
static inline void hnsw_unlock(hnsw *g, uint32_t s) {
    if (g->mt) atomic_flag_clear_explicit(&g->locks[s], memory_order_release);
}

int vq__hnsw_ensure(vqi_index *idx, vq_err *err);
int vq__hnsw_reserve(vqi_index *idx, size_t n, vq_err *err);
/* Selects at most m of the candidates (ascending by distance to the base) with the
 * heuristic of the HNSW paper (Algorithm 4): keep a candidate only when it is closer to the
 * base than to every neighbour kept so far. cand is sorted in place; returns the count
 * written to out. */
size_t vq__hnsw_select(const vqi_index *idx, vqi_cand *cand, size_t n, unsigned m, uint32_t *out);

int vq__hnsw_add(vqi_index *idx, size_t slot0, size_t n, const float *x, vq_err *err);
int vq__hnsw_search(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                    vq_err *err);
int vq__hnsw_compact(vqi_index *idx, const uint32_t *o2n, size_t n_new, vq_err *err);
int vq__hnsw_searcher_init(vqi_searcher *s, vq_err *err);

#endif
