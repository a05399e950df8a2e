/* rabitq.c — RaBitQ (Gao & Long, SIGMOD 2024) and Extended RaBitQ (Gao et al., SIGMOD 2025):
 * `rabitq:bits=B[,qbits=Q][,center=1][,seed=S][,rounds=R][,eps=1.9]`, B = 1..8.
 *
 * Encoding (paper step by step). r = x - c with c the trained mean (center=1) or 0
 * (center=0; the IVF layer passes residuals itself). o = P r / |r| with P the seeded
 * randomized-Hadamard rotation of rotate.h (any d, no padding). Each coordinate gets a
 * B-bit unsigned code k_i in [0, 2^B): the sign bit plus B-1 magnitude bits. The code
 * stands for the grid vector y_i = k_i - (2^B - 1)/2, i.e. +-(u_i + 1/2) with u_i in
 * [0, 2^(B-1)). B = 1 is the original RaBitQ (y = +-1/2: the direction of sign(o)). For
 * B > 1 the magnitudes are u_i = min(floor(t |o_i|), 2^(B-1) - 1) for the rescaling t that
 * maximizes the cosine <y, o> / |y| (the Extended RaBitQ code search): the cosine only
 * changes where some t |o_i| crosses an integer, so those crossing points are swept in
 * increasing order with a heap, from a start point below every optimum we observed.
 *
 * Estimator. With y-bar = y / |y| and rho = <y-bar, o>, the estimate
 *   <o, q'> ~ <y-bar, Pq'> / rho = <y, Pq'> / <y, o>
 * is unbiased over the random rotation for any vector q' (the part of y-bar orthogonal to o
 * points in a uniformly random direction of o's complement), with standard deviation
 * |q'| sqrt(1 - rho^2) / (rho sqrt(d - 1)). Hence, with s = |r| / <y, o>:
 *   IP:  <q, x> = <q, c> + <q, r>           ~ <q, c> + s <y, P q>
 *   L2:  |q - x|^2 = |r|^2 + |q - c|^2 - 2 <q - c, r> ~ |r|^2 + |q - c|^2 - 2 s <y, P(q - c)>
 * Both are linear in the unbiased term and the centroid terms are exact, so the full
 * estimates stay unbiased. Per code four fp32 factors are stored after the bit planes:
 * |r|^2, s, Y = sum_i y_i and rho (rho only serves the error bound and decode).
 *
 * Query quantization (paper section 3.3): the rotated query q' is quantized to Q bits per
 * coordinate, q'_i ~ lo + delta u_i, with randomized rounding (unbiased; seeded from the
 * query's bytes, so a query always gets the same planes). Then
 *   <y, q'> ~ (delta / 2) (2 <k, u> - (2^B - 1) sum u) + lo Y,
 * where <k, u> = sum_a sum_j 2^(a + j) popcount(plane_a(k) & plane_j(u)) is exact integer
 * arithmetic (kernels/bits.h). Codes are stored as B bit planes of ceil(d/8) bytes each.
 * Default Q is 4 for B = 1 (the paper's choice) and 8 for B > 1, where a 4-bit query
 * would add more error than the code has.
 *
 * Error bound (paper eq. 17 plus the query quantization): with probability about that of a
 * normal variable within eps standard deviations (eps = 1.9 by default, as in the paper),
 *   |<r, q'> - estimate| <= eps sqrt(|r|^2 |q'|^2 (1 - rho^2) / (rho^2 (d - 1))
 *                                    + |r|^2 delta^2 / (6 rho^2)).
 * The second term is the variance of randomized rounding (delta^2 / 6 on average per
 * coordinate). vq__rabitq_bounds returns the score interval; index/ re-ranks with it.
 *
 * decode returns c + |r| rho P^T y-bar, the projection of r on y-bar (least squares); the
 * inner-product estimate above scales by 1/rho instead and is the unbiased one. */
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "kernels/bits.h"
#include "rotate.h"

#define RQ_BITS_MAX 8u
#define RQ_QBITS_MAX 8u
#define RQ_EPS_DEFAULT 1.9f
#define RQ_SEED_DEFAULT 42u
#define RQ_NF 4 /* fp32 factors per code */

typedef struct rq_impl {
    unsigned bits, qbits, rounds, center;
    uint64_t seed;
    float eps;
    size_t nb; /* bytes per plane */
    vq_rot *rot;
    float *c; /* d floats: the centroid (zeros when center=0) */
} rq_impl;

