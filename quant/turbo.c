/* turbo.c — TurboQuant (Zandieh et al., arXiv:2504.19874): the MSE quantizer `tq` and the
 * unbiased inner-product quantizer `tq-ip` (TurboQuant-prod).
 *
 * tq:bits=B[,rescale=0|1][,seed=S][,rounds=R][,norm=32|16][,center=0|1][,hi=K]   B = 1..8
 *   Store ||x|| and quantize u = x/||x||: y = Πu with the seeded randomized-Hadamard rotation
 *   of rotate.h (any d, no padding, so the code has exactly d coordinates), then each y_i to
 *   the nearest of the 2^B Lloyd-Max centroids for the exact density of one coordinate of a
 *   random unit vector in R^d (lloyd.h). Code: f32 ||x|| | [f32 w] | d indices of B bits
 *   packed LSB-first (kernels/tq.h): 4 + ceil(d·B/8) bytes, + 4 with rescale=1.
 *   Search never rotates back: prepare rotates the query once (q' = Πq), and
 *   <q, x^> = ||x||·<q', y^>, scored straight from the packed indices by the tq kernels.
 *   L2 scores ||q||² + ||x||² - 2·w·<q', y^> (the stored true norm, not ||x^||); IP scores
 *   -w·<q', y^>. Plain tq has w = ||x|| and shows the paper's shrinkage
 *   E<q, x^> = (1 - D_B)<q, x>. rescale=1 stores w = ||x||/<u, u^> (RaBitQ-style
 *   renormalization) next to ||x||, which removes that bias. Decode returns the MSE
 *   reconstruction ||x||·Πᵀy^ in both cases.
 *
 * tq-ip:bits=B[,seed=S][,rounds=R][,norm=32|16][,center=0|1]   B = 1..8
 *   A (B-1)-bit tq code of u plus a 1-bit QJL sketch of the residual, in the rotated space:
 *   r = y - y^, γ = ||r||, z = sign(S r) with S a d×d matrix of i.i.d. N(0,1) entries drawn
 *   from the seed (a Gaussian S, never the Hadamard: a structured S biases the √(π/2)/d
 *   constant). Estimate <q, u> ≈ <q', y^> + (√(π/2)/d)·γ·<S q', z>, unbiased over S.
 *   Code: f32 ||x|| | f32 γ | (B-1)-bit indices | d sign bits; for B = 1 the MSE part is
 *   empty, r = y and γ = 1 is not stored (pure QJL on the rotated vector). prepare computes
 *   S q' once per query (d² flops); decode returns ||x||·Πᵀ(y^ + (√(π/2)/d)·γ·Sᵀz), whose
 *   inner product with any q is exactly the estimator. S is held in memory (d² floats), so
 *   tq-ip accepts d <= 4096.
 *
 * hi=K (tq only, 0 <= K <= d, bits <= 7): the first K rotated coordinates use bits+1 bits
 *   with the Lloyd-Max codebook of bits+1, the other d-K keep bits: a code of
 *   bits + K/d bits per coordinate (fractional bit widths such as 3.5 at K = d/2; the rotated
 *   coordinates are exchangeable, so the MSE is K/d·D(bits+1) + (1-K/d)·D(bits)). Body:
 *   K (bits+1)-bit indices packed, then the d-K bits-bit indices packed from the next byte.
 *   Scores, decode and the weighted sum run the kernels on the two segments.
 *
 * norm=16 stores the per-vector floats (||x||, w, γ) as IEEE binary16 instead of fp32, two
 * bytes each (for short vectors such as KV-cache heads, where 32 bits of norm per vector are
 * a large overhead); encode then rejects vectors whose norm (or w) exceeds 65504, and norms
 * below 6.1e-5 lose relative precision (binary16 subnormals).
 *
 * center=1 (both): train stores the data mean c (fp32) and encode quantizes x - c. The
 *   estimate becomes <q, x> = <q, c> (exact, once per query) + est<q, x - c>, and L2 uses
 *   ||q - x||² = ||q - c||² + ||x - c||² - 2·est<q - c, x - c> (prepare rotates q - c). On
 *   data sharing a strong common direction (MNIST) this removes the correlation of the
 *   residuals that makes the error of one fixed S (tq-ip) fail to average out over vectors.
 *   The stored norm is then ||x - c||; decode adds c back.
 *
 * Saved state: the spec (bits, rescale, seed, rounds) and a state version (1); with center=1
 * version 2 followed by the d floats of c.
 * Rotation, S and codebooks are recomputed from it on load (the codebook solve takes
 * milliseconds; lloyd.c). Sign bits of S r come from the dispatched f32 dot kernel, so a
 * projection within rounding of 0 may take a different sign on another ISA; every other
 * part of a code is bit-identical on every CPU.
 *
 * Thread safety: immutable after create; queries own their scratch. */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "kernels/f32.h"
