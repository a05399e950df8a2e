/* Pre-RoPE keys in the KV cache (kvcache.h pre_rope): with exact (f32) keys a pre-RoPE cache
 * gives the attention scores of a post-RoPE cache (per head, joint heads, window, flushed
 * window, outliers, centering, grouped queries) and the llama2 forward pass with it
 * reproduces the fp32 forward; with lossy keys the scores are the estimator evaluated at
 * the turned-back query (equal to <q, R(t) k^_t> for quantizers whose estimate is the dot
 * with the reconstruction, including KIVI and fast-scan PQ); tq-ip's estimator stays
 * unbiased over seeds while plain tq's shrinkage shows up; bad parameters. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kvcache.h"
#include "llama2.h"
#include "quant.h"
#include "tinyllm.h"

static void fill(float *x, size_t n, uint64_t seed, float amp) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = amp * (float)((double)(seed >> 11) * 0x1.0p-53 * 2 - 1);
    }
}

enum { L = 1, H = 2, HD = 16, N = 70, CAL = 300 };

static vqe_kv *mk(const char *ks, unsigned pre, unsigned joint, unsigned window, unsigned flush,
                  unsigned outl, unsigned center, const float *cal_k, const float *cal_v) {
    vqe_kv_params p = vqe_kv_params_default();
    p.n_layers = L;
    p.n_heads = H;
    p.n_query_heads = 2 * H;
    p.head_dim = HD;
    p.key_spec = ks;
    p.value_spec = "f32";
    p.pre_rope = pre;
    p.joint_heads = joint;
    p.window = window;
    p.window_flush = flush;
    p.key_outliers = outl;
    p.center = center;
    vqe_kv *kv;
    vq_err err;
    cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(vqe_kv_calibrate(kv, 0, CAL, cal_k, cal_v, &err), VQ_OK, "%s: %s", ks, err.msg);
    return kv;
}

/* Keys k (pre-RoPE, N x H*HD) and their post-RoPE copies kr. */
static void keys(float *k, float *kr, size_t n, uint64_t seed) {
    fill(k, n * H * HD, seed, 2.0f);
    for (size_t t = 0; t < n; t++) k[t * H * HD + 3] *= 10; /* a loud channel for outliers */
    memcpy(kr, k, n * H * HD * sizeof(float));
    for (size_t t = 0; t < n; t++) vqe_llm_rope(kr + t * H * HD, H, HD, (int)t, 10000.0f, 0);
}

Test(kv_prerope, f32_scores_equal_post_rope) {
    static float k[N * H * HD], kr[N * H * HD], v[N * H * HD], ck[CAL * H * HD], ckr[CAL * H * HD],
        cv[CAL * H * HD], q[HD], lg1[N], lg2[N], o1[HD], o2[HD];
    keys(k, kr, N, 1);
    keys(ck, ckr, CAL, 2);
    fill(v, sizeof v / 4, 3, 1.0f);
    fill(cv, sizeof cv / 4, 4, 1.0f);
    vq_err err;
    /* joint, window, flush, outliers, center */
    /* Outlier channels are not in this list: they are stored in fp16, so post- and pre-RoPE
     * caches round different numbers (covered by the lossy test below). */
    unsigned cfg[][5] = {
        {0, 0, 0, 0, 0}, {1, 0, 0, 0, 0}, {0, 8, 0, 0, 0}, {0, 16, 1, 0, 0}, {1, 5, 0, 0, 1}};
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        unsigned *f = cfg[c];
        vqe_kv *post = mk("f32", 0, f[0], f[1], f[2], f[3], f[4], ckr, cv);
        vqe_kv *pre = mk("f32", 1, f[0], f[1], f[2], f[3], f[4], ck, cv);
        double worst = 0, worst_o = 0;
        for (size_t t = 0; t < N; t++) {
            cr_assert_eq(vqe_kv_append(post, 0, kr + t * H * HD, v + t * H * HD, &err), VQ_OK);
            cr_assert_eq(vqe_kv_append(pre, 0, k + t * H * HD, v + t * H * HD, &err), VQ_OK, "%s",
                         err.msg);
            for (unsigned h = 0; h < H; h++) {
                fill(q, HD, 100 + t * 7 + h, 1.0f);
                cr_assert_eq(vqe_kv_attend(post, 0, h, q, o1, lg1, NULL, &err), VQ_OK);
                cr_assert_eq(vqe_kv_attend(pre, 0, h, q, o2, lg2, NULL, &err), VQ_OK);
                for (size_t j = 0; j <= t; j++)
                    worst = fmax(worst, fabs(lg1[j] - lg2[j]) / (1 + fabs(lg1[j])));
                for (unsigned i = 0; i < HD; i++)
                    worst_o = fmax(worst_o, fabs(o1[i] - o2[i]) / (1 + fabs(o1[i])));
            }
        }
        cr_expect_lt(worst, 1e-5, "config %zu: logits differ by %g", c, worst);
        cr_expect_lt(worst_o, 1e-5, "config %zu: outputs differ by %g", c, worst_o);
        /* Grouped queries through attend_all as the forward pass calls it. */
        float qa[2 * H * HD], oa1[2 * H * HD], oa2[2 * H * HD];
        fill(qa, sizeof qa / 4, 55, 1.0f);
        cr_assert_eq(vqe_kv_attend_all(post, 0, qa, oa1, &err), VQ_OK);
        cr_assert_eq(vqe_kv_attend_all(pre, 0, qa, oa2, &err), VQ_OK);
        for (size_t i = 0; i < sizeof qa / 4; i++)
            cr_expect_lt(fabs(oa1[i] - oa2[i]), 1e-5 * (1 + fabs(oa1[i])), "config %zu", c);
        vqe_kv_free(post);
        vqe_kv_free(pre);
    }
}

