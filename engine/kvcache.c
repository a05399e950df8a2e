/* kvcache.c — the compressed KV cache (see kvcache.h for the layout and the algorithm).
 *
 * Per (layer, head) the token range [0, n) splits into the compressed prefix [0, nc) and the
 * fp32 window [nc, n), nc = n - min(n, window); the window is a ring indexed by t % window.
 * A token leaving the window is compressed: its outlier channels go to fp16, the remaining
 * channels to the side's quantizer (or KIVI). Keys are stored in the quantizer's packed
 * layout so vq_quant_score runs over them directly; for block quantizers (fast-scan PQ) the
 * unfinished block is re-packed from a row-major staging copy at each append. Values are
 * stored row-major and summed with the softmax weights by vq_quant_decode_wsum (KIVI values:
 * decoded VQE_KV_DECODE_BLOCK tokens at a time). window_flush compresses a full window at
 * once (nc = n - n mod window); window_keys_only compresses values at append. pre_rope keeps
 * keys as appended (before RoPE) and scores token t at the query turned back by R(t) (see
 * the comment above dot_is_decode for the two evaluation paths).
 */
#include "kvcache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32.h"
#include "kivi.h"
#include "quant.h"

typedef struct side {
    vq_quant *qz;       /* NULL for KIVI */
    vq_query *qs;       /* keys with a quantizer */
    vqe__kivi_keys *kk; /* KIVI keys */
    int kivi;
    vqe__kivi_spec ks;
    size_t code_size; /* row-major bytes per token (quantizer or KIVI values) */
    unsigned block;   /* packed block (keys), 1 for values */
    size_t block_bytes;
    unsigned qd; /* channels the quantizer sees: head_dim - outliers */
    unsigned o;  /* outlier channels */
    unsigned *oidx, *iidx;
    uint8_t *codes;
    size_t cap; /* tokens the codes/outlier arrays hold */
    uint8_t *stage;
    uint16_t *outl; /* cap * o */
    float *mu;      /* center: calibration mean (head_dim floats) subtracted before coding */
    /* pre_rope keys: 1 when the quantizer's inner-product estimate is the dot with its
     * reconstruction (probed once, see dot_is_decode), 0 when not, -1 not yet probed. */
    int dotdec;
} side;

typedef struct head {
    side k, v;
    float *wk, *wv; /* window ring: window * head_dim each */
} head;

struct vqe_kv {
    vqe_kv_params p;
    unsigned S, D; /* storage heads per layer and their dimension (joint: 1 x n_heads*hd) */
    char kspec[VQ_SPEC_MAX], vspec[VQ_SPEC_MAX];
    head *h;   /* n_layers * n_heads */
    size_t *n; /* tokens per layer */
    int *ready;
    float scale;
    size_t sc_cap;
    float *sc, *dec, *gq, *tmp, *qf;
    float *ws; /* (n_query_heads / S) * D: weighted value sums, one row per query head */
    /* pre_rope: cos and sin of every pair angle for positions [0, rope_cap) (head_dim / 2
     * each per position), the query turned back to a token's position (D floats, zero
     * outside the head's slice), a decoded key and an unpacked code. */
    float *rcos, *rsin, *qt, *kd;
    size_t rope_cap;
    uint8_t *code1;
};

vqe_kv_params vqe_kv_params_default(void) {
    return (vqe_kv_params){.n_layers = 1,
                           .n_heads = 1,
                           .head_dim = 64,
                           .key_spec = "f32",
                           .value_spec = "f32",
                           .window = VQE_KV_WINDOW_DEFAULT,
                           .key_outliers = VQE_KV_OUTLIERS_DEFAULT,
                           .value_outliers = VQE_KV_OUTLIERS_DEFAULT};
}

static void side_free(side *s) {
    vq_query_free(s->qs);
    vq_quant_free(s->qz);
    vqe__kivi_keys_free(s->kk);
    vq_free(s->oidx);
    vq_free(s->iidx);
    vq_free(s->codes);
    vq_free(s->stage);
    vq_free(s->outl);
    vq_free(s->mu);
}

void vqe_kv_free(vqe_kv *kv) {
    if (!kv) return;
    if (kv->h)
        for (size_t i = 0; i < (size_t)kv->p.n_layers * kv->S; i++) {
            side_free(&kv->h[i].k);
            side_free(&kv->h[i].v);
            vq_free(kv->h[i].wk);
            vq_free(kv->h[i].wv);
        }
    vq_free(kv->h);
    vq_free(kv->n);
    vq_free(kv->ready);
    vq_free(kv->sc);
    vq_free(kv->dec);
    vq_free(kv->gq);
    vq_free(kv->tmp);
    vq_free(kv->qf);
    vq_free(kv->ws);
    vq_free(kv->rcos);
    vq_free(kv->rsin);
    vq_free(kv->qt);
    vq_free(kv->kd);
    vq_free(kv->code1);
    vq_free(kv);
}

/* (Re)creates the side's quantizer for qd channels; identity channel split. */
static int side_init(side *s, const char *spec, unsigned hd, unsigned o, int is_key, vq_err *err) {
    vq_query_free(s->qs);
    vq_quant_free(s->qz);
    vqe__kivi_keys_free(s->kk);
    s->qs = NULL;
    s->qz = NULL;
    s->kk = NULL;
    s->o = o;
    s->qd = hd - o;
    s->dotdec = -1;
    if (!s->oidx) s->oidx = vq_calloc(hd, sizeof(unsigned));
    if (!s->iidx) s->iidx = vq_calloc(hd, sizeof(unsigned));
    VQ_FAIL_IF(!s->oidx || !s->iidx, VQ_ENOMEM, err, "kv", "out of memory");
    for (unsigned i = 0; i < s->qd; i++) s->iidx[i] = i;
    for (unsigned i = 0; i < o; i++) s->oidx[i] = s->qd + i;
    int kv = vqe__kivi_parse(spec, is_key ? 0 : s->qd, &s->ks, err);
    VQ_TRY(kv);
    s->kivi = kv;
    s->block = 1;
    if (kv) {
        if (is_key) {
            VQ_TRY(vqe__kivi_keys_new(&s->ks, s->qd, &s->kk, err));
            s->code_size = 0;
        } else {
            s->code_size = vqe__kivi_value_code_size(&s->ks, s->qd);
        }
        s->block_bytes = s->code_size;
        return VQ_OK;
    }
    VQ_TRY(vq_quant_new(spec, s->qd, &s->qz, err));
    s->code_size = vq_quant_code_size(s->qz);
    if (is_key) {
        s->block = vq_quant_block(s->qz);
        s->block_bytes = vq_quant_block_bytes(s->qz);
        if (s->block > 1) {
            vq_free(s->stage);
            s->stage = vq_calloc(s->block, s->code_size);
            VQ_FAIL_IF(!s->stage, VQ_ENOMEM, err, "kv", "out of memory");
        }
    } else {
        s->block_bytes = s->code_size;
    }
    return VQ_OK;
}

