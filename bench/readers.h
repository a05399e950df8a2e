/* readers.h — vector files in and out: .fvecs/.bvecs/.ivecs (int32 dimension + row),
 * NumPy .npy (v1/v2/v3, little-endian, C order; float32, float16, uint8, int32), and
 * ann-benchmarks HDF5 ("file.hdf5:train"). Every reader checks sizes against the file and
 * reports "path: offset N: problem" for malformed input, never reading past the data.
 * Thread safety: functions are reentrant; results are owned by the caller. */
#ifndef VQ_READERS_H
#define VQ_READERS_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

typedef struct vq_matrix {
    size_t n, d;
    float *data; /* n * d floats, row-major; free with vq_matrix_free */
} vq_matrix;

typedef struct vq_imatrix {
    size_t n, d;
    int32_t *data;
} vq_imatrix;

#define VQ_NPY_MAX_DIMS 8
typedef enum vq_dtype { VQ_DT_F32, VQ_DT_F16, VQ_DT_U8, VQ_DT_I32, VQ_DT_F64, VQ_DT_I64 } vq_dtype;
typedef struct vq_npy {
    vq_dtype dtype;
    unsigned ndim;
    size_t shape[VQ_NPY_MAX_DIMS];
    size_t count; /* product of shape */
    void *data;   /* count elements of dtype; vq_free */
} vq_npy;

/* Reads at most max_n rows (0: all) of any supported vector file, converted to float.
 * HDF5 paths may name a dataset: "glove.hdf5:test"; the default dataset is "train". */
int vq_read_vectors(const char *path, size_t max_n, vq_matrix *out, vq_err *err);
/* .ivecs or a 2-D int32 .npy or an HDF5 int dataset ("file.hdf5:neighbors"). */
int vq_read_ivecs(const char *path, size_t max_n, vq_imatrix *out, vq_err *err);
int vq_npy_read(const char *path, vq_npy *out, vq_err *err);
int vq_npy_parse(const uint8_t *buf, size_t len, const char *path, vq_npy *out, vq_err *err);
/* Parses fvecs/bvecs/ivecs bytes held in memory (elem 4 = float/int32, 1 = uint8). */
int vq_vecs_parse(const uint8_t *buf, size_t len, const char *path, int elem_u8, size_t max_n,
                  size_t *n, size_t *d, void **data, vq_err *err);

int vq_write_fvecs(const char *path, const float *x, size_t n, size_t d, vq_err *err);
int vq_write_ivecs(const char *path, const int32_t *x, size_t n, size_t d, vq_err *err);
int vq_write_npy_f32(const char *path, const float *x, size_t n, size_t d, vq_err *err);

void vq_matrix_free(vq_matrix *m);
void vq_imatrix_free(vq_imatrix *m);
void vq_npy_free(vq_npy *a);

/* Reads a whole file into a vq_malloc'd buffer. */
int vq_read_file(const char *path, uint8_t **buf, size_t *len, vq_err *err);

#endif
