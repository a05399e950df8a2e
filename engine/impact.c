/* impact.c — the in-memory impact index behind BM25 and sparse-vector search (text.h).
 *
 * Layout: term -> posting list (doc ids ascending, with tf for BM25 or a float value for
 * sparse), plus per-list bounds (max tf and min document length for BM25; max and min value
 * for sparse) from which query-time score upper bounds are derived. A doc-major copy (each
 * document's sorted term ids and payloads) serves removal, compaction and the exhaustive
 * reference scorer. Documents must be added in increasing id order (the engine assigns
 * internal ids monotonically), which keeps every posting list sorted by appending.
 *
 * Removal marks the document in `deleted` and updates df/N/total length at once, so scores
 * equal those of an index that never held the document; postings stay until compaction.
 * Bounds computed before a removal stay valid (they can only be looser).
 *
 * Search: MaxScore, document at a time (see text.h). Pruning compares strictly (< theta) so
 * that ties are resolved exactly by the smaller document id, as the reference does. Upper
 * bounds are inflated by 1e-9 relative so floating-point rounding never makes a bound lower
 * than a score computed with the same formula. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

typedef struct plist {
    uint32_t *doc;
    float *val; /* sparse value, or tf as float for BM25 */
    size_t n, cap;
    uint32_t df;      /* live documents holding the term */
    float vmax, vmin; /* over all postings ever added (bounds stay valid after deletes) */
    uint32_t min_len; /* BM25: shortest document in the list */
    uint64_t stamp;   /* add in progress that last saw the term (single writer) */
    uint32_t slot;    /* its position in that add's term array */
} plist;

typedef struct term_slot {
    uint64_t key; /* sparse: term id + 1; BM25: hash of the string */
    uint32_t list;
    uint32_t str_off; /* BM25: offset of the term string in `strs` */
} term_slot;

struct vqe_impact {
    vqe_impact_kind kind;
    vqe_bm25_params bm;
    /* term dictionary: open addressing */
    term_slot *slots;
    size_t n_slots, n_terms;
    char *strs;
    size_t strs_len, strs_cap;
    plist *lists;
    size_t lists_cap;
    /* doc-major copy */
    uint64_t *doc_off; /* per doc id: offset into dterm/dval, UINT64_MAX when absent */
    uint32_t *doc_n;   /* number of distinct terms */
    uint32_t *doc_len; /* BM25: tokens */
    size_t docs_cap;
    uint32_t *dterm;
    float *dval;
    size_t dn, dcap;
    int64_t last_doc;
    uint64_t add_stamp;
    roaring_bitmap_t *deleted;
    uint64_t n_live, total_len, n_postings;
};

void vqe_bm25_params_default(vqe_bm25_params *p) {
    p->k1 = 1.2;
    p->b = 0.75;
    p->stop_words = NULL;
}

int vqe_impact_new(vqe_impact_kind kind, const vqe_bm25_params *p, vqe_impact **out, vq_err *err) {
    VQ_FAIL_IF(kind != VQE_IMPACT_BM25 && kind != VQE_IMPACT_SPARSE, VQ_EINVAL, err, "kind",
               "unknown impact index kind %d", (int)kind);
    vqe_impact *ix = calloc(1, sizeof *ix);
    VQ_FAIL_IF(!ix, VQ_ENOMEM, err, "text index", "out of memory");
    ix->kind = kind;
    vqe_bm25_params_default(&ix->bm);
    if (p) ix->bm = *p;
    if (!(ix->bm.k1 >= 0 && ix->bm.k1 <= 100) || !(ix->bm.b >= 0 && ix->bm.b <= 1)) {
        free(ix);
        return vq_err_set(err, VQ_EINVAL, "bm25", "k1 must be in [0, 100] and b in [0, 1]");
    }
    ix->n_slots = 1024;
    ix->slots = calloc(ix->n_slots, sizeof *ix->slots);
    ix->deleted = roaring_bitmap_create();
    ix->last_doc = -1;
    if (!ix->slots || !ix->deleted) {
        vqe_impact_free(ix);
        return vq_err_set(err, VQ_ENOMEM, "text index", "out of memory");
    }
    *out = ix;
    return VQ_OK;
}

