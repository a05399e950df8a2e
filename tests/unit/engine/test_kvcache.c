/* The compressed KV cache: attention on the codes equals attention on the reconstructed
 * keys/values; the f32 cache reproduces the plain fp32 forward pass; window and outlier
 * logic; bits accounting with every overhead; KIVI-style baseline; bad parameters. */
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

/* Reference attention in double over reconstructed keys and values. */
static void ref_attend(const vqe_kv *kv, unsigned l, unsigned h, size_t n, unsigned hd,
                       const float *q, double *out, double *probs) {
    float k[64], v[64];
    double mx = -1e300, sum = 0;
    for (size_t t = 0; t < n; t++) {
        cr_assert_eq(vqe_kv_reconstruct(kv, l, h, t, k, NULL, NULL), VQ_OK);
        double s = 0;
        for (unsigned i = 0; i < hd; i++) s += (double)q[i] * k[i];
        probs[t] = s / sqrt((double)hd);
        if (probs[t] > mx) mx = probs[t];
    }
    for (size_t t = 0; t < n; t++) sum += probs[t] = exp(probs[t] - mx);
    for (unsigned i = 0; i < hd; i++) out[i] = 0;
    for (size_t t = 0; t < n; t++) {
        probs[t] /= sum;
        cr_assert_eq(vqe_kv_reconstruct(kv, l, h, t, NULL, v, NULL), VQ_OK);
        for (unsigned i = 0; i < hd; i++) out[i] += probs[t] * v[i];
    }
}

static const char *specs[] = {"f32",          "fp16",        "sq8",
                              "kivi:bits=2",  "kivi:bits=4", "tq:bits=3",
                              "tq-ip:bits=3", "qjl:m=32",    "pq:m=2,bits=8"};

Test(kvcache, attention_on_codes_equals_attention_on_reconstruction, .timeout = 60) {
    enum { L = 2, H = 2, HD = 16, N = 75, CAL = 320 };
    float cal_k[CAL * H * HD], cal_v[CAL * H * HD], k[N * H * HD], v[N * H * HD], q[HD];
    fill(cal_k, sizeof cal_k / 4, 1, 2.0f);
    fill(cal_v, sizeof cal_v / 4, 2, 1.0f);
    fill(k, sizeof k / 4, 3, 2.0f);
    fill(v, sizeof v / 4, 4, 1.0f);
    /* A loud channel, so outlier selection has something to find. */
    for (size_t t = 0; t < CAL; t++) cal_k[t * H * HD + 5] *= 20;
    for (size_t t = 0; t < N; t++) k[t * H * HD + 5] *= 20;
    int tested = 0;
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
        vq_quant *probe;
        vq_err err;
        if (strncmp(specs[s], "kivi", 4) && vq_quant_new(specs[s], HD, &probe, &err) != VQ_OK) {
            printf("kvcache test: %s not registered in this build (%s)\n", specs[s], err.msg);
            continue;
        }
        if (strncmp(specs[s], "kivi", 4)) vq_quant_free(probe);
        for (int variant = 0; variant < 4; variant++) {
            vqe_kv_params p = vqe_kv_params_default();
            p.n_layers = L;
            p.n_heads = H;
            p.head_dim = HD;
            p.key_spec = specs[s];
            p.value_spec = specs[(s + 3) % (sizeof specs / sizeof *specs)];
            if (strncmp(p.value_spec, "tq", 2) == 0 || strncmp(p.value_spec, "qjl", 3) == 0 ||
                strncmp(p.value_spec, "pq", 2) == 0)
                p.value_spec = "sq8";
            p.window = variant == 1 || variant == 3 ? 7 : 0;
            p.key_outliers = variant >= 2 ? 2 : 0;
            p.value_outliers = variant >= 2 ? 1 : 0;
            p.joint_heads = variant == 3;
            p.center = variant >= 2;
            vqe_kv *kv;
            cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s: %s", specs[s], err.msg);
            for (unsigned l = 0; l < L; l++)
                cr_assert_eq(vqe_kv_calibrate(kv, l, CAL, cal_k, cal_v, &err), VQ_OK, "%s",
                             err.msg);
            for (size_t t = 0; t < N; t++)
                for (unsigned l = 0; l < L; l++)
                    cr_assert_eq(vqe_kv_append(kv, l, k + t * H * HD, v + t * H * HD, &err), VQ_OK,
                                 "%s", err.msg);
            cr_assert_eq(vqe_kv_len(kv, 1), (size_t)N);
            for (unsigned l = 0; l < L; l++)
                for (unsigned h = 0; h < H; h++) {
                    fill(q, HD, 100 + l * 7 + h, 1.0f);
                    float out[HD], probs[N];
                    double rout[HD], rprobs[N];
                    cr_assert_eq(vqe_kv_attend(kv, l, h, q, out, NULL, probs, &err), VQ_OK);
                    ref_attend(kv, l, h, N, HD, q, rout, rprobs);
                    double num = 0, den = 0, pe = 0;
                    for (unsigned i = 0; i < HD; i++)
                        num += (out[i] - rout[i]) * (out[i] - rout[i]), den += rout[i] * rout[i];
                    for (size_t t = 0; t < N; t++) pe = fmax(pe, fabs(probs[t] - rprobs[t]));
                    cr_expect(sqrt(num / den) < 2e-4, "%s/%s v%d: out rel err %g", p.key_spec,
                              p.value_spec, variant, sqrt(num / den));
                    cr_expect(pe < 2e-4, "%s v%d: prob err %g", p.key_spec, variant, pe);
                }
            if (variant == 2) {
                /* The loud channel 5 of layer 0 head 0 was chosen and kept in fp16. */
                float rk[HD];
                cr_assert_eq(vqe_kv_reconstruct(kv, 0, 0, 3, rk, NULL, &err), VQ_OK);
                float want = k[3 * H * HD + 5];
                cr_expect(fabsf(rk[5] - want) <= 1e-3f * fabsf(want), "%s: outlier %g vs %g",
                          specs[s], rk[5], want);
            }
            vqe_kv_free(kv);
            tested++;
        }
    }
    cr_expect_geq(tested, 20);
}