int vqe_kv_new(const vqe_kv_params *p, vqe_kv **out, vq_err *err) {
    VQ_FAIL_IF(!p || !out, VQ_EINVAL, err, "params", "NULL argument");
    VQ_FAIL_IF(p->n_layers < 1 || p->n_layers > VQE_KV_LAYERS_MAX, VQ_EINVAL, err, "n_layers",
               "n_layers %u outside [1, %u]", p->n_layers, VQE_KV_LAYERS_MAX);
    VQ_FAIL_IF(p->n_heads < 1 || p->n_heads > VQE_KV_HEADS_MAX, VQ_EINVAL, err, "n_heads",
               "n_heads %u outside [1, %u]", p->n_heads, VQE_KV_HEADS_MAX);
    VQ_FAIL_IF(p->head_dim < 1 || p->head_dim > VQE_KV_HEAD_DIM_MAX, VQ_EINVAL, err, "head_dim",
               "head_dim %u outside [1, %u]", p->head_dim, VQE_KV_HEAD_DIM_MAX);
    unsigned nq = p->n_query_heads ? p->n_query_heads : p->n_heads;
    VQ_FAIL_IF(nq % p->n_heads || nq / p->n_heads > VQE_KV_HEADS_MAX, VQ_EINVAL, err,
               "n_query_heads", "n_query_heads %u is not a multiple of n_heads %u", nq, p->n_heads);
    VQ_FAIL_IF(p->window > VQE_KV_WINDOW_MAX, VQ_EINVAL, err, "window", "window %u > %u", p->window,
               VQE_KV_WINDOW_MAX);
    VQ_FAIL_IF(p->window_flush > 1, VQ_EINVAL, err, "window_flush", "window_flush must be 0 or 1");
    VQ_FAIL_IF(p->window_keys_only > 1, VQ_EINVAL, err, "window_keys_only",
               "window_keys_only must be 0 or 1");
    unsigned S = p->joint_heads ? 1 : p->n_heads,
             D = p->joint_heads ? p->n_heads * p->head_dim : p->head_dim;
    VQ_FAIL_IF(D > VQE_KV_HEAD_DIM_MAX, VQ_EINVAL, err, "joint_heads",
               "n_heads * head_dim = %u > %u with joint_heads", D, VQE_KV_HEAD_DIM_MAX);
    VQ_FAIL_IF(p->key_outliers >= D, VQ_EINVAL, err, "key_outliers",
               "key_outliers %u must be below the quantized dimension %u", p->key_outliers, D);
    VQ_FAIL_IF(p->value_outliers >= D, VQ_EINVAL, err, "value_outliers",
               "value_outliers %u must be below the quantized dimension %u", p->value_outliers, D);
    VQ_FAIL_IF(!(p->scale >= 0) || !isfinite(p->scale), VQ_EINVAL, err, "scale",
               "scale must be finite and >= 0");
    VQ_FAIL_IF(p->pre_rope > 1, VQ_EINVAL, err, "pre_rope", "pre_rope must be 0 or 1");
    VQ_FAIL_IF(p->pre_rope && p->head_dim % 2, VQ_EINVAL, err, "pre_rope",
               "pre_rope needs an even head_dim (RoPE turns pairs), got %u", p->head_dim);
    VQ_FAIL_IF(!(p->rope_base == 0 || p->rope_base > 1) || !isfinite(p->rope_base), VQ_EINVAL, err,
               "rope_base", "rope_base must be finite and > 1 (0: 10000)");
    const char *ks = p->key_spec ? p->key_spec : "f32", *vs = p->value_spec ? p->value_spec : "f32";
    VQ_FAIL_IF(strlen(ks) >= VQ_SPEC_MAX || strlen(vs) >= VQ_SPEC_MAX, VQ_ESPEC, err, "spec",
               "spec longer than %u", VQ_SPEC_MAX - 1);
    vqe_kv *kv = vq_calloc(1, sizeof *kv);
    VQ_FAIL_IF(!kv, VQ_ENOMEM, err, "kv", "out of memory");
    kv->p = *p;
    kv->p.n_query_heads = nq;
    kv->S = S;
    kv->D = D;
    strcpy(kv->kspec, ks);
    strcpy(kv->vspec, vs);
    kv->p.key_spec = kv->kspec;
    kv->p.value_spec = kv->vspec;
    kv->scale = p->scale > 0 ? p->scale : 1.0f / sqrtf((float)p->head_dim);
    size_t nh = (size_t)p->n_layers * S, hd = D;
    kv->h = vq_calloc(nh, sizeof(head));
    kv->n = vq_calloc(p->n_layers, sizeof(size_t));
    kv->ready = vq_calloc(p->n_layers, sizeof(int));
    kv->dec = vq_malloc(VQE_KV_DECODE_BLOCK * hd * sizeof(float));
    kv->gq = vq_malloc(hd * sizeof(float));
    kv->tmp = vq_malloc(hd * sizeof(float));
    kv->qf = vq_calloc(hd, sizeof(float));
    kv->ws = vq_malloc((size_t)(nq / S) * hd * sizeof(float));
    kv->qt = vq_calloc(hd, sizeof(float));
    kv->kd = vq_calloc(hd, sizeof(float));
    if (kv->p.rope_base == 0) kv->p.rope_base = 10000.0f;
    int rc = VQ_OK;
    if (!kv->h || !kv->n || !kv->ready || !kv->dec || !kv->gq || !kv->tmp || !kv->qf || !kv->ws ||
        !kv->qt || !kv->kd) {
        rc = vq_err_set(err, VQ_ENOMEM, "kv", "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < nh; i++) {
        head *h = &kv->h[i];
        if ((rc = side_init(&h->k, ks, D, p->key_outliers, 1, err)) < 0) goto fail;
        if ((rc = side_init(&h->v, vs, D, p->value_outliers, 0, err)) < 0) goto fail;
        if (p->window) {
            h->wk = vq_malloc((size_t)p->window * hd * sizeof(float));
            h->wv = vq_malloc((size_t)p->window * hd * sizeof(float));
            if (!h->wk || !h->wv) {
                rc = vq_err_set(err, VQ_ENOMEM, "window", "out of memory for the window");
                goto fail;
            }
        }
    }
    for (unsigned l = 0; l < p->n_layers; l++) {
        const head *h = &kv->h[(size_t)l * S];
        int need = p->key_outliers || p->value_outliers || p->center ||
                   (h->k.qz && !vq_quant_is_trained(h->k.qz)) ||
                   (h->v.qz && !vq_quant_is_trained(h->v.qz));
        kv->ready[l] = !need;
    }
    *out = kv;
    return VQ_OK;
fail:
    vqe_kv_free(kv);
    return rc;
}

/* Channels by decreasing mean |x| over the calibration tokens: the first o are outliers. */
static void pick_outliers(side *s, unsigned hd, size_t n, const float *x, size_t stride,
                          double *mag) {
    for (unsigned c = 0; c < hd; c++) mag[c] = 0;
    for (size_t t = 0; t < n; t++)
        for (unsigned c = 0; c < hd; c++) mag[c] += fabs(x[t * stride + c]);
    unsigned char taken[VQE_KV_HEAD_DIM_MAX] = {0};
    for (unsigned j = 0; j < s->o; j++) {
        unsigned best = 0;
        double bm = -1;
        for (unsigned c = 0; c < hd; c++)
            if (!taken[c] && mag[c] > bm) bm = mag[c], best = c;
        taken[best] = 1;
        s->oidx[j] = best;
    }
    /* Outliers in channel order, so gathers walk memory forwards. */
    unsigned k = 0, m = 0;
    for (unsigned c = 0; c < hd; c++) {
        if (taken[c])
            s->oidx[k++] = c;
        else
            s->iidx[m++] = c;
    }
}

static int side_train(side *s, unsigned hd, size_t n, const float *x, size_t stride, int center,
                      vq_err *err) {
    float *cx = vq_malloc(n * hd * sizeof(float) + 1);
    VQ_FAIL_IF(!cx, VQ_ENOMEM, err, "calibration", "out of memory");
    for (size_t t = 0; t < n; t++) memcpy(cx + t * hd, x + t * stride, hd * sizeof(float));
    vq_free(s->mu);
    s->mu = NULL;
    if (center) {
        s->mu = vq_calloc(hd, sizeof(float));
        if (!s->mu) {
            vq_free(cx);
            return vq_err_set(err, VQ_ENOMEM, "calibration", "out of memory");
        }
        double acc[VQE_KV_HEAD_DIM_MAX] = {0};
        for (size_t t = 0; t < n; t++)
            for (unsigned c = 0; c < hd; c++) acc[c] += cx[t * hd + c];
        for (unsigned c = 0; c < hd; c++) s->mu[c] = (float)(acc[c] / (double)n);
        for (size_t t = 0; t < n; t++)
            for (unsigned c = 0; c < hd; c++) cx[t * hd + c] -= s->mu[c];
    }
    if (s->o) {
        double mag[VQE_KV_HEAD_DIM_MAX];
        pick_outliers(s, hd, n, cx, hd, mag);
    }
    if (!s->qz || vq_quant_is_trained(s->qz)) {
        vq_free(cx);
        return VQ_OK;
    }
    float *g = vq_malloc(n * s->qd * sizeof(float) + 1);
    if (!g) {
        vq_free(cx);
        return vq_err_set(err, VQ_ENOMEM, "calibration", "out of memory");
    }
    for (size_t t = 0; t < n; t++)
        for (unsigned i = 0; i < s->qd; i++) g[t * s->qd + i] = cx[t * hd + s->iidx[i]];
    vq_free(cx);
    int rc = vq_quant_train(s->qz, n, g, err);
    vq_free(g);
    return rc;
}

void vqe_kv_reset(vqe_kv *kv) {
    for (unsigned l = 0; l < kv->p.n_layers; l++) {
        kv->n[l] = 0;
        for (unsigned h = 0; h < kv->S; h++) {
            head *hh = &kv->h[(size_t)l * kv->S + h];
            if (hh->k.kk) vqe__kivi_keys_reset(hh->k.kk);
        }
    }
}

int vqe_kv_calibrate(vqe_kv *kv, unsigned layer, size_t n, const float *keys, const float *values,
                     vq_err *err) {
    VQ_FAIL_IF(layer >= kv->p.n_layers, VQ_EINVAL, err, "layer", "layer %u >= %u", layer,
               kv->p.n_layers);
    VQ_FAIL_IF(n < 1 || !keys || !values, VQ_EINVAL, err, "n", "calibration needs >= 1 token");
    size_t w = (size_t)kv->p.n_heads * kv->p.head_dim;
    VQ_TRY(vq_check_finite(keys, n, w, "keys", err));
    VQ_TRY(vq_check_finite(values, n, w, "values", err));
    unsigned hd = kv->D;
    for (unsigned h = 0; h < kv->S; h++) {
        head *hh = &kv->h[(size_t)layer * kv->S + h];
        /* Fresh quantizers: a second calibration retrains instead of failing on a trained
         * handle. */
        VQ_TRY(side_init(&hh->k, kv->kspec, hd, kv->p.key_outliers, 1, err));
        VQ_TRY(side_init(&hh->v, kv->vspec, hd, kv->p.value_outliers, 0, err));
        VQ_TRY(side_train(&hh->k, hd, n, keys + (size_t)h * hd, w, kv->p.center, err));
        VQ_TRY(side_train(&hh->v, hd, n, values + (size_t)h * hd, w, kv->p.center, err));
        hh->k.cap = hh->v.cap = 0; /* codes sizes may have changed */
        vq_free(hh->k.codes);
        vq_free(hh->v.codes);
        vq_free(hh->k.outl);
        vq_free(hh->v.outl);
        hh->k.codes = hh->v.codes = NULL;
        hh->k.outl = hh->v.outl = NULL;
    }
    kv->n[layer] = 0;
    kv->ready[layer] = 1;
    return VQ_OK;
}

static int side_reserve(side *s, size_t need, vq_err *err) {
    if (need <= s->cap) return VQ_OK;
    size_t nc = s->cap ? s->cap * 2 : 64;
    while (nc < need) nc *= 2;
    if (!s->kk) {
        size_t ob = (s->cap + s->block - 1) / s->block * s->block_bytes;
        size_t nb = (nc + s->block - 1) / s->block * s->block_bytes;
        uint8_t *c = vq_realloc(s->codes, ob, nb ? nb : 1);
        VQ_FAIL_IF(!c, VQ_ENOMEM, err, "kv", "out of memory for %zu tokens", nc);
        s->codes = c;
    }
    if (s->o) {
        uint16_t *o = vq_realloc(s->outl, s->cap * s->o * 2, nc * s->o * 2);
        VQ_FAIL_IF(!o, VQ_ENOMEM, err, "kv", "out of memory for %zu tokens", nc);
        s->outl = o;
    }
    s->cap = nc;
    return VQ_OK;
}

/* Compresses token t (= the side's count of compressed tokens) from x (head_dim floats). */
static int side_push(side *s, size_t t, const float *x, float *tmp, vq_err *err) {
    VQ_TRY(side_reserve(s, t + 1, err));
    const float *mu = s->mu;
    for (unsigned j = 0; j < s->o; j++) {
        unsigned c = s->oidx[j];
        s->outl[t * s->o + j] = vq__f32_to_f16(mu ? x[c] - mu[c] : x[c]);
    }
    for (unsigned i = 0; i < s->qd; i++) {
        unsigned c = s->iidx[i];
        tmp[i] = mu ? x[c] - mu[c] : x[c];
    }
    if (s->kk) return vqe__kivi_keys_append(s->kk, tmp, err);
    if (s->kivi) {
        vqe__kivi_value_encode(&s->ks, s->qd, tmp, s->codes + t * s->code_size);
        return VQ_OK;
    }
    if (s->block == 1) return vq_quant_encode(s->qz, 1, tmp, s->codes + t * s->code_size, err);
    size_t in = t % s->block;
    VQ_TRY(vq_quant_encode(s->qz, 1, tmp, s->stage + in * s->code_size, err));
    vq_quant_pack(s->qz, in + 1, s->stage, s->codes + t / s->block * s->block_bytes);
    return VQ_OK;
}

static size_t n_compressed(const vqe_kv *kv, size_t n) {
    if (kv->p.window_flush && kv->p.window) return n / kv->p.window * kv->p.window;
    return n > kv->p.window ? n - kv->p.window : 0;
}
/* Values compressed: all of them when the window holds keys only. */
static size_t n_compressed_v(const vqe_kv *kv, size_t n) {
    return kv->p.window_keys_only ? n : n_compressed(kv, n);
}

/* pre_rope: the cos/sin table for positions [0, need), computed by llama2.c's formula so
 * that scores match a post-RoPE cache to float rounding. */
static int rope_grow(vqe_kv *kv, size_t need, vq_err *err) {
    size_t half = kv->p.head_dim / 2, nc = kv->rope_cap ? kv->rope_cap : 256;
    while (nc < need) nc *= 2;
    float *c = vq_realloc(kv->rcos, kv->rope_cap * half * sizeof(float), nc * half * sizeof(float));
    VQ_FAIL_IF(!c, VQ_ENOMEM, err, "kv", "out of memory for the RoPE table");
    kv->rcos = c;
    float *s = vq_realloc(kv->rsin, kv->rope_cap * half * sizeof(float), nc * half * sizeof(float));
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "kv", "out of memory for the RoPE table");
    kv->rsin = s;
    for (size_t t = kv->rope_cap; t < nc; t++)
        for (size_t i = 0; i < half; i++)
            vqe_llm_rope_cs((int)i, (int)kv->p.head_dim, (int)t, kv->p.rope_base,
                            &kv->rcos[t * half + i], &kv->rsin[t * half + i]);
    kv->rope_cap = nc;
    return VQ_OK;
}

