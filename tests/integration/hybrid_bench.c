/* hybrid_bench — the measurements behind bench/results/hybrid.md (a command, not a test).
 * Single thread throughout.
 *
 * Corpus: N generated documents (default 100,000) over a Zipf(1.1) vocabulary of 50,000
 * words, 10-300 words each, seed 100000 — the corpus of engine_test_text_slow. Sparse
 * vectors are the documents' BM25 weights w(t, d) = tf (k1 + 1) / (tf + k1 (1 - b + b |d| /
 * avgdl)) as index:value pairs (what a client computing BM25 or SPLADE-style weights sends).
 *
 * Part A (in memory, engine/text.h): sparse top-10 by MaxScore, by exhaustive term-at-a-time
 * accumulation over the same posting lists (every document holding a query term scored,
 * no pruning), and by the brute-force reference (every document scanned); the three must
 * agree (counted) and their times are compared in the same run (NQ queries per set, each
 * pass run twice, the second timed). Query sets: 2 terms (one
 * Zipf-drawn outside the 50 most frequent, one uniform; weights = idf), and 10 Zipf-drawn
 * terms with weights in [0.1, 1] (an expanded, SPLADE-like query).
 *
 * Part B (a collection in DIR, engine/query.h): ingest of N records (32-d random vector,
 * text field, sparse field) in batches of 1000, reopen time (impact lists rebuilt from the
 * postings column family), then per-query latency of BM25 alone, FTS5's bm25() on the same
 * texts (SQLite in memory, same process), dense alone (flat exact scan), sparse alone, and
 * hybrid dense + text (+ sparse) with RRF, prefetch 100, k 10.
 *
 * usage: hybrid_bench DIR [N] [NQ] [a]   (DIR must not exist; it is removed at the end;
 *        "a": part A only)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/engine/texttest.h"
#include "engine.h"
#include "query.h"
#include "text.h"

#define VOCAB 50000u
#define K 10u

typedef struct corpus {
    size_t n;
    uint32_t *off, *len; /* words of doc d: w[off[d] .. off[d] + len[d]) */
    uint32_t *w;
    /* per doc: distinct terms sorted, BM25 weights */
    uint32_t *toff, *tn, *terms;
    float *wts;
    uint32_t *df;
    double avgdl;
} corpus;

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void gen(corpus *C, size_t n) {
    tt_zipf z;
    tt_zipf_init(&z, VOCAB);
    uint64_t s = 100000;
    C->n = n;
    C->off = malloc(n * 4), C->len = malloc(n * 4), C->toff = malloc(n * 4), C->tn = malloc(n * 4);
    size_t cap = n * 160, used = 0;
    C->w = malloc(cap * 4);
    for (size_t d = 0; d < n; d++) {
        unsigned l = 10 + (unsigned)(tt_next(&s) % 291);
        if (used + l > cap) C->w = realloc(C->w, (cap *= 2) * 4);
        C->off[d] = (uint32_t)used, C->len[d] = l;
        for (unsigned i = 0; i < l; i++) C->w[used + i] = tt_zipf_draw(&z, &s);
        used += l;
    }
    C->avgdl = (double)used / (double)n;
    C->terms = malloc(used * 4), C->wts = malloc(used * 4), C->df = calloc(VOCAB, 4);
    uint32_t *tmp = malloc(400 * 4);
    size_t t = 0;
    for (size_t d = 0; d < n; d++) {
        memcpy(tmp, C->w + C->off[d], C->len[d] * 4);
        qsort(tmp, C->len[d], 4, cmp_u32);
        C->toff[d] = (uint32_t)t;
        for (uint32_t i = 0; i < C->len[d];) {
            uint32_t j = i;
            while (j < C->len[d] && tmp[j] == tmp[i]) j++;
            double tf = j - i;
            C->terms[t] = tmp[i];
            C->wts[t] = (float)(tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * C->len[d] / C->avgdl)));
            C->df[tmp[i]]++;
            t++;
            i = j;
        }
        C->tn[d] = (uint32_t)(t - C->toff[d]);
    }
    free(tmp);
    free(z.cdf);
}

static char *doc_text(const corpus *C, size_t d) {
    char *t = malloc(C->len[d] * 8 + 1), w[16];
    size_t o = 0;
    for (uint32_t i = 0; i < C->len[d]; i++) {
        tt_word(C->w[C->off[d] + i], w);
        o += (size_t)sprintf(t + o, "%s ", w);
    }
    t[o] = 0;
    return t;
}

