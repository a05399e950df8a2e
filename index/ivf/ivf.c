/* ivf.c — the IVF index: a k-means coarse partition into nlist lists, each list holding
 * packed quantizer codes (vqi_codes, so 4-bit fast-scan PQ scores 32 codes per shuffle) and
 * the slots they belong to.
 *
 * Residual coding: for PQ and RaBitQ the lists store codes of x - centroid (the quantizer
 * is trained on residuals), which concentrates its codebook on the within-cluster spread.
 * Queries then need the quantizer state per probed list: for L2 the query is prepared as
 * q - c for each list; for IP one preparation serves all lists, since
 * <q, x> = <q, c> + <q, x - c>, and -<q, c> is added to every score of the list. Other
 * quantizers (f32, fp16, sq8...) code x itself and are prepared once per query.
 *
 * Search: the nprobe nearest centroids are scanned; with a filter (or tombstones) that
 * leaves fewer than k allowed candidates, further lists are probed in order of distance
 * until k are found or all lists are scanned. The k * rerank best go to the exact re-rank.
 */
#include <stdlib.h>

#include "../vqi_internal.h"

typedef struct ivf_list {
    vqi_codes codes;
    uint32_t *slots;
    size_t cap;
} ivf_list;

typedef struct ivf {
    unsigned nlist;
    int residual;
    float *centroids; /* nlist * d */
    ivf_list *lists;
} ivf;

typedef struct ivf_scratch {
    vqi_cand *order; /* nlist (distance, list) pairs */
    float *cd;       /* centroid distances */
    float *resid;    /* d floats */
} ivf_scratch;

static ivf *V(const vqi_index *idx) { return idx->impl; }

static int uses_residual(const vqi_index *idx) {
    const char *nm = vq_quant_name(idx->quant);
    return !strcmp(nm, "pq") || !strcmp(nm, "rabitq");
}

static int ivf_alloc(vqi_index *idx, vq_err *err) {
    ivf *v = vq_calloc(1, sizeof *v);
    VQ_FAIL_IF(!v, VQ_ENOMEM, err, "ivf", "out of memory");
    idx->impl = v;
    v->nlist = idx->nlist;
    v->residual = uses_residual(idx);
    v->centroids = vq_malloc((size_t)v->nlist * idx->d * sizeof(float));
    v->lists = vq_calloc(v->nlist, sizeof *v->lists);
    VQ_FAIL_IF(!v->centroids || !v->lists, VQ_ENOMEM, err, "ivf", "out of memory");
    return VQ_OK;
}

static int ivf_train(vqi_index *idx, size_t n, const float *x, vq_err *err) {
    if (!idx->impl) VQ_TRY(ivf_alloc(idx, err));
    ivf *v = V(idx);
    VQ_TRY(vq__ivf_kmeans(idx, n, x, v->nlist, idx->params.kmeans_iters, idx->params.seed,
                          v->centroids, err));
    if (vq_quant_is_trained(idx->quant)) return VQ_OK;
    if (!v->residual) return vq_quant_train(idx->quant, n, x, err);
    uint32_t *asg = vq_malloc(n * sizeof *asg);
    float *r = vq_malloc(n * idx->d * sizeof(float));
    int rc = VQ_OK;
    if (!asg || !r) rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
    if (rc == VQ_OK) {
        vq__ivf_assign(idx, v->centroids, v->nlist, n, x, asg);
        for (size_t i = 0; i < n; i++)
            for (unsigned t = 0; t < idx->d; t++)
                r[i * idx->d + t] = x[i * idx->d + t] - v->centroids[(size_t)asg[i] * idx->d + t];
        rc = vq_quant_train(idx->quant, n, r, err);
    }
    vq_free(asg);
    vq_free(r);
    return rc;
}

static int list_append(const vqi_index *idx, ivf_list *l, size_t n, const uint32_t *slots,
                       const uint8_t *codes) {
    if (l->codes.n + n > l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        while (nc < l->codes.n + n) nc *= 2;
        uint32_t *p = vq_realloc(l->slots, l->cap * 4, nc * 4);
        if (!p) return VQ_ENOMEM;
        l->slots = p;
        l->cap = nc;
    }
    if (vq__codes_append(idx->quant, &l->codes, n, codes)) return VQ_ENOMEM;
    memcpy(l->slots + l->codes.n - n, slots, n * 4);
    return VQ_OK;
}

