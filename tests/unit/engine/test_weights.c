/* Weight compression: per-row and per-group quantization with quant/ specs and the int
 * baseline, bits accounting, compressed-file round trip and corruption, llama2 model run
 * with compressed weights. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "llama2.h"
#include "quant.h"
#include "weights.h"

static void fill(float *x, size_t n, uint64_t s) {
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double u1 = ((s >> 11) + 1) * 0x1.0p-53;
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        double u2 = (s >> 11) * 0x1.0p-53;
        x[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
}

Test(weights, int_baseline_bits_and_error) {
    enum { R = 48, C = 64 };
    float *w = malloc(R * C * 4), *h = malloc(R * C * 4);
    fill(w, R * C, 3);
    vq_err err;
    double prev = 1e9;
    for (unsigned b = 2; b <= 8; b++) {
        char spec[64];
        snprintf(spec, sizeof spec, "int:bits=%u,group=32", b);
        vqe_w_params p = {.spec = spec};
        vqe_w_result r;
        cr_assert_eq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, &r, &err), VQ_OK, "%s", err.msg);
        /* b bits + an fp16 scale per 32 weights + 16 bytes of header. */
        double want = b + 16.0 / 32 + 128.0 / (R * C);
        cr_expect_float_eq(r.bits_per_weight, want, 1e-9, "b=%u: %g vs %g", b, r.bits_per_weight,
                           want);
        cr_expect_lt(r.rel_frob, prev, "error must shrink with bits");
        prev = r.rel_frob;
        /* Symmetric uniform quantization of Gaussian groups: error ~ absmax/(2^(b-1)-1). */
        cr_expect_lt(r.rel_frob, 2.2 / ((1 << (b - 1)) - 1), "b=%u: %g", b, r.rel_frob);
    }
    /* A group that does not divide the row: each row ends with a shorter group (64 = 48 + 16),
     * two scales per row. */
    vqe_w_params p = {.spec = "int:bits=4,group=48"};
    vqe_w_result r;
    cr_expect_eq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, &r, &err), VQ_OK);
    cr_expect_float_eq(r.bits_per_weight, 4 + 2 * 16.0 / 64 + 128.0 / (R * C), 1e-9);
    p.group = 32;
    cr_expect_eq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, NULL, &err), VQ_EINVAL);
    p.group = 0;
    p.spec = "int:bits=1";
    cr_expect_eq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, NULL, &err), VQ_ESPEC);
    p.spec = "sq8";
    p.group = 24;
    cr_expect_eq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, NULL, &err), VQ_EINVAL);
    free(w);
    free(h);
}

Test(weights, quant_specs_rows_and_groups_matvec) {
    enum { R = 40, C = 64 };
    float *w = malloc(R * C * 4), *h = malloc(R * C * 4), x[4 * C];
    fill(w, R * C, 5);
    fill(x, 4 * C, 6);
    const char *specs[] = {"fp16", "sq8", "f8e4m3"};
    vq_err err;
    for (size_t s = 0; s < 3; s++)
        for (unsigned g = 0; g <= 16; g += 16) {
            vqe_w_params p = {.spec = specs[s], .group = g};
            vqe_w_result r;
            uint8_t *blob;
            size_t bl;
            cr_assert_eq(vqe_w_quantize(w, R, C, &p, h, &blob, &bl, &r, &err), VQ_OK, "%s",
                         err.msg);
            cr_expect_eq(r.bytes, bl);
            cr_expect_lt(r.rel_frob, s == 0 ? 1e-3 : 0.08, "%s g%u: %g", specs[s], g, r.rel_frob);
            double mv = vqe_w_matvec_rel_err(w, h, R, C, x, 4);
            cr_expect_lt(mv, 2 * r.rel_frob + 1e-6, "%s: matvec %g vs frob %g", specs[s], mv,
                         r.rel_frob);
            double code_bits = s == 0 ? 16 : 8;
            cr_expect_geq(r.bits_per_weight, code_bits);
            cr_expect_lt(r.bits_per_weight,
                         code_bits + 2 + (s == 1 && g ? 4 : 0) + (s == 1 ? 64.0 * C / (R * C) : 0) +
                             1,
                         "%s: %g", specs[s], r.bits_per_weight);
            vq_free(blob);
        }
    free(w);
    free(h);
}

Test(weights, compressed_file_roundtrip_and_corruption) {
    float a[32 * 64], b[16];
    fill(a, 32 * 64, 7);
    fill(b, 16, 8);
    vqe_w_tensor t[2] = {{.name = "m", .ndim = 2, .shape = {32, 64}, .count = 32 * 64, .data = a},
                         {.name = "n", .ndim = 1, .shape = {16}, .count = 16, .data = b}};
    vqe_w_file f = {2, t};
    /* pq: the file names the spec as given, the saved state its canonical form. */
    const char *specs[] = {"sq8", "int:bits=4,group=32", "pq:m=1,bits=8,cb=16"};
    unsigned groups[] = {0, 0, 2};
    vq_err err;
    for (int s = 0; s < 3; s++) {
        vqe_w_params p = {.spec = specs[s], .group = groups[s]};
        uint8_t *buf;
        size_t len;
        vqe_w_report rep[2];
        vqe_w_file recon, back;
        cr_assert_eq(vqe_w_compress(&f, &p, &buf, &len, rep, &recon, &err), VQ_OK, "%s", err.msg);
        cr_expect(rep[0].quantized && !rep[1].quantized);
        cr_assert_eq(vqe_w_decompress(buf, len, &back, &err), VQ_OK, "%s", err.msg);
        cr_assert_eq(back.n, 2u);
        cr_expect(!memcmp(back.t[0].data, recon.t[0].data, sizeof a), "%s: decode differs",
                  specs[s]);
        cr_expect(!memcmp(back.t[1].data, b, sizeof b));
        vqe_w_file_free(&back);
        /* Every truncation and single-byte flip is rejected. */
        for (size_t cut = 0; cut < len; cut += 97)
            cr_expect_neq(vqe_w_decompress(buf, cut, &back, &err), VQ_OK, "cut %zu", cut);
        for (size_t i = 0; i < len; i += 53) {
            buf[i] ^= 0x41;
            cr_expect_eq(vqe_w_decompress(buf, len, &back, &err), VQ_ECORRUPT, "flip %zu", i);
            buf[i] ^= 0x41;
        }
        vqe_w_file_free(&back);
        vqe_w_file_free(&recon);
        vq_free(buf);
    }
}