#include "kernels/tq.h"
#include "lloyd.h"
#include "rotate.h"

#define TQ_SEED_DEFAULT 42u
#define TQ_STATE_VERSION 1u
#define TQ_STATE_VERSION_CENTER 2u
#define TQ_IP_DIM_MAX 4096u
#define SQRT_HALF_PI 1.2533141373155003

typedef struct tq_impl {
    int prod;         /* tq-ip */
    unsigned bits;    /* spec bits */
    unsigned mbits;   /* bits of the MSE indices: bits (tq) or bits - 1 (tq-ip), may be 0 */
    int rescale;      /* tq: store w = ||x|| / <u, u^> */
    int half;         /* header floats in binary16 */
    size_t hdr;       /* bytes of floats before the packed indices */
    size_t mse_bytes; /* packed MSE indices */
    vq_rot *rot;
    float *S;         /* tq-ip: d x d, row-major */
    float cb[256];    /* centroids, zero padded (the kernels read 16 at least) */
    float thr[255];   /* cell boundaries */
    double mse_coord; /* E (t - c(t))^2 per coordinate */
    int center;       /* center=1: codes hold x - c */
    unsigned hi;      /* hi=K: rotated coordinates [0, K) at mbits + 1 bits */
    size_t hi_bytes;  /* packed bytes of that first segment */
    float cb2[256];   /* codebook and cells of mbits + 1 bits (hi > 0) */
    float thr2[255];
    float *c; /* center: d floats (data mean), NULL otherwise */
} tq_impl;

typedef struct tq_query {
    float *qr;                /* d: rotated query */
    float *sq;                /* tq-ip: S qr (d floats) */
    float sqsum;              /* tq-ip: sum of sq */
    float qn2;                /* ||q||^2, or ||q - c||^2 for L2 with center */
    float qc;                 /* center, IP: <q, c>; 0 otherwise */
    float *tmp;               /* center: d floats for q - c */
    vq_k_tq_dot_fn dot, dot2; /* dot2: the hi segment (mbits + 1 bits) */
    float (*sign_sum)(const float *y, const uint8_t *s, size_t d);
} tq_query;

static void destroy(vq_quant *q) {
    tq_impl *im = q->impl;
    if (!im) return;
    vq__rot_free(im->rot);
    vq_free(im->S);
    vq_free(im->c);
    vq_free(im);
    q->impl = NULL;
}

