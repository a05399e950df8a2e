/* sweep.c — the recall/latency sweep runner (see sweep.h for the protocol), its metrics
 * (recall@k, nearest-rank percentiles, QPS interpolated at a recall), the fork-isolated
 * variant, and a blocked brute-force ground truth on the dispatched f32 kernels.
 *
 * Timing: vq_now() (CLOCK_MONOTONIC) around each single query; QPS of a single-thread pass is
 * nq / sum(latencies) so that the loop overhead between queries does not count against a
 * target, and of a multi-thread pass nq / wall time. Before the first timed pass every target
 * answers all queries once untimed (STACK.md: the first loop after a large build ran up to 5x
 * slower, from page faults and cold caches).
 */
#define _GNU_SOURCE
#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/f32.h"

/* ---------- metrics ---------- */

double vq_sweep_recall(const int64_t *ids, size_t ids_stride, const int32_t *gt, size_t gt_k,
                       size_t nq, unsigned k) {
    if (!nq || !k) return 0.0;
    double total = 0.0;
    for (size_t i = 0; i < nq; i++) {
        const int64_t *r = ids + i * ids_stride;
        const int32_t *g = gt + i * gt_k;
        unsigned hit = 0;
        for (unsigned a = 0; a < k; a++) {
            if (r[a] < 0) continue;
            /* A result id counts once even if a target returned it twice. */
            int dup = 0;
            for (unsigned b = 0; b < a; b++)
                if (r[b] == r[a]) dup = 1;
            if (dup) continue;
            for (unsigned b = 0; b < k && b < gt_k; b++)
                if ((int64_t)g[b] == r[a]) {
                    hit++;
                    break;
                }
        }
        total += (double)hit / (double)k;
    }
    return total / (double)nq;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double vq_sweep_percentile(double *x, size_t n, double p) {
    if (!n) return 0.0;
    qsort(x, n, sizeof *x, cmp_double);
    if (p <= 0) return x[0];
    if (p >= 1) return x[n - 1];
    size_t rank = (size_t)ceil(p * (double)n); /* nearest rank, 1-based */
    if (rank < 1) rank = 1;
    return x[rank - 1];
}

int vq_sweep_qps_at_recall(const double *recall, const double *qps, size_t n, double r,
                           double *out) {
    if (!n) return VQ_ENOTFOUND;
    /* Order by recall without touching the caller's arrays. */
    size_t idx[VQ_SWEEP_MAX_VALUES * 4];
    if (n > sizeof idx / sizeof idx[0]) return VQ_ETOOBIG;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && recall[idx[j - 1]] > recall[idx[j]]; j--) {
            size_t t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    if (recall[idx[n - 1]] < r || recall[idx[0]] > r) return VQ_ENOTFOUND;
    /* Points at exactly r: the best operating point there is the fastest one. */
    double best = -1;
    for (size_t i = 0; i < n; i++)
        if (recall[i] == r && qps[i] > best) best = qps[i];
    if (best >= 0) {
        *out = best;
        return VQ_OK;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        double r0 = recall[idx[i]], r1 = recall[idx[i + 1]];
        if (r0 <= r && r <= r1) {
            double q0 = qps[idx[i]], q1 = qps[idx[i + 1]];
            if (r1 == r0) {
                *out = q0 > q1 ? q0 : q1;
                return VQ_OK;
            }
            double t = (r - r0) / (r1 - r0);
            *out = exp(log(q0) + t * (log(q1) - log(q0)));
            return VQ_OK;
        }
    }
    *out = qps[idx[n - 1]];
    return VQ_OK;
}

/* ---------- JSON ---------- */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* JSON has no NaN/Inf: a failed point writes null. */
static void json_num(FILE *f, double v, const char *fmt) {
    if (isfinite(v))
        fprintf(f, fmt, v);
    else
        fputs("null", f);
}

void vq_sweep_point_json(FILE *f, const vq_sweep_point *p) {
    fputs("{\"dataset\":", f);
    json_str(f, p->dataset);
    fprintf(f, ",\"n\":%llu,\"d\":%llu,\"nq\":%llu,\"metric\":", (unsigned long long)p->n,
            (unsigned long long)p->d, (unsigned long long)p->nq);
    json_str(f, p->metric);
    fputs(",\"index\":", f);
    json_str(f, p->index);
    fputs(",\"params\":{", f);
    /* params is "key=value[,key=value]"; values are unsigned integers. */
    char buf[VQ_SWEEP_PARAMS_MAX];
    snprintf(buf, sizeof buf, "%s", p->params);
    int first = 1;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = '\0';
        if (!first) fputc(',', f);
        first = 0;
        json_str(f, tok);
        fprintf(f, ":%s", eq + 1);
    }
    fprintf(f, "},\"threads\":%u,\"build_threads\":%u,\"k\":%u,\"recall_at_k\":", p->threads,
            p->build_threads, p->k);
    json_num(f, p->recall_at_k, "%.4f");
    fputs(",\"qps\":", f);
    json_num(f, p->qps, "%.1f");
    fputs(",\"p50_ms\":", f);
    json_num(f, p->p50_ms, "%.4f");
    fputs(",\"p99_ms\":", f);
    json_num(f, p->p99_ms, "%.4f");
    fputs(",\"build_s\":", f);
    json_num(f, p->build_s, "%.3f");
    fputs(",\"bytes_per_vector\":", f);
    json_num(f, p->bytes_per_vector, "%.2f");
    fputs(",\"rerank_bytes_per_vector\":", f);
    json_num(f, p->rerank_bytes_per_vector, "%.2f");
    fputs(",\"impl\":", f);
    json_str(f, p->impl);
    if (p->status < 0) {
        fputs(",\"error\":", f);
        json_str(f, p->msg[0] ? p->msg : vq_strerror(p->status));
    }
    fputs("}\n", f);
}

