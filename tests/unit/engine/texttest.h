/* texttest.h — helpers for the text-retrieval tests: a seeded Zipf corpus generator and an
 * SQLite FTS5 reference (the same tokenizer rules, k1 = 1.2, b = 0.75). */
#ifndef VQ_TEXTTEST_H
#define VQ_TEXTTEST_H

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t tt_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static inline double tt_unif(uint64_t *s) { return (double)(tt_next(s) >> 11) * 0x1.0p-53; }

/* Word w of the synthetic vocabulary: letters from its number, so words are distinct. */
static inline void tt_word(unsigned w, char *out) {
    int n = 0;
    do {
        out[n++] = (char)('a' + w % 26);
        w /= 26;
    } while (w);
    out[n++] = 'q'; /* keeps short words from colliding with long ones' prefixes */
    out[n] = '\0';
}

/* Zipf(1.1) sampler over `vocab` words by inverse CDF on a precomputed table. */
typedef struct tt_zipf {
    double *cdf;
    unsigned n;
} tt_zipf;
static inline void tt_zipf_init(tt_zipf *z, unsigned n) {
    z->n = n;
    z->cdf = malloc(n * sizeof(double));
    double s = 0;
    for (unsigned i = 0; i < n; i++) s += 1.0 / pow(i + 1, 1.1), z->cdf[i] = s;
    for (unsigned i = 0; i < n; i++) z->cdf[i] /= s;
}
static inline unsigned tt_zipf_draw(const tt_zipf *z, uint64_t *s) {
    double u = tt_unif(s);
    unsigned lo = 0, hi = z->n - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A document of len words (some capitalized, with punctuation, to exercise folding). */
static inline char *tt_doc(const tt_zipf *z, uint64_t *s, unsigned len) {
    char *d = malloc(len * 16 + 1), w[16];
    size_t o = 0;
    for (unsigned i = 0; i < len; i++) {
        tt_word(tt_zipf_draw(z, s), w);
        if (tt_next(s) % 7 == 0) w[0] = (char)(w[0] - 32);
        o += (size_t)sprintf(d + o, "%s%s", w, tt_next(s) % 9 == 0 ? ", " : " ");
    }
    d[o] = '\0';
    return d;
}

/* FTS5 reference: a table with rowid = doc id. */
static inline sqlite3 *tt_fts_open(void) {
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return NULL;
    sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(body); BEGIN;", NULL, NULL, NULL);
    return db;
}
static inline void tt_fts_add(sqlite3 *db, long id, const char *text) {
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO t(rowid, body) VALUES (?, ?)", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_finalize(st);
}
/* Top-k rowids and -bm25() scores for an FTS5 MATCH expression, ties by rowid. */
static inline int tt_fts_top(sqlite3 *db, const char *match, int k, long *ids, double *scores) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT rowid, -bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t), rowid "
                           "LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, match, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, k);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < k) {
        ids[n] = (long)sqlite3_column_int64(st, 0);
        scores[n] = sqlite3_column_double(st, 1);
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

#endif
