/* Hybrid retrieval on collections (engine/query.h): the text field's BM25 index equals SQLite
 * FTS5's bm25() through upserts (replace), deletes, filters, compaction and a reopen; sparse
 * fields equal brute-force inner products likewise; hybrid RRF equals a reference fusion of
 * the separate sub-query lists; bad input is rejected naming the field. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBTEST_PREFIX "vqe_hyb"
#include "dbtest.h"
#include "engine.h"
#include "query.h"
#include "texttest.h"

static vqe_collection *mk(const char *name, unsigned dim, vq_metric m, const char *fields) {
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.dim = dim;
    s.metric = m;
    vq_err e;
    cr_assert_eq(vqe_schema_fields_from_json(&s, fields, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vqe_collection_create(g_db, &s, &e), VQ_OK, "%s", e.msg);
    vqe_collection *c;
    cr_assert_eq(vqe_collection_open(g_db, name, &c, &e), VQ_OK, "%s", e.msg);
    return c;
}
static vqe_collection *op(const char *name) {
    vqe_collection *c;
    vq_err e;
    cr_assert_eq(vqe_collection_open(g_db, name, &c, &e), VQ_OK, "%s", e.msg);
    return c;
}

static vqe_filter *filt(vqe_collection *c, const char *text) {
    vqe_filter *f;
    vq_err e;
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_assert_eq(vqe_filter_parse(text, &f, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vqe_filter_bind(f, &in.schema, &e), VQ_OK, "%s", e.msg);
    return f;
}

/* ---- text ---- */
#define NT 400
typedef struct tdocs {
    char *text[NT]; /* NULL: no text field (or deleted) */
    int live[NT];
    int tenant[NT];
} tdocs;

static uint64_t g_seed = 12345;