/* ---------- sweep parsing ---------- */

int vq_sweep_parse(vq_sweep_config *cfg, const char *arg, vq_err *err) {
    const char *eq = strchr(arg, '=');
    VQ_FAIL_IF(!eq || eq == arg, VQ_EINVAL, err, "sweep", "--sweep '%s': expected KEY=V1,V2,...",
               arg);
    VQ_FAIL_IF(cfg->nkeys >= VQ_SWEEP_MAX_KEYS, VQ_ETOOBIG, err, "sweep",
               "at most %u --sweep options", VQ_SWEEP_MAX_KEYS);
    size_t kl = (size_t)(eq - arg);
    static const char *const known[] = {"ef", "nprobe"};
    const char *key = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == kl && !strncmp(arg, known[i], kl)) key = known[i];
    VQ_FAIL_IF(!key, VQ_EINVAL, err, "sweep", "--sweep '%s': unknown key (ef, nprobe)", arg);
    for (size_t i = 0; i < cfg->nkeys; i++)
        VQ_FAIL_IF(!strcmp(cfg->keys[i], key), VQ_EINVAL, err, "sweep", "--sweep %s given twice",
                   key);
    size_t slot = cfg->nkeys, nv = 0;
    const char *s = eq + 1;
    while (*s) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        VQ_FAIL_IF(end == s || errno || v == 0 || v > 1000000 || (*end && *end != ','), VQ_EINVAL,
                   err, "sweep", "--sweep '%s': values must be integers in [1, 1000000]", arg);
        VQ_FAIL_IF(nv >= VQ_SWEEP_MAX_VALUES, VQ_ETOOBIG, err, "sweep",
                   "--sweep '%s': at most %u values", arg, VQ_SWEEP_MAX_VALUES);
        cfg->values[slot][nv++] = (unsigned)v;
        s = *end ? end + 1 : end;
    }
    VQ_FAIL_IF(!nv, VQ_EINVAL, err, "sweep", "--sweep '%s': no values", arg);
    cfg->keys[slot] = key;
    cfg->nvalues[slot] = nv;
    cfg->nkeys++;
    return VQ_OK;
}

/* ---------- running one target ---------- */

typedef struct pass_ctx {
    const vq_sweep_config *cfg;
    vq_sweep_target *t;
    int64_t *ids; /* nq * k */
    double *lat;  /* nq seconds */
    atomic_size_t next;
    atomic_int rc;
    vq_err err; /* first failure */
    pthread_mutex_t mu;
} pass_ctx;

typedef struct worker_arg {
    pass_ctx *pc;
    unsigned tid;
} worker_arg;

static void *pass_worker(void *arg) {
    worker_arg *w = arg;
    pass_ctx *pc = w->pc;
    const vq_sweep_config *cfg = pc->cfg;
    for (;;) {
        size_t i = atomic_fetch_add(&pc->next, 1);
        if (i >= cfg->nq || atomic_load(&pc->rc) < 0) break;
        vq_err e = {0};
        double t0 = vq_now();
        int rc = pc->t->search(pc->t->ctx, w->tid, cfg->queries + i * cfg->d, cfg->k,
                               pc->ids + i * cfg->k, &e);
        pc->lat[i] = vq_now() - t0;
        if (rc < 0) {
            pthread_mutex_lock(&pc->mu);
            if (atomic_load(&pc->rc) == 0) {
                pc->err = e;
                atomic_store(&pc->rc, rc);
            }
            pthread_mutex_unlock(&pc->mu);
            break;
        }
    }
    return NULL;
}

