/* llama2.h — a llama2.c model in C: the legacy checkpoint reader, the BPE tokenizer
 * (tokenizer.bin format) and an fp32 forward pass for one position, with the key/value cache
 * behind a small interface so that the plain fp32 cache and vqdb's compressed cache
 * (kvcache.h) plug into the same forward pass.
 *
 * Checkpoint ("legacy" llama2.c export, version 0): seven little-endian int32 — dim,
 * hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: the classifier is stored
 * apart instead of shared with the embedding), seq_len — then float32 weights in this order:
 * token embedding [vocab][dim], rms_att [L][dim], wq [L][dim][dim], wk [L][kv_dim][dim],
 * wv [L][kv_dim][dim], wo [L][dim][dim], rms_ffn [L][dim], w1 [L][hidden][dim],
 * w2 [L][dim][hidden], w3 [L][hidden][dim], rms_final [dim], two unused RoPE tables
 * [seq_len][head_size/2] each, and the classifier [vocab][dim] when unshared. Matrices are
 * row-major [out][in]. The reader checks every size against the buffer and fails with
 * VQ_ECORRUPT (naming the field) on a bad header, a truncated file or trailing bytes.
 *
 * Forward pass (llama2.c run.c): RMSNorm (eps 1e-5), q/k/v projections, rotary embedding
 * on q and k (pairs (2i, 2i+1) of each head, frequency 10000^(-2i/head_size)), causal
 * multi-head attention with grouped key/value heads, output projection, residual, RMSNorm,
 * SwiGLU feed-forward, residual; final RMSNorm and classifier.
 *
 * Thread safety: a loaded vqe_llm and vqe_llm_tokenizer are read-only and may be shared; a
 * vqe_llm_state (activations and the built-in fp32 cache) belongs to one thread at a time.
 */
#ifndef VQE_LLAMA2_H
#define VQE_LLAMA2_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits on header fields: generous for llama2.c models, small enough that sizes cannot
 * overflow size_t products. */
#define VQE_LLM_DIM_MAX 16384
#define VQE_LLM_HIDDEN_MAX 65536
#define VQE_LLM_LAYERS_MAX 256
#define VQE_LLM_VOCAB_MAX 1048576
#define VQE_LLM_SEQ_MAX 1048576

typedef struct vqe_llm_config {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared_classifier; /* 1 when the classifier is the token embedding */
    int head_size;         /* dim / n_heads */
    int kv_dim;            /* n_kv_heads * head_size */
} vqe_llm_config;

typedef struct vqe_llm vqe_llm;

/* Parses a checkpoint held in memory (len bytes); the weights are copied. */
int vqe_llm_load(const uint8_t *buf, size_t len, vqe_llm **out, vq_err *err);
int vqe_llm_open(const char *path, vqe_llm **out, vq_err *err);
/* A deep copy (to compress the weights of one copy and keep the other). */
int vqe_llm_clone(const vqe_llm *m, vqe_llm **out, vq_err *err);
void vqe_llm_free(vqe_llm *m);
const vqe_llm_config *vqe_llm_config_of(const vqe_llm *m);
/* Serializes to the legacy checkpoint format (vq_malloc'd; free with vq_free). */
int vqe_llm_save(const vqe_llm *m, uint8_t **buf, size_t *len, vq_err *err);

/* The model's weight tensors by llama2.c name ("wq", "w1", "token_embedding", ...), one
 * entry per stacked tensor: rows = n_layers * out, cols = in for the matrices, the data
 * mutable so that weights.c can replace it by its reconstruction. 1-D norms have ndim 1. */
typedef struct vqe_llm_tensor {
    const char *name;
    int ndim;
    size_t rows, cols; /* ndim 1: rows = 1 (per layer: rows = n_layers) */
    size_t per_layer_rows;
    float *data;
} vqe_llm_tensor;
#define VQE_LLM_TENSORS_MAX 12
/* Fills up to VQE_LLM_TENSORS_MAX entries and returns how many. */
size_t vqe_llm_tensors(vqe_llm *m, vqe_llm_tensor *out);

