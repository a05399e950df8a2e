/* graph.c — the HNSW graph's storage: allocation and growth of the level-0 array and the
 * upper-level lists, the neighbour-selection heuristic (HNSW paper, Algorithm 4), the
 * section of the index file (every link and level is range-checked on load), stats and
 * the ops table. Layout and locks: hnsw.h.
 */
#include <stdlib.h>

#include "hnsw.h"

int vq__hnsw_ensure(vqi_index *idx, vq_err *err) {
    if (idx->impl) return VQ_OK;
    hnsw *g = vq_calloc(1, sizeof *g);
    VQ_FAIL_IF(!g, VQ_ENOMEM, err, "hnsw", "out of memory");
    g->M = idx->m;
    g->M0 = 2 * idx->m;
    g->has_norm = idx->metric == VQ_METRIC_L2 && vq_quant_has_sqnorm(idx->quant);
    g->off_norm = 4 + 4 * (size_t)g->M0;
    g->off_code = g->off_norm + (g->has_norm ? 4 : 0);
    g->rec0 = (g->off_code + idx->code_size + 3) & ~(size_t)3;
    g->entry = UINT32_MAX;
    g->max_level = -1;
    g->mult = 1.0 / log((double)g->M);
    g->rng = idx->params.seed * 0x9e3779b97f4a7c15ULL + 12345;
    pthread_mutex_init(&g->glock, NULL);
    idx->impl = g;
    return VQ_OK;
}

int vq__hnsw_reserve(vqi_index *idx, size_t n, vq_err *err) {
    hnsw *g = H(idx);
    if (n <= g->cap) return VQ_OK;
    size_t nc = g->cap ? g->cap : 1024;
    while (nc < n) nc *= 2;
    uint8_t *l0 = vq_realloc(g->level0, g->cap * g->rec0, nc * g->rec0);
    VQ_FAIL_IF(!l0, VQ_ENOMEM, err, "hnsw", "out of memory growing the graph to %zu nodes", nc);
    g->level0 = l0;
    uint8_t *lv = vq_realloc(g->levels, g->cap, nc);
    VQ_FAIL_IF(!lv, VQ_ENOMEM, err, "hnsw", "out of memory");
    g->levels = lv;
    uint32_t **up = vq_realloc(g->upper, g->cap * sizeof *up, nc * sizeof *up);
    VQ_FAIL_IF(!up, VQ_ENOMEM, err, "hnsw", "out of memory");
    memset(up + g->cap, 0, (nc - g->cap) * sizeof *up);
    g->upper = up;
    atomic_flag *lk = vq_realloc(g->locks, g->cap * sizeof *lk, nc * sizeof *lk);
    VQ_FAIL_IF(!lk, VQ_ENOMEM, err, "hnsw", "out of memory");
    for (size_t i = g->cap; i < nc; i++) atomic_flag_clear(&lk[i]);
    g->locks = lk;
    g->cap = nc;
    return VQ_OK;
}

static int cmp_cand(const void *a, const void *b) {
    const vqi_cand *x = a, *y = b;
    return (x->d > y->d) - (x->d < y->d);
}

size_t vq__hnsw_select(const vqi_index *idx, vqi_cand *cand, size_t n, unsigned m, uint32_t *out) {
    qsort(cand, n, sizeof *cand, cmp_cand);
    size_t k = 0;
    for (size_t i = 0; i < n && k < m; i++) {
        const float *c = vq__vec(idx, cand[i].slot);
        int good = 1;
        for (size_t j = 0; j < k && good; j++)
            if (vq__dist(idx, c, vq__vec(idx, out[j])) < cand[i].d) good = 0;
        if (good) out[k++] = cand[i].slot;
    }
    return k;
}

/* Bytes of one level-0 record in the file: the layout without the norm. */
static size_t file_rec0(const vqi_index *idx, const hnsw *g) {
    return (g->off_norm + idx->code_size + 3) & ~(size_t)3;
}

static int hnsw_save(const vqi_index *idx, vqi_w *w, vq_err *err) {
    (void)err;
    hnsw *g = H(idx);
    size_t m = vq__iw_sec_begin(w, VQI_SEC_HNSW);
    vq__iw_u32(w, idx->m);
    vq__iw_u32(w, g ? (uint32_t)g->max_level : UINT32_MAX);
    vq__iw_u32(w, g ? g->entry : UINT32_MAX);
    vq__iw_u64(w, g ? g->rng : 0);
    if (g && idx->n_slots) {
        if (!g->has_norm) {
            vq__iw_bytes(w, g->level0, idx->n_slots * g->rec0);
        } else { /* the file's layout has no norm: links, code, padding */
            size_t pad = file_rec0(idx, g) - g->off_norm - idx->code_size;
            static const uint8_t zero[4];
            for (size_t i = 0; i < idx->n_slots; i++) {
                const uint8_t *rec = g->level0 + i * g->rec0;
                vq__iw_bytes(w, rec, g->off_norm);
                vq__iw_bytes(w, rec + g->off_code, idx->code_size);
                vq__iw_bytes(w, zero, pad);
            }
        }
        vq__iw_bytes(w, g->levels, idx->n_slots);
        for (size_t i = 0; i < idx->n_slots; i++)
            if (g->levels[i]) vq__iw_bytes(w, g->upper[i], (size_t)g->levels[i] * (1 + g->M) * 4);
    }
    vq__iw_sec_end(w, m);
    return VQ_OK;
}

