/* pq.c — product quantization (Jegou, Douze, Schmid 2011):
 * "pq:m=M,bits=B[,iters=I][,seed=S][,cb=32|16]".
 *
 * The d input dimensions are cut into M contiguous sub-spaces of d / M dimensions; each has
 * its own codebook of 2^B centroids trained by k-means (kmeans.c: k-means++ seeding, Lloyd,
 * at most 256 training points per centroid as FAISS does, sub-quantizer j seeded with
 * seed + j). A vector's code is the index of the nearest centroid in every sub-space.
 *
 * Codes (row-major): bits=8, one byte per sub-quantizer (M bytes); bits=4, two
 * sub-quantizers per byte, 2t in the low nibble and 2t + 1 in the high one (M / 2 bytes).
 *
 * Scoring is asymmetric (the query stays float): a per-query table of M x 2^B entries, the
 * squared distance from the query's sub-vector to each centroid (L2) or minus their inner
 * product (IP), summed over the code's entries. bits=8 scans row-major codes (block = 1,
 * kernels/pq.h pq8_scan). bits=4 uses fast-scan: codes are packed 32 to a block
 * (kernels/pq.h gives the layout), the table is quantized to uint8 per query (per-sub-
 * quantizer bias, one global scale) and scored with byte shuffles into uint16 sums, then
 * dist = fma(scale, sum, bias), within M * scale / 2 of the float table's value. score_one (graph
 * traversal, row-major code) uses the float table and is exact.
 *
 * cb=16 keeps the codebooks in IEEE binary16: training rounds every centroid to binary16
 * before any vector is encoded (so codes are assigned against the stored values and decode is
 * exactly what a reader of the saved state gets), and the saved state holds 2 bytes per
 * centroid value. For weight matrices, where the codebooks are stored next to relatively few
 * codes (a 256 x 2 codebook per tensor costs 16 kbit in fp32), this halves their share of the
 * bits per weight. Training fails with VQ_EINVAL when a centroid exceeds binary16's 65504.
 *
 * Saved state: u32 m, u32 bits, u32 dsub, then M * 2^B * dsub floats (sub-quantizer j's
 * centroid c at ((j * 2^B) + c) * dsub), float32 or (cb=16) binary16. */
#include <math.h>
#include <stdio.h>

#include "internal.h"
#include "kernels/f32.h"
#include "kernels/pq.h"
#include "kmeans.h"

#define PQ_F16_MAX 65504.0f

#define PQ_M_MAX 4096u
#define PQ_ENCODE_CHUNK 4096u
#define PQ_SCORE_CHUNK 64u /* blocks per fast-scan call: 2,048 uint16 sums on the stack */

typedef struct pq_impl {
    unsigned m, bits, ksub, dsub, iters;
    int half; /* cb=16: codebooks rounded to and stored in binary16 */
    uint64_t seed;
    float *cent; /* m * ksub * dsub */
} pq_impl;

typedef struct pq_query {
    float *lut;    /* m * ksub floats */
    uint8_t *lut8; /* 4-bit: m * 16 quantized entries */
    float bias, scale;
} pq_query;

static int create(vq_quant *q, vq_params *p, const char *inner, vq_err *err) {
    (void)inner;
    unsigned m, bits, iters, cbits;
    uint64_t seed;
    VQ_FAIL_IF(!vq__param_has(p, "m"), VQ_ESPEC, err, "m",
               "pq needs m (the number of sub-quantizers), e.g. pq:m=16,bits=8");
    VQ_TRY(vq__param_uint(p, "m", 0, 1, PQ_M_MAX, &m, err));
    VQ_TRY(vq__param_uint(p, "bits", 8, 4, 8, &bits, err));
    VQ_TRY(vq__param_uint(p, "iters", VQ_KMEANS_ITERS_DEFAULT, VQ_KMEANS_ITERS_MIN,
                          VQ_KMEANS_ITERS_MAX, &iters, err));
    VQ_TRY(vq__param_u64(p, "seed", 1234, &seed, err));
    VQ_TRY(vq__param_uint(p, "cb", 32, 16, 32, &cbits, err));
    VQ_TRY(vq__params_done(p, err));
    VQ_FAIL_IF(cbits != 16 && cbits != 32, VQ_ESPEC, err, "cb",
               "pq.cb=%u: codebooks are stored in 16 or 32 bits", cbits);
    VQ_FAIL_IF(bits != 4 && bits != 8, VQ_ESPEC, err, "bits",
               "pq.bits=%u is not supported: use 4 (fast-scan) or 8", bits);
    VQ_FAIL_IF(q->d % m != 0, VQ_ESPEC, err, "m", "pq.m=%u does not divide the dimension %u", m,
               q->d);
    VQ_FAIL_IF(bits == 4 && m % 2 != 0, VQ_ESPEC, err, "m",
               "pq.m=%u must be even with bits=4 (two 4-bit codes per byte)", m);
    pq_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->impl = im;
    im->m = m;
    im->bits = bits;
    im->ksub = 1u << bits;
    im->dsub = q->d / m;
    im->iters = iters;
    im->half = cbits == 16;
    im->seed = seed;
    im->cent = vq_calloc((size_t)m * im->ksub * im->dsub, sizeof(float));
    VQ_FAIL_IF(!im->cent, VQ_ENOMEM, err, "quantizer", "out of memory for pq codebooks");
    q->code_size = bits == 8 ? m : m / 2;
    q->block = bits == 8 ? 1 : VQ_PQ4_BLOCK;
    q->block_bytes = q->code_size * q->block;
    /* cb=32 (the default) keeps the spec string of earlier versions. */
    snprintf(q->spec, sizeof q->spec, "pq:m=%u,bits=%u,iters=%u,seed=%llu%s", m, bits, iters,
             (unsigned long long)seed, im->half ? ",cb=16" : "");
    return VQ_OK;
}

