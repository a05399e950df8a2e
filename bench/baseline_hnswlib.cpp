/* baseline_hnswlib.cpp — the C face of the hnswlib baseline: picks the ISA variant that
 * matches vqdb's active kernels (see baseline_hnswlib.h), normalizes for cosine, and adapts
 * hnswlib to the sweep runner as a vq_sweep_target ("hnswlib:m=16,efc=200").
 * This file is compiled without ISA flags; only the variants carry -mavx2 / -mavx512*. */
#include "baseline_hnswlib.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sweep.h"

struct vq_hnswlib {
    const vq__hnsw_ops *ops;
    const char *isa;
    void *h;
    size_t d, count, max_n;
    vq_metric metric;
};

static void normalize(float *y, const float *x, size_t d) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)x[j] * x[j];
    float inv = s > 0 ? (float)(1.0 / std::sqrt(s)) : 0.0f;
    for (size_t j = 0; j < d; j++) y[j] = x[j] * inv;
}

extern "C" int vq_hnswlib_new(size_t d, vq_metric metric, size_t max_n, unsigned m, unsigned efc,
                              vq_hnswlib **out, vq_err *err) {
    VQ_FAIL_IF(d == 0 || d > 65536, VQ_EDIM, err, "d", "d=%zu outside [1, 65536]", d);
    VQ_FAIL_IF(max_n == 0 || max_n > 0xffffffffu, VQ_EINVAL, err, "max_n",
               "max_n=%zu outside [1, 2^32-1] (hnswlib ids are 32-bit)", max_n);
    VQ_FAIL_IF(m < VQ_HNSWLIB_M_MIN || m > VQ_HNSWLIB_M_MAX, VQ_EINVAL, err, "m",
               "m=%u outside [%u, %u]", m, VQ_HNSWLIB_M_MIN, VQ_HNSWLIB_M_MAX);
    VQ_FAIL_IF(efc < VQ_HNSWLIB_EFC_MIN || efc > VQ_HNSWLIB_EFC_MAX, VQ_EINVAL, err, "efc",
               "efc=%u outside [%u, %u]", efc, VQ_HNSWLIB_EFC_MIN, VQ_HNSWLIB_EFC_MAX);
    VQ_FAIL_IF(metric != VQ_METRIC_L2 && metric != VQ_METRIC_IP && metric != VQ_METRIC_COS,
               VQ_EINVAL, err, "metric", "unknown metric %d", (int)metric);
    vq_isa isa = vq_isa_active();
    const vq__hnsw_ops *ops;
    const char *name;
    if (isa == VQ_ISA_AVX512) {
        ops = &vq__hnsw_ops_avx512;
        name = "avx512";
    } else if (isa == VQ_ISA_AVX2) {
        ops = &vq__hnsw_ops_avx2;
        name = "avx2";
    } else {
        return vq_err_set(err, VQ_EUNSUPPORTED, "isa",
                          "hnswlib baseline exists for avx2 and avx512 only; vqdb runs %s",
                          vq_isa_name(isa));
    }
    vq_hnswlib *h = (vq_hnswlib *)vq_calloc(1, sizeof *h);
    VQ_FAIL_IF(!h, VQ_ENOMEM, err, "hnswlib", "out of memory");
    char msg[200] = "";
    h->h = ops->create(d, metric != VQ_METRIC_L2, max_n, m, efc, msg, sizeof msg);
    if (!h->h) {
        vq_free(h);
        return vq_err_set(err, VQ_ENOMEM, "hnswlib", "%s", msg);
    }
    h->ops = ops;
    h->isa = name;
    h->d = d;
    h->max_n = max_n;
    h->metric = metric;
    *out = h;
    return VQ_OK;
}

extern "C" void vq_hnswlib_free(vq_hnswlib *h) {
    if (!h) return;
    h->ops->destroy(h->h);
    vq_free(h);
}

extern "C" int vq_hnswlib_add(vq_hnswlib *h, const float *x, size_t n, unsigned threads,
                              vq_err *err) {
    VQ_FAIL_IF(n > h->max_n - h->count, VQ_ETOOBIG, err, "n",
               "adding %zu vectors to %zu exceeds max_n=%zu", n, h->count, h->max_n);
    VQ_TRY(vq_check_finite(x, n, h->d, "x", err));
    const float *src = x;
    float *tmp = NULL;
    if (h->metric == VQ_METRIC_COS) {
        tmp = (float *)vq_malloc(n * h->d * sizeof(float) + 1);
        VQ_FAIL_IF(!tmp, VQ_ENOMEM, err, "x", "out of memory normalizing %zu vectors", n);
        for (size_t i = 0; i < n; i++) normalize(tmp + i * h->d, x + i * h->d, h->d);
        src = tmp;
    }
    char msg[200] = "";
    int rc = h->ops->add(h->h, src, h->d, h->count, n, threads ? threads : 1, msg, sizeof msg);
    vq_free(tmp);
    VQ_FAIL_IF(rc != 0, VQ_EINTERNAL, err, "hnswlib", "%s", msg);
    h->count += n;
    return VQ_OK;
}

extern "C" void vq_hnswlib_set_ef(vq_hnswlib *h, unsigned ef) { h->ops->set_ef(h->h, ef); }