void vqe_impact_free(vqe_impact *ix) {
    if (!ix) return;
    for (size_t i = 0; i < ix->n_terms; i++) {
        free(ix->lists[i].doc);
        free(ix->lists[i].val);
    }
    free(ix->lists);
    free(ix->slots);
    free(ix->strs);
    free(ix->doc_off);
    free(ix->doc_n);
    free(ix->doc_len);
    free(ix->dterm);
    free(ix->dval);
    if (ix->deleted) roaring_bitmap_free(ix->deleted);
    free(ix);
}

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h | 1; /* 0 marks an empty slot */
}

static int grow_slots(vqe_impact *ix) {
    size_t ns = ix->n_slots * 2;
    term_slot *s = calloc(ns, sizeof *s);
    if (!s) return VQ_ENOMEM;
    for (size_t i = 0; i < ix->n_slots; i++) {
        if (!ix->slots[i].key) continue;
        size_t j = ix->slots[i].key & (ns - 1);
        while (s[j].key) j = (j + 1) & (ns - 1);
        s[j] = ix->slots[i];
    }
    free(ix->slots);
    ix->slots = s;
    ix->n_slots = ns;
    return VQ_OK;
}

/* Finds a term's list; creates it when `create`. Returns the list index or -1 (absent) or
 * -2 (out of memory). */
static long term_lookup(vqe_impact *ix, const char *str, size_t len, uint32_t id, int create) {
    uint64_t key = ix->kind == VQE_IMPACT_BM25 ? fnv(str, len) : (uint64_t)id + 1;
    size_t j = key & (ix->n_slots - 1);
    while (ix->slots[j].key) {
        term_slot *t = &ix->slots[j];
        if (t->key == key &&
            (ix->kind == VQE_IMPACT_SPARSE ||
             (strlen(ix->strs + t->str_off) == len && !memcmp(ix->strs + t->str_off, str, len))))
            return t->list;
        j = (j + 1) & (ix->n_slots - 1);
    }
    if (!create) return -1;
    if ((ix->n_terms + 1) * 2 > ix->n_slots) {
        if (grow_slots(ix) < 0) return -2;
        return term_lookup(ix, str, len, id, create);
    }
    if (ix->n_terms == ix->lists_cap) {
        size_t nc = ix->lists_cap ? ix->lists_cap * 2 : 256;
        plist *nl = realloc(ix->lists, nc * sizeof *nl);
        if (!nl) return -2;
        ix->lists = nl;
        ix->lists_cap = nc;
    }
    uint32_t off = 0;
    if (ix->kind == VQE_IMPACT_BM25) {
        if (ix->strs_len + len + 1 > ix->strs_cap) {
            size_t nc = ix->strs_cap ? ix->strs_cap * 2 : 65536;
            while (nc < ix->strs_len + len + 1) nc *= 2;
            char *ns = realloc(ix->strs, nc);
            if (!ns) return -2;
            ix->strs = ns;
            ix->strs_cap = nc;
        }
        off = (uint32_t)ix->strs_len;
        memcpy(ix->strs + off, str, len);
        ix->strs[off + len] = '\0';
        ix->strs_len += len + 1;
    }
    plist *pl = &ix->lists[ix->n_terms];
    memset(pl, 0, sizeof *pl);
    pl->vmax = -INFINITY;
    pl->vmin = INFINITY;
    pl->min_len = UINT32_MAX;
    ix->slots[j].key = key;
    ix->slots[j].list = (uint32_t)ix->n_terms;
    ix->slots[j].str_off = off;
    return (long)ix->n_terms++;
}

static int plist_push(plist *pl, uint32_t doc, float v) {
    if (pl->n == pl->cap) {
        size_t nc = pl->cap ? pl->cap * 2 : 4;
        uint32_t *nd = realloc(pl->doc, nc * sizeof *nd);
        if (!nd) return VQ_ENOMEM;
        pl->doc = nd;
        float *nv = realloc(pl->val, nc * sizeof *nv);
        if (!nv) return VQ_ENOMEM;
        pl->val = nv;
        pl->cap = nc;
    }
    pl->doc[pl->n] = doc;
    pl->val[pl->n] = v;
    pl->n++;
    if (v > pl->vmax) pl->vmax = v;
    if (v < pl->vmin) pl->vmin = v;
    pl->df++;
    return VQ_OK;
}