static void destroy(vq_quant *q) {
    pq_impl *im = q->impl;
    if (!im) return;
    vq_free(im->cent);
    vq_free(im);
}

/* Copies sub-space j of rows idx[0..n) (or rows 0..n when idx is NULL) into sub (n * dsub). */
static void gather(const float *x, size_t d, const size_t *idx, size_t n, size_t j, size_t dsub,
                   float *sub) {
    for (size_t i = 0; i < n; i++)
        memcpy(sub + i * dsub, x + (idx ? idx[i] : i) * d + j * dsub, dsub * sizeof(float));
}

static int train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    pq_impl *im = q->impl;
    VQ_FAIL_IF(n < im->ksub, VQ_EINVAL, err, "n",
               "pq with bits=%u needs at least %u training vectors, got %zu", im->bits, im->ksub,
               n);
    /* One subsample shared by every sub-space, drawn before gathering so that memory stays
     * at 256 * ksub sub-vectors however large the training set. */
    size_t nt = n, cap = (size_t)VQ_KMEANS_MAX_PPC_DEFAULT * im->ksub;
    size_t *idx = NULL;
    if (n > cap) {
        nt = cap;
        idx = vq_malloc(nt * sizeof(size_t));
        VQ_FAIL_IF(!idx, VQ_ENOMEM, err, "train", "out of memory");
        vq__kmeans_sample(n, nt, im->seed ^ 0x5051u, idx, NULL);
    }
    float *sub = vq_malloc(nt * im->dsub * sizeof(float));
    if (!sub) {
        vq_free(idx);
        return vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
    }
    vq_kmeans_params kp;
    vq__kmeans_params_default(&kp);
    kp.iters = im->iters;
    kp.max_points_per_centroid = 0; /* already subsampled */
    int rc = VQ_OK;
    for (size_t j = 0; j < im->m && rc == VQ_OK; j++) {
        gather(x, q->d, idx, nt, j, im->dsub, sub);
        kp.seed = im->seed + j;
        rc = vq__kmeans(sub, nt, im->dsub, im->ksub, &kp, im->cent + j * im->ksub * im->dsub, NULL,
                        NULL, err);
    }
    vq_free(sub);
    vq_free(idx);
    if (rc == VQ_OK && im->half) {
        size_t nc = (size_t)im->m * im->ksub * im->dsub;
        for (size_t i = 0; i < nc; i++) {
            VQ_FAIL_IF(!(fabsf(im->cent[i]) <= PQ_F16_MAX), VQ_EINVAL, err, "cb",
                       "pq.cb=16: centroid value %g exceeds the binary16 range (%g)",
                       (double)im->cent[i], (double)PQ_F16_MAX);
            im->cent[i] = vq__f16_to_f32(vq__f32_to_f16(im->cent[i]));
        }
    }
    return rc;
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    const pq_impl *im = q->impl;
    size_t ch = n < PQ_ENCODE_CHUNK ? n : PQ_ENCODE_CHUNK;
    float *sub = vq_malloc(ch * im->dsub * sizeof(float));
    uint32_t *as = vq_malloc(ch * sizeof(uint32_t));
    int rc = VQ_OK;
    if (!sub || !as) rc = vq_err_set(err, VQ_ENOMEM, "encode", "out of memory");
    for (size_t i0 = 0; rc == VQ_OK && i0 < n; i0 += ch) {
        size_t bn = n - i0 < ch ? n - i0 : ch;
        const float *xb = x + i0 * q->d;
        uint8_t *cb = codes + i0 * q->code_size;
        for (size_t j = 0; j < im->m && rc == VQ_OK; j++) {
            gather(xb, q->d, NULL, bn, j, im->dsub, sub);
            rc = vq__kmeans_assign(sub, bn, im->dsub, im->cent + j * im->ksub * im->dsub, im->ksub,
                                   as, NULL, err);
            if (rc < 0) break;
            if (im->bits == 8) {
                for (size_t i = 0; i < bn; i++) cb[i * q->code_size + j] = (uint8_t)as[i];
            } else {
                for (size_t i = 0; i < bn; i++) {
                    uint8_t *c = cb + i * q->code_size + j / 2;
                    if (j % 2 == 0)
                        *c = (uint8_t)as[i];
                    else
                        *c = (uint8_t)(*c | (as[i] << 4));
                }
            }
        }
    }
    vq_free(sub);
    vq_free(as);
    return rc;
}