/* One pass over all queries with `threads` threads; returns the wall time in *wall. */
static int run_pass(const vq_sweep_config *cfg, vq_sweep_target *t, unsigned threads, int64_t *ids,
                    double *lat, double *wall, vq_err *err) {
    pass_ctx pc = {.cfg = cfg, .t = t, .ids = ids, .lat = lat};
    atomic_init(&pc.next, 0);
    atomic_init(&pc.rc, 0);
    pthread_mutex_init(&pc.mu, NULL);
    worker_arg args[VQ_SWEEP_THREADS_MAX];
    pthread_t th[VQ_SWEEP_THREADS_MAX];
    double t0 = vq_now();
    if (threads <= 1) {
        args[0] = (worker_arg){&pc, 0};
        pass_worker(&args[0]);
    } else {
        unsigned started = 0;
        for (unsigned i = 0; i < threads; i++) {
            args[i] = (worker_arg){&pc, i};
            if (pthread_create(&th[i], NULL, pass_worker, &args[i]) != 0) break;
            started++;
        }
        for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
        if (started < threads && atomic_load(&pc.rc) == 0) {
            atomic_store(&pc.rc, VQ_EINTERNAL);
            vq_err_set(&pc.err, VQ_EINTERNAL, "threads", "could not start %u threads", threads);
        }
    }
    *wall = vq_now() - t0;
    pthread_mutex_destroy(&pc.mu);
    int rc = atomic_load(&pc.rc);
    if (rc < 0) {
        if (err) *err = pc.err;
        return rc;
    }
    return VQ_OK;
}

static void point_init(vq_sweep_point *p, const vq_sweep_config *cfg, vq_sweep_target *t) {
    memset(p, 0, sizeof *p);
    snprintf(p->dataset, sizeof p->dataset, "%s", cfg->dataset ? cfg->dataset : "");
    snprintf(p->index, sizeof p->index, "%s", t->name);
    if (t->describe) snprintf(p->impl, sizeof p->impl, "%s", t->describe(t->ctx));
    snprintf(p->metric, sizeof p->metric, "%s", vq_metric_name(cfg->metric));
    p->n = cfg->n;
    p->d = cfg->d;
    p->nq = cfg->nq;
    p->k = cfg->k;
    p->threads = 1;
    p->build_threads = cfg->build_threads ? cfg->build_threads : cfg->threads ? cfg->threads : 1;
    p->recall_at_k = p->qps = p->p50_ms = p->p99_ms = NAN;
    p->bytes_per_vector = p->rerank_bytes_per_vector = p->build_s = NAN;
}

static void emit_failure(const vq_sweep_config *cfg, vq_sweep_target *t, const char *params, int rc,
                         const vq_err *e, void (*emit)(void *, const vq_sweep_point *), void *ctx) {
    vq_sweep_point p;
    point_init(&p, cfg, t);
    snprintf(p.params, sizeof p.params, "%s", params ? params : "");
    p.status = rc;
    snprintf(p.msg, sizeof p.msg, "%s", e && e->msg[0] ? e->msg : vq_strerror(rc));
    emit(ctx, &p);
}

typedef struct pass_result {
    double qps, p50, p99;
} pass_result;

static int cmp_pass(const void *a, const void *b) {
    double x = ((const pass_result *)a)->qps, y = ((const pass_result *)b)->qps;
    return (x > y) - (x < y);
}

/* Times `repeat` passes and reports the fastest. On a shared machine interference only ever
 * slows a pass down, so the fastest pass is the least disturbed estimate of the target's
 * speed (the same rule for every index and baseline). */
static int measure(const vq_sweep_config *cfg, vq_sweep_target *t, unsigned threads, int64_t *ids,
                   double *lat, pass_result *out, vq_err *err) {
    unsigned repeat = cfg->repeat ? cfg->repeat : 1;
    pass_result res[16];
    if (repeat > 16) repeat = 16;
    for (unsigned r = 0; r < repeat; r++) {
        double wall;
        VQ_TRY(run_pass(cfg, t, threads, ids, lat, &wall, err));
        double sum = 0;
        for (size_t i = 0; i < cfg->nq; i++) sum += lat[i];
        res[r].qps = (double)cfg->nq / (threads <= 1 ? sum : wall);
        res[r].p50 = vq_sweep_percentile(lat, cfg->nq, 0.50) * 1e3;
        res[r].p99 = vq_sweep_percentile(lat, cfg->nq, 0.99) * 1e3;
    }
    qsort(res, repeat, sizeof res[0], cmp_pass);
    *out = res[repeat - 1];
    return VQ_OK;
}

