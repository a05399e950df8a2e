/* quantbench.c — measures one quantizer (quantbench.h): train once, encode all base rows
 * (timed), decode for the relative MSE, score every query against every code by inner
 * product for the error and bias figures, then time the packed scan with the dispatched and
 * the scalar kernels. Encoding and scanning split the rows over p->threads pthreads, each
 * scan thread with its own vq_query (a vq_query belongs to one thread). */
#include "quantbench.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "kernels/f32.h"
#include "membw.h"

#define QB_DECODE_CHUNK 4096u

vq_qb_params vq_qb_params_default(void) {
    vq_qb_params p;
    p.metric = VQ_METRIC_L2;
    p.repeats = VQ_QB_REPEATS_DEFAULT;
    p.min_sample_s = 0.05;
    p.budget_s = 10.0;
    p.threads = 1;
    return p;
}

void vq_qb_row_init(vq_qb_row *row, const char *spec, size_t d, size_t n) {
    memset(row, 0, sizeof *row);
    snprintf(row->spec, sizeof row->spec, "%s", spec);
    row->d = d;
    row->n = n;
    row->bytes_per_vector = row->mse_rel = row->ip_rel_err = row->ip_bias = NAN;
    row->ip_rel_bias = row->ip_bias_se = row->train_s = row->encode_vec_per_s = NAN;
    row->scan_codes_per_s = row->scan_gbps = row->scalar_scan_codes_per_s = NAN;
}

int vq_qb_ipacc_init(vq_qb_ipacc *a, size_t n, vq_err *err) {
    memset(a, 0, sizeof *a);
    VQ_FAIL_IF(n == 0, VQ_EINVAL, err, "n", "no base vectors");
    a->n = n;
    a->err_sum = vq_calloc(n, sizeof(double));
    VQ_FAIL_IF(!a->err_sum, VQ_ENOMEM, err, "ip stats", "out of memory for %zu rows", n);
    return VQ_OK;
}

void vq_qb_ipacc_add(vq_qb_ipacc *a, const float *est, const float *truth) {
    double se = 0, sa = 0, st = 0, sat = 0;
    for (size_t i = 0; i < a->n; i++) {
        double e = (double)est[i] - (double)truth[i];
        a->err_sum[i] += e;
        se += e;
        sa += fabs(e);
        st += truth[i];
        sat += fabs((double)truth[i]);
    }
    a->sum_err += se;
    a->sum_abs_err += sa;
    a->sum_true += st;
    a->sum_abs_true += sat;
    a->nq++;
}

void vq_qb_ipacc_finish(const vq_qb_ipacc *a, vq_qb_row *row) {
    if (!a->nq) return;
    double pairs = (double)a->n * (double)a->nq;
    double bias = a->sum_err / pairs, mean_true = a->sum_true / pairs;
    row->ip_bias = bias;
    row->ip_rel_bias = mean_true != 0 ? bias / mean_true : NAN;
    row->ip_rel_err = a->sum_abs_true > 0 ? a->sum_abs_err / a->sum_abs_true : NAN;
    if (a->n > 1) {
        double ss = 0;
        for (size_t i = 0; i < a->n; i++) {
            double m = a->err_sum[i] / (double)a->nq - bias;
            ss += m * m;
        }
        row->ip_bias_se = sqrt(ss / ((double)(a->n - 1) * (double)a->n));
    }
}

