/* test_serial.c — the index file: save + load gives identical search results (so recall is
 * unchanged) for flat, IVF, HNSW and FAISS-backed indexes, tombstones included; truncated
 * files, flipped bytes, a bad magic and a newer format version are rejected with
 * VQ_ECORRUPT / VQ_EVERSION, never a crash. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "itest.h"

#define N 3000
#define D 16
#define NQ 50
#define K 10

static vqi_index *make(const char *spec, float **xo) {
    float *x = it_data(N, D, 41);
    vqi_index *idx;
    vq_err err = {0};
    cr_assert_eq(vqi_index_new(spec, D, VQ_METRIC_L2, &idx, &err), 0, "%s: %s", spec, err.msg);
    cr_assert_eq(vqi_index_add(idx, N, x, NULL, &err), 0, "%s: %s", spec, err.msg);
    uint64_t del[3] = {5, 77, 1234};
    cr_assert_eq(vqi_index_remove(idx, 3, del, NULL, &err), 0);
    *xo = x;
    return idx;
}

static void same_results(const char *spec) {
    float *x, *q = it_data(NQ, D, 42);
    vqi_index *a = make(spec, &x);
    char path[] = "/tmp/vqi_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    vq_err err = {0};
    cr_assert_eq(vqi_index_save(a, path, &err), 0, "%s: %s", spec, err.msg);
    vqi_index *b;
    cr_assert_eq(vqi_index_load(path, &b, &err), 0, "%s: %s %s", spec, err.field, err.msg);
    unlink(path);
    uint64_t ia[NQ * K], ib[NQ * K], gt[NQ * K];
    float da[NQ * K], db[NQ * K];
    cr_assert_eq(vqi_index_search(a, NQ, q, K, NULL, ia, da, &err), 0);
    cr_assert_eq(vqi_index_search(b, NQ, q, K, NULL, ib, db, &err), 0, "%s", err.msg);
    cr_expect(memcmp(ia, ib, sizeof ia) == 0, "%s: ids differ after load", spec);
    cr_expect(memcmp(da, db, sizeof da) == 0, "%s: distances differ after load", spec);
    uint8_t dead[N] = {0};
    dead[5] = dead[77] = dead[1234] = 1;
    it_gt(x, N, NULL, dead, q, NQ, D, K, VQ_METRIC_L2, NULL, NULL, gt);
    double r = it_recall(ib, gt, NQ, K);
    printf("serial %-30s recall@10 after load = %.4f\n", spec, r);
    cr_expect(r >= 0.8, "%s: recall %.4f", spec, r);
    cr_expect_eq(vqi_index_size(b), N - 3);
    cr_expect(!vqi_index_contains(b, 77) && vqi_index_contains(b, 78));
    cr_expect_str_eq(vqi_index_spec(b), spec);
    /* The loaded index keeps working: adds with fresh ids. */
    cr_expect_eq(vqi_index_add(b, 10, x, NULL, &err), 0, "%s: %s", spec, err.msg);
    cr_expect_eq(vqi_index_size(b), N + 7);
    vqi_index_free(a);
    vqi_index_free(b);
    free(x);
    free(q);
}

Test(serial, flat) { same_results("flat/sq8"); }
Test(serial, ivf) { same_results("ivf:nlist=16,nprobe=4/sq8/rerank=3"); }
Test(serial, hnsw) { same_results("hnsw:m=8,efc=40/fp16"); }
/* L2 over sq8 keeps |x^|^2 in the records (not in the file): rebuilt on load, same results. */
Test(serial, hnsw_sq8_norms) { same_results("hnsw:m=8,efc=40/sq8"); }
Test(serial, faiss) { same_results("faiss:HNSW16,Flat"); }

static void corrupt_cases(const char *spec) {
    float *x;
    vqi_index *a = make(spec, &x);
    uint8_t *buf;
    size_t len;
    vq_err err = {0};
    cr_assert_eq(vqi_index_save_mem(a, &buf, &len, &err), 0);
    vqi_index *b = NULL;
    cr_assert_eq(vqi_index_load_mem(buf, len, &b, &err), 0, "%s", err.msg);
    vqi_index_free(b);
    /* Truncation anywhere. */
    size_t step = len / 97 + 1;
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : step)) {
        b = NULL;
        int rc = vqi_index_load_mem(buf, cut, &b, &err);
        cr_expect_eq(rc, VQ_ECORRUPT, "%s: truncated at %zu of %zu: rc %d", spec, cut, len, rc);
        cr_expect_null(b);
        if (b) vqi_index_free(b);
    }
    /* One flipped byte anywhere. */
    uint8_t *c = malloc(len);
    for (size_t pos = 0; pos < len; pos += (pos < 64 ? 1 : step)) {
        memcpy(c, buf, len);
        c[pos] ^= 0x5a;
        b = NULL;
        int rc = vqi_index_load_mem(c, len, &b, &err);
        cr_expect(rc == VQ_ECORRUPT || (pos >= 4 && pos < 8 && rc == VQ_EVERSION),
                  "%s: byte %zu flipped: rc %d", spec, pos, rc);
        if (b) vqi_index_free(b);
    }
    /* Trailing garbage. */
    uint8_t *g = malloc(len + 5);
    memcpy(g, buf, len);
    memset(g + len, 0, 5);
    b = NULL;
    cr_expect_eq(vqi_index_load_mem(g, len + 5, &b, &err), VQ_ECORRUPT);
    /* A newer format version. */
    memcpy(c, buf, len);
    c[4] = 99;
    cr_expect_eq(vqi_index_load_mem(c, len, &b, &err), VQ_EVERSION);
    cr_expect_str_eq(err.field, "header.version");
    free(g);
    free(c);
    vq_free(buf);
    vqi_index_free(a);
    free(x);
}

Test(serial, corrupted_flat) { corrupt_cases("flat/sq8"); }
Test(serial, corrupted_ivf) { corrupt_cases("ivf:nlist=16/sq8"); }
Test(serial, corrupted_hnsw) { corrupt_cases("hnsw:m=8,efc=40/sq8"); }
Test(serial, corrupted_faiss) { corrupt_cases("faiss:IVF16,Flat"); }

Test(serial, missing_file) {
    vqi_index *b = NULL;
    vq_err err = {0};
    cr_expect_eq(vqi_index_load("/nonexistent/dir/x.vqi", &b, &err), VQ_EIO);
    cr_expect_str_eq(err.field, "path");
    cr_expect_null(b);
}