int vq_sweep_run(const vq_sweep_config *cfg, vq_sweep_target *t,
                 void (*emit)(void *ctx, const vq_sweep_point *p), void *emit_ctx, vq_err *err) {
    VQ_FAIL_IF(!cfg->n || !cfg->d || !cfg->nq || !cfg->base || !cfg->queries || !cfg->gt, VQ_EINVAL,
               err, "sweep", "empty base, queries or ground truth");
    VQ_FAIL_IF(!cfg->k || cfg->k > VQ_SWEEP_K_MAX, VQ_EINVAL, err, "k", "k=%u outside [1, %u]",
               cfg->k, VQ_SWEEP_K_MAX);
    VQ_FAIL_IF(cfg->gt_k < cfg->k, VQ_EINVAL, err, "gt",
               "ground truth has %zu neighbours per query, k=%u needs at least k", cfg->gt_k,
               cfg->k);
    unsigned threads = cfg->threads ? cfg->threads : 1;
    VQ_FAIL_IF(threads > VQ_SWEEP_THREADS_MAX, VQ_EINVAL, err, "threads",
               "threads=%u over the limit %u", threads, VQ_SWEEP_THREADS_MAX);

    vq_err e = {0};
    double t0 = vq_now();
    unsigned bthreads = cfg->build_threads ? cfg->build_threads : threads;
    VQ_FAIL_IF(bthreads > VQ_SWEEP_THREADS_MAX, VQ_EINVAL, err, "build_threads",
               "build_threads=%u over the limit %u", bthreads, VQ_SWEEP_THREADS_MAX);
    int rc = t->build(t->ctx, cfg->base, cfg->n, cfg->d, cfg->metric, bthreads, &e);
    double build_s = vq_now() - t0;
    if (rc < 0) {
        emit_failure(cfg, t, "", rc, &e, emit, emit_ctx);
        if (err) *err = e;
        return rc;
    }
    double bpv = NAN, rbpv = NAN;
    if (t->stats) t->stats(t->ctx, &bpv, &rbpv);
    rc = t->prepare ? t->prepare(t->ctx, threads, &e) : VQ_OK;
    if (rc < 0) {
        emit_failure(cfg, t, "", rc, &e, emit, emit_ctx);
        if (err) *err = e;
        return rc;
    }

    /* Which sweep keys this target accepts decides its points. */
    size_t total = 0;
    int accepts[VQ_SWEEP_MAX_KEYS] = {0};
    for (size_t ki = 0; ki < cfg->nkeys; ki++) {
        vq_err pe = {0};
        if (t->set_param && t->set_param(t->ctx, cfg->keys[ki], cfg->values[ki][0], &pe) == VQ_OK) {
            accepts[ki] = 1;
            total += cfg->nvalues[ki];
        }
    }
    int any = total > 0;
    if (!any) total = 1;
    size_t passes_total = total * (threads > 1 ? 2 : 1), passes_done = 0;

    int64_t *ids = vq_malloc(cfg->nq * cfg->k * sizeof(int64_t));
    double *lat = vq_malloc(cfg->nq * sizeof(double));
    if (!ids || !lat) {
        vq_free(ids);
        vq_free(lat);
        return vq_err_set(err, VQ_ENOMEM, "sweep", "out of memory for %zu results", cfg->nq);
    }

    int first_rc = VQ_OK;
    int warmed = 0;
    for (size_t ki = 0; ki < (any ? cfg->nkeys : 1); ki++) {
        if (any && !accepts[ki]) continue;
        size_t nv = any ? cfg->nvalues[ki] : 1;
        for (size_t vi = 0; vi < nv; vi++) {
            char params[VQ_SWEEP_PARAMS_MAX] = "";
            if (any) {
                snprintf(params, sizeof params, "%s=%u", cfg->keys[ki], cfg->values[ki][vi]);
                rc = t->set_param(t->ctx, cfg->keys[ki], cfg->values[ki][vi], &e);
                if (rc < 0) {
                    emit_failure(cfg, t, params, rc, &e, emit, emit_ctx);
                    if (!first_rc) first_rc = rc;
                    continue;
                }
            }
            if (!warmed) {
                double wall;
                rc = run_pass(cfg, t, 1, ids, lat, &wall, &e);
                if (rc < 0) {
                    emit_failure(cfg, t, params, rc, &e, emit, emit_ctx);
                    if (!first_rc) first_rc = rc;
                    continue;
                }
                warmed = 1;
            }
            for (unsigned th = 1; th <= threads; th = th == 1 && threads > 1 ? threads : th + 1) {
                pass_result pr;
                rc = measure(cfg, t, th, ids, lat, &pr, &e);
                if (cfg->progress) cfg->progress(cfg->progress_ctx, ++passes_done, passes_total);
                if (rc < 0) {
                    emit_failure(cfg, t, params, rc, &e, emit, emit_ctx);
                    if (!first_rc) first_rc = rc;
                    break;
                }
                vq_sweep_point p;
                point_init(&p, cfg, t);
                snprintf(p.params, sizeof p.params, "%s", params);
                p.threads = th;
                p.recall_at_k = vq_sweep_recall(ids, cfg->k, cfg->gt, cfg->gt_k, cfg->nq, cfg->k);
                p.qps = pr.qps;
                p.p50_ms = pr.p50;
                p.p99_ms = pr.p99;
                p.build_s = build_s;
                p.bytes_per_vector = bpv;
                p.rerank_bytes_per_vector = rbpv;
                emit(emit_ctx, &p);
            }
        }
    }
    vq_free(ids);
    vq_free(lat);
    if (first_rc < 0 && err) *err = e;
    return first_rc;
}

