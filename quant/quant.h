/* quant.h — the quantizer contract. Every quantizer in vqdb (PQ, TurboQuant, RaBitQ, QJL,
 * binary, scalar, PCA pre-transform) sits behind this one interface, which index/, engine/
 * (KV cache, weights) and the benchmarks use without knowing which one they hold.
 *
 * Life cycle (FAISS's quantizer/scanner split):
 *   vq_quant_new(spec, d)  -> train (no-op for data-oblivious quantizers) -> encode/decode
 *   per query: vq_query_new once per thread, vq_query_prepare per query vector, then
 *   vq_quant_score over blocks of codes.
 *
 * Spec strings: "NAME[:key=value,...]" with an optional pre-transform prefix joined by '+':
 *   "pq:m=16,bits=8", "pq:m=32,bits=4", "tq:bits=4", "tq:bits=4,rescale=1", "tq-ip:bits=3",
 *   "rabitq:bits=1", "rabitq:bits=4", "qjl", "qjl:m=256", "bin", "sq8", "fp16", "bf16",
 *   "f8e4m3", "f32", "pca:d=128+tq:bits=4". Unknown names or keys fail with VQ_ESPEC naming
 *   the key. Every quantizer accepts "seed=N" where it draws random numbers.
 *
 * Codes: each vector encodes to vq_quant_code_size() bytes (row-major). Scoring works on a
 * packed layout: groups of vq_quant_block() vectors (1 for most quantizers; 32 for 4-bit
 * fast-scan PQ, whose kernel scores 32 codes with one shuffle). vq_quant_pack converts up to
 * one block of row-major codes into the packed form; for block = 1 it is a copy.
 *
 * Scores are distances: smaller is closer. For VQ_METRIC_L2 the estimate of ||q - x||^2; for
 * VQ_METRIC_IP (and COS, which callers reduce to IP on normalized vectors) the estimate of
 * -<q, x>. Quantizers that store a per-vector norm estimate both metrics from one code.
 *
 * Thread safety: a trained vq_quant is read-only and may be shared by any number of threads;
 * train and load must not run concurrently with anything else on the same handle. A vq_query
 * belongs to one thread at a time.
 */
#ifndef VQ_QUANT_H
#define VQ_QUANT_H

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vq_quant vq_quant;
typedef struct vq_query vq_query;

#define VQ_DIM_MAX 65536u
#define VQ_SPEC_MAX 256u

/* Creates an untrained quantizer for d-dimensional input vectors from a spec string. */
int vq_quant_new(const char *spec, unsigned d, vq_quant **out, vq_err *err);
void vq_quant_free(vq_quant *q);

/* Trains on n * d floats, row-major. Quantizers that need no training (TurboQuant, QJL,
 * fp16...) accept the call and only record that they are ready. */
int vq_quant_train(vq_quant *q, size_t n, const float *x, vq_err *err);
int vq_quant_is_trained(const vq_quant *q);
/* Encodes n * d floats into n * code_size bytes (row-major). Fails with VQ_ESTATE before
 * training, VQ_ENOTFINITE on NaN/Inf. */
int vq_quant_encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err);
/* Decodes n row-major codes into n * d floats: the reconstruction x^. */
int vq_quant_decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err);
/* Weighted sums of decoded codes, without decoding each code: for r < nw and j < d,
 *   out[r*d + j] = sum_{i<n} w[r*ldw + i] * x^_i[j],   x^_i = vq_quant_decode(code i),
 * for n row-major codes and nw weight rows (stride ldw >= n when nw > 1). out (nw * d floats)
 * is overwritten; n = 0 gives zeros. This is the value side of attention (sum_t p_t v^_t).
 * Quantizers whose reconstruction is a fixed linear map of a per-code term (tq, tq-ip: the
 * inverse rotation of norm * codebook values, plus the sketch term and the centre) sum in
 * the code domain with SIMD kernels and apply the map once per weight row; the others
 * decode blocks of codes into scratch and accumulate. The result equals decode-then-sum up
 * to float rounding (summation order), never an approximation of it. Fails with VQ_ESTATE
 * before training, VQ_ENOTFINITE on a NaN/Inf weight, VQ_EINVAL on ldw < n. */