/* Lossy keys: the pre-RoPE score of token t is <q, R(t) k^_t> with k^_t the stored
 * reconstruction, for every quantizer whose estimate is the dot with its reconstruction. */
Test(kv_prerope, lossy_scores_are_turned_reconstructions) {
    static float k[N * H * HD], kr[N * H * HD], v[N * H * HD], ck[CAL * H * HD], ckr[CAL * H * HD],
        cv[CAL * H * HD], q[HD], lg[N], kh[HD];
    keys(k, kr, N, 5);
    keys(ck, ckr, CAL, 6);
    fill(v, sizeof v / 4, 7, 1.0f);
    fill(cv, sizeof cv / 4, 8, 1.0f);
    const char *specs[] = {"kivi:bits=2", "tq:bits=3", "tq-ip:bits=3", "sq8", "pq:m=4,bits=4"};
    vq_err err;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        vqe_kv *kv = mk(specs[s], 1, s % 2, 0, 0, s == 1 ? 2 : 0, 1, ck, cv);
        double worst = 0;
        for (size_t t = 0; t < N; t++)
            cr_assert_eq(vqe_kv_append(kv, 0, k + t * H * HD, v + t * H * HD, &err), VQ_OK);
        for (unsigned h = 0; h < H; h++) {
            fill(q, HD, 300 + h, 1.0f);
            cr_assert_eq(vqe_kv_attend(kv, 0, h, q, kh, lg, NULL, &err), VQ_OK);
            for (size_t t = 0; t < N; t++) {
                cr_assert_eq(vqe_kv_reconstruct(kv, 0, h, t, kh, NULL, &err), VQ_OK);
                vqe_llm_rope(kh, 1, HD, (int)t, 10000.0f, 0);
                double d = 0;
                for (unsigned i = 0; i < HD; i++) d += (double)q[i] * kh[i];
                d /= sqrt((double)HD);
                /* fast-scan pq is scored from its exact float table here (one code at a time) */
                worst = fmax(worst, fabs(d - lg[t]) / (1 + fabs(d)));
            }
        }
        cr_expect_lt(worst, 2e-5, "%s: score vs turned reconstruction %g", specs[s], worst);
        vqe_kv_free(kv);
    }
}

/* Every pre-RoPE score is the quantizer's own estimator at the turned-back query,
 * est(R(t)^T q, code(k_t)), whichever path the cache takes: checked against an independent
 * quantizer of the same (data-oblivious, seeded) spec. tq with rescale=1 and qjl/rabitq
 * estimates are not the dot with their reconstruction, so they exercise the per-token path;
 * tq and tq-ip the decode path. */