int vqe_kv_append(vqe_kv *kv, unsigned layer, const float *key, const float *value, vq_err *err) {
    VQ_FAIL_IF(layer >= kv->p.n_layers, VQ_EINVAL, err, "layer", "layer %u >= %u", layer,
               kv->p.n_layers);
    VQ_FAIL_IF(!kv->ready[layer], VQ_ESTATE, err, "layer",
               "layer %u needs vqe_kv_calibrate first (a spec needs training or outliers are on)",
               layer);
    unsigned hd = kv->D, W = kv->p.window;
    size_t w = (size_t)kv->S * hd, n = kv->n[layer];
    VQ_TRY(vq_check_finite(key, 1, w, "key", err));
    VQ_TRY(vq_check_finite(value, 1, w, "value", err));
    if (n + 1 > kv->sc_cap) {
        /* One row of scores per query head that shares a storage head. */
        size_t nc = kv->sc_cap ? kv->sc_cap * 2 : 256, rows = kv->p.n_query_heads / kv->S;
        float *sc =
            vq_realloc(kv->sc, kv->sc_cap * rows * sizeof(float), nc * rows * sizeof(float));
        VQ_FAIL_IF(!sc, VQ_ENOMEM, err, "kv", "out of memory");
        kv->sc = sc;
        kv->sc_cap = nc;
    }
    if (kv->p.pre_rope && n + 1 > kv->rope_cap) VQ_TRY(rope_grow(kv, n + 1, err));
    for (unsigned h = 0; h < kv->S; h++) {
        head *hh = &kv->h[(size_t)layer * kv->S + h];
        const float *k = key + (size_t)h * hd, *v = value + (size_t)h * hd;
        if (W == 0) {
            VQ_TRY(side_push(&hh->k, n, k, kv->tmp, err));
            VQ_TRY(side_push(&hh->v, n, v, kv->tmp, err));
            continue;
        }
        size_t slot = n % W;
        if (kv->p.window_keys_only) VQ_TRY(side_push(&hh->v, n, v, kv->tmp, err));
        int wv = !kv->p.window_keys_only;
        if (kv->p.window_flush) { /* slot i holds token n + 1 - W + i once the group is full */
            memcpy(hh->wk + slot * hd, k, hd * sizeof(float));
            if (wv) memcpy(hh->wv + slot * hd, v, hd * sizeof(float));
            if (slot + 1 < W) continue;
            for (size_t i = 0; i < W; i++) {
                VQ_TRY(side_push(&hh->k, n + 1 - W + i, hh->wk + i * hd, kv->tmp, err));
                if (wv) VQ_TRY(side_push(&hh->v, n + 1 - W + i, hh->wv + i * hd, kv->tmp, err));
            }
            continue;
        }
        if (n >= W) { /* token n - W leaves the window */
            VQ_TRY(side_push(&hh->k, n - W, hh->wk + slot * hd, kv->tmp, err));
            if (wv) VQ_TRY(side_push(&hh->v, n - W, hh->wv + slot * hd, kv->tmp, err));
        }
        memcpy(hh->wk + slot * hd, k, hd * sizeof(float));
        if (wv) memcpy(hh->wv + slot * hd, v, hd * sizeof(float));
    }
    kv->n[layer] = n + 1;
    return VQ_OK;
}

