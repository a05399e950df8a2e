/* qjl.c — QJL (Zandieh, Daliri, Han, arXiv:2406.03482): 1-bit quantized Johnson-Lindenstrauss
 * sketch with an asymmetric estimator.
 *
 * qjl[:m=M][,seed=S][,norm=32|16][,center=0|1]   M = 1..65536 sketch rows, default M = d.
 *   S is an M×d matrix of i.i.d. N(0,1) entries drawn from the seed (regenerated on load,
 *   never saved). Code: fp32 ||x|| | M sign bits of S x (bit set: (Sx)_i >= 0), packed
 *   LSB-first: 4 + ceil(M/8) bytes. The query is not quantized: prepare computes S q once
 *   (M·d flops) and <q, x> ≈ (√(π/2)/M)·||x||·<S q, sign(S x)>, which is unbiased with
 *   variance <= (π/(2M))·||q||²·||x||². The sign sum runs on the tq sign kernel:
 *   <y, ±1> = 2·Σ_{set} y_i - Σ y_i. L2 scores ||q||² + ||x||² - 2·estimate, IP scores
 *   -estimate. Decode returns (√(π/2)/M)·||x||·Sᵀ sign(Sx), whose inner product with any q
 *   is exactly the estimate (E[x^] = x; its MSE is large by design).
 *   The norm is kept in fp32 (4 bytes per vector), or with norm=16 in IEEE binary16 (2
 *   bytes, as the QJL paper does; encode then rejects norms above 65504). S is held in memory (M·d
 * floats), capped at 2^24 entries (64 MiB).
 *
 * center=1: train stores the data mean c, codes sketch x - c, IP adds the exact <q, c> and L2
 * uses ||q - c||² + ||x - c||² - 2·est<q - c, x - c> (see turbo.c; same reason: data with a
 * common direction makes the error of one fixed S correlated across vectors).
 *
 * Saved state: the spec (m, seed) and a state version (1); center=1: version 2 + d floats c. Sign
 * bits come from the dispatched f32 dot kernel, so a projection within rounding of 0 may take a
 * different sign on another ISA. Thread safety: immutable after create; queries own their scratch.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "kernels/f32.h"
#include "kernels/tq.h"

#define QJL_SEED_DEFAULT 42u
#define QJL_STATE_VERSION 1u
#define QJL_STATE_VERSION_CENTER 2u
#define QJL_M_MAX 65536u
#define QJL_ENTRIES_MAX (1u << 24)
#define SQRT_HALF_PI 1.2533141373155003

typedef struct qjl_impl {
    unsigned m;
    int half; /* norm in binary16 */
    size_t hdr;
    float *S; /* m x d, row-major */
    int center;
    float *c; /* center=1: d floats */
} qjl_impl;

typedef struct qjl_query {
    float *sq;            /* m: S q */
    float sqsum, qn2, qc; /* qc: <q, c> for IP with center=1 */
    float *tmp;           /* center: q - c */
    float (*sign_sum)(const float *y, const uint8_t *s, size_t d);
} qjl_query;

static void destroy(vq_quant *q) {
    qjl_impl *im = q->impl;
    if (!im) return;
    vq_free(im->S);
    vq_free(im->c);
    vq_free(im);
    q->impl = NULL;
}

static int create(vq_quant *q, vq_params *p, const char *in, vq_err *err) {
    (void)in;
    unsigned m, normbits, center;
    uint64_t seed;
    VQ_TRY(vq__param_uint(p, "m", q->d, 1, QJL_M_MAX, &m, err));
    VQ_TRY(vq__param_u64(p, "seed", QJL_SEED_DEFAULT, &seed, err));
    VQ_TRY(vq__param_uint(p, "norm", 32, 16, 32, &normbits, err));
    VQ_FAIL_IF(normbits != 16 && normbits != 32, VQ_ESPEC, err, "norm",
               "qjl.norm=%u: the norm is stored in 16 or 32 bits", normbits);
    VQ_TRY(vq__param_uint(p, "center", 0, 0, 1, &center, err));
    VQ_TRY(vq__params_done(p, err));
    VQ_FAIL_IF((uint64_t)m * q->d > QJL_ENTRIES_MAX, VQ_ESPEC, err, "m",
               "qjl sketch m x d = %u x %u exceeds %u entries", m, q->d, QJL_ENTRIES_MAX);
    qjl_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->impl = im;
    im->m = m;
    im->half = normbits == 16;
    im->hdr = im->half ? 2 : 4;
    im->center = (int)center;
    if (!center) q->trained = 1; /* nothing to learn from data */
    q->code_size = im->hdr + vq__tq_packed_bytes(m, 1);
    snprintf(q->spec, sizeof q->spec, "qjl:m=%u,seed=%llu,norm=%u", m, (unsigned long long)seed,
             normbits);
    if (center) { /* only when set: center=0 specs and saves are unchanged */
        size_t sl = strlen(q->spec);
        snprintf(q->spec + sl, sizeof q->spec - sl, ",center=1");
    }
    size_t cnt = (size_t)m * q->d;
    im->S = vq_malloc(cnt * sizeof(float));
    VQ_FAIL_IF(!im->S, VQ_ENOMEM, err, "quantizer", "out of memory for the %ux%u sketch", m, q->d);
    vq_rng g;
    vq__rng_seed(&g, seed ^ 0x514a4c0000000000ull);
    for (size_t i = 0; i < cnt; i++) im->S[i] = (float)vq__rng_normal(&g);
    return VQ_OK;
}