Test(kv_prerope, scores_are_the_estimator_at_the_turned_query) {
    static float k[N * H * HD], kr[N * H * HD], v[N * H * HD], q[HD], qt[HD], lg[N], o[HD];
    keys(k, kr, N, 21);
    fill(v, sizeof v / 4, 22, 1.0f);
    const char *specs[] = {"tq:bits=3", "tq:bits=3,rescale=1", "tq-ip:bits=3",
                           "qjl:m=32",  "rabitq:bits=3",       "tq:bits=2,norm=16,hi=4"};
    vq_err err;
    int tested = 0;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        vq_quant *ref;
        if (vq_quant_new(specs[s], HD, &ref, &err) != VQ_OK) {
            printf("kv_prerope: %s not available (%s)\n", specs[s], err.msg);
            continue;
        }
        if (!vq_quant_is_trained(ref)) { /* needs data: not comparable independently */
            vq_quant_free(ref);
            continue;
        }
        vqe_kv_params p = vqe_kv_params_default();
        p.n_heads = H;
        p.head_dim = HD;
        p.key_spec = specs[s];
        p.pre_rope = 1;
        vqe_kv *kv;
        cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
        for (size_t t = 0; t < N; t++)
            cr_assert_eq(vqe_kv_append(kv, 0, k + t * H * HD, v + t * H * HD, &err), VQ_OK);
        vq_query *qs;
        cr_assert_eq(vq_query_new(ref, &qs, &err), VQ_OK);
        uint8_t code[256];
        cr_assert_leq(vq_quant_code_size(ref), sizeof code);
        double worst = 0;
        for (unsigned h = 0; h < H; h++) {
            fill(q, HD, 400 + h, 1.0f);
            cr_assert_eq(vqe_kv_attend(kv, 0, h, q, o, lg, NULL, &err), VQ_OK);
            for (size_t t = 0; t < N; t++) {
                memcpy(qt, q, sizeof qt);
                vqe_llm_rope(qt, 1, HD, (int)t, 10000.0f, 1);
                cr_assert_eq(vq_quant_encode(ref, 1, k + t * H * HD + h * HD, code, &err), VQ_OK);
                cr_assert_eq(vq_query_prepare(qs, qt, VQ_METRIC_IP, &err), VQ_OK);
                double est = -vq_quant_score_one(qs, code) / sqrt((double)HD);
                worst = fmax(worst, fabs(est - lg[t]) / (1 + fabs(est)));
            }
        }
        cr_expect_lt(worst, 2e-5, "%s: cache score vs estimator at R(t)^T q: %g", specs[s], worst);
        tested++;
        vq_query_free(qs);
        vq_quant_free(ref);
        vqe_kv_free(kv);
    }
    cr_expect_geq(tested, 4);
}

/* Unbiasedness survives the per-position turn: over independent seeds, tq-ip's pre-RoPE
 * scores average to the exact <q, R(t) k_t>; plain tq (an MSE quantizer that shrinks inner
 * products by 1 - D_B) fails the same check, so the check can fail. */
static double bias_chi2(const char *fmt, unsigned seeds) {
    enum { T = 24 };
    static float k[T * H * HD], kr[T * H * HD], v[T * H * HD], q[HD], lg[T], o[HD];
    keys(k, kr, T, 11);
    fill(v, sizeof v / 4, 12, 1.0f);
    fill(q, HD, 13, 1.0f);
    double exact[T], sum[T] = {0}, sum2[T] = {0};
    for (size_t t = 0; t < T; t++) {
        double d = 0;
        for (unsigned i = 0; i < HD; i++) d += (double)q[i] * kr[t * H * HD + i];
        exact[t] = d / sqrt((double)HD);
    }
    vq_err err;
    for (unsigned s = 0; s < seeds; s++) {
        char spec[64];
        snprintf(spec, sizeof spec, fmt, s + 1);
        vqe_kv_params p = vqe_kv_params_default();
        p.n_heads = H;
        p.head_dim = HD;
        p.key_spec = spec;
        p.pre_rope = 1;
        vqe_kv *kv;
        cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
        cr_assert_eq(vqe_kv_calibrate(kv, 0, T, k, v, &err), VQ_OK, "%s", err.msg);
        for (size_t t = 0; t < T; t++)
            cr_assert_eq(vqe_kv_append(kv, 0, k + t * H * HD, v + t * H * HD, &err), VQ_OK, "%s",
                         err.msg);
        cr_assert_eq(vqe_kv_attend(kv, 0, 0, q, o, lg, NULL, &err), VQ_OK);
        for (size_t t = 0; t < T; t++) {
            double e = lg[t] - exact[t];
            sum[t] += e;
            sum2[t] += e * e;
        }
        vqe_kv_free(kv);
    }
    double chi2 = 0;
    for (size_t t = 0; t < T; t++) {
        double m = sum[t] / seeds, var = sum2[t] / seeds - m * m;
        chi2 += m * m / (var / seeds + 1e-30);
    }
    return chi2 / T; /* ~1 for an unbiased estimator */
}

