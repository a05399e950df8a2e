/* readers.c — fvecs/bvecs/ivecs and .npy readers and writers. Files are read whole and
 * parsed from memory so that the parsers can be fuzzed directly (tests/fuzz). */
#include "readers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32.h"
#include "quant.h"

int vq_read_file(const char *path, uint8_t **buf, size_t *len, vq_err *err) {
    FILE *f = fopen(path, "rb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot open: %s", path, strerror(errno));
    if (fseeko(f, 0, SEEK_END) != 0) {
        fclose(f);
        return vq_err_set(err, VQ_EIO, path, "%s: cannot seek", path);
    }
    off_t sz = ftello(f);
    rewind(f);
    uint8_t *b = vq_malloc(sz > 0 ? (size_t)sz : 1);
    if (!b) {
        fclose(f);
        return vq_err_set(err, VQ_ENOMEM, path, "%s: out of memory for %lld bytes", path,
                          (long long)sz);
    }
    size_t got = sz > 0 ? fread(b, 1, (size_t)sz, f) : 0;
    fclose(f);
    if (got != (size_t)sz) {
        vq_free(b);
        return vq_err_set(err, VQ_EIO, path, "%s: short read (%zu of %lld bytes)", path, got,
                          (long long)sz);
    }
    *buf = b;
    *len = (size_t)sz;
    return VQ_OK;
}

static const char *ext(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : "";
}

int vq_vecs_parse(const uint8_t *buf, size_t len, const char *path, int elem_u8, size_t max_n,
                  size_t *n_out, size_t *d_out, void **data, vq_err *err) {
    size_t es = elem_u8 ? 1 : 4;
    VQ_FAIL_IF(len < 4, VQ_ECORRUPT, err, path, "%s: offset 0: file too short for a header", path);
    int32_t d;
    memcpy(&d, buf, 4);
    VQ_FAIL_IF(d <= 0 || (uint32_t)d > VQ_DIM_MAX, VQ_ECORRUPT, err, path,
               "%s: offset 0: dimension %d is outside [1, %u]", path, d, VQ_DIM_MAX);
    size_t row = 4 + (size_t)d * es;
    VQ_FAIL_IF(len % row, VQ_ECORRUPT, err, path,
               "%s: offset %zu: file size %zu is not a multiple of the row size %zu (d=%d)", path,
               len - len % row, len, row, d);
    size_t n = len / row;
    if (max_n && n > max_n) n = max_n;
    uint8_t *out = vq_malloc(n * (size_t)d * es + 1);
    VQ_FAIL_IF(!out, VQ_ENOMEM, err, path, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        int32_t di;
        memcpy(&di, buf + i * row, 4);
        if (di != d) {
            vq_free(out);
            return vq_err_set(err, VQ_ECORRUPT, path,
                              "%s: offset %zu: row %zu has dimension %d, the first row %d", path,
                              i * row, i, di, d);
        }
        memcpy(out + i * (size_t)d * es, buf + i * row + 4, (size_t)d * es);
    }
    *n_out = n;
    *d_out = (size_t)d;
    *data = out;
    return VQ_OK;
}

/* NumPy format: magic "\x93NUMPY", major, minor, header length (u16 for v1, u32 for v2/3),
 * then a Python dict literal with 'descr', 'fortran_order' and 'shape'. */
