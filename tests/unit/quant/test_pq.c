/* PQ quantizer (quant/pq.c): spec validation naming the key, reconstruction error falling with
 * m, LUT scores equal to distances to the decoded vectors (L2 and IP, 8 and 4 bits), 4-bit
 * fast-scan within its quantization bound, pack/unpack, save/load and rejection of truncated
 * or corrupted state, bad input, binary16 codebooks (cb=16), and reconstruction error within 3% of
 * FAISS's PQ trained on the same data in the same process (MNIST when ../shared is present,
 * generated data always).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "Index_c.h"
#include "index_factory_c.h"
#include "internal.h"    /* vq__crc32, to forge a checksum over a corrupted body */
#include "kernels/f32.h" /* binary16 conversions */
#include "quant.h"
#include "readers.h"
#include "testutil.h"

/* One BLAS/OpenMP thread: the runs stay deterministic and a shared 2-core machine is not
 * oversubscribed (OpenBLAS and FAISS spin their pools). Weak, as not every BLAS has it. */
extern void openblas_set_num_threads(int) __attribute__((weak));
extern void omp_set_num_threads(int) __attribute__((weak));
static void single_thread(void) {
    if (openblas_set_num_threads) openblas_set_num_threads(1);
    if (omp_set_num_threads) omp_set_num_threads(1);
}
TestSuite(pq, .init = single_thread);

/* Clustered, anisotropic data: 24 centres plus per-dimension scales, so PQ has structure
 * to find and sub-spaces differ. */
static float *gen(size_t n, size_t d, uint64_t seed) {
    float *x = malloc(n * d * sizeof(float)), *cen = malloc(24 * d * sizeof(float));
    tu_fill_normal(cen, 24 * d, seed);
    tu_fill_normal(x, n * d, seed + 1);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < d; t++)
            x[i * d + t] = 3.0f * cen[(i % 24) * d + t] + x[i * d + t] * (1.0f + (float)(t % 5));
    free(cen);
    return x;
}

static vq_quant *trained(const char *spec, const float *x, size_t n, size_t d) {
    vq_quant *q;
    vq_err err;
    cr_assert_eq(vq_quant_new(spec, (unsigned)d, &q, &err), VQ_OK, "%s: %s", spec, err.msg);
    cr_assert_eq(vq_quant_train(q, n, x, &err), VQ_OK, "%s: %s", spec, err.msg);
    return q;
}

static double mse_rel(vq_quant *q, const float *x, size_t n, size_t d) {
    uint8_t *codes = malloc(n * vq_quant_code_size(q));
    float *y = malloc(n * d * sizeof(float));
    cr_assert_eq(vq_quant_encode(q, n, x, codes, NULL), VQ_OK);
    cr_assert_eq(vq_quant_decode(q, n, codes, y, NULL), VQ_OK);
    double e = 0, s = 0;
    for (size_t i = 0; i < n * d; i++) e += ((double)x[i] - y[i]) * (x[i] - y[i]), s += x[i] * x[i];
    free(codes);
    free(y);
    return e / s;
}

static void expect_spec_error(const char *spec, unsigned d, const char *field) {
    vq_quant *q = NULL;
    vq_err err;
    vq_err_clear(&err);
    cr_expect_eq(vq_quant_new(spec, d, &q, &err), VQ_ESPEC, "%s at d=%u should fail", spec, d);
    cr_expect_str_eq(err.field, field, "%s: field '%s' (%s)", spec, err.field, err.msg);
    cr_expect_null(q);
}