Test(kvcache, window_logic_and_bits_accounting) {
    enum { H = 2, HD = 16, N = 64 };
    float k[N * H * HD], v[N * H * HD];
    fill(k, sizeof k / 4, 5, 3.0f);
    fill(v, sizeof v / 4, 6, 3.0f);
    struct {
        const char *ks, *vs;
        unsigned window, ko, joint;
        double kbits, vbits;
    } cases[] = {
        /* Joint heads: one 32-d vector per token, KIVI value groups of 32 channels. */
        {"kivi:bits=2", "kivi:bits=2", 0, 0, 1, 3, 3},
        {"sq8", "kivi:bits=4", 4, 3, 1, (60.0 * (29 * 8 + 3 * 16) / 32 + 4 * 32) / 64,
         (60.0 * 5 + 4 * 32) / 64},
        {"fp16", "fp16", 0, 0, 0, 16, 16},
        {"f32", "sq8", 0, 0, 0, 32, 8},
        /* KIVI keys: 2 bits + fp16 scale and zero per channel per 32 tokens = 3; values in
         * groups of 16 channels (the head): 2 + 32 / 16 = 4. */
        {"kivi:bits=2", "kivi:bits=2", 0, 0, 0, 3, 4},
        {"kivi:bits=4", "kivi:bits=4,group=8", 0, 0, 0, 5, 8},
        /* Window of 8 fp32 tokens out of 64. */
        {"fp16", "sq8", 8, 0, 0, (56.0 * 16 + 8 * 32) / 64, (56.0 * 8 + 8 * 32) / 64},
        /* Two fp16 outlier channels out of 16 beside 14 sq8 channels. */
        {"sq8", "fp16", 0, 2, 0, (14.0 * 8 + 2 * 16) / 16, 16},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        vqe_kv_params p = vqe_kv_params_default();
        p.n_layers = 1;
        p.n_heads = H;
        p.head_dim = HD;
        p.key_spec = cases[c].ks;
        p.value_spec = cases[c].vs;
        p.window = cases[c].window;
        p.key_outliers = cases[c].ko;
        p.joint_heads = cases[c].joint;
        vqe_kv *kv;
        vq_err err;
        cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
        cr_assert_eq(vqe_kv_calibrate(kv, 0, N, k, v, &err), VQ_OK, "%s", err.msg);
        for (size_t t = 0; t < N; t++)
            cr_assert_eq(vqe_kv_append(kv, 0, k + t * H * HD, v + t * H * HD, &err), VQ_OK);
        vqe_kv_stats st;
        vqe_kv_stats_get(kv, &st);
        cr_expect_float_eq(st.key_bits, cases[c].kbits, 1e-9, "case %zu: key bits %g", c,
                           st.key_bits);
        cr_expect_float_eq(st.value_bits, cases[c].vbits, 1e-9, "case %zu: value bits %g", c,
                           st.value_bits);
        cr_expect_float_eq(st.bytes_per_token, (st.key_bits + st.value_bits) * H * HD / 8, 1e-9);
        /* The window holds the last tokens exactly; older ones went through the quantizer. */
        if (cases[c].window) {
            float rk[HD], rv[HD];
            for (size_t t = N - cases[c].window; t < N; t++) {
                cr_assert_eq(vqe_kv_reconstruct(kv, 0, 1, t, rk, rv, &err), VQ_OK);
                cr_expect(!memcmp(rk, k + t * H * HD + HD, sizeof rk), "token %zu", t);
                cr_expect(!memcmp(rv, v + t * H * HD + HD, sizeof rv), "token %zu", t);
            }
            cr_assert_eq(vqe_kv_reconstruct(kv, 0, 1, 0, rk, rv, &err), VQ_OK);
            cr_expect(memcmp(rv, v + HD, sizeof rv) != 0, "sq8 value stored exactly?");
        }
        cr_expect_eq(vqe_kv_reconstruct(kv, 0, 0, N, NULL, NULL, &err), VQ_EINVAL);
        vqe_kv_reset(kv);
        cr_expect_eq(vqe_kv_len(kv, 0), 0u);
        vqe_kv_free(kv);
    }
    /* KIVI keys: the unfinished group of 32 stays fp32 and is charged 32 bits. */
    vqe_kv_params p = vqe_kv_params_default();
    p.n_heads = H;
    p.head_dim = HD;
    p.key_spec = "kivi:bits=2";
    p.value_spec = "fp16";
    vqe_kv *kv;
    vq_err err;
    cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK);
    for (size_t t = 0; t < 40; t++)
        cr_assert_eq(vqe_kv_append(kv, 0, k + t * H * HD, v + t * H * HD, &err), VQ_OK);
    vqe_kv_stats st;
    vqe_kv_stats_get(kv, &st);
    cr_expect_float_eq(st.key_bits, (32.0 * 3 + 8 * 32) / 40, 1e-9, "%g", st.key_bits);
    vqe_kv_free(kv);
}