/* ---------- interleaved ---------- */

typedef struct il_state {
    int alive, warmed;
    double build_s, bpv, rbpv;
    int accepts[VQ_SWEEP_MAX_KEYS];
    pass_result best;
} il_state;

static void il_emit(const vq_sweep_config *cfg, vq_sweep_target *t, const il_state *st,
                    const char *params, unsigned th, const int64_t *ids,
                    void (*emit)(void *, const vq_sweep_point *), void *ctx) {
    vq_sweep_point p;
    point_init(&p, cfg, t);
    snprintf(p.params, sizeof p.params, "%s", params);
    p.threads = th;
    p.recall_at_k = vq_sweep_recall(ids, cfg->k, cfg->gt, cfg->gt_k, cfg->nq, cfg->k);
    p.qps = st->best.qps;
    p.p50_ms = st->best.p50;
    p.p99_ms = st->best.p99;
    p.build_s = st->build_s;
    p.bytes_per_vector = st->bpv;
    p.rerank_bytes_per_vector = st->rbpv;
    emit(ctx, &p);
}

/* One (key, value) group: key < 0 means the targets that accept no key. */
static int il_group(const vq_sweep_config *cfg, vq_sweep_target *t, il_state *st, size_t nt,
                    long key, unsigned value, int64_t **ids, double *lat, size_t *done,
                    size_t total, void (*emit)(void *, const vq_sweep_point *), void *ctx,
                    vq_err *e) {
    unsigned threads = cfg->threads ? cfg->threads : 1;
    unsigned repeat = cfg->repeat ? cfg->repeat : 1;
    char params[VQ_SWEEP_PARAMS_MAX] = "";
    if (key >= 0) snprintf(params, sizeof params, "%s=%u", cfg->keys[key], value);
    int first = VQ_OK;
    int in[VQ_SWEEP_TARGETS_MAX] = {0};
    for (size_t i = 0; i < nt; i++) {
        int any = 0;
        for (size_t ki = 0; ki < cfg->nkeys; ki++) any |= st[i].accepts[ki];
        in[i] = st[i].alive && (key >= 0 ? st[i].accepts[key] : !any);
        if (!in[i] || key < 0) continue;
        int rc = t[i].set_param(t[i].ctx, cfg->keys[key], value, e);
        if (rc == VQ_OK && !st[i].warmed) {
            double wall;
            rc = run_pass(cfg, &t[i], 1, ids[i], lat, &wall, e);
            st[i].warmed = rc == VQ_OK;
        }
        if (rc < 0) {
            emit_failure(cfg, &t[i], params, rc, e, emit, ctx);
            in[i] = 0;
            if (!first) first = rc;
        }
    }
    for (unsigned th = 1; th <= threads; th = th == 1 && threads > 1 ? threads : th + 1) {
        for (size_t i = 0; i < nt; i++) st[i].best.qps = -1;
        for (unsigned r = 0; r < repeat; r++)
            for (size_t i = 0; i < nt; i++) {
                if (!in[i]) continue;
                /* A target's knob is shared state: set it again before each of its passes. */
                int rc = key >= 0 ? t[i].set_param(t[i].ctx, cfg->keys[key], value, e) : VQ_OK;
                double wall;
                if (rc == VQ_OK) rc = run_pass(cfg, &t[i], th, ids[i], lat, &wall, e);
                if (rc < 0) {
                    emit_failure(cfg, &t[i], params, rc, e, emit, ctx);
                    in[i] = 0;
                    if (!first) first = rc;
                    continue;
                }
                double sum = 0;
                for (size_t q = 0; q < cfg->nq; q++) sum += lat[q];
                pass_result pr = {.qps = (double)cfg->nq / (th <= 1 ? sum : wall),
                                  .p50 = vq_sweep_percentile(lat, cfg->nq, 0.50) * 1e3,
                                  .p99 = vq_sweep_percentile(lat, cfg->nq, 0.99) * 1e3};
                if (pr.qps > st[i].best.qps) st[i].best = pr;
                if (cfg->progress) cfg->progress(cfg->progress_ctx, ++*done, total);
            }
        for (size_t i = 0; i < nt; i++)
            if (in[i]) il_emit(cfg, &t[i], &st[i], params, th, ids[i], emit, ctx);
    }
    return first;
}