static int ivf_add(vqi_index *idx, size_t slot0, size_t n, const float *x, vq_err *err) {
    ivf *v = V(idx);
    VQ_FAIL_IF(!v, VQ_ESTATE, err, "idx", "IVF index not trained");
    unsigned d = idx->d;
    uint32_t *asg = vq_malloc(n * sizeof *asg);
    uint8_t *codes = vq_malloc(n * idx->code_size + 1);
    float *r = v->residual ? vq_malloc(n * d * sizeof(float)) : NULL;
    int rc = VQ_OK;
    if (!asg || !codes || (v->residual && !r))
        rc = vq_err_set(err, VQ_ENOMEM, "add", "out of memory");
    if (rc == VQ_OK) {
        vq__ivf_assign(idx, v->centroids, v->nlist, n, x, asg);
        if (r)
            for (size_t i = 0; i < n; i++)
                for (unsigned t = 0; t < d; t++)
                    r[i * d + t] = x[i * d + t] - v->centroids[(size_t)asg[i] * d + t];
        rc = vq_quant_encode(idx->quant, n, r ? r : x, codes, err);
    }
    for (size_t i = 0; rc == VQ_OK && i < n; i++) {
        uint32_t s = (uint32_t)(slot0 + i);
        if (list_append(idx, &v->lists[asg[i]], 1, &s, codes + i * idx->code_size))
            rc = vq_err_set(err, VQ_ENOMEM, "add", "out of memory");
    }
    vq_free(asg);
    vq_free(codes);
    vq_free(r);
    return rc;
}

static int ivf_searcher_init(vqi_searcher *s, vq_err *err) {
    const vqi_index *idx = s->idx;
    ivf_scratch *x = vq_calloc(1, sizeof *x);
    VQ_FAIL_IF(!x, VQ_ENOMEM, err, "searcher", "out of memory");
    s->impl = x;
    x->order = vq_malloc(idx->nlist * sizeof *x->order);
    x->cd = vq_malloc(idx->nlist * sizeof *x->cd);
    x->resid = vq_malloc(idx->d * sizeof *x->resid);
    VQ_FAIL_IF(!x->order || !x->cd || !x->resid, VQ_ENOMEM, err, "searcher", "out of memory");
    return VQ_OK;
}

static void ivf_searcher_free(vqi_searcher *s) {
    ivf_scratch *x = s->impl;
    if (!x) return;
    vq_free(x->order);
    vq_free(x->cd);
    vq_free(x->resid);
    vq_free(x);
}

static int cmp_cand(const void *a, const void *b) {
    const vqi_cand *x = a, *y = b;
    return (x->d > y->d) - (x->d < y->d);
}

static int scan_list(vqi_searcher *s, const float *q, const ivf *v, unsigned li, float cdist,
                     const vqi_search_params *sp, int plain, vq_err *err) {
    const vqi_index *idx = s->idx;
    const ivf_list *l = &v->lists[li];
    if (!l->codes.n) return VQ_OK;
    vq_metric qm = idx->metric == VQ_METRIC_L2 ? VQ_METRIC_L2 : VQ_METRIC_IP;
    float off = 0;
    if (v->residual && qm == VQ_METRIC_L2) {
        ivf_scratch *x = s->impl;
        const float *c = v->centroids + (size_t)li * idx->d;
        for (unsigned t = 0; t < idx->d; t++) x->resid[t] = q[t] - c[t];
        VQ_TRY(vq_query_prepare(s->qs, x->resid, qm, err));
    } else if (v->residual) {
        off = cdist; /* -<q, c> */
    }
    float *dist = vq__codes_score(s, &l->codes);
    VQ_FAIL_IF(!dist, VQ_ENOMEM, err, "search", "out of memory");
    size_t kk = s->res.lim;
    for (size_t i = 0; i < l->codes.n; i++) {
        float dd = dist[i] + off;
        if (s->res.n == kk && dd >= vq__heap_worst(&s->res)) continue;
        if (!plain && !vq__allowed(idx, sp, l->slots[i])) continue;
        vq__heap_push(&s->res, dd, l->slots[i]);
    }
    return VQ_OK;
}