typedef struct rq_query {
    float *v, *rv;     /* d floats each: q or q - c, and its rotation */
    uint8_t *planes;   /* qbits * nb: the quantized rotated query */
    float half_delta;  /* delta / 2 */
    float lo;          /* quantization offset */
    int64_t sumu_term; /* (2^B - 1) * sum_i u_i */
    float cst;         /* |q - c|^2 (L2) or <q, c> (IP) */
    float vn2;         /* |v|^2 */
    float delta;
    const vq_k_bits *k;
} rq_query;

static int create(vq_quant *q, vq_params *p, const char *inner, vq_err *err) {
    (void)inner;
    unsigned bits, qbits, rounds, center;
    uint64_t seed;
    float eps;
    VQ_TRY(vq__param_uint(p, "bits", 1, 1, RQ_BITS_MAX, &bits, err));
    VQ_TRY(vq__param_uint(p, "qbits", bits == 1 ? 4 : 8, 1, RQ_QBITS_MAX, &qbits, err));
    VQ_TRY(vq__param_uint(p, "center", 1, 0, 1, &center, err));
    VQ_TRY(vq__param_u64(p, "seed", RQ_SEED_DEFAULT, &seed, err));
    VQ_TRY(vq__param_uint(p, "rounds", VQ_ROT_ROUNDS_DEFAULT, 1, VQ_ROT_ROUNDS_MAX, &rounds, err));
    VQ_TRY(vq__param_float(p, "eps", RQ_EPS_DEFAULT, 0.0f, 100.0f, &eps, err));
    VQ_TRY(vq__params_done(p, err));
    rq_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->impl = im;
    im->bits = bits;
    im->qbits = qbits;
    im->rounds = rounds;
    im->center = center;
    im->seed = seed;
    im->eps = eps;
    im->nb = vq__bits_nb(q->d);
    VQ_TRY(vq__rot_new(q->d, seed, rounds, &im->rot, err));
    im->c = vq_calloc(q->d, sizeof(float));
    VQ_FAIL_IF(!im->c, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->code_size = bits * im->nb + RQ_NF * sizeof(float);
    snprintf(q->spec, sizeof q->spec,
             "rabitq:bits=%u,qbits=%u,center=%u,seed=%llu,rounds=%u,eps=%g", bits, qbits, center,
             (unsigned long long)seed, rounds, (double)eps);
    /* Without centering there is nothing to learn. */
    if (!center) q->trained = 1;
    return VQ_OK;
}

static void destroy(vq_quant *q) {
    rq_impl *im = q->impl;
    if (!im) return;
    vq__rot_free(im->rot);
    vq_free(im->c);
    vq_free(im);
}

static int train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    rq_impl *im = q->impl;
    size_t d = q->d;
    if (!im->center) return VQ_OK;
    double *acc = vq_calloc(d, sizeof(double));
    VQ_FAIL_IF(!acc, VQ_ENOMEM, err, "train", "out of memory");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) acc[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++) im->c[j] = (float)(acc[j] / (double)n);
    vq_free(acc);
    return VQ_OK;
}

/* Binary min-heap of (time, dim) for the code search. */
typedef struct ev {
    float t;
    uint32_t i;
} ev;
static void heap_down(ev *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].t < h[m].t) m = l;
        if (l + 1 < n && h[l + 1].t < h[m].t) m = l + 1;
        if (m == i) return;
        ev t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* The sweep covers t in [lo, hi] * (2^ex) / max|o_i|. Against an exhaustive search over
 * every crossing point (Gaussian directions, d = 16..128, ex = 1..7) the best rescaling
 * fell in [0.45, 1.96] of that point; lo and hi leave a margin on both sides (the paper's
 * library likewise stops 10 levels past saturation). */
static float sweep_lo(unsigned ex) { return ex <= 1 ? 0.0f : ex == 2 ? 0.25f : 0.35f; }
static float sweep_hi(unsigned ex) { return 1.0f + 10.0f / (float)(1u << ex); }

/* Extended RaBitQ magnitude search: u[i] in [0, 2^ex) maximizing
 * sum (u_i + 1/2) a_i / sqrt(sum (u_i + 1/2)^2) with u_i = min(floor(t a_i), 2^ex - 1). */