static inline unsigned code_at(const pq_impl *im, const uint8_t *c, size_t j) {
    return im->bits == 8 ? c[j] : j % 2 == 0 ? c[j / 2] & 15u : (unsigned)c[j / 2] >> 4;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    (void)err;
    const pq_impl *im = q->impl;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * q->code_size;
        for (size_t j = 0; j < im->m; j++)
            memcpy(x + i * q->d + j * im->dsub,
                   im->cent + ((size_t)j * im->ksub + code_at(im, c, j)) * im->dsub,
                   im->dsub * sizeof(float));
    }
    return VQ_OK;
}

static void pack(const vq_quant *q, size_t n, const uint8_t *codes, uint8_t *block) {
    const pq_impl *im = q->impl;
    if (im->bits == 8) { /* block = 1: the packed form is the row-major code */
        memcpy(block, codes, n * q->code_size);
        if (!n) memset(block, 0, q->code_size);
        return;
    }
    memset(block, 0, q->block_bytes);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * q->code_size;
        for (size_t j = 0; j < im->m; j++) {
            int high;
            size_t at = vq__pq4_pos(j, i, &high);
            unsigned v = code_at(im, c, j);
            block[at] = (uint8_t)(block[at] | (high ? v << 4 : v));
        }
    }
}

static void unpack(const vq_quant *q, const uint8_t *block, size_t i, uint8_t *code) {
    const pq_impl *im = q->impl;
    if (im->bits == 8) {
        memcpy(code, block + i * q->code_size, q->code_size);
        return;
    }
    memset(code, 0, q->code_size);
    for (size_t j = 0; j < im->m; j++) {
        int high;
        size_t at = vq__pq4_pos(j, i, &high);
        unsigned v = high ? (unsigned)block[at] >> 4 : block[at] & 15u;
        code[j / 2] = (uint8_t)(code[j / 2] | (j % 2 ? v << 4 : v));
    }
}

static void query_free(void *state) {
    pq_query *s = state;
    if (!s) return;
    vq_free(s->lut);
    vq_free(s->lut8);
    vq_free(s);
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    const pq_impl *im = q->impl;
    pq_query *s = vq_calloc(1, sizeof *s);
    if (s) {
        s->lut = vq_malloc((size_t)im->m * im->ksub * sizeof(float));
        s->lut8 = vq_malloc((size_t)im->m * 16);
    }
    if (!s || !s->lut || !s->lut8) {
        query_free(s);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory for the pq lookup table");
    }
    *state = s;
    return VQ_OK;
}

static int prepare(vq_query *qs, const float *query, vq_err *err) {
    (void)err;
    const pq_impl *im = qs->q->impl;
    pq_query *s = qs->impl;
    /* The table always comes from the dispatched float kernels, whatever qs->isa says: the
     * ISA switch compares scan kernels, and with the same table the 4-bit SIMD and scalar
     * scans then agree bit for bit. */
    const vq_k_f32 *k = vq__k_f32(vq_isa_active());
    int l2 = qs->metric == VQ_METRIC_L2;
    for (size_t j = 0; j < im->m; j++) {
        const float *qj = query + j * im->dsub;
        const float *cj = im->cent + j * im->ksub * im->dsub;
        float *t = s->lut + j * im->ksub;
        if (l2)
            k->l2sq_ny(qj, cj, im->ksub, im->dsub, t);
        else {
            k->ip_ny(qj, cj, im->ksub, im->dsub, t);
            for (size_t c = 0; c < im->ksub; c++) t[c] = -t[c];
        }
    }
    if (im->bits == 4) s->scale = vq__pq4_quantize_lut(s->lut, im->m, s->lut8, &s->bias);
    return VQ_OK;
}

