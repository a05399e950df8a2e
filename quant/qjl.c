/* qjl.c — QJL (Zandieh, Daliri, Han, arXiv:2406.03482): 1-bit quantized Johnson-Lindenstrauss
 * sketch with an asymmetric estimator.
 *
 * qjl[:m=M][,seed=S]   M = 1..65536 sketch rows, default M = d.
 *   S is an M×d matrix of i.i.d. N(0,1) entries drawn from the seed (regenerated on load,
 *   never saved). Code: fp32 ||x|| | M sign bits of S x (bit set: (Sx)_i >= 0), packed
 *   LSB-first: 4 + ceil(M/8) bytes. The query is not quantized: prepare computes S q once
 *   (M·d flops) and <q, x> ≈ (√(π/2)/M)·||x||·<S q, sign(S x)>, which is unbiased with
 *   variance <= (π/(2M))·||q||²·||x||². The sign sum runs on the tq sign kernel:
 *   <y, ±1> = 2·Σ_{set} y_i - Σ y_i. L2 scores ||q||² + ||x||² - 2·estimate, IP scores
 *   -estimate. Decode returns (√(π/2)/M)·||x||·Sᵀ sign(Sx), whose inner product with any q
 *   is exactly the estimate (E[x^] = x; its MSE is large by design).
 *   The norm is kept in fp32 (4 bytes per vector). S is held in memory (M·d floats), capped
 *   at 2^24 entries (64 MiB).
 *
 * Saved state: only the spec (m, seed) and a state version. Sign bits come from the
 * dispatched f32 dot kernel, so a projection within rounding of 0 may take a different sign
 * on another ISA.
 * Thread safety: immutable after create; queries own their scratch. */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "kernels/f32.h"
#include "kernels/tq.h"

#define QJL_SEED_DEFAULT 42u
#define QJL_STATE_VERSION 1u
#define QJL_M_MAX 65536u
#define QJL_ENTRIES_MAX (1u << 24)
#define SQRT_HALF_PI 1.2533141373155003

typedef struct qjl_impl {
    unsigned m;
    float *S; /* m x d, row-major */
} qjl_impl;

typedef struct qjl_query {
    float *sq; /* m: S q */
    float sqsum, qn2;
    float (*sign_sum)(const float *y, const uint8_t *s, size_t d);
} qjl_query;

static void destroy(vq_quant *q) {
    qjl_impl *im = q->impl;
    if (!im) return;
    vq_free(im->S);
    vq_free(im);
    q->impl = NULL;
}

static int create(vq_quant *q, vq_params *p, const char *in, vq_err *err) {
    (void)in;
    unsigned m;
    uint64_t seed;
    VQ_TRY(vq__param_uint(p, "m", q->d, 1, QJL_M_MAX, &m, err));
    VQ_TRY(vq__param_u64(p, "seed", QJL_SEED_DEFAULT, &seed, err));
    VQ_TRY(vq__params_done(p, err));
    VQ_FAIL_IF((uint64_t)m * q->d > QJL_ENTRIES_MAX, VQ_ESPEC, err, "m",
               "qjl sketch m x d = %u x %u exceeds %u entries", m, q->d, QJL_ENTRIES_MAX);
    qjl_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->impl = im;
    im->m = m;
    q->code_size = 4 + vq__tq_packed_bytes(m, 1);
    snprintf(q->spec, sizeof q->spec, "qjl:m=%u,seed=%llu", m, (unsigned long long)seed);
    size_t cnt = (size_t)m * q->d;
    im->S = vq_malloc(cnt * sizeof(float));
    VQ_FAIL_IF(!im->S, VQ_ENOMEM, err, "quantizer", "out of memory for the %ux%u sketch", m, q->d);
    vq_rng g;
    vq__rng_seed(&g, seed ^ 0x514a4c0000000000ull);
    for (size_t i = 0; i < cnt; i++) im->S[i] = (float)vq__rng_normal(&g);
    return VQ_OK;
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    const qjl_impl *im = q->impl;
    unsigned d = q->d;
    const vq_k_f32 *kf = vq__k_f32(vq_isa_active());
    for (size_t v = 0; v < n; v++) {
        const float *xv = x + v * d;
        uint8_t *c = codes + v * q->code_size;
        double ss = 0;
        for (unsigned j = 0; j < d; j++) ss += (double)xv[j] * xv[j];
        VQ_FAIL_IF(sqrt(ss) > FLT_MAX, VQ_EINVAL, err, "vector",
                   "vector %zu: norm %g exceeds the fp32 range", v, sqrt(ss));
        float nrm = (float)sqrt(ss);
        memcpy(c, &nrm, 4);
        uint8_t *sg = c + 4;
        memset(sg, 0, vq__tq_packed_bytes(im->m, 1));
        for (unsigned i = 0; i < im->m; i++)
            if (kf->ip(im->S + (size_t)i * d, xv, d) >= 0) sg[i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    return VQ_OK;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    (void)err;
    const qjl_impl *im = q->impl;
    unsigned d = q->d;
    for (size_t v = 0; v < n; v++) {
        const uint8_t *c = codes + v * q->code_size, *sg = c + 4;
        float *xv = x + v * d, nrm;
        memcpy(&nrm, c, 4);
        float a = (float)(SQRT_HALF_PI / im->m) * nrm;
        for (unsigned j = 0; j < d; j++) xv[j] = 0;
        for (unsigned i = 0; i < im->m; i++) {
            float zi = ((sg[i >> 3] >> (i & 7)) & 1) ? a : -a;
            const float *row = im->S + (size_t)i * d;
            for (unsigned j = 0; j < d; j++) xv[j] += zi * row[j];
        }
    }
    return VQ_OK;
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    const qjl_impl *im = q->impl;
    qjl_query *s = vq_calloc(1, sizeof *s);
    if (s) s->sq = vq_malloc_aligned((size_t)im->m * sizeof(float));
    if (!s || !s->sq) {
        vq_free(s);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
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
    double n2 = 0, sum = 0;
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
    float nrm;
    memcpy(&nrm, c, 4);
    float ip =
        (float)(SQRT_HALF_PI / im->m) * nrm * (2.0f * s->sign_sum(s->sq, c + 4, im->m) - s->sqsum);
    return qs->metric == VQ_METRIC_L2 ? s->qn2 + nrm * nrm - 2.0f * ip : -ip;
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
    (void)q, (void)err;
    vq__w_u32(w, QJL_STATE_VERSION);
    return VQ_OK;
}

static int load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    (void)q;
    uint32_t v;
    VQ_TRY(vq__r_u32(r, &v, err));
    VQ_FAIL_IF(v != QJL_STATE_VERSION, VQ_EVERSION, err, "qjl.version",
               "QJL state version %u is not supported (this build reads %u)", v, QJL_STATE_VERSION);
    return VQ_OK;
}

static size_t state_bytes(const vq_quant *q) {
    const qjl_impl *im = q->impl;
    return sizeof *im + (size_t)im->m * q->d * sizeof(float);
}

const vq_quant_ops vq__ops_qjl = {
    .version = VQ_QUANT_OPS_VERSION,
    .name = "qjl",
    .create = create,
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
