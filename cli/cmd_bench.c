/* cmd_bench.c — `vqdb bench`: the recall/latency sweep of vqdb indexes against FAISS and
 * hnswlib on the same data in one invocation (bench/sweep.h runs it).
 *
 * Order of work: read base/queries (and ground truth, or compute it exactly with the f32
 * kernels), then every --index SPEC and every --baseline in command-line order, each in its
 * own child process (a baseline that aborts costs its rows only; --no-isolate runs them in
 * this process; --interleave builds all in this process and times their passes in turns,
 * bench/sweep.h). Rows go to --json as they arrive; at the end a summary prints each target's
 * QPS interpolated at recall 0.90 and 0.95 and its ratio to each baseline at the same recall
 * and threads, and --plot draws recall against QPS with gnuplot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "readers.h"
#include "sweep.h"
#ifdef VQ_HAVE_INDEX
#include "index.h"
#endif

#define MAX_TARGETS 32

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: vqdb bench --base FILE --query FILE [--gt FILE] --index SPEC [--index SPEC ...]\n"
        "                  [--sweep ef=16,32,64 | --sweep nprobe=1,4,16 ...]\n"
        "                  [--baseline faiss:FACTORY[@key=val,...]] [--baseline "
        "hnswlib:m=16,efc=200]\n"
        "                  [-k 10] [--threads N] --json OUT.jsonl [--plot OUT.png]\n"
        "                  [--metric l2|ip|cos] [--dataset NAME] [--max-base N] [--max-query N]\n"
        "                  [--repeat R] [--build-threads N] [--gt-out FILE.ivecs] [--no-isolate]\n"
        "                  [--interleave]\n"
        "One JSON line per sweep point (single thread, then --threads N). --sweep applies to\n"
        "every target that has the knob (ef: HNSW, nprobe: IVF). Without --gt the exact\n"
        "ground truth is computed by brute force. --repeat R times R passes per point and\n"
        "reports the fastest; --interleave builds every target in this process first and then\n"
        "takes those passes in turns across the targets, so that load on a shared machine\n"
        "falls on all of them alike (no isolation).\n");
}

/* ---------- vqdb index target ---------- */
#ifdef VQ_HAVE_INDEX
typedef struct vqi_target {
    char spec[VQ_SWEEP_NAME_MAX];
    vqi_index *idx;
    vqi_searcher **s;
    unsigned ns;
    vqi_search_params sp;
    char desc[64];
} vqi_target;

static int vt_build(void *ctx, const float *x, size_t n, size_t d, vq_metric metric,
                    unsigned threads, vq_err *err) {
    vqi_target *t = ctx;
    vqi_params p = vqi_params_default();
    p.threads = threads;
    VQ_TRY(vqi_index_new_params(t->spec, (unsigned)d, metric, &p, &t->idx, err));
    /* Data-oblivious quantizers (tq, fp16...) may come back from new already trained. */
    if (!vqi_index_is_trained(t->idx)) VQ_TRY(vqi_index_train(t->idx, n, x, err));
    VQ_TRY(vqi_index_add(t->idx, n, x, NULL, err));
    snprintf(t->desc, sizeof t->desc, "vqdb %s", vq_isa_name(vq_isa_active()));
    return VQ_OK;
}

static int vt_set_param(void *ctx, const char *key, unsigned value, vq_err *err) {
    vqi_target *t = ctx;
    vqi_type ty = vqi_index_type(t->idx);
    if (!strcmp(key, "ef") && ty == VQI_HNSW) {
        VQ_FAIL_IF(value < VQI_EF_MIN || value > VQI_EF_MAX, VQ_EINVAL, err, "ef",
                   "ef=%u outside [%u, %u]", value, VQI_EF_MIN, VQI_EF_MAX);
        t->sp.ef = value;
        return VQ_OK;
    }
    if (!strcmp(key, "nprobe") && ty == VQI_IVF) {
        t->sp.nprobe = value;
        return VQ_OK;
    }
    return vq_err_set(err, VQ_EUNSUPPORTED, key, "%s has no '%s'", t->spec, key);
}

