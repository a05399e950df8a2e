/* quant.c — the registry of quantizers, spec parsing with pre-transforms, the validated
 * public entry points and the framed serialization.
 *
 * Every public call checks what the ops may assume: a trained handle, a dimension in range,
 * finite input. The ops never see NaN/Inf or an untrained state.
 *
 * Saved form (little-endian):
 *   "VQQT" | u32 version (1) | u32 d | u32 spec_len | spec bytes | u64 body_len | body |
 *   u32 CRC-32 of every preceding byte.
 * load checks magic, version, lengths and CRC before parsing the spec or the body. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define FRAME_MAGIC "VQQT"
#define FRAME_VERSION 1u

static const vq_quant_ops *const g_registry[] = {
    &vq__ops_f32, &vq__ops_fp16,  &vq__ops_bf16,   &vq__ops_sq8, &vq__ops_f8e4m3, &vq__ops_pq,
    &vq__ops_tq,  &vq__ops_tq_ip, &vq__ops_rabitq, &vq__ops_qjl, &vq__ops_bin,    &vq__ops_pca,
};
#define N_REG (sizeof g_registry / sizeof g_registry[0])

const char *const *vq_quant_names(void) {
    static const char *names[N_REG + 1];
    for (size_t i = 0; i < N_REG; i++) names[i] = g_registry[i]->name;
    names[N_REG] = NULL;
    return names;
}

static const vq_quant_ops *lookup(const char *name) {
    for (size_t i = 0; i < N_REG; i++)
        if (!strcmp(g_registry[i]->name, name)) return g_registry[i];
    return NULL;
}

int vq_quant_new(const char *spec, unsigned d, vq_quant **out, vq_err *err) {
    vq_init();
    VQ_FAIL_IF(!spec, VQ_ESPEC, err, "spec", "spec is missing");
    VQ_FAIL_IF(strlen(spec) >= VQ_SPEC_MAX, VQ_ESPEC, err, "spec",
               "spec is longer than %u characters", VQ_SPEC_MAX - 1);
    VQ_FAIL_IF(d == 0 || d > VQ_DIM_MAX, VQ_EDIM, err, "dim", "dimension %u is outside [1, %u]", d,
               VQ_DIM_MAX);
    char head[VQ_SPEC_MAX];
    snprintf(head, sizeof head, "%s", spec);
    char *plus = strchr(head, '+');
    const char *inner = NULL;
    if (plus) {
        *plus = '\0';
        inner = spec + (plus - head) + 1;
    }
    vq_params p;
    VQ_TRY(vq__params_parse(head, &p, err));
    const vq_quant_ops *ops = lookup(p.name);
    VQ_FAIL_IF(!ops, VQ_ESPEC, err, "spec", "unknown quantizer '%s'", p.name);
    VQ_FAIL_IF(plus && !ops->is_transform, VQ_ESPEC, err, "spec",
               "'%s' is not a pre-transform and cannot be followed by '+'", p.name);
    VQ_FAIL_IF(!plus && ops->is_transform, VQ_ESPEC, err, "spec",
               "pre-transform '%s' needs a quantizer after '+' (e.g. '%s+sq8')", p.name, head);
    vq_quant *q = vq_calloc(1, sizeof *q);
    VQ_FAIL_IF(!q, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->ops = ops;
    q->d = d;
    q->block = 1;
    int rc = ops->create(q, &p, inner, err);
    if (rc < 0) {
        if (q->impl && ops->destroy) ops->destroy(q);
        vq_free(q);
        return rc;
    }
    if (!q->block_bytes) q->block_bytes = q->code_size * q->block;
    if (!ops->train) q->trained = 1;
    *out = q;
    return VQ_OK;
}

void vq_quant_free(vq_quant *q) {
    if (!q) return;
    if (q->ops->destroy) q->ops->destroy(q);
    vq_free(q);
}

int vq_quant_train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    VQ_FAIL_IF(!q || (!x && n), VQ_EINVAL, err, "train", "null argument");
    if (!q->ops->train) return VQ_OK;
    VQ_FAIL_IF(n == 0, VQ_EINVAL, err, "n", "%s needs at least one training vector", q->ops->name);
    VQ_TRY(vq_check_finite(x, n, q->d, "train", err));
    VQ_TRY(q->ops->train(q, n, x, err));
    q->trained = 1;
    return VQ_OK;
}

int vq_quant_is_trained(const vq_quant *q) { return q && q->trained; }

int vq_quant_encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    VQ_FAIL_IF(!q || (n && (!x || !codes)), VQ_EINVAL, err, "encode", "null argument");
    VQ_FAIL_IF(!q->trained, VQ_ESTATE, err, "quantizer", "%s must be trained before encode",
               q->spec);
    if (!n) return VQ_OK;
    VQ_TRY(vq_check_finite(x, n, q->d, "vector", err));
    return q->ops->encode(q, n, x, codes, err);
}

int vq_quant_decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    VQ_FAIL_IF(!q || (n && (!x || !codes)), VQ_EINVAL, err, "decode", "null argument");
    VQ_FAIL_IF(!q->trained, VQ_ESTATE, err, "quantizer", "%s must be trained before decode",
               q->spec);
    if (!n) return VQ_OK;
    return q->ops->decode(q, n, codes, x, err);
}

/* Codes decoded at once by the generic weighted sum. */
#define WSUM_BLOCK 32u

