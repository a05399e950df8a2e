/* Keyword and sparse retrieval (engine/text.h): the unicode61-compatible tokenizer, MaxScore
 * top-k equal to the exhaustive scorer (with filters and deletes), and BM25 equal to SQLite
 * FTS5's bm25() on the real SAP docs corpus (skipped, with a message, when
 * ../shared/datasets is absent; the generated-corpus comparison in test_text_slow.c always
 * runs). */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "text.h"
#include "texttest.h"

typedef struct toks {
    char buf[64][64];
    int n;
} toks;
static int collect(const char *t, size_t len, void *ctx) {
    toks *x = ctx;
    if (x->n < 64 && len < 64) memcpy(x->buf[x->n++], t, len + 1);
    return 0;
}

Test(text, tokenizer_follows_unicode61) {
    const char *s = "Müller's_TEST 3.5 ÄÖÜ Øre €100 \xee\x80\x90x naïve CAFÉ—x\xff\xfeyz  Ĳssel ß";
    toks t = {0};
    long n = vqe_tokenize(s, strlen(s), collect, &t);
    const char *want[] = {"muller",        "s",     "test", "3", "5",  "aou",   "øre", "100",
                          "\xee\x80\x90x", "naive", "cafe", "x", "yz", "ĳssel", "ß"};
    cr_assert_eq(n, (long)(sizeof want / sizeof *want), "got %ld tokens", n);
    for (int i = 0; i < t.n; i++) cr_expect_str_eq(t.buf[i], want[i], "token %d", i);
    cr_expect_eq(vqe_tokenize("", 0, collect, &t), 0);
    cr_expect_eq(vqe_tokenize("..--!!", 6, collect, &t), 0);
}

static void check_same(const vqe_scored *a, size_t na, const vqe_scored *b, size_t nb,
                       const char *what, int q) {
    cr_assert_eq(na, nb, "%s query %d: %zu vs %zu results", what, q, na, nb);
    for (size_t i = 0; i < na; i++) {
        cr_expect(fabs(a[i].score - b[i].score) <= 1e-9 * fabs(b[i].score) + 1e-12,
                  "%s query %d rank %zu: score %.17g vs %.17g", what, q, i, a[i].score, b[i].score);
        /* Equal scores may be summed in another order; ids must match except in ties. */
        if (fabs(a[i].score - b[i].score) > 1e-9 * fabs(b[i].score))
            cr_expect_eq(a[i].doc, b[i].doc, "%s query %d rank %zu", what, q, i);
    }
}

Test(text, bm25_maxscore_equals_exhaustive_with_filters_and_deletes) {
    vqe_impact *ix;
    cr_assert_eq(vqe_impact_new(VQE_IMPACT_BM25, NULL, &ix, NULL), VQ_OK);
    tt_zipf z;
    tt_zipf_init(&z, 3000);
    uint64_t s = 42;
    unsigned ndocs = 4000;
    for (unsigned d = 0; d < ndocs; d++) {
        char *doc = tt_doc(&z, &s, 5 + (unsigned)(tt_next(&s) % 80));
        cr_assert_eq(vqe_impact_add_text(ix, d * 2 + 1, doc, strlen(doc), NULL), VQ_OK);
        free(doc);
    }
    for (unsigned d = 0; d < ndocs; d += 10) vqe_impact_remove(ix, d * 2 + 1);
    roaring_bitmap_t *allowed = roaring_bitmap_create();
    for (unsigned d = 0; d < ndocs; d += 3) roaring_bitmap_add(allowed, d * 2 + 1);
    vqe_scored a[50], b[50];
    size_t na, nb;
    uint64_t scored_total = 0;
    for (int q = 0; q < 300; q++) {
        char query[128], w1[16], w2[16], w3[16];
        tt_word(tt_zipf_draw(&z, &s), w1);
        tt_word(tt_zipf_draw(&z, &s), w2);
        tt_word((unsigned)(tt_next(&s) % 3000), w3);
        snprintf(query, sizeof query, "%s %s %s", w1, w2, w3);
        unsigned k = 1 + (unsigned)(q % 50);
        const roaring_bitmap_t *f = q % 2 ? allowed : NULL;
        uint64_t scored;
        cr_assert_eq(vqe_impact_search_text(ix, query, strlen(query), k, f, a, &na, &scored, NULL),
                     VQ_OK);
        cr_assert_eq(
            vqe_impact_search_brute(ix, query, strlen(query), NULL, NULL, 0, k, f, b, &nb, NULL),
            VQ_OK);
        check_same(a, na, b, nb, "bm25", q);
        for (size_t i = 0; i < na; i++) {
            cr_expect(!f || roaring_bitmap_contains(f, a[i].doc));
            cr_expect(((a[i].doc - 1) / 2) % 10 != 0, "deleted doc %u returned", a[i].doc);
        }
        scored_total += scored;
    }
    /* Compaction changes memory, not results. */
    cr_assert_eq(vqe_impact_compact(ix, NULL), VQ_OK);
    cr_assert_eq(vqe_impact_search_text(ix, "aq bq cq", 8, 10, NULL, a, &na, NULL, NULL), VQ_OK);
    cr_assert_eq(vqe_impact_search_brute(ix, "aq bq cq", 8, NULL, NULL, 0, 10, NULL, b, &nb, NULL),
                 VQ_OK);
    check_same(a, na, b, nb, "bm25 after compact", 0);
    cr_expect_gt(scored_total, 0);
    roaring_bitmap_free(allowed);
    free(z.cdf);
    vqe_impact_free(ix);
}

