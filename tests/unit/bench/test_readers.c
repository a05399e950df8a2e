/* bench/readers.c: round trips of every format, and malformed files (truncated, rows of
 * another dimension, bad .npy headers, huge shapes) rejected with a clean error that names
 * the file and the offset. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../quant/testutil.h"
#include "quant.h"
#include "readers.h"

static char g_dir[] = "/tmp/vq_readers_XXXXXX";
static void setup(void) { cr_assert(mkdtemp(g_dir)); }
static void teardown(void) {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    cr_expect_eq(system(cmd), 0);
}
TestSuite(readers, .init = setup, .fini = teardown);

static const char *path(const char *name) {
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return p;
}

static void write_bytes(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

Test(readers, round_trips) {
    size_t n = 57, d = 9;
    float x[57 * 9];
    tu_fill_normal(x, n * d, 1);
    vq_err err;
    vq_matrix m;
    cr_assert_eq(vq_write_fvecs(path("a.fvecs"), x, n, d, &err), VQ_OK);
    cr_assert_eq(vq_read_vectors(path("a.fvecs"), 0, &m, &err), VQ_OK, "%s", err.msg);
    cr_expect(m.n == n && m.d == d && !memcmp(m.data, x, sizeof x));
    vq_matrix_free(&m);
    cr_assert_eq(vq_read_vectors(path("a.fvecs"), 10, &m, &err), VQ_OK);
    cr_expect(m.n == 10 && !memcmp(m.data, x, 10 * d * 4), "max_n reads a prefix");
    vq_matrix_free(&m);
    cr_assert_eq(vq_write_npy_f32(path("a.npy"), x, n, d, &err), VQ_OK);
    cr_assert_eq(vq_read_vectors(path("a.npy"), 0, &m, &err), VQ_OK, "%s", err.msg);
    cr_expect(m.n == n && m.d == d && !memcmp(m.data, x, sizeof x));
    vq_matrix_free(&m);
    int32_t ids[6] = {1, 2, 3, -4, 5, 6};
    vq_imatrix im;
    cr_assert_eq(vq_write_ivecs(path("a.ivecs"), ids, 2, 3, &err), VQ_OK);
    cr_assert_eq(vq_read_ivecs(path("a.ivecs"), 0, &im, &err), VQ_OK);
    cr_expect(im.n == 2 && im.d == 3 && !memcmp(im.data, ids, sizeof ids));
    vq_imatrix_free(&im);
    /* bvecs: int32 dimension then d bytes. */
    uint8_t bv[2 * 7] = {3, 0, 0, 0, 1, 2, 255, 3, 0, 0, 0, 4, 5, 6};
    write_bytes(path("a.bvecs"), bv, sizeof bv);
    cr_assert_eq(vq_read_vectors(path("a.bvecs"), 0, &m, &err), VQ_OK, "%s", err.msg);
    cr_expect(m.n == 2 && m.d == 3 && m.data[2] == 255.0f && m.data[5] == 6.0f);
    vq_matrix_free(&m);
}

Test(readers, truncated_and_wrong_dimension_rows) {
    float x[4 * 5];
    tu_fill_normal(x, 20, 2);
    vq_err err;
    vq_matrix m;
    cr_assert_eq(vq_write_fvecs(path("t.fvecs"), x, 4, 5, &err), VQ_OK);
    uint8_t *buf;
    size_t len;
    cr_assert_eq(vq_read_file(path("t.fvecs"), &buf, &len, &err), VQ_OK);
    cr_assert_eq(len, 4 * 24);
    /* Every truncation is rejected, never read past. */
    for (size_t cut = 0; cut < len; cut++) {
        size_t n, d;
        void *data = NULL;
        int rc = vq_vecs_parse(buf, cut, "t.fvecs", 0, 0, &n, &d, &data, &err);
        if (cut == 0 || cut % 24) {
            cr_expect_eq(rc, VQ_ECORRUPT, "cut at %zu", cut);
            cr_expect(strstr(err.msg, "t.fvecs: offset") != NULL, "%s", err.msg);
        } else {
            cr_expect_eq(rc, VQ_OK);
            vq_free(data);
        }
    }
    /* Row 2 claims another dimension (same file size). */
    int32_t bad = 6;
    memcpy(buf + 2 * 24, &bad, 4);
    write_bytes(path("w.fvecs"), buf, len);
    cr_expect_eq(vq_read_vectors(path("w.fvecs"), 0, &m, &err), VQ_ECORRUPT);
    cr_expect(strstr(err.msg, "offset 48") && strstr(err.msg, "row 2"), "%s", err.msg);
    /* A first dimension of 0, negative or huge. */
    int32_t dims[3] = {0, -3, (int32_t)VQ_DIM_MAX + 1};
    for (int i = 0; i < 3; i++) {
        memcpy(buf, &dims[i], 4);
        write_bytes(path("z.fvecs"), buf, len);
        cr_expect_eq(vq_read_vectors(path("z.fvecs"), 0, &m, &err), VQ_ECORRUPT);
    }
    vq_free(buf);
    cr_expect_eq(vq_read_vectors(path("missing.fvecs"), 0, &m, &err), VQ_EIO);
    write_bytes(path("e.fvecs"), "", 0);
    cr_expect_eq(vq_read_vectors(path("e.fvecs"), 0, &m, &err), VQ_ECORRUPT);
    cr_expect_eq(vq_read_vectors(path("x.csv"), 0, &m, &err), VQ_EUNSUPPORTED);
}