Test(pq, bad_spec_names_the_key) {
    expect_spec_error("pq:m=5,bits=8", 16, "m"); /* m does not divide d */
    expect_spec_error("pq:m=4,bits=5", 16, "bits");
    expect_spec_error("pq:m=3,bits=4", 12, "m"); /* odd m with 4-bit codes */
    expect_spec_error("pq:bits=8", 16, "m");     /* m is required */
    expect_spec_error("pq:m=0", 16, "m");
    expect_spec_error("pq:m=4,iters=0", 16, "iters");
    expect_spec_error("pq:m=4,seed=-1", 16, "seed");
    expect_spec_error("pq:m=4,nbits=8", 16, "nbits");
    vq_quant *q;
    cr_assert_eq(vq_quant_new("pq:m=4,bits=4", 16, &q, NULL), VQ_OK);
    cr_expect_str_eq(vq_quant_spec(q), "pq:m=4,bits=4,iters=25,seed=1234");
    cr_expect_eq(vq_quant_code_size(q), 2);
    cr_expect_eq(vq_quant_block(q), 32);
    cr_expect_eq(vq_quant_block_bytes(q), 64);
    vq_quant_free(q);
    cr_assert_eq(vq_quant_new("pq:m=8", 16, &q, NULL), VQ_OK);
    cr_expect_eq(vq_quant_code_size(q), 8);
    cr_expect_eq(vq_quant_block(q), 1);
    vq_quant_free(q);
}

