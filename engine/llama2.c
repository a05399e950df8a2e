/* llama2.c — the llama2.c checkpoint reader, tokenizer and fp32 forward pass (see llama2.h
 * for the formats and the algorithm). Every size read from a file is checked against the
 * buffer before any byte behind it is touched; products of header fields are bounded by the
 * limits in llama2.h so they cannot overflow.
 */
#include "llama2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vqe_llm {
    vqe_llm_config c;
    size_t n_floats;
    float *w; /* all weights, in file order (the RoPE tables included, unused) */
    float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *rope, *wcls;
};

struct vqe_llm_state {
    vqe_llm_config c;
    float *x, *xb, *xb2, *hb, *hb2, *q, *k, *v, *att, *logits;
    float *kpre;    /* kv_dim: the key before RoPE (caches with pre_rope) */
    float *kc, *vc; /* built-in cache: L * seq_len * kv_dim each */
    int *len;       /* positions cached per layer */
};

static int rd_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static int check_field(int v, int min, int max, const char *field, vq_err *err) {
    VQ_FAIL_IF(v < min || v > max, VQ_ECORRUPT, err, field,
               "checkpoint header: %s = %d is outside [%d, %d]", field, v, min, max);
    return VQ_OK;
}

/* Lays the pointers over m->w; returns the number of floats the layout needs. */
static size_t layout(vqe_llm *m, float *w) {
    const vqe_llm_config *c = &m->c;
    size_t L = (size_t)c->n_layers, d = (size_t)c->dim, kv = (size_t)c->kv_dim,
           h = (size_t)c->hidden_dim, V = (size_t)c->vocab_size, o = 0;
#define TAKE(ptr, count)           \
    do {                           \
        m->ptr = w ? w + o : NULL; \
        o += (count);              \
    } while (0)
    TAKE(emb, V * d);
    TAKE(rms_att, L * d);
    TAKE(wq, L * d * d);
    TAKE(wk, L * kv * d);
    TAKE(wv, L * kv * d);
    TAKE(wo, L * d * d);
    TAKE(rms_ffn, L * d);
    TAKE(w1, L * h * d);
    TAKE(w2, L * d * h);
    TAKE(w3, L * h * d);
    TAKE(rms_final, d);
    TAKE(rope, (size_t)c->seq_len * (size_t)c->head_size);
    if (c->shared_classifier)
        m->wcls = m->emb;
    else
        TAKE(wcls, V * d);
#undef TAKE
    return o;
}

