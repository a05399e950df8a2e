/* engine_bench — filtered-search measurements for bench/results/engine.md (a command, not
 * a test): recall@k and QPS of the planner's choice at several filter selectivities, with
 * attributes independent of and correlated with the vectors' clusters, against the
 * unfiltered search and the brute-force filtered scan measured in the same run.
 *
 * Data: n vectors in d dimensions around C Gaussian cluster centres (centre ~ N(0, 4 I),
 * point = centre + N(0, I)); queries drawn the same way around random centres.
 * Attributes: u   = uniform random in [0, 1e6)            (independent of the clusters)
 *             r   = rank of the vector in cluster order   (r < s*n selects whole clusters:
 *                   a region of space, usually far from the query: the hard case)
 * Filter for selectivity s: "u < s*1e6" or "r < s*n". Ground truth: exact scan of the
 * allowed ids (plan forced to exact), which is also the brute-force baseline timed here.
 * All timings single-threaded, one query at a time, in this process, as thread CPU time;
 * each measurement runs 4 times over the queries, the first discarded, the median kept.
 *
 * Usage: engine_bench [n=100000] [d=128] [nq=200] [spec=hnsw:m=16,efc=100/f32] [ef=64]
 *                     [exact_threshold=0 (engine default)] [dir=/tmp/vqe_bench]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "engine.h"

/* Thread CPU seconds: the machine is shared, so QPS are computed from this thread's CPU
 * time (wall-clock QPS would measure the neighbours' load). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define K 10

static uint64_t rs = 42;
static double unif(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (double)(rs >> 11) * 0x1.0p-53;
}
static float gauss(void) {
    double a = unif(), b = unif();
    if (a < 1e-300) a = 1e-300;
    return (float)(sqrt(-2 * log(a)) * cos(6.283185307179586 * b));
}

#define PASSES 4 /* pass 0 warms up; the median of the other three is reported */
static double med3(const double *t) {
    double a = t[1], b = t[2], c = t[3];
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

static double recall(const vqe_hit *h, size_t nh, const vqe_hit *g, size_t ng) {
    if (!ng) return 1;
    size_t hit = 0;
    for (size_t i = 0; i < nh; i++)
        for (size_t j = 0; j < ng; j++)
            if (h[i].id.u == g[j].id.u) {
                hit++;
                break;
            }
    return (double)hit / (double)ng;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    unsigned d = argc > 2 ? (unsigned)atoi(argv[2]) : 128;
    size_t nq = argc > 3 ? strtoul(argv[3], NULL, 10) : 200;
    const char *spec = argc > 4 ? argv[4] : "hnsw:m=16,efc=100/f32";
    unsigned ef = argc > 5 ? (unsigned)atoi(argv[5]) : 64;
    size_t thr = argc > 6 ? strtoul(argv[6], NULL, 10) : 0;
    const char *dir = argc > 7 ? argv[7] : "/tmp/vqe_bench";
    /* "reuse": keep a directory left by an earlier run with the same arguments (the data are
     * regenerated from the same seed, so only the upserts are skipped) */
    int reuse = argc > 8 && !strcmp(argv[8], "reuse");
    const unsigned C = 100;
    vq_init();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!reuse && system(cmd)) return 2;

    float *cent = malloc((size_t)C * d * 4), *x = malloc(n * d * 4), *q = malloc(nq * d * 4);
    unsigned *cl = malloc(n * sizeof *cl);
    for (size_t i = 0; i < (size_t)C * d; i++) cent[i] = 2 * gauss();
    size_t *cnt = calloc(C, sizeof *cnt), *off = calloc(C + 1, sizeof *off);
    for (size_t i = 0; i < n; i++) {
        cl[i] = (unsigned)(unif() * C);
        cnt[cl[i]]++;
        for (unsigned j = 0; j < d; j++) x[i * d + j] = cent[cl[i] * d + j] + gauss();
    }
    for (unsigned c = 0; c < C; c++) off[c + 1] = off[c] + cnt[c];
    for (size_t i = 0; i < nq; i++) {
        unsigned c = (unsigned)(unif() * C);
        for (unsigned j = 0; j < d; j++) q[i * d + j] = cent[c * d + j] + gauss();
    }

    vqe_db *db;
    vqe_collection *col;
    vq_err e;
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "bench");
    s.dim = d;
    snprintf(s.index_spec, sizeof s.index_spec, "%s", spec);
    s.durability = VQE_DURABLE_GROUP;
    if (vqe_db_open(dir, NULL, &db, &e) ||
        vqe_schema_fields_from_json(&s, "{\"fields\": {\"u\": \"int64\", \"r\": \"int64\"}}", &e) ||
        (!reuse && vqe_collection_create(db, &s, &e)) ||
        vqe_collection_open(db, "bench", &col, &e)) {
        fprintf(stderr, "setup: %s %s\n", e.field, e.msg);
        return 1;
    }
    double t0 = vq_now();
    size_t B = 1000;
    vqe_record *r = malloc(B * sizeof *r);
    vqe_value *v = malloc(2 * B * sizeof *v);
    size_t *pos = calloc(C, sizeof *pos);
    for (size_t b = 0; b < n; b += B) {
        size_t m = n - b < B ? n - b : B;
        for (size_t i = 0; i < m; i++) {
            size_t row = b + i;
            v[2 * i] = (vqe_value){.field = "u", .type = VQE_INT64, .i = (int64_t)(unif() * 1e6)};
            v[2 * i + 1] = (vqe_value){
                .field = "r", .type = VQE_INT64, .i = (int64_t)(off[cl[row]] + pos[cl[row]]++)};
            r[i] = (vqe_record){
                .id = {.u = row}, .vector = x + row * d, .values = v + 2 * i, .n_values = 2};
        }
        if (!reuse && vqe_upsert(col, r, m, &e)) {
            fprintf(stderr, "upsert: %s %s\n", e.field, e.msg);
            return 1;
        }
    }
    double t_ingest = vq_now() - t0;
    printf("# engine_bench n=%zu d=%u clusters=%u nq=%zu k=%d spec=%s ef=%u threshold=%s\n", n, d,
           C, nq, K, spec, ef, thr ? argv[6] : "default");
    if (reuse)
        printf("# reused the collection of an earlier run (reopen %.1f s)\n", t_ingest);
    else
        printf("# ingest (group durability, batches of 1000, index built online): %.1f s, %.0f "
               "vec/s\n",
               t_ingest, n / t_ingest);

    vqe_hit *h = malloc(K * sizeof *h), *g = malloc(nq * K * sizeof *g);
    size_t *ng = malloc(nq * sizeof *ng);
    /* unfiltered */
    vqe_search_params p;
    vqe_search_params_default(&p);
    p.k = K;
    p.ef = ef;
    p.exact_threshold = thr;
    double rec = 0, tx = 0, ti = 0, txs[PASSES], tis[PASSES], tfs[PASSES];
    for (int pass = 0; pass < PASSES; pass++) {
        rec = 0;
        p.force_plan = 1;
        t0 = cpu_now();
        for (size_t i = 0; i < nq; i++) vqe_search(col, q + i * d, &p, g + i * K, &ng[i], NULL, &e);
        txs[pass] = cpu_now() - t0;
        p.force_plan = 0;
        t0 = cpu_now();
        for (size_t i = 0; i < nq; i++) {
            size_t nh;
            vqe_search(col, q + i * d, &p, h, &nh, NULL, &e);
            rec += recall(h, nh, g + i * K, ng[i]);
        }
        tis[pass] = cpu_now() - t0;
    }
    tx = med3(txs), ti = med3(tis);
    double qps_unf = nq / ti;
    printf(
        "| filter | selectivity | plan (auto) | recall@10 | QPS auto | QPS brute-force filtered | "
        "auto / brute | auto / unfiltered | recall index-forced | QPS index-forced |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n");
    printf("| none | 100%% | index | %.4f | %.0f | %.0f (exact scan of all) | %.2f | 1.00 | | |\n",
           rec / nq, qps_unf, nq / tx, tx / ti);
    const double sel[] = {0.5, 0.1, 0.01, 0.001, 0.0001};
    for (int kind = 0; kind < 2; kind++)
        for (size_t si = 0; si < sizeof sel / sizeof *sel; si++) {
            char ft[128];
            if (kind == 0)
                snprintf(ft, sizeof ft, "u < %lld", (long long)llround(sel[si] * 1e6));
            else
                snprintf(ft, sizeof ft, "r < %lld", (long long)llround(sel[si] * (double)n));
            vqe_filter *f;
            if (vqe_filter_parse(ft, &f, &e) || vqe_filter_bind(f, &s, &e)) {
                fprintf(stderr, "filter: %s\n", e.msg);
                return 1;
            }
            p.filter = f;
            size_t plans[4] = {0}, fall = 0;
            double recf = 0, tf = 0;
            uint64_t matches = 0;
            for (int pass = 0; pass < PASSES; pass++) {
                rec = 0;
                memset(plans, 0, sizeof plans);
                p.force_plan = 1;
                t0 = cpu_now();
                for (size_t i = 0; i < nq; i++)
                    vqe_search(col, q + i * d, &p, g + i * K, &ng[i], NULL, &e);
                txs[pass] = cpu_now() - t0;
                p.force_plan = 0;
                t0 = cpu_now();
                for (size_t i = 0; i < nq; i++) {
                    size_t nh;
                    vqe_explain ex;
                    if (vqe_search(col, q + i * d, &p, h, &nh, &ex, &e)) {
                        fprintf(stderr, "search: %s\n", e.msg);
                        return 1;
                    }
                    plans[ex.plan]++;
                    matches = ex.matches;
                    rec += recall(h, nh, g + i * K, ng[i]);
                }
                tis[pass] = cpu_now() - t0;
                recf = 0;
                p.force_plan = 2;
                t0 = cpu_now();
                for (size_t i = 0; i < nq; i++) {
                    size_t nh;
                    vqe_explain ex;
                    vqe_search(col, q + i * d, &p, h, &nh, &ex, &e);
                    recf += recall(h, nh, g + i * K, ng[i]);
                    fall += pass == PASSES - 1 && ex.plan == 3;
                }
                tfs[pass] = cpu_now() - t0;
            }
            tx = med3(txs), ti = med3(tis), tf = med3(tfs);
            const char *pl = plans[2] + plans[3] == 0         ? "exact"
                             : plans[1] == 0 && plans[3] == 0 ? "index"
                                                              : "mixed";
            char pd[64];
            snprintf(pd, sizeof pd, "%s (%zu index+exact)", pl, plans[3]);
            printf(
                "| %s `%s` | %.2f%% (%llu) | %s | %.4f | %.0f | %.0f | %.2f | %.2f | %.4f | %.0f "
                "(%zu exact fallbacks) |\n",
                kind ? "correlated" : "independent", ft, 100.0 * (double)matches / (double)n,
                (unsigned long long)matches, plans[3] ? pd : pl, rec / nq, nq / ti, nq / tx,
                tx / ti, (nq / ti) / qps_unf, recf / nq, nq / tf, fall);
            fflush(stdout);
            vqe_filter_free(f);
            p.filter = NULL;
        }
    uint64_t bytes;
    vqe_db_close(db);
    if (!vqe_dir_bytes(dir, &bytes, &e))
        printf("# data dir after close: %llu bytes = %.1f bytes/vector (RocksDB + index file)\n",
               (unsigned long long)bytes, (double)bytes / (double)n);
    return 0;
}