static int create_common(vq_quant *q, vq_params *p, int prod, vq_err *err) {
    unsigned bits, rescale = 0, rounds, normbits, center, hi = 0;
    uint64_t seed;
    VQ_FAIL_IF(!vq__param_has(p, "bits"), VQ_ESPEC, err, "bits",
               "%s needs bits=B (1..8), e.g. '%s:bits=4'", p->name, p->name);
    VQ_TRY(vq__param_uint(p, "bits", 4, 1, VQ_TQ_BITS_MAX, &bits, err));
    if (!prod) VQ_TRY(vq__param_uint(p, "rescale", 0, 0, 1, &rescale, err));
    if (!prod) VQ_TRY(vq__param_uint(p, "hi", 0, 0, q->d, &hi, err));
    VQ_FAIL_IF(hi && bits >= VQ_TQ_BITS_MAX, VQ_ESPEC, err, "hi",
               "tq.hi=%u needs bits < %u (its coordinates use bits + 1)", hi, VQ_TQ_BITS_MAX);
    VQ_TRY(vq__param_u64(p, "seed", TQ_SEED_DEFAULT, &seed, err));
    VQ_TRY(vq__param_uint(p, "rounds", VQ_ROT_ROUNDS_DEFAULT, 1, VQ_ROT_ROUNDS_MAX, &rounds, err));
    VQ_TRY(vq__param_uint(p, "norm", 32, 16, 32, &normbits, err));
    /* tq-ip centers by default: with one sketch matrix S shared by all codes, data with a
     * common direction (MNIST) makes the bias of a single S large (sd 0.0066 of the mean
     * inner product over seeds); sketching only x - mean brings it to sd 0.0005 and lowers
     * the inner-product error by a fifth at the same bytes (bench/RESULTS.md, "tq-ip
     * centering"). Plain tq stays data-oblivious. */
    VQ_TRY(vq__param_uint(p, "center", prod ? 1 : 0, 0, 1, &center, err));
    VQ_FAIL_IF(normbits != 16 && normbits != 32, VQ_ESPEC, err, "norm",
               "%s.norm=%u: the norm is stored in 16 or 32 bits", p->name, normbits);
    VQ_TRY(vq__params_done(p, err));
    unsigned d = q->d;
    VQ_FAIL_IF(prod && d > TQ_IP_DIM_MAX, VQ_EDIM, err, "dim",
               "tq-ip keeps a d x d Gaussian sketch; dimension %u > %u", d, TQ_IP_DIM_MAX);
    tq_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->impl = im;
    im->prod = prod;
    im->bits = bits;
    im->mbits = prod ? bits - 1 : bits;
    im->rescale = (int)rescale;
    im->half = normbits == 16;
    im->center = (int)center;
    im->hi = hi;
    im->hi_bytes = vq__tq_packed_bytes(hi, im->mbits + 1);
    /* Without centering there is nothing to learn from data: usable right after create. */
    if (!center) q->trained = 1;
    im->hdr = (size_t)(im->half ? 2 : 4) * ((rescale || (prod && im->mbits)) ? 2 : 1);
    im->mse_bytes = hi ? im->hi_bytes + vq__tq_packed_bytes(d - hi, im->mbits)
                       : vq__tq_packed_bytes(d, im->mbits);
    q->code_size = im->hdr + im->mse_bytes + (prod ? vq__tq_packed_bytes(d, 1) : 0);
    if (prod)
        snprintf(q->spec, sizeof q->spec, "tq-ip:bits=%u,seed=%llu,rounds=%u,norm=%u,center=%u",
                 bits, (unsigned long long)seed, rounds, normbits, center);
    else
        snprintf(q->spec, sizeof q->spec, "tq:bits=%u,rescale=%u,seed=%llu,rounds=%u,norm=%u", bits,
                 rescale, (unsigned long long)seed, rounds, normbits);
    if (center && !prod) { /* tq: appended only when set, so its center=0 specs are unchanged */
        size_t sl = strlen(q->spec);
        snprintf(q->spec + sl, sizeof q->spec - sl, ",center=1");
    }
    if (hi) { /* likewise */
        size_t sl = strlen(q->spec);
        snprintf(q->spec + sl, sizeof q->spec - sl, ",hi=%u", hi);
    }
    VQ_TRY(vq__rot_new(d, seed, rounds, &im->rot, err));
    if (im->mbits) VQ_TRY(vq__lloyd_sphere(d, im->mbits, im->cb, im->thr, &im->mse_coord, err));
    if (hi) VQ_TRY(vq__lloyd_sphere(d, im->mbits + 1, im->cb2, im->thr2, NULL, err));
    if (prod) {
        im->S = vq_malloc((size_t)d * d * sizeof(float));
        VQ_FAIL_IF(!im->S, VQ_ENOMEM, err, "quantizer", "out of memory for the %ux%u sketch", d, d);
        vq_rng g;
        vq__rng_seed(&g, seed ^ 0x514a4c534b455443ull); /* a stream apart from the rotation's */
        for (size_t i = 0; i < (size_t)d * d; i++) im->S[i] = (float)vq__rng_normal(&g);
    }
    return VQ_OK;
}