size_t vqe_kv_len(const vqe_kv *kv, unsigned layer) {
    return layer < kv->p.n_layers ? kv->n[layer] : 0;
}

/* pre_rope scoring. The score of token t is <q, R(t) k_t> = <R(t)^T q, k_t>: the quantizer's
 * asymmetric estimator est(y, code(k)) is built for an arbitrary fixed query y, so it is
 * evaluated at y = R(t)^T q. R(t) depends only on the position, never on the code, so every
 * property of the estimator carries over — tq-ip and qjl stay unbiased, rescale=1 keeps its
 * debiasing factor. The key code itself cannot be turned: it lives in the quantizer's domain
 * (tq's rotated coordinates, pq's sub-spaces), where R(t) is not a per-coordinate map.
 *
 * Two ways to evaluate it:
 *  - prerope_scores_turnq: turn the query for each token and score that one code (one
 *    vq_query_prepare per token and query head: general, and slow for quantizers whose
 *    prepare builds tables);
 *  - prerope_scores_decode: when est(y, code) = <y, decode(code)> for every y — the dot with
 *    the reconstruction is the estimator (tq with rescale=0, tq-ip, pq, sq8, fp16, f32, and
 *    KIVI by construction) — then est(R(t)^T q, code) = <q, R(t) decode(code)>: decode a
 *    block of keys once for all the query heads that read them, turn each reconstruction
 *    and take the dots. Identical estimates up to float rounding, at one decode per token
 *    instead of one prepare per token and query head. dot_is_decode decides which applies
 *    by probing the quantizer once; a quantizer that fails the probe (rescale=1, rabitq...)
 *    takes the general path, so no estimator is ever replaced by a different one.
 * The exact parts (outlier channels, the centering mean, the fp32 window) are turned the
 * same way. */