static int train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    qjl_impl *im = q->impl;
    if (!im->center) return VQ_OK;
    return vq__mean_train(n, q->d, x, &im->c, err);
}

static inline float norm_get(const qjl_impl *im, const uint8_t *c) {
    if (im->half) {
        uint16_t h;
        memcpy(&h, c, 2);
        return vq__f16_to_f32(h);
    }
    float f;
    memcpy(&f, c, 4);
    return f;
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    const qjl_impl *im = q->impl;
    unsigned d = q->d;
    const vq_k_f32 *kf = vq__k_f32(vq_isa_active());
    float *xc = NULL;
    if (im->center) {
        xc = vq_malloc((size_t)d * sizeof(float));
        VQ_FAIL_IF(!xc, VQ_ENOMEM, err, "encode", "out of memory");
    }
    for (size_t v = 0; v < n; v++) {
        const float *xv = x + v * d;
        uint8_t *c = codes + v * q->code_size;
        if (xc) {
            for (unsigned j = 0; j < d; j++) xc[j] = xv[j] - im->c[j];
            xv = xc;
        }
        double ss = 0;
        for (unsigned j = 0; j < d; j++) ss += (double)xv[j] * xv[j];
        double nd = sqrt(ss);
        if (nd > (im->half ? 65504.0 : FLT_MAX)) {
            vq_free(xc);
            return vq_err_set(err, VQ_EINVAL, "vector", "vector %zu: norm %g exceeds the %s range",
                              v, nd, im->half ? "binary16 (norm=16)" : "fp32");
        }
        if (im->half) {
            uint16_t h = vq__f32_to_f16((float)nd);
            memcpy(c, &h, 2);
        } else {
            float f = (float)nd;
            memcpy(c, &f, 4);
        }
        uint8_t *sg = c + im->hdr;
        memset(sg, 0, vq__tq_packed_bytes(im->m, 1));
        for (unsigned i = 0; i < im->m; i++)
            if (kf->ip(im->S + (size_t)i * d, xv, d) >= 0) sg[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    vq_free(xc);
    return VQ_OK;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    (void)err;
    const qjl_impl *im = q->impl;
    unsigned d = q->d;
    for (size_t v = 0; v < n; v++) {
        const uint8_t *c = codes + v * q->code_size, *sg = c + im->hdr;
        float *xv = x + v * d, nrm = norm_get(im, c);
        float a = (float)(SQRT_HALF_PI / im->m) * nrm;
        for (unsigned j = 0; j < d; j++) xv[j] = 0;
        for (unsigned i = 0; i < im->m; i++) {
            float zi = ((sg[i >> 3] >> (i & 7)) & 1) ? a : -a;
            const float *row = im->S + (size_t)i * d;
            for (unsigned j = 0; j < d; j++) xv[j] += zi * row[j];
        }
        if (im->center)
            for (unsigned j = 0; j < d; j++) xv[j] += im->c[j];
    }
    return VQ_OK;
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    const qjl_impl *im = q->impl;
    qjl_query *s = vq_calloc(1, sizeof *s);
    if (s) s->sq = vq_malloc_aligned(((size_t)im->m + q->d) * sizeof(float));
    if (!s || !s->sq) {
        vq_free(s);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    s->tmp = s->sq + im->m;
    *state = s;
    return VQ_OK;
}

static void query_free(void *state) {
    qjl_query *s = state;
    if (!s) return;
    vq_free(s->sq);
    vq_free(s);
}

static int prepare(vq_query *qs, const float *query, vq_err *err) {
    (void)err;
    const qjl_impl *im = qs->q->impl;
    qjl_query *s = qs->impl;
    unsigned d = qs->q->d;
    const vq_k_f32 *kf = vq__k_f32(qs->isa);
    double n2 = 0, sum = 0, qc = 0;
    if (im->center) {
        if (qs->metric == VQ_METRIC_L2) { /* work with q - c */
            for (unsigned j = 0; j < d; j++) s->tmp[j] = query[j] - im->c[j];
            query = s->tmp;
        } else {
            for (unsigned j = 0; j < d; j++) qc += (double)query[j] * im->c[j];
        }
    }
    s->qc = (float)qc;
    for (unsigned j = 0; j < d; j++) n2 += (double)query[j] * query[j];
    for (unsigned i = 0; i < im->m; i++) {
        s->sq[i] = kf->ip(im->S + (size_t)i * d, query, d);
        sum += s->sq[i];
    }
    s->qn2 = (float)n2;
    s->sqsum = (float)sum;
    s->sign_sum = vq__k_tq(qs->isa)->sign_sum;
    return VQ_OK;
}

static inline float score_code(const vq_query *qs, const uint8_t *c) {
    const qjl_impl *im = qs->q->impl;
    const qjl_query *s = qs->impl;
    float nrm = norm_get(im, c);
    float ip = (float)(SQRT_HALF_PI / im->m) * nrm *
               (2.0f * s->sign_sum(s->sq, c + im->hdr, im->m) - s->sqsum);
    return qs->metric == VQ_METRIC_L2 ? s->qn2 + nrm * nrm - 2.0f * ip : -(s->qc + ip);
}

static void score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist) {
    size_t cs = qs->q->code_size;
    for (size_t i = 0; i < n; i++) {
        __builtin_prefetch(packed + (i + 4) * cs, 0, 0);
        dist[i] = score_code(qs, packed + i * cs);
    }
}

static float score_one(const vq_query *qs, const uint8_t *code) { return score_code(qs, code); }

static int save(const vq_quant *q, vq_wbuf *w, vq_err *err) {
    (void)err;
    const qjl_impl *im = q->impl;
    vq__w_u32(w, im->center ? QJL_STATE_VERSION_CENTER : QJL_STATE_VERSION);
    if (im->center) vq__w_f32s(w, im->c, q->d);
    return VQ_OK;
}

static int load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    qjl_impl *im = q->impl;
    uint32_t v;
    VQ_TRY(vq__r_u32(r, &v, err));
    VQ_FAIL_IF(v != QJL_STATE_VERSION && v != QJL_STATE_VERSION_CENTER, VQ_EVERSION, err,
               "qjl.version", "QJL state version %u is not supported (this build reads %u, %u)", v,
               QJL_STATE_VERSION, QJL_STATE_VERSION_CENTER);
    VQ_FAIL_IF((v == QJL_STATE_VERSION_CENTER) != (im->center != 0), VQ_ECORRUPT, err, "qjl.center",
               "state version %u does not match center=%d in the spec", v, im->center);
    if (!im->center) return VQ_OK;
    if (!im->c) im->c = vq_malloc((size_t)q->d * sizeof(float));
    VQ_FAIL_IF(!im->c, VQ_ENOMEM, err, "load", "out of memory");
    VQ_TRY(vq__r_f32s(r, im->c, q->d, err));
    for (unsigned j = 0; j < q->d; j++)
        VQ_FAIL_IF(!isfinite(im->c[j]), VQ_ECORRUPT, err, "qjl.center",
                   "center coordinate %u is not finite", j);
    return VQ_OK;
}

static size_t state_bytes(const vq_quant *q) {
    const qjl_impl *im = q->impl;
    return sizeof *im + (size_t)im->m * q->d * sizeof(float) +
           (im->c ? (size_t)q->d * sizeof(float) : 0);
}

const vq_quant_ops vq__ops_qjl = {
    .version = VQ_QUANT_OPS_VERSION,
    .name = "qjl",
    .create = create,
    .train = train,
    .encode = encode,
    .decode = decode,
    .query_new = query_new,
    .query_free = query_free,
    .prepare = prepare,
    .score = score,
    .score_one = score_one,
    .save = save,
    .load = load,
    .state_bytes = state_bytes,
    .destroy = destroy,
};