static int vt_prepare(void *ctx, unsigned nthreads, vq_err *err) {
    vqi_target *t = ctx;
    t->s = vq_calloc(nthreads, sizeof *t->s);
    VQ_FAIL_IF(!t->s, VQ_ENOMEM, err, "searcher", "out of memory");
    t->ns = nthreads;
    for (unsigned i = 0; i < nthreads; i++) VQ_TRY(vqi_searcher_new(t->idx, &t->s[i], err));
    return VQ_OK;
}

static int vt_search(void *ctx, unsigned tid, const float *q, unsigned k, int64_t *ids,
                     vq_err *err) {
    vqi_target *t = ctx;
    uint64_t out[VQ_SWEEP_K_MAX];
    float dist[VQ_SWEEP_K_MAX];
    VQ_TRY(vqi_searcher_search(t->s[tid], 1, q, k, &t->sp, out, dist, err));
    for (unsigned i = 0; i < k; i++) ids[i] = out[i] == VQI_NO_ID ? -1 : (int64_t)out[i];
    return VQ_OK;
}

static void vt_stats(void *ctx, double *bpv, double *rbpv) {
    vqi_target *t = ctx;
    vqi_stats st;
    if (vqi_index_stats(t->idx, &st) < 0 || !st.n) return;
    *bpv = (double)st.index_bytes / (double)st.n;
    *rbpv = (double)st.vector_bytes / (double)st.n;
}

static const char *vt_describe(void *ctx) { return ((vqi_target *)ctx)->desc; }

static void vt_destroy(void *ctx) {
    vqi_target *t = ctx;
    for (unsigned i = 0; i < t->ns; i++) vqi_searcher_free(t->s[i]);
    vq_free(t->s);
    vqi_index_free(t->idx);
    vq_free(t);
}

static int vqi_target_new(const char *spec, vq_sweep_target *out, vq_err *err) {
    VQ_FAIL_IF(strlen(spec) >= VQ_SWEEP_NAME_MAX, VQ_ETOOBIG, err, "index", "SPEC too long");
    vqi_target *t = vq_calloc(1, sizeof *t);
    VQ_FAIL_IF(!t, VQ_ENOMEM, err, "index", "out of memory");
    snprintf(t->spec, sizeof t->spec, "%s", spec);
    t->sp = vqi_search_params_default();
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", spec);
    out->ctx = t;
    out->build = vt_build;
    out->set_param = vt_set_param;
    out->prepare = vt_prepare;
    out->search = vt_search;
    out->stats = vt_stats;
    out->describe = vt_describe;
    out->destroy = vt_destroy;
    return VQ_OK;
}
#endif

/* ---------- collecting rows ---------- */

typedef struct collector {
    FILE *json;
    vq_sweep_point *pts;
    size_t n, cap;
    vq_progress prog;
    char label[64];
} collector;

static void collect(void *ctx, const vq_sweep_point *p) {
    collector *c = ctx;
    vq_sweep_point_json(c->json, p);
    fflush(c->json);
    if (p->status < 0) fprintf(stderr, "vqdb bench: %s %s: %s\n", p->index, p->params, p->msg);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        vq_sweep_point *np = realloc(c->pts, cap * sizeof *np);
        if (!np) return;
        c->pts = np;
        c->cap = cap;
    }
    c->pts[c->n++] = *p;
}

static void on_progress(void *ctx, size_t done, size_t total) {
    collector *c = ctx;
    if (done == 1) vq_progress_start(&c->prog, c->label, total);
    vq_progress_update(&c->prog, done);
    if (done == total) vq_progress_end(&c->prog);
}

/* ---------- summary and plot ---------- */

static int is_baseline(const char *name) {
    return !strncmp(name, "hnswlib:", 8) || !strncmp(name, "faiss:", 6);
}

static int curve(const collector *c, const char *index, unsigned threads, double *rec, double *qps,
                 size_t max) {
    size_t m = 0;
    for (size_t i = 0; i < c->n && m < max; i++) {
        const vq_sweep_point *p = &c->pts[i];
        if (p->status < 0 || p->threads != threads || strcmp(p->index, index)) continue;
        rec[m] = p->recall_at_k;
        qps[m] = p->qps;
        m++;
    }
    return (int)m;
}