static int ensure_doc(vqe_impact *ix, uint32_t doc, size_t nterms) {
    if (doc >= ix->docs_cap) {
        size_t nc = ix->docs_cap ? ix->docs_cap : 1024;
        while (nc <= doc) nc *= 2;
        uint64_t *no = realloc(ix->doc_off, nc * sizeof *no);
        if (!no) return VQ_ENOMEM;
        ix->doc_off = no;
        uint32_t *nn = realloc(ix->doc_n, nc * sizeof *nn);
        if (!nn) return VQ_ENOMEM;
        ix->doc_n = nn;
        uint32_t *nl = realloc(ix->doc_len, nc * sizeof *nl);
        if (!nl) return VQ_ENOMEM;
        ix->doc_len = nl;
        for (size_t i = ix->docs_cap; i < nc; i++)
            ix->doc_off[i] = UINT64_MAX, nn[i] = 0, nl[i] = 0;
        ix->docs_cap = nc;
    }
    if (ix->dn + nterms > ix->dcap) {
        size_t nc = ix->dcap ? ix->dcap * 2 : 65536;
        while (nc < ix->dn + nterms) nc *= 2;
        uint32_t *nt = realloc(ix->dterm, nc * sizeof *nt);
        if (!nt) return VQ_ENOMEM;
        ix->dterm = nt;
        float *nv = realloc(ix->dval, nc * sizeof *nv);
        if (!nv) return VQ_ENOMEM;
        ix->dval = nv;
        ix->dcap = nc;
    }
    return VQ_OK;
}

/* Term occurrences of one document, gathered before anything is committed. */
typedef struct tok_acc {
    vqe_impact *ix;
    uint32_t *terms; /* list index per distinct term */
    float *tf;
    size_t n, cap, total;
    int oom;
} tok_acc;

static int is_stop(const vqe_impact *ix, const char *tok) {
    if (!ix->bm.stop_words) return 0;
    for (const char *const *w = ix->bm.stop_words; *w; w++)
        if (!strcmp(*w, tok)) return 1;
    return 0;
}

static int acc_token(const char *tok, size_t len, void *ctx) {
    tok_acc *a = ctx;
    if (is_stop(a->ix, tok)) return 0;
    a->total++;
    long li = term_lookup(a->ix, tok, len, 0, 1);
    if (li == -2) return VQ_ENOMEM;
    plist *pl = &a->ix->lists[li];
    if (pl->stamp == a->ix->add_stamp) { /* seen earlier in this document */
        a->tf[pl->slot] += 1;
        return 0;
    }
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        uint32_t *nt = realloc(a->terms, nc * sizeof *nt);
        if (!nt) return VQ_ENOMEM;
        a->terms = nt;
        float *nf = realloc(a->tf, nc * sizeof *nf);
        if (!nf) return VQ_ENOMEM;
        a->tf = nf;
        a->cap = nc;
    }
    a->terms[a->n] = (uint32_t)li;
    a->tf[a->n] = 1;
    pl->stamp = a->ix->add_stamp;
    pl->slot = (uint32_t)a->n;
    a->n++;
    return 0;
}

