/* Tests for bench/sweep.c and the baselines it runs: recall, percentiles, interpolation,
 * --sweep parsing, the brute-force ground truth against a double-precision reference, the
 * runner's points (count, params, recall, failures, fork isolation) and the hnswlib and FAISS
 * targets on generated data. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../quant/testutil.h"
#include "sweep.h"

Test(sweep, recall_counts_hits_once) {
    /* query 0: perfect; query 1: one of two, a padding slot; query 2: a duplicate hit. */
    int64_t ids[] = {0, 1, 5, -1, 7, 7};
    int32_t gt[] = {1, 0, 9, 5, 7, 8, 4, 3}; /* gt_k = 2 of stride... */
    int32_t g2[] = {1, 0, 5, 6, 7, 8};
    cr_assert_float_eq(vq_sweep_recall(ids, 2, g2, 2, 3, 2), (1.0 + 0.5 + 0.5) / 3, 1e-12);
    /* A wider ground truth row (gt_k = 4) only counts its first k. */
    int64_t one[] = {9, 3};
    cr_assert_float_eq(vq_sweep_recall(one, 2, gt + 4, 4, 1, 2), 0.0, 1e-12);
    cr_assert_float_eq(vq_sweep_recall(one, 2, gt, 4, 1, 2), 0.0, 1e-12);
    int64_t two[] = {1, 0};
    cr_assert_float_eq(vq_sweep_recall(two, 2, gt, 4, 1, 2), 1.0, 1e-12);
    cr_assert_float_eq(vq_sweep_recall(two, 2, gt, 4, 0, 2), 0.0, 1e-12);
}

Test(sweep, percentile_nearest_rank) {
    double x[100];
    for (int i = 0; i < 100; i++) x[i] = 100 - i; /* unsorted on purpose */
    cr_assert_float_eq(vq_sweep_percentile(x, 100, 0.50), 50.0, 1e-12);
    cr_assert_float_eq(vq_sweep_percentile(x, 100, 0.99), 99.0, 1e-12);
    cr_assert_float_eq(vq_sweep_percentile(x, 100, 1.0), 100.0, 1e-12);
    double one = 3.5;
    cr_assert_float_eq(vq_sweep_percentile(&one, 1, 0.99), 3.5, 1e-12);
}

Test(sweep, qps_at_recall_interpolates_log_qps) {
    double rec[] = {0.9, 1.0, 0.8}, qps[] = {500, 100, 1000}, v;
    cr_assert_eq(vq_sweep_qps_at_recall(rec, qps, 3, 0.9, &v), VQ_OK);
    cr_assert_float_eq(v, 500, 1e-9);
    cr_assert_eq(vq_sweep_qps_at_recall(rec, qps, 3, 0.85, &v), VQ_OK);
    cr_assert_float_eq(v, sqrt(1000.0 * 500.0), 1e-6);
    cr_assert_eq(vq_sweep_qps_at_recall(rec, qps, 3, 0.95, &v), VQ_OK);
    cr_assert_float_eq(v, sqrt(500.0 * 100.0), 1e-6);
    cr_assert_eq(vq_sweep_qps_at_recall(rec, qps, 3, 0.8, &v), VQ_OK);
    cr_assert_float_eq(v, 1000, 1e-9);
    cr_assert_eq(vq_sweep_qps_at_recall(rec, qps, 3, 0.7, &v), VQ_ENOTFOUND);
    cr_assert_eq(vq_sweep_qps_at_recall(rec, qps, 3, 1.01, &v), VQ_ENOTFOUND);
    cr_assert_eq(vq_sweep_qps_at_recall(rec, qps, 0, 0.9, &v), VQ_ENOTFOUND);
    /* Several points at the same recall: the fastest one counts. */
    double rec2[] = {0.99, 0.99, 0.99, 1.0}, qps2[] = {300, 900, 600, 100};
    cr_assert_eq(vq_sweep_qps_at_recall(rec2, qps2, 4, 0.99, &v), VQ_OK);
    cr_assert_float_eq(v, 900, 1e-9);
}