int vqe_llm_load(const uint8_t *buf, size_t len, vqe_llm **out, vq_err *err) {
    VQ_FAIL_IF(!buf || !out, VQ_EINVAL, err, "buf", "NULL argument");
    VQ_FAIL_IF(len < 28, VQ_ECORRUPT, err, "header",
               "checkpoint of %zu bytes is shorter than its 28-byte header", len);
    vqe_llm_config c = {0};
    c.dim = rd_i32(buf);
    c.hidden_dim = rd_i32(buf + 4);
    c.n_layers = rd_i32(buf + 8);
    c.n_heads = rd_i32(buf + 12);
    c.n_kv_heads = rd_i32(buf + 16);
    c.vocab_size = rd_i32(buf + 20);
    c.seq_len = rd_i32(buf + 24);
    c.shared_classifier = c.vocab_size > 0;
    if (c.vocab_size < 0 && c.vocab_size != INT32_MIN) c.vocab_size = -c.vocab_size;
    VQ_TRY(check_field(c.dim, 2, VQE_LLM_DIM_MAX, "dim", err));
    VQ_TRY(check_field(c.hidden_dim, 1, VQE_LLM_HIDDEN_MAX, "hidden_dim", err));
    VQ_TRY(check_field(c.n_layers, 1, VQE_LLM_LAYERS_MAX, "n_layers", err));
    VQ_TRY(check_field(c.n_heads, 1, c.dim, "n_heads", err));
    VQ_TRY(check_field(c.n_kv_heads, 1, c.n_heads, "n_kv_heads", err));
    VQ_TRY(check_field(c.vocab_size, 1, VQE_LLM_VOCAB_MAX, "vocab_size", err));
    VQ_TRY(check_field(c.seq_len, 1, VQE_LLM_SEQ_MAX, "seq_len", err));
    VQ_FAIL_IF(c.dim % c.n_heads, VQ_ECORRUPT, err, "n_heads",
               "checkpoint header: dim %d is not a multiple of n_heads %d", c.dim, c.n_heads);
    c.head_size = c.dim / c.n_heads;
    VQ_FAIL_IF(c.head_size % 2, VQ_ECORRUPT, err, "n_heads",
               "checkpoint header: head size %d is odd (RoPE rotates pairs)", c.head_size);
    VQ_FAIL_IF(c.n_heads % c.n_kv_heads, VQ_ECORRUPT, err, "n_kv_heads",
               "checkpoint header: n_heads %d is not a multiple of n_kv_heads %d", c.n_heads,
               c.n_kv_heads);
    c.kv_dim = c.n_kv_heads * c.head_size;

    vqe_llm tmp = {.c = c};
    size_t nf = layout(&tmp, NULL);
    size_t body = len - 28;
    VQ_FAIL_IF(body % 4, VQ_ECORRUPT, err, "weights",
               "checkpoint body of %zu bytes is not a whole number of float32", body);
    VQ_FAIL_IF(body / 4 < nf, VQ_ECORRUPT, err, "weights",
               "checkpoint truncated: the header needs %zu float32 weights, the file holds %zu", nf,
               body / 4);
    VQ_FAIL_IF(body / 4 > nf, VQ_ECORRUPT, err, "weights",
               "checkpoint has %zu float32 past the %zu weights the header describes",
               body / 4 - nf, nf);
    vqe_llm *m = vq_calloc(1, sizeof *m);
    float *w = vq_malloc(nf * sizeof(float));
    if (!m || !w) {
        vq_free(m);
        vq_free(w);
        return vq_err_set(err, VQ_ENOMEM, "weights", "out of memory for %zu weights", nf);
    }
    memcpy(w, buf + 28, nf * sizeof(float));
    *m = tmp;
    m->w = w;
    m->n_floats = nf;
    layout(m, w);
    int rc = vq_check_finite(w, 1, nf, "weights", err);
    if (rc < 0) {
        vqe_llm_free(m);
        return rc == VQ_ENOTFINITE ? vq_err_set(err, VQ_ECORRUPT, err ? err->field : "weights",
                                                "checkpoint holds a NaN or infinite weight")
                                   : rc;
    }
    *out = m;
    return VQ_OK;
}