/* term-major copy for the exhaustive term-at-a-time baseline */
typedef struct tlists {
    uint32_t *off, *n, *doc;
    float *val;
} tlists;

static void build_tlists(const corpus *C, tlists *T) {
    T->off = calloc(VOCAB + 1, 4), T->n = calloc(VOCAB, 4);
    for (uint32_t t = 0; t < VOCAB; t++) T->off[t + 1] = T->off[t] + C->df[t];
    T->doc = malloc((size_t)T->off[VOCAB] * 4), T->val = malloc((size_t)T->off[VOCAB] * 4);
    for (size_t d = 0; d < C->n; d++)
        for (uint32_t i = 0; i < C->tn[d]; i++) {
            uint32_t t = C->terms[C->toff[d] + i];
            T->doc[T->off[t] + T->n[t]] = (uint32_t)d;
            T->val[T->off[t] + T->n[t]] = C->wts[C->toff[d] + i];
            T->n[t]++;
        }
}

static int worse(const vqe_scored *a, const vqe_scored *b) {
    return a->score < b->score || (a->score == b->score && a->doc > b->doc);
}
static void push(vqe_scored *h, size_t *n, vqe_scored x) {
    if (*n < K) {
        size_t i = (*n)++;
        h[i] = x;
        while (i && worse(&h[i], &h[(i - 1) / 2])) {
            vqe_scored t = h[i];
            h[i] = h[(i - 1) / 2], h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (worse(&h[0], &x)) {
        h[0] = x;
        for (size_t i = 0;;) {
            size_t l = 2 * i + 1, r = l + 1, m = i;
            if (l < *n && worse(&h[l], &h[m])) m = l;
            if (r < *n && worse(&h[r], &h[m])) m = r;
            if (m == i) break;
            vqe_scored t = h[i];
            h[i] = h[m], h[m] = t;
            i = m;
        }
    }
}
static int cmp_best(const void *a, const void *b) { return worse(b, a) ? -1 : worse(a, b) ? 1 : 0; }

static size_t taat(const tlists *T, double *acc, uint8_t *seen, uint32_t *touched,
                   const uint32_t *qt, const float *qw, size_t qn, vqe_scored *out) {
    size_t nt = 0;
    for (size_t i = 0; i < qn; i++) {
        uint32_t t = qt[i];
        for (uint32_t j = T->off[t]; j < T->off[t] + T->n[t]; j++) {
            uint32_t d = T->doc[j];
            if (!seen[d]) touched[nt++] = d, seen[d] = 1;
            acc[d] += (double)qw[i] * T->val[j];
        }
    }
    size_t nh = 0;
    for (size_t i = 0; i < nt; i++) {
        push(out, &nh, (vqe_scored){touched[i], acc[touched[i]]});
        acc[touched[i]] = 0, seen[touched[i]] = 0;
    }
    qsort(out, nh, sizeof *out, cmp_best);
    return nh;
}

typedef struct qset {
    size_t nq, *n;
    uint32_t (*t)[10];
    float (*w)[10];
} qset;

static void make_queries(const corpus *C, qset *Q, size_t nq, int kind, uint64_t seed) {
    tt_zipf z;
    tt_zipf_init(&z, VOCAB);
    uint64_t s = seed;
    Q->nq = nq;
    Q->n = malloc(nq * sizeof *Q->n), Q->t = malloc(nq * sizeof *Q->t),
    Q->w = malloc(nq * sizeof *Q->w);
    for (size_t q = 0; q < nq; q++) {
        size_t m = kind == 0 ? 2 : 10, n = 0;
        while (n < m) {
            uint32_t t;
            if (kind == 0 && n == 1) {
                t = (uint32_t)(tt_next(&s) % VOCAB);
            } else {
                do t = tt_zipf_draw(&z, &s);
                while (t < 50);
            }
            int dup = 0;
            for (size_t j = 0; j < n; j++) dup |= Q->t[q][j] == t;
            if (dup) continue;
            double df = C->df[t], N = (double)C->n, idf = log((N - df + 0.5) / (df + 0.5));
            Q->t[q][n] = t;
            Q->w[q][n] =
                kind == 0 ? (float)(idf > 1e-6 ? idf : 1e-6) : (float)(0.1 + 0.9 * tt_unif(&s));
            n++;
        }
        /* sorted by term for the engine */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && Q->t[q][j] < Q->t[q][j - 1]; j--) {
                uint32_t a = Q->t[q][j];
                Q->t[q][j] = Q->t[q][j - 1], Q->t[q][j - 1] = a;
                float b = Q->w[q][j];
                Q->w[q][j] = Q->w[q][j - 1], Q->w[q][j - 1] = b;
            }
        Q->n[q] = n;
    }
    free(z.cdf);
}

static int same(const vqe_scored *a, size_t na, const vqe_scored *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++) {
        double tol = 1e-9 * fabs(b[i].score) + 1e-12;
        if (fabs(a[i].score - b[i].score) > tol) return 0;
        if (a[i].doc != b[i].doc && fabs(a[i].score - b[i].score) > tol) return 0;
    }
    return 1;
}

