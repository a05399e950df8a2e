/* itest.h — shared helpers for index/ tests: seeded clustered data (a Gaussian mixture, so
 * IVF partitions mean something), exact ground truth by brute force, recall@k.
 * Header-only so each test file stays one executable. */
#ifndef VQ_ITEST_H
#define VQ_ITEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

static inline uint64_t it_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static inline float it_uniform(uint64_t *s) { return (float)((it_next(s) >> 11) * 0x1.0p-53); }
static inline float it_normal(uint64_t *s) {
    float u1 = it_uniform(s), u2 = it_uniform(s);
    if (u1 < 1e-30f) u1 = 1e-30f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

/* n * d floats: 64 cluster centres ~ N(0, 4), points = centre + N(0, 1). */
static inline float *it_data(size_t n, unsigned d, uint64_t seed) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 7;
    unsigned nc = 64;
    float *c = malloc((size_t)nc * d * sizeof(float));
    for (size_t i = 0; i < (size_t)nc * d; i++) c[i] = 2.0f * it_normal(&s);
    float *x = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        unsigned k = (unsigned)(it_next(&s) % nc);
        for (unsigned j = 0; j < d; j++) x[i * d + j] = c[(size_t)k * d + j] + it_normal(&s);
    }
    free(c);
    return x;
}

static inline float it_dist(const float *a, const float *b, unsigned d, vq_metric m) {
    double s = 0, na = 0, nb = 0;
    for (unsigned j = 0; j < d; j++) {
        if (m == VQ_METRIC_L2)
            s += (double)(a[j] - b[j]) * (a[j] - b[j]);
        else
            s += (double)a[j] * b[j];
        na += (double)a[j] * a[j];
        nb += (double)b[j] * b[j];
    }
    if (m == VQ_METRIC_L2) return (float)s;
    if (m == VQ_METRIC_IP) return (float)-s;
    return (float)(1.0 - s / sqrt(na * nb));
}

typedef int (*it_allow_fn)(uint64_t id, void *ctx);

/* Exact top-k ids (ids[i] = row i unless ids given) over rows passing allow (or all),
 * skipping rows with dead[i] set (dead may be NULL). */
static inline void it_gt(const float *x, size_t n, const uint64_t *ids, const uint8_t *dead,
                         const float *q, size_t nq, unsigned d, unsigned k, vq_metric m,
                         it_allow_fn allow, void *ctx, uint64_t *gt) {
    float *bd = malloc(k * sizeof(float));
    for (size_t qi = 0; qi < nq; qi++) {
        uint64_t *g = gt + qi * k;
        for (unsigned t = 0; t < k; t++) {
            bd[t] = INFINITY;
            g[t] = VQI_NO_ID;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t id = ids ? ids[i] : i;
            if (dead && dead[i]) continue;
            if (allow && !allow(id, ctx)) continue;
            float dd = it_dist(q + qi * d, x + i * d, d, m);
            if (dd >= bd[k - 1]) continue;
            unsigned p = k - 1;
            while (p > 0 && bd[p - 1] > dd) {
                bd[p] = bd[p - 1];
                g[p] = g[p - 1];
                p--;
            }
            bd[p] = dd;
            g[p] = id;
        }
    }
    free(bd);
}

static inline double it_recall(const uint64_t *got, const uint64_t *gt, size_t nq, unsigned k) {
    size_t hit = 0, tot = 0;
    for (size_t qi = 0; qi < nq; qi++)
        for (unsigned a = 0; a < k; a++) {
            if (gt[qi * k + a] == VQI_NO_ID) continue;
            tot++;
            for (unsigned b = 0; b < k; b++)
                if (got[qi * k + b] == gt[qi * k + a]) {
                    hit++;
                    break;
                }
        }
    return tot ? (double)hit / (double)tot : 1.0;
}

/* Builds spec over x (n rows, sequential ids), searches q, returns recall@k vs gt. */
static inline double it_build_recall(const char *spec, const float *x, size_t n, const float *q,
                                     size_t nq, unsigned d, unsigned k, vq_metric m,
                                     const uint64_t *gt, const vqi_search_params *sp,
                                     vqi_index **keep) {
    vqi_index *idx = NULL;
    vq_err err = {0};
    int rc = vqi_index_new(spec, d, m, &idx, &err);
    if (rc) {
        fprintf(stderr, "%s: new: %s %s\n", spec, err.field, err.msg);
        return -1;
    }
    rc = vqi_index_add(idx, n, x, NULL, &err);
    if (rc) {
        fprintf(stderr, "%s: add: %s %s\n", spec, err.field, err.msg);
        vqi_index_free(idx);
        return -1;
    }
    uint64_t *got = malloc(nq * k * sizeof *got);
    float *dist = malloc(nq * k * sizeof *dist);
    rc = vqi_index_search(idx, nq, q, k, sp, got, dist, &err);
    double r = rc ? -1 : it_recall(got, gt, nq, k);
    if (rc) fprintf(stderr, "%s: search: %s %s\n", spec, err.field, err.msg);
    free(got);
    free(dist);
    if (keep)
        *keep = idx;
    else
        vqi_index_free(idx);
    return r;
}

#endif
