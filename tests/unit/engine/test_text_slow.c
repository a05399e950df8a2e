/* BM25 against SQLite FTS5 on a generated 100,000-document corpus (Zipf vocabulary of 50,000
 * words, 10-300 words per document, fixed seed): identical top-10 ids for >= 99% of 1,000
 * two-word OR queries and scores within 1e-4 relative. Labelled slow: release build only.
 * (SAP docs, in test_text.c, also query the most frequent words.) */
#include <criterion/criterion.h>

#include "text.h"
#include "texttest.h"

Test(text_slow, bm25_matches_sqlite_fts5_on_100k_generated_docs, .timeout = 600) {
    vqe_impact *ix;
    cr_assert_eq(vqe_impact_new(VQE_IMPACT_BM25, NULL, &ix, NULL), VQ_OK);
    sqlite3 *db = tt_fts_open();
    cr_assert(db);
    tt_zipf z;
    tt_zipf_init(&z, 50000);
    uint64_t s = 100000;
    double t_ours = 0, t_fts = 0, t0;
    for (long d = 0; d < 100000; d++) {
        char *doc = tt_doc(&z, &s, 10 + (unsigned)(tt_next(&s) % 291));
        t0 = vq_now();
        cr_assert_eq(vqe_impact_add_text(ix, (uint32_t)d, doc, strlen(doc), NULL), VQ_OK);
        t_ours += vq_now() - t0;
        t0 = vq_now();
        tt_fts_add(db, d, doc);
        t_fts += vq_now() - t0;
        free(doc);
    }
    t0 = vq_now();
    sqlite3_exec(db, "COMMIT;", NULL, NULL, NULL);
    t_fts += vq_now() - t0;
    cr_log_info("indexing 100k docs: vqdb %.2f s, FTS5 %.2f s", t_ours, t_fts);
    int same = 0, nq = 1000;
    double worst = 0;
    uint64_t scored = 0;
    for (int q = 0; q < nq; q++) {
        char a[16], b[16], query[40], match[48];
        /* One Zipf-drawn word outside the 50 most frequent (which act as stop words) and one
         * uniformly drawn, rarer word: the typical keyword query. */
        unsigned wa;
        do wa = tt_zipf_draw(&z, &s);
        while (wa < 50);
        tt_word(wa, a);
        tt_word((unsigned)(tt_next(&s) % 50000), b);
        snprintf(query, sizeof query, "%s %s", a, b);
        snprintf(match, sizeof match, "\"%s\" OR \"%s\"", a, b);
        long rid[10];
        double rs[10];
        int nr = tt_fts_top(db, match, 10, rid, rs);
        vqe_scored out[10];
        size_t no;
        uint64_t sc;
        cr_assert_eq(
            vqe_impact_search_text(ix, query, strlen(query), 10, NULL, out, &no, &sc, NULL), VQ_OK);
        scored += sc;
        int ok = (int)no == nr;
        for (size_t i = 0; ok && i < no; i++) ok = (long)out[i].doc == rid[i];
        same += ok;
        for (size_t i = 0; i < no && (int)i < nr; i++) {
            double rel = fabs(out[i].score - rs[i]) / fabs(rs[i]);
            if (rel > worst) worst = rel;
        }
    }
    cr_log_info("100k corpus: %d/%d identical top-10, worst rel. error %.2e; MaxScore fully "
                "scored %.1f documents per query",
                same, nq, worst, (double)scored / nq);
    cr_expect_geq(same, 990, "identical top-10 for %d of %d queries", same, nq);
    cr_expect_leq(worst, 1e-4);
    free(z.cdf);
    sqlite3_close(db);
    vqe_impact_free(ix);
}
