/* cmd_kv_bench.c — `vqdb kv-bench`: KV-cache (and weight) compression on a llama2.c model.
 *
 * For each (key, value) setting, against the fp32 cache of the same run:
 *  - end to end, teacher-forced over the recorded (or sampled) sequences: next-token
 *    agreement (argmax), next-token KL(p_fp32 || p), and the mean per-token log-likelihood
 *    change of the recorded text (log p(next) - log p_fp32(next));
 *  - with --kv-data, per layer and head on the recorded q/k/v: relative error of the
 *    attention scores, KL of the attention distribution, relative error of the attention
 *    output and top-5 agreement (|top5 ∩ top5^| / 5), averaged over queries with >= 5 keys;
 *  - bits per channel with every overhead, bytes per token, and the decode step at the last
 *    position (the whole forward step and attention alone) as a ratio to the fp32 cache,
 *    medians over --reps repetitions in this process.
 * Calibration (quantizers that train, outlier channels) uses sequences sampled from the
 *    model itself with seeds 1000.., never the evaluated ones.
 * --pre-rope caches keys before RoPE (the forward pass appends pre-RoPE keys, calibration uses
 *    pre-RoPE keys, the recorded post-RoPE keys of --kv-data are turned back to their
 *    positions) and the cache applies RoPE at score time (kvcache.h).
 * --weights SPEC runs the model with every 2-D weight compressed (fp32 cache) instead.
 * --synthetic-tokens N,... times one decode step over N random keys/values (one layer) for
 *    each setting against the "f32" spec of the same cache, and reports memory.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kvcache.h"
#include "llama2.h"
#include "readers.h"
#include "weights.h"

#define MAXSET 64

typedef struct opts {
    const char *model, *tokenizer, *kv_data;
    const char *key[MAXSET], *value[MAXSET], *weights[MAXSET];
    int nkey, nvalue, nweights;
    unsigned window, key_outliers, value_outliers, joint, group, center, window_flush, window_keys;
    unsigned pre_rope;
    int seqs, calib, reps, json, per_tensor, attn_seqs;
    const char *synthetic;
    unsigned syn_heads, syn_dim;
} opts;

typedef struct bench {
    vqe_llm *m;
    const vqe_llm_config *c;
    int nseq, T;
    int32_t *tok;
    int tok_vq;       /* tok came from vq_npy_read (vq_free) */
    float *Q, *K, *V; /* [nseq][L][T][dim|kv_dim] from --kv-data, or NULL */
    float *ref_lp;    /* nseq * T * vocab log-softmax of the fp32 run */
    float *calk, *calv;
    float *calkp;  /* the calibration keys before RoPE (for --pre-rope) */
    size_t ncal;   /* calibration tokens per layer: [L][ncal][kv_dim] */
    float *act[5]; /* real activations of seq 0: x_att, x_wo, x_ffn, x_w2 (L*T*..), x_cls */
} bench;

