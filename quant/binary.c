/* binary.c — binary codes with popcount scoring:
 *   `bin[:bits=1][,center=1][,asym=0][,qbits=8]`, bits = 1..4.
 *
 * bits = 1: the sign code of the centred vector, bit_j = x_j > c_j with c the trained mean
 * (center=1) or 0 (center=0), one bit per dimension.
 * bits = B in 2..4: a thermometer code of per-dimension quantiles: B thresholds per
 * dimension at the quantiles k/(B+1) of the training data, plane k holding x_j > t_kj, so a
 * coordinate's level l_j in [0, B] is the number of thresholds it exceeds. Hamming distance
 * between thermometer codes is sum_j |l_j - l'_j|: an L1 distance on quantile levels.
 * Codes are B planes of ceil(d/8) bytes (layout of kernels/bits.h).
 *
 * Scoring. Default (asym=0): the query is encoded like a data vector and the score is the
 * Hamming distance between the two codes, for every metric. It is a proxy, not an estimate
 * of the metric: it orders neighbours by angle (bits = 1, centred data) or by L1 distance on
 * quantile levels, and is meant for candidate generation before an exact re-rank.
 * asym=1: the query stays real and the score estimates the metric against the
 * reconstruction x^_j = m_{l_j, j}, the training mean of level l_j in dimension j. Because a
 * thermometer code's planes telescope (level l = planes 0..l-1 set), both
 *   |q - x^|^2 = sum_j (q_j - m_0j)^2 + sum_k sum_j b_kj [(q_j - m_{k+1,j})^2 - (q_j - m_kj)^2]
 *   <q, x^>    = sum_j q_j m_0j      + sum_k sum_j b_kj q_j (m_{k+1,j} - m_kj)
 * are a constant plus sum_kj b_kj w_kj: the weights w are quantized once per query to qbits
 * unsigned bits (w ~ lo + delta u, round to nearest) and scored with the bit-plane kernel,
 * sum_kj b_kj w_kj ~ delta sum_k ip_planes(plane_k, U_k) + lo popcount(code).
 * decode returns x^ for both modes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "kernels/bits.h"

#define BIN_BITS_MAX 4u
#define BIN_QBITS_MAX 12u
#define BIN_QUANTILE_ROWS 100000u /* rows sampled for the quantiles */

typedef struct bin_impl {
    unsigned bits, center, asym, qbits;
    size_t nb;
    float *thr;  /* bits * d thresholds, plane-major: thr[k * d + j] */
    float *mean; /* (bits + 1) * d level means, mean[l * d + j] */
} bin_impl;

typedef struct bin_query {
    uint8_t *qcode;  /* bits * nb: the query's own code (asym=0) */
    uint8_t *planes; /* bits * qbits * nb: quantized weights (asym=1), plane-major per k */
    float *w;        /* bits * d weights scratch */
    float delta, lo, cst;
    const vq_k_bits *k;
} bin_query;

