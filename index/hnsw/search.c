/* search.c — HNSW queries (Algorithm 5) over compressed codes, with filters.
 *
 * Upper levels: greedy descent with exact distances on the full vectors (a few dozen
 * distance computations, and it picks a better level-0 start than codes would). Level 0:
 * beam search of width ef' = max(ef, k * rerank, k) scored on the quantizer's codes stored
 * inline in the level-0 records (vq_quant_score_one with the prepared per-query state); the
 * best k * rerank of the beam are then re-ranked exactly by index.c from the full vectors.
 *
 * Filters and tombstones: disallowed and deleted nodes are traversed (they keep the graph
 * connected) but never enter the result beam; since the beam only counts allowed nodes, the
 * search keeps expanding until it holds ef' allowed ones or the reachable graph is
 * exhausted. With a bitmap whose cardinality is below brute_force_ratio * n the allowed ids
 * are scanned exactly instead (cheaper than a traversal that rejects nearly every node).
 */
#include "hnsw.h"

int vq__hnsw_searcher_init(vqi_searcher *s, vq_err *err) {
    (void)s;
    (void)err;
    return VQ_OK;
}

static inline float score(const hnsw *g, const vq_query *qs, uint32_t slot, int by_ip, float qn) {
    float sc = vq_quant_score_one(qs, hnsw_code(g, slot));
    return by_ip ? qn + *hnsw_norm(g, slot) + 2 * sc : sc;
}

int vq__hnsw_search(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                    vq_err *err) {
    const vqi_index *idx = s->idx;
    hnsw *g = H(idx);
    size_t live = idx->n_slots - idx->n_deleted;
    double sel = 1.0;
    if (sp && sp->filter_bitmap) {
        double ratio = sp->brute_force_ratio > 0 ? sp->brute_force_ratio : 0.02;
        uint64_t card = roaring_bitmap_get_cardinality(sp->filter_bitmap);
        if ((double)card < ratio * (double)live) return vq__brute_force(s, q, k, sp, err);
        sel = (double)card / (double)live;
    }
    size_t kk = vq__rerank_count(idx, sp, k);
    size_t ef = sp && sp->ef ? sp->ef : idx->ef;
    if (ef < kk) ef = kk;
    /* A selective filter leaves fewer allowed nodes per step of the beam: widen it in
     * proportion (up to 8x), as filtered traversals do (ACORN's larger ef). */
    if (sel < 1.0) ef = (size_t)((double)ef * (1.0 / sel < 8.0 ? 1.0 / sel : 8.0));
    VQ_FAIL_IF(vq__heap_init(&s->res, ef), VQ_ENOMEM, err, "search", "out of memory");
    if (!g || g->entry == UINT32_MAX) return VQ_OK;
    /* With stored norms L2 goes through the (cheaper) IP score: |q|^2 + |x^|^2 - 2<q, x^>. */
    int by_ip = g->has_norm;
    VQ_TRY(vq_query_prepare(
        s->qs, q, idx->metric == VQ_METRIC_L2 && !by_ip ? VQ_METRIC_L2 : VQ_METRIC_IP, err));
    float qn = 0;
    if (by_ip)
        for (size_t j = 0; j < idx->d; j++) qn += q[j] * q[j];
    uint32_t cur = g->entry;
    size_t vbytes = idx->d * sizeof(float) < 1024 ? idx->d * sizeof(float) : 1024;
    float dcur = vq__dist(idx, q, vq__vec(idx, cur));
    for (int l = g->max_level; l > 0; l--) {
        for (int changed = 1; changed;) {
            changed = 0;
            const uint32_t *lk = hnsw_links(g, cur, l);
            /* The rows are scattered: start every load before the first distance. */
            for (unsigned j = 0; j < lk[0]; j++) {
                const char *r = (const char *)vq__vec(idx, lk[1 + j]);
                for (size_t o = 0; o < vbytes; o += 64) __builtin_prefetch(r + o);
            }
            for (unsigned j = 0; j < lk[0]; j++) {
                float d = vq__dist(idx, q, vq__vec(idx, lk[1 + j]));
                if (d < dcur) {
                    dcur = d;
                    cur = lk[1 + j];
                    changed = 1;
                }
            }
        }
    }
    VQ_FAIL_IF(vq__visited_reset(&s->vis, idx->n_slots), VQ_ENOMEM, err, "search", "out of memory");
    int plain = !vq__has_filter(sp) && idx->n_deleted == 0;
    s->cand.n = 0;
    float d = score(g, s->qs, cur, by_ip, qn);
    vq__visited_test_set(&s->vis, cur);
    VQ_FAIL_IF(vq__minheap_push(&s->cand, d, cur), VQ_ENOMEM, err, "search", "out of memory");
    if (plain || vq__allowed(idx, sp, cur)) vq__heap_push(&s->res, d, cur);
    size_t pf_bytes = g->rec0 - g->off_norm < 256 ? g->rec0 - g->off_norm : 256;
    size_t lk_bytes = (1 + (size_t)g->M0) * 4;
    while (s->cand.n) {
        vqi_cand c = vq__minheap_pop(&s->cand);
        if (s->res.n >= ef && c.d > vq__heap_worst(&s->res)) break;
        if (s->cand.n) {
            const char *nx = (const char *)hnsw_links(g, s->cand.a[0].slot, 0);
            for (size_t o = 0; o < lk_bytes; o += 64) __builtin_prefetch(nx + o);
        }
        const uint32_t *lk = hnsw_links(g, c.slot, 0);
        unsigned cnt = lk[0], nn = 0;
        /* Unvisited neighbours first, prefetching the code lines each will read; then
         * score them, so the misses of one node's neighbours overlap. */
        for (unsigned j = 0; j < cnt; j++) {
            uint32_t nb = lk[1 + j];
            if (vq__visited_test_set(&s->vis, nb)) continue;
            s->pbuf[nn] = hnsw_code(g, nb);
            s->nbuf[nn++] = nb;
            const char *code = (const char *)hnsw_norm(g, nb);
            for (size_t o = 0; o < pf_bytes; o += 64) __builtin_prefetch(code + o);
        }
        vq_quant_score_ptrs(s->qs, s->pbuf, nn, s->sbuf);
        for (unsigned j = 0; j < nn; j++) {
            uint32_t nb = s->nbuf[j];
            float dn = by_ip ? qn + *hnsw_norm(g, nb) + 2 * s->sbuf[j] : s->sbuf[j];
            if (s->res.n < ef || dn < vq__heap_worst(&s->res)) {
                VQ_FAIL_IF(vq__minheap_push(&s->cand, dn, nb), VQ_ENOMEM, err, "search",
                           "out of memory");
                if (plain || vq__allowed(idx, sp, nb)) vq__heap_push(&s->res, dn, nb);
            }
        }
    }
    /* The beam (ef) steers the traversal; only its best kk by code distance go on to the
     * exact re-rank (k * rerank full vectors read, not ef). */
    while (s->res.n > kk) vq__heap_pop(&s->res);
    return VQ_OK;
}
