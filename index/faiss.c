/* faiss.c — an index backed by FAISS through its C API: STRUCTURE "faiss:FACTORY" builds
 * faiss_index_factory(d, FACTORY, metric) ("IVF1024,PQ32x4fs", "HNSW32,Flat", ...). It is a
 * user option and the baseline of every benchmark, behind the same add / search / filter /
 * remove / save / load calls as the native indexes.
 *
 * FAISS labels are the slots (sequential adds); external ids, tombstones and filters are
 * handled here. FAISS 1.7.3's C API has no search-time id selector, so a filtered or
 * tombstoned search asks FAISS for more neighbours (4k, 16k, ... up to ntotal) until k
 * allowed ones come back. COS is IP on vectors normalized by index.c. Search parameters
 * (nprobe, efSearch) are set on the shared FAISS index through ParameterSpace when they
 * differ from the last ones set: concurrent searchers should use the same values.
 * Compaction is not supported (FAISS renumbers or cannot remove, depending on the index):
 * tombstones stay filtered. The file section holds FAISS's own serialization.
 * FAISS's C API prints the message of every exception it catches to stderr (its
 * macros_impl.h); this file avoids calls known to throw (inapplicable parameters), but a
 * bad factory string or corrupt FAISS payload still gets FAISS's own line on stderr.
 * Known FAISS 1.7.3 problem: fast-scan IVF-PQ ("...x4fs") with some k aborts in
 * partitioning.cpp (compress_array assertion); the C API cannot set `implem`, so callers
 * that run untrusted k values should isolate FAISS baselines (see README, "Indexes").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <AutoTune_c.h>
#include <Index_c.h>
#include <error_c.h>
#include <index_factory_c.h>
#include <index_io_c.h>

#include "vqi_internal.h"

typedef struct fx {
    FaissIndex *fi;
    pthread_mutex_t mu;
    unsigned cur_nprobe, cur_ef;
} fx;

static fx *X(const vqi_index *idx) { return idx->impl; }

static int ferr(vq_err *err, const char *field, const char *what) {
    const char *m = faiss_get_last_error();
    return vq_err_set(err, VQ_EINVAL, field, "FAISS %s failed: %s", what, m ? m : "(no message)");
}

static int attach(vqi_index *idx, FaissIndex *fi, vq_err *err) {
    fx *x = vq_calloc(1, sizeof *x);
    if (!x) {
        faiss_Index_free(fi);
        return vq_err_set(err, VQ_ENOMEM, "faiss", "out of memory");
    }
    x->fi = fi;
    pthread_mutex_init(&x->mu, NULL);
    idx->impl = x;
    idx->trained = faiss_Index_is_trained(fi);
    return VQ_OK;
}

int vq__faiss_create(vqi_index *idx, vq_err *err) {
    FaissIndex *fi = NULL;
    FaissMetricType mt = idx->metric == VQ_METRIC_L2 ? METRIC_L2 : METRIC_INNER_PRODUCT;
    if (faiss_index_factory(&fi, (int)idx->d, idx->structure + 6, mt) || !fi)
        return vq_err_set(err, VQ_ESPEC, "spec.structure", "FAISS factory '%s': %s",
                          idx->structure + 6, faiss_get_last_error() ? faiss_get_last_error() : "");
    return attach(idx, fi, err);
}

static int fx_train(vqi_index *idx, size_t n, const float *x, vq_err *err) {
    if (faiss_Index_train(X(idx)->fi, (idx_t)n, x)) return ferr(err, "train", "train");
    return VQ_OK;
}

static int fx_add(vqi_index *idx, size_t slot0, size_t n, const float *x, vq_err *err) {
    VQ_FAIL_IF((size_t)faiss_Index_ntotal(X(idx)->fi) != slot0, VQ_EINTERNAL, err, "faiss",
               "FAISS holds %lld vectors, the index %zu", (long long)faiss_Index_ntotal(X(idx)->fi),
               slot0);
    if (faiss_Index_add(X(idx)->fi, (idx_t)n, x)) return ferr(err, "add", "add");
    return VQ_OK;
}

static int set_param(fx *x, const char *name, unsigned v, unsigned *cur, vq_err *err) {
    if (!v || v == *cur) return VQ_OK;
    pthread_mutex_lock(&x->mu);
    FaissParameterSpace *ps = NULL;
    int rc = VQ_OK;
    if (faiss_ParameterSpace_new(&ps) ||
        faiss_ParameterSpace_set_index_parameter(ps, x->fi, name, (double)v))
        rc = vq_err_set(err, VQ_EUNSUPPORTED, name, "this FAISS index has no parameter %s: %s",
                        name, faiss_get_last_error() ? faiss_get_last_error() : "");
    else
        *cur = v;
    faiss_ParameterSpace_free(ps);
    pthread_mutex_unlock(&x->mu);
    return rc;
}

static int fx_search(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                     vq_err *err) {
    const vqi_index *idx = s->idx;
    fx *x = X(idx);
    /* Like the native structures, a knob that does not apply (nprobe on HNSW) is ignored;
     * asking FAISS anyway would make its C API print the exception to stderr. */
    if (sp && sp->nprobe && strstr(idx->structure, "IVF"))
        VQ_TRY(set_param(x, "nprobe", sp->nprobe, &x->cur_nprobe, err));
    if (sp && sp->ef && strstr(idx->structure, "HNSW"))
        VQ_TRY(set_param(x, "efSearch", sp->ef, &x->cur_ef, err));
    s->exact = 1;
    VQ_FAIL_IF(vq__heap_init(&s->res, k), VQ_ENOMEM, err, "search", "out of memory");
    size_t ntotal = (size_t)faiss_Index_ntotal(x->fi);
    int plain = !vq__has_filter(sp) && idx->n_deleted == 0;
    size_t kq = plain ? k : (size_t)k * 4;
    for (;;) {
        if (kq > ntotal) kq = ntotal;
        if (kq == 0) return VQ_OK;
        if (kq > s->dbuf_cap / 3) {
            size_t nc = kq * 3 + 64;
            float *p = vq_realloc(s->dbuf, 0, nc * sizeof(float));
            VQ_FAIL_IF(!p, VQ_ENOMEM, err, "search", "out of memory");
            s->dbuf = p;
            s->dbuf_cap = nc;
        }
        float *D = s->dbuf;
        idx_t *L = (idx_t *)(s->dbuf + ((kq + 1) & ~(size_t)1)); /* 8-byte aligned */
        if (faiss_Index_search(x->fi, 1, q, (idx_t)kq, D, L)) return ferr(err, "search", "search");
        s->res.n = 0;
        for (size_t i = 0; i < kq; i++) {
            if (L[i] < 0 || (size_t)L[i] >= idx->n_slots) continue;
            uint32_t slot = (uint32_t)L[i];
            if (!plain && !vq__allowed(idx, sp, slot)) continue;
            float d = D[i];
            if (idx->metric == VQ_METRIC_IP)
                d = -d;
            else if (idx->metric == VQ_METRIC_COS)
                d = 1.0f - d;
            vq__heap_push(&s->res, d, slot);
        }
        if (s->res.n >= k || kq >= ntotal) return VQ_OK;
        kq *= 4;
    }
}

