/* postings.c — the per-record postings of text (BM25) and sparse fields: encoding on the
 * write path, decoding into the in-memory impact index (text.h) on write and at open.
 *
 * Postings are stored per record and field (postings column family, key in store.c) rather
 * than per term: an upsert or delete then touches one key per field, in the same WriteBatch
 * as the record, and a delete needs no read of the old text to find its terms. The
 * term-major impact lists live in memory and are rebuilt from these records at open
 * without re-tokenizing (records are scanned in iid order, which is the order the impact
 * index requires).
 *
 * Value formats (all integers big-endian):
 *   text    'T', u32 document length in tokens (BM25's |D|), u32 n distinct terms, then
 *           n x (u16 term length 1..VQE_TOKEN_MAX, the folded term's UTF-8 bytes, u32 term
 *           frequency >= 1); terms in order of first occurrence;
 *   sparse  'S', u32 n, then n x (u32 index, u32 IEEE-754 bits of a finite float value),
 *           indices strictly increasing.
 * Decoding checks every length against the record and every value (zero frequency, length
 * below the frequencies' sum, duplicate or unsorted indices, NaN/Inf): VQ_ECORRUPT.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_internal.h"

typedef struct bag {
    vqe__hmap map; /* term -> index into tf/off */
    char *chars;   /* terms, NUL-separated */
    size_t nchars, cap_chars;
    uint32_t *tf, *off;
    uint16_t *len;
    size_t n, cap;
    uint64_t total;
    int oom;
} bag;

static int bag_token(const char *tok, size_t len, void *ctx) {
    bag *b = ctx;
    b->total++;
    uint64_t i;
    if (vqe__hmap_get(&b->map, tok, len, &i)) {
        b->tf[i]++;
        return 0;
    }
    if (b->n == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 64;
        uint32_t *tf = vq_realloc(b->tf, b->cap * 4, nc * 4);
        if (tf) b->tf = tf;
        uint32_t *off = vq_realloc(b->off, b->cap * 4, nc * 4);
        if (off) b->off = off;
        uint16_t *ln = vq_realloc(b->len, b->cap * 2, nc * 2);
        if (ln) b->len = ln;
        if (!tf || !off || !ln) return b->oom = 1, VQ_ENOMEM;
        b->cap = nc;
    }
    if (b->nchars + len + 1 > b->cap_chars) {
        size_t nc = b->cap_chars ? 2 * b->cap_chars : 4096;
        while (nc < b->nchars + len + 1) nc *= 2;
        char *c = vq_realloc(b->chars, b->cap_chars, nc);
        if (!c) return b->oom = 1, VQ_ENOMEM;
        b->chars = c, b->cap_chars = nc;
    }
    memcpy(b->chars + b->nchars, tok, len + 1);
    b->off[b->n] = (uint32_t)b->nchars;
    b->len[b->n] = (uint16_t)len;
    b->tf[b->n] = 1;
    b->nchars += len + 1;
    if (vqe__hmap_put(&b->map, tok, len, b->n)) return b->oom = 1, VQ_ENOMEM;
    b->n++;
    return 0;
}

static void bag_free(bag *b) {
    vqe__hmap_free(&b->map, NULL);
    vq_free(b->chars), vq_free(b->tf), vq_free(b->off), vq_free(b->len);
}

static void wr32(uint8_t *p, uint32_t v) { vqe__be32(p, v); }

int vqe__text_postings(const char *text, size_t len, const char *field, uint8_t **out,
                       size_t *out_len, vq_err *err) {
    bag b = {0};
    long nt = vqe_tokenize(text ? text : "", text ? len : 0, bag_token, &b);
    if (nt < 0 || b.oom) {
        bag_free(&b);
        return vq_err_set(err, VQ_ENOMEM, field, "out of memory while tokenizing");
    }
    if (b.total > UINT32_MAX) {
        bag_free(&b);
        return vq_err_set(err, VQ_ETOOBIG, field, "more than 2^32 tokens");
    }
    size_t sz = 9;
    for (size_t i = 0; i < b.n; i++) sz += 6 + b.len[i];
    uint8_t *p = vq_malloc(sz);
    if (!p) {
        bag_free(&b);
        return vq_err_set(err, VQ_ENOMEM, field, "out of memory");
    }
    p[0] = 'T';
    wr32(p + 1, (uint32_t)b.total);
    wr32(p + 5, (uint32_t)b.n);
    size_t w = 9;
    for (size_t i = 0; i < b.n; i++) {
        p[w] = (uint8_t)(b.len[i] >> 8), p[w + 1] = (uint8_t)b.len[i];
        memcpy(p + w + 2, b.chars + b.off[i], b.len[i]);
        wr32(p + w + 2 + b.len[i], b.tf[i]);
        w += 6 + b.len[i];
    }
    bag_free(&b);
    *out = p;
    *out_len = sz;
    return VQ_OK;
}