static void log_softmax(const float *x, int n, float *out) {
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int i = 0; i < n; i++) s += exp((double)x[i] - mx);
    float ls = (float)log(s) + mx;
    for (int i = 0; i < n; i++) out[i] = x[i] - ls;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * 0x1.0p-53;
}
static float nrand(void) {
    double u1 = urand(), u2 = urand();
    if (u1 < 1e-300) u1 = 1e-300;
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Samples one sequence from BOS at temperature 0.8, recording k and v per layer. */
static int sample_seq(bench *b, vqe_llm_state *s, uint64_t seed, int32_t *tok, float *ks, float *vs,
                      float *kps, size_t stride_tok, vq_err *err) {
    const vqe_llm_config *c = b->c;
    g_rng = seed * 0x9e3779b97f4a7c15ull + 12345;
    vqe_llm_state_reset(s);
    float *lp = malloc((size_t)c->vocab_size * 4),
          *kk = malloc((size_t)c->n_layers * c->kv_dim * 4),
          *vv = malloc((size_t)c->n_layers * c->kv_dim * 4),
          *kp = malloc((size_t)c->n_layers * c->kv_dim * 4);
    int cur = 1, rc = VQ_OK;
    for (int p = 0; p < b->T && rc == VQ_OK; p++) {
        tok[p] = cur;
        const float *lg;
        vqe_llm_trace tr = {.k = kk, .v = vv, .k_pre = kp};
        rc = vqe_llm_forward(b->m, s, NULL, cur, p, &tr, &lg, err);
        if (rc < 0) break;
        if (ks)
            for (int l = 0; l < c->n_layers; l++) {
                memcpy(ks + ((size_t)l * stride_tok + p) * c->kv_dim, kk + (size_t)l * c->kv_dim,
                       (size_t)c->kv_dim * 4);
                memcpy(vs + ((size_t)l * stride_tok + p) * c->kv_dim, vv + (size_t)l * c->kv_dim,
                       (size_t)c->kv_dim * 4);
                if (kps)
                    memcpy(kps + ((size_t)l * stride_tok + p) * c->kv_dim,
                           kp + (size_t)l * c->kv_dim, (size_t)c->kv_dim * 4);
            }
        for (int i = 0; i < c->vocab_size; i++) lp[i] = lg[i] / 0.8f;
        log_softmax(lp, c->vocab_size, lp);
        double u = urand(), acc = 0;
        cur = c->vocab_size - 1;
        for (int i = 0; i < c->vocab_size; i++) {
            acc += exp(lp[i]);
            if (u < acc) {
                cur = i;
                break;
            }
        }
    }
    free(lp);
    free(kk);
    free(vv);
    free(kp);
    return rc;
}

static int load_npy_f32(const char *dir, const char *name, size_t want, float **out, vq_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    vq_npy a;
    VQ_TRY(vq_npy_read(path, &a, err));
    if (a.dtype != VQ_DT_F32 || a.count != want) {
        vq_npy_free(&a);
        return vq_err_set(err, VQ_EDIM, path, "%s: expected %zu float32 values", path, want);
    }
    *out = a.data;
    return VQ_OK;
}

static int bench_setup(bench *b, const opts *o, vq_err *err) {
    VQ_TRY(vqe_llm_open(o->model, &b->m, err));
    b->c = vqe_llm_config_of(b->m);
    const vqe_llm_config *c = b->c;
    if (o->tokenizer) {
        vqe_llm_tokenizer *t;
        VQ_TRY(vqe_llm_tokenizer_open(o->tokenizer, c->vocab_size, &t, err));
        vqe_llm_tokenizer_free(t);
    }
    b->T = c->seq_len;
    b->nseq = o->seqs;
    vqe_llm_state *s;
    VQ_TRY(vqe_llm_state_new(b->m, &s, err));
    int rc = VQ_OK;
    if (o->kv_data) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tokens.npy", o->kv_data);
        vq_npy t;
        if ((rc = vq_npy_read(path, &t, err)) < 0) goto out;
        if (t.dtype != VQ_DT_I32 || t.ndim != 2 || t.shape[1] != (size_t)b->T) {
            vq_npy_free(&t);
            rc = vq_err_set(err, VQ_EDIM, path, "%s: expected int32 [n, %d]", path, b->T);
            goto out;
        }
        if ((size_t)b->nseq > t.shape[0]) b->nseq = (int)t.shape[0];
        b->tok = t.data;
        b->tok_vq = 1;
        size_t per = (size_t)t.shape[0] * c->n_layers * b->T;
        if ((rc = load_npy_f32(o->kv_data, "q.npy", per * c->dim, &b->Q, err)) < 0 ||
            (rc = load_npy_f32(o->kv_data, "k.npy", per * c->kv_dim, &b->K, err)) < 0 ||
            (rc = load_npy_f32(o->kv_data, "v.npy", per * c->kv_dim, &b->V, err)) < 0)
            goto out;
        for (size_t i = 0; i < (size_t)b->nseq * b->T; i++)
            if (b->tok[i] < 0 || b->tok[i] >= c->vocab_size) {
                rc = vq_err_set(err, VQ_ECORRUPT, path, "token %d out of range", b->tok[i]);
                goto out;
            }
    } else {
        b->tok = malloc((size_t)b->nseq * b->T * sizeof(int32_t));
        for (int i = 0; i < b->nseq && rc == VQ_OK; i++)
            rc = sample_seq(b, s, (uint64_t)i, b->tok + (size_t)i * b->T, NULL, NULL, NULL, 0, err);
        if (rc < 0) goto out;
    }
    /* Calibration: sequences sampled from the model, seeds 1000.. */
    b->ncal = (size_t)o->calib * b->T;
    b->calk = malloc((size_t)c->n_layers * b->ncal * c->kv_dim * 4);
    b->calv = malloc((size_t)c->n_layers * b->ncal * c->kv_dim * 4);
    b->calkp = malloc((size_t)c->n_layers * b->ncal * c->kv_dim * 4);
    int32_t *ct = malloc((size_t)b->T * sizeof(int32_t));
    for (int i = 0; i < o->calib && rc == VQ_OK; i++)
        rc = sample_seq(b, s, 1000u + (uint64_t)i, ct, b->calk + (size_t)i * b->T * c->kv_dim,
                        b->calv + (size_t)i * b->T * c->kv_dim,
                        b->calkp + (size_t)i * b->T * c->kv_dim, b->ncal, err);
    free(ct);
    if (rc < 0) goto out;
    /* The fp32 reference run, and real activations of sequence 0 for the weights report. */
    b->ref_lp = malloc((size_t)b->nseq * b->T * c->vocab_size * 4);
    size_t L = (size_t)c->n_layers, T = (size_t)b->T;
    b->act[0] = malloc(L * T * c->dim * 4);
    b->act[1] = malloc(L * T * c->dim * 4);
    b->act[2] = malloc(L * T * c->dim * 4);
    b->act[3] = malloc(L * T * c->hidden_dim * 4);
    b->act[4] = malloc(T * c->dim * 4);
    float *tmp[5];
    size_t w[5] = {L * c->dim, L * c->dim, L * c->dim, L * c->hidden_dim, (size_t)c->dim};
    for (int a = 0; a < 5; a++) tmp[a] = malloc(w[a] * 4);
    for (int sq = 0; sq < b->nseq && rc == VQ_OK; sq++) {
        vqe_llm_state_reset(s);
        for (int p = 0; p < b->T; p++) {
            const float *lg;
            vqe_llm_trace tr = {
                .x_att = tmp[0], .x_wo = tmp[1], .x_ffn = tmp[2], .x_w2 = tmp[3], .x_cls = tmp[4]};
            if ((rc = vqe_llm_forward(b->m, s, NULL, b->tok[(size_t)sq * T + p], p,
                                      sq == 0 ? &tr : NULL, &lg, err)) < 0)
                break;
            log_softmax(lg, c->vocab_size, b->ref_lp + ((size_t)sq * T + p) * c->vocab_size);
            if (sq == 0)
                for (int a = 0; a < 5; a++) {
                    size_t per_l = a == 4 ? w[a] : w[a] / L;
                    for (size_t l = 0; l < (a == 4 ? 1 : L); l++)
                        memcpy(b->act[a] + (l * T + (size_t)p) * per_l, tmp[a] + l * per_l,
                               per_l * 4);
                }
        }
    }
    for (int a = 0; a < 5; a++) free(tmp[a]);
out:
    vqe_llm_state_free(s);
    return rc;
}

