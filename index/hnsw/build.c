/* build.c — HNSW insertion (Malkov & Yashunin, Algorithm 1), single- or multi-threaded.
 *
 * The graph is built over the full-precision vectors (exact distances), whatever the
 * quantizer: compressed codes only steer queries, never the construction, so the graph is
 * as good as an f32 one. Each new node draws its level (floor(-ln U / ln M)), descends
 * greedily through the levels above it, then on each of its levels runs a beam search of
 * width efConstruction, keeps M neighbours chosen by the heuristic (Algorithm 4) and adds
 * itself to each neighbour's list, re-running the heuristic when that list is full (2M on
 * level 0, M above).
 *
 * Threads: the chunk of new slots is shared out through an atomic counter; levels are drawn
 * up front (so a build is deterministic for one thread). Each thread owns its scratch
 * (visited set, heaps). A node's link lists are read and written under its spinlock; the
 * global lock guards the entry point and is held for the whole insert of a node that raises
 * the max level (as hnswlib does), so no thread descends from an entry point that is not
 * yet linked.
 */
#include <stdlib.h>

#include "hnsw.h"

typedef struct scratch {
    vqi_visited vis;
    vqi_heap top, cand;
    vqi_cand *sel; /* selection candidates */
    uint32_t *buf; /* link copy / selected */
    uint32_t *out;
} scratch;

static int scratch_init(scratch *s, const hnsw *g, size_t n, unsigned efc) {
    memset(s, 0, sizeof *s);
    size_t m = (efc > g->M0 ? efc : g->M0) + 2;
    s->sel = vq_malloc(m * sizeof *s->sel);
    s->buf = vq_malloc(m * sizeof *s->buf);
    s->out = vq_malloc(m * sizeof *s->out);
    if (!s->sel || !s->buf || !s->out) return -1;
    if (vq__visited_reset(&s->vis, n)) return -1;
    if (vq__heap_init(&s->top, efc)) return -1;
    return 0;
}

static void scratch_free(scratch *s) {
    vq__visited_free(&s->vis);
    vq__heap_free(&s->top);
    vq__heap_free(&s->cand);
    vq_free(s->sel);
    vq_free(s->buf);
    vq_free(s->out);
}

/* Copies the links of slot at level under its lock; returns the count. */
static unsigned read_links(hnsw *g, uint32_t slot, int level, uint32_t *dst) {
    hnsw_lock(g, slot);
    const uint32_t *l = hnsw_links(g, slot, level);
    unsigned c = l[0];
    memcpy(dst, l + 1, c * sizeof *dst);
    hnsw_unlock(g, slot);
    return c;
}

static inline void prefetch_vec(const vqi_index *idx, uint32_t slot) {
    const char *p = (const char *)vq__vec(idx, slot);
    size_t bytes = idx->d * sizeof(float);
    /* The first lines; the hardware prefetcher follows the rest of the row. */
    for (size_t o = 0; o < bytes && o < 256; o += 64) __builtin_prefetch(p + o);
}

/* The link list the beam will most likely expand next (the candidate heap's top). */
static inline void prefetch_links(const hnsw *g, uint32_t slot, int level) {
    const char *p = (const char *)hnsw_links(g, slot, level);
    size_t bytes = (1 + (size_t)hnsw_maxlinks(g, level)) * 4;
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(p + o);
}

