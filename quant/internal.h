/* internal.h — private to quant/: the quantizer vtable, the handle layouts, serialization
 * buffers with bounds checks, spec-parameter parsing and the seeded RNG.
 *
 * A quantizer is one .c file that defines a `const vq_quant_ops vq__ops_<name>` and is
 * listed in the registry in quant.c. quant.c validates every public call (state, dimension,
 * finiteness) before it reaches the ops, so ops may assume well-formed input.
 */
#ifndef VQ_QUANT_INTERNAL_H
#define VQ_QUANT_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "quant.h"

#define VQ_QUANT_OPS_VERSION 1
#define VQ__PARAMS_MAX 16

/* A parsed "name:k=v,k=v" spec. Each accessor marks its key used; vq__params_done fails
 * on any key left unused, so typos are reported instead of ignored. */
typedef struct vq_params {
    char name[32];
    unsigned n;
    char key[VQ__PARAMS_MAX][32];
    char val[VQ__PARAMS_MAX][64];
    int used[VQ__PARAMS_MAX];
} vq_params;

int vq__params_parse(const char *spec, vq_params *p, vq_err *err);
int vq__param_uint(vq_params *p, const char *key, unsigned def, unsigned min, unsigned max,
                   unsigned *out, vq_err *err);
int vq__param_u64(vq_params *p, const char *key, uint64_t def, uint64_t *out, vq_err *err);
int vq__param_float(vq_params *p, const char *key, float def, float min, float max, float *out,
                    vq_err *err);
int vq__param_has(const vq_params *p, const char *key);
int vq__params_done(const vq_params *p, vq_err *err);

/* Growable write buffer; any failed allocation sticks in `oom` and is reported once. */
typedef struct vq_wbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} vq_wbuf;
void vq__w_bytes(vq_wbuf *w, const void *src, size_t n);
void vq__w_u32(vq_wbuf *w, uint32_t v);
void vq__w_u64(vq_wbuf *w, uint64_t v);
void vq__w_f32(vq_wbuf *w, float v);
void vq__w_f32s(vq_wbuf *w, const float *v, size_t n);

/* Bounds-checked reader: every read fails with VQ_ECORRUPT instead of reading past len. */
typedef struct vq_rbuf {
    const uint8_t *p;
    size_t len, pos;
    const char *what; /* names the record in error messages */
} vq_rbuf;
int vq__r_bytes(vq_rbuf *r, void *dst, size_t n, vq_err *err);
int vq__r_u32(vq_rbuf *r, uint32_t *v, vq_err *err);
int vq__r_u64(vq_rbuf *r, uint64_t *v, vq_err *err);
int vq__r_f32(vq_rbuf *r, float *v, vq_err *err);
int vq__r_f32s(vq_rbuf *r, float *v, size_t n, vq_err *err);
/* Fails unless exactly len bytes were consumed. */
int vq__r_end(const vq_rbuf *r, vq_err *err);

uint32_t vq__crc32(uint32_t crc, const void *p, size_t n);

/* Mean of n * d floats (row-major) into *c (d floats, allocated when *c is NULL): the
 * centre that center=1 quantizers train. */
int vq__mean_train(size_t n, unsigned d, const float *x, float **c, vq_err *err);

/* xoshiro256** seeded by splitmix64: the same numbers on every CPU and compiler. */
typedef struct vq_rng {
    uint64_t s[4];
} vq_rng;
void vq__rng_seed(vq_rng *r, uint64_t seed);
uint64_t vq__rng_u64(vq_rng *r);
double vq__rng_uniform(vq_rng *r); /* [0, 1) */
double vq__rng_normal(vq_rng *r);  /* N(0, 1), Box-Muller */

typedef struct vq_quant_ops vq_quant_ops;

struct vq_quant {
    const vq_quant_ops *ops;
    unsigned d;         /* input dimension */
    size_t code_size;   /* bytes per row-major code */
    unsigned block;     /* vectors per packed block: 1, or 32 for fast-scan */
    size_t block_bytes; /* bytes per packed block */
    int trained;
    char spec[VQ_SPEC_MAX]; /* canonical spec, written by ops->create */
    void *impl;             /* the quantizer's own state */
};