int vq_quant_decode_wsum(const vq_quant *q, size_t n, const uint8_t *codes, size_t nw,
                         const float *w, size_t ldw, float *out, vq_err *err) {
    VQ_FAIL_IF(!q || (nw && !out) || (n && nw && (!codes || !w)), VQ_EINVAL, err, "decode_wsum",
               "null argument");
    VQ_FAIL_IF(!q->trained, VQ_ESTATE, err, "quantizer", "%s must be trained before decode",
               q->spec);
    VQ_FAIL_IF(nw > 1 && ldw < n, VQ_EINVAL, err, "ldw", "weight stride %zu < n = %zu", ldw, n);
    if (!nw) return VQ_OK;
    size_t d = q->d;
    if (!n) {
        memset(out, 0, nw * d * sizeof(float));
        return VQ_OK;
    }
    for (size_t r = 0; r < nw; r++) VQ_TRY(vq_check_finite(w + r * ldw, 1, n, "weight", err));
    if (q->ops->decode_wsum) return q->ops->decode_wsum(q, n, codes, nw, w, ldw, out, err);
    size_t blk = n < WSUM_BLOCK ? n : WSUM_BLOCK;
    float *dec = vq_malloc(blk * d * sizeof(float));
    VQ_FAIL_IF(!dec, VQ_ENOMEM, err, "decode_wsum", "out of memory");
    memset(out, 0, nw * d * sizeof(float));
    int rc = VQ_OK;
    for (size_t t0 = 0; t0 < n && rc == VQ_OK; t0 += blk) {
        size_t m = n - t0 < blk ? n - t0 : blk;
        rc = q->ops->decode(q, m, codes + t0 * q->code_size, dec, err);
        for (size_t r = 0; r < nw && rc == VQ_OK; r++) {
            const float *wr = w + r * ldw + t0;
            float *o = out + r * d;
            for (size_t i = 0; i < m; i++) {
                float a = wr[i];
                const float *x = dec + i * d;
                for (size_t j = 0; j < d; j++) o[j] += a * x[j];
            }
        }
    }
    vq_free(dec);
    return rc;
}

unsigned vq_quant_dim(const vq_quant *q) { return q->d; }
size_t vq_quant_code_size(const vq_quant *q) { return q->code_size; }
unsigned vq_quant_block(const vq_quant *q) { return q->block; }
size_t vq_quant_block_bytes(const vq_quant *q) { return q->block_bytes; }
double vq_quant_bytes_per_vector(const vq_quant *q) { return (double)q->code_size; }
size_t vq_quant_state_bytes(const vq_quant *q) {
    return q->ops->state_bytes ? q->ops->state_bytes(q) : 0;
}
const char *vq_quant_spec(const vq_quant *q) { return q->spec; }
const char *vq_quant_name(const vq_quant *q) { return q->ops->name; }

