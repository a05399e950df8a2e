/* baseline_faiss.c — FAISS baselines for `vqdb bench` through the FAISS C API
 * (Debian's libfaiss 1.7.3 plus the C API compiled by scripts/setup).
 *
 * "faiss:FACTORY[@key=value,...]": any index_factory string ("HNSW32,Flat",
 * "IVF1024,PQ32x4fs,RFlat", "IVF1024,PQ32"); after '@', ParameterSpace settings applied once
 * after training ("k_factor_rf=4" for the re-rank depth of RFlat). Sweep keys map to
 * ParameterSpace names: ef -> efSearch, nprobe -> nprobe; a name the index does not have
 * makes FAISS refuse it and the key is skipped for this target.
 *
 * Build: train on the whole base set, then add it, with omp_set_num_threads(threads).
 * Search: one query per call with OpenMP held to one thread in the calling thread, so that the
 * runner's own threads are the only parallelism (FAISS would otherwise spread a single query
 * over its OpenMP pool and the single-thread row would not be single-thread).
 * COS: FAISS has no cosine metric; the target normalizes copies and uses inner product.
 * Memory: bytes_per_vector is the size of faiss_write_index's output over n, the format being
 * FAISS's in-memory arrays; for a refine index (",RFlat") the d floats per vector of the
 * refine store are reported as rerank_bytes_per_vector and left out of bytes_per_vector.
 *
 * Thread safety: search is called concurrently from the runner's threads (FAISS's search is
 * const); everything else from one thread.
 */
#define _GNU_SOURCE
#include <AutoTune_c.h>
#include <Index_c.h>
#include <error_c.h>
#include <index_factory_c.h>
#include <index_io_c.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep.h"

#define FAISS_SET_MAX 8

typedef struct faiss_target {
    char factory[VQ_SWEEP_NAME_MAX];
    size_t nset;
    char set_key[FAISS_SET_MAX][48];
    double set_val[FAISS_SET_MAX];
    FaissIndex *idx;
    FaissParameterSpace *ps;
    size_t d, n;
    vq_metric metric;
    unsigned nthreads;
    float *qbuf; /* nthreads * d floats: normalized queries for COS */
    double bpv, rbpv;
} faiss_target;

static int faiss_fail(vq_err *err, const char *what) {
    const char *m = faiss_get_last_error();
    return vq_err_set(err, VQ_EINTERNAL, "faiss", "faiss %s: %s", what, m ? m : "unknown error");
}

static void normalize_rows(float *y, const float *x, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (size_t j = 0; j < d; j++) y[i * d + j] = x[i * d + j] * inv;
    }
}

static int ft_build(void *ctx, const float *x, size_t n, size_t d, vq_metric metric,
                    unsigned threads, vq_err *err) {
    faiss_target *t = ctx;
    t->d = d;
    t->n = n;
    t->metric = metric;
    omp_set_num_threads((int)(threads ? threads : 1));
    if (faiss_index_factory(&t->idx, (int)d, t->factory,
                            metric == VQ_METRIC_L2 ? METRIC_L2 : METRIC_INNER_PRODUCT))
        return faiss_fail(err, "index_factory");
    float *tmp = NULL;
    if (metric == VQ_METRIC_COS) {
        tmp = vq_malloc(n * d * sizeof(float) + 1);
        VQ_FAIL_IF(!tmp, VQ_ENOMEM, err, "faiss", "out of memory normalizing %zu vectors", n);
        normalize_rows(tmp, x, n, d);
        x = tmp;
    }
    int rc = VQ_OK;
    if (faiss_Index_train(t->idx, (idx_t)n, x))
        rc = faiss_fail(err, "train");
    else if (faiss_Index_add(t->idx, (idx_t)n, x))
        rc = faiss_fail(err, "add");
    vq_free(tmp);
    VQ_TRY(rc);
    if (faiss_ParameterSpace_new(&t->ps)) return faiss_fail(err, "ParameterSpace");
    for (size_t i = 0; i < t->nset; i++)
        if (faiss_ParameterSpace_set_index_parameter(t->ps, t->idx, t->set_key[i], t->set_val[i]))
            return faiss_fail(err, t->set_key[i]);
    /* Memory: the serialized index is FAISS's arrays written out. */
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    VQ_FAIL_IF(!f, VQ_ENOMEM, err, "faiss", "open_memstream failed");
    int wrc = faiss_write_index(t->idx, f);
    fclose(f);
    free(mem);
    if (wrc) return faiss_fail(err, "write_index");
    double per = (double)len / (double)n;
    if (strstr(t->factory, ",RFlat") || strstr(t->factory, "Refine(Flat)")) {
        t->rbpv = (double)d * sizeof(float);
        t->bpv = per - t->rbpv;
    } else {
        t->rbpv = 0.0;
        t->bpv = per;
    }
    return VQ_OK;
}

