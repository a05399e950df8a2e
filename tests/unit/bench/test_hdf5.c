/* Tests for bench/readers_hdf5.c: ann-benchmarks-shaped files written here with the HDF5 C
 * API are read back through vq_read_vectors / vq_read_ivecs ("file.hdf5:dataset"), with row
 * limits, type conversion, and clean errors for missing datasets, wrong ranks, float ids,
 * NaN values, and truncated or non-HDF5 files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "readers.h"

#ifdef VQ_HAVE_HDF5
#include <hdf5.h>

static void put(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                const void *data) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(ds, 0);
    cr_assert_geq(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(ds);
    H5Sclose(sp);
}

static void make_file(const char *path, float bad) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    cr_assert_geq(f, 0);
    float train[5 * 3], test[2 * 3];
    for (int i = 0; i < 15; i++) train[i] = (float)i * 0.5f;
    for (int i = 0; i < 6; i++) test[i] = -(float)i;
    test[5] = bad;
    int32_t nb[2 * 4] = {4, 3, 2, 1, 0, 1, 2, 3};
    double dd[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t u8[2 * 3] = {1, 2, 3, 250, 251, 252};
    float flat[4] = {1, 2, 3, 4};
    put(f, "train", H5T_NATIVE_FLOAT, 2, (hsize_t[]){5, 3}, train);
    put(f, "test", H5T_NATIVE_FLOAT, 2, (hsize_t[]){2, 3}, test);
    put(f, "neighbors", H5T_NATIVE_INT32, 2, (hsize_t[]){2, 4}, nb);
    put(f, "distances", H5T_NATIVE_DOUBLE, 2, (hsize_t[]){2, 4}, dd);
    put(f, "bytes", H5T_NATIVE_UINT8, 2, (hsize_t[]){2, 3}, u8);
    put(f, "flat", H5T_NATIVE_FLOAT, 1, (hsize_t[]){4}, flat);
    H5Fclose(f);
}

static char g_path[256];
static void setup(void) {
    snprintf(g_path, sizeof g_path, "/tmp/vq_test_hdf5_%d.hdf5", (int)getpid());
}
static void teardown(void) { unlink(g_path); }

Test(hdf5, reads_ann_benchmarks_layout, .init = setup, .fini = teardown) {
    make_file(g_path, -5.0f);
    vq_matrix m;
    vq_err e;
    cr_assert_eq(vq_read_vectors(g_path, 0, &m, &e), VQ_OK, "%s", e.msg); /* default: train */
    cr_assert_eq(m.n, 5);
    cr_assert_eq(m.d, 3);
    for (int i = 0; i < 15; i++) cr_assert_float_eq(m.data[i], i * 0.5f, 0);
    vq_matrix_free(&m);
    char spec[300];
    snprintf(spec, sizeof spec, "%s:test", g_path);
    cr_assert_eq(vq_read_vectors(spec, 0, &m, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(m.n, 2);
    cr_assert_float_eq(m.data[4], -4.0f, 0);
    vq_matrix_free(&m);
    snprintf(spec, sizeof spec, "%s:train", g_path);
    cr_assert_eq(vq_read_vectors(spec, 2, &m, &e), VQ_OK, "%s", e.msg); /* first rows only */
    cr_assert_eq(m.n, 2);
    cr_assert_float_eq(m.data[5], 2.5f, 0);
    vq_matrix_free(&m);
    snprintf(spec, sizeof spec, "%s:bytes", g_path); /* integers convert to float */
    cr_assert_eq(vq_read_vectors(spec, 0, &m, &e), VQ_OK, "%s", e.msg);
    cr_assert_float_eq(m.data[5], 252.0f, 0);
    vq_matrix_free(&m);
    vq_imatrix g;
    cr_assert_eq(vq_read_ivecs(g_path, 0, &g, &e), VQ_OK, "%s", e.msg); /* default: neighbors */
    cr_assert_eq(g.n, 2);
    cr_assert_eq(g.d, 4);
    cr_assert_eq(g.data[0], 4);
    cr_assert_eq(g.data[7], 3);
    vq_imatrix_free(&g);
}

Test(hdf5, errors_name_file_and_dataset, .init = setup, .fini = teardown) {
    make_file(g_path, __builtin_nanf(""));
    char spec[300];
    vq_matrix m;
    vq_imatrix g;
    vq_err e;
    snprintf(spec, sizeof spec, "%s:nope", g_path);
    cr_assert_eq(vq_read_vectors(spec, 0, &m, &e), VQ_ENOTFOUND);
    cr_assert(strstr(e.msg, "nope") && strstr(e.msg, g_path), "%s", e.msg);
    snprintf(spec, sizeof spec, "%s:flat", g_path);
    cr_assert_eq(vq_read_vectors(spec, 0, &m, &e), VQ_EDIM, "%s", e.msg);
    snprintf(spec, sizeof spec, "%s:distances", g_path);
    cr_assert_eq(vq_read_ivecs(spec, 0, &g, &e), VQ_EUNSUPPORTED, "float ids: %s", e.msg);
    snprintf(spec, sizeof spec, "%s:test", g_path);
    cr_assert_eq(vq_read_vectors(spec, 0, &m, &e), VQ_ENOTFINITE, "%s", e.msg);
    /* Only the first row is finite: a row limit avoids the NaN. */
    cr_assert_eq(vq_read_vectors(spec, 1, &m, &e), VQ_OK, "%s", e.msg);
    vq_matrix_free(&m);
}

Test(hdf5, truncated_or_foreign_files, .init = setup, .fini = teardown) {
    make_file(g_path, 0);
    FILE *f = fopen(g_path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)len);
    cr_assert_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    vq_matrix m;
    vq_err e;
    /* Cut at several points: every read fails cleanly or, when the cut misses the data,
     * returns the right shape. */
    for (long cut = 0; cut < len; cut += len / 13 + 1) {
        f = fopen(g_path, "wb");
        fwrite(buf, 1, (size_t)cut, f);
        fclose(f);
        int rc = vq_read_vectors(g_path, 0, &m, &e);
        if (rc == VQ_OK) {
            cr_assert_eq(m.n, 5);
            cr_assert_eq(m.d, 3);
            vq_matrix_free(&m);
        } else {
            cr_assert(strstr(e.msg, g_path), "rc %d: %s", rc, e.msg);
        }
    }
    f = fopen(g_path, "wb");
    fputs("this is not hdf5 at all", f);
    fclose(f);
    cr_assert_eq(vq_read_vectors(g_path, 0, &m, &e), VQ_ECORRUPT);
    cr_assert(strstr(e.msg, "not an HDF5 file"), "%s", e.msg);
    unlink(g_path);
    cr_assert_lt(vq_read_vectors(g_path, 0, &m, &e), 0);
    free(buf);
}
#else
Test(hdf5, built_without_hdf5_reports_it) {
    printf("test_hdf5: built without libhdf5; checking the refusal only\n");
    vq_matrix m;
    vq_err e;
    cr_assert_eq(vq_read_vectors("/tmp/x.hdf5:train", 0, &m, &e), VQ_EUNSUPPORTED);
    cr_assert(strstr(e.msg, "without HDF5"), "%s", e.msg);
}
#endif