int vqe_llm_open(const char *path, vqe_llm **out, vq_err *err) {
    FILE *f = fopen(path, "rb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot open", path);
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = vq_realloc(buf, cap, nc);
            if (!nb) {
                vq_free(buf);
                fclose(f);
                return vq_err_set(err, VQ_ENOMEM, path, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int io = ferror(f);
    fclose(f);
    int rc = io ? vq_err_set(err, VQ_EIO, path, "%s: read error", path)
                : vqe_llm_load(buf, len, out, err);
    vq_free(buf);
    return rc;
}

int vqe_llm_clone(const vqe_llm *m, vqe_llm **out, vq_err *err) {
    vqe_llm *c = vq_calloc(1, sizeof *c);
    float *w = vq_malloc(m->n_floats * sizeof(float));
    if (!c || !w) {
        vq_free(c);
        vq_free(w);
        return vq_err_set(err, VQ_ENOMEM, "weights", "out of memory");
    }
    *c = *m;
    memcpy(w, m->w, m->n_floats * sizeof(float));
    c->w = w;
    layout(c, w);
    *out = c;
    return VQ_OK;
}

void vqe_llm_free(vqe_llm *m) {
    if (!m) return;
    vq_free(m->w);
    vq_free(m);
}

const vqe_llm_config *vqe_llm_config_of(const vqe_llm *m) { return &m->c; }

int vqe_llm_save(const vqe_llm *m, uint8_t **buf, size_t *len, vq_err *err) {
    size_t n = 28 + m->n_floats * 4;
    uint8_t *b = vq_malloc(n);
    VQ_FAIL_IF(!b, VQ_ENOMEM, err, "weights", "out of memory for %zu bytes", n);
    int32_t h[7] = {m->c.dim,        m->c.hidden_dim,
                    m->c.n_layers,   m->c.n_heads,
                    m->c.n_kv_heads, m->c.shared_classifier ? m->c.vocab_size : -m->c.vocab_size,
                    m->c.seq_len};
    memcpy(b, h, 28);
    memcpy(b + 28, m->w, m->n_floats * 4);
    *buf = b;
    *len = n;
    return VQ_OK;
}

size_t vqe_llm_tensors(vqe_llm *m, vqe_llm_tensor *t) {
    const vqe_llm_config *c = &m->c;
    size_t L = (size_t)c->n_layers, d = (size_t)c->dim, kv = (size_t)c->kv_dim,
           h = (size_t)c->hidden_dim, n = 0;
#define T(nm, nd, pl, r, cc, p) t[n++] = (vqe_llm_tensor){nm, nd, r, cc, pl, p}
    T("token_embedding", 2, (size_t)c->vocab_size, (size_t)c->vocab_size, d, m->emb);
    T("rms_att", 1, 1, L, d, m->rms_att);
    T("wq", 2, d, L * d, d, m->wq);
    T("wk", 2, kv, L * kv, d, m->wk);
    T("wv", 2, kv, L * kv, d, m->wv);
    T("wo", 2, d, L * d, d, m->wo);
    T("rms_ffn", 1, 1, L, d, m->rms_ffn);
    T("w1", 2, h, L * h, d, m->w1);
    T("w2", 2, d, L * d, h, m->w2);
    T("w3", 2, h, L * h, d, m->w3);
    T("rms_final", 1, 1, 1, d, m->rms_final);
    if (!c->shared_classifier)
        T("wcls", 2, (size_t)c->vocab_size, (size_t)c->vocab_size, d, m->wcls);
#undef T
    return n;
}

/* ---- forward pass ---- */

int vqe_llm_state_new(const vqe_llm *m, vqe_llm_state **out, vq_err *err) {
    const vqe_llm_config *c = &m->c;
    vqe_llm_state *s = vq_calloc(1, sizeof *s);
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "state", "out of memory");
    s->c = *c;
    size_t d = (size_t)c->dim, cache = (size_t)c->n_layers * c->seq_len * c->kv_dim;
    s->x = vq_calloc(d, 4);
    s->xb = vq_calloc(d, 4);
    s->xb2 = vq_calloc(d, 4);
    s->hb = vq_calloc((size_t)c->hidden_dim, 4);
    s->hb2 = vq_calloc((size_t)c->hidden_dim, 4);
    s->q = vq_calloc(d, 4);
    s->k = vq_calloc((size_t)c->kv_dim, 4);
    s->v = vq_calloc((size_t)c->kv_dim, 4);
    s->kpre = vq_calloc((size_t)c->kv_dim, 4);
    s->att = vq_calloc((size_t)c->seq_len, 4);
    s->logits = vq_calloc((size_t)c->vocab_size, 4);
    s->kc = vq_calloc(cache, 4);
    s->vc = vq_calloc(cache, 4);
    s->len = vq_calloc((size_t)c->n_layers, sizeof(int));
    if (!s->x || !s->xb || !s->xb2 || !s->hb || !s->hb2 || !s->q || !s->k || !s->v || !s->kpre ||
        !s->att || !s->logits || !s->kc || !s->vc || !s->len) {
        vqe_llm_state_free(s);
        return vq_err_set(err, VQ_ENOMEM, "state", "out of memory for the activations");
    }
    *out = s;
    return VQ_OK;
}

void vqe_llm_state_free(vqe_llm_state *s) {
    if (!s) return;
    float *p[] = {s->x, s->xb,  s->xb2,    s->hb, s->hb2, s->q,   s->k,
                  s->v, s->att, s->logits, s->kc, s->vc,  s->kpre};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) vq_free(p[i]);
    vq_free(s->len);
    vq_free(s);
}