static void ex_search(const float *a, size_t d, unsigned ex, uint16_t *u, ev *heap) {
    unsigned maxu = (1u << ex) - 1;
    float amax = 0;
    for (size_t i = 0; i < d; i++) amax = a[i] > amax ? a[i] : amax;
    if (amax <= 0) {
        for (size_t i = 0; i < d; i++) u[i] = 0;
        return;
    }
    float t_nom = (float)(maxu + 1) / amax;
    float t0 = t_nom * sweep_lo(ex), t_end = t_nom * sweep_hi(ex);
    double sya = 0, syy = 0;
    size_t n = 0;
    for (size_t i = 0; i < d; i++) {
        float f = floorf(t0 * a[i]);
        unsigned v = f >= (float)maxu ? maxu : (unsigned)f;
        u[i] = (uint16_t)v;
        sya += (v + 0.5) * a[i];
        syy += (v + 0.5) * (v + 0.5);
        if (v < maxu && a[i] > 0) heap[n++] = (ev){(float)(v + 1) / a[i], (uint32_t)i};
    }
    for (size_t i = n; i-- > 0;) heap_down(heap, n, i);
    double best = sya * sya / syy; /* the squared cosine: sya > 0 throughout */
    float best_lo = t0, best_hi = n ? heap[0].t : t_end;
    while (n && heap[0].t <= t_end) {
        ev e = heap[0];
        uint32_t i = e.i;
        unsigned v = ++u[i];
        sya += a[i];
        syy += 2.0 * v; /* (v + 1/2)^2 - (v - 1/2)^2 */
        if (v < maxu) {
            heap[0].t = (float)(v + 1) / a[i];
        } else {
            heap[0] = heap[--n];
        }
        heap_down(heap, n, 0);
        double cs = sya * sya / syy;
        if (cs > best) {
            best = cs;
            best_lo = e.t;
            best_hi = n && heap[0].t <= t_end ? heap[0].t : t_end;
        }
    }
    /* The best state holds on [best_lo, best_hi); its midpoint reproduces it without
     * depending on how floor rounds exactly at a crossing. */
    float tb = 0.5f * (best_lo + best_hi);
    for (size_t i = 0; i < d; i++) {
        float f = floorf(tb * a[i]);
        u[i] = (uint16_t)(f >= (float)maxu ? maxu : (unsigned)f);
    }
}

