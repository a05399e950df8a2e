/* scalar.c — the element-wise quantizers: f32 (identity, for exact indexes), fp16, bf16,
 * sq8 (per-dimension min/max trained on data, 8 bits per value) and f8e4m3 (OCP float8 with
 * a per-vector fp32 scale, so that any range maps onto e4m3's [-448, 448]).
 *
 * Scores are exact for f32 and asymmetric for the others: the query stays float and codes
 * are widened in registers by the f32 kernel family. */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "kernels/f32.h"

enum kind { K_F32, K_F16, K_BF16, K_SQ8, K_F8 };

typedef struct sq_impl {
    enum kind kind;
    float *vmin, *scale; /* sq8: d each */
} sq_impl;

typedef struct sq_query {
    float *qv;   /* d floats: the query, or the query in code units (sq8 L2) */
    float *w;    /* sq8: d weights (scale^2, or scale * q for IP) */
    float cst;   /* sq8: constant part of the score */
    float qnorm; /* |q|^2 (f8 L2) */
    int16_t *wi; /* sq8 IP: w rounded to int16 in units of alpha (the integer kernel) */
    float alpha;
} sq_query;

static int create(vq_quant *q, vq_params *p, enum kind k, vq_err *err) {
    VQ_TRY(vq__params_done(p, err));
    sq_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    im->kind = k;
    q->impl = im;
    size_t d = q->d;
    q->code_size = k == K_F32                    ? 4 * d
                   : (k == K_F16 || k == K_BF16) ? 2 * d
                   : k == K_SQ8                  ? d
                                                 : d + 4;
    snprintf(q->spec, sizeof q->spec, "%s", p->name);
    if (k == K_SQ8) {
        im->vmin = vq_calloc(d, sizeof(float));
        im->scale = vq_calloc(d, sizeof(float));
        VQ_FAIL_IF(!im->vmin || !im->scale, VQ_ENOMEM, err, "quantizer", "out of memory");
    }
    return VQ_OK;
}
#define CREATE(name, k)                                                                \
    static int create_##name(vq_quant *q, vq_params *p, const char *in, vq_err *err) { \
        (void)in;                                                                      \
        return create(q, p, k, err);                                                   \
    }
CREATE(f32, K_F32)
CREATE(fp16, K_F16)
CREATE(bf16, K_BF16)
CREATE(sq8, K_SQ8)
CREATE(f8, K_F8)

static void destroy(vq_quant *q) {
    sq_impl *im = q->impl;
    if (!im) return;
    vq_free(im->vmin);
    vq_free(im->scale);
    vq_free(im);
}

static int sq8_train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    (void)err;
    sq_impl *im = q->impl;
    size_t d = q->d;
    for (size_t j = 0; j < d; j++) {
        im->vmin[j] = FLT_MAX;
        im->scale[j] = -FLT_MAX; /* holds the max until the end */
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            float v = x[i * d + j];
            if (v < im->vmin[j]) im->vmin[j] = v;
            if (v > im->scale[j]) im->scale[j] = v;
        }
    for (size_t j = 0; j < d; j++) im->scale[j] = (im->scale[j] - im->vmin[j]) / 255.0f;
    return VQ_OK;
}