static int create_tq(vq_quant *q, vq_params *p, const char *in, vq_err *err) {
    (void)in;
    return create_common(q, p, 0, err);
}
static int create_tq_ip(vq_quant *q, vq_params *p, const char *in, vq_err *err) {
    (void)in;
    return create_common(q, p, 1, err);
}

/* center=1: c = mean of the training vectors (double accumulation). center=0: nothing. */
static int train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    tq_impl *im = q->impl;
    if (!im->center) return VQ_OK;
    return vq__mean_train(n, q->d, x, &im->c, err);
}

/* Per-vector float k of a code header: fp32, or binary16 with norm=16. */
static inline float hdr_get(const tq_impl *im, const uint8_t *c, unsigned k) {
    if (im->half) {
        uint16_t h;
        memcpy(&h, c + 2 * k, 2);
        return vq__f16_to_f32(h);
    }
    float f;
    memcpy(&f, c + 4 * k, 4);
    return f;
}
/* Stores v; returns 0 when it does not fit the header's format. */
static inline int hdr_put(const tq_impl *im, uint8_t *c, unsigned k, double v) {
    if (!(v <= FLT_MAX)) return 0;
    if (im->half) {
        uint16_t h = vq__f32_to_f16((float)v);
        if ((h & 0x7c00u) == 0x7c00u) return 0;
        memcpy(c + 2 * k, &h, 2);
        return 1;
    }
    float f = (float)v;
    memcpy(c + 4 * k, &f, 4);
    return 1;
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    const tq_impl *im = q->impl;
    unsigned d = q->d;
    const vq_k_f32 *kf = vq__k_f32(vq_isa_active());
    float *y = vq_malloc((size_t)d * (3 * sizeof(float) + 1));
    VQ_FAIL_IF(!y, VQ_ENOMEM, err, "encode", "out of memory");
    float *r = y + d, *xc = r + d;
    uint8_t *idx = (uint8_t *)(xc + d);
    int rc = VQ_OK;
    for (size_t v = 0; v < n && rc == VQ_OK; v++) {
        const float *xv = x + v * d;
        uint8_t *c = codes + v * q->code_size;
        if (im->center) {
            for (unsigned j = 0; j < d; j++) xc[j] = xv[j] - im->c[j];
            xv = xc;
        }
        double ss = 0;
        for (unsigned j = 0; j < d; j++) ss += (double)xv[j] * xv[j];
        double nrm = sqrt(ss);
        if (!hdr_put(im, c, 0, nrm)) {
            rc = vq_err_set(err, VQ_EINVAL, "vector", "vector %zu: norm %g exceeds the %s range", v,
                            nrm, im->half ? "binary16 (norm=16)" : "fp32");
            break;
        }
        float inv = nrm > 0 ? (float)(1.0 / nrm) : 0.0f;
        for (unsigned j = 0; j < d; j++) y[j] = xv[j] * inv;
        if (vq__rot_apply(im->rot, y, y) < 0) {
            rc = vq_err_set(err, VQ_ENOMEM, "encode", "out of memory");
            break;
        }
        uint8_t *body = c + im->hdr;
        double uu = 0; /* <u, u^> = <y, y^> */
        for (unsigned j = 0; j < d; j++) {
            int h = j < im->hi;
            unsigned k = !im->mbits ? 0
                         : h        ? vq__lloyd_cell(im->thr2, im->mbits + 1, y[j])
                                    : vq__lloyd_cell(im->thr, im->mbits, y[j]);
            float yh = !im->mbits ? 0.0f : h ? im->cb2[k] : im->cb[k];
            idx[j] = (uint8_t)k;
            r[j] = y[j] - yh;
            uu += (double)y[j] * yh;
        }
        if (im->hi) {
            vq__tq_pack(idx, im->hi, im->mbits + 1, body);
            vq__tq_pack(idx + im->hi, d - im->hi, im->mbits, body + im->hi_bytes);
        } else if (im->mbits) {
            vq__tq_pack(idx, d, im->mbits, body);
        }
        if (im->rescale) {
            /* <u, u^> > 0 for any u != 0 (0 is a threshold of the symmetric codebook). */
            if (!hdr_put(im, c, 1, uu > 0 ? nrm / uu : nrm)) {
                rc = vq_err_set(err, VQ_EINVAL, "vector",
                                "vector %zu: rescale factor %g exceeds the %s range", v, nrm / uu,
                                im->half ? "binary16 (norm=16)" : "fp32");
                break;
            }
        }
        if (im->prod) {
            double g2 = 0;
            for (unsigned j = 0; j < d; j++) g2 += (double)r[j] * r[j];
            if (im->mbits) hdr_put(im, c, 1, sqrt(g2)); /* γ <= 1 always fits */
            uint8_t *sg = body + im->mse_bytes;
            memset(sg, 0, vq__tq_packed_bytes(d, 1));
            for (unsigned i = 0; i < d; i++)
                if (kf->ip(im->S + (size_t)i * d, r, d) >= 0)
                    sg[i >> 3] |= (uint8_t)(1u << (i & 7));
        }
    }
    vq_free(y);
    return rc;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    const tq_impl *im = q->impl;
    unsigned d = q->d;
    for (size_t v = 0; v < n; v++) {
        const uint8_t *c = codes + v * q->code_size, *body = c + im->hdr;
        float *xv = x + v * d, nrm = hdr_get(im, c, 0);
        for (unsigned j = 0; j < d; j++)
            xv[j] = !im->mbits   ? 0.0f
                    : j < im->hi ? im->cb2[vq__tq_get(body, j, im->mbits + 1)]
                                 : im->cb[vq__tq_get(body + im->hi_bytes, j - im->hi, im->mbits)];
        if (im->prod) {
            float g = im->mbits ? hdr_get(im, c, 1) : 1.0f;
            const uint8_t *sg = body + im->mse_bytes;
            float a = (float)(SQRT_HALF_PI / d) * g;
            for (unsigned i = 0; i < d; i++) {
                float zi = ((sg[i >> 3] >> (i & 7)) & 1) ? a : -a;
                const float *row = im->S + (size_t)i * d;
                for (unsigned j = 0; j < d; j++) xv[j] += zi * row[j];
            }
        }
        VQ_FAIL_IF(vq__rot_apply_t(im->rot, xv, xv) < 0, VQ_ENOMEM, err, "decode", "out of memory");
        for (unsigned j = 0; j < d; j++) xv[j] *= nrm;
        if (im->center)
            for (unsigned j = 0; j < d; j++) xv[j] += im->c[j];
    }
    return VQ_OK;
}