static int ft_set_param(void *ctx, const char *key, unsigned value, vq_err *err) {
    faiss_target *t = ctx;
    const char *name = !strcmp(key, "ef") ? "efSearch" : !strcmp(key, "nprobe") ? "nprobe" : NULL;
    VQ_FAIL_IF(!name, VQ_EUNSUPPORTED, err, key, "faiss: no sweep key '%s'", key);
    /* The C API prints every refused parameter on stderr; skip the ones the factory string
     * rules out before asking FAISS. */
    VQ_FAIL_IF(!strstr(t->factory, !strcmp(key, "ef") ? "HNSW" : "IVF"), VQ_EUNSUPPORTED, err, key,
               "faiss %s has no %s", t->factory, name);
    if (faiss_ParameterSpace_set_index_parameter(t->ps, t->idx, name, (double)value))
        return vq_err_set(err, VQ_EUNSUPPORTED, key, "faiss %s has no %s", t->factory, name);
    return VQ_OK;
}

static int ft_prepare(void *ctx, unsigned nthreads, vq_err *err) {
    faiss_target *t = ctx;
    vq_free(t->qbuf);
    t->qbuf = vq_malloc((size_t)nthreads * t->d * sizeof(float) + 1);
    VQ_FAIL_IF(!t->qbuf, VQ_ENOMEM, err, "faiss", "out of memory");
    t->nthreads = nthreads;
    return VQ_OK;
}

static int ft_search(void *ctx, unsigned tid, const float *q, unsigned k, int64_t *ids,
                     vq_err *err) {
    faiss_target *t = ctx;
    float dist[VQ_SWEEP_K_MAX];
    omp_set_num_threads(1);
    if (t->metric == VQ_METRIC_COS) {
        float *y = t->qbuf + (size_t)tid * t->d;
        normalize_rows(y, q, 1, t->d);
        q = y;
    }
    if (faiss_Index_search(t->idx, 1, q, (idx_t)k, dist, (idx_t *)ids))
        return faiss_fail(err, "search");
    return VQ_OK;
}

static void ft_stats(void *ctx, double *bpv, double *rbpv) {
    faiss_target *t = ctx;
    *bpv = t->bpv;
    *rbpv = t->rbpv;
}

static const char *ft_describe(void *ctx) {
    (void)ctx;
    return "faiss 1.7.3 (Debian, generic SIMD) C API";
}

static void ft_destroy(void *ctx) {
    faiss_target *t = ctx;
    if (t->idx) faiss_Index_free(t->idx);
    if (t->ps) faiss_ParameterSpace_free(t->ps);
    vq_free(t->qbuf);
    vq_free(t);
}

int vq_faiss_target(const char *spec, vq_sweep_target *out, vq_err *err) {
    VQ_FAIL_IF(!spec[0], VQ_ESPEC, err, "baseline", "faiss: empty factory string");
    VQ_FAIL_IF(strlen(spec) >= VQ_SWEEP_NAME_MAX - 8, VQ_ETOOBIG, err, "baseline",
               "faiss spec over %u characters", VQ_SWEEP_NAME_MAX - 8);
    faiss_target *t = vq_calloc(1, sizeof *t);
    VQ_FAIL_IF(!t, VQ_ENOMEM, err, "baseline", "out of memory");
    snprintf(t->factory, sizeof t->factory, "%s", spec);
    char *at = strchr(t->factory, '@');
    if (at) {
        *at = '\0';
        char *save = NULL;
        for (char *tok = strtok_r(at + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(tok, '=');
            char *end = NULL;
            double v = eq ? strtod(eq + 1, &end) : 0;
            if (!eq || eq == tok || end == eq + 1 || *end || t->nset >= FAISS_SET_MAX ||
                (size_t)(eq - tok) >= sizeof t->set_key[0]) {
                vq_free(t);
                return vq_err_set(err, VQ_ESPEC, "baseline",
                                  "faiss:%s: settings after '@' are key=number, at most %d", spec,
                                  FAISS_SET_MAX);
            }
            *eq = '\0';
            snprintf(t->set_key[t->nset], sizeof t->set_key[0], "%s", tok);
            t->set_val[t->nset++] = v;
        }
    }
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "faiss:%s", spec);
    out->ctx = t;
    out->build = ft_build;
    out->set_param = ft_set_param;
    out->prepare = ft_prepare;
    out->search = ft_search;
    out->stats = ft_stats;
    out->describe = ft_describe;
    out->destroy = ft_destroy;
    return VQ_OK;
}