/* OCP e4m3: bias 7, no infinities, max 448; 0x7f/0xff are NaN and never produced. */
static float f8_value(uint8_t c) {
    int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
    float v = e ? ldexpf(1.0f + (float)m / 8.0f, e - 7) : ldexpf((float)m / 8.0f, -6);
    return s ? -v : v;
}
static uint8_t f8_encode(float v) {
    /* Nearest of the 127 non-negative finite codes by binary search on the monotonic table;
     * ties go to the even code. */
    static float tbl[127];
    static int ready;
    if (!ready) { /* idempotent: racing threads write the same values */
        for (int i = 0; i < 127; i++) tbl[i] = f8_value((uint8_t)i);
        ready = 1;
    }
    uint8_t sign = v < 0 ? 0x80 : 0;
    float a = fabsf(v);
    if (a >= tbl[126]) return sign | 126;
    int lo = 0, hi = 126;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (tbl[mid] <= a)
            lo = mid;
        else
            hi = mid;
    }
    float dl = a - tbl[lo], dh = tbl[hi] - a;
    int c = dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi);
    return (uint8_t)(sign | c);
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    (void)err;
    const sq_impl *im = q->impl;
    size_t d = q->d;
    for (size_t i = 0; i < n; i++) {
        const float *v = x + i * d;
        uint8_t *c = codes + i * q->code_size;
        switch (im->kind) {
        case K_F32:
            memcpy(c, v, 4 * d);
            break;
        case K_F16:
            for (size_t j = 0; j < d; j++) {
                uint16_t h = vq__f32_to_f16(v[j]);
                memcpy(c + 2 * j, &h, 2);
            }
            break;
        case K_BF16:
            for (size_t j = 0; j < d; j++) {
                uint16_t h = vq__f32_to_bf16(v[j]);
                memcpy(c + 2 * j, &h, 2);
            }
            break;
        case K_SQ8:
            for (size_t j = 0; j < d; j++) {
                float s = im->scale[j];
                float t = s > 0 ? (v[j] - im->vmin[j]) / s : 0.0f;
                /* Values outside the trained range saturate: that is what 8 bits can hold. */
                t = t < 0 ? 0 : t > 255 ? 255 : t;
                c[j] = (uint8_t)lrintf(t);
            }
            break;
        case K_F8: {
            float mx = 0;
            for (size_t j = 0; j < d; j++) mx = fmaxf(mx, fabsf(v[j]));
            float s = mx > 0 ? mx / 448.0f : 1.0f;
            memcpy(c, &s, 4);
            for (size_t j = 0; j < d; j++) c[4 + j] = f8_encode(v[j] / s);
            break;
        }
        }
    }
    return VQ_OK;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    (void)err;
    const sq_impl *im = q->impl;
    size_t d = q->d;
    for (size_t i = 0; i < n; i++) {
        float *v = x + i * d;
        const uint8_t *c = codes + i * q->code_size;
        uint16_t h;
        switch (im->kind) {
        case K_F32:
            memcpy(v, c, 4 * d);
            break;
        case K_F16:
            for (size_t j = 0; j < d; j++) memcpy(&h, c + 2 * j, 2), v[j] = vq__f16_to_f32(h);
            break;
        case K_BF16:
            for (size_t j = 0; j < d; j++) memcpy(&h, c + 2 * j, 2), v[j] = vq__bf16_to_f32(h);
            break;
        case K_SQ8:
            for (size_t j = 0; j < d; j++) v[j] = im->vmin[j] + (float)c[j] * im->scale[j];
            break;
        case K_F8: {
            float s;
            memcpy(&s, c, 4);
            for (size_t j = 0; j < d; j++) v[j] = s * f8_value(c[4 + j]);
            break;
        }
        }
    }
    return VQ_OK;
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    sq_query *s = vq_calloc(1, sizeof *s);
    if (s) {
        s->qv = vq_calloc(q->d, sizeof(float));
        s->w = vq_calloc(q->d, sizeof(float));
        s->wi = vq_calloc(q->d, sizeof(int16_t));
    }
    if (!s || !s->qv || !s->w || !s->wi) {
        if (s) vq_free(s->qv), vq_free(s->w), vq_free(s->wi), vq_free(s);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    *state = s;
    return VQ_OK;
}

static void query_free(void *state) {
    sq_query *s = state;
    if (!s) return;
    vq_free(s->qv);
    vq_free(s->w);
    vq_free(s->wi);
    vq_free(s);
}

/* Rounds the IP weights to int16 for the integer kernel. alpha is the larger of
 * max|w| / 32767 (int16 range) and what keeps sum |wi| * 255 below 2^31 (no overflow in
 * any partial sum); the rounding error is at most alpha / 2 per weight, i.e. relative
 * 1.5e-5 of the largest weight for d up to ~8k, far below SQ8's own error. */
static void round_weights(sq_query *s, size_t d) {
    float maxw = 0;
    double sumw = 0;
    for (size_t j = 0; j < d; j++) {
        float a = fabsf(s->w[j]);
        if (a > maxw) maxw = a;
        sumw += a;
    }
    double alpha = maxw / 32767.0, cap = 2147483647.0 / 255.0 - (double)d - 1.0;
    if (cap < 1) cap = 1;
    if (sumw / cap > alpha) alpha = sumw / cap;
    if (!(alpha > 0)) alpha = 1;
    for (size_t j = 0; j < d; j++) {
        long v = lrint(s->w[j] / alpha); /* |v| <= 32767 up to the division's last bit */
        s->wi[j] = (int16_t)(v > 32767 ? 32767 : v < -32767 ? -32767 : v);
    }
    s->alpha = (float)alpha;
}

static int prepare(vq_query *qs, const float *query, vq_err *err) {
    (void)err;
    const sq_impl *im = qs->q->impl;
    sq_query *s = qs->impl;
    size_t d = qs->q->d;
    memcpy(s->qv, query, d * sizeof(float));
    s->cst = 0;
    s->qnorm = 0;
    for (size_t j = 0; j < d; j++) s->qnorm += query[j] * query[j];
    if (im->kind != K_SQ8) return VQ_OK;
    for (size_t j = 0; j < d; j++) {
        float sc = im->scale[j], off = query[j] - im->vmin[j];
        if (qs->metric == VQ_METRIC_L2) {
            if (sc > 0) {
                s->qv[j] = off / sc;
                s->w[j] = sc * sc;
            } else { /* constant dimension: its term does not depend on the code */
                s->qv[j] = 0;
                s->w[j] = 0;
                s->cst += off * off;
            }
        } else {
            s->w[j] = query[j] * sc;
            s->cst += query[j] * im->vmin[j];
        }
    }
    if (qs->metric != VQ_METRIC_L2) round_weights(s, d);
    return VQ_OK;
}