Test(sweep, parse) {
    vq_sweep_config c;
    memset(&c, 0, sizeof c);
    vq_err e;
    cr_assert_eq(vq_sweep_parse(&c, "ef=16,32,64", &e), VQ_OK);
    cr_assert_eq(vq_sweep_parse(&c, "nprobe=1", &e), VQ_OK);
    cr_assert_eq(c.nkeys, 2);
    cr_assert_str_eq(c.keys[0], "ef");
    cr_assert_eq(c.nvalues[0], 3);
    cr_assert_eq(c.values[0][2], 64);
    cr_assert_eq(c.values[1][0], 1);
    const char *bad[] = {"ef=", "ef", "=3", "foo=1", "ef=0", "ef=1,,2", "ef=1,x", "ef=-3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vq_sweep_config d;
        memset(&d, 0, sizeof d);
        cr_assert_lt(vq_sweep_parse(&d, bad[i], &e), 0, "'%s' accepted", bad[i]);
        cr_assert_str_eq(e.field, "sweep");
    }
    cr_assert_lt(vq_sweep_parse(&c, "ef=8", &e), 0, "a key given twice");
}

/* Double-precision reference distance: smaller is closer. */
static double ref_dist(const float *a, const float *b, size_t d, vq_metric m) {
    double s = 0, na = 0, nb = 0;
    for (size_t j = 0; j < d; j++) {
        if (m == VQ_METRIC_L2)
            s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
        else
            s += (double)a[j] * b[j];
        na += (double)a[j] * a[j];
        nb += (double)b[j] * b[j];
    }
    if (m == VQ_METRIC_L2) return s;
    if (m == VQ_METRIC_IP) return -s;
    return -s / sqrt(na * nb);
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

Test(sweep, ground_truth_matches_reference) {
    size_t n = 700, d = 37, nq = 23;
    unsigned k = 10;
    float *x = malloc(n * d * 4), *q = malloc(nq * d * 4);
    tu_fill_normal(x, n * d, 1);
    tu_fill_normal(q, nq * d, 2);
    for (size_t i = 0; i < n * d; i += 3) x[i] *= 3; /* uneven norms: IP and COS differ */
    int32_t *gt = malloc(nq * k * 4);
    double *all = malloc(n * sizeof(double));
    for (int m = 0; m < 3; m++)
        for (unsigned th = 1; th <= 3; th += 2) {
            vq_err e;
            cr_assert_eq(vq_sweep_ground_truth(x, n, q, nq, d, k, (vq_metric)m, th, gt, &e), VQ_OK,
                         "%s", e.msg);
            for (size_t i = 0; i < nq; i++) {
                for (size_t j = 0; j < n; j++) all[j] = ref_dist(q + i * d, x + j * d, d, m);
                qsort(all, n, sizeof *all, cmp_dbl);
                double prev = -INFINITY;
                for (unsigned a = 0; a < k; a++) {
                    int32_t id = gt[i * k + a];
                    cr_assert(id >= 0 && (size_t)id < n);
                    double got = ref_dist(q + i * d, x + (size_t)id * d, d, m);
                    cr_assert(fabs(got - all[a]) <= 1e-4 * (1 + fabs(all[a])),
                              "metric %d q %zu rank %u: %g vs %g", m, i, a, got, all[a]);
                    cr_assert(got >= prev - 1e-4 * (1 + fabs(prev)), "not sorted");
                    prev = got;
                }
            }
        }
    vq_err e;
    cr_assert_eq(vq_sweep_ground_truth(x, 0, q, nq, d, k, VQ_METRIC_L2, 1, gt, &e), VQ_EINVAL);
    cr_assert_eq(vq_sweep_ground_truth(x, n, q, nq, d, 0, VQ_METRIC_L2, 1, gt, &e), VQ_EINVAL);
    /* k above n pads with -1. */
    int32_t small[2 * 5];
    cr_assert_eq(vq_sweep_ground_truth(x, 3, q, 2, d, 5, VQ_METRIC_L2, 1, small, &e), VQ_OK);
    cr_assert_eq(small[3], -1);
    cr_assert_eq(small[4], -1);
    cr_assert_geq(small[2], 0);
    free(x);
    free(q);
    free(gt);
    free(all);
}

/* A brute-force target that the tests control: ef caps how many base rows it scans, so recall
 * grows with ef; fail_at makes search fail (or abort) on a given call. */
typedef struct brute {
    const float *x;
    size_t n, d;
    unsigned limit;
    int fail, crash;
    int built;
} brute;

static int br_build(void *ctx, const float *x, size_t n, size_t d, vq_metric m, unsigned th,
                    vq_err *err) {
    (void)m;
    (void)th;
    (void)err;
    brute *b = ctx;
    b->x = x;
    b->n = n;
    b->d = d;
    b->limit = (unsigned)n;
    b->built = 1;
    return VQ_OK;
}
static int br_set(void *ctx, const char *key, unsigned v, vq_err *err) {
    brute *b = ctx;
    if (strcmp(key, "ef")) return vq_err_set(err, VQ_EUNSUPPORTED, key, "no %s", key);
    b->limit = v < b->n ? v : (unsigned)b->n;
    return VQ_OK;
}
static int br_search(void *ctx, unsigned tid, const float *q, unsigned k, int64_t *ids,
                     vq_err *err) {
    (void)tid;
    brute *b = ctx;
    if (b->crash) abort();
    if (b->fail) return vq_err_set(err, VQ_EIO, "brute", "search failed on purpose");
    double best[64];
    for (unsigned a = 0; a < k; a++) best[a] = INFINITY, ids[a] = -1;
    for (size_t j = 0; j < b->limit; j++) {
        double dd = ref_dist(q, b->x + j * b->d, b->d, VQ_METRIC_L2);
        if (dd >= best[k - 1]) continue;
        unsigned p = k - 1;
        while (p > 0 && best[p - 1] > dd) {
            best[p] = best[p - 1];
            ids[p] = ids[p - 1];
            p--;
        }
        best[p] = dd;
        ids[p] = (int64_t)j;
    }
    return VQ_OK;
}
static void br_stats(void *ctx, double *bpv, double *rbpv) {
    brute *b = ctx;
    *bpv = (double)b->d * 4;
    *rbpv = 0;
}

static vq_sweep_target brute_target(brute *b) {
    vq_sweep_target t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "brute\"force");
    t.ctx = b;
    t.build = br_build;
    t.set_param = br_set;
    t.search = br_search;
    t.stats = br_stats;
    return t;
}

