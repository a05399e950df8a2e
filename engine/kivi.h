/* kivi.h — private to engine/: the KIVI-style integer baseline of the KV cache (Liu et al.,
 * "KIVI: a tuning-free asymmetric 2bit quantization for KV cache", 2024) as used by
 * kvcache.c. Spec "kivi:bits=2|4[,group=G]".
 *
 * Keys are quantized per channel: each group of G consecutive tokens stores, for every
 * channel, an fp16 minimum (zero point) and an fp16 scale, then a b-bit code per token and
 * channel. Tokens of the unfinished group stay in fp32 (KIVI's residual). Scores are
 * computed on the codes: <q, k_t> = sum_c q_c z_c + sum_c (q_c s_c) code_tc.
 * Values are quantized per token in groups of G channels (G divides the head dimension; the
 * default is min(32, head_dim)), each group with an fp16 scale and zero point: a fixed-size
 * per-token code that kvcache.c decodes on the fly. Codes round to nearest.
 *
 * Thread safety: none; a key store belongs to one cache.
 */
#ifndef VQE_KIVI_H
#define VQE_KIVI_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#define VQE_KIVI_GROUP_DEFAULT 32u
#define VQE_KIVI_GROUP_MAX 4096u

typedef struct vqe__kivi_spec {
    unsigned bits;  /* 2 or 4 (also 1..8 accepted: 3, 8 for sweeps) */
    unsigned group; /* tokens per key group; channels per value group */
} vqe__kivi_spec;

/* Parses "kivi:bits=b[,group=g]"; returns 1 when spec names kivi, 0 when it does not, or a
 * negative code for a malformed kivi spec. value_dim > 0 checks and defaults the value group. */
int vqe__kivi_parse(const char *spec, unsigned value_dim, vqe__kivi_spec *out, vq_err *err);

/* Per-token value codes. */
size_t vqe__kivi_value_code_size(const vqe__kivi_spec *s, unsigned dim);
void vqe__kivi_value_encode(const vqe__kivi_spec *s, unsigned dim, const float *x, uint8_t *code);
void vqe__kivi_value_decode(const vqe__kivi_spec *s, unsigned dim, const uint8_t *code, float *x);

/* Key store for one head. */
typedef struct vqe__kivi_keys vqe__kivi_keys;
int vqe__kivi_keys_new(const vqe__kivi_spec *s, unsigned dim, vqe__kivi_keys **out, vq_err *err);
void vqe__kivi_keys_free(vqe__kivi_keys *k);
void vqe__kivi_keys_reset(vqe__kivi_keys *k);
int vqe__kivi_keys_append(vqe__kivi_keys *k, const float *x, vq_err *err);
size_t vqe__kivi_keys_len(const vqe__kivi_keys *k);
/* dot[t] = <q, k^_t> for every stored token t (len floats). */
void vqe__kivi_keys_dot(const vqe__kivi_keys *k, const float *q, float *dot);
/* The reconstruction of token t (dim floats). */
void vqe__kivi_keys_decode(const vqe__kivi_keys *k, size_t t, float *x);
/* Bytes held for the stored tokens: codes, scales, zero points, the fp32 residual. */
size_t vqe__kivi_keys_bytes(const vqe__kivi_keys *k);

#endif