static int cmp_u32pair(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int commit_doc(vqe_impact *ix, uint32_t doc, const uint32_t *terms, const float *vals,
                      size_t n, uint32_t len, vq_err *err) {
    VQ_FAIL_IF(ensure_doc(ix, doc, n) < 0, VQ_ENOMEM, err, "text index", "out of memory");
    /* doc-major copy sorted by term id for merge joins */
    typedef struct {
        uint32_t t;
        float v;
    } tv;
    tv *tmp = malloc((n ? n : 1) * sizeof *tmp);
    VQ_FAIL_IF(!tmp, VQ_ENOMEM, err, "text index", "out of memory");
    for (size_t i = 0; i < n; i++) tmp[i].t = terms[i], tmp[i].v = vals[i];
    qsort(tmp, n, sizeof *tmp, cmp_u32pair);
    for (size_t i = 0; i < n; i++) {
        plist *pl = &ix->lists[tmp[i].t];
        if (plist_push(pl, doc, tmp[i].v) < 0) {
            free(tmp);
            return vq_err_set(err, VQ_ENOMEM, "text index", "out of memory");
        }
        if (len < pl->min_len) pl->min_len = len;
        ix->dterm[ix->dn + i] = tmp[i].t;
        ix->dval[ix->dn + i] = tmp[i].v;
    }
    free(tmp);
    ix->doc_off[doc] = ix->dn;
    ix->doc_n[doc] = (uint32_t)n;
    ix->doc_len[doc] = len;
    ix->dn += n;
    ix->n_postings += n;
    ix->n_live++;
    ix->total_len += len;
    ix->last_doc = doc;
    return VQ_OK;
}

int vqe_impact_add_text(vqe_impact *ix, uint32_t doc, const char *text, size_t len, vq_err *err) {
    VQ_FAIL_IF(ix->kind != VQE_IMPACT_BM25, VQ_EINVAL, err, "text", "not a text index");
    VQ_FAIL_IF((int64_t)doc <= ix->last_doc, VQ_EINVAL, err, "doc",
               "document ids must increase: %u after %lld", doc, (long long)ix->last_doc);
    VQ_FAIL_IF(!text && len, VQ_EINVAL, err, "text", "null text");
    tok_acc a = {.ix = ix};
    ix->add_stamp++; /* stamps start at 0 in new lists, so the first add uses 1 */
    long rc = vqe_tokenize(text ? text : "", len, acc_token, &a);
    if (rc < 0) {
        free(a.terms);
        free(a.tf);
        return vq_err_set(err, VQ_ENOMEM, "text", "out of memory while tokenizing");
    }
    VQ_FAIL_IF(a.total > UINT32_MAX, VQ_ETOOBIG, err, "text", "more than 2^32 tokens");
    int r = commit_doc(ix, doc, a.terms, a.tf, a.n, (uint32_t)a.total, err);
    free(a.terms);
    free(a.tf);
    return r;
}

int vqe_impact_add_terms(vqe_impact *ix, uint32_t doc, const char *const *terms,
                         const uint32_t *lens, const uint32_t *tf, size_t n, uint64_t doc_len,
                         vq_err *err) {
    VQ_FAIL_IF(ix->kind != VQE_IMPACT_BM25, VQ_EINVAL, err, "text", "not a text index");
    VQ_FAIL_IF((int64_t)doc <= ix->last_doc, VQ_EINVAL, err, "doc",
               "document ids must increase: %u after %lld", doc, (long long)ix->last_doc);
    VQ_FAIL_IF(n && (!terms || !lens || !tf), VQ_EINVAL, err, "terms", "NULL argument");
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        VQ_FAIL_IF(!terms[i] || !lens[i] || lens[i] > VQE_TOKEN_MAX || memchr(terms[i], 0, lens[i]),
                   VQ_EINVAL, err, "terms", "term %zu: length %u not in 1..%u or holds NUL", i,
                   lens[i], VQE_TOKEN_MAX);
        VQ_FAIL_IF(!tf[i], VQ_EINVAL, err, "terms", "term %zu has frequency 0", i);
        sum += tf[i];
    }
    VQ_FAIL_IF(doc_len < sum || doc_len > UINT32_MAX, VQ_EINVAL, err, "terms",
               "document length %llu < %llu term occurrences or >= 2^32",
               (unsigned long long)doc_len, (unsigned long long)sum);
    uint32_t *lists = malloc((n ? n : 1) * sizeof *lists);
    float *vals = malloc((n ? n : 1) * sizeof *vals);
    if (!lists || !vals) {
        free(lists), free(vals);
        return vq_err_set(err, VQ_ENOMEM, "text index", "out of memory");
    }
    ix->add_stamp++;
    for (size_t i = 0; i < n; i++) {
        long li = term_lookup(ix, terms[i], lens[i], 0, 1);
        if (li < 0) {
            free(lists), free(vals);
            return vq_err_set(err, VQ_ENOMEM, "text index", "out of memory");
        }
        plist *pl = &ix->lists[li];
        if (pl->stamp == ix->add_stamp) {
            free(lists), free(vals);
            return vq_err_set(err, VQ_EINVAL, "terms", "term %zu given twice", i);
        }
        pl->stamp = ix->add_stamp;
        lists[i] = (uint32_t)li;
        vals[i] = (float)tf[i];
    }
    int r = commit_doc(ix, doc, lists, vals, n, (uint32_t)doc_len, err);
    free(lists), free(vals);
    return r;
}