/* Beam search of width ef at one level with exact distances: s->top holds the result. */
static int search_layer(const vqi_index *idx, hnsw *g, scratch *s, const float *v, uint32_t ep,
                        unsigned ef, int level, size_t n) {
    if (vq__visited_reset(&s->vis, n)) return -1;
    if (vq__heap_init(&s->top, ef)) return -1;
    s->cand.n = 0;
    float d = vq__dist(idx, v, vq__vec(idx, ep));
    vq__visited_test_set(&s->vis, ep);
    vq__heap_push(&s->top, d, ep);
    if (vq__minheap_push(&s->cand, d, ep)) return -1;
    while (s->cand.n) {
        vqi_cand c = vq__minheap_pop(&s->cand);
        if (s->top.n >= ef && c.d > vq__heap_worst(&s->top)) break;
        if (s->cand.n) prefetch_links(g, s->cand.a[0].slot, level);
        unsigned cnt = read_links(g, c.slot, level, s->buf);
        /* Drop visited neighbours first and prefetch the vectors of the rest, so the
         * distance loop below finds them in cache (the graph's random access pattern is
         * what bounds the build, not the arithmetic). */
        unsigned nn = 0;
        for (unsigned j = 0; j < cnt; j++) {
            uint32_t nb = s->buf[j];
            if (vq__visited_test_set(&s->vis, nb)) continue;
            s->buf[nn++] = nb;
            prefetch_vec(idx, nb);
        }
        for (unsigned j = 0; j < nn; j++) {
            uint32_t nb = s->buf[j];
            float dn = vq__dist(idx, v, vq__vec(idx, nb));
            if (s->top.n < ef || dn < vq__heap_worst(&s->top)) {
                if (vq__minheap_push(&s->cand, dn, nb)) return -1;
                vq__heap_push(&s->top, dn, nb);
            }
        }
    }
    return 0;
}

/* Adds `node` to the list of `nb` at level, pruning with the heuristic when full. */
static void link_back(const vqi_index *idx, hnsw *g, scratch *s, uint32_t nb, uint32_t node,
                      float d, int level) {
    unsigned maxl = hnsw_maxlinks(g, level);
    hnsw_lock(g, nb);
    uint32_t *l = hnsw_links(g, nb, level);
    for (unsigned j = 0; j < l[0]; j++)
        if (l[1 + j] == node) {
            hnsw_unlock(g, nb);
            return;
        }
    if (l[0] < maxl) {
        l[1 + l[0]++] = node;
    } else {
        const float *vb = vq__vec(idx, nb);
        size_t m = 0;
        for (unsigned j = 0; j < l[0]; j++)
            s->sel[m++] = (vqi_cand){vq__dist(idx, vb, vq__vec(idx, l[1 + j])), l[1 + j]};
        s->sel[m++] = (vqi_cand){d, node};
        size_t k = vq__hnsw_select(idx, s->sel, m, maxl, s->out);
        memcpy(l + 1, s->out, k * sizeof *s->out);
        l[0] = (uint32_t)k;
    }
    hnsw_unlock(g, nb);
}

static int insert(vqi_index *idx, hnsw *g, scratch *s, uint32_t node, size_t n) {
    const float *v = vq__vec(idx, node);
    int level = g->levels[node];
    pthread_mutex_lock(&g->glock);
    uint32_t ep = g->entry;
    int maxl = g->max_level;
    if (ep == UINT32_MAX) {
        g->entry = node;
        g->max_level = level;
        pthread_mutex_unlock(&g->glock);
        return 0;
    }
    int hold = level > maxl;
    if (!hold) pthread_mutex_unlock(&g->glock);
    uint32_t cur = ep;
    float dcur = vq__dist(idx, v, vq__vec(idx, cur));
    for (int l = maxl; l > level; l--) {
        for (int changed = 1; changed;) {
            changed = 0;
            unsigned cnt = read_links(g, cur, l, s->buf);
            for (unsigned j = 0; j < cnt; j++) {
                float d = vq__dist(idx, v, vq__vec(idx, s->buf[j]));
                if (d < dcur) {
                    dcur = d;
                    cur = s->buf[j];
                    changed = 1;
                }
            }
        }
    }
    for (int l = level < maxl ? level : maxl; l >= 0; l--) {
        if (search_layer(idx, g, s, v, cur, idx->efc, l, n)) {
            if (hold) pthread_mutex_unlock(&g->glock);
            return -1;
        }
        size_t m = s->top.n;
        memcpy(s->sel, s->top.a, m * sizeof *s->sel);
        size_t k = vq__hnsw_select(idx, s->sel, m, g->M, s->out);
        /* s->sel is now sorted: its first entry is the next level's start point. */
        cur = s->sel[0].slot;
        hnsw_lock(g, node);
        uint32_t *mine = hnsw_links(g, node, l);
        memcpy(mine + 1, s->out, k * sizeof *s->out);
        mine[0] = (uint32_t)k;
        hnsw_unlock(g, node);
        for (size_t j = 0; j < k; j++) {
            uint32_t nb = mine[1 + j];
            link_back(idx, g, s, nb, node, vq__dist(idx, v, vq__vec(idx, nb)), l);
        }
    }
    if (hold) {
        g->entry = node;
        g->max_level = level;
        pthread_mutex_unlock(&g->glock);
    }
    return 0;
}