static void score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist) {
    const pq_impl *im = qs->q->impl;
    const pq_query *s = qs->impl;
    const vq_k_pq *k = vq__k_pq(qs->isa);
    if (im->bits == 8) {
        k->pq8_scan(s->lut, im->m, packed, n, dist);
        return;
    }
    uint16_t acc[PQ_SCORE_CHUNK * VQ_PQ4_BLOCK];
    size_t nb = (n + VQ_PQ4_BLOCK - 1) / VQ_PQ4_BLOCK, bb = qs->q->block_bytes;
    for (size_t b0 = 0; b0 < nb; b0 += PQ_SCORE_CHUNK) {
        size_t cb = nb - b0 < PQ_SCORE_CHUNK ? nb - b0 : PQ_SCORE_CHUNK;
        k->pq4_fastscan(s->lut8, im->m, packed + b0 * bb, cb, acc);
        size_t base = b0 * VQ_PQ4_BLOCK, cnt = cb * VQ_PQ4_BLOCK;
        if (cnt > n - base) cnt = n - base;
        k->u16_affine(acc, cnt, s->bias, s->scale, dist + base);
    }
}

static float score_one(const vq_query *qs, const uint8_t *code) {
    const pq_impl *im = qs->q->impl;
    const pq_query *s = qs->impl;
    float r = 0;
    if (im->bits == 8) {
        for (size_t j = 0; j < im->m; j++) r += s->lut[j * 256 + code[j]];
    } else {
        vq__pq4_scan_f32(s->lut, im->m, code, 1, &r);
    }
    return r;
}

static int save(const vq_quant *q, vq_wbuf *w, vq_err *err) {
    (void)err;
    const pq_impl *im = q->impl;
    vq__w_u32(w, im->m);
    vq__w_u32(w, im->bits);
    vq__w_u32(w, im->dsub);
    size_t nc = (size_t)im->m * im->ksub * im->dsub;
    if (!im->half) {
        vq__w_f32s(w, im->cent, nc);
        return VQ_OK;
    }
    for (size_t i = 0; i < nc; i++) { /* exact: training rounded them to binary16 */
        uint16_t h = vq__f32_to_f16(im->cent[i]);
        uint8_t b[2] = {(uint8_t)(h & 0xff), (uint8_t)(h >> 8)};
        vq__w_bytes(w, b, 2);
    }
    return VQ_OK;
}

static int load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    pq_impl *im = q->impl;
    uint32_t m, bits, dsub;
    VQ_TRY(vq__r_u32(r, &m, err));
    VQ_TRY(vq__r_u32(r, &bits, err));
    VQ_TRY(vq__r_u32(r, &dsub, err));
    VQ_FAIL_IF(m != im->m || bits != im->bits || dsub != im->dsub, VQ_ECORRUPT, err, "pq.shape",
               "saved pq shape m=%u bits=%u dsub=%u does not match its spec (m=%u bits=%u "
               "dsub=%u)",
               m, bits, dsub, im->m, im->bits, im->dsub);
    size_t nc = (size_t)im->m * im->ksub * im->dsub;
    if (!im->half) {
        VQ_TRY(vq__r_f32s(r, im->cent, nc, err));
    } else {
        for (size_t i = 0; i < nc; i++) {
            uint8_t b[2];
            VQ_TRY(vq__r_bytes(r, b, 2, err));
            im->cent[i] = vq__f16_to_f32((uint16_t)(b[0] | b[1] << 8));
        }
    }
    for (size_t i = 0; i < nc; i++)
        VQ_FAIL_IF(!isfinite(im->cent[i]), VQ_ECORRUPT, err, "pq.centroids",
                   "saved pq centroid value %zu is not finite", i);
    return VQ_OK;
}

static size_t state_bytes(const vq_quant *q) {
    const pq_impl *im = q->impl;
    return (size_t)im->m * im->ksub * im->dsub * (im->half ? 2 : sizeof(float));
}

const vq_quant_ops vq__ops_pq = {
    .version = VQ_QUANT_OPS_VERSION,
    .name = "pq",
    .create = create,
    .train = train,
    .encode = encode,
    .decode = decode,
    .query_new = query_new,
    .query_free = query_free,
    .prepare = prepare,
    .score = score,
    .score_one = score_one,
    .pack = pack,
    .unpack = unpack,
    .save = save,
    .load = load,
    .state_bytes = state_bytes,
    .destroy = destroy,
};