Test(text, sparse_maxscore_equals_exhaustive) {
    vqe_impact *ix;
    cr_assert_eq(vqe_impact_new(VQE_IMPACT_SPARSE, NULL, &ix, NULL), VQ_OK);
    uint64_t s = 7;
    tt_zipf z;
    tt_zipf_init(&z, 5000);
    for (uint32_t d = 0; d < 3000; d++) {
        uint32_t t[64];
        float v[64];
        size_t n = 0;
        for (int i = 0; i < 40; i++) {
            uint32_t term = tt_zipf_draw(&z, &s);
            size_t j = 0;
            while (j < n && t[j] < term) j++;
            if (j < n && t[j] == term) continue;
            memmove(t + j + 1, t + j, (n - j) * sizeof *t);
            memmove(v + j + 1, v + j, (n - j) * sizeof *v);
            t[j] = term;
            v[j] = (float)(tt_unif(&s) * 2 - (d % 5 == 0 ? 1.0 : 0.0)); /* some negative */
            n++;
        }
        cr_assert_eq(vqe_impact_add_sparse(ix, d, t, v, n, NULL), VQ_OK);
    }
    for (uint32_t d = 0; d < 3000; d += 7) vqe_impact_remove(ix, d);
    vqe_scored a[20], b[20];
    size_t na, nb;
    for (int q = 0; q < 200; q++) {
        uint32_t t[8];
        float w[8];
        size_t n = 0;
        for (int i = 0; i < 8; i++) {
            uint32_t term = (uint32_t)(i * 600 + tt_next(&s) % 600);
            t[n] = term;
            w[n] = (float)(tt_unif(&s) * 3 - (q % 4 == 0 ? 1 : 0));
            n++;
        }
        cr_assert_eq(vqe_impact_search_sparse(ix, t, w, n, 20, NULL, a, &na, NULL, NULL), VQ_OK);
        cr_assert_eq(vqe_impact_search_brute(ix, NULL, 0, t, w, n, 20, NULL, b, &nb, NULL), VQ_OK);
        check_same(a, na, b, nb, "sparse", q);
    }
    /* Bad input names the field. */
    uint32_t bad_t[2] = {5, 5};
    float bad_v[2] = {1, 1};
    vq_err err;
    cr_expect_eq(vqe_impact_add_sparse(ix, 5000, bad_t, bad_v, 2, &err), VQ_EINVAL);
    cr_expect_str_eq(err.field, "sparse.indices");
    bad_t[1] = 6;
    bad_v[1] = NAN;
    cr_expect_eq(vqe_impact_add_sparse(ix, 5000, bad_t, bad_v, 2, &err), VQ_ENOTFINITE);
    cr_expect_eq(vqe_impact_add_sparse(ix, 10, bad_t, bad_v, 1, &err), VQ_EINVAL); /* id order */
    free(z.cdf);
    vqe_impact_free(ix);
}