Test(kvcache, bad_parameters_and_state) {
    vqe_kv_params p = vqe_kv_params_default();
    p.head_dim = 16;
    vqe_kv *kv = NULL;
    vq_err err;
    p.key_outliers = 16;
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_EINVAL);
    p.key_outliers = 0;
    p.key_spec = "nope:bits=3";
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_ESPEC);
    p.key_spec = "kivi:bits=9";
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_ESPEC);
    p.key_spec = "kivi:bits=2";
    p.value_spec = "kivi:bits=2,group=5"; /* does not divide 16 */
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_ESPEC);
    p.value_spec = "kivi:bits=2,wat=1";
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_ESPEC);
    p.value_spec = "f32";
    p.n_heads = 2;
    p.n_query_heads = 3;
    cr_expect_eq(vqe_kv_new(&p, &kv, &err), VQ_EINVAL);
    cr_expect_null(kv);
    p.n_query_heads = 0;
    p.key_spec = "sq8"; /* needs training: append before calibrate is a state error */
    cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
    float x[32] = {0};
    cr_expect_eq(vqe_kv_append(kv, 0, x, x, &err), VQ_ESTATE);
    x[3] = NAN;
    cr_expect_eq(vqe_kv_calibrate(kv, 0, 1, x, x, &err), VQ_ENOTFINITE);
    cr_expect_eq(vqe_kv_calibrate(kv, 1, 1, x, x, &err), VQ_EINVAL);
    vqe_kv_free(kv);
    vqe_kv_free(NULL);
}