typedef struct e2e {
    double agree, kl, lld;
    double bits_avg; /* bits per channel after each position of sequence 0, averaged */
} e2e;

/* Teacher-forced run of model m with cache kv (NULL: fp32) against the fp32 reference. */
static int run_e2e(const bench *b, const vqe_llm *m, vqe_kv *kv, e2e *r, vq_err *err) {
    const vqe_llm_config *c = b->c;
    vqe_llm_state *s;
    VQ_TRY(vqe_llm_state_new(m, &s, err));
    float *lp = malloc((size_t)c->vocab_size * 4);
    vqe_llm_kv iface;
    if (kv) iface = vqe_kv_llm(kv);
    double agree = 0, kl = 0, lld = 0, bits = 0;
    size_t n = 0, nl = 0;
    int rc = VQ_OK;
    for (int sq = 0; sq < b->nseq && rc == VQ_OK; sq++) {
        vqe_llm_state_reset(s);
        if (kv) vqe_kv_reset(kv);
        for (int p = 0; p < b->T; p++) {
            const float *lg;
            const int32_t *tk = b->tok + (size_t)sq * b->T;
            if ((rc = vqe_llm_forward(m, s, kv ? &iface : NULL, tk[p], p, NULL, &lg, err)) < 0)
                break;
            if (kv && sq == 0) {
                vqe_kv_stats st;
                vqe_kv_stats_get(kv, &st);
                bits += st.bits_per_channel;
            }
            log_softmax(lg, c->vocab_size, lp);
            const float *ref = b->ref_lp + ((size_t)sq * b->T + p) * c->vocab_size;
            agree += argmax(lp, c->vocab_size) == argmax(ref, c->vocab_size);
            double k = 0;
            for (int i = 0; i < c->vocab_size; i++) k += exp(ref[i]) * (ref[i] - lp[i]);
            kl += k;
            n++;
            if (p + 1 < b->T) {
                lld += lp[tk[p + 1]] - ref[tk[p + 1]];
                nl++;
            }
        }
    }
    free(lp);
    vqe_llm_state_free(s);
    r->agree = agree / (double)n;
    r->kl = kl / (double)n;
    r->lld = lld / (double)nl;
    r->bits_avg = bits / b->T;
    return rc;
}

typedef struct attn_m {
    double score_rel, kl, out_rel, top5;
} attn_m;

static void top5(const double *x, size_t n, size_t *idx) {
    for (int j = 0; j < 5; j++) {
        size_t best = 0;
        double bv = -1e300;
        for (size_t t = 0; t < n; t++) {
            int used = 0;
            for (int i = 0; i < j; i++) used |= idx[i] == t;
            if (!used && x[t] > bv) bv = x[t], best = t;
        }
        idx[j] = best;
    }
}