/* Key/value cache interface seen by the forward pass. append stores the post-RoPE key and
 * the value of one position for one layer (kv_dim floats each); attend computes, for every
 * query head, softmax(q·k / sqrt(head_size)) over all positions appended so far for that
 * layer and the weighted sum of values into out (dim floats). With pre_rope = 1 the forward
 * pass appends the key before the rotary embedding instead (the cache then applies RoPE of
 * each cached position at score time; kvcache.h), the query stays post-RoPE. */
typedef struct vqe_llm_kv {
    void *ctx;
    int (*append)(void *ctx, int layer, const float *k, const float *v, vq_err *err);
    int (*attend)(void *ctx, int layer, const float *q, float *out, vq_err *err);
    int pre_rope;
} vqe_llm_kv;

/* The rotary embedding of llama2.c on n_heads heads of head_size floats (even) at position
 * pos: pair (2i, 2i+1) of each head turns by pos * base^(-2i/head_size) (base 10000 in
 * llama2.c), computed in float exactly as the forward pass does. inverse = 1 turns the other
 * way (R(pos)^T). In place. */
void vqe_llm_rope(float *x, int n_heads, int head_size, int pos, float base, int inverse);
/* cos and sin of the angle of pair i at position pos, as vqe_llm_rope computes them. */
void vqe_llm_rope_cs(int i, int head_size, int pos, float base, float *c, float *s);

/* Optional capture of one forward step: per layer (n_layers * dim or kv_dim or hidden
 * floats each, layer-major), the inputs of each matrix and the post-RoPE q and k and v.
 * Any pointer may be NULL. */
typedef struct vqe_llm_trace {
    float *q, *k, *v; /* L * dim, L * kv_dim, L * kv_dim */
    float *x_att;     /* L * dim: RMS-normed input of wq/wk/wv */
    float *x_wo;      /* L * dim: attention output, input of wo */
    float *x_ffn;     /* L * dim: RMS-normed input of w1/w3 */
    float *x_w2;      /* L * hidden: input of w2 */
    float *x_cls;     /* dim: input of the classifier */
    float *k_pre;     /* L * kv_dim: the keys before RoPE */
} vqe_llm_trace;

typedef struct vqe_llm_state vqe_llm_state;
int vqe_llm_state_new(const vqe_llm *m, vqe_llm_state **out, vq_err *err);
void vqe_llm_state_free(vqe_llm_state *s);
/* Empties the built-in fp32 cache (a new sequence). */
void vqe_llm_state_reset(vqe_llm_state *s);
/* The built-in fp32 cache of the state as an interface (valid while s lives). */
vqe_llm_kv vqe_llm_state_f32_kv(vqe_llm_state *s);

/* Runs one position: token at position pos (0-based; the cache must hold exactly pos
 * positions). kv NULL uses the built-in fp32 cache. Writes vocab_size logits; the pointer
 * is valid until the next call on s. trace may be NULL. */
int vqe_llm_forward(const vqe_llm *m, vqe_llm_state *s, const vqe_llm_kv *kv, int token, int pos,
                    const vqe_llm_trace *trace, const float **logits, vq_err *err);

/* The tokenizer (llama2.c tokenizer.bin): int32 max_token_length, then per token a float32
 * merge score, an int32 length and that many bytes. */
typedef struct vqe_llm_tokenizer vqe_llm_tokenizer;
int vqe_llm_tokenizer_load(const uint8_t *buf, size_t len, int vocab_size, vqe_llm_tokenizer **out,
                           vq_err *err);
int vqe_llm_tokenizer_open(const char *path, int vocab_size, vqe_llm_tokenizer **out, vq_err *err);
void vqe_llm_tokenizer_free(vqe_llm_tokenizer *t);
/* The piece of token id as stored (valid while t lives); after BOS (prev == 1) a leading
 * space is dropped as llama2.c does; "<0xHH>" byte tokens come back as that single byte
 * (in a buffer owned by t, valid until the next call). */
const char *vqe_llm_decode(vqe_llm_tokenizer *t, int prev, int id);
/* BPE-encodes text (UTF-8) into at most cap tokens: optional BOS (1), a leading space piece
 * as SentencePiece does, characters then greedy best-score merges. */
int vqe_llm_encode(const vqe_llm_tokenizer *t, const char *text, int bos, int *tokens, size_t cap,
                   size_t *n, vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