/* 1 when the side's inner-product estimate equals the dot with its reconstruction on four
 * random (query, vector) pairs to 1e-4 relative; fixed seeds, so the answer is
 * deterministic. Needs a trained quantizer. */
static int dot_is_decode(vqe_kv *kv, side *s, vq_err *err) {
    if (s->dotdec >= 0) return s->dotdec;
    if (s->kivi) return s->dotdec = 1;
    unsigned d = s->qd;
    float *x = vq_malloc(2 * d * sizeof(float)), *y = x + d;
    uint8_t *code = vq_malloc(s->code_size + 1);
    int rc = VQ_OK, ok = 1;
    if (!x || !code) rc = vq_err_set(err, VQ_ENOMEM, "kv", "out of memory");
    if (rc == VQ_OK && !s->qs) rc = vq_query_new(s->qz, &s->qs, err);
    uint64_t st = 0x9e3779b97f4a7c15ull;
    for (int trial = 0; trial < 4 && rc == VQ_OK && ok; trial++) {
        for (int v = 0; v < 2; v++)
            for (unsigned i = 0; i < d; i++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                (v ? kv->gq : x)[i] = (float)((double)(st >> 11) * 0x1.0p-53 * 2 - 1);
            }
        if ((rc = vq_quant_encode(s->qz, 1, x, code, err)) < 0) break;
        if ((rc = vq_quant_decode(s->qz, 1, code, y, err)) < 0) break;
        if ((rc = vq_query_prepare(s->qs, kv->gq, VQ_METRIC_IP, err)) < 0) break;
        double est = -vq_quant_score_one(s->qs, code), dot = 0, nq = 0, ny = 0;
        for (unsigned i = 0; i < d; i++) {
            dot += (double)kv->gq[i] * y[i];
            nq += (double)kv->gq[i] * kv->gq[i];
            ny += (double)y[i] * y[i];
        }
        ok = fabs(est - dot) <= 1e-4 * (sqrt(nq * ny) + 1e-30);
    }
    vq_free(x);
    vq_free(code);
    VQ_TRY(rc);
    return s->dotdec = ok;
}

/* Scores of nh queries (qs[j]: head_dim floats of the head at offset off[j] of the storage
 * vector) against every token, for a side whose estimate is the dot with its reconstruction:
 * keys decoded a block at a time into kv->dec, completed (outliers, mean) to D channels,
 * turned to their positions, dotted with each query. Unscaled; row j of kv->sc. */
static int prerope_scores_decode(vqe_kv *kv, head *hh, size_t n, size_t nc, unsigned nh,
                                 const unsigned *off, const float *const *qs, vq_err *err) {
    side *ks = &hh->k;
    unsigned hd = kv->D, W = kv->p.window, ohd = kv->p.head_dim, half = ohd / 2;
    float *full = kv->kd;
    for (size_t t0 = 0; t0 < n; t0 += VQE_KV_DECODE_BLOCK) {
        size_t m = n - t0 < VQE_KV_DECODE_BLOCK ? n - t0 : VQE_KV_DECODE_BLOCK;
        size_t mc = t0 >= nc ? 0 : nc - t0 < m ? nc - t0 : m; /* compressed tokens here */
        if (mc && ks->kk) {
            for (size_t i = 0; i < mc; i++)
                vqe__kivi_keys_decode(ks->kk, t0 + i, kv->dec + i * ks->qd);
        } else if (mc && ks->block == 1) {
            VQ_TRY(vq_quant_decode(ks->qz, mc, ks->codes + t0 * ks->code_size, kv->dec, err));
        } else if (mc) {
            for (size_t i = 0; i < mc; i++) {
                size_t t = t0 + i;
                vq_quant_unpack(ks->qz, ks->codes + t / ks->block * ks->block_bytes, t % ks->block,
                                kv->code1);
                VQ_TRY(vq_quant_decode(ks->qz, 1, kv->code1, kv->dec + i * ks->qd, err));
            }
        }
        for (size_t i = 0; i < m; i++) {
            size_t t = t0 + i;
            if (i < mc) {
                const float *dd = kv->dec + i * ks->qd;
                for (unsigned c = 0; c < ks->qd; c++) full[ks->iidx[c]] = dd[c];
                for (unsigned o = 0; o < ks->o; o++)
                    full[ks->oidx[o]] = vq__f16_to_f32(ks->outl[t * ks->o + o]);
                if (ks->mu)
                    for (unsigned c = 0; c < hd; c++) full[c] += ks->mu[c];
            } else {
                memcpy(full, hh->wk + (t % W) * hd, hd * sizeof(float));
            }
            const float *cs = kv->rcos + t * half, *sn = kv->rsin + t * half;
            for (unsigned j = 0; j < nh; j++) {
                const float *k = full + off[j], *q = qs[j];
                float a = 0;
                for (unsigned p = 0; p < half; p++) { /* <q, R(t) k> on each pair */
                    float k0 = k[2 * p], k1 = k[2 * p + 1];
                    a += q[2 * p] * (k0 * cs[p] - k1 * sn[p]) +
                         q[2 * p + 1] * (k0 * sn[p] + k1 * cs[p]);
                }
                kv->sc[(size_t)j * kv->sc_cap + t] = a;
            }
        }
    }
    return VQ_OK;
}