static size_t npy(uint8_t *out, const char *hdr, const void *data, size_t dl) {
    size_t hl = strlen(hdr);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (uint8_t)(hl & 0xff), out[9] = (uint8_t)(hl >> 8);
    memcpy(out + 10, hdr, hl);
    memcpy(out + 10 + hl, data, dl);
    return 10 + hl + dl;
}

Test(readers, npy_headers) {
    uint8_t b[512];
    float v[6] = {1, 2, 3, 4, 5, 6};
    vq_npy a;
    vq_err err;
    size_t l = npy(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", v, 24);
    cr_assert_eq(vq_npy_parse(b, l, "ok.npy", &a, &err), VQ_OK, "%s", err.msg);
    cr_expect(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.count == 6);
    vq_npy_free(&a);
    static const struct {
        const char *hdr;
        int rc;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", VQ_ECORRUPT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }", VQ_ECORRUPT},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", VQ_EUNSUPPORTED},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }", VQ_EUNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", VQ_EUNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False}", VQ_ECORRUPT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", VQ_ECORRUPT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", VQ_ECORRUPT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': 6 }", VQ_ECORRUPT},
        /* Huge shapes: the product overflows, or is far larger than the file. */
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
         VQ_ECORRUPT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 3), }", VQ_ECORRUPT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }",
         VQ_ECORRUPT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }", VQ_ECORRUPT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        l = npy(b, bad[i].hdr, v, 24);
        memset(&err, 0, sizeof err);
        cr_expect_eq(vq_npy_parse(b, l, "bad.npy", &a, &err), bad[i].rc, "case %zu: %s", i,
                     err.msg);
        cr_expect(strstr(err.msg, "bad.npy: offset") != NULL, "case %zu: %s", i, err.msg);
    }
    /* Bad magic, unknown version, header length past the end, every truncation. */
    l = npy(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", v, 24);
    b[1] = 'X';
    cr_expect_eq(vq_npy_parse(b, l, "m.npy", &a, &err), VQ_ECORRUPT);
    b[1] = 'N';
    b[6] = 9;
    cr_expect_eq(vq_npy_parse(b, l, "m.npy", &a, &err), VQ_EVERSION);
    b[6] = 1;
    b[8] = 0xff, b[9] = 0xff;
    cr_expect_eq(vq_npy_parse(b, l, "m.npy", &a, &err), VQ_ECORRUPT);
    l = npy(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", v, 24);
    for (size_t cut = 0; cut < l; cut++)
        cr_expect_lt(vq_npy_parse(b, cut, "t.npy", &a, &err), 0, "cut %zu", cut);
    /* A 1-D or 3-D array is not a vector set. */
    l = npy(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }\n", v, 24);
    write_bytes(path("one.npy"), b, l);
    vq_matrix m;
    cr_expect_eq(vq_read_vectors(path("one.npy"), 0, &m, &err), VQ_EDIM);
    l = npy(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }\n", v, 24);
    write_bytes(path("three.npy"), b, l);
    cr_expect_eq(vq_read_vectors(path("three.npy"), 0, &m, &err), VQ_EDIM);
    /* Other dtypes convert to float. */
    uint16_t h[2] = {0x3c00, 0xc000}; /* 1.0, -2.0 in binary16 */
    l = npy(b, "{'descr': '<f2', 'fortran_order': False, 'shape': (1, 2), }\n", h, 4);
    write_bytes(path("h.npy"), b, l);
    cr_assert_eq(vq_read_vectors(path("h.npy"), 0, &m, &err), VQ_OK, "%s", err.msg);
    cr_expect(m.data[0] == 1.0f && m.data[1] == -2.0f);
    vq_matrix_free(&m);
}
