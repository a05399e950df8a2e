/* weights.h — weight-matrix compression with vqdb's quantizers, and the model-file readers
 * it needs (.safetensors, .npy, llama2.c checkpoints) plus a safetensors writer.
 *
 * Quantization (vqe_w_quantize): a 2-D tensor [rows][cols] is cut into vectors — whole rows
 * (group 0) or consecutive groups of `group` columns — and each vector goes through any
 * quant/ spec ("tq:bits=4", "pq:m=16,bits=8", "sq8", ...) trained on the tensor's own
 * vectors, or through the per-group integer baseline "int:bits=b[,group=g]" (symmetric,
 * round to nearest, one fp16 scale per g weights of a row; default g = 32). Bits per weight
 * count the codes and every per-tensor state (codebooks, rotations, scales).
 *
 * Compressed file (vqe_w_compress / vqe_w_decompress): "VQWZ", version 1, tensor count,
 * then per tensor its name, shape, group, spec and either raw float32 (1-D tensors) or the
 * quantizer's saved state (vq_quant_save) followed by the codes; a CRC-32 of everything
 * before it closes the file. Every read is bounds-checked; corruption gives VQ_ECORRUPT.
 *
 * Readers: safetensors (8-byte little-endian header length, JSON header parsed with cJSON:
 * {"name": {"dtype": "F32"|"F16"|"BF16", "shape": [...], "data_offsets": [b, e]}, ...,
 * "__metadata__": {...}}), .npy (v1-v3, little-endian f32/f16, C order) and llama2.c
 * checkpoints (llama2.h). Offsets outside the data, shapes that do not match the byte
 * ranges, bad JSON, truncation: VQ_ECORRUPT naming the tensor and the field.
 *
 * Thread safety: all functions are reentrant; results belong to the caller.
 */
#ifndef VQE_WEIGHTS_H
#define VQE_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_W_NAME_MAX 256
#define VQE_W_NDIM_MAX 8
#define VQE_W_TENSORS_MAX 100000
#define VQE_W_GROUP_MAX 65536u
#define VQE_W_INT_GROUP_DEFAULT 32u

typedef struct vqe_w_tensor {
    char name[VQE_W_NAME_MAX];
    unsigned ndim;
    size_t shape[VQE_W_NDIM_MAX];
    size_t count; /* product of shape */
    float *data;  /* count floats (converted from f16/bf16 when needed); vq_free */
} vqe_w_tensor;

typedef struct vqe_w_file {
    size_t n;
    vqe_w_tensor *t;
} vqe_w_file;

void vqe_w_file_free(vqe_w_file *f);

int vqe_w_safetensors_parse(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err);
/* Writes float32 tensors; *buf is vq_malloc'd. */
int vqe_w_safetensors_write(const vqe_w_file *f, uint8_t **buf, size_t *len, vq_err *err);
int vqe_w_npy_parse(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err);
/* llama2.c checkpoint bytes: one tensor per llama2.h vqe_llm_tensors entry. */
int vqe_w_llama2_parse(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err);
/* Picks the reader by content: safetensors, .npy magic, else llama2.c checkpoint. */
int vqe_w_parse_any(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err);
int vqe_w_read(const char *path, vqe_w_file *out, vq_err *err);
int vqe_w_write_file(const char *path, const uint8_t *buf, size_t len, vq_err *err);

typedef struct vqe_w_params {
    const char *spec; /* quant/ spec or "int:bits=b[,group=g]" */
    unsigned group;   /* columns per vector; 0: whole rows. Must divide cols. */
} vqe_w_params;

typedef struct vqe_w_result {
    double rel_frob;        /* ||W - W^||_F / ||W||_F */
    double bits_per_weight; /* codes + per-tensor state */
    size_t bytes;           /* compressed bytes of the tensor */
} vqe_w_result;

/* Quantizes one [rows][cols] tensor; w_hat (rows * cols floats) receives the
 * reconstruction; blob (vq_malloc'd, may be NULL) the compressed form. */
int vqe_w_quantize(const float *w, size_t rows, size_t cols, const vqe_w_params *p, float *w_hat,
                   uint8_t **blob, size_t *blob_len, vqe_w_result *res, vq_err *err);
/* ||W x - W^ x|| / ||W x|| averaged over n vectors x (n * cols floats). */
double vqe_w_matvec_rel_err(const float *w, const float *w_hat, size_t rows, size_t cols,
                            const float *x, size_t n);

typedef struct vqe_w_report {
    char name[VQE_W_NAME_MAX];
    size_t rows, cols;
    int quantized; /* 0 for 1-D tensors kept in fp32 */
    vqe_w_result r;
} vqe_w_report;

/* Compresses every 2-D tensor of f (1-D ones stay fp32; tensors of higher rank are
 * flattened to [shape0][rest]); report (f->n entries, may be NULL) gets per-tensor results;
 * recon (may be NULL) receives a copy of f with the reconstructions. */
int vqe_w_compress(const vqe_w_file *f, const vqe_w_params *p, uint8_t **buf, size_t *len,
                   vqe_w_report *report, vqe_w_file *recon, vq_err *err);
int vqe_w_decompress(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