int vq_sweep_run_interleaved(const vq_sweep_config *cfg, vq_sweep_target *t, size_t nt,
                             void (*emit)(void *ctx, const vq_sweep_point *p), void *emit_ctx,
                             vq_err *err) {
    VQ_FAIL_IF(!cfg->n || !cfg->d || !cfg->nq || !cfg->base || !cfg->queries || !cfg->gt, VQ_EINVAL,
               err, "sweep", "empty base, queries or ground truth");
    VQ_FAIL_IF(!cfg->k || cfg->k > VQ_SWEEP_K_MAX, VQ_EINVAL, err, "k", "k=%u outside [1, %u]",
               cfg->k, VQ_SWEEP_K_MAX);
    VQ_FAIL_IF(cfg->gt_k < cfg->k, VQ_EINVAL, err, "gt",
               "ground truth has %zu neighbours per query, k=%u needs at least k", cfg->gt_k,
               cfg->k);
    VQ_FAIL_IF(nt == 0 || nt > VQ_SWEEP_TARGETS_MAX, VQ_EINVAL, err, "targets",
               "%zu targets (1..%d)", nt, VQ_SWEEP_TARGETS_MAX);
    unsigned threads = cfg->threads ? cfg->threads : 1;
    VQ_FAIL_IF(threads > VQ_SWEEP_THREADS_MAX, VQ_EINVAL, err, "threads",
               "threads=%u over the limit %u", threads, VQ_SWEEP_THREADS_MAX);
    unsigned bthreads = cfg->build_threads ? cfg->build_threads : threads;
    VQ_FAIL_IF(bthreads > VQ_SWEEP_THREADS_MAX, VQ_EINVAL, err, "build_threads",
               "build_threads=%u over the limit %u", bthreads, VQ_SWEEP_THREADS_MAX);
    il_state st[VQ_SWEEP_TARGETS_MAX];
    memset(st, 0, sizeof st);
    int64_t *ids[VQ_SWEEP_TARGETS_MAX] = {0};
    double *lat = vq_malloc(cfg->nq * sizeof(double));
    int first = lat ? VQ_OK : VQ_ENOMEM;
    vq_err e = {0};
    if (!lat) vq_err_set(&e, VQ_ENOMEM, "sweep", "out of memory for %zu latencies", cfg->nq);
    size_t total = 0, done = 0;
    for (size_t i = 0; i < nt && lat; i++) {
        ids[i] = vq_malloc(cfg->nq * cfg->k * sizeof(int64_t));
        double t0 = vq_now();
        int rc = ids[i] ? t[i].build(t[i].ctx, cfg->base, cfg->n, cfg->d, cfg->metric, bthreads, &e)
                        : vq_err_set(&e, VQ_ENOMEM, "sweep", "out of memory");
        st[i].build_s = vq_now() - t0;
        st[i].bpv = st[i].rbpv = NAN;
        if (rc == VQ_OK && t[i].stats) t[i].stats(t[i].ctx, &st[i].bpv, &st[i].rbpv);
        if (rc == VQ_OK && t[i].prepare) rc = t[i].prepare(t[i].ctx, threads, &e);
        if (rc < 0) {
            emit_failure(cfg, &t[i], "", rc, &e, emit, emit_ctx);
            if (!first) first = rc;
            continue;
        }
        st[i].alive = 1;
        size_t mine = 0;
        for (size_t ki = 0; ki < cfg->nkeys; ki++) {
            vq_err pe = {0};
            st[i].accepts[ki] = t[i].set_param && t[i].set_param(t[i].ctx, cfg->keys[ki],
                                                                 cfg->values[ki][0], &pe) == VQ_OK;
            if (st[i].accepts[ki]) mine += cfg->nvalues[ki];
        }
        total += (mine ? mine : 1) * (threads > 1 ? 2 : 1) * (cfg->repeat ? cfg->repeat : 1);
    }
    for (size_t ki = 0; ki < cfg->nkeys && lat; ki++)
        for (size_t vi = 0; vi < cfg->nvalues[ki]; vi++) {
            int rc = il_group(cfg, t, st, nt, (long)ki, cfg->values[ki][vi], ids, lat, &done, total,
                              emit, emit_ctx, &e);
            if (rc < 0 && !first) first = rc;
        }
    /* Targets without any sweep key: warm once, then one interleaved group. */
    for (size_t i = 0; i < nt && lat; i++) {
        int any = 0;
        for (size_t ki = 0; ki < cfg->nkeys; ki++) any |= st[i].accepts[ki];
        if (st[i].alive && !any && !st[i].warmed) {
            double wall;
            int rc = run_pass(cfg, &t[i], 1, ids[i], lat, &wall, &e);
            st[i].warmed = rc == VQ_OK;
            if (rc < 0) {
                emit_failure(cfg, &t[i], "", rc, &e, emit, emit_ctx);
                st[i].alive = 0;
                if (!first) first = rc;
            }
        }
    }
    if (lat) {
        int rc = il_group(cfg, t, st, nt, -1, 0, ids, lat, &done, total, emit, emit_ctx, &e);
        if (rc < 0 && !first) first = rc;
    }
    for (size_t i = 0; i < nt; i++) vq_free(ids[i]);
    vq_free(lat);
    if (first < 0 && err) *err = e;
    return first;
}