int vq_npy_parse(const uint8_t *buf, size_t len, const char *path, vq_npy *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    VQ_FAIL_IF(len < 10 || memcmp(buf, "\x93NUMPY", 6), VQ_ECORRUPT, err, path,
               "%s: offset 0: not a .npy file (bad magic)", path);
    unsigned major = buf[6];
    size_t hl, hs;
    if (major == 1) {
        hl = (size_t)buf[8] | ((size_t)buf[9] << 8);
        hs = 10;
    } else if (major == 2 || major == 3) {
        VQ_FAIL_IF(len < 12, VQ_ECORRUPT, err, path, "%s: offset 8: truncated header", path);
        hl = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) |
             ((size_t)buf[11] << 24);
        hs = 12;
    } else {
        return vq_err_set(err, VQ_EVERSION, path, "%s: offset 6: .npy version %u unsupported", path,
                          major);
    }
    VQ_FAIL_IF(hl > len - hs || hl > 65536, VQ_ECORRUPT, err, path,
               "%s: offset %zu: header length %zu runs past the file", path, hs, hl);
    char hdr[65537];
    memcpy(hdr, buf + hs, hl);
    hdr[hl] = '\0';
    const char *dp = strstr(hdr, "'descr'");
    const char *fp = strstr(hdr, "'fortran_order'");
    const char *sp = strstr(hdr, "'shape'");
    VQ_FAIL_IF(!dp || !fp || !sp, VQ_ECORRUPT, err, path,
               "%s: offset %zu: header lacks descr/fortran_order/shape", path, hs);
    const char *q = strchr(dp + 7, '\'');
    VQ_FAIL_IF(!q, VQ_ECORRUPT, err, path, "%s: offset %zu: bad descr", path, hs);
    size_t es;
    if (!strncmp(q, "'<f4'", 5))
        out->dtype = VQ_DT_F32, es = 4;
    else if (!strncmp(q, "'<f2'", 5))
        out->dtype = VQ_DT_F16, es = 2;
    else if (!strncmp(q, "'|u1'", 5) || !strncmp(q, "'<u1'", 5))
        out->dtype = VQ_DT_U8, es = 1;
    else if (!strncmp(q, "'<i4'", 5))
        out->dtype = VQ_DT_I32, es = 4;
    else if (!strncmp(q, "'<f8'", 5))
        out->dtype = VQ_DT_F64, es = 8;
    else if (!strncmp(q, "'<i8'", 5))
        out->dtype = VQ_DT_I64, es = 8;
    else
        return vq_err_set(err, VQ_EUNSUPPORTED, path,
                          "%s: offset %zu: dtype %.6s unsupported (f4, f2, u1, i4, f8, i8)", path,
                          hs, q);
    const char *fv = fp + 15;
    while (*fv == ' ' || *fv == ':') fv++;
    VQ_FAIL_IF(strncmp(fv, "False", 5), VQ_EUNSUPPORTED, err, path,
               "%s: offset %zu: Fortran-order arrays are not supported", path, hs);
    const char *s = strchr(sp, '(');
    VQ_FAIL_IF(!s, VQ_ECORRUPT, err, path, "%s: offset %zu: bad shape", path, hs);
    s++;
    size_t count = 1;
    while (1) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        VQ_FAIL_IF(end == s || errno || out->ndim >= VQ_NPY_MAX_DIMS, VQ_ECORRUPT, err, path,
                   "%s: offset %zu: bad shape entry", path, hs);
        VQ_FAIL_IF(v && count > SIZE_MAX / v, VQ_ECORRUPT, err, path,
                   "%s: offset %zu: shape overflows", path, hs);
        out->shape[out->ndim++] = (size_t)v;
        count *= (size_t)v;
        s = end;
    }
    size_t off = hs + hl;
    VQ_FAIL_IF(count > (len - off) / es || count * es != len - off, VQ_ECORRUPT, err, path,
               "%s: offset %zu: shape needs %zu bytes, file holds %zu", path, off, count * es,
               len - off);
    out->count = count;
    out->data = vq_malloc(count * es + 1);
    VQ_FAIL_IF(!out->data, VQ_ENOMEM, err, path, "%s: out of memory", path);
    memcpy(out->data, buf + off, count * es);
    return VQ_OK;
}

int vq_npy_read(const char *path, vq_npy *out, vq_err *err) {
    uint8_t *buf;
    size_t len;
    VQ_TRY(vq_read_file(path, &buf, &len, err));
    int rc = vq_npy_parse(buf, len, path, out, err);
    vq_free(buf);
    return rc;
}

/* HDF5 support lives in readers_hdf5.c when libhdf5 is present. */
int vq__read_hdf5(const char *path, const char *dataset, size_t max_n, int want_int, size_t *n,
                  size_t *d, void **data, vq_err *err) __attribute__((weak));

static int split_hdf5(const char *path, char *file, size_t fl, const char **dset) {
    const char *h = strstr(path, ".hdf5");
    if (!h) h = strstr(path, ".h5");
    if (!h) return 0;
    const char *colon = strchr(h, ':');
    size_t n = colon ? (size_t)(colon - path) : strlen(path);
    if (n >= fl) n = fl - 1;
    memcpy(file, path, n);
    file[n] = '\0';
    *dset = colon ? colon + 1 : NULL;
    return 1;
}

int vq_read_vectors(const char *path, size_t max_n, vq_matrix *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    char file[4096];
    const char *dset;
    if (split_hdf5(path, file, sizeof file, &dset)) {
        VQ_FAIL_IF(!vq__read_hdf5, VQ_EUNSUPPORTED, err, path, "%s: built without HDF5", path);
        void *data;
        VQ_TRY(vq__read_hdf5(file, dset ? dset : "train", max_n, 0, &out->n, &out->d, &data, err));
        out->data = data;
        return VQ_OK;
    }
    const char *e = ext(path);
    if (!strcmp(e, "npy")) {
        vq_npy a;
        VQ_TRY(vq_npy_read(path, &a, err));
        if (a.ndim != 2 || !a.shape[1]) {
            vq_npy_free(&a);
            return vq_err_set(err, VQ_EDIM, path, "%s: expected a 2-D array of vectors", path);
        }
        size_t n = a.shape[0], d = a.shape[1];
        if (max_n && n > max_n) n = max_n;
        float *x = vq_malloc(n * d * sizeof(float) + 1);
        if (!x) {
            vq_npy_free(&a);
            return vq_err_set(err, VQ_ENOMEM, path, "%s: out of memory", path);
        }
        for (size_t i = 0; i < n * d; i++) {
            switch (a.dtype) {
            case VQ_DT_F32:
                x[i] = ((const float *)a.data)[i];
                break;
            case VQ_DT_F16:
                x[i] = vq__f16_to_f32(((const uint16_t *)a.data)[i]);
                break;
            case VQ_DT_U8:
                x[i] = ((const uint8_t *)a.data)[i];
                break;
            case VQ_DT_I32:
                x[i] = (float)((const int32_t *)a.data)[i];
                break;
            case VQ_DT_F64:
                x[i] = (float)((const double *)a.data)[i];
                break;
            case VQ_DT_I64:
                x[i] = (float)((const int64_t *)a.data)[i];
                break;
            }
        }
        vq_npy_free(&a);
        out->n = n;
        out->d = d;
        out->data = x;
        return VQ_OK;
    }
    int u8 = !strcmp(e, "bvecs");
    VQ_FAIL_IF(!u8 && strcmp(e, "fvecs"), VQ_EUNSUPPORTED, err, path,
               "%s: unknown vector file type '.%s' (fvecs, bvecs, npy, hdf5)", path, e);
    uint8_t *buf;
    size_t len;
    VQ_TRY(vq_read_file(path, &buf, &len, err));
    void *data;
    int rc = vq_vecs_parse(buf, len, path, u8, max_n, &out->n, &out->d, &data, err);
    vq_free(buf);
    if (rc < 0) return rc;
    if (u8) {
        float *x = vq_malloc(out->n * out->d * sizeof(float) + 1);
        if (!x) {
            vq_free(data);
            return vq_err_set(err, VQ_ENOMEM, path, "%s: out of memory", path);
        }
        for (size_t i = 0; i < out->n * out->d; i++) x[i] = ((const uint8_t *)data)[i];
        vq_free(data);
        data = x;
    }
    out->data = data;
    return VQ_OK;
}