void vq_quant_pack(const vq_quant *q, size_t n, const uint8_t *codes, uint8_t *block) {
    if (q->ops->pack) {
        q->ops->pack(q, n, codes, block);
        return;
    }
    memcpy(block, codes, n * q->code_size);
    if (n < q->block) memset(block + n * q->code_size, 0, (q->block - n) * q->code_size);
}

void vq_quant_unpack(const vq_quant *q, const uint8_t *block, size_t i, uint8_t *code) {
    if (q->ops->unpack)
        q->ops->unpack(q, block, i, code);
    else
        memcpy(code, block + i * q->code_size, q->code_size);
}

int vq_query_new(const vq_quant *q, vq_query **out, vq_err *err) {
    VQ_FAIL_IF(!q, VQ_EINVAL, err, "quantizer", "null quantizer");
    VQ_FAIL_IF(!q->trained, VQ_ESTATE, err, "quantizer",
               "%s must be trained before it can score queries", q->spec);
    vq_query *qs = vq_calloc(1, sizeof *qs);
    VQ_FAIL_IF(!qs, VQ_ENOMEM, err, "query", "out of memory");
    qs->q = q;
    qs->isa = vq_init();
    if (q->ops->query_new) {
        int rc = q->ops->query_new(q, &qs->impl, err);
        if (rc < 0) {
            vq_free(qs);
            return rc;
        }
    }
    *out = qs;
    return VQ_OK;
}

void vq_query_free(vq_query *qs) {
    if (!qs) return;
    if (qs->q->ops->query_free) qs->q->ops->query_free(qs->impl);
    vq_free(qs);
}

void vq_query_set_isa(vq_query *qs, vq_isa isa) {
    vq_isa best = vq_isa_active();
    qs->isa = isa < best ? isa : best;
}

int vq_query_prepare(vq_query *qs, const float *query, vq_metric metric, vq_err *err) {
    VQ_FAIL_IF(!qs || !query, VQ_EINVAL, err, "query", "null argument");
    VQ_FAIL_IF(metric != VQ_METRIC_L2 && metric != VQ_METRIC_IP && metric != VQ_METRIC_COS,
               VQ_EINVAL, err, "metric", "unknown metric %d", (int)metric);
    VQ_TRY(vq_check_finite(query, 1, qs->q->d, "query", err));
    qs->metric = metric == VQ_METRIC_COS ? VQ_METRIC_IP : metric;
    qs->prepared = 0;
    VQ_TRY(qs->q->ops->prepare(qs, query, err));
    qs->prepared = 1;
    return VQ_OK;
}

void vq_quant_score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist) {
    if (n) qs->q->ops->score(qs, packed, n, dist);
}

float vq_quant_score_one(const vq_query *qs, const uint8_t *code) {
    if (qs->q->ops->score_one) return qs->q->ops->score_one(qs, code);
    float d;
    qs->q->ops->score(qs, code, 1, &d);
    return d;
}

void vq_quant_score_ptrs(const vq_query *qs, const uint8_t *const *codes, size_t n, float *dist) {
    if (qs->q->ops->score_ptrs) {
        if (n) qs->q->ops->score_ptrs(qs, codes, n, dist);
        return;
    }
    for (size_t i = 0; i < n; i++) dist[i] = vq_quant_score_one(qs, codes[i]);
}

int vq_quant_has_sqnorm(const vq_quant *q) { return q && q->trained && q->ops->code_sqnorm; }

float vq_quant_sqnorm(const vq_quant *q, const uint8_t *code) {
    return q->ops->code_sqnorm(q, code);
}