/* The general path: the query turned back for each token, one prepare and one score. */
static int prerope_scores_turnq(vqe_kv *kv, head *hh, size_t n, size_t nc, unsigned off,
                                const float *q, float *sc, vq_err *err) {
    side *ks = &hh->k;
    unsigned hd = kv->D, W = kv->p.window, half = kv->p.head_dim / 2, end = off + kv->p.head_dim;
    float *qt = kv->qt;
    memset(qt, 0, hd * sizeof(float));
    if (nc && ks->qz && !ks->qs) VQ_TRY(vq_query_new(ks->qz, &ks->qs, err));
    for (size_t t = 0; t < n; t++) {
        const float *c = kv->rcos + t * half, *s = kv->rsin + t * half;
        for (unsigned i = 0; i < half; i++) { /* R(t)^T on each pair */
            float q0 = q[off + 2 * i], q1 = q[off + 2 * i + 1];
            qt[off + 2 * i] = q0 * c[i] + q1 * s[i];
            qt[off + 2 * i + 1] = q1 * c[i] - q0 * s[i];
        }
        float a = 0;
        if (t >= nc) { /* fp32 window */
            const float *k = hh->wk + (t % W) * hd;
            for (unsigned i = off; i < end; i++) a += qt[i] * k[i];
            sc[t] = a;
            continue;
        }
        for (unsigned i = 0; i < ks->qd; i++) kv->gq[i] = qt[ks->iidx[i]];
        if (ks->kk) {
            vqe__kivi_keys_decode(ks->kk, t, kv->kd);
            for (unsigned i = 0; i < ks->qd; i++) a += kv->gq[i] * kv->kd[i];
        } else {
            VQ_TRY(vq_query_prepare(ks->qs, kv->gq, VQ_METRIC_IP, err));
            const uint8_t *code = ks->codes + t * ks->code_size;
            if (ks->block > 1) {
                vq_quant_unpack(ks->qz, ks->codes + t / ks->block * ks->block_bytes, t % ks->block,
                                kv->code1);
                code = kv->code1;
            }
            a = -vq_quant_score_one(ks->qs, code);
        }
        for (unsigned o = 0; o < ks->o; o++)
            a += qt[ks->oidx[o]] * vq__f16_to_f32(ks->outl[t * ks->o + o]);
        if (ks->mu)
            for (unsigned i = off; i < end; i++) a += qt[i] * ks->mu[i];
        sc[t] = a;
    }
    return VQ_OK;
}

/* Attention of nh queries that read the same storage head hh of a layer: qs[j] (head_dim
 * floats) belongs to key/value head kvh[j] (its slice of a joint vector); outs[j] gets
 * head_dim floats. Scores go to kv->sc (nh rows of n), the values are decoded once per block
 * for all nh queries. */