/* Per layer/head metrics on the recorded q/k/v (decode order: append t, then query t). */
static int run_attn(const bench *b, int nseq, vqe_kv *kv, int pre_rope, attn_m *r, vq_err *err) {
    const vqe_llm_config *c = b->c;
    int T = b->T, hs = c->head_size, grp = c->n_heads / c->n_kv_heads;
    float *lg = malloc((size_t)T * 4), *pr = malloc((size_t)T * 4), out[1024], kb[4096];
    double *el = malloc((size_t)T * 8), *ep = malloc((size_t)T * 8), eo[1024];
    double sr = 0, kl = 0, orr = 0, t5 = 0;
    size_t n = 0, n5 = 0;
    double scale = 1.0 / sqrt((double)hs);
    for (int sq = 0; sq < nseq; sq++) {
        vqe_kv_reset(kv);
        for (int t = 0; t < T; t++) {
            for (int l = 0; l < c->n_layers; l++) {
                size_t base = (((size_t)sq * c->n_layers + l) * T + t);
                const float *k = b->K + base * c->kv_dim;
                if (pre_rope) { /* the recorded keys are post-RoPE: turn them back */
                    memcpy(kb, k, (size_t)c->kv_dim * 4);
                    vqe_llm_rope(kb, c->n_kv_heads, hs, t, 10000.0f, 1);
                    k = kb;
                }
                VQ_TRY(vqe_kv_append(kv, (unsigned)l, k, b->V + base * c->kv_dim, err));
            }
            for (int l = 0; l < c->n_layers; l++)
                for (int h = 0; h < c->n_heads; h++) {
                    size_t base = (((size_t)sq * c->n_layers + l) * T);
                    const float *q = b->Q + (base + t) * c->dim + (size_t)h * hs;
                    size_t koff = (size_t)(h / grp) * hs;
                    VQ_TRY(
                        vqe_kv_attend(kv, (unsigned)l, (unsigned)(h / grp), q, out, lg, pr, err));
                    double mx = -1e300, sum = 0;
                    for (int j = 0; j <= t; j++) {
                        const float *k = b->K + (base + j) * c->kv_dim + koff;
                        double a = 0;
                        for (int i = 0; i < hs; i++) a += (double)q[i] * k[i];
                        el[j] = a * scale;
                        mx = el[j] > mx ? el[j] : mx;
                    }
                    for (int j = 0; j <= t; j++) sum += ep[j] = exp(el[j] - mx);
                    for (int i = 0; i < hs; i++) eo[i] = 0;
                    double se = 0, sn = 0, k = 0;
                    for (int j = 0; j <= t; j++) {
                        ep[j] /= sum;
                        const float *v = b->V + (base + j) * c->kv_dim + koff;
                        for (int i = 0; i < hs; i++) eo[i] += ep[j] * v[i];
                        se += (lg[j] - el[j]) * (lg[j] - el[j]);
                        sn += el[j] * el[j];
                        if (ep[j] > 0) k += ep[j] * (log(ep[j]) - log(fmax(pr[j], 1e-30)));
                    }
                    double oe = 0, on = 0;
                    for (int i = 0; i < hs; i++)
                        oe += (out[i] - eo[i]) * (out[i] - eo[i]), on += eo[i] * eo[i];
                    sr += sn > 0 ? sqrt(se / sn) : 0;
                    kl += k;
                    orr += on > 0 ? sqrt(oe / on) : 0;
                    n++;
                    if (t + 1 >= 5) {
                        size_t a[5], bb[5];
                        double *pe = el; /* ranks: exact logits vs estimated logits */
                        top5(pe, (size_t)t + 1, a);
                        for (int j = 0; j <= t; j++) ep[j] = lg[j];
                        top5(ep, (size_t)t + 1, bb);
                        int hit = 0;
                        for (int x = 0; x < 5; x++)
                            for (int y = 0; y < 5; y++) hit += a[x] == bb[y];
                        t5 += hit / 5.0;
                        n5++;
                    }
                }
        }
    }
    free(lg);
    free(pr);
    free(el);
    free(ep);
    r->score_rel = sr / (double)n;
    r->kl = kl / (double)n;
    r->out_rel = orr / (double)n;
    r->top5 = n5 ? t5 / (double)n5 : 0;
    return VQ_OK;
}