int vq_quant_save(const vq_quant *q, uint8_t **buf, size_t *len, vq_err *err) {
    VQ_FAIL_IF(!q || !buf || !len, VQ_EINVAL, err, "save", "null argument");
    VQ_FAIL_IF(!q->trained, VQ_ESTATE, err, "quantizer", "%s is not trained; nothing to save",
               q->spec);
    vq_wbuf body = {0};
    if (q->ops->save) {
        int rc = q->ops->save(q, &body, err);
        if (rc < 0 || body.oom) {
            vq_free(body.p);
            return rc < 0 ? rc : vq_err_set(err, VQ_ENOMEM, "save", "out of memory");
        }
    }
    vq_wbuf w = {0};
    uint32_t sl = (uint32_t)strlen(q->spec);
    vq__w_bytes(&w, FRAME_MAGIC, 4);
    vq__w_u32(&w, FRAME_VERSION);
    vq__w_u32(&w, q->d);
    vq__w_u32(&w, sl);
    vq__w_bytes(&w, q->spec, sl);
    vq__w_u64(&w, body.len);
    vq__w_bytes(&w, body.p, body.len);
    vq_free(body.p);
    uint32_t crc = w.oom ? 0 : vq__crc32(0, w.p, w.len);
    vq__w_u32(&w, crc);
    if (w.oom) {
        vq_free(w.p);
        return vq_err_set(err, VQ_ENOMEM, "save", "out of memory");
    }
    *buf = w.p;
    *len = w.len;
    return VQ_OK;
}

int vq_quant_load(const uint8_t *buf, size_t len, vq_quant **out, vq_err *err) {
    VQ_FAIL_IF(!buf || !out, VQ_EINVAL, err, "load", "null argument");
    VQ_FAIL_IF(len < 28, VQ_ECORRUPT, err, "quantizer", "saved quantizer truncated: %zu bytes",
               len);
    VQ_FAIL_IF(memcmp(buf, FRAME_MAGIC, 4), VQ_ECORRUPT, err, "quantizer.magic",
               "not a saved quantizer (bad magic)");
    uint32_t stored;
    memcpy(&stored, buf + len - 4, 4);
    VQ_FAIL_IF(stored != vq__crc32(0, buf, len - 4), VQ_ECORRUPT, err, "quantizer.crc",
               "checksum mismatch: the saved quantizer is corrupted");
    vq_rbuf r = {buf, len - 4, 4, "quantizer"};
    uint32_t ver, d, sl;
    VQ_TRY(vq__r_u32(&r, &ver, err));
    VQ_FAIL_IF(ver != FRAME_VERSION, VQ_EVERSION, err, "quantizer.version",
               "format version %u is not supported (this build reads %u)", ver, FRAME_VERSION);
    VQ_TRY(vq__r_u32(&r, &d, err));
    VQ_TRY(vq__r_u32(&r, &sl, err));
    VQ_FAIL_IF(sl == 0 || sl >= VQ_SPEC_MAX, VQ_ECORRUPT, err, "quantizer.spec",
               "spec length %u is outside [1, %u)", sl, VQ_SPEC_MAX);
    char spec[VQ_SPEC_MAX];
    VQ_TRY(vq__r_bytes(&r, spec, sl, err));
    spec[sl] = '\0';
    uint64_t bl;
    VQ_TRY(vq__r_u64(&r, &bl, err));
    VQ_FAIL_IF(bl != r.len - r.pos, VQ_ECORRUPT, err, "quantizer.body",
               "body length %llu does not match the %zu bytes present", (unsigned long long)bl,
               r.len - r.pos);
    vq_quant *q;
    VQ_TRY(vq_quant_new(spec, d, &q, err));
    if (q->ops->load) {
        vq_rbuf body = {r.p + r.pos, (size_t)bl, 0, "quantizer body"};
        int rc = q->ops->load(q, &body, err);
        if (rc == VQ_OK) rc = vq__r_end(&body, err);
        if (rc < 0) {
            vq_quant_free(q);
            return rc;
        }
    } else if (bl) {
        vq_quant_free(q);
        return vq_err_set(err, VQ_ECORRUPT, "quantizer.body", "%s has no state but %llu bytes",
                          spec, (unsigned long long)bl);
    }
    q->trained = 1;
    *out = q;
    return VQ_OK;
}
