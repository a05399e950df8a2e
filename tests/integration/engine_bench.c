/* engine_bench — filtered-search and ingest measurements for bench/results/engine*.md (a
 * command, not a test): recall@k and QPS of the planner's choice at several filter
 * selectivities, with attributes independent of and correlated with the vectors' clusters,
 * against the unfiltered search and the brute-force filtered scan measured in the same run;
 * durable ingest throughput with 1 (and optionally 2) writer threads; disk bytes per vector.
 *
 * Data: either vectors read from --base/--queries (.fvecs, e.g. the shared synthetic
 * 1M x 128 set), or generated: n vectors around 100 Gaussian centres (centre ~ N(0, 4 I),
 * point = centre + N(0, I)), queries drawn the same way.
 * Attributes: u = uniform random in [0, 1e6)          (independent of the clusters)
 *             r = rank of the vector in region order  (r < s*n selects whole regions of
 *                 space: the hard case, a region usually far from the query). Generated
 *                 data: region = the generating cluster. File data: region = the nearest of
 *                 64 anchor vectors (rows drawn at random from the base set: a Voronoi
 *                 partition that follows the data's clusters), ties in rank broken by row.
 * Filter for selectivity s: "u < s*1e6" or "r < s*n". Ground truth: the exact scan of the
 * allowed ids (plan forced to exact), which is also the brute-force baseline timed here.
 *
 * Flow: create the collection with a flat/f32 index and ingest (durable, batches of 1000,
 * --writers threads), then vqe_rebuild_with(--spec, --build-threads) builds the search index
 * beside it (the maintenance path; the build's wall time is reported), then the searches.
 * Search timings: single-threaded, one query at a time, thread CPU time (the machine is
 * shared), each measurement --passes times over the queries, the first discarded, the
 * median of the rest kept; then the planner's plan with 2 search threads (wall clock, and
 * the 1-thread wall clock of the same queries for the ratio).
 *
 * Usage: engine_bench [--n N] [--d D] [--nq NQ] [--base F.fvecs] [--queries F.fvecs]
 *                     [--spec SPEC] [--ef EF] [--threshold T] [--dir DIR] [--reuse]
 *                     [--writers W] [--build-threads T] [--passes P] [--ingest2]
 *                     [--durability sync|group]
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "readers.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define K 10
#define PASSES_MAX 16

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

static int passes = 4;
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
/* median of t[1..passes-1] (t[0] is the warm-up) */
static double med(const double *t) {
    if (passes == 1) return t[0];
    double s[PASSES_MAX];
    memcpy(s, t + 1, (size_t)(passes - 1) * sizeof *s);
    qsort(s, (size_t)(passes - 1), sizeof *s, cmpd);
    return s[(passes - 1) / 2];
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

/* ---- ingest ---- */
typedef struct ingest_job {
    vqe_collection *c;
    const float *x;
    const int64_t *u, *r;
    unsigned d;
    size_t from, to; /* rows */
    int rc;
    vq_err e;
} ingest_job;

static void *ingest_main(void *arg) {
    ingest_job *j = arg;
    const size_t B = 1000;
    vqe_record *rec = malloc(B * sizeof *rec);
    vqe_value *v = malloc(2 * B * sizeof *v);
    for (size_t b = j->from; b < j->to && !j->rc; b += B) {
        size_t m = j->to - b < B ? j->to - b : B;
        for (size_t i = 0; i < m; i++) {
            size_t row = b + i;
            v[2 * i] = (vqe_value){.field = "u", .type = VQE_INT64, .i = j->u[row]};
            v[2 * i + 1] = (vqe_value){.field = "r", .type = VQE_INT64, .i = j->r[row]};
            rec[i] = (vqe_record){
                .id = {.u = row}, .vector = j->x + row * j->d, .values = v + 2 * i, .n_values = 2};
        }
        j->rc = vqe_upsert(j->c, rec, m, &j->e);
    }
    free(rec);
    free(v);
    return NULL;
}

/* Ingests rows [0, n) with `writers` threads (contiguous slices); returns wall seconds. */
static double ingest(vqe_collection *c, const float *x, const int64_t *u, const int64_t *r,
                     unsigned d, size_t n, unsigned writers) {
    ingest_job jobs[8];
    pthread_t th[8];
    double t0 = vq_now();
    for (unsigned w = 0; w < writers; w++) {
        jobs[w] = (ingest_job){c, x, u, r, d, n * w / writers, n * (w + 1) / writers, 0, {0}};
        pthread_create(&th[w], NULL, ingest_main, &jobs[w]);
    }
    for (unsigned w = 0; w < writers; w++) pthread_join(th[w], NULL);
    double t = vq_now() - t0;
    for (unsigned w = 0; w < writers; w++)
        if (jobs[w].rc) {
            fprintf(stderr, "upsert: %s %s\n", jobs[w].e.field, jobs[w].e.msg);
            exit(1);
        }
    return t;
}

/* ---- multi-threaded search (wall clock) ---- */
typedef struct search_job {
    vqe_collection *c;
    const float *q;
    unsigned d;
    size_t from, to;
    const vqe_search_params *p;
    int rc;
} search_job;

static void *search_main(void *arg) {
    search_job *j = arg;
    vqe_hit h[K];
    for (size_t i = j->from; i < j->to; i++) {
        size_t nh;
        vq_err e;
        j->rc |= vqe_search(j->c, j->q + i * j->d, j->p, h, &nh, NULL, &e);
    }
    return NULL;
}

static double search_wall(vqe_collection *c, const float *q, unsigned d, size_t nq,
                          const vqe_search_params *p, unsigned threads) {
    search_job jobs[8];
    pthread_t th[8];
    double t0 = vq_now();
    for (unsigned w = 0; w < threads; w++) {
        jobs[w] = (search_job){c, q, d, nq * w / threads, nq * (w + 1) / threads, p, 0};
        pthread_create(&th[w], NULL, search_main, &jobs[w]);
    }
    for (unsigned w = 0; w < threads; w++) pthread_join(th[w], NULL);
    return vq_now() - t0;
}

static void progress(void *ctx, const char *coll, size_t done, size_t total) {
    (void)ctx;
    if (done == total || done % 131072 < 16384)
        fprintf(stderr, "\r%s: %zu / %zu", coll, done, total), fflush(stderr);
    if (done == total) fprintf(stderr, "\n");
}

static const char *arg(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name)) return i + 1 < argc ? argv[i + 1] : "";
    return def;
}
static int flag(int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], name)) return 1;
    return 0;
}