static int check_list(const hnsw *g, const uint32_t *l, unsigned maxl, size_t n, size_t slot,
                      int level, vq_err *err) {
    VQ_FAIL_IF(l[0] > maxl, VQ_ECORRUPT, err, "hnsw", "node %zu level %d: %u links (max %u)", slot,
               level, l[0], maxl);
    for (uint32_t j = 0; j < l[0]; j++)
        VQ_FAIL_IF(l[1 + j] >= n || (level > 0 && g->levels[l[1 + j]] < level), VQ_ECORRUPT, err,
                   "hnsw", "node %zu level %d: link to %u is invalid", slot, level, l[1 + j]);
    return VQ_OK;
}

static int hnsw_load(vqi_index *idx, vqi_r *r, vq_err *err) {
    vqi_r sec;
    VQ_TRY(vq__ir_sec(r, VQI_SEC_HNSW, "hnsw", &sec, err));
    uint32_t m, maxlev, entry;
    uint64_t rng;
    VQ_TRY(vq__ir_u32(&sec, &m, err));
    VQ_FAIL_IF(m != idx->m, VQ_ECORRUPT, err, "hnsw", "m %u, spec says %u", m, idx->m);
    VQ_TRY(vq__ir_u32(&sec, &maxlev, err));
    VQ_TRY(vq__ir_u32(&sec, &entry, err));
    VQ_TRY(vq__ir_u64(&sec, &rng, err));
    VQ_TRY(vq__hnsw_ensure(idx, err));
    hnsw *g = H(idx);
    g->rng = rng;
    size_t n = idx->n_slots;
    if (n == 0) {
        VQ_FAIL_IF(entry != UINT32_MAX, VQ_ECORRUPT, err, "hnsw", "entry point in an empty graph");
        return vq__ir_end(&sec, err);
    }
    VQ_FAIL_IF(entry >= n || maxlev > 255, VQ_ECORRUPT, err, "hnsw",
               "entry point %u / max level %u out of range", entry, maxlev);
    g->entry = entry;
    g->max_level = (int)maxlev;
    VQ_TRY(vq__hnsw_reserve(idx, n, err));
    if (!g->has_norm) {
        VQ_TRY(vq__ir_bytes(&sec, g->level0, n * g->rec0, err));
    } else {
        size_t frec = file_rec0(idx, g);
        uint8_t pad[4];
        for (size_t i = 0; i < n; i++) {
            uint8_t *rec = g->level0 + i * g->rec0;
            VQ_TRY(vq__ir_bytes(&sec, rec, g->off_norm, err));
            VQ_TRY(vq__ir_bytes(&sec, rec + g->off_code, idx->code_size, err));
            VQ_TRY(vq__ir_bytes(&sec, pad, frec - g->off_norm - idx->code_size, err));
            *hnsw_norm(g, (uint32_t)i) = vq_quant_sqnorm(idx->quant, rec + g->off_code);
        }
    }
    VQ_TRY(vq__ir_bytes(&sec, g->levels, n, err));
    VQ_FAIL_IF(g->levels[entry] != maxlev, VQ_ECORRUPT, err, "hnsw",
               "entry point level %u, max level %u", g->levels[entry], maxlev);
    for (size_t i = 0; i < n; i++) {
        VQ_FAIL_IF(g->levels[i] > maxlev, VQ_ECORRUPT, err, "hnsw", "node %zu level %u > %u", i,
                   g->levels[i], maxlev);
        if (!g->levels[i]) continue;
        size_t bytes = (size_t)g->levels[i] * (1 + g->M) * 4;
        g->upper[i] = vq_malloc(bytes);
        VQ_FAIL_IF(!g->upper[i], VQ_ENOMEM, err, "hnsw", "out of memory");
        VQ_TRY(vq__ir_bytes(&sec, g->upper[i], bytes, err));
    }
    for (size_t i = 0; i < n; i++) {
        VQ_TRY(check_list(g, hnsw_links(g, (uint32_t)i, 0), g->M0, n, i, 0, err));
        for (int l = 1; l <= g->levels[i]; l++)
            VQ_TRY(check_list(g, hnsw_links(g, (uint32_t)i, l), g->M, n, i, l, err));
        /* The inline code must match the stored codes' size; re-encoding is not needed. */
    }
    return vq__ir_end(&sec, err);
}

static void hnsw_stats(const vqi_index *idx, vqi_stats *st) {
    hnsw *g = H(idx);
    if (!g) return;
    size_t n = idx->n_slots, up = 0;
    for (size_t i = 0; i < n; i++) up += (size_t)g->levels[i] * (1 + g->M) * 4;
    st->code_bytes = n * idx->code_size;
    st->graph_bytes = n * (g->rec0 - idx->code_size) + up + n * (1 + sizeof(uint32_t *));
}

static void hnsw_destroy(vqi_index *idx) {
    hnsw *g = H(idx);
    if (!g) return;
    for (size_t i = 0; i < g->cap; i++) vq_free(g->upper[i]);
    vq_free(g->upper);
    vq_free(g->level0);
    vq_free(g->levels);
    vq_free(g->locks);
    pthread_mutex_destroy(&g->glock);
    vq_free(g);
    idx->impl = NULL;
}

static void hnsw_searcher_free(vqi_searcher *s) { (void)s; }

const vqi_ops vq__ops_hnsw = {
    .name = "hnsw",
    .train = NULL,
    .add = vq__hnsw_add,
    .search = vq__hnsw_search,
    .compact = vq__hnsw_compact,
    .save = hnsw_save,
    .load = hnsw_load,
    .stats = hnsw_stats,
    .destroy = hnsw_destroy,
    .searcher_init = vq__hnsw_searcher_init,
    .searcher_free = hnsw_searcher_free,
};