void vqe_llm_state_reset(vqe_llm_state *s) {
    memset(s->len, 0, (size_t)s->c.n_layers * sizeof(int));
}

static int f32_append(void *ctx, int l, const float *k, const float *v, vq_err *err) {
    vqe_llm_state *s = ctx;
    const vqe_llm_config *c = &s->c;
    VQ_FAIL_IF(s->len[l] >= c->seq_len, VQ_ETOOBIG, err, "pos",
               "the fp32 cache holds at most seq_len = %d positions", c->seq_len);
    size_t off = ((size_t)l * c->seq_len + (size_t)s->len[l]) * c->kv_dim;
    memcpy(s->kc + off, k, (size_t)c->kv_dim * 4);
    memcpy(s->vc + off, v, (size_t)c->kv_dim * 4);
    s->len[l]++;
    return VQ_OK;
}

static int f32_attend(void *ctx, int l, const float *q, float *out, vq_err *err) {
    (void)err;
    vqe_llm_state *s = ctx;
    const vqe_llm_config *c = &s->c;
    int hs = c->head_size, n = s->len[l], kv_mul = c->n_heads / c->n_kv_heads;
    const float *kc = s->kc + (size_t)l * c->seq_len * c->kv_dim;
    const float *vc = s->vc + (size_t)l * c->seq_len * c->kv_dim;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < c->n_heads; h++) {
        const float *qh = q + (size_t)h * hs;
        size_t koff = (size_t)(h / kv_mul) * hs;
        float mx = -INFINITY;
        for (int t = 0; t < n; t++) {
            const float *k = kc + (size_t)t * c->kv_dim + koff;
            float sc = 0;
            for (int i = 0; i < hs; i++) sc += qh[i] * k[i];
            s->att[t] = sc * scale;
            if (s->att[t] > mx) mx = s->att[t];
        }
        float sum = 0;
        for (int t = 0; t < n; t++) sum += s->att[t] = expf(s->att[t] - mx);
        float *o = out + (size_t)h * hs;
        memset(o, 0, (size_t)hs * 4);
        for (int t = 0; t < n; t++) {
            const float *v = vc + (size_t)t * c->kv_dim + koff;
            float a = s->att[t] / sum;
            for (int i = 0; i < hs; i++) o[i] += a * v[i];
        }
    }
    return VQ_OK;
}

vqe_llm_kv vqe_llm_state_f32_kv(vqe_llm_state *s) {
    return (vqe_llm_kv){.ctx = s, .append = f32_append, .attend = f32_attend};
}

static void rmsnorm(float *o, const float *x, const float *w, int n) {
    float ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0f / sqrtf(ss / (float)n + 1e-5f);
    for (int i = 0; i < n; i++) o[i] = w[i] * (ss * x[i]);
}

/* out[i] = sum_j W[i][j] x[j], W row-major [rows][cols]. */
static void matmul(float *out, const float *x, const float *w, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        const float *r = w + (size_t)i * cols;
        float acc = 0;
        for (int j = 0; j < cols; j++) acc += r[j] * x[j];
        out[i] = acc;
    }
}

void vqe_llm_rope_cs(int i, int head_size, int pos, float base, float *c, float *s) {
    float freq = 1.0f / powf(base, (float)(2 * i) / (float)head_size);
    float val = (float)pos * freq;
    *c = cosf(val);
    *s = sinf(val);
}

void vqe_llm_rope(float *x, int n_heads, int head_size, int pos, float base, int inverse) {
    for (int i = 0; i < head_size / 2; i++) {
        float fcr, fci;
        vqe_llm_rope_cs(i, head_size, pos, base, &fcr, &fci);
        if (inverse) fci = -fci;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)h * head_size + 2 * i, v0 = v[0], v1 = v[1];
            v[0] = v0 * fcr - v1 * fci;
            v[1] = v0 * fci + v1 * fcr;
        }
    }
}