static float score_code(const vq_query *qs, const vq_k_f32 *k, const uint8_t *c) {
    const sq_impl *im = qs->q->impl;
    const sq_query *s = qs->impl;
    size_t d = qs->q->d;
    int l2 = qs->metric == VQ_METRIC_L2;
    switch (im->kind) {
    case K_F32: {
        const float *v = (const float *)(const void *)c;
        return l2 ? k->l2sq(s->qv, v, d) : -k->ip(s->qv, v, d);
    }
    case K_F16: {
        const uint16_t *v = (const uint16_t *)(const void *)c;
        return l2 ? k->f16_l2sq(s->qv, v, d) : -k->f16_ip(s->qv, v, d);
    }
    case K_BF16: {
        const uint16_t *v = (const uint16_t *)(const void *)c;
        return l2 ? k->bf16_l2sq(s->qv, v, d) : -k->bf16_ip(s->qv, v, d);
    }
    case K_SQ8:
        return l2 ? s->cst + k->sq8_l2sq(s->qv, s->w, c, d)
                  : -(s->cst + s->alpha * (float)k->u8_dot_i16(s->wi, c, d));
    case K_F8: {
        float sc, ipv = 0, nn = 0;
        memcpy(&sc, c, 4);
        for (size_t j = 0; j < d; j++) {
            float v = sc * f8_value(c[4 + j]);
            ipv += s->qv[j] * v;
            nn += v * v;
        }
        return l2 ? s->qnorm - 2 * ipv + nn : -ipv;
    }
    }
    return 0;
}

static void score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist) {
    const vq_k_f32 *k = vq__k_f32(qs->isa);
    size_t cs = qs->q->code_size;
    for (size_t i = 0; i < n; i++) dist[i] = score_code(qs, k, packed + i * cs);
}

static float score_one(const vq_query *qs, const uint8_t *code) {
    return score_code(qs, vq__k_f32(qs->isa), code);
}

static void score_ptrs(const vq_query *qs, const uint8_t *const *codes, size_t n, float *dist) {
    const vq_k_f32 *k = vq__k_f32(qs->isa);
    const sq_impl *im = qs->q->impl;
    const sq_query *s = qs->impl;
    if (im->kind == K_SQ8 && qs->metric != VQ_METRIC_L2) { /* the graph's hot loop */
        size_t d = qs->q->d;
        for (size_t i = 0; i < n; i++)
            dist[i] = -(s->cst + s->alpha * (float)k->u8_dot_i16(s->wi, codes[i], d));
        return;
    }
    for (size_t i = 0; i < n; i++) dist[i] = score_code(qs, k, codes[i]);
}

/* |vmin + scale * c|^2 in double: it is added to |q|^2 - 2<q, x^> and must not round worse
 * than the float L2 kernel it stands in for. */
static float sq8_sqnorm(const vq_quant *q, const uint8_t *code) {
    const sq_impl *im = q->impl;
    double s = 0;
    for (size_t j = 0; j < q->d; j++) {
        double v = (double)im->vmin[j] + (double)im->scale[j] * code[j];
        s += v * v;
    }
    return (float)s;
}

static int sq8_save(const vq_quant *q, vq_wbuf *w, vq_err *err) {
    (void)err;
    const sq_impl *im = q->impl;
    vq__w_f32s(w, im->vmin, q->d);
    vq__w_f32s(w, im->scale, q->d);
    return VQ_OK;
}

static int sq8_load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    sq_impl *im = q->impl;
    VQ_TRY(vq__r_f32s(r, im->vmin, q->d, err));
    VQ_TRY(vq__r_f32s(r, im->scale, q->d, err));
    for (size_t j = 0; j < q->d; j++)
        VQ_FAIL_IF(!isfinite(im->vmin[j]) || !isfinite(im->scale[j]) || im->scale[j] < 0,
                   VQ_ECORRUPT, err, "sq8.scale", "saved sq8 range of dimension %zu is invalid", j);
    return VQ_OK;
}

static size_t sq8_state_bytes(const vq_quant *q) { return 2 * sizeof(float) * q->d; }

#define OPS(var, nm, cr, tr, sv, ld, sb, sn) \
    const vq_quant_ops var = {               \
        .version = VQ_QUANT_OPS_VERSION,     \
        .name = nm,                          \
        .create = cr,                        \
        .train = tr,                         \
        .encode = encode,                    \
        .decode = decode,                    \
        .query_new = query_new,              \
        .query_free = query_free,            \
        .prepare = prepare,                  \
        .score = score,                      \
        .score_one = score_one,              \
        .save = sv,                          \
        .load = ld,                          \
        .state_bytes = sb,                   \
        .destroy = destroy,                  \
        .code_sqnorm = sn,                   \
        .score_ptrs = score_ptrs,            \
    };
OPS(vq__ops_f32, "f32", create_f32, NULL, NULL, NULL, NULL, NULL)
OPS(vq__ops_fp16, "fp16", create_fp16, NULL, NULL, NULL, NULL, NULL)
OPS(vq__ops_bf16, "bf16", create_bf16, NULL, NULL, NULL, NULL, NULL)
OPS(vq__ops_sq8, "sq8", create_sq8, sq8_train, sq8_save, sq8_load, sq8_state_bytes, sq8_sqnorm)
OPS(vq__ops_f8e4m3, "f8e4m3", create_f8, NULL, NULL, NULL, NULL, NULL)
