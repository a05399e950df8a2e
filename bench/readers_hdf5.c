/* readers_hdf5.c — ann-benchmarks HDF5 files ("glove-100-angular.hdf5": datasets "train",
 * "test" (float32, n x d), "neighbors" (int32, nq x 100), "distances"). Defines the strong
 * vq__read_hdf5 that bench/readers.c declares weak, so vq_read_vectors("f.hdf5:test") and
 * vq_read_ivecs("f.hdf5:neighbors") work when libhdf5 is present.
 *
 * Reads one 2-D dataset (at most max_n rows, through a hyperslab so a 1M-row file is not read
 * whole for a subset), converted by HDF5 to float (want_int = 0) or int32 (want_int = 1).
 * Integer data is accepted for floats and floats are refused for ids. Every failure names the
 * file and dataset; HDF5's own error printing is switched off for the duration of a call (its
 * error stack is process-global, so this reader is not meant to run concurrently with other
 * HDF5 users in the same process).
 */
#ifdef VQ_HAVE_HDF5
#include <hdf5.h>
#include <string.h>

#include "quant.h"
#include "readers.h"

int vq__read_hdf5(const char *path, const char *dataset, size_t max_n, int want_int, size_t *n,
                  size_t *d, void **data, vq_err *err);

int vq__read_hdf5(const char *path, const char *dataset, size_t max_n, int want_int, size_t *n,
                  size_t *d, void **data, vq_err *err) {
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int rc = VQ_OK;
    hid_t file = -1, ds = -1, space = -1, type = -1, mspace = -1;
    void *buf = NULL;
    if (H5Fis_hdf5(path) <= 0) {
        rc = vq_err_set(err, VQ_ECORRUPT, path, "%s: offset 0: not an HDF5 file (or unreadable)",
                        path);
        goto out;
    }
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        rc = vq_err_set(err, VQ_EIO, path, "%s: cannot open as HDF5", path);
        goto out;
    }
    if (H5Lexists(file, dataset, H5P_DEFAULT) <= 0) {
        rc = vq_err_set(err, VQ_ENOTFOUND, dataset, "%s: no dataset '%s'", path, dataset);
        goto out;
    }
    ds = H5Dopen2(file, dataset, H5P_DEFAULT);
    if (ds < 0) {
        rc = vq_err_set(err, VQ_ECORRUPT, dataset, "%s: '%s' is not a readable dataset", path,
                        dataset);
        goto out;
    }
    space = H5Dget_space(ds);
    type = H5Dget_type(ds);
    if (space < 0 || type < 0) {
        rc = vq_err_set(err, VQ_ECORRUPT, dataset, "%s:%s: unreadable dataspace or type", path,
                        dataset);
        goto out;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[2] = {0, 0};
    if (rank != 2 || H5Sget_simple_extent_dims(space, dims, NULL) != 2) {
        rc = vq_err_set(err, VQ_EDIM, dataset, "%s:%s: expected a 2-D dataset, found rank %d", path,
                        dataset, rank);
        goto out;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        rc = vq_err_set(err, VQ_EUNSUPPORTED, dataset, "%s:%s: element class %d is not numeric",
                        path, dataset, (int)cls);
        goto out;
    }
    if (want_int && cls != H5T_INTEGER) {
        rc = vq_err_set(err, VQ_EUNSUPPORTED, dataset,
                        "%s:%s: ids must be integers, the dataset holds floats", path, dataset);
        goto out;
    }
    if (dims[1] == 0 || dims[1] > VQ_DIM_MAX) {
        rc = vq_err_set(err, VQ_EDIM, dataset, "%s:%s: row length %llu outside [1, %u]", path,
                        dataset, (unsigned long long)dims[1], VQ_DIM_MAX);
        goto out;
    }
    hsize_t rows = dims[0];
    if (max_n && rows > max_n) rows = max_n;
    hsize_t start[2] = {0, 0}, count[2] = {rows, dims[1]};
    if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (mspace = H5Screate_simple(2, count, NULL)) < 0) {
        rc = vq_err_set(err, VQ_EINTERNAL, dataset, "%s:%s: cannot select %llu rows", path, dataset,
                        (unsigned long long)rows);
        goto out;
    }
    size_t bytes = (size_t)rows * (size_t)dims[1] * 4;
    buf = vq_malloc(bytes + 1);
    if (!buf) {
        rc = vq_err_set(err, VQ_ENOMEM, dataset, "%s:%s: out of memory for %zu bytes", path,
                        dataset, bytes);
        goto out;
    }
    if (rows && H5Dread(ds, want_int ? H5T_NATIVE_INT : H5T_NATIVE_FLOAT, mspace, space,
                        H5P_DEFAULT, buf) < 0) {
        rc = vq_err_set(err, VQ_ECORRUPT, dataset, "%s:%s: read failed (truncated or corrupted)",
                        path, dataset);
        goto out;
    }
    if (!want_int) {
        rc = vq_check_finite(buf, (size_t)rows, (size_t)dims[1], dataset, err);
        if (rc < 0) goto out;
    }
    *n = (size_t)rows;
    *d = (size_t)dims[1];
    *data = buf;
    buf = NULL;
out:
    vq_free(buf);
    if (mspace >= 0) H5Sclose(mspace);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    if (ds >= 0) H5Dclose(ds);
    if (file >= 0) H5Fclose(file);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return rc;
}
#endif