typedef struct ipair {
    uint32_t i;
    float v;
    size_t at; /* position in the input, for errors */
} ipair;

static int cmp_ipair(const void *a, const void *b) {
    const ipair *x = a, *y = b;
    return x->i < y->i ? -1 : x->i > y->i;
}

int vqe__sparse_postings(const uint32_t *idx, const float *val, size_t n, const char *field,
                         uint8_t **out, size_t *out_len, vq_err *err) {
    char f[160];
    VQ_FAIL_IF(n > VQE_SPARSE_NNZ_MAX, VQ_ETOOBIG, err, field, "%zu entries > %d", n,
               VQE_SPARSE_NNZ_MAX);
    VQ_FAIL_IF(n && (!idx || !val), VQ_EINVAL, err, field, "missing indices or values");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(val[i])) {
            snprintf(f, sizeof f, "%.120s.values[%zu]", field, i);
            return vq_err_set(err, VQ_ENOTFINITE, f, "value is %s", isnan(val[i]) ? "NaN" : "Inf");
        }
    ipair *t = vq_malloc((n ? n : 1) * sizeof *t);
    VQ_FAIL_IF(!t, VQ_ENOMEM, err, field, "out of memory");
    for (size_t i = 0; i < n; i++) t[i] = (ipair){idx[i], val[i], i};
    qsort(t, n, sizeof *t, cmp_ipair);
    for (size_t i = 1; i < n; i++)
        if (t[i].i == t[i - 1].i) {
            size_t a = t[i].at < t[i - 1].at ? t[i].at : t[i - 1].at;
            size_t b = t[i].at < t[i - 1].at ? t[i - 1].at : t[i].at;
            vq_free(t);
            snprintf(f, sizeof f, "%.120s.indices[%zu]", field, b);
            return vq_err_set(err, VQ_EINVAL, f, "index %u repeats indices[%zu]", idx[b], a);
        }
    uint8_t *p = vq_malloc(5 + 8 * n);
    if (!p) {
        vq_free(t);
        return vq_err_set(err, VQ_ENOMEM, field, "out of memory");
    }
    p[0] = 'S';
    wr32(p + 1, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        float v = t[i].v == 0 ? 0.0f : t[i].v; /* -0 stored as 0 */
        memcpy(&bits, &v, 4);
        wr32(p + 5 + 8 * i, t[i].i);
        wr32(p + 9 + 8 * i, bits);
    }
    vq_free(t);
    *out = p;
    *out_len = 5 + 8 * n;
    return VQ_OK;
}

#define CORRUPT(...) vq_err_set(err, VQ_ECORRUPT, "postings", __VA_ARGS__)