extern "C" int vq_hnswlib_search(const vq_hnswlib *h, const float *q, unsigned k, int64_t *ids,
                                 float *dist, vq_err *err) {
    VQ_FAIL_IF(k == 0, VQ_EINVAL, err, "k", "k must be at least 1");
    int rc;
    if (h->metric == VQ_METRIC_COS) {
        /* Queries up to 2048-d normalize on the stack, so the timed path does not allocate. */
        float stack[2048];
        float *y = h->d <= 2048 ? stack : (float *)vq_malloc(h->d * sizeof(float));
        VQ_FAIL_IF(!y, VQ_ENOMEM, err, "q", "out of memory");
        normalize(y, q, h->d);
        rc = h->ops->search(h->h, y, k, ids, dist);
        if (y != stack) vq_free(y);
    } else {
        rc = h->ops->search(h->h, q, k, ids, dist);
    }
    VQ_FAIL_IF(rc != 0, VQ_EINTERNAL, err, "hnswlib", "hnswlib searchKnn threw");
    return VQ_OK;
}

extern "C" size_t vq_hnswlib_count(const vq_hnswlib *h) { return h->count; }
extern "C" size_t vq_hnswlib_bytes(const vq_hnswlib *h) { return h->ops->bytes(h->h); }
extern "C" const char *vq_hnswlib_isa(const vq_hnswlib *h) { return h->isa; }

extern "C" int vq_hnswlib_save(const vq_hnswlib *h, const char *path, vq_err *err) {
    VQ_FAIL_IF(h->ops->save(h->h, path) != 0, VQ_EIO, err, path, "%s: hnswlib saveIndex failed",
               path);
    return VQ_OK;
}

/* ---------- sweep target "hnswlib:m=M,efc=E" ---------- */

struct hnsw_target {
    unsigned m, efc;
    vq_hnswlib *h;
    char desc[64];
};

static int ht_build(void *ctx, const float *x, size_t n, size_t d, vq_metric metric,
                    unsigned threads, vq_err *err) {
    hnsw_target *t = (hnsw_target *)ctx;
    VQ_TRY(vq_hnswlib_new(d, metric, n, t->m, t->efc, &t->h, err));
    snprintf(t->desc, sizeof t->desc, "hnswlib 0.6.2 %s", t->h->isa);
    return vq_hnswlib_add(t->h, x, n, threads, err);
}

static int ht_set_param(void *ctx, const char *key, unsigned value, vq_err *err) {
    hnsw_target *t = (hnsw_target *)ctx;
    VQ_FAIL_IF(strcmp(key, "ef") != 0, VQ_EUNSUPPORTED, err, key, "hnswlib has no '%s'", key);
    vq_hnswlib_set_ef(t->h, value);
    return VQ_OK;
}

static int ht_search(void *ctx, unsigned tid, const float *q, unsigned k, int64_t *ids,
                     vq_err *err) {
    (void)tid;
    return vq_hnswlib_search(((hnsw_target *)ctx)->h, q, k, ids, NULL, err);
}

static void ht_stats(void *ctx, double *bpv, double *rbpv) {
    hnsw_target *t = (hnsw_target *)ctx;
    *bpv = t->h->count ? (double)vq_hnswlib_bytes(t->h) / (double)t->h->count : 0.0;
    *rbpv = 0.0; /* the vectors are the index and count in bytes_per_vector */
}

static const char *ht_describe(void *ctx) { return ((hnsw_target *)ctx)->desc; }

static void ht_destroy(void *ctx) {
    hnsw_target *t = (hnsw_target *)ctx;
    vq_hnswlib_free(t->h);
    vq_free(t);
}

extern "C" int vq_hnswlib_target(const char *params, vq_sweep_target *out, vq_err *err) {
    unsigned m = VQ_HNSWLIB_M_DEFAULT, efc = VQ_HNSWLIB_EFC_DEFAULT;
    char buf[VQ_SWEEP_NAME_MAX];
    VQ_FAIL_IF(strlen(params) >= sizeof buf, VQ_ETOOBIG, err, "baseline", "hnswlib spec too long");
    snprintf(buf, sizeof buf, "%s", params);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        VQ_FAIL_IF(!eq, VQ_ESPEC, err, "baseline", "hnswlib:%s: expected key=value, got '%s'",
                   params, tok);
        *eq = '\0';
        char *end;
        unsigned long v = strtoul(eq + 1, &end, 10);
        VQ_FAIL_IF(*end || end == eq + 1, VQ_ESPEC, err, tok, "hnswlib: %s='%s' is not an integer",
                   tok, eq + 1);
        if (!strcmp(tok, "m"))
            m = (unsigned)v;
        else if (!strcmp(tok, "efc"))
            efc = (unsigned)v;
        else
            return vq_err_set(err, VQ_ESPEC, tok, "hnswlib: unknown key '%s' (m, efc)", tok);
    }
    VQ_FAIL_IF(m < VQ_HNSWLIB_M_MIN || m > VQ_HNSWLIB_M_MAX, VQ_ESPEC, err, "m",
               "hnswlib: m=%u outside [%u, %u]", m, VQ_HNSWLIB_M_MIN, VQ_HNSWLIB_M_MAX);
    VQ_FAIL_IF(efc < VQ_HNSWLIB_EFC_MIN || efc > VQ_HNSWLIB_EFC_MAX, VQ_ESPEC, err, "efc",
               "hnswlib: efc=%u outside [%u, %u]", efc, VQ_HNSWLIB_EFC_MIN, VQ_HNSWLIB_EFC_MAX);
    hnsw_target *t = (hnsw_target *)vq_calloc(1, sizeof *t);
    VQ_FAIL_IF(!t, VQ_ENOMEM, err, "baseline", "out of memory");
    t->m = m;
    t->efc = efc;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "hnswlib:%s", params);
    out->ctx = t;
    out->build = ht_build;
    out->set_param = ht_set_param;
    out->search = ht_search;
    out->stats = ht_stats;
    out->describe = ht_describe;
    out->destroy = ht_destroy;
    return VQ_OK;
}