static void summary(const collector *c, const char **names, size_t nt, unsigned threads) {
    static const double at[] = {0.90, 0.95};
    printf("\n%-48s %4s %10s %10s %9s %9s %8s\n", "index", "thr", "QPS@0.90", "QPS@0.95",
           "bytes/vec", "rerank/v", "build_s");
    for (unsigned th = 1; th <= threads; th = th == 1 && threads > 1 ? threads : th + 1) {
        for (size_t i = 0; i < nt; i++) {
            double rec[VQ_SWEEP_MAX_VALUES * 4], qps[VQ_SWEEP_MAX_VALUES * 4], v[2];
            int m = curve(c, names[i], th, rec, qps, VQ_SWEEP_MAX_VALUES * 4);
            if (m <= 0) continue;
            const vq_sweep_point *any = NULL;
            for (size_t j = 0; j < c->n; j++)
                if (!strcmp(c->pts[j].index, names[i]) && c->pts[j].status >= 0) any = &c->pts[j];
            char cell[2][32];
            for (int a = 0; a < 2; a++) {
                if (vq_sweep_qps_at_recall(rec, qps, (size_t)m, at[a], &v[a]) == VQ_OK)
                    snprintf(cell[a], sizeof cell[a], "%.0f", v[a]);
                else
                    snprintf(cell[a], sizeof cell[a], "-"), v[a] = NAN;
            }
            printf("%-48.48s %4u %10s %10s %9.1f %9.1f %8.2f\n", names[i], th, cell[0], cell[1],
                   any->bytes_per_vector, any->rerank_bytes_per_vector, any->build_s);
            if (is_baseline(names[i])) continue;
            for (size_t b = 0; b < nt; b++) {
                if (!is_baseline(names[b])) continue;
                double brec[VQ_SWEEP_MAX_VALUES * 4], bqps[VQ_SWEEP_MAX_VALUES * 4];
                int bm = curve(c, names[b], th, brec, bqps, VQ_SWEEP_MAX_VALUES * 4);
                if (bm <= 0) continue;
                double prev_r = -1;
                for (int a = 0; a < 2; a++) {
                    /* Compare at the target recall, or, when a curve starts above it, at the
                     * lowest recall both curves reach (a sweep that never goes below the
                     * target only bounds the QPS there from below). */
                    double mina = rec[0], minb = brec[0];
                    for (int j = 1; j < m; j++) mina = rec[j] < mina ? rec[j] : mina;
                    for (int j = 1; j < bm; j++) minb = brec[j] < minb ? brec[j] : minb;
                    double r = at[a];
                    if (mina > r) r = mina;
                    if (minb > r) r = minb;
                    if (r == prev_r) continue; /* both targets resolved to one level */
                    prev_r = r;
                    double va, vb;
                    if (vq_sweep_qps_at_recall(rec, qps, (size_t)m, r, &va) != VQ_OK ||
                        vq_sweep_qps_at_recall(brec, bqps, (size_t)bm, r, &vb) != VQ_OK) {
                        printf("    vs %-40.40s at recall %.2f: not reached by both\n", names[b],
                               at[a]);
                        continue;
                    }
                    printf("    vs %-40.40s at recall %.4f%s: %.2fx QPS (%.0f vs %.0f)\n", names[b],
                           r, r > at[a] ? " (lowest common)" : "", va / vb, va, vb);
                }
            }
        }
    }
}

static void gp_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f); /* gnuplot doubles a quote inside '...' */
        fputc(*s, f);
    }
    fputc('\'', f);
}