/* A tiny random llama2.c model: the f32 cache through the interface reproduces the built-in
 * fp32 cache, and a window covering every position is exact whatever the spec. */
Test(kvcache, f32_cache_reproduces_fp32_forward) {
    size_t len;
    uint8_t *b = tiny_llm(&len);
    cr_assert_not_null(b);
    vqe_llm *m;
    vq_err err;
    cr_assert_eq(vqe_llm_load(b, len, &m, &err), VQ_OK, "%s", err.msg);
    const char *ks[] = {"f32", "sq8"};
    for (int c = 0; c < 2; c++) {
        vqe_kv_params p = vqe_kv_params_default();
        p.n_layers = 2;
        p.n_heads = 2;
        p.n_query_heads = 4;
        p.head_dim = 4;
        p.key_spec = ks[c];
        p.value_spec = ks[c];
        p.window = c ? 20 : 0; /* sq8 behind a window that holds every position: exact */
        vqe_kv *kv;
        cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
        if (c) {
            float cal[8 * 8];
            fill(cal, 64, 3, 1.0f);
            for (unsigned l = 0; l < 2; l++)
                cr_assert_eq(vqe_kv_calibrate(kv, l, 8, cal, cal, &err), VQ_OK);
        }
        vqe_llm_state *s1, *s2;
        cr_assert_eq(vqe_llm_state_new(m, &s1, &err), VQ_OK);
        cr_assert_eq(vqe_llm_state_new(m, &s2, &err), VQ_OK);
        vqe_llm_kv iface = vqe_kv_llm(kv);
        double worst = 0;
        for (int pos = 0; pos < 20; pos++) {
            const float *a, *bb;
            int tok = (pos * 7 + 3) % 32;
            cr_assert_eq(vqe_llm_forward(m, s1, NULL, tok, pos, NULL, &a, &err), VQ_OK);
            cr_assert_eq(vqe_llm_forward(m, s2, &iface, tok, pos, NULL, &bb, &err), VQ_OK, "%s",
                         err.msg);
            double mag = 0, diff = 0;
            for (int i = 0; i < 32; i++)
                mag = fmax(mag, fabs(a[i])), diff = fmax(diff, fabs(a[i] - bb[i]));
            worst = fmax(worst, diff / mag);
        }
        cr_expect(worst < 1e-5, "%s: worst logit difference / max |logit| %g", ks[c], worst);
        vqe_llm_state_free(s1);
        vqe_llm_state_free(s2);
        vqe_kv_free(kv);
    }
    vqe_llm_free(m);
    free(b);
}

/* attend_all (values decoded once for every query head) equals per-head attend, with
 * grouped query heads, joint storage, a window and outliers. */
Test(kvcache, attend_all_equals_per_head) {
    enum { H = 2, NQ = 4, HD = 8, N = 70 };
    float k[N * H * HD], v[N * H * HD], q[NQ * HD], out[NQ * HD], o1[HD];
    fill(k, sizeof k / 4, 21, 1.0f);
    fill(v, sizeof v / 4, 22, 1.0f);
    fill(q, sizeof q / 4, 23, 1.0f);
    for (int joint = 0; joint < 2; joint++) {
        vqe_kv_params p = vqe_kv_params_default();
        p.n_heads = H;
        p.n_query_heads = NQ;
        p.head_dim = HD;
        p.key_spec = "sq8";
        p.value_spec = joint ? "kivi:bits=4" : "sq8";
        p.window = 9;
        p.key_outliers = 1;
        p.joint_heads = (unsigned)joint;
        p.center = (unsigned)joint;
        vqe_kv *kv;
        vq_err err;
        cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
        cr_assert_eq(vqe_kv_calibrate(kv, 0, N, k, v, &err), VQ_OK, "%s", err.msg);
        for (size_t t = 0; t < N; t++)
            cr_assert_eq(vqe_kv_append(kv, 0, k + t * H * HD, v + t * H * HD, &err), VQ_OK);
        cr_assert_eq(vqe_kv_attend_all(kv, 0, q, out, &err), VQ_OK);
        for (unsigned h = 0; h < NQ; h++) {
            cr_assert_eq(vqe_kv_attend(kv, 0, h / (NQ / H), q + h * HD, o1, NULL, NULL, &err),
                         VQ_OK);
            for (unsigned i = 0; i < HD; i++)
                cr_expect_float_eq(out[h * HD + i], o1[i], 1e-6, "joint %d head %u", joint, h);
        }
        vqe_kv_free(kv);
    }
}