static int ivf_search(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                      vq_err *err) {
    const vqi_index *idx = s->idx;
    ivf *v = V(idx);
    ivf_scratch *x = s->impl;
    size_t kk = vq__rerank_count(idx, sp, k);
    VQ_FAIL_IF(vq__heap_init(&s->res, kk), VQ_ENOMEM, err, "search", "out of memory");
    if (!v) return VQ_OK;
    unsigned nprobe = sp && sp->nprobe ? sp->nprobe : idx->nprobe;
    if (sp && sp->filter_bitmap) {
        /* Few allowed ids: scan them exactly. Otherwise probe 1/selectivity times more
         * lists, so the probed lists hold about as many allowed candidates as unfiltered. */
        size_t live = idx->n_slots - idx->n_deleted;
        double ratio = sp->brute_force_ratio > 0 ? sp->brute_force_ratio : 0.02;
        uint64_t card = roaring_bitmap_get_cardinality(sp->filter_bitmap);
        if ((double)card < ratio * (double)live) return vq__brute_force(s, q, k, sp, err);
        double wide = (double)nprobe * (double)live / (double)(card ? card : 1);
        nprobe = wide > v->nlist ? v->nlist : (unsigned)wide;
    }
    if (nprobe > v->nlist) nprobe = v->nlist;
    vq_metric qm = idx->metric == VQ_METRIC_L2 ? VQ_METRIC_L2 : VQ_METRIC_IP;
    if (qm == VQ_METRIC_L2) {
        idx->kf->l2sq_ny(q, v->centroids, v->nlist, idx->d, x->cd);
    } else {
        idx->kf->ip_ny(q, v->centroids, v->nlist, idx->d, x->cd);
        for (unsigned j = 0; j < v->nlist; j++) x->cd[j] = -x->cd[j];
    }
    if (!v->residual || qm != VQ_METRIC_L2) VQ_TRY(vq_query_prepare(s->qs, q, qm, err));
    /* The nprobe nearest lists through a bounded max-heap, then in ascending order. */
    vqi_heap h = {x->order, 0, nprobe, nprobe};
    for (unsigned j = 0; j < v->nlist; j++) vq__heap_push(&h, x->cd[j], j);
    qsort(x->order, h.n, sizeof *x->order, cmp_cand);
    int plain = !vq__has_filter(sp) && idx->n_deleted == 0;
    for (unsigned p = 0; p < h.n; p++)
        VQ_TRY(scan_list(s, q, v, x->order[p].slot, x->order[p].d, sp, plain, err));
    if (s->res.n >= k || h.n == v->nlist) return VQ_OK;
    /* Too few allowed candidates: probe the remaining lists nearest first. */
    for (unsigned j = 0; j < v->nlist; j++) x->order[j] = (vqi_cand){x->cd[j], j};
    qsort(x->order, v->nlist, sizeof *x->order, cmp_cand);
    for (unsigned p = nprobe; p < v->nlist && s->res.n < k; p++)
        VQ_TRY(scan_list(s, q, v, x->order[p].slot, x->order[p].d, sp, plain, err));
    return VQ_OK;
}

static int ivf_compact(vqi_index *idx, const uint32_t *o2n, size_t n_new, vq_err *err) {
    (void)n_new;
    ivf *v = V(idx);
    if (!v) return VQ_OK;
    uint8_t *rows = NULL;
    uint32_t *slots = NULL;
    for (unsigned li = 0; li < v->nlist; li++) {
        ivf_list *l = &v->lists[li];
        size_t n = l->codes.n, m = 0;
        vq_free(rows);
        vq_free(slots);
        rows = vq_malloc(n * idx->code_size + 1);
        slots = vq_malloc(n * 4 + 1);
        VQ_FAIL_IF(!rows || !slots, VQ_ENOMEM, err, "compact", "out of memory");
        for (size_t i = 0; i < n; i++) {
            if (o2n[l->slots[i]] == UINT32_MAX) continue;
            vq__codes_get(idx->quant, &l->codes, i, rows + m * idx->code_size);
            slots[m++] = o2n[l->slots[i]];
        }
        ivf_list nl = {0};
        if (m && list_append(idx, &nl, m, slots, rows)) {
            vq_free(rows);
            vq_free(slots);
            return vq_err_set(err, VQ_ENOMEM, "compact", "out of memory");
        }
        vq__codes_free(&l->codes);
        vq_free(l->slots);
        *l = nl;
    }
    vq_free(rows);
    vq_free(slots);
    return VQ_OK;
}

static int ivf_save(const vqi_index *idx, vqi_w *w, vq_err *err) {
    (void)err;
    ivf *v = V(idx);
    size_t m = vq__iw_sec_begin(w, VQI_SEC_IVF);
    vq__iw_u32(w, v->nlist);
    vq__iw_u32(w, (uint32_t)v->residual);
    vq__iw_bytes(w, v->centroids, (size_t)v->nlist * idx->d * sizeof(float));
    for (unsigned li = 0; li < v->nlist; li++) {
        const ivf_list *l = &v->lists[li];
        vq__iw_u64(w, l->codes.n);
        vq__iw_bytes(w, l->slots, l->codes.n * 4);
        vq__iw_bytes(w, l->codes.blocks, vq__codes_bytes(idx->quant, &l->codes));
    }
    vq__iw_sec_end(w, m);
    return VQ_OK;
}