static int plot(const collector *c, const char **names, size_t nt, unsigned threads,
                const char *png, const char *dataset, unsigned k) {
    char gp[4096];
    snprintf(gp, sizeof gp, "%s.gp", png);
    FILE *f = fopen(gp, "w");
    if (!f) {
        fprintf(stderr, "vqdb bench: cannot write %s: %s\n", gp, strerror(errno));
        return 1;
    }
    size_t n = 0, nd = 0;
    if (c->n) n = c->pts[0].n;
    fprintf(f, "set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'\nset output ");
    gp_quote(f, png);
    fprintf(f,
            "\nset logscale x\nset xlabel 'queries per second (log scale)'\n"
            "set ylabel 'recall@%u'\nset grid\nset key outside right top\n"
            "set title ",
            k);
    char title[512];
    snprintf(title, sizeof title, "%s (n=%zu, k=%u): solid = 1 thread, dashed = %u threads",
             dataset, n, k, threads);
    gp_quote(f, title);
    fputc('\n', f);
    for (size_t i = 0; i < nt; i++)
        for (unsigned th = 1; th <= threads; th = th == 1 && threads > 1 ? threads : th + 1) {
            fprintf(f, "$d%zu << EOD\n", nd++);
            for (size_t j = 0; j < c->n; j++) {
                const vq_sweep_point *p = &c->pts[j];
                if (p->status >= 0 && p->threads == th && !strcmp(p->index, names[i]))
                    fprintf(f, "%.3f %.5f\n", p->qps, p->recall_at_k);
            }
            fprintf(f, "EOD\n");
        }
    fprintf(f, "plot ");
    nd = 0;
    int drawn = 0;
    for (size_t i = 0; i < nt; i++)
        for (unsigned th = 1; th <= threads; th = th == 1 && threads > 1 ? threads : th + 1) {
            double r1[1], q1[1];
            if (curve(c, names[i], th, r1, q1, 1) <= 0) { /* a target that failed: no line */
                nd++;
                continue;
            }
            char t[VQ_SWEEP_NAME_MAX + 16];
            snprintf(t, sizeof t, th == 1 ? "%s" : "%s (%u thr)", names[i], th);
            fprintf(f, "%s$d%zu using 1:2 with linespoints lc %zu dt %d pt %zu title ",
                    drawn ? ", \\\n     " : "", nd, i + 1, th == 1 ? 1 : 2, i % 12 + 1);
            drawn++;
            gp_quote(f, t);
            nd++;
        }
    fputc('\n', f);
    fclose(f);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", gp);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "vqdb bench: gnuplot failed (status %d); script kept in %s\n", rc, gp);
        return 1;
    }
    return 0;
}

/* ---------- main ---------- */

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > max) return -1;
    *out = v;
    return 0;
}