int vq_read_ivecs(const char *path, size_t max_n, vq_imatrix *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    char file[4096];
    const char *dset;
    if (split_hdf5(path, file, sizeof file, &dset)) {
        VQ_FAIL_IF(!vq__read_hdf5, VQ_EUNSUPPORTED, err, path, "%s: built without HDF5", path);
        void *data;
        VQ_TRY(
            vq__read_hdf5(file, dset ? dset : "neighbors", max_n, 1, &out->n, &out->d, &data, err));
        out->data = data;
        return VQ_OK;
    }
    if (!strcmp(ext(path), "npy")) {
        vq_npy a;
        VQ_TRY(vq_npy_read(path, &a, err));
        if (a.ndim != 2 || a.dtype != VQ_DT_I32) {
            vq_npy_free(&a);
            return vq_err_set(err, VQ_EDIM, path, "%s: expected a 2-D int32 array", path);
        }
        out->n = a.shape[0];
        out->d = a.shape[1];
        out->data = a.data;
        if (max_n && out->n > max_n) out->n = max_n;
        return VQ_OK;
    }
    uint8_t *buf;
    size_t len;
    VQ_TRY(vq_read_file(path, &buf, &len, err));
    void *data;
    int rc = vq_vecs_parse(buf, len, path, 0, max_n, &out->n, &out->d, &data, err);
    vq_free(buf);
    if (rc == VQ_OK) out->data = data;
    return rc;
}

static int write_vecs(const char *path, const void *x, size_t n, size_t d, vq_err *err) {
    FILE *f = fopen(path, "wb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot create: %s", path, strerror(errno));
    int32_t di = (int32_t)d;
    for (size_t i = 0; i < n; i++) {
        if (fwrite(&di, 4, 1, f) != 1 || fwrite((const uint8_t *)x + i * d * 4, 4, d, f) != d) {
            fclose(f);
            return vq_err_set(err, VQ_EIO, path, "%s: write failed", path);
        }
    }
    VQ_FAIL_IF(fclose(f) != 0, VQ_EIO, err, path, "%s: write failed", path);
    return VQ_OK;
}

int vq_write_fvecs(const char *path, const float *x, size_t n, size_t d, vq_err *err) {
    return write_vecs(path, x, n, d, err);
}
int vq_write_ivecs(const char *path, const int32_t *x, size_t n, size_t d, vq_err *err) {
    return write_vecs(path, x, n, d, err);
}

int vq_write_npy_f32(const char *path, const float *x, size_t n, size_t d, vq_err *err) {
    FILE *f = fopen(path, "wb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot create: %s", path, strerror(errno));
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", n, d);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    uint16_t h16 = (uint16_t)(hl + pad + 1);
    int ok = fwrite("\x93NUMPY\x01\x00", 1, 8, f) == 8 && fwrite(&h16, 2, 1, f) == 1 &&
             fwrite(hdr, 1, (size_t)hl, f) == (size_t)hl;
    for (int i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(x, sizeof(float), n * d, f) == n * d;
    ok = fclose(f) == 0 && ok;
    VQ_FAIL_IF(!ok, VQ_EIO, err, path, "%s: write failed", path);
    return VQ_OK;
}

void vq_matrix_free(vq_matrix *m) {
    if (m) vq_free(m->data), m->data = NULL;
}
void vq_imatrix_free(vq_imatrix *m) {
    if (m) vq_free(m->data), m->data = NULL;
}
void vq_npy_free(vq_npy *a) {
    if (a) vq_free(a->data), a->data = NULL;
}
