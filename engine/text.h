/* text.h — keyword and sparse retrieval: the tokenizer, an in-memory impact index (posting
 * lists with per-term bounds) and exact top-k over it with MaxScore, scored as BM25 over
 * tokenized text or as an inner product over client-supplied sparse vectors.
 *
 * Tokenizer (matches SQLite FTS5's default `unicode61`, so BM25 can be checked against
 * FTS5's bm25()): token characters are Unicode letters, numbers and private-use characters;
 * every other character separates tokens; tokens are case-folded and Latin diacritics are
 * removed ("Müller" -> "muller"). Optional stop words are dropped after folding.
 *
 * BM25 (FTS5's definition): for query terms t present in document D,
 *   score(D) = sum_t idf(t) * f(t,D) * (k1 + 1) / (f(t,D) + k1 * (1 - b + b * |D| / avgdl))
 *   idf(t) = ln((N - n_t + 0.5) / (n_t + 0.5)), floored at 1e-6;
 * |D| is the number of tokens of D, avgdl the mean over live documents, N the live
 * documents, n_t those containing t. Scores are positive, larger is better (FTS5's bm25()
 * returns the negation). The query is a bag of terms (OR semantics, as "a OR b" in FTS5); a
 * term given twice counts twice, as each phrase does in FTS5.
 *
 * Top-k is exact: document-at-a-time MaxScore (Turtle & Flood) with per-term score upper
 * bounds; lists whose bounds cannot lift a document above the current k-th score are only
 * probed for documents found through the others. Ties are broken by smaller document id.
 *
 * Thread safety: an index serves many concurrent searches (each with its own scratch) or one
 * writer; the caller (engine/collection) holds the lock that separates them.
 */
#ifndef VQ_ENGINE_TEXT_H
#define VQ_ENGINE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_TOKEN_MAX 256u /* longer tokens are cut at a character boundary */

/* Calls fn for each token of the UTF-8 text (len bytes) with the folded token (NUL-
 * terminated, at most VQE_TOKEN_MAX bytes). Invalid UTF-8 bytes act as separators. Returns
 * the number of tokens, or the first negative value fn returned. */
typedef int (*vqe_token_fn)(const char *tok, size_t len, void *ctx);
long vqe_tokenize(const char *text, size_t len, vqe_token_fn fn, void *ctx);

typedef enum vqe_impact_kind { VQE_IMPACT_BM25 = 0, VQE_IMPACT_SPARSE = 1 } vqe_impact_kind;

typedef struct vqe_bm25_params {
    double k1;                     /* default 1.2 */
    double b;                      /* default 0.75 */
    const char *const *stop_words; /* NULL-terminated, already folded; NULL: none */
} vqe_bm25_params;
void vqe_bm25_params_default(vqe_bm25_params *p);

typedef struct vqe_impact vqe_impact;

int vqe_impact_new(vqe_impact_kind kind, const vqe_bm25_params *p, vqe_impact **out, vq_err *err);
void vqe_impact_free(vqe_impact *ix);

/* BM25: indexes the text of document `doc` (a dense internal id). A document id may be
 * added once; re-adding requires vqe_impact_remove first. */
int vqe_impact_add_text(vqe_impact *ix, uint32_t doc, const char *text, size_t len, vq_err *err);
/* Sparse: indexes n (term, value) pairs; terms strictly increasing, values finite. */
int vqe_impact_add_sparse(vqe_impact *ix, uint32_t doc, const uint32_t *terms, const float *values,
                          size_t n, vq_err *err);
/* BM25: indexes a document given as its bag of words: n distinct folded terms (terms[i] of
 * lens[i] bytes, 1..VQE_TOKEN_MAX) with their frequencies tf[i] >= 1, and its length in
 * tokens (>= the sum of tf). Scores equal those of vqe_impact_add_text on the text the bag
 * came from. Stop words are not filtered here. */
int vqe_impact_add_terms(vqe_impact *ix, uint32_t doc, const char *const *terms,
                         const uint32_t *lens, const uint32_t *tf, size_t n, uint64_t doc_len,
                         vq_err *err);
/* Removes a document (its postings stop counting at once; memory is reclaimed by
 * vqe_impact_compact). Unknown ids are ignored. */
int vqe_impact_remove(vqe_impact *ix, uint32_t doc);
int vqe_impact_compact(vqe_impact *ix, vq_err *err);

typedef struct vqe_scored {
    uint32_t doc;
    double score; /* larger is better */
} vqe_scored;

typedef struct vqe_impact_stats {
    uint64_t docs, terms, postings;
    double avgdl;
    uint64_t scored; /* documents fully scored by the last search (work measure) */
} vqe_impact_stats;
void vqe_impact_stats_get(const vqe_impact *ix, vqe_impact_stats *st);

/* Exact top-k. Text queries are tokenized like documents; sparse queries give (term,
 * weight) pairs (terms strictly increasing). allowed (may be NULL) restricts the documents.
 * Writes up to k results best first into out, their number into *n_out. *scored (may be
 * NULL) receives the number of documents fully scored. */
int vqe_impact_search_text(const vqe_impact *ix, const char *query, size_t len, unsigned k,
                           const roaring_bitmap_t *allowed, vqe_scored *out, size_t *n_out,
                           uint64_t *scored, vq_err *err);
int vqe_impact_search_sparse(const vqe_impact *ix, const uint32_t *terms, const float *weights,
                             size_t n, unsigned k, const roaring_bitmap_t *allowed, vqe_scored *out,
                             size_t *n_out, uint64_t *scored, vq_err *err);
/* The same results computed by scoring every document that holds a query term (the
 * reference that tests and benchmarks compare MaxScore with). */
int vqe_impact_search_brute(const vqe_impact *ix, const char *query, size_t len,
                            const uint32_t *terms, const float *weights, size_t n, unsigned k,
                            const roaring_bitmap_t *allowed, vqe_scored *out, size_t *n_out,
                            vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