static void part_a(const corpus *C, size_t nq_a) {
    vqe_impact *ix;
    vq_err e;
    if (vqe_impact_new(VQE_IMPACT_SPARSE, NULL, &ix, &e)) exit(1);
    double t0 = vq_now();
    for (size_t d = 0; d < C->n; d++)
        if (vqe_impact_add_sparse(ix, (uint32_t)d, C->terms + C->toff[d], C->wts + C->toff[d],
                                  C->tn[d], &e)) {
            fprintf(stderr, "add: %s\n", e.msg);
            exit(1);
        }
    double t_add = vq_now() - t0;
    tlists T;
    build_tlists(C, &T);
    vqe_impact_stats st;
    vqe_impact_stats_get(ix, &st);
    printf("## A. sparse top-%u, %zu documents, %llu postings (index built in %.2f s)\n", K, C->n,
           (unsigned long long)st.postings, t_add);
    double *acc = calloc(C->n, sizeof *acc);
    uint8_t *seen = calloc(C->n, 1);
    uint32_t *touched = malloc(C->n * 4);
    for (int kind = 0; kind < 2; kind++) {
        qset Q;
        make_queries(C, &Q, nq_a, kind, 777 + (uint64_t)kind);
        vqe_scored r1[K], r2[K], r3[K];
        size_t n1, n2, n3;
        double tm = 0, tt = 0, tb = 0;
        uint64_t scored = 0, cand = 0;
        int agree_t = 0, agree_b = 0;
        for (int rep = 0; rep < 2; rep++) { /* the first pass warms caches; the second counts */
            tm = tt = tb = 0, scored = cand = 0, agree_t = agree_b = 0;
            for (size_t q = 0; q < Q.nq; q++) {
                uint64_t sc;
                double a = vq_now();
                vqe_impact_search_sparse(ix, Q.t[q], Q.w[q], Q.n[q], K, NULL, r1, &n1, &sc, &e);
                double b = vq_now();
                n2 = taat(&T, acc, seen, touched, Q.t[q], Q.w[q], Q.n[q], r2);
                double c = vq_now();
                vqe_impact_search_brute(ix, NULL, 0, Q.t[q], Q.w[q], Q.n[q], K, NULL, r3, &n3, &e);
                double d = vq_now();
                tm += b - a, tt += c - b, tb += d - c;
                scored += sc;
                for (size_t i = 0; i < Q.n[q]; i++) cand += C->df[Q.t[q][i]];
                agree_t += same(r1, n1, r2, n2);
                agree_b += same(r1, n1, r3, n3);
            }
        }
        double nq = (double)Q.nq;
        printf("\n%s queries (%zu): postings per query %.0f, MaxScore fully scored %.1f docs\n",
               kind == 0 ? "2-term (idf weights)" : "10-term (weights 0.1-1)", Q.nq, cand / nq,
               scored / nq);
        printf("| method | mean us/query | speed-up of MaxScore | top-10 equal to MaxScore |\n");
        printf("|---|---|---|---|\n");
        printf("| MaxScore (engine) | %.1f | 1.00x | - |\n", tm / nq * 1e6);
        printf("| exhaustive term-at-a-time | %.1f | %.2fx | %d/%zu |\n", tt / nq * 1e6, tt / tm,
               agree_t, Q.nq);
        printf("| brute force (every document) | %.1f | %.2fx | %d/%zu |\n", tb / nq * 1e6, tb / tm,
               agree_b, Q.nq);
        free(Q.n), free(Q.t), free(Q.w);
    }
    free(acc), free(seen), free(touched);
    free(T.off), free(T.n), free(T.doc), free(T.val);
    vqe_impact_free(ix);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static void lat_row(const char *name, double *ms, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += ms[i];
    qsort(ms, n, sizeof *ms, cmp_d);
    printf("| %s | %.3f | %.3f | %.3f |\n", name, sum / (double)n, ms[n / 2],
           ms[(size_t)(0.99 * (double)(n - 1))]);
}

static void part_b(const corpus *C, const char *dir, size_t nq) {
    vq_err e;
    vqe_db *db;
    if (vqe_db_open(dir, NULL, &db, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "corpus");
    s.dim = 32;
    s.metric = VQ_METRIC_IP;
    s.durability = VQE_DURABLE_GROUP;
    vqe_schema_fields_from_json(&s,
                                "{\"fields\": {\"tenant\": \"int64\", \"body\": \"text\", "
                                "\"sp\": \"sparse\"}}",
                                &e);
    vqe_collection *c;
    if (vqe_collection_create(db, &s, &e) || vqe_collection_open(db, "corpus", &c, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    uint64_t rs = 5;
    float *vecs = malloc(C->n * 32 * 4);
    for (size_t i = 0; i < C->n * 32; i++) vecs[i] = (float)(tt_unif(&rs) - 0.5);
    enum { B = 1000 };
    vqe_record *r = calloc(B, sizeof *r);
    vqe_value *v = calloc(3 * B, sizeof *v);
    char **texts = calloc(B, sizeof *texts);
    double t0 = vq_now();
    for (size_t b = 0; b < C->n; b += B) {
        size_t m = C->n - b < B ? C->n - b : B;
        for (size_t i = 0; i < m; i++) {
            size_t d = b + i;
            texts[i] = doc_text(C, d);
            v[3 * i] = (vqe_value){.field = "tenant", .type = VQE_INT64, .i = (int64_t)(d % 10)};
            v[3 * i + 1] = (vqe_value){.field = "body", .type = VQE_TEXT, .s = texts[i]};
            v[3 * i + 2] = (vqe_value){.field = "sp",
                                       .type = VQE_SPARSE,
                                       .sparse_indices = C->terms + C->toff[d],
                                       .sparse_values = C->wts + C->toff[d],
                                       .n_sparse = C->tn[d]};
            r[i] = (vqe_record){
                .id = {.u = d}, .vector = vecs + d * 32, .values = v + 3 * i, .n_values = 3};
        }
        if (vqe_upsert(c, r, m, &e)) {
            fprintf(stderr, "upsert: %s: %s\n", e.field, e.msg);
            exit(1);
        }
        for (size_t i = 0; i < m; i++) free(texts[i]);
    }
    double t_ing = vq_now() - t0;
    vqe_db_close(db);
    t0 = vq_now();
    if (vqe_db_open(dir, NULL, &db, &e) || vqe_collection_open(db, "corpus", &c, &e)) {
        fprintf(stderr, "reopen: %s\n", e.msg);
        exit(1);
    }
    double t_open = vq_now() - t0;
    uint64_t bytes = 0;
    vqe_dir_bytes(dir, &bytes, &e);
    printf("\n## B. collection of %zu records (32-d ip, flat/f32; text + sparse field)\n", C->n);
    printf("ingest %.1f s (%.0f records/s, batches of %d, group commit); reopen with postings "
           "rebuild %.2f s; data directory %.0f MB\n",
           t_ing, (double)C->n / t_ing, B, t_open, (double)bytes / 1e6);

    /* FTS5 over the same texts, in memory */
    sqlite3 *fts = tt_fts_open();
    t0 = vq_now();
    for (size_t d = 0; d < C->n; d++) {
        char *t = doc_text(C, d);
        tt_fts_add(fts, (long)d, t);
        free(t);
    }
    sqlite3_exec(fts, "COMMIT;", NULL, NULL, NULL);
    printf("FTS5 index of the same texts built in %.1f s\n", vq_now() - t0);

    qset Q;
    make_queries(C, &Q, nq, 0, 4242);
    double *ms[8];
    for (int i = 0; i < 8; i++) ms[i] = malloc(nq * sizeof(double));
    int agree = 0;
    for (int rep = 0; rep < 2; rep++) {
        agree = 0;
        for (size_t q = 0; q < nq; q++) {
            char a[16], bw[16], text[40], match[48];
            tt_word(Q.t[q][0], a), tt_word(Q.t[q][1], bw);
            snprintf(text, sizeof text, "%s %s", a, bw);
            snprintf(match, sizeof match, "\"%s\" OR \"%s\"", a, bw);
            float qv[32];
            for (int j = 0; j < 32; j++) qv[j] = (float)(tt_unif(&rs) - 0.5);
            vqe_subquery sq[3];
            vqe_subquery_init(&sq[0], VQE_SUB_DENSE);
            sq[0].vector = qv;
            vqe_subquery_init(&sq[1], VQE_SUB_TEXT);
            sq[1].text = text, sq[1].text_len = strlen(text);
            vqe_subquery_init(&sq[2], VQE_SUB_SPARSE);
            sq[2].indices = Q.t[q], sq[2].values = Q.w[q], sq[2].nnz = Q.n[q];
            vqe_query_params p;
            vqe_query_params_default(&p);
            p.k = K;
            vqe_query_result res;
            struct {
                size_t first, n;
                int fusion;
            } runs[5] = {{1, 1, VQE_FUSION_NONE},
                         {0, 1, VQE_FUSION_NONE},
                         {2, 1, VQE_FUSION_NONE},
                         {0, 2, VQE_FUSION_RRF},
                         {0, 3, VQE_FUSION_RRF}};
            long fid[K];
            double fsc[K];
            for (int k = 0; k < 5; k++) {
                p.subs = sq + runs[k].first, p.n_subs = runs[k].n;
                p.fusion.kind = (vqe_fusion_kind)runs[k].fusion;
                double a0 = vq_now();
                if (vqe_query(c, &p, &res, &e)) {
                    fprintf(stderr, "query: %s: %s\n", e.field, e.msg);
                    exit(1);
                }
                ms[k][q] = (vq_now() - a0) * 1e3;
                if (k == 0) {
                    double f0 = vq_now();
                    int nf = tt_fts_top(fts, match, K, fid, fsc);
                    ms[5][q] = (vq_now() - f0) * 1e3;
                    int ok = nf == (int)res.n;
                    for (int i = 0; ok && i < nf; i++)
                        ok = fid[i] == (long)res.hits[i].id.u &&
                             fabs(fsc[i] - res.hits[i].score) <= 1e-6 * fabs(fsc[i]);
                    agree += ok;
                }
                vqe_query_result_free(&res);
            }
        }
    }
    printf("\nper-query latency, %zu queries (2-term text; the sparse query holds the same 2 "
           "terms with idf weights), k = %u, prefetch 100, second pass of two\n",
           nq, K);
    printf("| query | mean ms | p50 ms | p99 ms |\n|---|---|---|---|\n");
    lat_row("BM25 text alone (vqe_query)", ms[0], nq);
    lat_row("SQLite FTS5 bm25() top-10, same texts", ms[5], nq);
    lat_row("dense alone (exact scan, 32-d)", ms[1], nq);
    lat_row("sparse alone", ms[2], nq);
    lat_row("hybrid dense + text, RRF", ms[3], nq);
    lat_row("hybrid dense + text + sparse, RRF", ms[4], nq);
    printf("BM25 top-10 identical to FTS5 (ids, scores within 1e-6): %d/%zu\n", agree, nq);
    for (int i = 0; i < 8; i++) free(ms[i]);
    free(Q.n), free(Q.t), free(Q.w);
    sqlite3_close(fts);
    free(r), free(v), free(texts), free(vecs);
    vqe_db_close(db);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: hybrid_bench DIR [N] [NQ]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    size_t nq = argc > 3 ? strtoul(argv[3], NULL, 10) : 200;
    vq_init();
    corpus C;
    double t0 = vq_now();
    gen(&C, n);
    printf("# hybrid_bench: %zu documents, avg %.1f words, generated in %.1f s (1 thread)\n", n,
           C.avgdl, vq_now() - t0);
    part_a(&C, nq);
    fflush(stdout);
    if (argc > 4 && !strcmp(argv[4], "a")) return 0;
    part_b(&C, argv[1], nq);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", argv[1]);
    if (system(cmd)) return 1;
    return 0;
}