void vq_qb_ipacc_free(vq_qb_ipacc *a) {
    if (a) vq_free(a->err_sum), a->err_sum = NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double vq_qb_time(void (*fn)(void *ctx), void *ctx, const vq_qb_params *p) {
    double t0 = vq_now();
    fn(ctx); /* warm-up: caches, page faults, frequency ramp; discarded */
    double tw = vq_now() - t0, spent = tw;
    size_t iters = 1;
    if (tw < p->min_sample_s) iters = (size_t)ceil(p->min_sample_s / (tw > 1e-9 ? tw : 1e-9));
    double samples[VQ_QB_REPEATS_MAX];
    unsigned k = 0, reps = p->repeats < 1                   ? 1
                           : p->repeats > VQ_QB_REPEATS_MAX ? VQ_QB_REPEATS_MAX
                                                            : p->repeats;
    while (k < reps && (k == 0 || spent < p->budget_s)) {
        double s = vq_now();
        for (size_t i = 0; i < iters; i++) fn(ctx);
        double t = vq_now() - s;
        spent += t;
        samples[k++] = t / (double)iters;
    }
    qsort(samples, k, sizeof(double), cmp_double);
    return k % 2 ? samples[k / 2] : 0.5 * (samples[k / 2 - 1] + samples[k / 2]);
}

/* ---- threads ---------------------------------------------------------------------- */

typedef struct par_task {
    void (*fn)(void *ctx, unsigned t, unsigned nt);
    void *ctx;
    unsigned t, nt;
} par_task;

static void *par_entry(void *arg) {
    par_task *k = arg;
    k->fn(k->ctx, k->t, k->nt);
    return NULL;
}

/* Runs fn(ctx, t, nt) for t = 0..nt-1, thread 0 on the caller. A thread that cannot be
 * created runs its share on the caller afterwards, so the work is always complete. */
static void par_run(unsigned nt, void (*fn)(void *, unsigned, unsigned), void *ctx) {
    par_task tasks[VQ_QB_THREADS_MAX];
    pthread_t tid[VQ_QB_THREADS_MAX];
    int ok[VQ_QB_THREADS_MAX] = {0};
    for (unsigned t = 1; t < nt; t++) {
        tasks[t] = (par_task){fn, ctx, t, nt};
        ok[t] = pthread_create(&tid[t], NULL, par_entry, &tasks[t]) == 0;
    }
    fn(ctx, 0, nt);
    for (unsigned t = 1; t < nt; t++) {
        if (ok[t])
            pthread_join(tid[t], NULL);
        else
            fn(ctx, t, nt);
    }
}

/* ---- encode --------------------------------------------------------------------- */

typedef struct enc_ctx {
    const vq_quant *q;
    const float *x;
    size_t n, d, cs;
    uint8_t *codes;
    unsigned threads;
    int rc[VQ_QB_THREADS_MAX];
    vq_err err[VQ_QB_THREADS_MAX];
} enc_ctx;

static void enc_part(void *arg, unsigned t, unsigned nt) {
    enc_ctx *c = arg;
    size_t lo = c->n * t / nt, hi = c->n * (t + 1) / nt;
    c->rc[t] = vq_quant_encode(c->q, hi - lo, c->x + lo * c->d, c->codes + lo * c->cs, &c->err[t]);
}

static void enc_all(void *arg) {
    enc_ctx *c = arg;
    par_run(c->threads, enc_part, c);
}

/* ---- scan ----------------------------------------------------------------------- */

typedef struct scan_ctx {
    vq_query *qs[VQ_QB_THREADS_MAX];
    const uint8_t *packed;
    size_t n, block, block_bytes;
    float *dist;
    unsigned threads;
} scan_ctx;

static void scan_part(void *arg, unsigned t, unsigned nt) {
    scan_ctx *c = arg;
    size_t nb = (c->n + c->block - 1) / c->block;
    size_t b0 = nb * t / nt, b1 = nb * (t + 1) / nt;
    size_t r0 = b0 * c->block, r1 = b1 * c->block < c->n ? b1 * c->block : c->n;
    if (r1 > r0) vq_quant_score(c->qs[t], c->packed + b0 * c->block_bytes, r1 - r0, c->dist + r0);
}

static void scan_all(void *arg) {
    scan_ctx *c = arg;
    par_run(c->threads, scan_part, c);
}

/* ---- one quantizer ----------------------------------------------------------------- */

static int pack_all(const vq_quant *q, const uint8_t *codes, size_t n, uint8_t **out, vq_err *err) {
    size_t blk = vq_quant_block(q), bb = vq_quant_block_bytes(q), cs = vq_quant_code_size(q);
    size_t nb = (n + blk - 1) / blk;
    uint8_t *p = vq_malloc(nb * bb + 1);
    VQ_FAIL_IF(!p, VQ_ENOMEM, err, "codes", "out of memory for %zu packed blocks", nb);
    for (size_t b = 0; b < nb; b++) {
        size_t m = n - b * blk < blk ? n - b * blk : blk;
        vq_quant_pack(q, m, codes + b * blk * cs, p + b * bb);
    }
    *out = p;
    return VQ_OK;
}

int vq_qb_quant(const char *spec, const vq_qb_data *data, const vq_qb_params *p, vq_qb_row *row,
                vq_err *err) {
    VQ_FAIL_IF(!spec || !data || !p || !row || !data->base || !data->n, VQ_EINVAL, err, "bench",
               "null argument or no base vectors");
    VQ_FAIL_IF(!data->queries || !data->nq, VQ_EINVAL, err, "queries", "no query vectors");
    VQ_FAIL_IF(p->threads < 1 || p->threads > VQ_QB_THREADS_MAX, VQ_EINVAL, err, "threads",
               "threads %u is outside [1, %u]", p->threads, VQ_QB_THREADS_MAX);
    VQ_FAIL_IF(p->metric != VQ_METRIC_L2 && p->metric != VQ_METRIC_IP, VQ_EINVAL, err, "metric",
               "the scan timing uses l2 or ip");
    VQ_FAIL_IF(data->d == 0 || data->d > VQ_DIM_MAX, VQ_EDIM, err, "d",
               "dimension %zu is outside [1, %u]", data->d, VQ_DIM_MAX);
    size_t n = data->n, d = data->d, nq = data->nq;
    vq_qb_row_init(row, spec, d, n);
    const vq_k_f32 *k32 = vq__k_f32(vq_init());

    vq_quant *q = NULL;
    VQ_TRY(vq_quant_new(spec, (unsigned)d, &q, err));
    uint8_t *codes = NULL, *packed = NULL;
    float *buf = NULL, *est = NULL, *truth = NULL;
    enc_ctx *ec = NULL;
    scan_ctx *sc = NULL;
    vq_qb_ipacc acc = {0};
    int rc;

    double t0 = vq_now();
    if ((rc = vq_quant_train(q, n, data->base, err)) < 0) goto out;
    row->train_s = vq_now() - t0;
    size_t cs = vq_quant_code_size(q);
    row->bytes_per_vector = vq_quant_bytes_per_vector(q);

    codes = vq_malloc(n * cs + 1);
    ec = vq_calloc(1, sizeof *ec);
    if (!codes || !ec) {
        rc = vq_err_set(err, VQ_ENOMEM, "codes", "out of memory for %zu codes of %zu bytes", n, cs);
        goto out;
    }
    *ec = (enc_ctx){
        .q = q, .x = data->base, .n = n, .d = d, .cs = cs, .codes = codes, .threads = p->threads};
    double te = vq_qb_time(enc_all, ec, p);
    for (unsigned t = 0; t < p->threads; t++)
        if (ec->rc[t] < 0) {
            rc = ec->rc[t];
            if (err) *err = ec->err[t];
            goto out;
        }
    row->encode_vec_per_s = (double)n / te;

    /* Relative MSE, decoding in chunks so the reconstruction never needs n * d floats. */
    buf = vq_malloc((size_t)QB_DECODE_CHUNK * d * sizeof(float));
    est = vq_malloc(n * sizeof(float));
    truth = vq_malloc(n * sizeof(float));
    if (!buf || !est || !truth) {
        rc = vq_err_set(err, VQ_ENOMEM, "bench", "out of memory");
        goto out;
    }
    double num = 0, den = 0;
    for (size_t r0 = 0; r0 < n; r0 += QB_DECODE_CHUNK) {
        size_t m = n - r0 < QB_DECODE_CHUNK ? n - r0 : QB_DECODE_CHUNK;
        if ((rc = vq_quant_decode(q, m, codes + r0 * cs, buf, err)) < 0) goto out;
        for (size_t i = 0; i < m; i++) {
            const float *x = data->base + (r0 + i) * d;
            num += k32->l2sq(x, buf + i * d, d);
            den += k32->ip(x, x, d);
        }
    }
    row->mse_rel = den > 0 ? num / den : NAN;

    if ((rc = pack_all(q, codes, n, &packed, err)) < 0) goto out;
    sc = vq_calloc(1, sizeof *sc);
    if (!sc) {
        rc = vq_err_set(err, VQ_ENOMEM, "bench", "out of memory");
        goto out;
    }
    sc->packed = packed, sc->n = n, sc->dist = est, sc->threads = p->threads;
    sc->block = vq_quant_block(q), sc->block_bytes = vq_quant_block_bytes(q);
    for (unsigned t = 0; t < p->threads; t++)
        if ((rc = vq_query_new(q, &sc->qs[t], err)) < 0) goto out;

    /* Inner-product estimates of every (query, base) pair from the packed scan. */
    if ((rc = vq_qb_ipacc_init(&acc, n, err)) < 0) goto out;
    for (size_t j = 0; j < nq; j++) {
        const float *qv = data->queries + j * d;
        for (unsigned t = 0; t < p->threads; t++)
            if ((rc = vq_query_prepare(sc->qs[t], qv, VQ_METRIC_IP, err)) < 0) goto out;
        scan_all(sc);
        for (size_t i = 0; i < n; i++) est[i] = -est[i];
        k32->ip_ny(qv, data->base, n, d, truth);
        vq_qb_ipacc_add(&acc, est, truth);
    }
    vq_qb_ipacc_finish(&acc, row);

    /* Scan speed for query 0: dispatched kernels, then the scalar reference. */
    double bytes = (double)((n + sc->block - 1) / sc->block) * (double)sc->block_bytes;
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned t = 0; t < p->threads; t++) {
            if (pass) vq_query_set_isa(sc->qs[t], VQ_ISA_SCALAR);
            if ((rc = vq_query_prepare(sc->qs[t], data->queries, p->metric, err)) < 0) goto out;
        }
        double ts = vq_qb_time(scan_all, sc, p);
        if (pass) {
            row->scalar_scan_codes_per_s = (double)n / ts;
        } else {
            row->scan_codes_per_s = (double)n / ts;
            row->scan_gbps = bytes / ts * 1e-9;
        }
    }
    rc = VQ_OK;