static void put_doc(vqe_collection *c, sqlite3 *fts, tdocs *D, unsigned id, char *text,
                    int tenant) {
    float v[4] = {(float)id, 1, 2, 3};
    vqe_value vals[2] = {{.field = "tenant", .type = VQE_INT64, .i = tenant},
                         {.field = "body", .type = VQE_TEXT, .s = text}};
    vqe_record r = {.id = {.u = id}, .vector = v, .values = vals, .n_values = text ? 2 : 1};
    vq_err e;
    cr_assert_eq(vqe_upsert(c, &r, 1, &e), VQ_OK, "%s: %s", e.field, e.msg);
    if (D->live[id] && D->text[id]) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM t WHERE rowid = %u", id);
        cr_assert_eq(sqlite3_exec(fts, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    free(D->text[id]);
    D->text[id] = text;
    D->live[id] = 1;
    D->tenant[id] = tenant;
    if (text) tt_fts_add(fts, id, text);
}

static void del_doc(vqe_collection *c, sqlite3 *fts, tdocs *D, unsigned id) {
    vqe_id x = {.u = id};
    size_t n;
    vq_err e;
    cr_assert_eq(vqe_delete(c, &x, 1, &n, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(n, (size_t)D->live[id]);
    if (D->live[id] && D->text[id]) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM t WHERE rowid = %u", id);
        cr_assert_eq(sqlite3_exec(fts, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    free(D->text[id]);
    D->text[id] = NULL;
    D->live[id] = 0;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x > y ? -1 : x < y;
}

/* Every query's top-k (fusion none: BM25 scores) equals FTS5's, as scores rank by rank and as
 * each hit's own FTS5 score; with tenant_only >= 0 the filter "tenant = X" applies. */
static void check_text(vqe_collection *c, sqlite3 *fts, const tdocs *D, const tt_zipf *z,
                       int tenant_only, const char *what) {
    uint64_t s = 777;
    vqe_filter *f = NULL;
    if (tenant_only >= 0) {
        char ft[32];
        snprintf(ft, sizeof ft, "tenant = %d", tenant_only);
        f = filt(c, ft);
    }
    long *ids = malloc(NT * sizeof *ids);
    double *sc = malloc(NT * sizeof *sc), *refsc = malloc(NT * sizeof *refsc);
    for (int q = 0; q < 40; q++) {
        char w1[16], w2[16], qtext[40], match[48];
        tt_word(tt_zipf_draw(z, &s), w1);
        tt_word(tt_zipf_draw(z, &s), w2);
        snprintf(qtext, sizeof qtext, "%s %s", w1, w2);
        snprintf(match, sizeof match, "%s OR %s", w1, w2);
        int nr = tt_fts_top(fts, match, NT, ids, sc);
        int m = 0;
        for (int i = 0; i < nr; i++)
            if (tenant_only < 0 || D->tenant[ids[i]] == tenant_only) refsc[m++] = sc[i];
        qsort(refsc, (size_t)m, sizeof *refsc, cmp_desc);
        vqe_subquery sq;
        vqe_subquery_init(&sq, VQE_SUB_TEXT);
        sq.text = qtext;
        sq.text_len = strlen(qtext);
        vqe_query_params p;
        vqe_query_params_default(&p);
        p.subs = &sq, p.n_subs = 1, p.k = 10, p.filter = f;
        p.fusion.kind = VQE_FUSION_NONE;
        vqe_query_result r;
        vq_err e;
        cr_assert_eq(vqe_query(c, &p, &r, &e), VQ_OK, "%s: %s", e.field, e.msg);
        size_t want = m < 10 ? (size_t)m : 10;
        cr_assert_eq(r.n, want, "%s query '%s': %zu hits, FTS5 %zu", what, qtext, r.n, want);
        for (size_t i = 0; i < r.n; i++) {
            double ref = refsc[i];
            cr_expect(fabs(r.hits[i].score - ref) <= 1e-9 * fabs(ref),
                      "%s q '%s' rank %zu: %.12g vs %.12g", what, qtext, i, r.hits[i].score, ref);
            uint64_t u = r.hits[i].id.u;
            cr_assert(u < NT && D->live[u] && D->text[u], "%s: hit %llu is not a live text doc",
                      what, (unsigned long long)u);
            if (tenant_only >= 0) cr_expect_eq(D->tenant[u], tenant_only);
            int found = 0;
            for (int j = 0; j < nr; j++)
                if (ids[j] == (long)u) {
                    found = 1;
                    cr_expect(fabs(sc[j] - r.hits[i].score) <= 1e-9 * fabs(sc[j]), "%s own score",
                              what);
                }
            cr_expect(found, "%s: hit %llu does not match in FTS5", what, (unsigned long long)u);
        }
        vqe_query_result_free(&r);
    }
    free(ids), free(sc), free(refsc);
    vqe_filter_free(f);
}

static size_t text_hits(vqe_collection *c, const char *q) {
    vqe_subquery sq;
    vqe_subquery_init(&sq, VQE_SUB_TEXT);
    sq.text = q, sq.text_len = strlen(q);
    vqe_query_params p;
    vqe_query_params_default(&p);
    p.subs = &sq, p.n_subs = 1;
    vqe_query_result r;
    vq_err e;
    cr_assert_eq(vqe_query(c, &p, &r, &e), VQ_OK, "%s", e.msg);
    size_t n = r.n;
    vqe_query_result_free(&r);
    return n;
}

TestSuite(hybrid, .init = setup, .fini = teardown);

Test(hybrid, text_bm25_equals_fts5_through_writes_and_reopen) {
    vqe_collection *c =
        mk("t", 4, VQ_METRIC_L2, "{\"fields\": {\"tenant\": \"int64\", \"body\": \"text\"}}");
    sqlite3 *fts = tt_fts_open();
    cr_assert_not_null(fts);
    tdocs *D = calloc(1, sizeof *D);
    tt_zipf z;
    tt_zipf_init(&z, 500);
    for (unsigned i = 0; i < NT; i++)
        put_doc(c, fts, D, i,
                i % 10 == 7 ? NULL : tt_doc(&z, &g_seed, 3 + (unsigned)(tt_next(&g_seed) % 40)),
                (int)(i % 3));
    /* a unique word, then replaced and deleted */
    put_doc(c, fts, D, 5, strdup("zzuniqa common words"), 1);
    put_doc(c, fts, D, 6, strdup("zzuniqb more words"), 1);
    cr_expect_eq(text_hits(c, "zzuniqa"), 1);
    check_text(c, fts, D, &z, -1, "initial");
    check_text(c, fts, D, &z, 1, "initial filtered");
    /* replace 80 (some lose their text, some gain one), delete 50 */
    for (unsigned j = 0; j < 80; j++) {
        unsigned id = (unsigned)(tt_next(&g_seed) % NT);
        put_doc(c, fts, D, id,
                j % 9 == 0 ? NULL : tt_doc(&z, &g_seed, 1 + (unsigned)(tt_next(&g_seed) % 30)),
                (int)(tt_next(&g_seed) % 3));
    }
    put_doc(c, fts, D, 5, strdup("replaced text"), 2);
    for (unsigned j = 0; j < 50; j++) del_doc(c, fts, D, (unsigned)(tt_next(&g_seed) % NT));
    del_doc(c, fts, D, 6);
    cr_expect_eq(text_hits(c, "zzuniqa"), 0, "the replaced record's old postings still match");
    cr_expect_eq(text_hits(c, "zzuniqb"), 0, "the deleted record's postings still match");
    cr_expect_eq(text_hits(c, "replaced"), 1);
    check_text(c, fts, D, &z, -1, "after writes");
    check_text(c, fts, D, &z, 2, "after writes filtered");
    /* restart: the impact lists come back from the postings column family */
    reopen();
    c = op("t");
    cr_expect_eq(text_hits(c, "zzuniqa"), 0);
    cr_expect_eq(text_hits(c, "replaced"), 1);
    check_text(c, fts, D, &z, -1, "after reopen");
    check_text(c, fts, D, &z, 0, "after reopen filtered");
    /* compaction drops dead postings without changing results */
    for (unsigned j = 0; j < 30; j++) del_doc(c, fts, D, (unsigned)(tt_next(&g_seed) % NT));
    vq_err e;
    cr_assert_eq(vqe_compact(c, &e), VQ_OK, "%s", e.msg);
    check_text(c, fts, D, &z, -1, "after compact");
    /* a write after compaction, then reopen once more */
    put_doc(c, fts, D, 3, strdup("zzuniqa again"), 0);
    reopen();
    c = op("t");
    cr_expect_eq(text_hits(c, "zzuniqa"), 1);
    check_text(c, fts, D, &z, -1, "final");
    for (unsigned i = 0; i < NT; i++) free(D->text[i]);
    free(D);
    free(z.cdf);
    sqlite3_close(fts);
}

/* ---- sparse ---- */
#define NS 500
#define VS 300
typedef struct sdoc {
    int live, tenant;
    size_t n;
    uint32_t idx[32];
    float val[32];
} sdoc;

static void sparse_put(vqe_collection *c, sdoc *S, unsigned id, uint64_t *s) {
    sdoc *d = &S[id];
    d->n = 1 + tt_next(s) % 30;
    int used[VS] = {0};
    for (size_t j = 0; j < d->n; j++) {
        uint32_t t;
        do t = (uint32_t)(tt_next(s) % VS);
        while (used[t]);
        used[t] = 1;
        d->idx[j] = t; /* unsorted on purpose */
        d->val[j] = (float)(0.01 + 2 * tt_unif(s));
    }
    d->tenant = (int)(tt_next(s) % 4);
    d->live = 1;
    float v[4] = {1, 2, 3, (float)id};
    vqe_value vals[2] = {{.field = "tenant", .type = VQE_INT64, .i = d->tenant},
                         {.field = "splade",
                          .type = VQE_SPARSE,
                          .sparse_indices = d->idx,
                          .sparse_values = d->val,
                          .n_sparse = d->n}};
    vqe_record r = {.id = {.u = id}, .vector = v, .values = vals, .n_values = 2};
    vq_err e;
    cr_assert_eq(vqe_upsert(c, &r, 1, &e), VQ_OK, "%s: %s", e.field, e.msg);
}

static void check_sparse(vqe_collection *c, const sdoc *S, int tenant_only, const char *what) {
    uint64_t s = 99;
    vqe_filter *f = NULL;
    if (tenant_only >= 0) {
        char ft[32];
        snprintf(ft, sizeof ft, "tenant = %d", tenant_only);
        f = filt(c, ft);
    }
    for (int q = 0; q < 40; q++) {
        uint32_t qi[8];
        float qv[8];
        size_t qn = 1 + tt_next(&s) % 8;
        for (size_t j = 0; j < qn; j++) {
            qi[j] = (uint32_t)((j * 37 + tt_next(&s) % 37) % VS); /* distinct: j*37 + [0,37) */
            qv[j] = (float)(0.1 + tt_unif(&s));
        }
        double ref[NS];
        int m = 0;
        for (unsigned d = 0; d < NS; d++) {
            if (!S[d].live || (tenant_only >= 0 && S[d].tenant != tenant_only)) continue;
            double sc = 0;
            int hit = 0;
            for (size_t a = 0; a < qn; a++)
                for (size_t b = 0; b < S[d].n; b++)
                    if (qi[a] == S[d].idx[b]) sc += (double)qv[a] * S[d].val[b], hit = 1;
            if (hit) ref[m++] = sc;
        }
        qsort(ref, (size_t)m, sizeof *ref, cmp_desc);
        vqe_subquery sq;
        vqe_subquery_init(&sq, VQE_SUB_SPARSE);
        sq.indices = qi, sq.values = qv, sq.nnz = qn;
        vqe_query_params p;
        vqe_query_params_default(&p);
        p.subs = &sq, p.n_subs = 1, p.k = 10, p.filter = f;
        p.fusion.kind = VQE_FUSION_NONE;
        vqe_query_result r;
        vq_err e;
        cr_assert_eq(vqe_query(c, &p, &r, &e), VQ_OK, "%s: %s", e.field, e.msg);
        size_t want = m < 10 ? (size_t)m : 10;
        cr_assert_eq(r.n, want, "%s query %d: %zu hits vs %zu", what, q, r.n, want);
        for (size_t i = 0; i < r.n; i++) {
            cr_expect(fabs(r.hits[i].score - ref[i]) <= 1e-9 * fabs(ref[i]), "%s q %d rank %zu",
                      what, q, i);
            uint64_t u = r.hits[i].id.u;
            cr_assert(u < NS && S[u].live);
            if (tenant_only >= 0) cr_expect_eq(S[u].tenant, tenant_only);
        }
        vqe_query_result_free(&r);
    }
    vqe_filter_free(f);
}

Test(hybrid, sparse_equals_brute_force_through_writes_and_reopen) {
    vqe_collection *c =
        mk("s", 4, VQ_METRIC_IP, "{\"fields\": {\"splade\": \"sparse\", \"tenant\": \"int64\"}}");
    sdoc *S = calloc(NS, sizeof *S);
    uint64_t s = 4242;
    for (unsigned i = 0; i < NS; i++) sparse_put(c, S, i, &s);
    check_sparse(c, S, -1, "initial");
    check_sparse(c, S, 3, "initial filtered");
    for (unsigned j = 0; j < 100; j++) sparse_put(c, S, (unsigned)(tt_next(&s) % NS), &s);
    for (unsigned j = 0; j < 60; j++) {
        unsigned id = (unsigned)(tt_next(&s) % NS);
        vqe_id x = {.u = id};
        vq_err e;
        cr_assert_eq(vqe_delete(c, &x, 1, NULL, &e), VQ_OK);
        S[id].live = 0;
    }
    check_sparse(c, S, -1, "after writes");
    reopen();
    c = op("s");
    check_sparse(c, S, -1, "after reopen");
    check_sparse(c, S, 1, "after reopen filtered");
    free(S);
}

/* ---- hybrid fusion ---- */
Test(hybrid, rrf_of_dense_text_sparse_equals_reference) {
    vqe_collection *c =
        mk("h", 8, VQ_METRIC_COS,
           "{\"fields\": {\"tenant\": \"int64\", \"body\": \"text\", \"sp\": \"sparse\"}}");
    tt_zipf z;
    tt_zipf_init(&z, 200);
    uint64_t s = 31337;
    enum { N = 600 };
    for (unsigned i = 0; i < N; i++) {
        float v[8];
        for (int j = 0; j < 8; j++) v[j] = (float)(tt_unif(&s) - 0.5);
        char *t = tt_doc(&z, &s, 2 + (unsigned)(tt_next(&s) % 20));
        uint32_t idx[4] = {(uint32_t)(tt_next(&s) % 50), 50 + (uint32_t)(tt_next(&s) % 50)};
        float val[4] = {(float)tt_unif(&s) + 0.1f, (float)tt_unif(&s) + 0.1f};
        vqe_value vals[3] = {{.field = "tenant", .type = VQE_INT64, .i = (int64_t)(i % 4)},
                             {.field = "body", .type = VQE_TEXT, .s = t},
                             {.field = "sp",
                              .type = VQE_SPARSE,
                              .sparse_indices = idx,
                              .sparse_values = val,
                              .n_sparse = 2}};
        vqe_record r = {.id = {.u = 1000 + i}, .vector = v, .values = vals, .n_values = 3};
        vq_err e;
        cr_assert_eq(vqe_upsert(c, &r, 1, &e), VQ_OK, "%s: %s", e.field, e.msg);
        free(t);
    }
    vqe_filter *f = filt(c, "tenant IN (1, 2)");
    for (int q = 0; q < 20; q++) {
        float qv[8];
        for (int j = 0; j < 8; j++) qv[j] = (float)(tt_unif(&s) - 0.5);
        char w1[16], w2[16], qt[40];
        tt_word(tt_zipf_draw(&z, &s), w1);
        tt_word(tt_zipf_draw(&z, &s), w2);
        snprintf(qt, sizeof qt, "%s %s", w1, w2);
        uint32_t qi[2] = {(uint32_t)(tt_next(&s) % 50), 50 + (uint32_t)(tt_next(&s) % 50)};
        float qw[2] = {1.0f, 0.5f};
        vqe_subquery sq[3];
        vqe_subquery_init(&sq[0], VQE_SUB_DENSE);
        sq[0].vector = qv, sq[0].prefetch = 30;
        vqe_subquery_init(&sq[1], VQE_SUB_TEXT);
        sq[1].text = qt, sq[1].text_len = strlen(qt), sq[1].prefetch = 20;
        vqe_subquery_init(&sq[2], VQE_SUB_SPARSE);
        sq[2].indices = qi, sq[2].values = qw, sq[2].nnz = 2, sq[2].prefetch = 25;
        sq[2].weight = q % 2 ? 2.0 : 0; /* 0 means 1 */
        vqe_query_params p;
        vqe_query_params_default(&p);
        p.subs = sq, p.n_subs = 3, p.k = 10, p.filter = q % 3 ? f : NULL;
        vqe_query_result r;
        vq_err e;
        cr_assert_eq(vqe_query(c, &p, &r, &e), VQ_OK, "%s: %s", e.field, e.msg);
        cr_assert_eq(r.n_subs, 3);
        /* the dense list is what vqe_search returns (never fewer than min(prefetch, matches)) */
        vqe_search_params sp;
        vqe_search_params_default(&sp);
        sp.k = 30, sp.filter = p.filter;
        vqe_hit h[30];
        size_t nh;
        cr_assert_eq(vqe_search(c, qv, &sp, h, &nh, NULL, &e), VQ_OK);
        cr_assert_eq(r.subs[0].n, nh);
        cr_assert_eq(nh, 30);
        for (size_t i = 0; i < nh; i++) {
            cr_expect_eq(r.subs[0].internal[i], h[i].internal);
            cr_expect(fabs(r.subs[0].score[i] + h[i].score) < 1e-6);
        }
        /* each sub-query alone (fusion none) gives the same list */
        for (int k = 0; k < 3; k++) {
            vqe_query_params p1 = p;
            p1.subs = &sq[k], p1.n_subs = 1, p1.fusion.kind = VQE_FUSION_NONE, p1.k = 100;
            vqe_query_result r1;
            cr_assert_eq(vqe_query(c, &p1, &r1, &e), VQ_OK, "%s", e.msg);
            cr_assert_eq(r1.n, r.subs[k].n, "sub %d", k);
            for (size_t i = 0; i < r1.n; i++) {
                cr_expect_eq(r1.hits[i].internal, r.subs[k].internal[i]);
                cr_expect_eq(r1.hits[i].score, r.subs[k].score[i]);
            }
            vqe_query_result_free(&r1);
        }
        /* reference RRF: sum of w / (60 + rank) over the lists, ties by smaller internal id */
        double ref[N + 1];
        uint32_t rid[3 * 30];
        size_t nr = 0;
        for (int k = 0; k < 3; k++)
            for (size_t i = 0; i < r.subs[k].n; i++) {
                uint32_t id = r.subs[k].internal[i];
                size_t at = 0;
                while (at < nr && rid[at] != id) at++;
                if (at == nr) rid[nr] = id, ref[nr++] = 0;
                double w = k == 2 && q % 2 ? 2.0 : 1.0;
                ref[at] += w / (60.0 + (double)(i + 1));
            }
        cr_expect_eq(r.pool, nr);
        size_t want = nr < 10 ? nr : 10;
        cr_assert_eq(r.n, want);
        for (size_t i = 0; i < r.n; i++) {
            /* the i-th best reference entry */
            size_t b = SIZE_MAX;
            for (size_t j = 0; j < nr; j++) {
                int taken = 0;
                for (size_t t = 0; t < i; t++) taken |= r.hits[t].internal == rid[j];
                if (taken) continue;
                if (b == SIZE_MAX || ref[j] > ref[b] + 1e-15 ||
                    (fabs(ref[j] - ref[b]) <= 1e-15 && rid[j] < rid[b]))
                    b = j;
            }
            cr_expect_eq(r.hits[i].internal, rid[b], "query %d rank %zu", q, i);
            cr_expect(fabs(r.hits[i].score - ref[b]) < 1e-15, "query %d rank %zu: %.17g vs %.17g",
                      q, i, r.hits[i].score, ref[b]);
            if (p.filter) cr_expect(r.hits[i].id.u % 4 == 1 || r.hits[i].id.u % 4 == 2);
        }
        vqe_query_result_free(&r);
    }
    vqe_filter_free(f);
    free(z.cdf);
}

/* ---- bad input ---- */
Test(hybrid, bad_input_is_rejected_naming_the_field) {
    vqe_collection *c =
        mk("b", 4, VQ_METRIC_L2,
           "{\"fields\": {\"sp\": \"sparse\", \"body\": \"text\", \"n\": \"int64\"}}");
    float v[4] = {1, 2, 3, 4};
    uint32_t dup[3] = {5, 9, 5};
    float vals[3] = {1, 2, 3};
    vqe_value val = {.field = "sp",
                     .type = VQE_SPARSE,
                     .sparse_indices = dup,
                     .sparse_values = vals,
                     .n_sparse = 3};
    vqe_record r = {.id = {.u = 1}, .vector = v, .values = &val, .n_values = 1};
    vq_err e;
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "records[0].sp.indices[2]");
    dup[2] = 7;
    vals[1] = NAN;
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_ENOTFINITE);
    cr_expect_str_eq(e.field, "records[0].sp.values[1]");
    vals[1] = INFINITY;
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_ENOTFINITE);
    vals[1] = 2;
    val.n_sparse = VQE_SPARSE_NNZ_MAX + 1;
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_ETOOBIG);
    cr_expect_str_eq(e.field, "records[0].sp");
    val.n_sparse = 3;
    val.type = VQE_TEXT, val.s = "words";
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "records[0].sp");
    vqe_value tv = {.field = "body",
                    .type = VQE_SPARSE,
                    .sparse_indices = dup,
                    .sparse_values = vals,
                    .n_sparse = 3};
    r.values = &tv;
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "records[0].body");
    /* nothing was stored */
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_expect_eq(in.count, 0);
    /* JSON attributes */
    vqe_values jv;
    cr_expect_eq(vqe_values_from_json(c, "{\"sp\": {\"indices\": [1, 2], \"values\": [0.5]}}",
                                      "line 1", &jv, &e),
                 VQ_EINVAL);
    cr_expect_str_eq(e.field, "line 1.sp");
    cr_expect_eq(vqe_values_from_json(c, "{\"sp\": {\"indices\": [1, -2], \"values\": [0.5, 1]}}",
                                      "line 1", &jv, &e),
                 VQ_EINVAL);
    cr_expect_str_eq(e.field, "line 1.sp.indices[1]");
    cr_expect_eq(vqe_values_from_json(c, "{\"sp\": [\"a\"]}", "line 1", &jv, &e), VQ_OK);
    r.values = jv.v, r.n_values = jv.n;
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_EINVAL, "an array is not a sparse vector");
    vqe_values_free(&jv);
    cr_assert_eq(
        vqe_values_from_json(
            c, "{\"sp\": {\"indices\": [9, 3], \"values\": [0.5, 2]}, \"body\": \"hello world\"}",
            "line 1", &jv, &e),
        VQ_OK, "%s", e.msg);
    r.values = jv.v, r.n_values = jv.n;
    cr_assert_eq(vqe_upsert(c, &r, 1, &e), VQ_OK, "%s: %s", e.field, e.msg);
    vqe_values_free(&jv);
    /* read back: the sparse vector sorted by index */
    vqe_got g;
    cr_assert_eq(vqe_get(c, &r.id, 1, &g, &e), VQ_OK, "%s", e.msg);
    cr_assert(g.found);
    cr_expect_not_null(strstr(g.attrs_json, "\"sp\":{\"indices\":[3,9],\"values\":[2,0.5]}"), "%s",
                       g.attrs_json);
    cr_expect_not_null(strstr(g.attrs_json, "\"body\":\"hello world\""), "%s", g.attrs_json);
    vqe_got_free(&g, 1);
    /* filters on text and sparse fields are refused at bind time */
    vqe_filter *f;
    vqe_collection_info_get(c, &in);
    cr_assert_eq(vqe_filter_parse("sp = 1", &f, &e), VQ_OK);
    cr_expect_neq(vqe_filter_bind(f, &in.schema, &e), VQ_OK);
    vqe_filter_free(f);
    /* queries */
    vqe_subquery sq[2];
    vqe_query_params p;
    vqe_query_params_default(&p);
    vqe_query_result res;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs");
    vqe_subquery_init(&sq[0], VQE_SUB_SPARSE);
    uint32_t qi[2] = {3, 3};
    float qv[2] = {1, NAN};
    sq[0].indices = qi, sq[0].values = qv, sq[0].nnz = 2;
    p.subs = sq, p.n_subs = 1;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_ENOTFINITE);
    cr_expect_str_eq(e.field, "subs[0].sparse.values[1]");
    qv[1] = 1;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs[0].sparse.indices[1]");
    qi[1] = 9;
    cr_assert_eq(vqe_query(c, &p, &res, &e), VQ_OK, "%s", e.msg);
    cr_expect_eq(res.n, 1);
    cr_expect(fabs(res.hits[0].score - (1.0 / 61)) < 1e-15, "RRF of one list: 1/(60+1)");
    vqe_query_result_free(&res);
    sq[0].field = "body";
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs[0].field");
    sq[0].field = "nope";
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs[0].field");
    sq[0].field = NULL;
    sq[0].weight = -1;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs[0].weight");
    sq[0].weight = 0;
    sq[0].prefetch = VQE_PREFETCH_MAX + 1;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs[0].prefetch");
    sq[0].prefetch = 0;
    vqe_subquery_init(&sq[1], VQE_SUB_DENSE);
    float bad[4] = {1, NAN, 0, 0};
    sq[1].vector = bad;
    p.n_subs = 2;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_ENOTFINITE);
    cr_expect_eq(strncmp(e.field, "subs[1].vector", 14), 0, "%s", e.field);
    sq[1].vector = v;
    p.fusion.kind = VQE_FUSION_NONE;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "fusion");
    vqe_fusion_params_default(&p.fusion);
    p.k = 0;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "k");
    p.k = 10;
    sq[1].kind = (vqe_sub_kind)9;
    cr_expect_eq(vqe_query(c, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs[1].kind");
    /* a text query on a collection without a text field */
    vqe_collection *c2 = mk("b2", 4, VQ_METRIC_L2, "{\"fields\": {\"n\": \"int64\"}}");
    vqe_subquery_init(&sq[0], VQE_SUB_TEXT);
    sq[0].text = "x", sq[0].text_len = 1;
    p.n_subs = 1;
    cr_expect_eq(vqe_query(c2, &p, &res, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "subs[0].field");
}
