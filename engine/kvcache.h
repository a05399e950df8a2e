/* kvcache.h — a compressed key/value cache for transformer decoding, built on vqdb's
 * quantizers (quant.h) so that the codes that serve vector search also serve attention.
 *
 * Layout: per layer and per key/value head, keys and values are stored apart, each under its
 * own spec: any quant/ spec ("tq:bits=3", "tq-ip:bits=3", "qjl:m=32", "pq:m=8,bits=4", "sq8",
 * "fp16", "f32"...) or the KIVI-style integer baseline "kivi:bits=2|4[,group=G]" (kivi.h).
 * Options: centering (the calibration mean is subtracted before coding), joint quantization of a
 * layer's heads as one vector (joint_heads), a full-precision window of the most recent tokens
 * (fp32; sliding, or flushed a group at a time as KIVI's residual), and per head a few outlier
 * channels kept in fp16 and left out of the quantized vector (chosen on the calibration tokens by
 * mean |x| per channel, as QJL and KIVI do for keys).
 *
 * Optional pre-RoPE keys (pre_rope): the cache stores keys before the rotary embedding and
 * scores token t with the query turned back by t's rotation, est(R(t)^T q, code_t), so every
 * quantizer's own asymmetric estimator is evaluated on an ordinary query (one prepare per
 * token; KIVI keys are decoded and dotted, which is their estimator).
 *
 * Attention for one query head (vqe_kv_attend): scores q·k for the compressed tokens come
 * from the codes through vq_quant_score with the inner-product metric (the quantizers' SIMD
 * kernels, asymmetric: the query stays fp32), plus the exact outlier-channel and window
 * terms; softmax; then the weighted sum of values through vq_quant_decode_wsum (TurboQuant
 * sums in its rotated domain and rotates back once per query head; other quantizers decode
 * 32 tokens at a time into a small scratch; KIVI values likewise), so the fp32 cache is
 * never materialized.
 *
 * Bits accounting (vqe_kv_stats): every stored byte per token — codes with their norms,
 * scales and zero points, KIVI's fp32 residual group, outlier channels, the fp32 window —
 * divided by the channels stored. The quantizers' shared state (rotations, codebooks) is
 * reported apart as state_bytes.
 *
 * Thread safety: a vqe_kv belongs to one thread at a time (attend uses scratch in the
 * handle). Distinct handles are independent.
 */
#ifndef VQE_KVCACHE_H
#define VQE_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "llama2.h"
#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_KV_WINDOW_DEFAULT 0u
#define VQE_KV_WINDOW_MAX (1u << 20)
#define VQE_KV_HEAD_DIM_MAX 4096u
#define VQE_KV_HEADS_MAX 1024u
#define VQE_KV_LAYERS_MAX 1024u
#define VQE_KV_OUTLIERS_DEFAULT 0u
/* Tokens decoded at once when summing values. */
#define VQE_KV_DECODE_BLOCK 32u

typedef struct vqe_kv_params {
    unsigned n_layers;      /* [1, VQE_KV_LAYERS_MAX] */
    unsigned n_heads;       /* key/value heads per layer, [1, VQE_KV_HEADS_MAX] */
    unsigned head_dim;      /* [1, VQE_KV_HEAD_DIM_MAX] */
    unsigned n_query_heads; /* for vqe_kv_llm: a multiple of n_heads; 0 means n_heads */
    const char *key_spec;   /* copied; default "f32" */
    const char *value_spec; /* copied; default "f32" */
    unsigned window;        /* most recent tokens kept in fp32, [0, VQE_KV_WINDOW_MAX] */
    unsigned key_outliers;  /* fp16 outlier channels per head, [0, head_dim - 1] */
    unsigned value_outliers;
    float scale; /* softmax temperature on q·k; 0 means 1/sqrt(head_dim) */
    /* 1: quantize the concatenation of a layer's n_heads keys (values) as one vector, so
     * per-vector overheads (norms, scales) spread over n_heads * head_dim channels; each
     * head's scores come from the joint code with the query zero outside its slice.
     * Outliers are then chosen per layer. 0: one quantized vector per head. */
    unsigned joint_heads;
    /* 1: subtract the per-channel mean of the calibration keys (values) before coding, per
     * layer and head. Exact for attention: q·mu is the same for every token (kept in the
     * logits), and the value mean comes back as mu · sum_t p_t. Costs no per-token bits.
     * Requires vqe_kv_calibrate. */
    unsigned center;
    /* 1: the window is KIVI's residual group instead of a sliding window: the last
     * n mod window tokens stay fp32 and a full group of `window` tokens is compressed at
     * once, so at multiples of `window` tokens nothing is held in fp32. KIVI keys do this
     * with their own group; this applies the same rule to any spec. 0: sliding window. */
    unsigned window_flush;
    /* 1: the window holds keys only (as KIVI's residual does); values are compressed at
     * append. 0: keys and values. */
    unsigned window_keys_only;
    /* 1: keys are appended before the rotary embedding (pre-RoPE, as KIVI and KVQuant
     * quantize them: channel statistics do not rotate with position), and attention applies
     * RoPE of each cached token's position at score time. RoPE is llama2.c's (llama2.h
     * vqe_llm_rope): pair (2i, 2i+1) of each head turns by pos * rope_base^(-2i/head_dim);
     * the token appended t-th to a layer (0-based) sits at position t. The query stays
     * post-RoPE. Needs an even head_dim. Costs no bits; reconstruct returns the stored
     * (pre-RoPE) key. Scores rotate the query instead of the key — see attend_core. */
    unsigned pre_rope;
    float rope_base; /* pre_rope: the RoPE base; 0 means 10000 (llama2.c) */
} vqe_kv_params;