static int fx_compact(vqi_index *idx, const uint32_t *o2n, size_t n_new, vq_err *err) {
    (void)idx;
    (void)o2n;
    (void)n_new;
    return vq_err_set(err, VQ_EUNSUPPORTED, "compact",
                      "FAISS-backed indexes keep tombstones (filtered at search time); "
                      "rebuild to reclaim them");
}

static int serialize(const fx *x, char **buf, size_t *len, vq_err *err) {
    *buf = NULL;
    *len = 0;
    FILE *f = open_memstream(buf, len);
    VQ_FAIL_IF(!f, VQ_ENOMEM, err, "save", "open_memstream failed");
    int bad = faiss_write_index(x->fi, f);
    fclose(f);
    if (bad) {
        free(*buf);
        *buf = NULL;
        return ferr(err, "save", "write_index");
    }
    return VQ_OK;
}

static int fx_save(const vqi_index *idx, vqi_w *w, vq_err *err) {
    char *buf;
    size_t len;
    VQ_TRY(serialize(X(idx), &buf, &len, err));
    size_t m = vq__iw_sec_begin(w, VQI_SEC_FAISS);
    vq__iw_bytes(w, buf, len);
    vq__iw_sec_end(w, m);
    free(buf);
    return VQ_OK;
}

static int fx_load(vqi_index *idx, vqi_r *r, vq_err *err) {
    vqi_r sec;
    VQ_TRY(vq__ir_sec(r, VQI_SEC_FAISS, "faiss", &sec, err));
    VQ_FAIL_IF(sec.len == 0, VQ_ECORRUPT, err, "faiss", "empty FAISS section");
    FILE *f = fmemopen((void *)sec.p, sec.len, "rb");
    VQ_FAIL_IF(!f, VQ_ENOMEM, err, "faiss", "fmemopen failed");
    FaissIndex *fi = NULL;
    int bad = faiss_read_index(f, 0, &fi);
    fclose(f);
    VQ_FAIL_IF(bad || !fi, VQ_ECORRUPT, err, "faiss", "FAISS could not read its index: %s",
               faiss_get_last_error() ? faiss_get_last_error() : "");
    VQ_TRY(attach(idx, fi, err));
    VQ_FAIL_IF((size_t)faiss_Index_ntotal(fi) != idx->n_slots || faiss_Index_d(fi) != (int)idx->d,
               VQ_ECORRUPT, err, "faiss", "FAISS index holds %lld vectors of dimension %d",
               (long long)faiss_Index_ntotal(fi), faiss_Index_d(fi));
    return VQ_OK;
}

static void fx_stats(const vqi_index *idx, vqi_stats *st) {
    char *buf;
    size_t len;
    if (serialize(X(idx), &buf, &len, NULL) == VQ_OK) {
        st->code_bytes = len;
        free(buf);
    }
}

static void fx_destroy(vqi_index *idx) {
    fx *x = X(idx);
    if (!x) return;
    faiss_Index_free(x->fi);
    pthread_mutex_destroy(&x->mu);
    vq_free(x);
    idx->impl = NULL;
}

const vqi_ops vq__ops_faiss = {
    .name = "faiss",
    .train = fx_train,
    .add = fx_add,
    .search = fx_search,
    .compact = fx_compact,
    .save = fx_save,
    .load = fx_load,
    .stats = fx_stats,
    .destroy = fx_destroy,
};