/* Weighted sums in the rotated domain: x^_i = ||x_i||·Πᵀ(ŷ_i + a·γ_i·Sᵀz_i) (+ c), linear in
 * the per-code terms, so sum_i w_i x^_i = Πᵀ(sum_i w_i||x_i|| ŷ_i + Sᵀ sum_i w_i||x_i|| a γ_i
 * z_i) + c·sum_i w_i: the acc kernels add each code's codebook values (and ±1 signs) to the
 * nw rows, then Sᵀ (tq-ip) and the inverse rotation run once per row instead of once per
 * code. */
static int decode_wsum(const vq_quant *q, size_t n, const uint8_t *codes, size_t nw, const float *w,
                       size_t ldw, float *out, vq_err *err) {
    const tq_impl *im = q->impl;
    size_t d = q->d;
    const vq_k_tq *kt = vq__k_tq(vq_isa_active());
    static const float pm1[16] = {-1.0f, 1.0f}; /* the 1-bit table read 16 entries wide */
    float *a = vq_malloc(nw * (2 + (im->prod ? d : 0)) * sizeof(float));
    VQ_FAIL_IF(!a, VQ_ENOMEM, err, "decode_wsum", "out of memory");
    float *ag = a + nw, *zs = ag + nw;
    memset(out, 0, nw * d * sizeof(float));
    if (im->prod) memset(zs, 0, nw * d * sizeof(float));
    const float qjl = (float)(SQRT_HALF_PI / (double)d);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * q->code_size, *body = c + im->hdr;
        float nrm = hdr_get(im, c, 0);
        for (size_t r = 0; r < nw; r++) a[r] = w[r * ldw + i] * nrm;
        if (im->hi) {
            kt->acc[im->mbits + 1](body, im->hi, im->cb2, a, nw, out, d);
            if (d > im->hi)
                kt->acc[im->mbits](body + im->hi_bytes, d - im->hi, im->cb, a, nw, out + im->hi, d);
        } else if (im->mbits) {
            kt->acc[im->mbits](body, d, im->cb, a, nw, out, d);
        }
        if (im->prod) {
            float g = (im->mbits ? hdr_get(im, c, 1) : 1.0f) * qjl;
            for (size_t r = 0; r < nw; r++) ag[r] = a[r] * g;
            kt->acc[1](body + im->mse_bytes, d, pm1, ag, nw, zs, d);
        }
    }
    int rc = VQ_OK;
    for (size_t r = 0; r < nw && rc == VQ_OK; r++) {
        float *o = out + r * d;
        if (im->prod) { /* o += Sᵀ zs_r */
            const float *z = zs + r * d;
            for (size_t k = 0; k < d; k++) {
                const float *row = im->S + k * d;
                float zk = z[k];
                if (zk == 0.0f) continue;
                for (size_t j = 0; j < d; j++) o[j] += zk * row[j];
            }
        }
        if (vq__rot_apply_t(im->rot, o, o) < 0)
            rc = vq_err_set(err, VQ_ENOMEM, "decode_wsum", "out of memory");
        if (rc == VQ_OK && im->center) {
            double ws = 0;
            for (size_t i = 0; i < n; i++) ws += w[r * ldw + i];
            for (size_t j = 0; j < d; j++) o[j] += (float)ws * im->c[j];
        }
    }
    vq_free(a);
    return rc;
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    const tq_impl *im = q->impl;
    tq_query *s = vq_calloc(1, sizeof *s);
    if (s) s->qr = vq_malloc_aligned((size_t)q->d * (im->prod ? 3 : 2) * sizeof(float));
    if (!s || !s->qr) {
        vq_free(s);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    if (im->prod) s->sq = s->qr + q->d;
    s->tmp = s->qr + (size_t)q->d * (im->prod ? 2 : 1);
    *state = s;
    return VQ_OK;
}