vqe_kv_params vqe_kv_params_default(void);

typedef struct vqe_kv vqe_kv;

int vqe_kv_new(const vqe_kv_params *p, vqe_kv **out, vq_err *err);
void vqe_kv_free(vqe_kv *kv);
/* Trains the layer's quantizers (those that need data: sq8, pq...) and picks its outlier
 * channels on n calibration tokens: keys and values n * (n_heads * head_dim) floats each,
 * row-major, head-major within a token. Required before the first append of a layer when
 * a spec needs training or outliers are on; otherwise optional. Empties the layer. */
int vqe_kv_calibrate(vqe_kv *kv, unsigned layer, size_t n, const float *keys, const float *values,
                     vq_err *err);
/* Appends one token to a layer: key and value n_heads * head_dim floats each. */
int vqe_kv_append(vqe_kv *kv, unsigned layer, const float *key, const float *value, vq_err *err);
/* Tokens held by a layer. */
size_t vqe_kv_len(const vqe_kv *kv, unsigned layer);
/* Empties every layer (a new sequence); training and outlier choices stay. */
void vqe_kv_reset(vqe_kv *kv);

/* Attention of one query (head_dim floats) against every token of (layer, head): out gets
 * head_dim floats. logits (scaled q·k estimates) and probs (softmax) receive len floats
 * each when non-NULL. */
int vqe_kv_attend(vqe_kv *kv, unsigned layer, unsigned head, const float *q, float *out,
                  float *logits, float *probs, vq_err *err);
/* Attention of all n_query_heads queries of a layer (q and out: n_query_heads * head_dim
 * floats; query head h reads key/value head h / (n_query_heads / n_heads)). Each block of
 * values is decoded once for all the query heads that read it. */
int vqe_kv_attend_all(vqe_kv *kv, unsigned layer, const float *q, float *out, vq_err *err);
/* The reconstruction of token t of (layer, head): head_dim floats each (either may be NULL).
 * For tests and diagnostics; attend never calls it. */
int vqe_kv_reconstruct(const vqe_kv *kv, unsigned layer, unsigned head, size_t t, float *key,
                       float *value, vq_err *err);

typedef struct vqe_kv_stats {
    size_t tokens;           /* summed over layers */
    size_t key_bytes;        /* every per-token byte of the keys (all layers and heads) */
    size_t value_bytes;      /* the same for values */
    size_t state_bytes;      /* quantizers' shared state, not per token */
    double key_bits;         /* bits per key channel */
    double value_bits;       /* bits per value channel */
    double bits_per_channel; /* over keys and values together */
    double bytes_per_token;  /* keys + values of all layers and heads, per token position */
} vqe_kv_stats;
void vqe_kv_stats_get(const vqe_kv *kv, vqe_kv_stats *st);

/* The cache as the forward pass's interface (llama2.h); valid while kv lives. The
 * n_query_heads of the params map query heads onto key/value heads. */
vqe_llm_kv vqe_kv_llm(vqe_kv *kv);

#ifdef __cplusplus
}
#endif
#endif