typedef struct sink {
    vq_sweep_point p[64];
    size_t n;
} sink;
static void to_sink(void *ctx, const vq_sweep_point *p) {
    sink *s = ctx;
    if (s->n < 64) s->p[s->n++] = *p;
}

static float *g_x, *g_q;
static int32_t *g_gt;
static vq_sweep_config make_cfg(size_t n, size_t d, size_t nq, unsigned k) {
    g_x = malloc(n * d * 4);
    g_q = malloc(nq * d * 4);
    g_gt = malloc(nq * k * 4);
    tu_fill_normal(g_x, n * d, 5);
    tu_fill_normal(g_q, nq * d, 6);
    vq_err e;
    cr_assert_eq(vq_sweep_ground_truth(g_x, n, g_q, nq, d, k, VQ_METRIC_L2, 2, g_gt, &e), VQ_OK);
    vq_sweep_config c;
    memset(&c, 0, sizeof c);
    c.dataset = "gen";
    c.base = g_x;
    c.n = n;
    c.d = d;
    c.queries = g_q;
    c.nq = nq;
    c.gt = g_gt;
    c.gt_k = k;
    c.metric = VQ_METRIC_L2;
    c.k = k;
    c.threads = 2;
    return c;
}
static void free_cfg(void) {
    free(g_x);
    free(g_q);
    free(g_gt);
}