Test(kvcache, window_flush_is_kivis_residual_group) {
    /* window_flush: the last n mod W tokens are fp32, a full group is compressed at once, so
     * at every multiple of W nothing is charged for the window; attention on the mixed
     * cache equals attention on the reconstruction at every length. */
    enum { H = 2, HD = 16, N = 37, W = 8, CAL = 64 };
    float k[N * H * HD], v[N * H * HD], cal[CAL * H * HD], q[HD];
    fill(k, sizeof k / 4, 11, 2.0f);
    fill(v, sizeof v / 4, 12, 1.0f);
    fill(cal, sizeof cal / 4, 13, 2.0f);
    /* The third run keeps only keys in the window (KIVI's residual); values are coded. */
    static const char *vspecs[] = {"sq8", "tq:bits=3", "tq:bits=3"};
    for (int s = 0; s < 3; s++) {
        vqe_kv_params p = vqe_kv_params_default();
        p.n_heads = H;
        p.head_dim = HD;
        p.key_spec = "sq8";
        p.value_spec = vspecs[s];
        p.window = W;
        p.window_flush = 1;
        p.window_keys_only = s == 2;
        vqe_kv *kv;
        vq_err err;
        cr_assert_eq(vqe_kv_new(&p, &kv, &err), VQ_OK, "%s", err.msg);
        cr_assert_eq(vqe_kv_calibrate(kv, 0, CAL, cal, cal, &err), VQ_OK, "%s", err.msg);
        double vb = s == 0 ? 8.0 : 8.0 * (4 + 6) / 16; /* sq8, or tq:3 with its f32 norm */
        for (size_t n = 1; n <= N; n++) {
            cr_assert_eq(vqe_kv_append(kv, 0, k + (n - 1) * H * HD, v + (n - 1) * H * HD, &err),
                         VQ_OK);
            size_t nc = n / W * W, ncv = s == 2 ? n : nc;
            vqe_kv_stats st;
            vqe_kv_stats_get(kv, &st);
            cr_expect_float_eq(st.key_bits, (nc * 8.0 + (n - nc) * 32.0) / n, 1e-9, "n=%zu: %g", n,
                               st.key_bits);
            cr_expect_float_eq(st.value_bits, (ncv * vb + (n - ncv) * 32.0) / n, 1e-9, "n=%zu: %g",
                               n, st.value_bits);
            float rk[HD], rv[HD];
            for (size_t t = 0; t < n; t++) {
                cr_assert_eq(vqe_kv_reconstruct(kv, 0, 1, t, rk, rv, &err), VQ_OK);
                int ek = !memcmp(rk, k + t * H * HD + HD, sizeof rk),
                    ev = !memcmp(rv, v + t * H * HD + HD, sizeof rv);
                cr_expect_eq(ek, t >= nc, "n=%zu token %zu: key exact %d", n, t, ek);
                cr_expect_eq(ev, t >= ncv, "n=%zu token %zu: value exact %d", n, t, ev);
            }
            fill(q, HD, 200 + n, 1.0f);
            float out[HD], probs[N];
            double rout[HD], rprobs[N];
            cr_assert_eq(vqe_kv_attend(kv, 0, 1, q, out, NULL, probs, &err), VQ_OK);
            ref_attend(kv, 0, 1, n, HD, q, rout, rprobs);
            double num = 0, den = 0;
            for (unsigned i = 0; i < HD; i++)
                num += (out[i] - rout[i]) * (out[i] - rout[i]), den += rout[i] * rout[i];
            cr_expect(sqrt(num / den) < 2e-4, "%s n=%zu: out rel err %g", vspecs[s], n,
                      sqrt(num / den));
        }
        vqe_kv_free(kv);
    }
    vqe_kv_params p = vqe_kv_params_default();
    p.window_flush = 2;
    vqe_kv *kv = NULL;
    cr_expect_eq(vqe_kv_new(&p, &kv, NULL), VQ_EINVAL);
}