/* Tokens of a JSON-escaped content field, decoded enough for the corpus (\n, \", \\, \uXXXX). */
static char *json_field(const char *line, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (!p) return NULL;
    p += strlen(pat);
    char *out = malloc(strlen(p) * 3 + 1);
    size_t o = 0;
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) {
            p++;
            if (*p == 'n' || *p == 't' || *p == 'r')
                out[o++] = ' ';
            else if (*p == 'u') {
                unsigned cp = (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && p[1] == '\\' && p[2] == 'u') {
                    unsigned lo = (unsigned)strtoul((char[5]){p[3], p[4], p[5], p[6], 0}, NULL, 16);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                if (cp < 0x80)
                    out[o++] = (char)cp;
                else if (cp < 0x800)
                    out[o++] = (char)(0xC0 | (cp >> 6)), out[o++] = (char)(0x80 | (cp & 63));
                else if (cp < 0x10000)
                    out[o++] = (char)(0xE0 | (cp >> 12)),
                    out[o++] = (char)(0x80 | ((cp >> 6) & 63)), out[o++] = (char)(0x80 | (cp & 63));
                else
                    out[o++] = (char)(0xF0 | (cp >> 18)),
                    out[o++] = (char)(0x80 | ((cp >> 12) & 63)),
                    out[o++] = (char)(0x80 | ((cp >> 6) & 63)), out[o++] = (char)(0x80 | (cp & 63));
            } else
                out[o++] = *p;
            p++;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

typedef struct vocab {
    char (*w)[64];
    size_t n, cap;
} vocab;
static int add_vocab(const char *t, size_t len, void *ctx) {
    vocab *v = ctx;
    if (len >= 64 || v->n == v->cap) return 0;
    memcpy(v->w[v->n++], t, len + 1);
    return 0;
}

Test(text, bm25_matches_sqlite_fts5_on_sap_docs) {
    const char *path = VQ_SHARED_DIR "/datasets/sapdocs/sapdocs_records.jsonl";
    FILE *f = fopen(path, "r");
    if (!f) {
        cr_log_warn("skipping the SAP docs comparison: %s is absent", path);
        return;
    }
    vqe_impact *ix;
    cr_assert_eq(vqe_impact_new(VQE_IMPACT_BM25, NULL, &ix, NULL), VQ_OK);
    sqlite3 *db = tt_fts_open();
    cr_assert(db);
    vocab v = {malloc(200000 * 64), 0, 200000};
    char *line = NULL;
    size_t cap = 0;
    long id = 0;
    while (getline(&line, &cap, f) > 0) {
        char *content = json_field(line, "content");
        cr_assert(content, "line %ld has no content", id);
        cr_assert_eq(vqe_impact_add_text(ix, (uint32_t)id, content, strlen(content), NULL), VQ_OK);
        tt_fts_add(db, id, content);
        vqe_tokenize(content, strlen(content), add_vocab, &v);
        free(content);
        id++;
    }
    free(line);
    fclose(f);
    sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL);
    cr_assert_eq(id, 778);
    uint64_t s = 2024;
    int same = 0, nq = 1000;
    double worst = 0;
    for (int q = 0; q < nq; q++) {
        const char *a = v.w[tt_next(&s) % v.n], *b = v.w[tt_next(&s) % v.n];
        char query[160], match[200];
        snprintf(query, sizeof query, "%s %s", a, b);
        snprintf(match, sizeof match, "\"%s\" OR \"%s\"", a, b);
        long rid[10];
        double rs[10];
        int nr = tt_fts_top(db, match, 10, rid, rs);
        vqe_scored out[10];
        size_t no;
        cr_assert_eq(
            vqe_impact_search_text(ix, query, strlen(query), 10, NULL, out, &no, NULL, NULL),
            VQ_OK);
        int ok = (int)no == nr;
        for (size_t i = 0; ok && i < no; i++) ok = (long)out[i].doc == rid[i];
        same += ok;
        for (size_t i = 0; i < no && (int)i < nr; i++) {
            double rel = fabs(out[i].score - rs[i]) / fabs(rs[i]);
            if (rel > worst) worst = rel;
            if (rel > 1e-4)
                cr_log_warn("query '%s' rank %zu: doc %u score %.9g, FTS5 doc %ld score %.9g",
                            match, i, out[i].doc, out[i].score, rid[i], rs[i]);
        }
    }
    cr_log_info("SAP docs: %d/%d queries with identical top-10 ids, worst score rel. error %.2e",
                same, nq, worst);
    cr_expect_geq(same, 990, "identical top-10 for %d of %d queries", same, nq);
    cr_expect_leq(worst, 1e-4);
    free(v.w);
    sqlite3_close(db);
    vqe_impact_free(ix);
}