Test(kv_prerope, tq_ip_stays_unbiased, .timeout = 60) {
    double ip = bias_chi2("tq-ip:bits=2,seed=%u", 150);
    double mse = bias_chi2("tq:bits=2,seed=%u", 150);
    printf("pre-RoPE bias chi2 per token: tq-ip %.2f, tq %.2f\n", ip, mse);
    cr_expect_lt(ip, 3.0, "tq-ip pre-RoPE scores biased: chi2/T %g", ip);
    cr_expect_gt(mse, 10, "tq (biased by design) not detected: chi2/T %g", mse);
}

/* The llama2 forward pass feeding pre-RoPE keys to a pre-RoPE f32 cache reproduces the fp32
 * forward (which caches post-RoPE keys). */
Test(kv_prerope, forward_pass_with_pre_rope_cache) {
    size_t len;
    uint8_t *b = tiny_llm(&len);
    cr_assert_not_null(b);
    vqe_llm *m;
    vq_err err;
    cr_assert_eq(vqe_llm_load(b, len, &m, &err), VQ_OK, "%s", err.msg);
    vqe_kv_params p = vqe_kv_params_default();
    p.n_layers = 2;
    p.n_heads = 2;
    p.n_query_heads = 4;
    p.head_dim = 4;
    p.pre_rope = 1;
    vqe_kv *kv;
    cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
    vqe_llm_state *s1, *s2;
    cr_assert_eq(vqe_llm_state_new(m, &s1, &err), VQ_OK);
    cr_assert_eq(vqe_llm_state_new(m, &s2, &err), VQ_OK);
    vqe_llm_kv iface = vqe_kv_llm(kv);
    cr_expect_eq(iface.pre_rope, 1);
    double worst = 0;
    float kpre[2 * 8], kpost[2 * 8];
    for (int pos = 0; pos < 20; pos++) {
        const float *a, *bb;
        int tok = (pos * 7 + 3) % 32;
        vqe_llm_trace tr = {.k = kpost, .k_pre = kpre};
        cr_assert_eq(vqe_llm_forward(m, s1, NULL, tok, pos, &tr, &a, &err), VQ_OK);
        /* The trace's pre-RoPE key turned to its position is the post-RoPE key. */
        vqe_llm_rope(kpre, 4, 4, pos, 10000.0f, 0);
        for (int i = 0; i < 16; i++) cr_expect_float_eq(kpre[i], kpost[i], 1e-6);
        cr_assert_eq(vqe_llm_forward(m, s2, &iface, tok, pos, NULL, &bb, &err), VQ_OK, "%s",
                     err.msg);
        double mag = 0, diff = 0;
        for (int i = 0; i < 32; i++)
            mag = fmax(mag, fabs(a[i])), diff = fmax(diff, fabs(a[i] - bb[i]));
        worst = fmax(worst, diff / mag);
    }
    cr_expect(worst < 1e-5, "worst logit difference / max |logit| %g", worst);
    /* The same cache without pre_rope fed pre-RoPE keys would not match: the flag matters. */
    vqe_llm_state_free(s1);
    vqe_llm_state_free(s2);
    vqe_kv_free(kv);
    vqe_llm_free(m);
    free(b);
}

Test(kv_prerope, bad_parameters) {
    vqe_kv_params p = vqe_kv_params_default();
    vqe_kv *kv = NULL;
    vq_err err;
    p.pre_rope = 2;
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "pre_rope");
    p.pre_rope = 1;
    p.head_dim = 15;
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "pre_rope");
    p.head_dim = 16;
    p.rope_base = 0.5f;
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "rope_base");
    p.rope_base = NAN;
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_EINVAL);
    p.rope_base = 0;
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_OK);
    cr_expect_not_null(kv);
    vqe_kv_free(kv);
}