int vqe_impact_add_sparse(vqe_impact *ix, uint32_t doc, const uint32_t *terms, const float *values,
                          size_t n, vq_err *err) {
    VQ_FAIL_IF(ix->kind != VQE_IMPACT_SPARSE, VQ_EINVAL, err, "sparse", "not a sparse index");
    VQ_FAIL_IF((int64_t)doc <= ix->last_doc, VQ_EINVAL, err, "doc",
               "document ids must increase: %u after %lld", doc, (long long)ix->last_doc);
    for (size_t i = 0; i < n; i++) {
        VQ_FAIL_IF(i && terms[i] <= terms[i - 1], VQ_EINVAL, err, "sparse.indices",
                   "indices must be strictly increasing (index %zu: %u after %u)", i, terms[i],
                   terms[i - 1]);
        VQ_FAIL_IF(!isfinite(values[i]), VQ_ENOTFINITE, err, "sparse.values",
                   "value %zu is not finite", i);
    }
    uint32_t *lists = malloc((n ? n : 1) * sizeof *lists);
    VQ_FAIL_IF(!lists, VQ_ENOMEM, err, "sparse", "out of memory");
    for (size_t i = 0; i < n; i++) {
        long li = term_lookup(ix, NULL, 0, terms[i], 1);
        if (li < 0) {
            free(lists);
            return vq_err_set(err, VQ_ENOMEM, "sparse", "out of memory");
        }
        lists[i] = (uint32_t)li;
    }
    int r = commit_doc(ix, doc, lists, values, n, 0, err);
    free(lists);
    return r;
}

static int is_live(const vqe_impact *ix, uint32_t doc) {
    return doc < ix->docs_cap && ix->doc_off[doc] != UINT64_MAX &&
           !roaring_bitmap_contains(ix->deleted, doc);
}

int vqe_impact_remove(vqe_impact *ix, uint32_t doc) {
    if (!is_live(ix, doc)) return VQ_OK;
    roaring_bitmap_add(ix->deleted, doc);
    uint64_t off = ix->doc_off[doc];
    for (uint32_t i = 0; i < ix->doc_n[doc]; i++) ix->lists[ix->dterm[off + i]].df--;
    ix->n_live--;
    ix->total_len -= ix->doc_len[doc];
    return VQ_OK;
}

int vqe_impact_compact(vqe_impact *ix, vq_err *err) {
    for (size_t t = 0; t < ix->n_terms; t++) {
        plist *pl = &ix->lists[t];
        size_t w = 0;
        pl->vmax = -INFINITY;
        pl->vmin = INFINITY;
        pl->min_len = UINT32_MAX;
        for (size_t i = 0; i < pl->n; i++) {
            if (roaring_bitmap_contains(ix->deleted, pl->doc[i])) continue;
            pl->doc[w] = pl->doc[i];
            pl->val[w] = pl->val[i];
            if (pl->val[w] > pl->vmax) pl->vmax = pl->val[w];
            if (pl->val[w] < pl->vmin) pl->vmin = pl->val[w];
            if (ix->doc_len[pl->doc[w]] < pl->min_len) pl->min_len = ix->doc_len[pl->doc[w]];
            w++;
        }
        ix->n_postings -= pl->n - w;
        pl->n = w;
    }
    /* The doc-major arrays keep their slots; deleted documents are unlinked. */
    roaring_uint32_iterator_t *it = roaring_create_iterator(ix->deleted);
    VQ_FAIL_IF(!it, VQ_ENOMEM, err, "text index", "out of memory");
    while (it->has_value) {
        ix->doc_off[it->current_value] = UINT64_MAX;
        roaring_advance_uint32_iterator(it);
    }
    roaring_free_uint32_iterator(it);
    roaring_bitmap_clear(ix->deleted);
    return VQ_OK;
}

void vqe_impact_stats_get(const vqe_impact *ix, vqe_impact_stats *st) {
    st->docs = ix->n_live;
    st->terms = ix->n_terms;
    st->postings = ix->n_postings;
    st->avgdl = ix->n_live ? (double)ix->total_len / (double)ix->n_live : 0;
    st->scored = 0;
}

/* ---- scoring ---- */

typedef struct qterm {
    const plist *pl;
    double w;   /* sparse: query weight; BM25: idf */
    double ub;  /* score upper bound, >= 0 */
    size_t pos; /* cursor */
    uint32_t list;
} qterm;

typedef struct scorer {
    const vqe_impact *ix;
    double k1, b, avgdl;
} scorer;

static inline double contrib(const scorer *s, const qterm *t, size_t pos) {
    double v = t->pl->val[pos];
    if (s->ix->kind == VQE_IMPACT_SPARSE) return t->w * v;
    double len = s->ix->doc_len[t->pl->doc[pos]];
    return t->w * v * (s->k1 + 1) / (v + s->k1 * (1 - s->b + s->b * len / s->avgdl));
}

static double idf(const vqe_impact *ix, uint32_t df) {
    double n = (double)ix->n_live, v = log((n - df + 0.5) / (df + 0.5));
    return v > 1e-6 ? v : 1e-6;
}