int vq_quant_decode_wsum(const vq_quant *q, size_t n, const uint8_t *codes, size_t nw,
                         const float *w, size_t ldw, float *out, vq_err *err);

unsigned vq_quant_dim(const vq_quant *q);
size_t vq_quant_code_size(const vq_quant *q);
unsigned vq_quant_block(const vq_quant *q);
/* Bytes one packed block of vq_quant_block() vectors takes. */
size_t vq_quant_block_bytes(const vq_quant *q);
/* Bytes per vector of the quantizer's codes (code_size); the trained state (codebooks,
 * rotations) is reported apart by vq_quant_state_bytes. */
double vq_quant_bytes_per_vector(const vq_quant *q);
size_t vq_quant_state_bytes(const vq_quant *q);
/* The canonical spec (as parsed, defaults filled in). Valid while q lives. */
const char *vq_quant_spec(const vq_quant *q);
/* The registered name ("pq", "tq", ...). */
const char *vq_quant_name(const vq_quant *q);

/* Packs n <= block row-major codes into one packed block (block_bytes), zero-padding the
 * missing slots; unpack copies code i of a packed block out in row-major form. */
void vq_quant_pack(const vq_quant *q, size_t n, const uint8_t *codes, uint8_t *block);
void vq_quant_unpack(const vq_quant *q, const uint8_t *block, size_t i, uint8_t *code);

/* Per-thread query state: rotated query, lookup tables, kernel choice. */
int vq_query_new(const vq_quant *q, vq_query **out, vq_err *err);
void vq_query_free(vq_query *qs);
/* Prepares for one query vector (d floats) under a metric; COS is treated as IP. */
int vq_query_prepare(vq_query *qs, const float *query, vq_metric metric, vq_err *err);
/* Uses the scalar reference kernels (VQ_ISA_SCALAR) or the dispatched ones, for comparisons.
 * Takes effect at the next vq_query_prepare. */
void vq_query_set_isa(vq_query *qs, vq_isa isa);
/* Scores n codes stored packed (ceil(n / block) blocks, contiguous) into dist[0..n). */
void vq_quant_score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist);
/* Scores one row-major code (for graph traversal, which visits codes one at a time). */
float vq_quant_score_one(const vq_query *qs, const uint8_t *code);
/* Scores n row-major codes found at scattered addresses (a graph node's neighbours) into
 * dist[0..n): the same values as vq_quant_score_one, with the per-call dispatch paid once. */
void vq_quant_score_ptrs(const vq_query *qs, const uint8_t *const *codes, size_t n, float *dist);

/* L2 through the inner product: for quantizers whose IP score is exactly -<q, x^> (x^ the
 * decoded code) and cheaper than their L2 score (sq8: an integer kernel), a structure can
 * store |x^|^2 beside each code and score L2 as |q|^2 + |x^|^2 + 2 * score_ip, the same value
 * as the L2 score up to rounding. vq_quant_has_sqnorm says whether q offers it (0 or 1);
 * vq_quant_sqnorm returns |x^|^2 of one row-major code (call only when it does). */
int vq_quant_has_sqnorm(const vq_quant *q);
float vq_quant_sqnorm(const vq_quant *q, const uint8_t *code);

/* Serialized form: a framed record (magic, version, spec, length, CRC-32) that load
 * verifies before trusting any byte. save allocates *buf with vq_malloc; free with vq_free. */
int vq_quant_save(const vq_quant *q, uint8_t **buf, size_t *len, vq_err *err);
int vq_quant_load(const uint8_t *buf, size_t len, vq_quant **out, vq_err *err);

/* Names of the registered quantizers, NULL-terminated, for help texts. */
const char *const *vq_quant_names(void);

#ifdef __cplusplus
}
#endif
#endif
