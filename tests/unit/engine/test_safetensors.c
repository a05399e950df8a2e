/* safetensors / .npy / llama2 readers and the safetensors writer: round trips, dtype
 * conversion, and malformed files (bad JSON, offsets out of range, shape mismatch,
 * truncation) rejected with VQ_ECORRUPT, never read past the buffer (run under ASan). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "weights.h"

static uint8_t *make_st(const char *json, const void *data, size_t dlen, size_t *len) {
    size_t hl = strlen(json);
    uint8_t *b = malloc(8 + hl + dlen);
    uint64_t h = hl;
    memcpy(b, &h, 8);
    memcpy(b + 8, json, hl);
    memcpy(b + 8 + hl, data, dlen);
    *len = 8 + hl + dlen;
    return b;
}

Test(safetensors, write_parse_roundtrip_and_dtypes) {
    float a[6] = {1, -2, 3.5f, 4, 5, -6}, c[3] = {0.25f, 8, -1};
    vqe_w_tensor t[2] = {{.name = "layer.w", .ndim = 2, .shape = {2, 3}, .count = 6, .data = a},
                         {.name = "bias", .ndim = 1, .shape = {3}, .count = 3, .data = c}};
    vqe_w_file f = {2, t};
    uint8_t *buf;
    size_t len;
    vq_err err;
    cr_assert_eq(vqe_w_safetensors_write(&f, &buf, &len, &err), VQ_OK);
    uint64_t hl;
    memcpy(&hl, buf, 8);
    cr_expect_eq((8 + hl) % 8, 0u, "data aligned to 8");
    vqe_w_file g;
    cr_assert_eq(vqe_w_parse_any(buf, len, &g, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(g.n, 2u);
    for (size_t i = 0; i < 2; i++) {
        const vqe_w_tensor *x = NULL;
        for (size_t j = 0; j < 2; j++)
            if (!strcmp(g.t[j].name, t[i].name)) x = &g.t[j];
        cr_assert_not_null(x);
        cr_expect_eq(x->ndim, t[i].ndim);
        cr_expect_eq(x->count, t[i].count);
        cr_expect(!memcmp(x->data, t[i].data, t[i].count * 4));
    }
    vqe_w_file_free(&g);
    vq_free(buf);
    /* F16 and BF16 inputs convert to float. */
    uint16_t h[2] = {0x3C00, 0xC000};  /* fp16 1, -2 */
    uint16_t bf[2] = {0x3F80, 0x4040}; /* bf16 1, 3 */
    uint8_t data[8];
    memcpy(data, h, 4);
    memcpy(data + 4, bf, 4);
    uint8_t *s = make_st("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                         "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[4,8]},"
                         "\"__metadata__\":{\"format\":\"pt\"}}",
                         data, 8, &len);
    cr_assert_eq(vqe_w_safetensors_parse(s, len, &g, &err), VQ_OK, "%s", err.msg);
    cr_assert_eq(g.n, 2u);
    cr_expect_float_eq(g.t[0].data[1], -2.0f, 0);
    cr_expect_float_eq(g.t[1].data[1], 3.0f, 0);
    vqe_w_file_free(&g);
    free(s);
}

Test(safetensors, malformed_rejected) {
    float d[4] = {1, 2, 3, 4};
    struct {
        const char *json;
        int code;
    } bad[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]", VQ_ECORRUPT},
        {"[1,2]", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,20]}}", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,4]}}", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,16]}}", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", VQ_EUNSUPPORTED},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,16]}}",
         VQ_ECORRUPT},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,16]}}", VQ_ECORRUPT},
    };
    vqe_w_file g;
    vq_err err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len;
        uint8_t *s = make_st(bad[i].json, d, 16, &len);
        cr_expect_eq(vqe_w_safetensors_parse(s, len, &g, &err), bad[i].code, "case %zu: %s", i,
                     err.msg);
        cr_expect_eq(g.n, 0u);
        free(s);
    }
    /* Header length past the file, and every truncation of a good file. */
    size_t len;
    uint8_t *s =
        make_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 16, &len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut ? cut : 1);
        memcpy(c, s, cut);
        cr_expect_neq(vqe_w_safetensors_parse(c, cut, &g, &err), VQ_OK, "cut %zu", cut);
        free(c);
    }
    uint64_t huge = 1ull << 40;
    memcpy(s, &huge, 8);
    cr_expect_eq(vqe_w_safetensors_parse(s, len, &g, &err), VQ_ECORRUPT);
    free(s);
}

Test(safetensors, npy_reader) {
    const char *hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    uint8_t buf[256];
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t hl = 128 - 10;
    memset(buf + 10, ' ', hl);
    memcpy(buf + 10, hdr, strlen(hdr));
    buf[10 + hl - 1] = '\n';
    buf[8] = (uint8_t)hl;
    buf[9] = 0;
    float v[6] = {1, 2, 3, 4, 5, 6};
    memcpy(buf + 128, v, 24);
    vqe_w_file g;
    vq_err err;
    cr_assert_eq(vqe_w_parse_any(buf, 152, &g, &err), VQ_OK, "%s", err.msg);
    cr_expect_eq(g.t[0].ndim, 2u);
    cr_expect_eq(g.t[0].shape[1], 3u);
    cr_expect_float_eq(g.t[0].data[5], 6.0f, 0);
    vqe_w_file_free(&g);
    /* Shape mismatch (missing bytes), trailing bytes, truncation, Fortran order, bad dtype. */
    cr_expect_eq(vqe_w_npy_parse(buf, 148, &g, &err), VQ_ECORRUPT);
    cr_expect_eq(vqe_w_npy_parse(buf, 156, &g, &err), VQ_ECORRUPT);
    for (size_t cut = 0; cut < 128; cut += 5)
        cr_expect_neq(vqe_w_npy_parse(buf, cut, &g, &err), VQ_OK, "cut %zu", cut);
    memcpy(buf + 10 + 34, "True ", 5);
    cr_expect_eq(vqe_w_npy_parse(buf, 152, &g, &err), VQ_EUNSUPPORTED, "%s", err.msg);
    memcpy(buf + 10 + 34, "False", 5);
    memcpy(buf + 10 + 10, "'<i8'", 5);
    cr_expect_eq(vqe_w_npy_parse(buf, 152, &g, &err), VQ_EUNSUPPORTED);
}