/* Min-heap of the k best (worst on top). Worse = lower score, or equal score and larger
 * doc id. */
static int worse(const vqe_scored *a, const vqe_scored *b) {
    return a->score < b->score || (a->score == b->score && a->doc > b->doc);
}
static void heap_sift_down(vqe_scored *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m])) m = l;
        if (r < n && worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        vqe_scored t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}
static void heap_push(vqe_scored *h, size_t *n, unsigned k, vqe_scored x) {
    if (*n < k) {
        size_t i = (*n)++;
        h[i] = x;
        while (i && worse(&h[i], &h[(i - 1) / 2])) {
            vqe_scored t = h[i];
            h[i] = h[(i - 1) / 2];
            h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (worse(&h[0], &x)) {
        h[0] = x;
        heap_sift_down(h, *n, 0);
    }
}
static int cmp_best_first(const void *a, const void *b) {
    const vqe_scored *x = a, *y = b;
    return worse(y, x) ? -1 : worse(x, y) ? 1 : 0;
}

static int doc_ok(const vqe_impact *ix, const roaring_bitmap_t *allowed, uint32_t doc) {
    return !roaring_bitmap_contains(ix->deleted, doc) &&
           (!allowed || roaring_bitmap_contains(allowed, doc));
}

/* Moves an essential list's cursor to its next allowed, live posting (at most once per
 * posting, so the bitmaps are probed once per posting rather than once per candidate). */
static inline void skip_bad(const vqe_impact *ix, const roaring_bitmap_t *allowed, int check,
                            qterm *t) {
    if (!check) return;
    const plist *pl = t->pl;
    while (t->pos < pl->n && !doc_ok(ix, allowed, pl->doc[t->pos])) t->pos++;
}

/* First position >= from whose doc >= target (galloping then binary search). */
static size_t seek(const plist *pl, size_t from, uint32_t target) {
    size_t lo = from, step = 1, hi = from;
    while (hi < pl->n && pl->doc[hi] < target) {
        lo = hi + 1;
        hi += step;
        step *= 2;
    }
    if (hi > pl->n) hi = pl->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pl->doc[mid] < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_ub(const void *a, const void *b) {
    const qterm *x = a, *y = b;
    return x->ub < y->ub ? -1 : x->ub > y->ub ? 1 : (x->list > y->list) - (x->list < y->list);
}

static int maxscore(const vqe_impact *ix, qterm *t, size_t m, unsigned k,
                    const roaring_bitmap_t *allowed, vqe_scored *out, size_t *n_out,
                    uint64_t *scored_out, vq_err *err) {
    scorer s = {ix, ix->bm.k1, ix->bm.b,
                ix->n_live ? (double)ix->total_len / (double)ix->n_live : 1.0};
    if (s.avgdl <= 0) s.avgdl = 1;
    for (size_t i = 0; i < m; i++) {
        double ub;
        if (ix->kind == VQE_IMPACT_SPARSE) {
            ub = t[i].w >= 0 ? t[i].w * t[i].pl->vmax : t[i].w * t[i].pl->vmin;
        } else {
            double tf = t[i].pl->vmax, len = t[i].pl->min_len;
            ub = t[i].w * tf * (s.k1 + 1) / (tf + s.k1 * (1 - s.b + s.b * len / s.avgdl));
        }
        t[i].ub = ub > 0 ? ub * (1 + 1e-9) + 1e-300 : 0;
        t[i].pos = 0;
    }
    qsort(t, m, sizeof *t, cmp_ub);
    double *prefix = malloc((m ? m : 1) * sizeof *prefix);
    vqe_scored *heap = malloc((k ? k : 1) * sizeof *heap);
    if (!prefix || !heap) {
        free(prefix);
        free(heap);
        return vq_err_set(err, VQ_ENOMEM, "search", "out of memory");
    }
    for (size_t i = 0; i < m; i++) prefix[i] = (i ? prefix[i - 1] : 0) + t[i].ub;
    size_t nh = 0, p = 0; /* terms [0, p) are non-essential */
    double theta = -INFINITY;
    uint64_t scored = 0;
    /* invariant: every essential cursor rests on an allowed, live posting (or the end) */
    int check = allowed != NULL || !roaring_bitmap_is_empty(ix->deleted);
    for (size_t i = 0; i < m; i++) skip_bad(ix, allowed, check, &t[i]);
    for (;;) {
        uint32_t d = UINT32_MAX;
        for (size_t i = p; i < m; i++) {
            const plist *pl = t[i].pl;
            if (t[i].pos < pl->n && pl->doc[t[i].pos] < d) d = pl->doc[t[i].pos];
        }
        if (d == UINT32_MAX) break;
        double score = 0;
        for (size_t i = p; i < m; i++)
            if (t[i].pos < t[i].pl->n && t[i].pl->doc[t[i].pos] == d) {
                score += contrib(&s, &t[i], t[i].pos);
                t[i].pos++;
                skip_bad(ix, allowed, check, &t[i]);
            }
        int pruned = 0;
        for (size_t ii = p; ii-- > 0;) {
            if (nh == k && score + prefix[ii] < theta) {
                pruned = 1;
                break;
            }
            size_t pos = seek(t[ii].pl, t[ii].pos, d);
            t[ii].pos = pos;
            if (pos < t[ii].pl->n && t[ii].pl->doc[pos] == d) score += contrib(&s, &t[ii], pos);
        }
        if (pruned) continue;
        scored++;
        vqe_scored x = {d, score};
        heap_push(heap, &nh, k, x);
        if (nh == k) {
            theta = heap[0].score;
            while (p < m && prefix[p] < theta) p++;
        }
    }
    qsort(heap, nh, sizeof *heap, cmp_best_first);
    memcpy(out, heap, nh * sizeof *heap);
    *n_out = nh;
    if (scored_out) *scored_out = scored;
    free(prefix);
    free(heap);
    return VQ_OK;
}

typedef struct qacc {
    const vqe_impact *ix;
    uint32_t *lists;
    double *mult; /* occurrences of the term in the query */
    size_t n, cap;
} qacc;

static int q_token(const char *tok, size_t len, void *ctx) {
    qacc *q = ctx;
    if (is_stop(q->ix, tok)) return 0;
    long li = term_lookup((vqe_impact *)q->ix, tok, len, 0, 0);
    if (li < 0) return 0; /* a term no document holds adds nothing */
    for (size_t i = 0; i < q->n; i++)
        if (q->lists[i] == (uint32_t)li) {
            q->mult[i] += 1;
            return 0;
        }
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 16;
        uint32_t *nl = realloc(q->lists, nc * sizeof *nl);
        if (!nl) return VQ_ENOMEM;
        q->lists = nl;
        double *nm = realloc(q->mult, nc * sizeof *nm);
        if (!nm) return VQ_ENOMEM;
        q->mult = nm;
        q->cap = nc;
    }
    q->mult[q->n] = 1;
    q->lists[q->n++] = (uint32_t)li;
    return 0;
}

int vqe_impact_search_text(const vqe_impact *ix, const char *query, size_t len, unsigned k,
                           const roaring_bitmap_t *allowed, vqe_scored *out, size_t *n_out,
                           uint64_t *scored, vq_err *err) {
    VQ_FAIL_IF(ix->kind != VQE_IMPACT_BM25, VQ_EINVAL, err, "text", "not a text index");
    VQ_FAIL_IF(k == 0, VQ_EINVAL, err, "k", "k must be at least 1");
    VQ_FAIL_IF(!query && len, VQ_EINVAL, err, "query", "null query");
    qacc q = {.ix = ix};
    if (vqe_tokenize(query ? query : "", len, q_token, &q) < 0) {
        free(q.lists);
        free(q.mult);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    qterm *t = calloc(q.n ? q.n : 1, sizeof *t);
    if (!t) {
        free(q.lists);
        free(q.mult);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < q.n; i++) {
        const plist *pl = &ix->lists[q.lists[i]];
        if (!pl->df) continue;
        t[m].pl = pl;
        t[m].list = q.lists[i];
        t[m].w = idf(ix, pl->df) * q.mult[i];
        m++;
    }
    free(q.lists);
    free(q.mult);
    int rc = maxscore(ix, t, m, k, allowed, out, n_out, scored, err);
    free(t);
    return rc;
}

int vqe_impact_search_sparse(const vqe_impact *ix, const uint32_t *terms, const float *weights,
                             size_t n, unsigned k, const roaring_bitmap_t *allowed, vqe_scored *out,
                             size_t *n_out, uint64_t *scored, vq_err *err) {
    VQ_FAIL_IF(ix->kind != VQE_IMPACT_SPARSE, VQ_EINVAL, err, "sparse", "not a sparse index");
    VQ_FAIL_IF(k == 0, VQ_EINVAL, err, "k", "k must be at least 1");
    for (size_t i = 0; i < n; i++) {
        VQ_FAIL_IF(i && terms[i] <= terms[i - 1], VQ_EINVAL, err, "sparse.indices",
                   "query indices must be strictly increasing");
        VQ_FAIL_IF(!isfinite(weights[i]), VQ_ENOTFINITE, err, "sparse.values",
                   "query value %zu is not finite", i);
    }
    qterm *t = calloc(n ? n : 1, sizeof *t);
    VQ_FAIL_IF(!t, VQ_ENOMEM, err, "query", "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        long li = term_lookup((vqe_impact *)ix, NULL, 0, terms[i], 0);
        if (li < 0 || !ix->lists[li].df || weights[i] == 0) continue;
        t[m].pl = &ix->lists[li];
        t[m].list = (uint32_t)li;
        t[m].w = weights[i];
        m++;
    }
    int rc = maxscore(ix, t, m, k, allowed, out, n_out, scored, err);
    free(t);
    return rc;
}

int vqe_impact_search_brute(const vqe_impact *ix, const char *query, size_t len,
                            const uint32_t *terms, const float *weights, size_t n, unsigned k,
                            const roaring_bitmap_t *allowed, vqe_scored *out, size_t *n_out,
                            vq_err *err) {
    VQ_FAIL_IF(k == 0, VQ_EINVAL, err, "k", "k must be at least 1");
    /* Query as sorted (list, weight) pairs. */
    size_t m = 0;
    uint32_t *ql = NULL;
    double *qw = NULL;
    if (ix->kind == VQE_IMPACT_BM25) {
        qacc q = {.ix = ix};
        if (vqe_tokenize(query ? query : "", len, q_token, &q) < 0) {
            free(q.lists);
            free(q.mult);
            return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
        }
        ql = q.lists;
        m = q.n;
        qw = malloc((m ? m : 1) * sizeof *qw);
        if (qw)
            for (size_t i = 0; i < m; i++) qw[i] = idf(ix, ix->lists[ql[i]].df) * q.mult[i];
        free(q.mult);
    } else {
        ql = malloc((n ? n : 1) * sizeof *ql);
        qw = malloc((n ? n : 1) * sizeof *qw);
        if (ql && qw)
            for (size_t i = 0; i < n; i++) {
                long li = term_lookup((vqe_impact *)ix, NULL, 0, terms[i], 0);
                if (li < 0) continue;
                ql[m] = (uint32_t)li;
                qw[m] = weights[i];
                m++;
            }
    }
    vqe_scored *heap = malloc(k * sizeof *heap);
    if (!ql || !qw || !heap) {
        free(ql), free(qw), free(heap);
        return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    }
    /* sort the query by list id for the merge join */
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && ql[j] < ql[j - 1]; j--) {
            uint32_t tl = ql[j];
            ql[j] = ql[j - 1];
            ql[j - 1] = tl;
            double tw = qw[j];
            qw[j] = qw[j - 1];
            qw[j - 1] = tw;
        }
    double k1 = ix->bm.k1, b = ix->bm.b;
    double avgdl = ix->n_live ? (double)ix->total_len / (double)ix->n_live : 1.0;
    if (avgdl <= 0) avgdl = 1;
    size_t nh = 0;
    for (size_t d = 0; d < ix->docs_cap; d++) {
        if (ix->doc_off[d] == UINT64_MAX || !doc_ok(ix, allowed, (uint32_t)d)) continue;
        const uint32_t *dt = ix->dterm + ix->doc_off[d];
        const float *dv = ix->dval + ix->doc_off[d];
        size_t i = 0, j = 0, dn = ix->doc_n[d];
        double score = 0;
        int hit = 0;
        while (i < m && j < dn) {
            if (ql[i] < dt[j])
                i++;
            else if (ql[i] > dt[j])
                j++;
            else {
                double v = dv[j];
                if (ix->kind == VQE_IMPACT_SPARSE)
                    score += qw[i] * v;
                else
                    score += qw[i] * v * (k1 + 1) / (v + k1 * (1 - b + b * ix->doc_len[d] / avgdl));
                hit = 1;
                i++, j++;
            }
        }
        if (hit) heap_push(heap, &nh, k, (vqe_scored){(uint32_t)d, score});
    }
    qsort(heap, nh, sizeof *heap, cmp_best_first);
    memcpy(out, heap, nh * sizeof *heap);
    *n_out = nh;
    free(ql), free(qw), free(heap);
    return VQ_OK;
}