out:
    if (sc)
        for (unsigned t = 0; t < p->threads; t++) vq_query_free(sc->qs[t]);
    vq_free(sc);
    vq_free(ec);
    vq_qb_ipacc_free(&acc);
    vq_free(codes);
    vq_free(packed);
    vq_free(buf);
    vq_free(est);
    vq_free(truth);
    vq_quant_free(q);
    return rc;
}

static void add_num(cJSON *o, const char *k, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

char *vq_qb_row_json(const vq_qb_row *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "spec", r->spec);
    cJSON_AddNumberToObject(o, "d", (double)r->d);
    cJSON_AddNumberToObject(o, "n", (double)r->n);
    add_num(o, "bytes_per_vector", r->bytes_per_vector);
    add_num(o, "mse_rel", r->mse_rel);
    add_num(o, "ip_rel_err", r->ip_rel_err);
    add_num(o, "ip_bias", r->ip_bias);
    add_num(o, "ip_rel_bias", r->ip_rel_bias);
    add_num(o, "ip_bias_se", r->ip_bias_se);
    add_num(o, "train_s", r->train_s);
    add_num(o, "encode_vec_per_s", r->encode_vec_per_s);
    add_num(o, "scan_codes_per_s", r->scan_codes_per_s);
    add_num(o, "scan_gbps", r->scan_gbps);
    add_num(o, "scalar_scan_codes_per_s", r->scalar_scan_codes_per_s);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---- speed only -------------------------------------------------------------------- */

int vq_qb_scan_speed(const char *spec, const float *base, size_t n, size_t d, size_t train_n,
                     const float *query, const vq_qb_params *p, double *codes_per_s,
                     double *scalar_codes_per_s, double *gbps, vq_err *err) {
    VQ_FAIL_IF(!spec || !base || !query || !n || !d || !p, VQ_EINVAL, err, "bench",
               "null argument");
    vq_quant *q;
    VQ_TRY(vq_quant_new(spec, (unsigned)d, &q, err));
    uint8_t *codes = NULL, *packed = NULL;
    float *dist = NULL;
    scan_ctx sc = {0};
    int rc;
    if ((rc = vq_quant_train(q, train_n && train_n < n ? train_n : n, base, err)) < 0) goto out;
    size_t cs = vq_quant_code_size(q);
    codes = vq_malloc(n * cs + 1);
    dist = vq_malloc(n * sizeof(float));
    if (!codes || !dist) {
        rc = vq_err_set(err, VQ_ENOMEM, "bench", "out of memory");
        goto out;
    }
    if ((rc = vq_quant_encode(q, n, base, codes, err)) < 0) goto out;
    if ((rc = pack_all(q, codes, n, &packed, err)) < 0) goto out;
    sc.packed = packed, sc.n = n, sc.dist = dist, sc.threads = 1;
    sc.block = vq_quant_block(q), sc.block_bytes = vq_quant_block_bytes(q);
    if ((rc = vq_query_new(q, &sc.qs[0], err)) < 0) goto out;
    for (int pass = 0; pass < 2; pass++) {
        if (pass) vq_query_set_isa(sc.qs[0], VQ_ISA_SCALAR);
        if ((rc = vq_query_prepare(sc.qs[0], query, p->metric, err)) < 0) goto out;
        double t = vq_qb_time(scan_all, &sc, p);
        if (pass) {
            *scalar_codes_per_s = (double)n / t;
        } else {
            *codes_per_s = (double)n / t;
            if (gbps)
                *gbps = (double)((n + sc.block - 1) / sc.block) * (double)sc.block_bytes / t * 1e-9;
        }
    }
    rc = VQ_OK;
out:
    vq_query_free(sc.qs[0]);
    vq_free(codes);
    vq_free(packed);
    vq_free(dist);
    vq_quant_free(q);
    return rc;
}

/* ---- kernels ------------------------------------------------------------------------- */

typedef struct l2_ctx {
    void (*fn)(const float *, const float *, size_t, size_t, float *);
    const float *q, *x;
    size_t n, d;
    float *out;
} l2_ctx;

static void l2_run(void *arg) {
    l2_ctx *c = arg;
    c->fn(c->q, c->x, c->n, c->d, c->out);
}

typedef struct bw_ctx {
    const void *buf;
    size_t bytes;
    volatile uint64_t sink;
} bw_ctx;

static void bw_run(void *arg) {
    bw_ctx *c = arg;
    c->sink = vq_membw_read(c->buf, c->bytes);
}

static void emit_obj(cJSON *o, void (*emit)(void *, const char *), void *ctx) {
    char *s = cJSON_PrintUnformatted(o);
    if (s) emit(ctx, s);
    free(s);
    cJSON_Delete(o);
}

int vq_qb_kernels(size_t n, size_t d, const vq_qb_params *p,
                  void (*emit)(void *ctx, const char *json), void *ctx, vq_err *err) {
    VQ_FAIL_IF(!p || !emit || n < 1024 || d == 0 || d > VQ_DIM_MAX, VQ_EINVAL, err, "kernels",
               "need n >= 1024 and d in [1, %u]", VQ_DIM_MAX);
    vq_qb_params p1 = *p;
    p1.threads = 1;
    vq_isa isa = vq_init();
    const vq_k_f32 *kd = vq__k_f32(isa), *ks = vq__k_f32(VQ_ISA_SCALAR);
    vq_gen_params gp = vq_gen_params_default();
    gp.d = (unsigned)d;
    vq_gen *g, *gq;
    VQ_TRY(vq_gen_new(&gp, &g, err));
    gp.stream = 1; /* the query comes from the same mixture, another stream */
    int grc = vq_gen_new(&gp, &gq, err);
    if (grc < 0) {
        vq_gen_free(g);
        return grc;
    }
    float *x = vq_malloc_aligned(n * d * sizeof(float));
    float *out = vq_malloc(n * sizeof(float));
    float *qv = vq_malloc(d * sizeof(float));
    if (!x || !out || !qv) {
        vq_free(x), vq_free(out), vq_free(qv), vq_gen_free(g), vq_gen_free(gq);
        return vq_err_set(err, VQ_ENOMEM, "kernels", "out of memory for %zu x %zu floats", n, d);
    }
    vq_gen_rows(g, 0, n, x);
    vq_gen_rows(gq, 0, 1, qv);
    vq_gen_free(g);
    vq_gen_free(gq);

    /* f32 L2 in cache: 256 KB of rows. */
    size_t rows = (256u * 1024u) / (d * sizeof(float));
    if (rows < 16) rows = 16;
    if (rows > n) rows = n;
    l2_ctx c = {kd->l2sq_ny, qv, x, rows, d, out};
    double ts = vq_qb_time(l2_run, &c, &p1);
    c.fn = ks->l2sq_ny;
    double tr = vq_qb_time(l2_run, &c, &p1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kernel", "f32_l2sq");
    cJSON_AddStringToObject(o, "isa", vq_isa_name(isa));
    cJSON_AddNumberToObject(o, "d", (double)d);
    cJSON_AddNumberToObject(o, "rows", (double)rows);
    cJSON_AddNumberToObject(o, "simd_ns_per_vec", ts / (double)rows * 1e9);
    cJSON_AddNumberToObject(o, "scalar_ns_per_vec", tr / (double)rows * 1e9);
    cJSON_AddNumberToObject(o, "ratio", tr / ts);
    emit_obj(o, emit, ctx);

    /* Flat scan of all n rows vs the read loop over the same bytes; interleaved samples
     * so that both see the same machine state. */
    size_t bytes = n * d * sizeof(float);
    c.fn = kd->l2sq_ny;
    c.n = n;
    bw_ctx b = {x, bytes, 0};
    double t_scan = 0, t_read = 0;
    for (int round = 0; round < 2; round++) {
        t_scan = vq_qb_time(l2_run, &c, &p1);
        t_read = vq_qb_time(bw_run, &b, &p1);
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kernel", "f32_flat_scan");
    cJSON_AddStringToObject(o, "isa", vq_isa_name(isa));
    cJSON_AddNumberToObject(o, "n", (double)n);
    cJSON_AddNumberToObject(o, "d", (double)d);
    cJSON_AddNumberToObject(o, "scan_gbps", (double)bytes / t_scan * 1e-9);
    cJSON_AddNumberToObject(o, "read_gbps", (double)bytes / t_read * 1e-9);
    cJSON_AddNumberToObject(o, "fraction", t_read / t_scan);
    emit_obj(o, emit, ctx);

    /* Packed-code scans of the quantizers that are registered in this build. */
    static const char *specs[] = {"pq:m=32,bits=4", "pq:m=16,bits=8", "sq8", "fp16",
                                  "tq:bits=4",      "rabitq:bits=1",  "bin"};
    const char *const *names = vq_quant_names();
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        size_t nl = strcspn(specs[s], ":");
        int have = 0;
        for (size_t i = 0; names[i]; i++)
            if (strlen(names[i]) == nl && !strncmp(names[i], specs[s], nl)) have = 1;
        if (!have) continue;
        double cps = NAN, scps = NAN, gb = NAN;
        vq_err e2 = {0};
        int rc = vq_qb_scan_speed(specs[s], x, n, d, n < 65536 ? n : 65536, qv, &p1, &cps, &scps,
                                  &gb, &e2);
        o = cJSON_CreateObject();
        char name[64];
        snprintf(name, sizeof name, "scan:%s", specs[s]);
        cJSON_AddStringToObject(o, "kernel", name);
        cJSON_AddStringToObject(o, "isa", vq_isa_name(isa));
        cJSON_AddNumberToObject(o, "n", (double)n);
        cJSON_AddNumberToObject(o, "d", (double)d);
        if (rc < 0) {
            cJSON_AddStringToObject(o, "error", e2.msg);
        } else {
            cJSON_AddNumberToObject(o, "simd_codes_per_s", cps);
            cJSON_AddNumberToObject(o, "scalar_codes_per_s", scps);
            cJSON_AddNumberToObject(o, "scan_gbps", gb);
            cJSON_AddNumberToObject(o, "ratio", cps / scps);
        }
        emit_obj(o, emit, ctx);
    }
    vq_free(x);
    vq_free(out);
    vq_free(qv);
    return VQ_OK;
}