static const char *base_name(const char *path, char *buf, size_t len) {
    const char *s = strrchr(path, '/');
    snprintf(buf, len, "%s", s ? s + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = '\0';
    return buf;
}

int vq_cmd_bench(int argc, char **argv) {
    const char *base = NULL, *query = NULL, *gtp = NULL, *json = NULL, *png = NULL;
    const char *dataset = NULL, *gt_out = NULL, *metric_s = "l2";
    const char *targets[MAX_TARGETS];
    size_t nt = 0;
    unsigned long k = 10, threads = 1, build_threads = 0, repeat = 1, max_base = 0, max_query = 0;
    int isolate = 1, interleave = 0;
    vq_sweep_config cfg;
    memset(&cfg, 0, sizeof cfg);
    vq_err err = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-isolate")) {
            isolate = 0;
        } else if (!strcmp(a, "--interleave")) {
            interleave = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "vqdb bench: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--base"))
            base = v;
        else if (!strcmp(a, "--query"))
            query = v;
        else if (!strcmp(a, "--gt"))
            gtp = v;
        else if (!strcmp(a, "--gt-out"))
            gt_out = v;
        else if (!strcmp(a, "--json"))
            json = v;
        else if (!strcmp(a, "--plot"))
            png = v;
        else if (!strcmp(a, "--dataset"))
            dataset = v;
        else if (!strcmp(a, "--metric"))
            metric_s = v;
        else if (!strcmp(a, "--index") || !strcmp(a, "--baseline")) {
            if (nt == MAX_TARGETS) {
                fprintf(stderr, "vqdb bench: at most %d --index/--baseline\n", MAX_TARGETS);
                return 2;
            }
            if (!strcmp(a, "--baseline") && strncmp(v, "faiss:", 6) && strncmp(v, "hnswlib:", 8)) {
                fprintf(stderr,
                        "vqdb bench: --baseline '%s': expected faiss:FACTORY or "
                        "hnswlib:m=M,efc=E\n",
                        v);
                return 2;
            }
            targets[nt++] = v;
        } else if (!strcmp(a, "--sweep")) {
            if (vq_sweep_parse(&cfg, v, &err) < 0) return vq_cli_fail("bench", err.code, &err);
        } else if (!strcmp(a, "-k") || !strcmp(a, "--k"))
            ok = !parse_uint(v, VQ_SWEEP_K_MAX, &k) && k > 0;
        else if (!strcmp(a, "--threads"))
            ok = !parse_uint(v, VQ_SWEEP_THREADS_MAX, &threads) && threads > 0;
        else if (!strcmp(a, "--build-threads"))
            ok = !parse_uint(v, VQ_SWEEP_THREADS_MAX, &build_threads) && build_threads > 0;
        else if (!strcmp(a, "--repeat"))
            ok = !parse_uint(v, 16, &repeat) && repeat > 0;
        else if (!strcmp(a, "--max-base"))
            ok = !parse_uint(v, (unsigned long)INT32_MAX, &max_base);
        else if (!strcmp(a, "--max-query"))
            ok = !parse_uint(v, (unsigned long)INT32_MAX, &max_query);
        else {
            fprintf(stderr, "vqdb bench: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "vqdb bench: %s '%s' is not a valid value\n", a, v);
            return 2;
        }
    }
    if (!base || !query || !json || !nt) {
        fprintf(stderr, "vqdb bench: --base, --query, --json and at least one --index or "
                        "--baseline are required\n");
        usage(stderr);
        return 2;
    }
    if (gtp && max_base) {
        fprintf(stderr, "vqdb bench: --max-base changes the base set, so a given --gt no longer "
                        "applies; leave --gt out to compute it\n");
        return 2;
    }
    vq_metric metric;
    if (vq_metric_parse(metric_s, &metric, &err) < 0) return vq_cli_fail("bench", err.code, &err);

    /* Build every target up front so that a bad SPEC fails before any long work. */
    vq_sweep_target tg[MAX_TARGETS];
    for (size_t i = 0; i < nt; i++) {
        int rc;
        if (!strncmp(targets[i], "hnswlib:", 8))
            rc = vq_hnswlib_target(targets[i] + 8, &tg[i], &err);
        else if (!strncmp(targets[i], "faiss:", 6))
            rc = vq_faiss_target(targets[i] + 6, &tg[i], &err);
        else {
#ifdef VQ_HAVE_INDEX
            rc = vqi_target_new(targets[i], &tg[i], &err);
#else
            rc = vq_err_set(&err, VQ_EUNSUPPORTED, "index", "built without index/");
#endif
        }
        if (rc < 0) return vq_cli_fail("bench", rc, &err);
    }

    vq_matrix xb, xq;
    vq_imatrix gt = {0};
    if (vq_read_vectors(base, max_base, &xb, &err) < 0) return vq_cli_fail("bench", err.code, &err);
    if (vq_read_vectors(query, max_query, &xq, &err) < 0) {
        vq_matrix_free(&xb);
        return vq_cli_fail("bench", err.code, &err);
    }
    int rc = VQ_OK;
    if (xq.d != xb.d) {
        rc = vq_err_set(&err, VQ_EDIM, "query", "%s has d=%zu, %s has d=%zu", query, xq.d, base,
                        xb.d);
        goto done;
    }
    if (gtp) {
        if ((rc = vq_read_ivecs(gtp, xq.n, &gt, &err)) < 0) goto done;
        if (gt.n < xq.n || gt.d < k) {
            rc = vq_err_set(&err, VQ_EDIM, "gt", "%s: %zu rows of %zu ids; need %zu rows of >= %lu",
                            gtp, gt.n, gt.d, xq.n, k);
            goto done;
        }
        for (size_t i = 0; i < gt.n * gt.d; i++)
            if (gt.data[i] < -1 || (gt.data[i] >= 0 && (size_t)gt.data[i] >= xb.n)) {
                rc = vq_err_set(&err, VQ_ECORRUPT, "gt", "%s: id %d at row %zu is not a base row",
                                gtp, gt.data[i], i / gt.d);
                goto done;
            }
    } else {
        gt.n = xq.n;
        gt.d = k;
        gt.data = vq_malloc(xq.n * k * sizeof(int32_t));
        if (!gt.data) {
            rc = vq_err_set(&err, VQ_ENOMEM, "gt", "out of memory");
            goto done;
        }
        fprintf(stderr,
                "vqdb bench: computing exact top-%lu ground truth (%zu x %zu, %s, %lu threads)\n",
                k, xq.n, xb.n, vq_metric_name(metric), threads);
        double t0 = vq_now();
        rc = vq_sweep_ground_truth(xb.data, xb.n, xq.data, xq.n, xb.d, (unsigned)k, metric,
                                   (unsigned)threads, gt.data, &err);
        if (rc < 0) goto done;
        fprintf(stderr, "vqdb bench: ground truth in %.1f s\n", vq_now() - t0);
        if (gt_out && (rc = vq_write_ivecs(gt_out, gt.data, gt.n, gt.d, &err)) < 0) goto done;
    }

    collector col = {0};
    col.json = fopen(json, "w");
    if (!col.json) {
        rc = vq_err_set(&err, VQ_EIO, json, "%s: %s", json, strerror(errno));
        goto done;
    }
    char dsbuf[256];
    cfg.dataset = dataset ? dataset : base_name(base, dsbuf, sizeof dsbuf);
    cfg.base = xb.data;
    cfg.n = xb.n;
    cfg.d = xb.d;
    cfg.queries = xq.data;
    cfg.nq = xq.n;
    cfg.gt = gt.data;
    cfg.gt_k = gt.d;
    cfg.metric = metric;
    cfg.k = (unsigned)k;
    cfg.threads = (unsigned)threads;
    cfg.build_threads = (unsigned)build_threads;
    cfg.repeat = (unsigned)repeat;
    cfg.progress = on_progress;
    cfg.progress_ctx = &col;
    fprintf(stderr, "vqdb bench: %s n=%zu d=%zu queries=%zu k=%lu threads=%lu kernels=%s\n",
            cfg.dataset, cfg.n, cfg.d, cfg.nq, k, threads, vq_isa_name(vq_isa_active()));
    int failed = 0;
    size_t nt_run = nt;
    if (interleave) {
        snprintf(col.label, sizeof col.label, "%zu targets, interleaved", nt);
        fprintf(stderr, "vqdb bench: building %zu targets, then timing them interleaved\n", nt);
        vq_err e = {0};
        if (vq_sweep_run_interleaved(&cfg, tg, nt, collect, &col, &e) < 0) failed = 1;
        for (size_t i = 0; i < nt; i++)
            if (tg[i].destroy) tg[i].destroy(tg[i].ctx);
        nt_run = 0;
    }
    for (size_t i = 0; i < nt_run; i++) {
        snprintf(col.label, sizeof col.label, "%.40s", targets[i]);
        fprintf(stderr, "vqdb bench: [%zu/%zu] %s\n", i + 1, nt, targets[i]);
        vq_err e = {0};
        int r = isolate ? vq_sweep_run_isolated(&cfg, &tg[i], collect, &col, &e)
                        : vq_sweep_run(&cfg, &tg[i], collect, &col, &e);
        /* Isolated: the child destroyed its built copy; this frees the parent's unbuilt one. */
        if (tg[i].destroy) tg[i].destroy(tg[i].ctx);
        if (r < 0) failed = 1;
    }
    fclose(col.json);
    summary(&col, targets, nt, (unsigned)threads);
    if (png && plot(&col, targets, nt, (unsigned)threads, png, cfg.dataset, (unsigned)k))
        failed = 1;
    free(col.pts);
    vq_matrix_free(&xb);
    vq_matrix_free(&xq);
    vq_imatrix_free(&gt);
    return failed ? 1 : 0;
done:
    for (size_t i = 0; i < nt; i++)
        if (tg[i].destroy) tg[i].destroy(tg[i].ctx);
    vq_matrix_free(&xb);
    vq_matrix_free(&xq);
    vq_imatrix_free(&gt);
    return vq_cli_fail("bench", rc, &err);
}