static int apply_text(vqe_impact *ix, uint32_t iid, const uint8_t *p, size_t n, vq_err *err) {
    if (n < 9) return CORRUPT("text postings of %zu bytes (internal id %u)", n, iid);
    uint32_t dl = vqe__rd32(p + 1), nt = vqe__rd32(p + 5);
    if (nt > (n - 9) / 7) return CORRUPT("%u terms in %zu bytes (internal id %u)", nt, n, iid);
    const char **terms = vq_malloc((nt ? nt : 1) * sizeof *terms);
    uint32_t *lens = vq_malloc((nt ? nt : 1) * 4), *tf = vq_malloc((nt ? nt : 1) * 4);
    int rc =
        (!terms || !lens || !tf) ? vq_err_set(err, VQ_ENOMEM, "postings", "out of memory") : VQ_OK;
    size_t pos = 9;
    uint64_t sum = 0;
    for (uint32_t i = 0; !rc && i < nt; i++) {
        if (n - pos < 2) {
            rc = CORRUPT("text postings truncated (internal id %u)", iid);
            break;
        }
        uint32_t l = (uint32_t)p[pos] << 8 | p[pos + 1];
        if (!l || l > VQE_TOKEN_MAX || n - pos - 2 < (size_t)l + 4 || memchr(p + pos + 2, 0, l)) {
            rc = CORRUPT("text postings: bad term %u (internal id %u)", i, iid);
            break;
        }
        terms[i] = (const char *)p + pos + 2;
        lens[i] = l;
        tf[i] = vqe__rd32(p + pos + 2 + l);
        if (!tf[i]) rc = CORRUPT("text postings: zero frequency (internal id %u)", iid);
        sum += tf[i];
        pos += 6 + l;
    }
    if (!rc && (pos != n || sum > dl))
        rc = CORRUPT("text postings: trailing bytes or length below frequencies (internal id %u)",
                     iid);
    if (!rc) {
        vq_err e;
        rc = vqe_impact_add_terms(ix, iid, terms, lens, tf, nt, dl, &e);
        if (rc == VQ_EINVAL) /* e.g. a term twice: the record is malformed */
            rc = CORRUPT("text postings: %s (internal id %u)", e.msg, iid);
        else if (rc)
            rc = vq_err_set(err, rc, "postings", "%s", e.msg);
    }
    vq_free(terms), vq_free(lens), vq_free(tf);
    return rc;
}

static int apply_sparse(vqe_impact *ix, uint32_t iid, const uint8_t *p, size_t n, vq_err *err) {
    if (n < 5) return CORRUPT("sparse postings of %zu bytes (internal id %u)", n, iid);
    uint32_t m = vqe__rd32(p + 1);
    if (m > VQE_SPARSE_NNZ_MAX || (size_t)m * 8 != n - 5)
        return CORRUPT("sparse postings: %u entries in %zu bytes (internal id %u)", m, n, iid);
    uint32_t *idx = vq_malloc((m ? m : 1) * 4);
    float *val = vq_malloc((m ? m : 1) * 4);
    int rc = (!idx || !val) ? vq_err_set(err, VQ_ENOMEM, "postings", "out of memory") : VQ_OK;
    for (uint32_t i = 0; !rc && i < m; i++) {
        idx[i] = vqe__rd32(p + 5 + 8 * i);
        uint32_t bits = vqe__rd32(p + 9 + 8 * i);
        memcpy(&val[i], &bits, 4);
        if (!isfinite(val[i]) || (i && idx[i] <= idx[i - 1]))
            rc = CORRUPT("sparse postings: unsorted index or non-finite value (internal id %u)",
                         iid);
    }
    if (!rc) {
        vq_err e;
        rc = vqe_impact_add_sparse(ix, iid, idx, val, m, &e);
        if (rc) rc = vq_err_set(err, rc, "postings", "%s", e.msg);
    }
    vq_free(idx), vq_free(val);
    return rc;
}

int vqe__postings_apply(vqe_impact *ix, vqe_type type, uint32_t iid, const uint8_t *p, size_t n,
                        vq_err *err) {
    if (!n) return CORRUPT("empty postings record (internal id %u)", iid);
    if (type == VQE_TEXT && p[0] == 'T') return apply_text(ix, iid, p, n, err);
    if (type == VQE_SPARSE && p[0] == 'S') return apply_sparse(ix, iid, p, n, err);
    return CORRUPT("postings record of the wrong kind '%c' (internal id %u)", p[0], iid);
}

int vqe__impact_init(vqe_collection *c, vq_err *err) {
    for (unsigned f = 0; f < c->schema.n_fields; f++) {
        vqe_type t = c->schema.fields[f].type;
        if (t != VQE_TEXT && t != VQE_SPARSE) continue;
        VQ_TRY(vqe_impact_new(t == VQE_TEXT ? VQE_IMPACT_BM25 : VQE_IMPACT_SPARSE, NULL,
                              &c->impact[f], err));
    }
    return VQ_OK;
}