Test(pq, bad_input_is_rejected) {
    const size_t d = 8;
    float *x = gen(300, d, 1);
    vq_quant *q;
    vq_err err;
    uint8_t codes[4];
    cr_assert_eq(vq_quant_new("pq:m=4,bits=8", d, &q, NULL), VQ_OK);
    cr_expect_eq(vq_quant_encode(q, 1, x, codes, &err), VQ_ESTATE);
    vq_query *qs;
    cr_expect_eq(vq_query_new(q, &qs, &err), VQ_ESTATE);
    /* 256 centroids need 256 training vectors. */
    cr_expect_eq(vq_quant_train(q, 100, x, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "n");
    x[5] = NAN;
    cr_expect_eq(vq_quant_train(q, 300, x, &err), VQ_ENOTFINITE);
    x[5] = 0;
    cr_assert_eq(vq_quant_train(q, 300, x, &err), VQ_OK, "%s", err.msg);
    x[3] = INFINITY;
    cr_expect_eq(vq_quant_encode(q, 1, x, codes, &err), VQ_ENOTFINITE);
    vq_quant_free(q);
    free(x);
}

Test(pq, reconstruction_error_falls_with_m) {
    const size_t n = 1500, d = 32;
    float *x = gen(n, d, 2);
    const char *specs8[] = {"pq:m=2,bits=8,iters=10", "pq:m=4,bits=8,iters=10",
                            "pq:m=8,bits=8,iters=10", "pq:m=16,bits=8,iters=10"};
    const char *specs4[] = {"pq:m=2,bits=4,iters=10", "pq:m=4,bits=4,iters=10",
                            "pq:m=8,bits=4,iters=10", "pq:m=16,bits=4,iters=10",
                            "pq:m=32,bits=4,iters=10"};
    double last = 1e30;
    for (size_t i = 0; i < 4; i++) {
        vq_quant *q = trained(specs8[i], x, n, d);
        double e = mse_rel(q, x, n, d);
        cr_expect(e < last * 0.95, "%s: mse_rel %g not below %g", specs8[i], e, last);
        last = e;
        vq_quant_free(q);
    }
    last = 1e30;
    for (size_t i = 0; i < 5; i++) {
        vq_quant *q = trained(specs4[i], x, n, d);
        double e = mse_rel(q, x, n, d);
        cr_expect(e < last * 0.95, "%s: mse_rel %g not below %g", specs4[i], e, last);
        last = e;
        vq_quant_free(q);
    }
    free(x);
}

/* Packs n row-major codes into ceil(n / block) blocks. */
static uint8_t *pack_all(vq_quant *q, const uint8_t *codes, size_t n) {
    size_t b = vq_quant_block(q), nb = (n + b - 1) / b, cs = vq_quant_code_size(q);
    uint8_t *p = malloc(nb * vq_quant_block_bytes(q));
    for (size_t i = 0; i < nb; i++)
        vq_quant_pack(q, n - i * b < b ? n - i * b : b, codes + i * b * cs,
                      p + i * vq_quant_block_bytes(q));
    return p;
}

static void check_scores(const char *spec, vq_metric metric) {
    const size_t n = 1000, d = 24, nq = 5;
    float *x = gen(n, d, 3), *qv = gen(nq, d, 4);
    vq_quant *q = trained(spec, x, n, d);
    size_t cs = vq_quant_code_size(q);
    uint8_t *codes = malloc(n * cs);
    float *y = malloc(n * d * sizeof(float)), *dist = malloc(n * sizeof(float));
    cr_assert_eq(vq_quant_encode(q, n, x, codes, NULL), VQ_OK);
    cr_assert_eq(vq_quant_decode(q, n, codes, y, NULL), VQ_OK);
    uint8_t *packed = pack_all(q, codes, n);
    int fast = vq_quant_block(q) > 1;
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
    for (size_t k = 0; k < nq; k++) {
        const float *v = qv + k * d;
        cr_assert_eq(vq_query_prepare(qs, v, metric, NULL), VQ_OK);
        vq_quant_score(qs, packed, n, dist);
        for (size_t i = 0; i < n; i++) {
            double ref = 0, mag = 0;
            for (size_t t = 0; t < d; t++) {
                double a = v[t], b = y[i * d + t];
                ref += metric == VQ_METRIC_L2 ? (a - b) * (a - b) : -a * b;
                mag += metric == VQ_METRIC_L2 ? (a - b) * (a - b) : fabs(a * b);
            }
            double one = vq_quant_score_one(qs, codes + i * cs);
            cr_expect(fabs(one - ref) <= 1e-4 * (1 + mag), "%s score_one %zu: %g vs %g", spec, i,
                      one, ref);
            /* Fast-scan scores carry the uint8 LUT rounding; test_fastscan bounds it. */
            if (!fast)
                cr_expect(fabs(dist[i] - ref) <= 1e-4 * (1 + mag), "%s score %zu: %g vs %g", spec,
                          i, dist[i], ref);
        }
    }
    vq_query_free(qs);
    vq_quant_free(q);
    free(x);
    free(qv);
    free(codes);
    free(y);
    free(dist);
    free(packed);
}

Test(pq, lut_scores_equal_distances_to_decoded_vectors) {
    check_scores("pq:m=8,bits=8", VQ_METRIC_L2);
    check_scores("pq:m=8,bits=8", VQ_METRIC_IP);
    check_scores("pq:m=3,bits=8", VQ_METRIC_COS);
    check_scores("pq:m=12,bits=4", VQ_METRIC_L2);
    check_scores("pq:m=6,bits=4", VQ_METRIC_IP);
}

/* 4-bit fast-scan against the float LUT: the table is rebuilt here from the centroids
 * (decoded from constant codes) so that the bound m * scale / 2 is computed independently. */
static void check_fastscan(unsigned m, vq_metric metric) {
    const size_t n = 1001, d = 48, dsub = d / m; /* n not a multiple of 32: a partial block */
    float *x = gen(n, d, 5), *qv = gen(3, d, 6);
    char spec[64];
    snprintf(spec, sizeof spec, "pq:m=%u,bits=4", m);
    vq_quant *q = trained(spec, x, n, d);
    size_t cs = vq_quant_code_size(q);
    float cen[16][48];
    for (unsigned c = 0; c < 16; c++) {
        uint8_t code[48];
        memset(code, (int)(c | c << 4), cs);
        cr_assert_eq(vq_quant_decode(q, 1, code, cen[c], NULL), VQ_OK);
    }
    uint8_t *codes = malloc(n * cs);
    cr_assert_eq(vq_quant_encode(q, n, x, codes, NULL), VQ_OK);
    uint8_t *packed = pack_all(q, codes, n);
    float *d1 = malloc(n * sizeof(float)), *d2 = malloc(n * sizeof(float));
    vq_query *qs;
    cr_assert_eq(vq_query_new(q, &qs, NULL), VQ_OK);
    for (size_t k = 0; k < 3; k++) {
        const float *v = qv + k * d;
        double rmax = 0, rsum = 0;
        for (size_t j = 0; j < m; j++) {
            double lo = 1e30, hi = -1e30;
            for (unsigned c = 0; c < 16; c++) {
                double s = 0;
                for (size_t t = j * dsub; t < (j + 1) * dsub; t++)
                    s += metric == VQ_METRIC_L2 ? (v[t] - cen[c][t]) * (v[t] - cen[c][t])
                                                : -v[t] * cen[c][t];
                lo = s < lo ? s : lo;
                hi = s > hi ? s : hi;
            }
            rmax = hi - lo > rmax ? hi - lo : rmax;
            rsum += hi - lo;
        }
        double scale = fmax(rmax / 255, rsum / (65535.0 - m));
        vq_query_set_isa(qs, vq_isa_supported());
        cr_assert_eq(vq_query_prepare(qs, v, metric, NULL), VQ_OK);
        vq_quant_score(qs, packed, n, d1);
        vq_query_set_isa(qs, VQ_ISA_SCALAR);
        cr_assert_eq(vq_query_prepare(qs, v, metric, NULL), VQ_OK);
        vq_quant_score(qs, packed, n, d2);
        for (size_t i = 0; i < n; i++) {
            double ref = vq_quant_score_one(qs, codes + i * cs);
            cr_expect(fabs(d1[i] - ref) <= m * scale * 0.5 * 1.01 + 1e-4 * fabs(ref),
                      "%s i=%zu: fast-scan %g vs float LUT %g (bound %g)", spec, i, d1[i], ref,
                      m * scale * 0.5);
            cr_expect_eq(d1[i], d2[i], "%s i=%zu: SIMD %g vs scalar %g", spec, i, d1[i], d2[i]);
        }
    }
    vq_query_free(qs);
    vq_quant_free(q);
    free(x);
    free(qv);
    free(codes);
    free(packed);
    free(d1);
    free(d2);
}

Test(pq, fastscan_within_quantization_bound) {
    check_fastscan(16, VQ_METRIC_L2);
    check_fastscan(48, VQ_METRIC_IP);
    check_fastscan(2, VQ_METRIC_L2);
}

Test(pq, pack_unpack_round_trip) {
    const size_t n = 40, d = 20;
    float *x = gen(300, d, 7);
    vq_quant *q = trained("pq:m=10,bits=4", x, 300, d);
    uint8_t codes[40 * 5], back[5];
    cr_assert_eq(vq_quant_encode(q, n, x, codes, NULL), VQ_OK);
    uint8_t *packed = pack_all(q, codes, n);
    for (size_t i = 0; i < n; i++) {
        vq_quant_unpack(q, packed + (i / 32) * vq_quant_block_bytes(q), i % 32, back);
        cr_expect(!memcmp(back, codes + i * 5, 5), "code %zu", i);
    }
    vq_quant_unpack(q, packed + vq_quant_block_bytes(q), 20, back); /* padding slot */
    for (size_t t = 0; t < 5; t++) cr_expect_eq(back[t], 0);
    free(packed);
    vq_quant_free(q);
    free(x);
}

Test(pq, save_load_round_trip_and_corruption) {
    const size_t n = 500, d = 16;
    float *x = gen(n, d, 8);
    const char *specs[] = {"pq:m=4,bits=8,seed=9", "pq:m=8,bits=4"};
    for (size_t s = 0; s < 2; s++) {
        vq_quant *q = trained(specs[s], x, n, d), *r;
        uint8_t *buf;
        size_t len;
        vq_err err;
        cr_assert_eq(vq_quant_save(q, &buf, &len, &err), VQ_OK);
        cr_assert_eq(vq_quant_load(buf, len, &r, &err), VQ_OK, "%s", err.msg);
        cr_expect_str_eq(vq_quant_spec(r), vq_quant_spec(q));
        size_t cs = vq_quant_code_size(q);
        uint8_t *c1 = malloc(n * cs), *c2 = malloc(n * cs);
        float *y1 = malloc(n * d * sizeof(float)), *y2 = malloc(n * d * sizeof(float));
        cr_assert_eq(vq_quant_encode(q, n, x, c1, NULL), VQ_OK);
        cr_assert_eq(vq_quant_encode(r, n, x, c2, NULL), VQ_OK);
        cr_expect(!memcmp(c1, c2, n * cs), "%s: codes differ after load", specs[s]);
        vq_quant_decode(q, n, c1, y1, NULL);
        vq_quant_decode(r, n, c1, y2, NULL);
        cr_expect(!memcmp(y1, y2, n * d * sizeof(float)));
        /* Every truncation fails cleanly. */
        for (size_t l = 0; l < len; l += 1 + l / 8)
            cr_expect_eq(vq_quant_load(buf, l, &r, NULL), VQ_ECORRUPT, "%s: len %zu", specs[s], l);
        vq_quant_free(r);
        /* A flipped byte in the body fails the checksum. */
        buf[len / 2] ^= 0x40;
        cr_expect_eq(vq_quant_load(buf, len, &r, &err), VQ_ECORRUPT);
        buf[len / 2] ^= 0x40;
        /* A NaN centroid with a valid checksum is caught by the pq loader itself. */
        float nan = NAN;
        memcpy(buf + len - 4 - 4, &nan, 4);
        uint32_t crc = vq__crc32(0, buf, len - 4);
        memcpy(buf + len - 4, &crc, 4);
        cr_expect_eq(vq_quant_load(buf, len, &r, &err), VQ_ECORRUPT);
        cr_expect_str_eq(err.field, "pq.centroids");
        vq_free(buf);
        vq_quant_free(q);
        free(c1);
        free(c2);
        free(y1);
        free(y2);
    }
    free(x);
}

/* FAISS's reconstruction error for a factory string on the same data. "np" turns off
 * polysemous training, which only renumbers centroids (same reconstruction) and takes most of
 * FAISS's training time. */
static double faiss_mse_rel(const char *factory, const float *x, size_t n, size_t d) {
    FaissIndex *idx = NULL;
    cr_assert_eq(faiss_index_factory(&idx, (int)d, factory, METRIC_L2), 0);
    cr_assert_eq(faiss_Index_train(idx, (idx_t)n, x), 0);
    /* add + reconstruct: the C API's sa_code_size reports 0 for IndexPQ in FAISS 1.7.3. */
    float *y = malloc(n * d * sizeof(float));
    cr_assert_eq(faiss_Index_add(idx, (idx_t)n, x), 0);
    cr_assert_eq(faiss_Index_reconstruct_n(idx, 0, (idx_t)n, y), 0);
    double e = 0, s = 0;
    for (size_t i = 0; i < n * d; i++) e += ((double)x[i] - y[i]) * (x[i] - y[i]), s += x[i] * x[i];
    free(y);
    faiss_Index_free(idx);
    return e / s;
}

Test(pq, reconstruction_within_3_percent_of_faiss) {
    /* Generated data, always. */
    const size_t n = 2560, d = 32;
    float *x = gen(n, d, 9);
    vq_quant *q = trained("pq:m=8,bits=8", x, n, d);
    double ours = mse_rel(q, x, n, d), theirs = faiss_mse_rel("PQ8np", x, n, d);
    cr_expect(ours <= 1.03 * theirs, "generated: vqdb mse_rel %g vs FAISS PQ8np %g", ours, theirs);
    vq_quant_free(q);
    free(x);
    /* MNIST (first 1,200 vectors, d = 784) at FAISS PQ16's 16 bytes per vector; the full
     * 9,000-vector figure is in bench/results/pq.md. */
    const char *path = VQ_SHARED_DIR "/datasets/mnist10k/mnist10k_base.fvecs";
    vq_matrix mx;
    if (vq_read_vectors(path, 1200, &mx, NULL) != VQ_OK) {
        printf("test_pq: %s absent, MNIST comparison skipped (generated data checked)\n", path);
        return;
    }
    q = trained("pq:m=16,bits=8", mx.data, mx.n, mx.d);
    ours = mse_rel(q, mx.data, mx.n, mx.d);
    theirs = faiss_mse_rel("PQ16np", mx.data, mx.n, mx.d);
    cr_expect(ours <= 1.03 * theirs, "MNIST: vqdb mse_rel %g vs FAISS PQ16np %g", ours, theirs);
    vq_quant_free(q);
    vq_matrix_free(&mx);
}

/* cb=16: codebooks rounded to binary16 at training, stored in 2 bytes per value. Same codes
 * and error as fp32 codebooks up to the rounding, exact save/load, half the state, corrupt
 * and out-of-range values rejected. */
Test(pq, fp16_codebooks) {
    const size_t n = 600, d = 16;
    float *x = gen(n, d, 21);
    expect_spec_error("pq:m=4,cb=8", 16, "cb");
    expect_spec_error("pq:m=4,cb=24", 16, "cb");
    vq_quant *q32 = trained("pq:m=4,bits=8,seed=3", x, n, d);
    vq_quant *q16 = trained("pq:m=4,bits=8,seed=3,cb=16", x, n, d);
    cr_expect_str_eq(vq_quant_spec(q16), "pq:m=4,bits=8,iters=25,seed=3,cb=16");
    cr_expect_str_eq(vq_quant_spec(q32), "pq:m=4,bits=8,iters=25,seed=3");
    size_t nc = 4 * 256 * 4;
    cr_expect_eq(vq_quant_state_bytes(q16), nc * 2);
    cr_expect_eq(vq_quant_state_bytes(q32), nc * 4);
    double e32 = mse_rel(q32, x, n, d), e16 = mse_rel(q16, x, n, d);
    cr_expect_lt(fabs(e16 - e32), 0.01 * e32 + 1e-6, "fp16 codebooks: %g vs %g", e16, e32);
    /* Every decoded value is a binary16 number. */
    uint8_t *c = malloc(n * 4), *c2 = malloc(n * 4);
    float *y = malloc(n * d * sizeof(float)), *y2 = malloc(n * d * sizeof(float));
    cr_assert_eq(vq_quant_encode(q16, n, x, c, NULL), VQ_OK);
    cr_assert_eq(vq_quant_decode(q16, n, c, y, NULL), VQ_OK);
    for (size_t i = 0; i < n * d; i++)
        cr_assert_eq(y[i], vq__f16_to_f32(vq__f32_to_f16(y[i])), "value %zu", i);
    uint8_t *b16, *b32;
    size_t l16, l32;
    vq_err err;
    cr_assert_eq(vq_quant_save(q16, &b16, &l16, &err), VQ_OK);
    cr_assert_eq(vq_quant_save(q32, &b32, &l32, &err), VQ_OK);
    /* Half the codebook bytes; the spec string is 6 characters (",cb=16") longer. */
    cr_expect_eq(l32 - l16, nc * 2 - 6, "%zu vs %zu", l32, l16);
    vq_quant *r;
    cr_assert_eq(vq_quant_load(b16, l16, &r, &err), VQ_OK, "%s", err.msg);
    cr_expect_str_eq(vq_quant_spec(r), vq_quant_spec(q16));
    cr_assert_eq(vq_quant_encode(r, n, x, c2, NULL), VQ_OK);
    cr_expect(!memcmp(c, c2, n * 4), "codes differ after load");
    cr_assert_eq(vq_quant_decode(r, n, c, y2, NULL), VQ_OK);
    cr_expect(!memcmp(y, y2, n * d * sizeof(float)), "decode differs after load");
    vq_quant_free(r);
    for (size_t l = 0; l < l16; l += 1 + l / 8)
        cr_expect_eq(vq_quant_load(b16, l, &r, NULL), VQ_ECORRUPT, "len %zu", l);
    /* A binary16 infinity as the last centroid value, with a valid checksum. */
    uint8_t inf[2] = {0x00, 0x7c};
    memcpy(b16 + l16 - 4 - 2, inf, 2);
    uint32_t crc = vq__crc32(0, b16, l16 - 4);
    memcpy(b16 + l16 - 4, &crc, 4);
    cr_expect_eq(vq_quant_load(b16, l16, &r, &err), VQ_ECORRUPT);
    cr_expect_str_eq(err.field, "pq.centroids");
    /* Centroids beyond binary16's range cannot be stored. */
    for (size_t i = 0; i < n * d; i++) x[i] *= 1e5f;
    vq_quant *big;
    cr_assert_eq(vq_quant_new("pq:m=4,bits=8,cb=16", d, &big, NULL), VQ_OK);
    cr_expect_eq(vq_quant_train(big, n, x, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "cb");
    vq_quant_free(big);
    vq_free(b16);
    vq_free(b32);
    vq_quant_free(q16);
    vq_quant_free(q32);
    free(c);
    free(c2);
    free(y);
    free(y2);
    free(x);
}