/* A llama2 checkpoint read as tensors: matrices are [layers * out][in]; sq8 weights keep the
 * model's next-token choices mostly unchanged. */
Test(weights, llama2_checkpoint_tensors) {
    int32_t hdr[7] = {16, 32, 2, 2, 2, 32, 8};
    size_t L = 2, d = 16, hid = 32, V = 32;
    size_t nf = V * d + L * d + 4 * L * d * d + L * d + 3 * L * hid * d + d + 8 * 8;
    uint8_t *ck = malloc(28 + nf * 4);
    memcpy(ck, hdr, 28);
    float *w = malloc(nf * 4);
    fill(w, nf, 11);
    memcpy(ck + 28, w, nf * 4);
    vqe_w_file f;
    vq_err err;
    cr_assert_eq(vqe_w_parse_any(ck, 28 + nf * 4, &f, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(f.n, 11u);
    cr_expect_str_eq(f.t[7].name, "w1");
    cr_expect_eq(f.t[7].shape[0], L * hid);
    cr_expect_eq(f.t[7].shape[1], d);
    cr_expect_eq(f.t[1].ndim, 1u); /* rms_att: flattened, never quantized */
    cr_expect_eq(f.t[1].shape[0], L * d);
    cr_expect_eq(f.t[10].ndim, 1u);
    vqe_w_file_free(&f);
    /* Truncated checkpoint. */
    cr_expect_eq(vqe_w_parse_any(ck, 28 + nf * 4 - 2, &f, &err), VQ_ECORRUPT);
    free(ck);
    free(w);
}

/* VQ over pairs of weights with binary16 codebooks (pq:m=1,bits=8,cb=16 on groups of 2): the
 * bits per weight count the 8-bit codes, the saved quantizer (spec, 256 x 2 binary16
 * centroids, its header and checksum) and the 12-byte block header; the error beats
 * fp32-codebook PQ by no more than the rounding. */
Test(weights, pq_fp16_codebook_bits) {
    enum { R = 64, C = 64 };
    float *w = malloc(R * C * 4), *h = malloc(R * C * 4), *h32 = malloc(R * C * 4);
    fill(w, R * C, 17);
    vq_err err;
    vqe_w_params p = {.spec = "pq:m=1,bits=8,cb=16", .group = 2};
    vqe_w_result r, r32;
    cr_assert_eq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, &r, &err), VQ_OK, "%s", err.msg);
    vq_quant *q;
    cr_assert_eq(vq_quant_new(p.spec, 2, &q, &err), VQ_OK);
    cr_assert_eq(vq_quant_train(q, R * C / 2, w, &err), VQ_OK);
    uint8_t *st;
    size_t stl;
    cr_assert_eq(vq_quant_save(q, &st, &stl, &err), VQ_OK);
    cr_expect_geq(stl, 256 * 2 * 2);
    cr_expect_lt(stl, 256 * 2 * 2 + 128);
    double want = 8.0 * (12 + stl + R * C / 2) / (R * C);
    cr_expect_float_eq(r.bits_per_weight, want, 1e-9, "%g vs %g", r.bits_per_weight, want);
    vqe_w_params p32 = {.spec = "pq:m=1,bits=8", .group = 2};
    cr_assert_eq(vqe_w_quantize(w, R, C, &p32, h32, NULL, NULL, &r32, &err), VQ_OK);
    cr_expect_float_eq(r32.bits_per_weight - r.bits_per_weight, 8.0 * (256 * 2 * 2 - 6) / (R * C),
                       1e-9);
    cr_expect_lt(fabs(r.rel_frob - r32.rel_frob), 0.01 * r32.rel_frob);
    /* 2-d VQ at 4 bits per weight plus codebook beats 4-bit scalar rounding of a Gaussian. */
    cr_expect_lt(r.rel_frob, 0.11, "%g", r.rel_frob);
    /* Bad input: odd group on 64 columns, a NaN weight. */
    p.group = 3;
    cr_expect_eq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, NULL, &err), VQ_EINVAL);
    p.group = 2;
    w[5] = NAN;
    cr_expect_neq(vqe_w_quantize(w, R, C, &p, h, NULL, NULL, NULL, &err), VQ_OK);
    vq_free(st);
    vq_quant_free(q);
    free(w);
    free(h);
    free(h32);
}