static void make_db(const char *dir, int reuse, unsigned d, vqe_durability dur, vqe_db **db,
                    vqe_collection **col, vqe_schema *s) {
    vq_err e;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (!reuse && system(cmd)) exit(2);
    vqe_db_params dp;
    vqe_db_params_default(&dp);
    dp.progress = progress;
    vqe_schema_default(s);
    snprintf(s->name, sizeof s->name, "bench");
    s->dim = d;
    snprintf(s->index_spec, sizeof s->index_spec, "flat/f32");
    s->durability = dur;
    if (vqe_db_open(dir, &dp, db, &e) ||
        vqe_schema_fields_from_json(s, "{\"fields\": {\"u\": \"int64\", \"r\": \"int64\"}}", &e) ||
        (!reuse && vqe_collection_create(*db, s, &e)) ||
        vqe_collection_open(*db, "bench", col, &e)) {
        fprintf(stderr, "setup: %s %s\n", e.field, e.msg);
        exit(1);
    }
}

int main(int argc, char **argv) {
    size_t n = strtoul(arg(argc, argv, "--n", "100000"), NULL, 10);
    unsigned d = (unsigned)atoi(arg(argc, argv, "--d", "128"));
    size_t nq = strtoul(arg(argc, argv, "--nq", "200"), NULL, 10);
    const char *base = arg(argc, argv, "--base", NULL);
    const char *qfile = arg(argc, argv, "--queries", NULL);
    const char *spec = arg(argc, argv, "--spec", "hnsw:m=16,efc=100/f32");
    unsigned ef = (unsigned)atoi(arg(argc, argv, "--ef", "64"));
    size_t thr = strtoul(arg(argc, argv, "--threshold", "0"), NULL, 10);
    const char *dir = arg(argc, argv, "--dir", "/tmp/vqe_bench");
    int reuse = flag(argc, argv, "--reuse");
    unsigned writers = (unsigned)atoi(arg(argc, argv, "--writers", "1"));
    unsigned bthreads = (unsigned)atoi(arg(argc, argv, "--build-threads", "2"));
    passes = atoi(arg(argc, argv, "--passes", "4"));
    int ingest2 = flag(argc, argv, "--ingest2");
    vqe_durability dur = !strcmp(arg(argc, argv, "--durability", "sync"), "group")
                             ? VQE_DURABLE_GROUP
                             : VQE_DURABLE_SYNC;
    if (passes < 1 || passes > PASSES_MAX || writers < 1 || writers > 8 || !nq) {
        fprintf(stderr, "bad --passes (1..%d), --writers (1..8) or --nq\n", PASSES_MAX);
        return 2;
    }
    vq_init();
    vq_err e;

    /* ---- data and attributes ---- */
    float *x, *q;
    int64_t *u, *r;
    unsigned *reg;
    const char *region_desc;
    if (base) {
        vq_matrix mb, mq;
        if (vq_read_vectors(base, n, &mb, &e) ||
            vq_read_vectors(qfile ? qfile : base, nq, &mq, &e)) {
            fprintf(stderr, "read: %s %s\n", e.field, e.msg);
            return 1;
        }
        n = mb.n, d = (unsigned)mb.d, nq = mq.n;
        x = mb.data, q = mq.data;
        if (mq.d != mb.d) {
            fprintf(stderr, "queries have dimension %zu, base %zu\n", mq.d, mb.d);
            return 1;
        }
        /* regions: nearest of 64 anchors drawn from the base rows */
        const unsigned A = 64;
        reg = malloc(n * sizeof *reg);
        size_t anchor[64];
        for (unsigned a = 0; a < A; a++) anchor[a] = (size_t)(unif() * (double)n);
        for (size_t i = 0; i < n; i++) {
            float best = INFINITY;
            for (unsigned a = 0; a < A; a++) {
                const float *y = x + anchor[a] * d, *z = x + i * d;
                float s = 0;
                for (unsigned j = 0; j < d; j++) s += (z[j] - y[j]) * (z[j] - y[j]);
                if (s < best) best = s, reg[i] = a;
            }
        }
        region_desc = "nearest of 64 anchor rows";
        size_t *cnt = calloc(A + 1, sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[reg[i] + 1]++;
        for (unsigned a = 0; a < A; a++) cnt[a + 1] += cnt[a];
        r = malloc(n * sizeof *r);
        for (size_t i = 0; i < n; i++) r[i] = (int64_t)cnt[reg[i]]++;
        free(cnt);
    } else {
        const unsigned C = 100;
        float *cent = malloc((size_t)C * d * 4);
        x = malloc(n * d * 4), q = malloc(nq * d * 4);
        reg = malloc(n * sizeof *reg);
        for (size_t i = 0; i < (size_t)C * d; i++) cent[i] = 2 * gauss();
        for (size_t i = 0; i < n; i++) {
            reg[i] = (unsigned)(unif() * C);
            for (unsigned j = 0; j < d; j++) x[i * d + j] = cent[reg[i] * d + j] + gauss();
        }
        for (size_t i = 0; i < nq; i++) {
            unsigned c = (unsigned)(unif() * C);
            for (unsigned j = 0; j < d; j++) q[i * d + j] = cent[c * d + j] + gauss();
        }
        free(cent);
        region_desc = "generating cluster (100)";
        size_t *cnt = calloc(C + 1, sizeof *cnt);
        for (size_t i = 0; i < n; i++) cnt[reg[i] + 1]++;
        for (unsigned c = 0; c < C; c++) cnt[c + 1] += cnt[c];
        r = malloc(n * sizeof *r);
        for (size_t i = 0; i < n; i++) r[i] = (int64_t)cnt[reg[i]]++;
        free(cnt);
    }
    u = malloc(n * sizeof *u);
    for (size_t i = 0; i < n; i++) u[i] = (int64_t)(unif() * 1e6);

    printf("# engine_bench n=%zu d=%u nq=%zu k=%d spec=%s ef=%u threshold=%s data=%s regions=%s "
           "passes=%d\n",
           n, d, nq, K, spec, ef, thr ? arg(argc, argv, "--threshold", "") : "default",
           base ? base : "generated", region_desc, passes);

    /* ---- ingest, then the index built beside the flat one ---- */
    vqe_db *db;
    vqe_collection *col;
    vqe_schema s;
    make_db(dir, reuse, d, dur, &db, &col, &s);
    if (!reuse) {
        double t = ingest(col, x, u, r, d, n, writers);
        printf("# ingest: %zu vectors, %s durability, batches of 1000, %u writer thread%s, "
               "flat/f32 index: %.1f s wall = %.0f vectors/s\n",
               n, dur == VQE_DURABLE_SYNC ? "sync" : "group", writers, writers > 1 ? "s" : "", t,
               (double)n / t);
        fflush(stdout);
        vqe_rebuild_params rp;
        vqe_rebuild_params_default(&rp);
        rp.index_spec = spec;
        rp.threads = bthreads;
        double t0 = vq_now(), c0 = cpu_now();
        if (vqe_rebuild_with(col, &rp, &e)) {
            fprintf(stderr, "rebuild: %s %s\n", e.field, e.msg);
            return 1;
        }
        printf("# rebuild to %s beside the flat index (%u build threads): %.1f s wall "
               "(this thread's CPU %.1f s)\n",
               spec, bthreads, vq_now() - t0, cpu_now() - c0);
        fflush(stdout);
    } else {
        printf("# reused the collection of an earlier run\n");
    }
    if (ingest2) {
        /* the same rows into a second directory with 2 writer threads (flat/f32 index) */
        char d2[4200];
        snprintf(d2, sizeof d2, "%s_ingest2", dir);
        vqe_db *db2;
        vqe_collection *c2;
        vqe_schema s2;
        make_db(d2, 0, d, dur, &db2, &c2, &s2);
        double t = ingest(c2, x, u, r, d, n, 2);
        printf("# ingest: %zu vectors, %s durability, batches of 1000, 2 writer threads, "
               "flat/f32 index: %.1f s wall = %.0f vectors/s\n",
               n, dur == VQE_DURABLE_SYNC ? "sync" : "group", t, (double)n / t);
        vqe_db_close(db2);
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", d2);
        if (system(cmd)) return 2;
    }

    vqe_hit *h = malloc(K * sizeof *h), *g = malloc(nq * K * sizeof *g);
    size_t *ng = malloc(nq * sizeof *ng);
    vqe_search_params p;
    vqe_search_params_default(&p);
    p.k = K;
    p.ef = ef;
    p.exact_threshold = thr;
    double rec = 0, tx, ti, txs[PASSES_MAX], tis[PASSES_MAX], tfs[PASSES_MAX];
    for (int pass = 0; pass < passes; pass++) {
        rec = 0;
        p.force_plan = 1;
        double t0 = cpu_now();
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
    tx = med(txs), ti = med(tis);
    double qps_unf = (double)nq / ti;
    double w1 = search_wall(col, q, d, nq, &p, 1), w2 = search_wall(col, q, d, nq, &p, 2);
    printf(
        "| filter | selectivity | plan (auto) | recall@10 | QPS auto | QPS brute-force filtered | "
        "auto / brute | auto / unfiltered | recall index-forced | QPS index-forced | QPS auto "
        "wall 1 thread | QPS auto wall 2 threads |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    printf(
        "| none | 100%% | index | %.4f | %.0f | %.0f (exact scan of all) | %.2f | 1.00 | | | %.0f "
        "| %.0f |\n",
        rec / (double)nq, qps_unf, (double)nq / tx, tx / ti, (double)nq / w1, (double)nq / w2);
    fflush(stdout);
    const double sel[] = {0.5, 0.1, 0.01, 0.001, 0.0001};
    int below = 0;
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
            double recf = 0, tf;
            uint64_t matches = 0;
            for (int pass = 0; pass < passes; pass++) {
                rec = 0;
                memset(plans, 0, sizeof plans);
                p.force_plan = 1;
                double t0 = cpu_now();
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
                    fall += pass == passes - 1 && ex.plan == 3;
                }
                tfs[pass] = cpu_now() - t0;
            }
            tx = med(txs), ti = med(tis), tf = med(tfs);
            p.force_plan = 0;
            w1 = search_wall(col, q, d, nq, &p, 1), w2 = search_wall(col, q, d, nq, &p, 2);
            const char *pl = plans[2] + plans[3] == 0         ? "exact"
                             : plans[1] == 0 && plans[3] == 0 ? "index"
                                                              : "mixed";
            char pd[64];
            snprintf(pd, sizeof pd, "%s (%zu index+exact)", pl, plans[3]);
            below += rec / (double)nq < 0.95;
            printf(
                "| %s `%s` | %.2f%% (%llu) | %s | %.4f | %.0f | %.0f | %.2f | %.2f | %.4f | %.0f "
                "(%zu exact fallbacks) | %.0f | %.0f |\n",
                kind ? "correlated" : "independent", ft, 100.0 * (double)matches / (double)n,
                (unsigned long long)matches, plans[3] ? pd : pl, rec / (double)nq, (double)nq / ti,
                (double)nq / tx, tx / ti, ((double)nq / ti) / qps_unf, recf / (double)nq,
                (double)nq / tf, fall, (double)nq / w1, (double)nq / w2);
            fflush(stdout);
            vqe_filter_free(f);
            p.filter = NULL;
        }
    printf("# rows with recall@10 < 0.95 (planner's choice): %d\n", below);
    uint64_t bytes, rb = 0, ib = 0;
    vqe_db_close(db);
    char sub[4200];
    snprintf(sub, sizeof sub, "%s/db", dir);
    vqe_dir_bytes(sub, &rb, &e);
    snprintf(sub, sizeof sub, "%s/index", dir);
    vqe_dir_bytes(sub, &ib, &e);
    if (!vqe_dir_bytes(dir, &bytes, &e))
        printf("# data dir after close: %llu bytes = %.1f bytes/vector (RocksDB %llu = %.1f "
               "B/vector, index file %llu = %.1f B/vector)\n",
               (unsigned long long)bytes, (double)bytes / (double)n, (unsigned long long)rb,
               (double)rb / (double)n, (unsigned long long)ib, (double)ib / (double)n);
    return 0;
}