Test(sweep, runner_points) {
    vq_sweep_config c = make_cfg(400, 16, 50, 10);
    vq_err e;
    cr_assert_eq(vq_sweep_parse(&c, "ef=40,400", &e), VQ_OK);
    cr_assert_eq(vq_sweep_parse(&c, "nprobe=3", &e), VQ_OK); /* brute has no nprobe */
    brute b = {0};
    vq_sweep_target t = brute_target(&b);
    sink s = {0};
    cr_assert_eq(vq_sweep_run(&c, &t, to_sink, &s, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(s.n, 4, "2 values x (1 thread, 2 threads), got %zu", s.n);
    cr_assert_str_eq(s.p[0].params, "ef=40");
    cr_assert_eq(s.p[0].threads, 1);
    cr_assert_eq(s.p[1].threads, 2);
    cr_assert_str_eq(s.p[3].params, "ef=400");
    /* Scanning 40 of 400 rows finds about a tenth of the neighbours; all 400 find all. */
    cr_assert_lt(s.p[0].recall_at_k, 0.3);
    cr_assert_float_eq(s.p[2].recall_at_k, 1.0, 1e-12);
    cr_assert_float_eq(s.p[3].recall_at_k, 1.0, 1e-12);
    for (size_t i = 0; i < s.n; i++) {
        cr_assert_gt(s.p[i].qps, 0);
        cr_assert_geq(s.p[i].p99_ms, s.p[i].p50_ms);
        cr_assert_float_eq(s.p[i].bytes_per_vector, 64.0, 1e-12);
        cr_assert_eq(s.p[i].status, 0);
    }
    /* JSON line: escaped name, params object, numbers, no error field. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vq_sweep_point_json(f, &s.p[3]);
    fclose(f);
    cr_assert(strstr(buf, "\"index\":\"brute\\\"force\""), "%s", buf);
    cr_assert(strstr(buf, "\"params\":{\"ef\":400}"), "%s", buf);
    cr_assert(strstr(buf, "\"threads\":2"), "%s", buf);
    cr_assert(strstr(buf, "\"recall_at_k\":1.0000"), "%s", buf);
    cr_assert(strstr(buf, "\"dataset\":\"gen\",\"n\":400,\"d\":16"), "%s", buf);
    cr_assert_null(strstr(buf, "error"));
    cr_assert_eq(buf[len - 1], '\n');
    free(buf);
    /* A target with none of the sweep keys gets one default point per thread count. */
    vq_sweep_config c2 = c;
    c2.nkeys = 0;
    s.n = 0;
    b = (brute){0};
    cr_assert_eq(vq_sweep_run(&c2, &t, to_sink, &s, &e), VQ_OK);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.p[0].params, "");
    free_cfg();
}

Test(sweep, failures_are_points) {
    vq_sweep_config c = make_cfg(100, 8, 10, 5);
    vq_err e;
    brute bf = {0};
    vq_sweep_target tf = brute_target(&bf);
    bf.fail = 1;
    sink s = {0};
    cr_assert_lt(vq_sweep_run(&c, &tf, to_sink, &s, &e), 0);
    cr_assert_eq(s.n, 1, "the warm-up pass fails once and is reported once");
    cr_assert_eq(s.p[0].status, VQ_EIO);
    cr_assert(strstr(s.p[0].msg, "on purpose"));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    vq_sweep_point_json(f, &s.p[0]);
    fclose(f);
    cr_assert(strstr(buf, "\"recall_at_k\":null"), "%s", buf);
    cr_assert(strstr(buf, "\"error\":\"search failed on purpose\""), "%s", buf);
    free(buf);
    /* Ground truth narrower than k is refused before any work. */
    c.k = 6;
    s.n = 0;
    bf.fail = 0;
    bf.built = 0;
    cr_assert_eq(vq_sweep_run(&c, &tf, to_sink, &s, &e), VQ_EINVAL);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(bf.built, 0);
    free_cfg();
}

/* Interleaved: the same points per target as one run each (same recall: one knob per target,
 * set again before each of its passes), grouped per (value, threads); a target that fails
 * is reported and the others go on; a keyless target gets its default points. */
Test(sweep, interleaved_matches_separate_runs) {
    vq_sweep_config c = make_cfg(400, 16, 50, 10);
    vq_err e;
    cr_assert_eq(vq_sweep_parse(&c, "ef=40,400", &e), VQ_OK);
    c.repeat = 2;
    brute b1 = {0}, b2 = {0}, b3 = {0};
    vq_sweep_target t[3] = {brute_target(&b1), brute_target(&b2), brute_target(&b3)};
    snprintf(t[1].name, sizeof t[1].name, "second");
    t[2].set_param = NULL; /* no knob: scans everything */
    snprintf(t[2].name, sizeof t[2].name, "keyless");
    sink s = {0};
    cr_assert_eq(vq_sweep_run_interleaved(&c, t, 3, to_sink, &s, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(s.n, 10, "2 values x 2 thread counts x 2 targets + 2 keyless, got %zu", s.n);
    cr_assert_str_eq(s.p[0].index, "brute\"force");
    cr_assert_str_eq(s.p[1].index, "second");
    cr_assert_str_eq(s.p[0].params, "ef=40");
    cr_assert_eq(s.p[0].threads, 1);
    cr_assert_eq(s.p[2].threads, 2);
    cr_assert_str_eq(s.p[4].params, "ef=400");
    cr_assert_str_eq(s.p[8].index, "keyless");
    cr_assert_str_eq(s.p[8].params, "");
    cr_assert_float_eq(s.p[0].recall_at_k, s.p[1].recall_at_k, 1e-12);
    cr_assert_lt(s.p[0].recall_at_k, 0.3);
    cr_assert_float_eq(s.p[4].recall_at_k, 1.0, 1e-12);
    cr_assert_float_eq(s.p[8].recall_at_k, 1.0, 1e-12);
    for (size_t i = 0; i < s.n; i++) cr_assert_gt(s.p[i].qps, 0);
    /* One target failing: its failure point, the other's points. */
    b2 = (brute){0};
    b2.fail = 1;
    b1 = (brute){0};
    s.n = 0;
    cr_assert_lt(vq_sweep_run_interleaved(&c, t, 2, to_sink, &s, &e), 0);
    size_t fails = 0, good = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i].status < 0) {
            fails++;
            cr_assert_str_eq(s.p[i].index, "second");
        } else {
            good++;
            cr_assert_str_eq(s.p[i].index, "brute\"force");
        }
    }
    cr_assert_eq(good, 4);
    cr_assert_geq(fails, 1);
    free_cfg();
}