typedef struct job {
    vqi_index *idx;
    hnsw *g;
    size_t next, end, n;
    pthread_mutex_t mu;
    int failed;
} job;

static void *worker(void *p) {
    job *j = p;
    scratch s;
    if (scratch_init(&s, j->g, j->n, j->idx->efc)) {
        scratch_free(&s);
        j->failed = 1;
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->end || j->failed) break;
        if (insert(j->idx, j->g, &s, (uint32_t)i, j->n)) j->failed = 1;
    }
    scratch_free(&s);
    return NULL;
}

static uint64_t splitmix(uint64_t *st) {
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int vq__hnsw_add(vqi_index *idx, size_t slot0, size_t n, const float *x, vq_err *err) {
    VQ_TRY(vq__hnsw_ensure(idx, err));
    hnsw *g = H(idx);
    size_t total = slot0 + n;
    VQ_TRY(vq__hnsw_reserve(idx, total, err));
    /* Codes go inline into the level-0 records. */
    uint8_t *codes = vq_malloc(n * idx->code_size + 1);
    VQ_FAIL_IF(!codes, VQ_ENOMEM, err, "add", "out of memory encoding %zu vectors", n);
    int rc = vq_quant_encode(idx->quant, n, x, codes, err);
    for (size_t i = 0; rc == VQ_OK && i < n; i++) {
        uint8_t *rec = g->level0 + (slot0 + i) * g->rec0;
        memset(rec, 0, g->rec0);
        memcpy(rec + g->off_code, codes + i * idx->code_size, idx->code_size);
        if (g->has_norm)
            *hnsw_norm(g, (uint32_t)(slot0 + i)) = vq_quant_sqnorm(idx->quant, rec + g->off_code);
        double u = ((double)(splitmix(&g->rng) >> 11) + 0.5) * 0x1.0p-53;
        int lv = (int)floor(-log(u) * g->mult);
        if (lv > 32) lv = 32;
        g->levels[slot0 + i] = (uint8_t)lv;
        g->upper[slot0 + i] = NULL;
        if (lv) {
            g->upper[slot0 + i] = vq_calloc((size_t)lv * (1 + g->M), 4);
            if (!g->upper[slot0 + i]) rc = vq_err_set(err, VQ_ENOMEM, "add", "out of memory");
        }
    }
    vq_free(codes);
    if (rc < 0) return rc;
    unsigned threads = idx->params.threads ? idx->params.threads : 1;
    if (threads > n / 64 + 1) threads = (unsigned)(n / 64 + 1);
    job j = {.idx = idx, .g = g, .next = slot0, .end = total, .n = total};
    pthread_mutex_init(&j.mu, NULL);
    if (threads <= 1) {
        g->mt = 0;
        worker(&j);
    } else {
        g->mt = 1;
        pthread_t *th = vq_malloc(threads * sizeof *th);
        unsigned started = 0;
        for (; th && started < threads; started++)
            if (pthread_create(&th[started], NULL, worker, &j)) break;
        if (!started) worker(&j);
        for (unsigned t = 0; t < started; t++) pthread_join(th[t], NULL);
        vq_free(th);
        g->mt = 0;
    }
    pthread_mutex_destroy(&j.mu);
    VQ_FAIL_IF(j.failed, VQ_ENOMEM, err, "add", "out of memory while inserting into the graph");
    return VQ_OK;
}