static void put_f(uint8_t *p, size_t i, float v) { memcpy(p + i * sizeof(float), &v, sizeof v); }
static float get_f(const uint8_t *p, size_t i) {
    float v;
    memcpy(&v, p + i * sizeof(float), sizeof v);
    return v;
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    const rq_impl *im = q->impl;
    size_t d = q->d, nb = im->nb;
    unsigned B = im->bits, ex = B - 1;
    float *r = vq_malloc(2 * d * sizeof(float));
    uint16_t *u = vq_malloc(d * sizeof(uint16_t));
    ev *heap = vq_malloc(d * sizeof(ev));
    if (!r || !u || !heap) {
        vq_free(r), vq_free(u), vq_free(heap);
        return vq_err_set(err, VQ_ENOMEM, "encode", "out of memory");
    }
    float *a = r + d;
    double half = ((double)(1u << B) - 1.0) / 2.0;
    for (size_t v = 0; v < n; v++) {
        const float *xv = x + v * d;
        uint8_t *c = codes + v * q->code_size;
        double n2 = 0;
        for (size_t j = 0; j < d; j++) {
            r[j] = xv[j] - im->c[j];
            n2 += (double)r[j] * r[j];
        }
        int rc = vq__rot_apply(im->rot, r, r);
        if (rc < 0) {
            vq_free(r), vq_free(u), vq_free(heap);
            return vq_err_set(err, rc, "encode", "out of memory");
        }
        for (size_t j = 0; j < d; j++) a[j] = fabsf(r[j]);
        if (ex)
            ex_search(a, d, ex, u, heap);
        else
            memset(u, 0, d * sizeof *u);
        memset(c, 0, B * nb);
        double yo = 0, yy = 0, ysum = 0;
        for (size_t j = 0; j < d; j++) {
            unsigned k = r[j] >= 0 ? (1u << ex) + u[j] : (1u << ex) - 1 - u[j];
            for (unsigned b = 0; b < B; b++)
                if (k >> b & 1) c[b * nb + j / 8] |= (uint8_t)(1u << (j % 8));
            double y = (double)k - half;
            yo += y * r[j]; /* r is the rotated residual, not yet normalized */
            yy += y * y;
            ysum += y;
        }
        uint8_t *f = c + B * nb;
        double rn = sqrt(n2);
        /* <y, o> = yo / |r|; a zero residual has no direction: the estimate is then the
         * exact centroid term (s = 0). */
        double s = yo > 0 ? n2 / yo : 0.0;
        double rho = (yo > 0 && rn > 0) ? yo / (rn * sqrt(yy)) : 1.0;
        put_f(f, 0, (float)n2);
        put_f(f, 1, (float)s);
        put_f(f, 2, (float)ysum);
        put_f(f, 3, (float)(rho > 1 ? 1 : rho));
    }
    vq_free(r), vq_free(u), vq_free(heap);
    return VQ_OK;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    const rq_impl *im = q->impl;
    size_t d = q->d, nb = im->nb;
    unsigned B = im->bits;
    double half = ((double)(1u << B) - 1.0) / 2.0;
    for (size_t v = 0; v < n; v++) {
        const uint8_t *c = codes + v * q->code_size;
        float *xv = x + v * d;
        const uint8_t *f = c + B * nb;
        double yy = 0;
        for (size_t j = 0; j < d; j++) {
            unsigned k = 0;
            for (unsigned b = 0; b < B; b++) k |= (unsigned)(c[b * nb + j / 8] >> (j % 8) & 1) << b;
            xv[j] = (float)((double)k - half);
            yy += (double)xv[j] * xv[j];
        }
        double n2 = get_f(f, 0), rho = get_f(f, 3);
        float sc = (float)(sqrt(n2 > 0 ? n2 : 0) * rho / sqrt(yy));
        for (size_t j = 0; j < d; j++) xv[j] *= sc;
        int rc = vq__rot_apply_t(im->rot, xv, xv);
        if (rc < 0) return vq_err_set(err, rc, "decode", "out of memory");
        for (size_t j = 0; j < d; j++) xv[j] += im->c[j];
    }
    return VQ_OK;
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    const rq_impl *im = q->impl;
    rq_query *s = vq_calloc(1, sizeof *s);
    if (s) {
        s->v = vq_malloc(2 * q->d * sizeof(float));
        s->planes = vq_calloc(im->qbits * im->nb, 1);
    }
    if (!s || !s->v || !s->planes) {
        if (s) vq_free(s->v), vq_free(s->planes), vq_free(s);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    s->rv = s->v + q->d;
    *state = s;
    return VQ_OK;
}

static void query_free(void *state) {
    rq_query *s = state;
    if (!s) return;
    vq_free(s->v);
    vq_free(s->planes);
    vq_free(s);
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
    return h;
}

static int prepare(vq_query *qs, const float *query, vq_err *err) {
    const vq_quant *q = qs->q;
    const rq_impl *im = q->impl;
    rq_query *s = qs->impl;
    size_t d = q->d, nb = im->nb;
    int l2 = qs->metric == VQ_METRIC_L2;
    double cst = 0, vn2 = 0;
    for (size_t j = 0; j < d; j++) {
        float v = l2 ? query[j] - im->c[j] : query[j];
        s->v[j] = v;
        vn2 += (double)v * v;
        cst += l2 ? (double)v * v : (double)query[j] * im->c[j];
    }
    s->cst = (float)cst;
    s->vn2 = (float)vn2;
    int rc = vq__rot_apply(im->rot, s->v, s->rv);
    if (rc < 0) return vq_err_set(err, rc, "query", "out of memory");
    float lo = s->rv[0], hi = s->rv[0];
    for (size_t j = 1; j < d; j++) {
        lo = s->rv[j] < lo ? s->rv[j] : lo;
        hi = s->rv[j] > hi ? s->rv[j] : hi;
    }
    unsigned top = (1u << im->qbits) - 1;
    float delta = (hi - lo) / (float)top;
    vq_rng g;
    vq__rng_seed(&g, hash_bytes(query, d * sizeof(float), 0xcbf29ce484222325ull ^ im->seed));
    memset(s->planes, 0, im->qbits * nb);
    int64_t sumu = 0;
    for (size_t j = 0; j < d; j++) {
        unsigned u = 0;
        if (delta > 0) {
            /* Randomized rounding: floor(z + U) has expectation z. */
            double z = ((double)s->rv[j] - lo) / delta + vq__rng_uniform(&g);
            u = z <= 0 ? 0 : z >= top ? top : (unsigned)z;
        }
        sumu += u;
        for (unsigned b = 0; b < im->qbits; b++)
            if (u >> b & 1) s->planes[b * nb + j / 8] |= (uint8_t)(1u << (j % 8));
    }
    s->delta = delta;
    s->half_delta = 0.5f * delta;
    s->lo = lo;
    s->sumu_term = (int64_t)((1u << im->bits) - 1) * sumu;
    s->k = vq__k_bits(qs->isa);
    return VQ_OK;
}

/* <y, q'> for one code. */
static inline float yq(const vq_query *qs, const uint8_t *code) {
    const rq_impl *im = qs->q->impl;
    const rq_query *s = qs->impl;
    uint64_t ip = im->bits == 1 ? s->k->ip_planes(code, s->planes, im->nb, im->qbits)
                                : s->k->ip_multi(code, im->bits, s->planes, im->qbits, im->nb);
    int64_t m = 2 * (int64_t)ip - s->sumu_term;
    return s->half_delta * (float)m + s->lo * get_f(code + im->bits * im->nb, 2);
}

static inline float score_code(const vq_query *qs, const uint8_t *code) {
    const rq_impl *im = qs->q->impl;
    const rq_query *s = qs->impl;
    const uint8_t *f = code + im->bits * im->nb;
    float t = get_f(f, 1) * yq(qs, code);
    return qs->metric == VQ_METRIC_L2 ? get_f(f, 0) + s->cst - 2.0f * t : -(s->cst + t);
}

static float score_one(const vq_query *qs, const uint8_t *code) { return score_code(qs, code); }

static void score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist) {
    size_t cs = qs->q->code_size;
    for (size_t i = 0; i < n; i++) dist[i] = score_code(qs, packed + i * cs);
}