Test(sweep, isolation_survives_a_crash) {
    vq_sweep_config c = make_cfg(100, 8, 10, 5);
    c.threads = 1;
    vq_err e;
    brute b = {.crash = 1};
    vq_sweep_target t = brute_target(&b);
    sink s = {0};
    cr_assert_lt(vq_sweep_run_isolated(&c, &t, to_sink, &s, &e), 0);
    cr_assert_eq(s.n, 1);
    cr_assert_lt(s.p[0].status, 0);
    cr_assert(strstr(s.p[0].msg, "signal"), "%s", s.p[0].msg);
    /* And a healthy child's points come through the pipe intact. */
    b.crash = 0;
    s.n = 0;
    cr_assert_eq(vq_sweep_run_isolated(&c, &t, to_sink, &s, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(s.n, 1);
    cr_assert_float_eq(s.p[0].recall_at_k, 1.0, 1e-12);
    cr_assert_eq(b.built, 0, "the build happened in the child, not here");
    free_cfg();
}

/* Clustered data so that a graph index has structure to find. */
static void clustered(float *x, size_t n, size_t d, uint64_t seed) {
    float *cent = malloc(20 * d * 4);
    tu_fill_normal(cent, 20 * d, seed);
    tu_fill_normal(x, n * d, seed + 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) x[i * d + j] = 0.3f * x[i * d + j] + cent[(i % 20) * d + j];
    free(cent);
}

Test(sweep, hnswlib_target) {
    if (vq_isa_active() == VQ_ISA_SCALAR) {
        vq_sweep_target t;
        vq_err e;
        cr_assert_eq(vq_hnswlib_target("m=8,efc=50", &t, &e), VQ_OK);
        cr_assert_eq(t.build(t.ctx, (float[4]){0}, 1, 4, VQ_METRIC_L2, 1, &e), VQ_EUNSUPPORTED);
        t.destroy(t.ctx);
        return;
    }
    size_t n = 2000, d = 24, nq = 100;
    unsigned k = 10;
    float *x = malloc(n * d * 4), *q = malloc(nq * d * 4);
    int32_t *gt = malloc(nq * k * 4);
    clustered(x, n, d, 3);
    clustered(q, nq, d, 3);
    for (int m = 0; m < 3; m += 2) { /* L2 and COS */
        vq_err e;
        cr_assert_eq(vq_sweep_ground_truth(x, n, q, nq, d, k, (vq_metric)m, 2, gt, &e), VQ_OK);
        vq_sweep_config c;
        memset(&c, 0, sizeof c);
        c.base = x, c.n = n, c.d = d, c.queries = q, c.nq = nq, c.gt = gt, c.gt_k = k;
        c.metric = (vq_metric)m, c.k = k, c.threads = 2;
        cr_assert_eq(vq_sweep_parse(&c, "ef=10,100", &e), VQ_OK);
        cr_assert_eq(vq_sweep_parse(&c, "nprobe=4", &e), VQ_OK);
        vq_sweep_target t;
        cr_assert_eq(vq_hnswlib_target("m=8,efc=64", &t, &e), VQ_OK);
        cr_assert_str_eq(t.name, "hnswlib:m=8,efc=64");
        sink s = {0};
        cr_assert_eq(vq_sweep_run(&c, &t, to_sink, &s, &e), VQ_OK, "%s", e.msg);
        cr_assert_eq(s.n, 4, "ef only; nprobe is not an hnswlib knob");
        cr_assert_geq(s.p[2].recall_at_k, 0.95, "metric %d ef=100 recall %g", m,
                      s.p[2].recall_at_k);
        cr_assert_geq(s.p[2].recall_at_k + 1e-9, s.p[0].recall_at_k);
        /* level 0: 2M links + count, d floats, 8-byte label; more above. */
        cr_assert_geq(s.p[0].bytes_per_vector, 4 * 16 + 4 + d * 4 + 8 + 4);
        cr_assert_lt(s.p[0].bytes_per_vector, 4 * 16 + 4 + d * 4 + 8 + 4 + 40);
        cr_assert(strstr(s.p[0].impl, vq_isa_name(vq_isa_active())), "%s", s.p[0].impl);
        t.destroy(t.ctx);
    }
    vq_sweep_target t;
    vq_err e;
    cr_assert_eq(vq_hnswlib_target("m=1", &t, &e), VQ_ESPEC);
    cr_assert_eq(vq_hnswlib_target("m=16,ef=3", &t, &e), VQ_ESPEC);
    cr_assert_eq(vq_hnswlib_target("m=x", &t, &e), VQ_ESPEC);
    free(x);
    free(q);
    free(gt);
}

Test(sweep, faiss_target) {
    size_t n = 1500, d = 16, nq = 50;
    unsigned k = 10;
    float *x = malloc(n * d * 4), *q = malloc(nq * d * 4);
    int32_t *gt = malloc(nq * k * 4);
    clustered(x, n, d, 8);
    clustered(q, nq, d, 9);
    vq_err e;
    cr_assert_eq(vq_sweep_ground_truth(x, n, q, nq, d, k, VQ_METRIC_L2, 2, gt, &e), VQ_OK);
    vq_sweep_config c;
    memset(&c, 0, sizeof c);
    c.base = x, c.n = n, c.d = d, c.queries = q, c.nq = nq, c.gt = gt, c.gt_k = k;
    c.metric = VQ_METRIC_L2, c.k = k, c.threads = 1;
    cr_assert_eq(vq_sweep_parse(&c, "ef=16,64", &e), VQ_OK);
    cr_assert_eq(vq_sweep_parse(&c, "nprobe=1,16", &e), VQ_OK);
    /* Flat: exact, no knobs, vectors are the index. */
    vq_sweep_target t;
    sink s = {0};
    cr_assert_eq(vq_faiss_target("Flat", &t, &e), VQ_OK);
    cr_assert_eq(vq_sweep_run(&c, &t, to_sink, &s, &e), VQ_OK, "%s", e.msg);
    t.destroy(t.ctx);
    cr_assert_eq(s.n, 1);
    cr_assert_float_eq(s.p[0].recall_at_k, 1.0, 1e-12);
    cr_assert_geq(s.p[0].bytes_per_vector, d * 4);
    /* IVF with a refine: nprobe only, recall rises with nprobe, refine vectors apart. */
    s.n = 0;
    cr_assert_eq(vq_faiss_target("IVF16,PQ8x4,RFlat@k_factor_rf=8", &t, &e), VQ_OK);
    cr_assert_eq(vq_sweep_run(&c, &t, to_sink, &s, &e), VQ_OK, "%s", e.msg);
    t.destroy(t.ctx);
    cr_assert_eq(s.n, 2);
    cr_assert_str_eq(s.p[1].params, "nprobe=16");
    cr_assert_geq(s.p[1].recall_at_k, s.p[0].recall_at_k);
    cr_assert_geq(s.p[1].recall_at_k, 0.9, "%g", s.p[1].recall_at_k);
    cr_assert_float_eq(s.p[1].rerank_bytes_per_vector, d * 4.0, 1e-9);
    /* A bad factory string fails the build with FAISS's message, as a point. */
    s.n = 0;
    cr_assert_eq(vq_faiss_target("NoSuchIndex", &t, &e), VQ_OK);
    cr_assert_lt(vq_sweep_run(&c, &t, to_sink, &s, &e), 0);
    t.destroy(t.ctx);
    cr_assert_eq(s.n, 1);
    cr_assert_lt(s.p[0].status, 0);
    cr_assert(strstr(s.p[0].msg, "faiss"), "%s", s.p[0].msg);
    cr_assert_eq(vq_faiss_target("Flat@k_factor_rf", &t, &e), VQ_ESPEC);
    cr_assert_eq(vq_faiss_target("", &t, &e), VQ_ESPEC);
    free(x);
    free(q);
    free(gt);
}