static int ivf_load(vqi_index *idx, vqi_r *r, vq_err *err) {
    vqi_r sec;
    VQ_TRY(vq__ir_sec(r, VQI_SEC_IVF, "ivf", &sec, err));
    uint32_t nlist, resid;
    VQ_TRY(vq__ir_u32(&sec, &nlist, err));
    VQ_TRY(vq__ir_u32(&sec, &resid, err));
    VQ_FAIL_IF(nlist != idx->nlist, VQ_ECORRUPT, err, "ivf", "nlist %u, spec says %u", nlist,
               idx->nlist);
    VQ_TRY(ivf_alloc(idx, err));
    ivf *v = V(idx);
    VQ_FAIL_IF(resid != (uint32_t)v->residual, VQ_ECORRUPT, err, "ivf", "residual flag %u", resid);
    VQ_TRY(vq__ir_bytes(&sec, v->centroids, (size_t)nlist * idx->d * sizeof(float), err));
    size_t B = vq_quant_block(idx->quant), bb = vq_quant_block_bytes(idx->quant);
    uint8_t *seen = vq_calloc(idx->n_slots + 1, 1);
    VQ_FAIL_IF(!seen, VQ_ENOMEM, err, "ivf", "out of memory");
    int rc = VQ_OK;
    size_t total = 0;
    for (unsigned li = 0; rc == VQ_OK && li < nlist; li++) {
        ivf_list *l = &v->lists[li];
        uint64_t n;
        rc = vq__ir_u64(&sec, &n, err);
        if (rc == VQ_OK && n > idx->n_slots - total)
            rc = vq_err_set(err, VQ_ECORRUPT, "ivf", "list %u: %llu entries, too many", li,
                            (unsigned long long)n);
        if (rc < 0 || n == 0) continue;
        size_t nb = (n + B - 1) / B;
        l->slots = vq_malloc(n * 4);
        l->codes.blocks = vq_malloc(nb * bb);
        if (!l->slots || !l->codes.blocks) {
            rc = vq_err_set(err, VQ_ENOMEM, "ivf", "out of memory");
            continue;
        }
        l->cap = n;
        l->codes.cap = nb * B;
        l->codes.n = n;
        total += n;
        rc = vq__ir_bytes(&sec, l->slots, n * 4, err);
        if (rc == VQ_OK) rc = vq__ir_bytes(&sec, l->codes.blocks, nb * bb, err);
        for (size_t i = 0; rc == VQ_OK && i < n; i++) {
            if (l->slots[i] >= idx->n_slots || seen[l->slots[i]])
                rc = vq_err_set(err, VQ_ECORRUPT, "ivf", "list %u: bad slot %u", li, l->slots[i]);
            else
                seen[l->slots[i]] = 1;
        }
    }
    vq_free(seen);
    if (rc == VQ_OK && total != idx->n_slots)
        rc = vq_err_set(err, VQ_ECORRUPT, "ivf", "lists hold %zu vectors, the index %zu", total,
                        idx->n_slots);
    if (rc == VQ_OK) rc = vq__ir_end(&sec, err);
    return rc;
}

static void ivf_stats(const vqi_index *idx, vqi_stats *st) {
    ivf *v = V(idx);
    if (!v) return;
    st->list_bytes = (size_t)v->nlist * (idx->d * sizeof(float) + sizeof(ivf_list));
    for (unsigned li = 0; li < v->nlist; li++) {
        st->code_bytes += vq__codes_bytes(idx->quant, &v->lists[li].codes);
        st->list_bytes += v->lists[li].codes.n * 4;
    }
}

static void ivf_destroy(vqi_index *idx) {
    ivf *v = V(idx);
    if (!v) return;
    for (unsigned li = 0; v->lists && li < v->nlist; li++) {
        vq__codes_free(&v->lists[li].codes);
        vq_free(v->lists[li].slots);
    }
    vq_free(v->lists);
    vq_free(v->centroids);
    vq_free(v);
    idx->impl = NULL;
}

const vqi_ops vq__ops_ivf = {
    .name = "ivf",
    .train = ivf_train,
    .add = ivf_add,
    .search = ivf_search,
    .compact = ivf_compact,
    .save = ivf_save,
    .load = ivf_load,
    .stats = ivf_stats,
    .destroy = ivf_destroy,
    .searcher_init = ivf_searcher_init,
    .searcher_free = ivf_searcher_free,
};