static int create(vq_quant *q, vq_params *p, const char *inner, vq_err *err) {
    (void)inner;
    unsigned bits, center, asym, qbits;
    VQ_TRY(vq__param_uint(p, "bits", 1, 1, BIN_BITS_MAX, &bits, err));
    int has_center = vq__param_has(p, "center");
    VQ_TRY(vq__param_uint(p, "center", 1, 0, 1, &center, err));
    VQ_FAIL_IF(has_center && bits > 1, VQ_ESPEC, err, "center",
               "bin.center applies to bits=1; bits=%u uses per-dimension quantiles", bits);
    VQ_TRY(vq__param_uint(p, "asym", 0, 0, 1, &asym, err));
    VQ_TRY(vq__param_uint(p, "qbits", 8, 1, BIN_QBITS_MAX, &qbits, err));
    VQ_TRY(vq__params_done(p, err));
    bin_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->impl = im;
    im->bits = bits;
    im->center = bits == 1 ? center : 1;
    im->asym = asym;
    im->qbits = qbits;
    im->nb = vq__bits_nb(q->d);
    im->thr = vq_calloc((size_t)bits * q->d, sizeof(float));
    im->mean = vq_calloc((size_t)(bits + 1) * q->d, sizeof(float));
    VQ_FAIL_IF(!im->thr || !im->mean, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->code_size = bits * im->nb;
    if (bits == 1)
        snprintf(q->spec, sizeof q->spec, "bin:bits=1,center=%u,asym=%u,qbits=%u", center, asym,
                 qbits);
    else
        snprintf(q->spec, sizeof q->spec, "bin:bits=%u,asym=%u,qbits=%u", bits, asym, qbits);
    return VQ_OK;
}

static void destroy(vq_quant *q) {
    bin_impl *im = q->impl;
    if (!im) return;
    vq_free(im->thr);
    vq_free(im->mean);
    vq_free(im);
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static unsigned level(const bin_impl *im, size_t d, size_t j, float v) {
    unsigned l = 0;
    for (unsigned k = 0; k < im->bits; k++) l += v > im->thr[k * d + j];
    return l;
}

static int train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    bin_impl *im = q->impl;
    size_t d = q->d, B = im->bits;
    if (B == 1) {
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            if (im->center)
                for (size_t i = 0; i < n; i++) s += x[i * d + j];
            im->thr[j] = (float)(s / (double)n);
        }
    } else {
        size_t step = n > BIN_QUANTILE_ROWS ? (n + BIN_QUANTILE_ROWS - 1) / BIN_QUANTILE_ROWS : 1;
        size_t m = (n + step - 1) / step;
        float *col = vq_malloc(m * sizeof(float));
        VQ_FAIL_IF(!col, VQ_ENOMEM, err, "train", "out of memory");
        for (size_t j = 0; j < d; j++) {
            for (size_t i = 0; i < m; i++) col[i] = x[i * step * d + j];
            qsort(col, m, sizeof(float), cmp_f);
            for (size_t k = 0; k < B; k++) {
                size_t r = (k + 1) * m / (B + 1);
                im->thr[k * d + j] = col[r < m ? r : m - 1];
            }
        }
        vq_free(col);
    }
    /* Level means; an empty level takes the nearest threshold. */
    double *sum = vq_calloc((B + 1) * d, sizeof(double));
    size_t *cnt = vq_calloc((B + 1) * d, sizeof(size_t));
    if (!sum || !cnt) {
        vq_free(sum), vq_free(cnt);
        return vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) {
            unsigned l = level(im, d, j, x[i * d + j]);
            sum[l * d + j] += x[i * d + j];
            cnt[l * d + j]++;
        }
    for (size_t l = 0; l <= B; l++)
        for (size_t j = 0; j < d; j++)
            im->mean[l * d + j] = cnt[l * d + j] ? (float)(sum[l * d + j] / (double)cnt[l * d + j])
                                                 : im->thr[(l ? l - 1 : 0) * d + j];
    vq_free(sum), vq_free(cnt);
    return VQ_OK;
}

static void encode_one(const bin_impl *im, size_t d, const float *x, uint8_t *c) {
    memset(c, 0, im->bits * im->nb);
    for (size_t k = 0; k < im->bits; k++)
        for (size_t j = 0; j < d; j++)
            if (x[j] > im->thr[k * d + j]) c[k * im->nb + j / 8] |= (uint8_t)(1u << (j % 8));
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    (void)err;
    for (size_t i = 0; i < n; i++)
        encode_one(q->impl, q->d, x + i * q->d, codes + i * q->code_size);
    return VQ_OK;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    (void)err;
    const bin_impl *im = q->impl;
    size_t d = q->d;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * q->code_size;
        for (size_t j = 0; j < d; j++) {
            unsigned l = 0;
            for (unsigned k = 0; k < im->bits; k++) l += c[k * im->nb + j / 8] >> (j % 8) & 1;
            x[i * d + j] = im->mean[l * d + j];
        }
    }
    return VQ_OK;
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    const bin_impl *im = q->impl;
    bin_query *s = vq_calloc(1, sizeof *s);
    if (s) {
        s->qcode = vq_calloc(im->bits * im->nb, 1);
        s->planes = vq_calloc((size_t)im->bits * im->qbits * im->nb, 1);
        s->w = vq_malloc((size_t)im->bits * q->d * sizeof(float));
    }
    if (!s || !s->qcode || !s->planes || !s->w) {
        if (s) vq_free(s->qcode), vq_free(s->planes), vq_free(s->w), vq_free(s);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    *state = s;
    return VQ_OK;
}

static void query_free(void *state) {
    bin_query *s = state;
    if (!s) return;
    vq_free(s->qcode), vq_free(s->planes), vq_free(s->w), vq_free(s);
}