int vq__rabitq_bounds(const vq_query *qs, const uint8_t *code, float *lo, float *hi) {
    if (!qs || !code || !lo || !hi || qs->q->ops != &vq__ops_rabitq || !qs->prepared)
        return VQ_EINVAL;
    const rq_impl *im = qs->q->impl;
    const rq_query *s = qs->impl;
    const uint8_t *f = code + im->bits * im->nb;
    double n2 = get_f(f, 0), rho = get_f(f, 3), d = qs->q->d;
    float est = score_code(qs, code);
    double var = 0;
    if (rho > 0 && n2 > 0) {
        var = n2 * s->vn2 * (1 - rho * rho) / (rho * rho * (d > 1 ? d - 1 : 1)) +
              n2 * (double)s->delta * s->delta / (6 * rho * rho);
    }
    double h = im->eps * sqrt(var) * (qs->metric == VQ_METRIC_L2 ? 2 : 1);
    *lo = (float)(est - h);
    *hi = (float)(est + h);
    return VQ_OK;
}

static int save(const vq_quant *q, vq_wbuf *w, vq_err *err) {
    (void)err;
    const rq_impl *im = q->impl;
    vq__w_u32(w, im->center);
    if (im->center) vq__w_f32s(w, im->c, q->d);
    return VQ_OK;
}

static int load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    rq_impl *im = q->impl;
    uint32_t center;
    VQ_TRY(vq__r_u32(r, &center, err));
    VQ_FAIL_IF(center != im->center, VQ_ECORRUPT, err, "rabitq.center",
               "saved centering flag %u does not match the spec's %u", center, im->center);
    if (center) {
        VQ_TRY(vq__r_f32s(r, im->c, q->d, err));
        for (size_t j = 0; j < q->d; j++)
            VQ_FAIL_IF(!isfinite(im->c[j]), VQ_ECORRUPT, err, "rabitq.centroid",
                       "saved centroid coordinate %zu is not finite", j);
    }
    return VQ_OK;
}

static size_t state_bytes(const vq_quant *q) {
    const rq_impl *im = q->impl;
    return vq__rot_bytes(im->rot) + q->d * sizeof(float);
}

const vq_quant_ops vq__ops_rabitq = {
    .version = VQ_QUANT_OPS_VERSION,
    .name = "rabitq",
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