static void query_free(void *state) {
    tq_query *s = state;
    if (!s) return;
    vq_free(s->qr);
    vq_free(s);
}

static int prepare(vq_query *qs, const float *query, vq_err *err) {
    const tq_impl *im = qs->q->impl;
    tq_query *s = qs->impl;
    unsigned d = qs->q->d;
    const vq_k_tq *kt = vq__k_tq(qs->isa);
    double qc = 0;
    if (im->center) {
        if (qs->metric == VQ_METRIC_L2) {
            /* ||q - x||^2 = ||q - c||^2 + ||x - c||^2 - 2<q - c, x - c>: work with q - c. */
            for (unsigned j = 0; j < d; j++) s->tmp[j] = query[j] - im->c[j];
            query = s->tmp;
        } else {
            for (unsigned j = 0; j < d; j++) qc += (double)query[j] * im->c[j];
        }
    }
    s->qc = (float)qc;
    double n2 = 0;
    for (unsigned j = 0; j < d; j++) n2 += (double)query[j] * query[j];
    s->qn2 = (float)n2;
    VQ_FAIL_IF(vq__rot_apply(im->rot, query, s->qr) < 0, VQ_ENOMEM, err, "query", "out of memory");
    s->dot = im->mbits ? kt->dot[im->mbits] : NULL;
    s->dot2 = im->hi ? kt->dot[im->mbits + 1] : NULL;
    s->sign_sum = kt->sign_sum;
    if (im->prod) {
        const vq_k_f32 *kf = vq__k_f32(qs->isa);
        double sum = 0;
        for (unsigned i = 0; i < d; i++) {
            s->sq[i] = kf->ip(im->S + (size_t)i * d, s->qr, d);
            sum += s->sq[i];
        }
        s->sqsum = (float)sum;
    }
    return VQ_OK;
}

