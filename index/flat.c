/* flat.c — the flat index, and the packed code storage that IVF lists reuse.
 *
 * Codes are kept in the quantizer's packed layout (groups of vq_quant_block() vectors, so
 * 4-bit fast-scan PQ scores 32 codes per shuffle); slot i of the flat index is code i. A
 * search scores every code with vq_quant_score in chunks, keeps the best k * rerank allowed
 * slots in a bounded heap, and index.c re-ranks them exactly from the full vectors.
 * Appending into a partly filled last block unpacks and re-packs that block.
 */
#include "vqi_internal.h"

/* ---- packed code storage ---- */

int vq__codes_append(const vq_quant *q, vqi_codes *c, size_t n, const uint8_t *codes) {
    size_t B = vq_quant_block(q), bb = vq_quant_block_bytes(q), cs = vq_quant_code_size(q);
    if (c->n + n > c->cap) {
        size_t nc = c->cap ? c->cap : B * 4;
        while (nc < c->n + n) nc *= 2;
        nc = (nc + B - 1) / B * B;
        uint8_t *p = vq_realloc(c->blocks, c->cap / B * bb, nc / B * bb);
        if (!p) return VQ_ENOMEM;
        c->blocks = p;
        c->cap = nc;
    }
    if (B == 1) {
        memcpy(c->blocks + c->n * cs, codes, n * cs);
        c->n += n;
        return VQ_OK;
    }
    uint8_t tmp[64 * 1024];
    uint8_t *rows = B * cs <= sizeof tmp ? tmp : vq_malloc(B * cs);
    if (!rows) return VQ_ENOMEM;
    size_t done = 0;
    while (done < n) {
        size_t blk = c->n / B, have = c->n % B;
        size_t take = B - have < n - done ? B - have : n - done;
        for (size_t i = 0; i < have; i++)
            vq_quant_unpack(q, c->blocks + blk * bb, i, rows + i * cs);
        memcpy(rows + have * cs, codes + done * cs, take * cs);
        vq_quant_pack(q, have + take, rows, c->blocks + blk * bb);
        c->n += take;
        done += take;
    }
    if (rows != tmp) vq_free(rows);
    return VQ_OK;
}

void vq__codes_get(const vq_quant *q, const vqi_codes *c, size_t i, uint8_t *code) {
    size_t B = vq_quant_block(q);
    if (B == 1) {
        memcpy(code, c->blocks + i * vq_quant_code_size(q), vq_quant_code_size(q));
        return;
    }
    vq_quant_unpack(q, c->blocks + i / B * vq_quant_block_bytes(q), i % B, code);
}

size_t vq__codes_bytes(const vq_quant *q, const vqi_codes *c) {
    size_t B = vq_quant_block(q);
    return (c->n + B - 1) / B * vq_quant_block_bytes(q);
}

void vq__codes_free(vqi_codes *c) {
    vq_free(c->blocks);
    memset(c, 0, sizeof *c);
}

float *vq__codes_score(vqi_searcher *s, const vqi_codes *c) {
    size_t B = vq_quant_block(s->idx->quant);
    size_t need = (c->n + B - 1) / B * B + 1;
    if (need > s->dbuf_cap) {
        size_t nc = need + need / 2;
        float *p = vq_realloc(s->dbuf, 0, nc * sizeof(float));
        if (!p) return NULL;
        s->dbuf = p;
        s->dbuf_cap = nc;
    }
    if (c->n) vq_quant_score(s->qs, c->blocks, c->n, s->dbuf);
    return s->dbuf;
}

/* ---- the flat index ---- */

typedef struct flat {
    vqi_codes codes;
} flat;

static flat *F(const vqi_index *idx) { return idx->impl; }

static int flat_ensure(vqi_index *idx, vq_err *err) {
    if (idx->impl) return VQ_OK;
    idx->impl = vq_calloc(1, sizeof(flat));
    VQ_FAIL_IF(!idx->impl, VQ_ENOMEM, err, "flat", "out of memory");
    return VQ_OK;
}

static int flat_add(vqi_index *idx, size_t slot0, size_t n, const float *x, vq_err *err) {
    VQ_TRY(flat_ensure(idx, err));
    flat *f = F(idx);
    VQ_FAIL_IF(f->codes.n != slot0, VQ_EINTERNAL, err, "flat", "codes out of step with slots");
    uint8_t *codes = vq_malloc(n * idx->code_size + 1);
    VQ_FAIL_IF(!codes, VQ_ENOMEM, err, "add", "out of memory encoding %zu vectors", n);
    int rc = vq_quant_encode(idx->quant, n, x, codes, err);
    if (rc == VQ_OK && vq__codes_append(idx->quant, &f->codes, n, codes))
        rc = vq_err_set(err, VQ_ENOMEM, "add", "out of memory storing codes");
    vq_free(codes);
    return rc;
}