static int prepare(vq_query *qs, const float *query, vq_err *err) {
    (void)err;
    const bin_impl *im = qs->q->impl;
    bin_query *s = qs->impl;
    size_t d = qs->q->d, B = im->bits, nb = im->nb;
    s->k = vq__k_bits(qs->isa);
    if (!im->asym) {
        encode_one(im, d, query, s->qcode);
        return VQ_OK;
    }
    int l2 = qs->metric == VQ_METRIC_L2;
    double cst = 0;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < d; j++) {
        float qj = query[j], m0 = im->mean[j];
        cst += l2 ? (double)(qj - m0) * (qj - m0) : (double)qj * m0;
        for (size_t k = 0; k < B; k++) {
            float a = im->mean[k * d + j], b = im->mean[(k + 1) * d + j];
            float w = l2 ? (qj - b) * (qj - b) - (qj - a) * (qj - a) : qj * (b - a);
            s->w[k * d + j] = w;
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
    }
    unsigned top = (1u << im->qbits) - 1;
    float delta = (hi - lo) / (float)top;
    memset(s->planes, 0, B * im->qbits * nb);
    for (size_t k = 0; k < B; k++) {
        uint8_t *pk = s->planes + k * im->qbits * nb;
        for (size_t j = 0; j < d; j++) {
            float z = delta > 0 ? (s->w[k * d + j] - lo) / delta : 0.0f;
            long u = lrintf(z);
            u = u < 0 ? 0 : u > (long)top ? (long)top : u;
            for (unsigned b = 0; b < im->qbits; b++)
                if ((unsigned long)u >> b & 1) pk[b * nb + j / 8] |= (uint8_t)(1u << (j % 8));
        }
    }
    s->delta = delta;
    s->lo = lo;
    s->cst = (float)cst;
    return VQ_OK;
}

static inline float score_code(const vq_query *qs, const uint8_t *code) {
    const bin_impl *im = qs->q->impl;
    const bin_query *s = qs->impl;
    size_t nb = im->nb;
    if (!im->asym) return (float)s->k->hamming(code, s->qcode, im->bits * nb);
    uint64_t ip = 0;
    for (unsigned k = 0; k < im->bits; k++)
        ip += s->k->ip_planes(code + k * nb, s->planes + (size_t)k * im->qbits * nb, nb, im->qbits);
    float v = s->cst + s->delta * (float)ip + s->lo * (float)s->k->popcnt(code, im->bits * nb);
    return qs->metric == VQ_METRIC_L2 ? v : -v;
}

static float score_one(const vq_query *qs, const uint8_t *code) { return score_code(qs, code); }

static void score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist) {
    size_t cs = qs->q->code_size;
    for (size_t i = 0; i < n; i++) dist[i] = score_code(qs, packed + i * cs);
}

static int save(const vq_quant *q, vq_wbuf *w, vq_err *err) {
    (void)err;
    const bin_impl *im = q->impl;
    vq__w_f32s(w, im->thr, (size_t)im->bits * q->d);
    vq__w_f32s(w, im->mean, (size_t)(im->bits + 1) * q->d);
    return VQ_OK;
}

static int load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    bin_impl *im = q->impl;
    size_t d = q->d, B = im->bits;
    VQ_TRY(vq__r_f32s(r, im->thr, B * d, err));
    VQ_TRY(vq__r_f32s(r, im->mean, (B + 1) * d, err));
    for (size_t j = 0; j < d; j++) {
        for (size_t k = 0; k < B; k++) {
            VQ_FAIL_IF(!isfinite(im->thr[k * d + j]), VQ_ECORRUPT, err, "bin.threshold",
                       "saved threshold %zu of dimension %zu is not finite", k, j);
            VQ_FAIL_IF(k && im->thr[k * d + j] < im->thr[(k - 1) * d + j], VQ_ECORRUPT, err,
                       "bin.threshold", "saved thresholds of dimension %zu are not sorted", j);
        }
        for (size_t l = 0; l <= B; l++)
            VQ_FAIL_IF(!isfinite(im->mean[l * d + j]), VQ_ECORRUPT, err, "bin.mean",
                       "saved level mean %zu of dimension %zu is not finite", l, j);
    }
    return VQ_OK;
}

static size_t state_bytes(const vq_quant *q) {
    const bin_impl *im = q->impl;
    return (2 * (size_t)im->bits + 1) * q->d * sizeof(float);
}

const vq_quant_ops vq__ops_bin = {
    .version = VQ_QUANT_OPS_VERSION,
    .name = "bin",
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