/* The estimate of <q, x> from one code. */
static inline float est_ip(const tq_impl *im, const tq_query *s, const uint8_t *c, unsigned d) {
    const uint8_t *body = c + im->hdr;
    float w = hdr_get(im, c, im->rescale ? 1 : 0);
    if (im->hi) { /* tq only: the two segments */
        float t = s->dot2(s->qr, body, im->hi, im->cb2);
        if (d > im->hi) t += s->dot(s->qr + im->hi, body + im->hi_bytes, d - im->hi, im->cb);
        return w * t;
    }
    if (!im->prod) return w * s->dot(s->qr, body, d, im->cb);
    float g = 1.0f, t = im->mbits ? s->dot(s->qr, body, d, im->cb) : 0.0f;
    if (im->mbits) g = hdr_get(im, c, 1);
    float sg = 2.0f * s->sign_sum(s->sq, body + im->mse_bytes, d) - s->sqsum;
    return w * (t + (float)(SQRT_HALF_PI / d) * g * sg);
}

static inline float score_code(const vq_query *qs, const uint8_t *c) {
    const tq_impl *im = qs->q->impl;
    const tq_query *s = qs->impl;
    float ip = est_ip(im, s, c, qs->q->d);
    if (qs->metric != VQ_METRIC_L2) return -(s->qc + ip);
    float nrm = hdr_get(im, c, 0);
    return s->qn2 + nrm * nrm - 2.0f * ip;
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
    const tq_impl *im = q->impl;
    if (!im->center) {
        vq__w_u32(w, TQ_STATE_VERSION); /* byte-identical to saves before centering existed */
        return VQ_OK;
    }
    vq__w_u32(w, TQ_STATE_VERSION_CENTER);
    vq__w_f32s(w, im->c, q->d);
    return VQ_OK;
}

static int load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    tq_impl *im = q->impl;
    uint32_t v;
    VQ_TRY(vq__r_u32(r, &v, err));
    VQ_FAIL_IF(v != TQ_STATE_VERSION && v != TQ_STATE_VERSION_CENTER, VQ_EVERSION, err,
               "tq.version",
               "TurboQuant state version %u is not supported (this build reads %u, %u)", v,
               TQ_STATE_VERSION, TQ_STATE_VERSION_CENTER);
    VQ_FAIL_IF((v == TQ_STATE_VERSION_CENTER) != (im->center != 0), VQ_ECORRUPT, err, "tq.center",
               "state version %u does not match center=%d in the spec", v, im->center);
    if (!im->center) return VQ_OK;
    unsigned d = q->d;
    if (!im->c) im->c = vq_malloc((size_t)d * sizeof(float));
    VQ_FAIL_IF(!im->c, VQ_ENOMEM, err, "load", "out of memory");
    VQ_TRY(vq__r_f32s(r, im->c, d, err));
    for (unsigned j = 0; j < d; j++)
        VQ_FAIL_IF(!isfinite(im->c[j]), VQ_ECORRUPT, err, "tq.center",
                   "center coordinate %u is not finite", j);
    return VQ_OK;
}

static size_t state_bytes(const vq_quant *q) {
    const tq_impl *im = q->impl;
    return sizeof *im + vq__rot_bytes(im->rot) + (im->S ? (size_t)q->d * q->d * sizeof(float) : 0) +
           (im->c ? (size_t)q->d * sizeof(float) : 0);
}

#define TQ_OPS(var, nm, cr)              \
    const vq_quant_ops var = {           \
        .version = VQ_QUANT_OPS_VERSION, \
        .name = nm,                      \
        .create = cr,                    \
        .train = train,                  \
        .encode = encode,                \
        .decode = decode,                \
        .query_new = query_new,          \
        .query_free = query_free,        \
        .prepare = prepare,              \
        .score = score,                  \
        .score_one = score_one,          \
        .save = save,                    \
        .load = load,                    \
        .state_bytes = state_bytes,      \
        .destroy = destroy,              \
        .decode_wsum = decode_wsum,      \
    };
TQ_OPS(vq__ops_tq, "tq", create_tq)
TQ_OPS(vq__ops_tq_ip, "tq-ip", create_tq_ip)