static int attend_core(vqe_kv *kv, unsigned layer, head *hh, unsigned nh, const unsigned *kvh,
                       const float *const *qs, float *const *outs, float *logits, float *probs,
                       vq_err *err) {
    unsigned hd = kv->D, W = kv->p.window, ohd = kv->p.head_dim;
    size_t n = kv->n[layer], nc = n_compressed(kv, n), ncv = n_compressed_v(kv, n);
    for (unsigned j = 0; j < nh; j++) memset(outs[j], 0, ohd * sizeof(float));
    if (n == 0) return VQ_OK;
    side *ks = &hh->k, *vs = &hh->v;
    unsigned off[VQE_KV_HEADS_MAX];
    int pre_dec = 0; /* pre_rope scores already in kv->sc (decode path) */
    if (kv->p.pre_rope) {
        if (nc && ks->qz && ks->block > 1 && !kv->code1) {
            kv->code1 = vq_malloc(ks->code_size + 1);
            VQ_FAIL_IF(!kv->code1, VQ_ENOMEM, err, "kv", "out of memory");
        }
        int dd = !nc || !ks->qz ? 1 : dot_is_decode(kv, ks, err);
        VQ_TRY(dd);
        if (dd) {
            for (unsigned j = 0; j < nh; j++) off[j] = kv->p.joint_heads ? kvh[j] * ohd : 0;
            VQ_TRY(prerope_scores_decode(kv, hh, n, nc, nh, off, qs, err));
            pre_dec = 1;
        }
    }
    for (unsigned j = 0; j < nh; j++) {
        /* Joint storage: the query is zero outside its head's slice [off, off + hd), so the
         * full-vector inner product estimate is the head's own. */
        off[j] = kv->p.joint_heads ? kvh[j] * ohd : 0;
        unsigned end = off[j] + ohd;
        const float *q = qs[j];
        if (kv->p.joint_heads) {
            memset(kv->qf, 0, hd * sizeof(float));
            memcpy(kv->qf + off[j], q, ohd * sizeof(float));
            q = kv->qf;
        }
        float *sc = kv->sc + (size_t)j * kv->sc_cap;
        if (pre_dec) {
            /* scores computed above for every query */
        } else if (kv->p.pre_rope) {
            VQ_TRY(prerope_scores_turnq(kv, hh, n, nc, off[j], q, sc, err));
        } else if (nc) {
            /* Keys: scores on the codes, then the exact outlier and window terms. */
            for (unsigned i = 0; i < ks->qd; i++) kv->gq[i] = q[ks->iidx[i]];
            if (ks->kk) {
                vqe__kivi_keys_dot(ks->kk, kv->gq, sc);
            } else {
                if (!ks->qs) VQ_TRY(vq_query_new(ks->qz, &ks->qs, err));
                VQ_TRY(vq_query_prepare(ks->qs, kv->gq, VQ_METRIC_IP, err));
                vq_quant_score(ks->qs, ks->codes, nc, sc);
                for (size_t t = 0; t < nc; t++) sc[t] = -sc[t];
            }
            for (unsigned o = 0; o < ks->o; o++) {
                float qo = q[ks->oidx[o]];
                if (qo == 0) continue;
                for (size_t t = 0; t < nc; t++)
                    sc[t] += qo * vq__f16_to_f32(ks->outl[t * ks->o + o]);
            }
            if (ks->mu) { /* q·mu: the same for every token, kept so logits stay estimates */
                float qm = 0;
                for (unsigned c = off[j]; c < end; c++) qm += q[c] * ks->mu[c];
                for (size_t t = 0; t < nc; t++) sc[t] += qm;
            }
        }
        for (size_t t = nc; t < n && !kv->p.pre_rope; t++) {
            const float *k = hh->wk + (t % W) * hd;
            float a = 0;
            for (unsigned i = off[j]; i < end; i++) a += q[i] * k[i];
            sc[t] = a;
        }
        float mx = -INFINITY;
        for (size_t t = 0; t < n; t++) {
            sc[t] *= kv->scale;
            if (sc[t] > mx) mx = sc[t];
        }
        if (logits) memcpy(logits, sc, n * sizeof(float));
        double sum = 0;
        for (size_t t = 0; t < n; t++) sum += sc[t] = expf(sc[t] - mx);
        float inv = (float)(1.0 / sum);
        for (size_t t = 0; t < n; t++) sc[t] *= inv;
        if (probs) memcpy(probs, sc, n * sizeof(float));
    }
    /* Values through a quantizer: its weighted-sum decode (tq sums in the rotated domain and
     * rotates back once per query head), then the exact outlier channels. */
    if (ncv && vs->qz) {
        VQ_TRY(vq_quant_decode_wsum(vs->qz, ncv, vs->codes, nh, kv->sc, kv->sc_cap, kv->ws, err));
        for (unsigned j = 0; j < nh; j++) {
            const float *sc = kv->sc + (size_t)j * kv->sc_cap, *wsj = kv->ws + (size_t)j * vs->qd;
            float *out = outs[j];
            unsigned o0 = off[j], end = o0 + ohd;
            if (vs->o == 0) {
                for (unsigned c = 0; c < ohd; c++) out[c] += wsj[o0 + c];
                continue;
            }
            for (unsigned c = 0; c < vs->qd; c++) {
                unsigned ch = vs->iidx[c];
                if (ch >= o0 && ch < end) out[ch - o0] += wsj[c];
            }
            for (unsigned o = 0; o < vs->o; o++) {
                unsigned ch = vs->oidx[o];
                if (ch < o0 || ch >= end) continue;
                float a = 0;
                for (size_t t = 0; t < ncv; t++)
                    a += sc[t] * vq__f16_to_f32(vs->outl[t * vs->o + o]);
                out[ch - o0] += a;
            }
        }
    }
    /* KIVI values: decode a block of tokens into scratch once, accumulate for every query. */
    for (size_t t0 = 0; vs->kivi && t0 < ncv; t0 += VQE_KV_DECODE_BLOCK) {
        size_t m = ncv - t0 < VQE_KV_DECODE_BLOCK ? ncv - t0 : VQE_KV_DECODE_BLOCK;
        for (size_t i = 0; i < m; i++)
            vqe__kivi_value_decode(&vs->ks, vs->qd, vs->codes + (t0 + i) * vs->code_size,
                                   kv->dec + i * vs->qd);
        for (unsigned j = 0; j < nh; j++) {
            const float *sc = kv->sc + (size_t)j * kv->sc_cap;
            float *out = outs[j];
            unsigned o0 = off[j], end = o0 + ohd;
            for (size_t i = 0; i < m; i++) {
                float a = sc[t0 + i];
                const float *d = kv->dec + i * vs->qd;
                if (vs->o == 0) {
                    for (unsigned c = 0; c < ohd; c++) out[c] += a * d[o0 + c];
                    continue;
                }
                for (unsigned c = 0; c < vs->qd; c++) {
                    unsigned ch = vs->iidx[c];
                    if (ch >= o0 && ch < end) out[ch - o0] += a * d[c];
                }
                const uint16_t *ol = vs->outl + (t0 + i) * vs->o;
                for (unsigned o = 0; o < vs->o; o++) {
                    unsigned ch = vs->oidx[o];
                    if (ch >= o0 && ch < end) out[ch - o0] += a * vq__f16_to_f32(ol[o]);
                }
            }
        }
    }
    for (unsigned j = 0; j < nh; j++) {
        const float *sc = kv->sc + (size_t)j * kv->sc_cap;
        if (vs->mu && ncv) { /* the mean removed before coding, weighted by sum_t<ncv p_t */
            double ps = 0;
            for (size_t t = 0; t < ncv; t++) ps += sc[t];
            for (unsigned c = 0; c < ohd; c++) outs[j][c] += (float)ps * vs->mu[off[j] + c];
        }
        for (size_t t = ncv; t < n; t++) {
            const float *v = hh->wv + (t % W) * hd + off[j];
            float a = sc[t];
            for (unsigned c = 0; c < ohd; c++) outs[j][c] += a * v[c];
        }
    }
    return VQ_OK;
}

int vqe_kv_attend(vqe_kv *kv, unsigned layer, unsigned head_i, const float *q, float *out,
                  float *logits, float *probs, vq_err *err) {
    VQ_FAIL_IF(layer >= kv->p.n_layers || head_i >= kv->p.n_heads, VQ_EINVAL, err, "head",
               "layer %u / head %u outside %u x %u", layer, head_i, kv->p.n_layers, kv->p.n_heads);
    head *hh = &kv->h[(size_t)layer * kv->S + (kv->p.joint_heads ? 0 : head_i)];
    return attend_core(kv, layer, hh, 1, &head_i, &q, &out, logits, probs, err);
}