int vqe_llm_forward(const vqe_llm *m, vqe_llm_state *s, const vqe_llm_kv *kv, int token, int pos,
                    const vqe_llm_trace *tr, const float **logits, vq_err *err) {
    const vqe_llm_config *c = &m->c;
    VQ_FAIL_IF(token < 0 || token >= c->vocab_size, VQ_EINVAL, err, "token",
               "token %d is outside [0, %d)", token, c->vocab_size);
    VQ_FAIL_IF(pos < 0 || pos >= c->seq_len, VQ_EINVAL, err, "pos",
               "position %d is outside [0, seq_len = %d)", pos, c->seq_len);
    vqe_llm_kv own = vqe_llm_state_f32_kv(s);
    if (!kv) kv = &own;
    int d = c->dim, kvd = c->kv_dim, hs = c->head_size, hid = c->hidden_dim;
    memcpy(s->x, m->emb + (size_t)token * d, (size_t)d * 4);
    for (int l = 0; l < c->n_layers; l++) {
        rmsnorm(s->xb, s->x, m->rms_att + (size_t)l * d, d);
        if (tr && tr->x_att) memcpy(tr->x_att + (size_t)l * d, s->xb, (size_t)d * 4);
        matmul(s->q, s->xb, m->wq + (size_t)l * d * d, d, d);
        matmul(s->k, s->xb, m->wk + (size_t)l * kvd * d, kvd, d);
        matmul(s->v, s->xb, m->wv + (size_t)l * kvd * d, kvd, d);
        memcpy(s->kpre, s->k, (size_t)kvd * 4);
        if (tr && tr->k_pre) memcpy(tr->k_pre + (size_t)l * kvd, s->k, (size_t)kvd * 4);
        vqe_llm_rope(s->q, c->n_heads, hs, pos, 10000.0f, 0);
        vqe_llm_rope(s->k, c->n_kv_heads, hs, pos, 10000.0f, 0);
        if (tr && tr->q) memcpy(tr->q + (size_t)l * d, s->q, (size_t)d * 4);
        if (tr && tr->k) memcpy(tr->k + (size_t)l * kvd, s->k, (size_t)kvd * 4);
        if (tr && tr->v) memcpy(tr->v + (size_t)l * kvd, s->v, (size_t)kvd * 4);
        VQ_TRY(kv->append(kv->ctx, l, kv->pre_rope ? s->kpre : s->k, s->v, err));
        VQ_TRY(kv->attend(kv->ctx, l, s->q, s->xb, err));
        if (tr && tr->x_wo) memcpy(tr->x_wo + (size_t)l * d, s->xb, (size_t)d * 4);
        matmul(s->xb2, s->xb, m->wo + (size_t)l * d * d, d, d);
        for (int i = 0; i < d; i++) s->x[i] += s->xb2[i];
        rmsnorm(s->xb, s->x, m->rms_ffn + (size_t)l * d, d);
        if (tr && tr->x_ffn) memcpy(tr->x_ffn + (size_t)l * d, s->xb, (size_t)d * 4);
        matmul(s->hb, s->xb, m->w1 + (size_t)l * hid * d, hid, d);
        matmul(s->hb2, s->xb, m->w3 + (size_t)l * hid * d, hid, d);
        for (int i = 0; i < hid; i++) {
            float v = s->hb[i];
            s->hb[i] = v / (1.0f + expf(-v)) * s->hb2[i];
        }
        if (tr && tr->x_w2) memcpy(tr->x_w2 + (size_t)l * hid, s->hb, (size_t)hid * 4);
        matmul(s->xb, s->hb, m->w2 + (size_t)l * d * hid, d, hid);
        for (int i = 0; i < d; i++) s->x[i] += s->xb[i];
    }
    rmsnorm(s->x, s->x, m->rms_final, d);
    if (tr && tr->x_cls) memcpy(tr->x_cls, s->x, (size_t)d * 4);
    matmul(s->logits, s->x, m->wcls, c->vocab_size, d);
    *logits = s->logits;
    return VQ_OK;
}

/* ---- tokenizer ---- */

struct vqe_llm_tokenizer {
    int n, max_len;
    char **piece;
    float *score;
    int *sorted; /* ids sorted by piece, for encode's lookups */
    char byte_piece[2];
};