/* Scans codes [0, n) mapped to slots by `slots` (NULL = identity) into s->res. */
static int flat_search(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                       vq_err *err) {
    const vqi_index *idx = s->idx;
    flat *f = F(idx);
    size_t kk = vq__rerank_count(idx, sp, k);
    VQ_FAIL_IF(vq__heap_init(&s->res, kk), VQ_ENOMEM, err, "search", "out of memory");
    if (!f) return VQ_OK;
    VQ_TRY(
        vq_query_prepare(s->qs, q, idx->metric == VQ_METRIC_L2 ? VQ_METRIC_L2 : VQ_METRIC_IP, err));
    float *dist = vq__codes_score(s, &f->codes);
    VQ_FAIL_IF(!dist, VQ_ENOMEM, err, "search", "out of memory");
    int plain = !vq__has_filter(sp) && idx->n_deleted == 0;
    for (size_t i = 0; i < f->codes.n; i++) {
        if (dist[i] >= vq__heap_worst(&s->res) && s->res.n == kk) continue;
        if (!plain && !vq__allowed(idx, sp, (uint32_t)i)) continue;
        vq__heap_push(&s->res, dist[i], (uint32_t)i);
    }
    return VQ_OK;
}

static int flat_compact(vqi_index *idx, const uint32_t *o2n, size_t n_new, vq_err *err) {
    flat *f = F(idx);
    if (!f) return VQ_OK;
    vqi_codes nc = {0};
    uint8_t *rows = vq_malloc(n_new * idx->code_size + 1);
    VQ_FAIL_IF(!rows, VQ_ENOMEM, err, "compact", "out of memory");
    for (size_t i = 0; i < f->codes.n; i++)
        if (o2n[i] != UINT32_MAX)
            vq__codes_get(idx->quant, &f->codes, i, rows + o2n[i] * idx->code_size);
    int rc = vq__codes_append(idx->quant, &nc, n_new, rows);
    vq_free(rows);
    VQ_FAIL_IF(rc, VQ_ENOMEM, err, "compact", "out of memory");
    vq__codes_free(&f->codes);
    f->codes = nc;
    return VQ_OK;
}

static int flat_save(const vqi_index *idx, vqi_w *w, vq_err *err) {
    (void)err;
    flat *f = F(idx);
    size_t m = vq__iw_sec_begin(w, VQI_SEC_FLAT);
    size_t n = f ? f->codes.n : 0;
    vq__iw_u64(w, n);
    if (n) vq__iw_bytes(w, f->codes.blocks, vq__codes_bytes(idx->quant, &f->codes));
    vq__iw_sec_end(w, m);
    return VQ_OK;
}

static int flat_load(vqi_index *idx, vqi_r *r, vq_err *err) {
    vqi_r sec;
    VQ_TRY(vq__ir_sec(r, VQI_SEC_FLAT, "flat", &sec, err));
    uint64_t n;
    VQ_TRY(vq__ir_u64(&sec, &n, err));
    VQ_FAIL_IF(n != idx->n_slots, VQ_ECORRUPT, err, "flat", "%llu codes for %zu vectors",
               (unsigned long long)n, idx->n_slots);
    VQ_TRY(flat_ensure(idx, err));
    flat *f = F(idx);
    size_t B = vq_quant_block(idx->quant), bb = vq_quant_block_bytes(idx->quant);
    size_t nb = (n + B - 1) / B;
    VQ_FAIL_IF(sec.len - sec.pos != nb * bb, VQ_ECORRUPT, err, "flat",
               "%zu code bytes, expected %zu", sec.len - sec.pos, nb * bb);
    f->codes.blocks = vq_malloc(nb * bb + 1);
    VQ_FAIL_IF(!f->codes.blocks, VQ_ENOMEM, err, "flat", "out of memory");
    f->codes.cap = nb * B;
    f->codes.n = n;
    VQ_TRY(vq__ir_bytes(&sec, f->codes.blocks, nb * bb, err));
    return vq__ir_end(&sec, err);
}

static void flat_stats(const vqi_index *idx, vqi_stats *st) {
    if (F(idx)) st->code_bytes = vq__codes_bytes(idx->quant, &F(idx)->codes);
}

static void flat_destroy(vqi_index *idx) {
    if (!F(idx)) return;
    vq__codes_free(&F(idx)->codes);
    vq_free(idx->impl);
    idx->impl = NULL;
}

const vqi_ops vq__ops_flat = {
    .name = "flat",
    .train = NULL,
    .add = flat_add,
    .search = flat_search,
    .compact = flat_compact,
    .save = flat_save,
    .load = flat_load,
    .stats = flat_stats,
    .destroy = flat_destroy,
};