int vqe_kv_attend_all(vqe_kv *kv, unsigned layer, const float *q, float *out, vq_err *err) {
    VQ_FAIL_IF(layer >= kv->p.n_layers, VQ_EINVAL, err, "layer", "layer %u >= %u", layer,
               kv->p.n_layers);
    unsigned hd = kv->p.head_dim, nq = kv->p.n_query_heads, grp = nq / kv->p.n_heads;
    unsigned per = nq / kv->S; /* query heads per storage head */
    unsigned kvh[VQE_KV_HEADS_MAX];
    const float *qs[VQE_KV_HEADS_MAX];
    float *outs[VQE_KV_HEADS_MAX];
    for (unsigned s = 0; s < kv->S; s++) {
        for (unsigned j = 0; j < per; j++) {
            unsigned h = s * per + j;
            kvh[j] = h / grp;
            qs[j] = q + (size_t)h * hd;
            outs[j] = out + (size_t)h * hd;
        }
        VQ_TRY(attend_core(kv, layer, &kv->h[(size_t)layer * kv->S + s], per, kvh, qs, outs, NULL,
                           NULL, err));
    }
    return VQ_OK;
}

int vqe_kv_reconstruct(const vqe_kv *kv, unsigned layer, unsigned head_i, size_t t, float *key,
                       float *value, vq_err *err) {
    VQ_FAIL_IF(layer >= kv->p.n_layers || head_i >= kv->p.n_heads, VQ_EINVAL, err, "head",
               "layer %u / head %u outside %u x %u", layer, head_i, kv->p.n_layers, kv->p.n_heads);
    size_t n = kv->n[layer], nc = n_compressed(kv, n);
    VQ_FAIL_IF(t >= n, VQ_EINVAL, err, "t", "token %zu >= %zu held", t, n);
    unsigned hd = kv->D, W = kv->p.window, ohd = kv->p.head_dim;
    unsigned off = kv->p.joint_heads ? head_i * ohd : 0;
    const head *hh = &kv->h[(size_t)layer * kv->S + (kv->p.joint_heads ? 0 : head_i)];
    size_t ncv = n_compressed_v(kv, n);
    float tmp[VQE_KV_HEAD_DIM_MAX], full[VQE_KV_HEAD_DIM_MAX];
    for (int sd = 0; sd < 2; sd++) {
        const side *s = sd ? &hh->v : &hh->k;
        float *x = sd ? value : key;
        if (!x) continue;
        if (t >= (sd ? ncv : nc)) { /* in the fp32 window */
            memcpy(x, (sd ? hh->wv : hh->wk) + (t % W) * hd + off, ohd * sizeof(float));
            continue;
        }
        if (s->kk) {
            vqe__kivi_keys_decode(s->kk, t, tmp);
        } else if (s->kivi) {
            vqe__kivi_value_decode(&s->ks, s->qd, s->codes + t * s->code_size, tmp);
        } else if (s->block == 1) {
            VQ_TRY(vq_quant_decode(s->qz, 1, s->codes + t * s->code_size, tmp, err));
        } else {
            uint8_t code[4096];
            VQ_FAIL_IF(s->code_size > sizeof code, VQ_EUNSUPPORTED, err, "code_size",
                       "code of %zu bytes", s->code_size);
            vq_quant_unpack(s->qz, s->codes + t / s->block * s->block_bytes, t % s->block, code);
            VQ_TRY(vq_quant_decode(s->qz, 1, code, tmp, err));
        }
        for (unsigned i = 0; i < s->qd; i++) full[s->iidx[i]] = tmp[i];
        for (unsigned j = 0; j < s->o; j++)
            full[s->oidx[j]] = vq__f16_to_f32(s->outl[t * s->o + j]);
        if (s->mu)
            for (unsigned c = 0; c < hd; c++) full[c] += s->mu[c];
        memcpy(x, full + off, ohd * sizeof(float));
    }
    return VQ_OK;
}

static size_t side_bytes(const side *s, size_t nc) {
    size_t b = nc * s->o * 2;
    if (s->kk)
        b += vqe__kivi_keys_bytes(s->kk);
    else
        b += nc * s->code_size;
    return b;
}

void vqe_kv_stats_get(const vqe_kv *kv, vqe_kv_stats *st) {
    memset(st, 0, sizeof *st);
    unsigned hd = kv->D;
    size_t positions = 0;
    for (unsigned l = 0; l < kv->p.n_layers; l++) {
        size_t n = kv->n[l], nc = n_compressed(kv, n), nw = n - nc;
        size_t ncv = n_compressed_v(kv, n), nwv = n - ncv;
        st->tokens += n;
        if (n > positions) positions = n;
        for (unsigned h = 0; h < kv->S; h++) {
            const head *hh = &kv->h[(size_t)l * kv->S + h];
            st->key_bytes += side_bytes(&hh->k, nc) + nw * hd * sizeof(float);
            st->value_bytes += side_bytes(&hh->v, ncv) + nwv * hd * sizeof(float);
            if (hh->k.qz) st->state_bytes += vq_quant_state_bytes(hh->k.qz);
            if (hh->k.mu) st->state_bytes += 2 * hd * sizeof(float);
            if (hh->v.qz) st->state_bytes += vq_quant_state_bytes(hh->v.qz);
        }
    }
    double ch = (double)st->tokens * kv->S * hd;
    if (ch > 0) {
        st->key_bits = 8.0 * (double)st->key_bytes / ch;
        st->value_bits = 8.0 * (double)st->value_bytes / ch;
        st->bits_per_channel = (st->key_bits + st->value_bits) / 2;
    }
    if (positions) st->bytes_per_token = (double)(st->key_bytes + st->value_bytes) / positions;
}

static int llm_append(void *ctx, int layer, const float *k, const float *v, vq_err *err) {
    return vqe_kv_append(ctx, (unsigned)layer, k, v, err);
}

static int llm_attend(void *ctx, int layer, const float *q, float *out, vq_err *err) {
    return vqe_kv_attend_all(ctx, (unsigned)layer, q, out, err);
}

vqe_llm_kv vqe_kv_llm(vqe_kv *kv) {
    return (vqe_llm_kv){
        .ctx = kv, .append = llm_append, .attend = llm_attend, .pre_rope = (int)kv->p.pre_rope};
}