/* printf for JSON lines: NaN (a metric that was not measured) becomes null. */
static void jprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void jprintf(const char *fmt, ...) {
    char buf[4096], out[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    size_t o = 0;
    for (const char *p = buf; *p && o + 5 < sizeof out;) {
        if (p[0] == ':' && (!strncmp(p + 1, "nan", 3) || !strncmp(p + 1, "-nan", 4))) {
            memcpy(out + o, ":null", 5);
            o += 5;
            p += p[1] == '-' ? 5 : 4;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = 0;
    fputs(out, stdout);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    return x[n / 2];
}

/* Decode step at the last position (the cache then holds T tokens): whole forward step and
 * attention alone (all layers and heads), fp32 cache vs kv; medians over reps. */
static int run_timing(const bench *b, vqe_kv *kv, int reps, double *step32, double *stepc,
                      double *att32, double *attc, vq_err *err) {
    const vqe_llm_config *c = b->c;
    vqe_llm_state *s;
    VQ_TRY(vqe_llm_state_new(b->m, &s, err));
    double *ts32 = malloc(reps * 8), *tsc = malloc(reps * 8), *ta32 = malloc(reps * 8),
           *tac = malloc(reps * 8);
    float *q = malloc((size_t)c->n_layers * c->dim * 4), out[4096];
    int rc = VQ_OK, T = b->T;
    enum { INNER = 20 };
    for (int r = 0; r < reps && rc == VQ_OK; r++) {
        for (int mode = 0; mode < 2 && rc == VQ_OK; mode++) {
            vqe_llm_state_reset(s);
            vqe_kv_reset(kv);
            vqe_llm_kv f32 = vqe_llm_state_f32_kv(s), ck = vqe_kv_llm(kv);
            vqe_llm_kv *iface = mode ? &ck : &f32;
            const float *lg;
            for (int p = 0; p < T - 1 && rc == VQ_OK; p++)
                rc = vqe_llm_forward(b->m, s, iface, b->tok[p], p, NULL, &lg, err);
            if (rc < 0) break;
            vqe_llm_trace tr = {.q = q};
            double t0 = vq_now();
            rc = vqe_llm_forward(b->m, s, iface, b->tok[T - 1], T - 1, &tr, &lg, err);
            double t1 = vq_now();
            for (int it = 0; it < INNER && rc == VQ_OK; it++)
                for (int l = 0; l < c->n_layers && rc == VQ_OK; l++)
                    rc = iface->attend(iface->ctx, l, q + (size_t)l * c->dim, out, err);
            double t2 = vq_now();
            (mode ? tsc : ts32)[r] = t1 - t0;
            (mode ? tac : ta32)[r] = (t2 - t1) / INNER;
        }
    }
    if (rc == VQ_OK) {
        *step32 = median(ts32, reps);
        *stepc = median(tsc, reps);
        *att32 = median(ta32, reps);
        *attc = median(tac, reps);
    }
    free(ts32);
    free(tsc);
    free(ta32);
    free(tac);
    free(q);
    vqe_llm_state_free(s);
    return rc;
}

static int make_kv(const bench *b, const opts *o, const char *ks, const char *vs, vqe_kv **out,
                   vq_err *err) {
    const vqe_llm_config *c = b->c;
    vqe_kv_params p = vqe_kv_params_default();
    p.n_layers = (unsigned)c->n_layers;
    p.n_heads = (unsigned)c->n_kv_heads;
    p.n_query_heads = (unsigned)c->n_heads;
    p.head_dim = (unsigned)c->head_size;
    p.key_spec = ks;
    p.value_spec = vs;
    p.window = o->window;
    p.window_flush = o->window_flush;
    p.window_keys_only = o->window_keys;
    p.key_outliers = o->key_outliers;
    p.value_outliers = o->value_outliers;
    p.joint_heads = o->joint;
    p.center = o->center;
    p.pre_rope = o->pre_rope;
    const float *ck = o->pre_rope ? b->calkp : b->calk;
    vqe_kv *kv;
    VQ_TRY(vqe_kv_new(&p, &kv, err));
    for (int l = 0; l < c->n_layers; l++) {
        int rc = vqe_kv_calibrate(kv, (unsigned)l, b->ncal, ck + (size_t)l * b->ncal * c->kv_dim,
                                  b->calv + (size_t)l * b->ncal * c->kv_dim, err);
        if (rc < 0) {
            vqe_kv_free(kv);
            return rc;
        }
    }
    *out = kv;
    return VQ_OK;
}

static int run_setting(const bench *b, const opts *o, const char *ks, const char *vs, vq_err *err) {
    const vqe_llm_config *c = b->c;
    vqe_kv *kv;
    VQ_TRY(make_kv(b, o, ks, vs, &kv, err));
    e2e e;
    attn_m a = {NAN, NAN, NAN, NAN};
    int rc = run_e2e(b, b->m, kv, &e, err);
    vqe_kv_stats st;
    vqe_kv_stats_get(kv, &st); /* after a full sequence of T tokens */
    int an = o->attn_seqs < b->nseq ? o->attn_seqs : b->nseq;
    if (rc == VQ_OK && b->K) rc = run_attn(b, an, kv, (int)o->pre_rope, &a, err);
    double s32 = NAN, sc = NAN, a32 = NAN, ac = NAN;
    if (rc == VQ_OK && o->reps > 0) rc = run_timing(b, kv, o->reps, &s32, &sc, &a32, &ac, err);
    vqe_kv_free(kv);
    VQ_TRY(rc);
    double fp32_bpt = 2.0 * c->n_layers * c->kv_dim * 4;
    if (o->json)
        jprintf("{\"key\":\"%s\",\"value\":\"%s\",\"window\":%u,\"window_flush\":%u,\"window_keys_"
                "only\":%u,"
                "\"key_outliers\":%u,"
                "\"value_outliers\":%u,\"joint_heads\":%u,\"center\":%u,\"pre_rope\":%u,"
                "\"bits_per_channel\":%.4f,"
                "\"bits_per_channel_pos_avg\":%.4f,"
                "\"key_bits\":%.4f,\"value_bits\":%.4f,\"bytes_per_token\":%.1f,"
                "\"fp32_bytes_per_token\":%.0f,\"memory_ratio\":%.3f,"
                "\"next_token_agreement\":%.5f,\"loglik_delta\":%.6f,\"next_token_kl\":%.6f,"
                "\"attn_score_rel_err\":%.5f,\"attn_kl\":%.6f,\"attn_out_rel_err\":%.5f,"
                "\"top5_agreement\":%.5f,\"step_time_ratio_vs_fp32\":%.3f,"
                "\"attn_time_ratio_vs_fp32\":%.3f,\"step_us\":%.2f,\"fp32_step_us\":%.2f,"
                "\"seqs\":%d,\"positions\":%d,\"attn_seqs\":%d}\n",
                ks, vs, o->window, o->window_flush, o->window_keys, o->key_outliers,
                o->value_outliers, o->joint, o->center, o->pre_rope, st.bits_per_channel,
                e.bits_avg, st.key_bits, st.value_bits, st.bytes_per_token, fp32_bpt,
                fp32_bpt / st.bytes_per_token, e.agree, e.lld, e.kl, a.score_rel, a.kl, a.out_rel,
                a.top5, sc / s32, ac / a32, sc * 1e6, s32 * 1e6, b->nseq, b->nseq * b->T, an);
    else
        printf("%s%-22s %-22s b/ch %6.3f  agree %.4f  ll %+.5f  kl %.5f  attn_kl %.5f  "
               "out_err %.4f  top5 %.3f  step x%.2f  attn x%.2f  mem /%.1f\n",
               o->pre_rope ? "pre-rope " : "", ks, vs, st.bits_per_channel, e.agree, e.lld, e.kl,
               a.kl, a.out_rel, a.top5, sc / s32, ac / a32, fp32_bpt / st.bytes_per_token);
    fflush(stdout);
    return VQ_OK;
}

/* Compresses every 2-D weight of a copy of the model (per row / per group) and runs it. */
static int run_weights(const bench *b, const opts *o, const char *spec, vq_err *err) {
    vqe_llm *m;
    VQ_TRY(vqe_llm_clone(b->m, &m, err));
    vqe_llm_tensor t[VQE_LLM_TENSORS_MAX];
    size_t nt = vqe_llm_tensors(m, t);
    vqe_w_params wp = {.spec = spec, .group = o->group};
    double bytes = 0, count = 0, num = 0, den = 0, mv_rand = 0, mv_real = 0;
    int nmv = 0, rc = VQ_OK, whole_rows = 0;
    const vqe_llm_config *c = b->c;
    size_t L = (size_t)c->n_layers, T = (size_t)b->T;
    for (size_t i = 0; i < nt && rc == VQ_OK; i++) {
        if (t[i].ndim != 2) continue;
        size_t n = t[i].rows * t[i].cols;
        float *orig = malloc(n * 4), *hat = malloc(n * 4);
        memcpy(orig, t[i].data, n * 4);
        vqe_w_result r;
        /* --group G on a tensor whose rows G does not divide (w2: 172 columns): whole rows. */
        wp.group = o->group && t[i].cols % o->group ? 0 : o->group;
        whole_rows += wp.group != o->group;
        rc = vqe_w_quantize(orig, t[i].rows, t[i].cols, &wp, hat, NULL, NULL, &r, err);
        if (rc == VQ_OK) {
            memcpy(t[i].data, hat, n * 4);
            bytes += (double)r.bytes;
            count += (double)n;
            for (size_t j = 0; j < n; j++)
                num += (double)(orig[j] - hat[j]) * (orig[j] - hat[j]),
                    den += (double)orig[j] * orig[j];
            /* matvec: random Gaussian inputs, and the real inputs of this matrix. */
            size_t nx = 16, cols = t[i].cols;
            float *x = malloc(nx * cols * 4);
            for (size_t j = 0; j < nx * cols; j++) x[j] = nrand();
            double er = vqe_w_matvec_rel_err(orig, hat, t[i].rows, cols, x, nx);
            free(x);
            const char *nm = t[i].name;
            int a = !strcmp(nm, "wq") || !strcmp(nm, "wk") || !strcmp(nm, "wv") ? 0
                    : !strcmp(nm, "wo")                                         ? 1
                    : !strcmp(nm, "w1") || !strcmp(nm, "w3")                    ? 2
                    : !strcmp(nm, "w2")                                         ? 3
                                                                                : 4;
            double ea = 0;
            size_t per = t[i].per_layer_rows, blocks = a == 4 ? 1 : L;
            for (size_t l = 0; l < blocks; l++)
                ea += vqe_w_matvec_rel_err(orig + l * per * cols, hat + l * per * cols, per, cols,
                                           b->act[a] + l * T * cols, T < 32 ? T : 32);
            ea /= (double)blocks;
            mv_rand += er;
            mv_real += ea;
            nmv++;
            if (o->per_tensor)
                printf("{\"weights\":\"%s\",\"tensor\":\"%s\",\"rows\":%zu,\"cols\":%zu,"
                       "\"bits_per_weight\":%.4f,\"rel_frob\":%.5f,\"matvec_rel_err_random\":"
                       "%.5f,\"matvec_rel_err_real\":%.5f}\n",
                       spec, nm, t[i].rows, t[i].cols, r.bits_per_weight, r.rel_frob, er, ea);
        }
        free(orig);
        free(hat);
    }
    e2e e = {0};
    if (rc == VQ_OK) rc = run_e2e(b, m, NULL, &e, err);
    vqe_llm_free(m);
    VQ_TRY(rc);
    if (o->json)
        printf("{\"weights\":\"%s\",\"group\":%u,\"whole_row_tensors\":%d,"
               "\"bits_per_weight\":%.4f,\"rel_frob\":%.5f,"
               "\"matvec_rel_err_random\":%.5f,\"matvec_rel_err_real\":%.5f,"
               "\"next_token_agreement\":%.5f,\"loglik_delta\":%.6f,\"next_token_kl\":%.6f,"
               "\"seqs\":%d}\n",
               spec, o->group, whole_rows, 8 * bytes / count, sqrt(num / den), mv_rand / nmv,
               mv_real / nmv, e.agree, e.lld, e.kl, b->nseq);
    else
        printf("weights %-24s group %-4u b/w %6.3f  frob %.4f  matvec rand %.4f real %.4f  "
               "agree %.4f  ll %+.5f  kl %.5f\n",
               spec, o->group, 8 * bytes / count, sqrt(num / den), mv_rand / nmv, mv_real / nmv,
               e.agree, e.lld, e.kl);
    fflush(stdout);
    return VQ_OK;
}

/* One layer of n random tokens: decode-step time of attention over all heads vs "f32". */
static int run_synthetic(const opts *o, size_t n, const char *ks, const char *vs, vq_err *err) {
    unsigned H = o->syn_heads, D = o->syn_dim;
    size_t w = (size_t)H * D;
    vqe_kv *kv[2] = {NULL, NULL};
    const char *spk[2] = {"f32", ks}, *spv[2] = {"f32", vs};
    double tstep[2] = {0, 0}, tapp[2] = {0, 0};
    vqe_kv_stats st[2];
    float *x = malloc(w * 4), *y = malloc(w * 4), *q = malloc(w * 4), *out = malloc(D * 4);
    size_t ncal = 512;
    float *ck = malloc(ncal * w * 4), *cv = malloc(ncal * w * 4);
    g_rng = 4242;
    for (size_t i = 0; i < ncal * w; i++) ck[i] = nrand(), cv[i] = nrand();
    for (size_t i = 0; i < w; i++) q[i] = nrand() * 0.3f;
    int rc = VQ_OK;
    for (int m = 0; m < 2 && rc == VQ_OK; m++) {
        vqe_kv_params p = vqe_kv_params_default();
        p.n_layers = 1;
        p.n_heads = H;
        p.head_dim = D;
        p.key_spec = spk[m];
        p.value_spec = spv[m];
        if (m) {
            p.window = o->window;
            p.key_outliers = o->key_outliers;
            p.value_outliers = o->value_outliers;
            p.joint_heads = o->joint;
            p.center = o->center;
        }
        if ((rc = vqe_kv_new(&p, &kv[m], err)) < 0) break;
        if ((rc = vqe_kv_calibrate(kv[m], 0, ncal, ck, cv, err)) < 0) break;
        g_rng = 777;
        double t0 = vq_now();
        for (size_t t = 0; t < n && rc == VQ_OK; t++) {
            for (size_t i = 0; i < w; i++) x[i] = nrand(), y[i] = nrand();
            rc = vqe_kv_append(kv[m], 0, x, y, err);
        }
        tapp[m] = vq_now() - t0;
        vqe_kv_stats_get(kv[m], &st[m]);
    }
    /* Interleaved repetitions; the median of per-step times. */
    int reps = o->reps > 0 ? o->reps : 5;
    double *ts[2] = {malloc(reps * 8), malloc(reps * 8)};
    for (int r = 0; r < reps && rc == VQ_OK; r++)
        for (int m = 0; m < 2 && rc == VQ_OK; m++) {
            double t0 = vq_now();
            for (unsigned h = 0; h < H && rc == VQ_OK; h++)
                rc = vqe_kv_attend(kv[m], 0, h, q + (size_t)h * D, out, NULL, NULL, err);
            ts[m][r] = vq_now() - t0;
        }
    if (rc == VQ_OK) {
        tstep[0] = median(ts[0], reps);
        tstep[1] = median(ts[1], reps);
        printf("{\"mode\":\"synthetic\",\"tokens\":%zu,\"heads\":%u,\"head_dim\":%u,\"key\":\"%s\","
               "\"value\":\"%s\",\"window\":%u,\"joint_heads\":%u,\"bits_per_channel\":%.4f,"
               "\"step_us\":%.1f,\"fp32_step_us\":%.1f,\"step_time_ratio_vs_fp32\":%.3f,"
               "\"bytes\":%zu,\"fp32_bytes\":%zu,\"memory_ratio\":%.3f,"
               "\"append_us_per_token\":%.3f,\"fp32_append_us_per_token\":%.3f}\n",
               n, H, D, ks, vs, o->window, o->joint, st[1].bits_per_channel, tstep[1] * 1e6,
               tstep[0] * 1e6, tstep[1] / tstep[0], st[1].key_bytes + st[1].value_bytes,
               st[0].key_bytes + st[0].value_bytes,
               (double)(st[0].key_bytes + st[0].value_bytes) /
                   (double)(st[1].key_bytes + st[1].value_bytes),
               tapp[1] / (double)n * 1e6, tapp[0] / (double)n * 1e6);
        fflush(stdout);
    }
    free(ts[0]);
    free(ts[1]);
    vqe_kv_free(kv[0]);
    vqe_kv_free(kv[1]);
    free(x);
    free(y);
    free(q);
    free(out);
    free(ck);
    free(cv);
    return rc;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: vqdb kv-bench --model FILE --tokenizer FILE [--kv-data DIR]\n"
            "         --key SPEC --value SPEC [--key SPEC --value SPEC ...]\n"
            "         [--window N [--window-flush] [--window-keys-only]] [--key-outliers N] "
            "[--value-outliers N] "
            "[--joint] [--center] [--pre-rope]\n"
            "         [--seqs N (64)] [--attn-seqs N (16)] [--calib N (4)] [--reps N (31, 0 = no "
            "timing)]\n"
            "         [--json]\n"
            "       vqdb kv-bench --model FILE --weights SPEC [--weights ...] [--group G]\n"
            "         [--per-tensor] [--json]\n"
            "       vqdb kv-bench --synthetic-tokens 4096,16384,32768 --key SPEC --value SPEC\n"
            "         [--heads H (4)] [--head-dim D (128)] [--window N] [--joint]\n"
            "specs: quant/ specs (tq:bits=3, tq-ip:bits=3, qjl:m=32, pq:m=8,bits=4, sq8, fp16,\n"
            "       f32) or kivi:bits=2|4[,group=G]; weights also int:bits=b[,group=32]\n");
}

static int parse_uint(const char *s, unsigned *out) {
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 1u << 30) return -1;
    *out = (unsigned)v;
    return 0;
}

int vq_cmd_kv_bench(int argc, char **argv) {
    opts o = {.seqs = 64, .calib = 4, .reps = 31, .syn_heads = 4, .syn_dim = 128, .attn_seqs = 16};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned u = 0;
#define NEED()                                                       \
    do {                                                             \
        if (!v) {                                                    \
            fprintf(stderr, "vqdb kv-bench: %s needs a value\n", a); \
            return 2;                                                \
        }                                                            \
        i++;                                                         \
    } while (0)
#define NUM(dst)                                                                \
    do {                                                                        \
        NEED();                                                                 \
        if (parse_uint(v, &u)) {                                                \
            fprintf(stderr, "vqdb kv-bench: %s: '%s' is not a number\n", a, v); \
            return 2;                                                           \
        }                                                                       \
        dst = u;                                                                \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model")) {
            NEED();
            o.model = v;
        } else if (!strcmp(a, "--tokenizer")) {
            NEED();
            o.tokenizer = v;
        } else if (!strcmp(a, "--kv-data")) {
            NEED();
            o.kv_data = v;
        } else if (!strcmp(a, "--key") || !strcmp(a, "--value") || !strcmp(a, "--weights")) {
            NEED();
            int *cnt = a[2] == 'k' ? &o.nkey : a[2] == 'v' ? &o.nvalue : &o.nweights;
            const char **arr = a[2] == 'k' ? o.key : a[2] == 'v' ? o.value : o.weights;
            if (*cnt >= MAXSET) {
                fprintf(stderr, "vqdb kv-bench: at most %d %s\n", MAXSET, a);
                return 2;
            }
            arr[(*cnt)++] = v;
        } else if (!strcmp(a, "--window")) {
            NUM(o.window);
        } else if (!strcmp(a, "--key-outliers")) {
            NUM(o.key_outliers);
        } else if (!strcmp(a, "--value-outliers")) {
            NUM(o.value_outliers);
        } else if (!strcmp(a, "--group")) {
            NUM(o.group);
        } else if (!strcmp(a, "--seqs")) {
            NUM(o.seqs);
        } else if (!strcmp(a, "--attn-seqs")) {
            NUM(o.attn_seqs);
        } else if (!strcmp(a, "--calib")) {
            NUM(o.calib);
        } else if (!strcmp(a, "--reps")) {
            NUM(o.reps);
        } else if (!strcmp(a, "--heads")) {
            NUM(o.syn_heads);
        } else if (!strcmp(a, "--head-dim")) {
            NUM(o.syn_dim);
        } else if (!strcmp(a, "--synthetic-tokens")) {
            NEED();
            o.synthetic = v;
        } else if (!strcmp(a, "--center")) {
            o.center = 1;
        } else if (!strcmp(a, "--window-flush")) {
            o.window_flush = 1;
        } else if (!strcmp(a, "--window-keys-only")) {
            o.window_keys = 1;
        } else if (!strcmp(a, "--pre-rope")) {
            o.pre_rope = 1;
        } else if (!strcmp(a, "--joint")) {
            o.joint = 1;
        } else if (!strcmp(a, "--json")) {
            o.json = 1;
        } else if (!strcmp(a, "--per-tensor")) {
            o.per_tensor = 1;
        } else {
            fprintf(stderr, "vqdb kv-bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
#undef NUM
#undef NEED
    }
    if (o.nvalue != o.nkey && !(o.nvalue == 1 && o.nkey >= 1) && !(o.nkey == 0 && o.nvalue == 0)) {
        fprintf(stderr, "vqdb kv-bench: give one --value per --key (or a single --value)\n");
        return 2;
    }
    vq_err err = {0};
    if (o.synthetic) {
        if (!o.nkey) {
            fprintf(stderr, "vqdb kv-bench: --synthetic-tokens needs --key/--value\n");
            return 2;
        }
        char buf[512];
        snprintf(buf, sizeof buf, "%s", o.synthetic);
        char *save = NULL;
        for (char *tk = strtok_r(buf, ",", &save); tk; tk = strtok_r(NULL, ",", &save)) {
            unsigned n;
            if (parse_uint(tk, &n) || n < 1) {
                fprintf(stderr, "vqdb kv-bench: bad token count '%s'\n", tk);
                return 2;
            }
            for (int k = 0; k < o.nkey; k++) {
                int rc = run_synthetic(&o, n, o.key[k], o.value[o.nvalue == 1 ? 0 : k], &err);
                if (rc < 0) return vq_cli_fail("kv-bench", rc, &err);
            }
        }
        return 0;
    }
    if (!o.model || (!o.nkey && !o.nweights)) {
        usage(stderr);
        return 2;
    }
    if (o.seqs < 1 || o.calib < 1) {
        fprintf(stderr, "vqdb kv-bench: --seqs and --calib must be >= 1\n");
        return 2;
    }
    bench b = {0};
    int rc = bench_setup(&b, &o, &err);
    for (int k = 0; rc == VQ_OK && k < o.nkey; k++)
        rc = run_setting(&b, &o, o.key[k], o.value[o.nvalue == 1 ? 0 : k], &err);
    for (int k = 0; rc == VQ_OK && k < o.nweights; k++)
        rc = run_weights(&b, &o, o.weights[k], &err);
    if (b.tok_vq)
        vq_free(b.tok);
    else
        free(b.tok);
    vq_free(b.Q);
    vq_free(b.K);
    vq_free(b.V);
    free(b.ref_lp);
    free(b.calk);
    free(b.calv);
    free(b.calkp);
    for (int a = 0; a < 5; a++) free(b.act[a]);
    vqe_llm_free(b.m);
    return rc < 0 ? vq_cli_fail("kv-bench", rc, &err) : 0;
}