void vqe_llm_tokenizer_free(vqe_llm_tokenizer *t) {
    if (!t) return;
    if (t->piece)
        for (int i = 0; i < t->n; i++) vq_free(t->piece[i]);
    vq_free(t->piece);
    vq_free(t->score);
    vq_free(t->sorted);
    vq_free(t);
}

static const vqe_llm_tokenizer *g_sort_tok; /* qsort has no context argument in C11 */
static int cmp_piece(const void *a, const void *b) {
    return strcmp(g_sort_tok->piece[*(const int *)a], g_sort_tok->piece[*(const int *)b]);
}

int vqe_llm_tokenizer_load(const uint8_t *buf, size_t len, int vocab_size, vqe_llm_tokenizer **out,
                           vq_err *err) {
    VQ_FAIL_IF(vocab_size < 1 || vocab_size > VQE_LLM_VOCAB_MAX, VQ_EINVAL, err, "vocab_size",
               "vocab_size %d is outside [1, %d]", vocab_size, VQE_LLM_VOCAB_MAX);
    VQ_FAIL_IF(len < 4, VQ_ECORRUPT, err, "tokenizer", "tokenizer file shorter than its header");
    vqe_llm_tokenizer *t = vq_calloc(1, sizeof *t);
    VQ_FAIL_IF(!t, VQ_ENOMEM, err, "tokenizer", "out of memory");
    t->max_len = rd_i32(buf);
    t->piece = vq_calloc((size_t)vocab_size, sizeof(char *));
    t->score = vq_calloc((size_t)vocab_size, sizeof(float));
    t->sorted = vq_calloc((size_t)vocab_size, sizeof(int));
    int rc = VQ_OK;
    if (!t->piece || !t->score || !t->sorted) {
        rc = vq_err_set(err, VQ_ENOMEM, "tokenizer", "out of memory");
        goto fail;
    }
    if (t->max_len < 1 || t->max_len > 65536) {
        rc = vq_err_set(err, VQ_ECORRUPT, "tokenizer.max_token_length",
                        "max_token_length %d is outside [1, 65536]", t->max_len);
        goto fail;
    }
    size_t pos = 4;
    for (int i = 0; i < vocab_size; i++) {
        if (len - pos < 8) {
            rc = vq_err_set(err, VQ_ECORRUPT, "tokenizer",
                            "tokenizer truncated at token %d of %d (offset %zu)", i, vocab_size,
                            pos);
            goto fail;
        }
        float sc;
        memcpy(&sc, buf + pos, 4);
        int l = rd_i32(buf + pos + 4);
        pos += 8;
        if (l < 0 || l > t->max_len || (size_t)l > len - pos || !isfinite(sc)) {
            rc = vq_err_set(err, VQ_ECORRUPT, "tokenizer",
                            "token %d at offset %zu: length %d (max %d, %zu bytes left) or score "
                            "invalid",
                            i, pos - 8, l, t->max_len, len - pos);
            goto fail;
        }
        t->piece[i] = vq_malloc((size_t)l + 1);
        if (!t->piece[i]) {
            t->n = i;
            rc = vq_err_set(err, VQ_ENOMEM, "tokenizer", "out of memory");
            goto fail;
        }
        memcpy(t->piece[i], buf + pos, (size_t)l);
        t->piece[i][l] = 0;
        t->score[i] = sc;
        t->sorted[i] = i;
        pos += (size_t)l;
        t->n = i + 1;
    }
    if (pos != len) {
        rc = vq_err_set(err, VQ_ECORRUPT, "tokenizer",
                        "%zu bytes after the %d tokens (vocab_size mismatch?)", len - pos,
                        vocab_size);
        goto fail;
    }
    g_sort_tok = t;
    qsort(t->sorted, (size_t)t->n, sizeof(int), cmp_piece);
    *out = t;
    return VQ_OK;
fail:
    vqe_llm_tokenizer_free(t);
    return rc;
}

