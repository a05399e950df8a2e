/* query.c — hybrid queries (query.h): validation of the sub-queries, one filter bitmap for
 * all of them, per-sub-query candidate lists (dense planner, BM25 and sparse MaxScore), and
 * fusion (fusion.c).
 *
 * Every sub-query is validated and copied (cos queries normalized, sparse queries sorted by
 * index) before the shared lock is taken; the whole pipeline then runs under the lock, so
 * the lists, the filter bitmap and the id tables describe the same set of records. Stages
 * that work on the fused pool (diversity, graph expansion) belong after fusion, before the
 * pool is cut to k, still under the lock (they read c->vecs).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_internal.h"
#include "query.h"

void vqe_subquery_init(vqe_subquery *s, vqe_sub_kind kind) {
    memset(s, 0, sizeof *s);
    s->kind = kind;
}

void vqe_query_params_default(vqe_query_params *p) {
    memset(p, 0, sizeof *p);
    vqe_fusion_params_default(&p->fusion);
    p->k = 10;
    vqe_graph_params_default(&p->graph);
    vqe_diversity_params_default(&p->diversity);
}

void vqe_query_result_free(vqe_query_result *r) {
    if (!r) return;
    for (size_t i = 0; r->subs && i < r->n_subs; i++) {
        vq_free(r->subs[i].internal);
        vq_free(r->subs[i].score);
    }
    vq_free(r->subs);
    vq_free(r->hits);
    memset(r, 0, sizeof *r);
}

/* A validated sub-query: what runs under the lock. */
typedef struct sub {
    vqe_sub_kind kind;
    int field;  /* text/sparse: schema field index */
    float *vec; /* dense: dim floats (normalized under cos), owned */
    uint32_t *idx;
    float *val; /* sparse: sorted by index, owned */
    size_t nnz;
    unsigned prefetch;
    double weight;
} sub;