/* ---------- isolation ---------- */

static void emit_pipe(void *ctx, const vq_sweep_point *p) {
    int fd = *(int *)ctx;
    const char *b = (const char *)p;
    size_t left = sizeof *p;
    while (left) {
        ssize_t w = write(fd, b, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        b += w;
        left -= (size_t)w;
    }
}

int vq_sweep_run_isolated(const vq_sweep_config *cfg, vq_sweep_target *t,
                          void (*emit)(void *ctx, const vq_sweep_point *p), void *emit_ctx,
                          vq_err *err) {
    int fds[2];
    VQ_FAIL_IF(pipe(fds) != 0, VQ_EIO, err, "pipe", "pipe: %s", strerror(errno));
    fflush(NULL); /* the child must not flush the parent's buffered output a second time */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return vq_err_set(err, VQ_EIO, "fork", "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        vq_err e = {0};
        int rc = vq_sweep_run(cfg, t, emit_pipe, &fds[1], &e);
        if (t->destroy) t->destroy(t->ctx);
        close(fds[1]);
        _exit(rc < 0 ? 3 : 0);
    }
    close(fds[1]);
    int got = 0, failed = 0;
    vq_sweep_point p;
    for (;;) {
        size_t have = 0;
        while (have < sizeof p) {
            ssize_t r = read(fds[0], (char *)&p + have, sizeof p - have);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            have += (size_t)r;
        }
        if (have < sizeof p) break;
        got++;
        if (p.status < 0) failed = 1;
        emit(emit_ctx, &p);
    }
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0 && !failed)) {
        vq_err e = {0};
        if (WIFSIGNALED(st))
            vq_err_set(&e, VQ_EINTERNAL, "child",
                       "target process died of signal %d (%s) after %d points", WTERMSIG(st),
                       strsignal(WTERMSIG(st)), got);
        else
            vq_err_set(&e, VQ_EINTERNAL, "child", "target process exited with status %d",
                       WEXITSTATUS(st));
        emit_failure(cfg, t, "", VQ_EINTERNAL, &e, emit, emit_ctx);
        if (err) *err = e;
        return VQ_EINTERNAL;
    }
    if (failed || (WIFEXITED(st) && WEXITSTATUS(st) != 0))
        return vq_err_set(err, VQ_EINTERNAL, t->name, "%s: some points failed", t->name);
    return VQ_OK;
}

/* ---------- ground truth ---------- */

typedef struct gt_ctx {
    const float *base, *queries;
    size_t n, nq, d;
    unsigned k;
    int ip;
    int32_t *out;
    atomic_size_t next;
} gt_ctx;

/* Max-heap on distance of the k best so far: the root is the one to evict. */
static void heap_push(float *hd, int32_t *hi, unsigned *size, unsigned k, float d, int32_t id) {
    if (*size < k) {
        unsigned i = (*size)++;
        while (i > 0) {
            unsigned p = (i - 1) / 2;
            if (hd[p] >= d) break;
            hd[i] = hd[p];
            hi[i] = hi[p];
            i = p;
        }
        hd[i] = d;
        hi[i] = id;
        return;
    }
    if (d >= hd[0]) return;
    unsigned i = 0;
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        float md = d;
        if (l < k && hd[l] > md) {
            m = l;
            md = hd[l];
        }
        if (r < k && hd[r] > md) m = r;
        if (m == i) break;
        hd[i] = hd[m];
        hi[i] = hi[m];
        i = m;
    }
    hd[i] = d;
    hi[i] = id;
}

#define GT_QB 16u