int vqe_llm_tokenizer_open(const char *path, int vocab_size, vqe_llm_tokenizer **out, vq_err *err) {
    FILE *f = fopen(path, "rb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot open", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    if (sz < 0 || sz > (1L << 30)) {
        fclose(f);
        return vq_err_set(err, VQ_EIO, path, "%s: cannot size the file", path);
    }
    uint8_t *buf = vq_malloc((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return vq_err_set(err, VQ_ENOMEM, path, "out of memory");
    }
    size_t got = fread(buf, 1, (size_t)sz, f);
    fclose(f);
    int rc = got != (size_t)sz ? vq_err_set(err, VQ_EIO, path, "%s: short read", path)
                               : vqe_llm_tokenizer_load(buf, got, vocab_size, out, err);
    vq_free(buf);
    return rc;
}

const char *vqe_llm_decode(vqe_llm_tokenizer *t, int prev, int id) {
    if (id < 0 || id >= t->n) return "";
    const char *p = t->piece[id];
    if (prev == 1 && p[0] == ' ') p++;
    unsigned byte;
    if (strlen(p) == 6 && sscanf(p, "<0x%02X>", &byte) == 1) {
        t->byte_piece[0] = (char)byte;
        t->byte_piece[1] = 0;
        return t->byte_piece;
    }
    return p;
}

static int lookup(const vqe_llm_tokenizer *t, const char *s) {
    size_t lo = 0, hi = (size_t)t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->piece[t->sorted[mid]], s);
        if (c == 0) return t->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int vqe_llm_encode(const vqe_llm_tokenizer *t, const char *text, int bos, int *tok, size_t cap,
                   size_t *n_out, vq_err *err) {
    size_t tl = strlen(text), n = 0;
    char *buf = vq_malloc((size_t)t->max_len * 2 + 8);
    VQ_FAIL_IF(!buf, VQ_ENOMEM, err, "text", "out of memory");
#define PUSH(id)                                                                       \
    do {                                                                               \
        if (n >= cap) {                                                                \
            vq_free(buf);                                                              \
            return vq_err_set(err, VQ_ETOOBIG, "tokens", "more than %zu tokens", cap); \
        }                                                                              \
        tok[n++] = (id);                                                               \
    } while (0)
    if (bos) PUSH(1);
    if (tl) {
        int sp = lookup(t, " ");
        if (sp >= 0) PUSH(sp);
    }
    for (size_t i = 0; i < tl;) {
        /* One UTF-8 code point at a time; unknown ones fall back to byte tokens (<0xHH> are
         * ids 3..258 in llama2.c vocabularies). */
        size_t cl = 1;
        while (i + cl < tl && cl < 4 && ((unsigned char)text[i + cl] & 0xC0) == 0x80) cl++;
        memcpy(buf, text + i, cl);
        buf[cl] = 0;
        int id = lookup(t, buf);
        if (id >= 0)
            PUSH(id);
        else
            for (size_t j = 0; j < cl; j++) {
                int b = (unsigned char)text[i + j] + 3;
                if (b >= t->n) {
                    vq_free(buf);
                    return vq_err_set(err, VQ_EINVAL, "text",
                                      "byte 0x%02x at %zu has no token in this vocabulary",
                                      (unsigned char)text[i + j], i + j);
                }
                PUSH(b);
            }
        i += cl;
    }
    size_t start = bos ? 1 : 0;
    for (;;) {
        float best = -1e30f;
        int best_id = -1;
        size_t best_i = 0;
        for (size_t i = start; i + 1 < n; i++) {
            size_t a = strlen(t->piece[tok[i]]), b = strlen(t->piece[tok[i + 1]]);
            if (a + b > (size_t)t->max_len) continue;
            memcpy(buf, t->piece[tok[i]], a);
            memcpy(buf + a, t->piece[tok[i + 1]], b + 1);
            int id = lookup(t, buf);
            if (id >= 0 && t->score[id] > best) best = t->score[id], best_id = id, best_i = i;
        }
        if (best_id < 0) break;
        tok[best_i] = best_id;
        memmove(tok + best_i + 1, tok + best_i + 2, (n - best_i - 2) * sizeof(int));
        n--;
    }
#undef PUSH
    vq_free(buf);
    *n_out = n;
    return VQ_OK;
}