typedef struct ipair {
    uint32_t i;
    float v;
    size_t at;
} ipair;
static int cmp_ipair(const void *a, const void *b) {
    const ipair *x = a, *y = b;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int find_field(const vqe_schema *s, const char *name, vqe_type t) {
    int found = -1, n = 0;
    for (unsigned f = 0; f < s->n_fields; f++) {
        if (name && !strcmp(s->fields[f].name, name)) return s->fields[f].type == t ? (int)f : -2;
        if (!name && s->fields[f].type == t) found = (int)f, n++;
    }
    if (name) return -1;
    return n == 1 ? found : n ? -3 : -1;
}

static int prep_sub(const vqe_collection *c, const vqe_subquery *q, size_t i, unsigned k, sub *s,
                    vq_err *err) {
    char f[96];
    const vqe_schema *sc = &c->schema;
    memset(s, 0, sizeof *s);
    s->kind = q->kind;
    snprintf(f, sizeof f, "subs[%zu].prefetch", i);
    VQ_FAIL_IF(q->prefetch > VQE_PREFETCH_MAX, VQ_EINVAL, err, f, "prefetch %u not in 1..%d",
               q->prefetch, VQE_PREFETCH_MAX);
    s->prefetch = q->prefetch ? q->prefetch : (k > VQE_PREFETCH_DEFAULT ? k : VQE_PREFETCH_DEFAULT);
    snprintf(f, sizeof f, "subs[%zu].weight", i);
    VQ_FAIL_IF(!isfinite(q->weight) || q->weight < 0 || q->weight > VQE_FUSION_WEIGHT_MAX,
               VQ_EINVAL, err, f, "weight %g not in [0, %g] (0: 1)", q->weight,
               VQE_FUSION_WEIGHT_MAX);
    s->weight = q->weight ? q->weight : 1.0;
    switch (q->kind) {
    case VQE_SUB_DENSE: {
        snprintf(f, sizeof f, "subs[%zu].vector", i);
        VQ_FAIL_IF(!q->vector, VQ_EINVAL, err, f, "missing vector");
        VQ_TRY(vq_check_finite(q->vector, 1, sc->dim, f, err));
        s->vec = vq_malloc((size_t)sc->dim * sizeof(float));
        VQ_FAIL_IF(!s->vec, VQ_ENOMEM, err, f, "out of memory");
        memcpy(s->vec, q->vector, (size_t)sc->dim * sizeof(float));
        if (sc->metric == VQ_METRIC_COS) {
            double n2 = 0;
            for (unsigned j = 0; j < sc->dim; j++) n2 += (double)s->vec[j] * s->vec[j];
            VQ_FAIL_IF(n2 == 0, VQ_EINVAL, err, f, "zero query vector under cos");
            for (unsigned j = 0; j < sc->dim; j++) s->vec[j] = (float)(s->vec[j] / sqrt(n2));
        }
        return VQ_OK;
    }
    case VQE_SUB_TEXT: {
        snprintf(f, sizeof f, "subs[%zu].field", i);
        s->field = find_field(sc, q->field, VQE_TEXT);
        VQ_FAIL_IF(s->field == -1, VQ_EINVAL, err, f, "no text field%s%s",
                   q->field ? " named " : " in the collection", q->field ? q->field : "");
        VQ_FAIL_IF(s->field == -2, VQ_EINVAL, err, f, "field '%s' is not a text field", q->field);
        snprintf(f, sizeof f, "subs[%zu].text", i);
        VQ_FAIL_IF(!q->text && q->text_len, VQ_EINVAL, err, f, "missing text");
        VQ_FAIL_IF(q->text_len > VQE_TEXT_MAX, VQ_ETOOBIG, err, f, "%zu bytes > %u", q->text_len,
                   VQE_TEXT_MAX);
        return VQ_OK;
    }
    case VQE_SUB_SPARSE: {
        snprintf(f, sizeof f, "subs[%zu].field", i);
        s->field = find_field(sc, q->field, VQE_SPARSE);
        VQ_FAIL_IF(s->field == -1, VQ_EINVAL, err, f, "no sparse field%s%s",
                   q->field ? " named " : " in the collection", q->field ? q->field : "");
        VQ_FAIL_IF(s->field == -2, VQ_EINVAL, err, f, "field '%s' is not a sparse field", q->field);
        VQ_FAIL_IF(s->field == -3, VQ_EINVAL, err, f,
                   "the collection has several sparse fields: name one");
        snprintf(f, sizeof f, "subs[%zu].sparse", i);
        VQ_FAIL_IF(q->nnz > VQE_SPARSE_NNZ_MAX, VQ_ETOOBIG, err, f, "%zu entries > %d", q->nnz,
                   VQE_SPARSE_NNZ_MAX);
        VQ_FAIL_IF(q->nnz && (!q->indices || !q->values), VQ_EINVAL, err, f,
                   "missing indices or values");
        ipair *t = vq_malloc((q->nnz ? q->nnz : 1) * sizeof *t);
        s->idx = vq_malloc((q->nnz ? q->nnz : 1) * sizeof *s->idx);
        s->val = vq_malloc((q->nnz ? q->nnz : 1) * sizeof *s->val);
        if (!t || !s->idx || !s->val) {
            vq_free(t);
            return vq_err_set(err, VQ_ENOMEM, f, "out of memory");
        }
        for (size_t j = 0; j < q->nnz; j++) {
            if (!isfinite(q->values[j])) {
                vq_free(t);
                snprintf(f, sizeof f, "subs[%zu].sparse.values[%zu]", i, j);
                return vq_err_set(err, VQ_ENOTFINITE, f, "value is %s",
                                  isnan(q->values[j]) ? "NaN" : "Inf");
            }
            t[j] = (ipair){q->indices[j], q->values[j], j};
        }
        qsort(t, q->nnz, sizeof *t, cmp_ipair);
        for (size_t j = 0; j < q->nnz; j++) {
            if (j && t[j].i == t[j - 1].i) {
                size_t a = t[j].at < t[j - 1].at ? t[j].at : t[j - 1].at;
                size_t b = t[j].at < t[j - 1].at ? t[j - 1].at : t[j].at;
                vq_free(t);
                snprintf(f, sizeof f, "subs[%zu].sparse.indices[%zu]", i, b);
                return vq_err_set(err, VQ_EINVAL, f, "index %u repeats indices[%zu]", q->indices[b],
                                  a);
            }
            s->idx[j] = t[j].i;
            s->val[j] = t[j].v;
        }
        s->nnz = q->nnz;
        vq_free(t);
        return VQ_OK;
    }
    }
    snprintf(f, sizeof f, "subs[%zu].kind", i);
    return vq_err_set(err, VQ_EINVAL, f, "unknown sub-query kind %d", (int)q->kind);
}

static void sub_free(sub *s) {
    vq_free(s->vec);
    vq_free(s->idx);
    vq_free(s->val);
}

static int cmp_pair_desc(const void *a, const void *b) {
    const vqe_scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

/* Runs one sub-query into r (best first, larger is better); the caller holds the lock. */
static int run_sub(vqe_collection *c, const sub *s, const vqe_subquery *q,
                   const roaring_bitmap_t *allowed, vqe_sub_result *r, vq_err *err) {
    unsigned m = s->prefetch;
    vqe_scored *sc = vq_malloc(m * sizeof *sc);
    r->internal = vq_malloc(m * sizeof *r->internal);
    r->score = vq_malloc(m * sizeof *r->score);
    VQ_FAIL_IF(!sc || !r->internal || !r->score, (vq_free(sc), VQ_ENOMEM), err, "query",
               "out of memory for %u candidates", m);
    size_t n = 0;
    int rc = VQ_OK;
    if (s->kind == VQE_SUB_DENSE) {
        vqe_hit *h = vq_malloc(m * sizeof *h);
        vqe_explain ex;
        rc = h ? vqe__dense_topk(c, s->vec, m, q->ef, allowed, h, &n, &ex, err)
               : vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
        for (size_t j = 0; !rc && j < n; j++) sc[j] = (vqe_scored){h[j].internal, -h[j].score};
        vq_free(h);
    } else if (s->kind == VQE_SUB_TEXT) {
        rc = vqe_impact_search_text(c->impact[s->field], q->text ? q->text : "", q->text_len, m,
                                    allowed, sc, &n, NULL, err);
    } else {
        rc = vqe_impact_search_sparse(c->impact[s->field], s->idx, s->val, s->nnz, m, allowed, sc,
                                      &n, NULL, err);
    }
    /* a total order (score, then id) whatever order equal distances came in */
    if (!rc) qsort(sc, n, sizeof *sc, cmp_pair_desc);
    for (size_t j = 0; !rc && j < n; j++) r->internal[j] = sc[j].doc, r->score[j] = sc[j].score;
    r->n = rc ? 0 : n;
    vq_free(sc);
    return rc;
}

static void id_of(const vqe_collection *c, uint32_t iid, vqe_id *id) {
    if (c->suid && c->suid[iid])
        *id = (vqe_id){.is_str = 1, .s = c->suid[iid]};
    else
        *id = (vqe_id){.u = c->uid[iid]};
}

/* Graph expansion around the top k, then diversity selection; rewrites the pool in place
 * (best first), leaving the cut to k to the caller. */
static int post_fusion(vqe_collection *c, const vqe_query_params *p, const sub *S, vqe_fused **pool,
                       size_t *np, vqe_query_result *out, vq_err *err) {
    if (p->graph.mode != VQE_EXPAND_NONE && *np) {
        double t = vq_now();
        size_t ns = *np < p->k ? *np : p->k;
        uint32_t *seeds = vq_malloc(ns * sizeof *seeds);
        double *sc = vq_malloc(ns * sizeof *sc);
        VQ_FAIL_IF(!seeds || !sc, (vq_free(seeds), vq_free(sc), VQ_ENOMEM), err, "query",
                   "out of memory");
        for (size_t i = 0; i < ns; i++) seeds[i] = (*pool)[i].id, sc[i] = (*pool)[i].score;
        const float *qv = NULL;
        for (size_t i = 0; !qv && i < p->n_subs; i++)
            if (S[i].kind == VQE_SUB_DENSE) qv = S[i].vec;
        vqe_graph_result g;
        int rc = vqe__graph_expand_locked(c, &p->graph, qv, seeds, sc, ns, &g, err);
        vq_free(seeds), vq_free(sc);
        VQ_TRY(rc);
        vqe_fused *np2 = vq_malloc((g.n ? g.n : 1) * sizeof *np2);
        if (!np2) {
            vqe_graph_result_free(&g);
            return vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
        }
        for (size_t i = 0; i < g.n; i++) np2[i] = (vqe_fused){g.hits[i].internal, g.hits[i].score};
        out->expanded = g.n - g.n_seeds;
        vq_free(*pool);
        *pool = np2, *np = g.n;
        vqe_graph_result_free(&g);
        out->graph_ms = (vq_now() - t) * 1e3;
    }
    if (p->diversity.method != VQE_DIV_TOPK && *np) {
        double t = vq_now();
        size_t n = *np;
        if (p->diversity.pool && n > p->diversity.pool) n = p->diversity.pool;
        if (p->diversity.method == VQE_DIV_FL && n > VQE_DIV_FL_POOL_MAX) n = VQE_DIV_FL_POOL_MAX;
        const unsigned d = c->schema.dim;
        float *x = vq_malloc(n * d * sizeof *x);
        double *rel = vq_malloc(n * sizeof *rel);
        uint32_t *sel = vq_malloc(n * sizeof *sel);
        vqe_fused *kept = vq_malloc(n * sizeof *kept);
        int rc = (!x || !rel || !sel || !kept)
                     ? vq_err_set(err, VQ_ENOMEM, "query", "out of memory")
                     : VQ_OK;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; !rc && i < n; i++) {
            memcpy(x + i * d, c->vecs + (size_t)(*pool)[i].id * d, d * sizeof *x);
            if ((*pool)[i].score < lo) lo = (*pool)[i].score;
            if ((*pool)[i].score > hi) hi = (*pool)[i].score;
        }
        for (size_t i = 0; !rc && i < n; i++)
            rel[i] = hi > lo ? ((*pool)[i].score - lo) / (hi - lo) : 1.0;
        vqe_diversity_params dp = p->diversity;
        dp.k = p->k;
        if (!rc) rc = vqe_diversity_select(&dp, n, d, x, rel, sel, &out->div, err);
        if (!rc) {
            for (size_t i = 0; i < out->div.n_sel; i++) kept[i] = (*pool)[sel[i]];
            vq_free(*pool);
            *pool = kept, *np = out->div.n_sel;
            kept = NULL;
        }
        vq_free(x), vq_free(rel), vq_free(sel), vq_free(kept);
        VQ_TRY(rc);
        out->diversity_ms = (vq_now() - t) * 1e3;
    }
    return VQ_OK;
}

int vqe_query(vqe_collection *c, const vqe_query_params *p, vqe_query_result *out, vq_err *err) {
    VQ_FAIL_IF(!c || !p || !out, VQ_EINVAL, err, "query", "NULL argument");
    memset(out, 0, sizeof *out);
    VQ_FAIL_IF(p->k < 1 || p->k > VQE_K_MAX, VQ_EINVAL, err, "k", "k %u not in 1..%d", p->k,
               VQE_K_MAX);
    VQ_FAIL_IF(p->n_subs < 1 || p->n_subs > VQE_SUBQUERIES_MAX || !p->subs, VQ_EINVAL, err, "subs",
               "%zu sub-queries: need 1..%d", p->n_subs, VQE_SUBQUERIES_MAX);
    VQ_FAIL_IF(p->fusion.kind == VQE_FUSION_NONE && p->n_subs != 1, VQ_EINVAL, err, "fusion",
               "fusion 'none' needs exactly one sub-query, got %zu", p->n_subs);
    if (p->filter) VQ_TRY(vqe__filter_check(c, p->filter, err));
    double t0 = vq_now();
    sub *S = vq_calloc(p->n_subs, sizeof *S);
    out->subs = vq_calloc(p->n_subs, sizeof *out->subs);
    vqe_rank_list *L = vq_calloc(p->n_subs, sizeof *L);
    int rc = (!S || !out->subs || !L) ? vq_err_set(err, VQ_ENOMEM, "query", "out of memory") : 0;
    if (!rc) out->n_subs = p->n_subs;
    for (size_t i = 0; !rc && i < p->n_subs; i++)
        rc = prep_sub(c, &p->subs[i], i, p->k, &S[i], err);
    vqe_fused *fused = NULL;
    size_t nf = 0;
    if (!rc) {
        pthread_rwlock_rdlock(&c->lock);
        roaring_bitmap_t *allowed = NULL;
        out->live = roaring_bitmap_get_cardinality(c->live);
        if (p->filter) rc = vqe__filter_eval(c, p->filter, &allowed, err);
        out->matches = allowed ? roaring_bitmap_get_cardinality(allowed) : out->live;
        out->filter_ms = (vq_now() - t0) * 1e3;
        for (size_t i = 0; !rc && i < p->n_subs; i++) {
            double ts = vq_now();
            rc = run_sub(c, &S[i], &p->subs[i], allowed, &out->subs[i], err);
            out->subs[i].ms = (vq_now() - ts) * 1e3;
            L[i] = (vqe_rank_list){out->subs[i].internal, out->subs[i].score, out->subs[i].n,
                                   S[i].weight};
        }
        double tf = vq_now();
        if (!rc) rc = vqe_fuse(&p->fusion, L, p->n_subs, &fused, &nf, err);
        out->fuse_ms = (vq_now() - tf) * 1e3;
        /* post-fusion stages over fused[0..nf) */
        if (!rc) rc = post_fusion(c, p, S, &fused, &nf, out, err);
        if (!rc) {
            out->pool = nf;
            size_t n = nf < p->k ? nf : p->k;
            out->hits = vq_malloc((n ? n : 1) * sizeof *out->hits);
            if (!out->hits) rc = vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
            for (size_t j = 0; !rc && j < n; j++) {
                out->hits[j].internal = fused[j].id;
                out->hits[j].score = fused[j].score;
                id_of(c, fused[j].id, &out->hits[j].id);
            }
            if (!rc) out->n = n;
        }
        pthread_rwlock_unlock(&c->lock);
        if (allowed) roaring_bitmap_free(allowed);
    }
    vq_free(fused);
    for (size_t i = 0; S && i < p->n_subs; i++) sub_free(&S[i]);
    vq_free(S);
    vq_free(L);
    out->total_ms = (vq_now() - t0) * 1e3;
    if (rc) vqe_query_result_free(out);
    return rc;
}