struct vq_query {
    const vq_quant *q;
    vq_isa isa;       /* kernels this query uses */
    vq_metric metric; /* L2 or IP (COS arrives as IP) */
    int prepared;
    void *impl; /* the quantizer's per-query state (ops->query_new) */
};

struct vq_quant_ops {
    int version; /* VQ_QUANT_OPS_VERSION */
    const char *name;
    /* Non-zero for a pre-transform that wraps an inner quantizer ("pca:d=64+sq8"). */
    int is_transform;
    /* Reads params (calls vq__params_done), sets code_size/block/block_bytes/spec/impl.
     * inner_spec is the part after '+' for transforms, NULL otherwise. */
    int (*create)(vq_quant *q, vq_params *p, const char *inner_spec, vq_err *err);
    /* NULL when the quantizer needs no data (it is then trained on creation). */
    int (*train)(vq_quant *q, size_t n, const float *x, vq_err *err);
    int (*encode)(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err);
    int (*decode)(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err);
    /* Per-query state; query_new may be NULL when prepare needs none. */
    int (*query_new)(const vq_quant *q, void **state, vq_err *err);
    void (*query_free)(void *state);
    int (*prepare)(vq_query *qs, const float *query, vq_err *err);
    void (*score)(const vq_query *qs, const uint8_t *packed, size_t n, float *dist);
    /* NULL: quant.c calls score on one code (valid only when block == 1). */
    float (*score_one)(const vq_query *qs, const uint8_t *code);
    /* NULL when block == 1. */
    void (*pack)(const vq_quant *q, size_t n, const uint8_t *codes, uint8_t *block);
    void (*unpack)(const vq_quant *q, const uint8_t *block, size_t i, uint8_t *code);
    /* Trained state only; the spec and dimension are framed by quant.c. load runs on a
     * handle fresh from create with the saved spec. NULL when there is no state. */
    int (*save)(const vq_quant *q, vq_wbuf *w, vq_err *err);
    int (*load)(vq_quant *q, vq_rbuf *r, vq_err *err);
    size_t (*state_bytes)(const vq_quant *q);
    void (*destroy)(vq_quant *q);
    /* Optional (NULL: quant.c decodes blocks and accumulates): vq_quant_decode_wsum with
     * validated arguments, n >= 1, nw >= 1, finite weights; writes all of out. */
    int (*decode_wsum)(const vq_quant *q, size_t n, const uint8_t *codes, size_t nw, const float *w,
                       size_t ldw, float *out, vq_err *err);
    /* Optional: |decode(code)|^2, for quantizers whose IP score is exactly -<q, decode(code)>
     * and cheaper than their L2 score (vq_quant_sqnorm). */
    float (*code_sqnorm)(const vq_quant *q, const uint8_t *code);
    /* Optional (NULL: quant.c calls score_one per code): vq_quant_score_ptrs. */
    void (*score_ptrs)(const vq_query *qs, const uint8_t *const *codes, size_t n, float *dist);
};

/* The registry (quant.c). */
extern const vq_quant_ops vq__ops_f32, vq__ops_fp16, vq__ops_bf16, vq__ops_sq8, vq__ops_f8e4m3,
    vq__ops_pq, vq__ops_tq, vq__ops_tq_ip, vq__ops_rabitq, vq__ops_qjl, vq__ops_bin, vq__ops_pca;

/* Convenience: the kernel ISA a query should use. */
static inline vq_isa vq__qs_isa(const vq_query *qs) { return qs->isa; }

/* RaBitQ's error bound (rabitq.c): [*lo, *hi] holds the true score (distance) of `code`
 * for the query prepared in qs, with the probability set by the spec's eps (1.9: about
 * 94% for the worst-placed pairs, more for near ones). VQ_EINVAL when qs is not a prepared
 * rabitq query. Used by index/ to re-rank by bounds. */
int vq__rabitq_bounds(const vq_query *qs, const uint8_t *code, float *lo, float *hi);

#endif