static void *gt_worker(void *arg) {
    gt_ctx *g = arg;
    const vq_k_f32 *kf = vq__k_f32(vq_isa_active());
    size_t bb = 262144 / (g->d * sizeof(float)); /* ~256 KiB of base rows per block */
    if (bb < 16) bb = 16;
    float *dist = vq_malloc(bb * sizeof(float));
    float *hd = vq_malloc((size_t)GT_QB * g->k * sizeof(float));
    int32_t *hi = vq_malloc((size_t)GT_QB * g->k * sizeof(int32_t));
    if (!dist || !hd || !hi) {
        vq_free(dist);
        vq_free(hd);
        vq_free(hi);
        return (void *)1;
    }
    for (;;) {
        size_t q0 = atomic_fetch_add(&g->next, GT_QB);
        if (q0 >= g->nq) break;
        size_t qn = g->nq - q0 < GT_QB ? g->nq - q0 : GT_QB;
        unsigned sizes[GT_QB] = {0};
        for (size_t b0 = 0; b0 < g->n; b0 += bb) {
            size_t nb = g->n - b0 < bb ? g->n - b0 : bb;
            for (size_t qi = 0; qi < qn; qi++) {
                const float *q = g->queries + (q0 + qi) * g->d;
                if (g->ip)
                    kf->ip_ny(q, g->base + b0 * g->d, nb, g->d, dist);
                else
                    kf->l2sq_ny(q, g->base + b0 * g->d, nb, g->d, dist);
                float *qd = hd + qi * g->k;
                int32_t *qh = hi + qi * g->k;
                for (size_t j = 0; j < nb; j++)
                    heap_push(qd, qh, &sizes[qi], g->k, g->ip ? -dist[j] : dist[j],
                              (int32_t)(b0 + j));
            }
        }
        for (size_t qi = 0; qi < qn; qi++) {
            /* Pop the heap from the back: ascending distance, ties by smaller id first. */
            float *qd = hd + qi * g->k;
            int32_t *qh = hi + qi * g->k;
            unsigned s = sizes[qi];
            int32_t *o = g->out + (q0 + qi) * g->k;
            for (unsigned j = s; j < g->k; j++) o[j] = -1;
            for (unsigned j = 0; j < s; j++) { /* insertion sort of the k survivors */
                for (unsigned m = j; m > 0; m--) {
                    int before = qd[m - 1] > qd[m] || (qd[m - 1] == qd[m] && qh[m - 1] > qh[m]);
                    if (!before) break;
                    float td = qd[m];
                    qd[m] = qd[m - 1];
                    qd[m - 1] = td;
                    int32_t ti = qh[m];
                    qh[m] = qh[m - 1];
                    qh[m - 1] = ti;
                }
            }
            memcpy(o, qh, s * sizeof(int32_t));
        }
    }
    vq_free(dist);
    vq_free(hd);
    vq_free(hi);
    return NULL;
}

static float *normalized_copy(const float *x, size_t n, size_t d) {
    float *y = vq_malloc(n * d * sizeof(float) + 1);
    if (!y) return NULL;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (size_t j = 0; j < d; j++) y[i * d + j] = x[i * d + j] * inv;
    }
    return y;
}

int vq_sweep_ground_truth(const float *base, size_t n, const float *queries, size_t nq, size_t d,
                          unsigned k, vq_metric metric, unsigned threads, int32_t *out,
                          vq_err *err) {
    VQ_FAIL_IF(!n || !nq || !d, VQ_EINVAL, err, "gt", "empty base or queries");
    VQ_FAIL_IF(n > INT32_MAX, VQ_ETOOBIG, err, "n", "n=%zu over the int32 id limit", n);
    VQ_FAIL_IF(!k || k > VQ_SWEEP_K_MAX, VQ_EINVAL, err, "k", "k=%u outside [1, %u]", k,
               VQ_SWEEP_K_MAX);
    if (!threads) threads = 1;
    VQ_FAIL_IF(threads > VQ_SWEEP_THREADS_MAX, VQ_EINVAL, err, "threads", "threads=%u over %u",
               threads, VQ_SWEEP_THREADS_MAX);
    float *nb = NULL, *nqv = NULL;
    if (metric == VQ_METRIC_COS) {
        nb = normalized_copy(base, n, d);
        nqv = normalized_copy(queries, nq, d);
        if (!nb || !nqv) {
            vq_free(nb);
            vq_free(nqv);
            return vq_err_set(err, VQ_ENOMEM, "gt", "out of memory normalizing %zu vectors", n);
        }
        base = nb;
        queries = nqv;
    }
    gt_ctx g = {.base = base,
                .queries = queries,
                .n = n,
                .nq = nq,
                .d = d,
                .k = k,
                .ip = metric != VQ_METRIC_L2,
                .out = out};
    atomic_init(&g.next, 0);
    pthread_t th[VQ_SWEEP_THREADS_MAX];
    unsigned started = 0;
    int failed = 0;
    for (unsigned i = 1; i < threads; i++) {
        if (pthread_create(&th[started], NULL, gt_worker, &g) != 0) break;
        started++;
    }
    if (gt_worker(&g)) failed = 1;
    for (unsigned i = 0; i < started; i++) {
        void *r;
        pthread_join(th[i], &r);
        if (r) failed = 1;
    }
    vq_free(nb);
    vq_free(nqv);
    VQ_FAIL_IF(failed, VQ_ENOMEM, err, "gt", "out of memory in a ground-truth worker");
    return VQ_OK;
}
