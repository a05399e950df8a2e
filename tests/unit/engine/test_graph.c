/* Graph-augmented retrieval (engine/graph.c): personalized PageRank against a dense
 * power-iteration reference; typed links written durably, listed, removed with their records,
 * kept across an upsert of the same id and across reopen; bad input rejected naming the
 * field; with next-chunk links a query's hits bring their linked neighbours (1 and 2 hops);
 * PPR expansion over a collection equals the dense reference on the same graph; the kNN
 * overlay equals brute force (flat collections) and follows the HNSW base layer. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBTEST_PREFIX "vqe_graph"
#include "dbtest.h"
#include "engine.h"
#include "graph.h"
#include "index.h"
#include "query.h"

static uint64_t g_rng;
static uint64_t rnd(void) {
    g_rng += 0x9E3779B97F4A7C15ull;
    uint64_t z = g_rng;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
static double gauss(void) {
    double u = unif() + 1e-300, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static vqe_collection *mk(const char *name, unsigned dim, vq_metric m, const char *spec) {
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.dim = dim;
    s.metric = m;
    if (spec) snprintf(s.index_spec, sizeof s.index_spec, "%s", spec);
    vq_err e;
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

/* numeric ids 0..n-1 with the given vectors */
static void put(vqe_collection *c, size_t n, unsigned d, const float *x) {
    vqe_record *r = calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++) r[i] = (vqe_record){.id = {.u = i}, .vector = x + i * d};
    vq_err e;
    cr_assert_eq(vqe_upsert(c, r, n, &e), VQ_OK, "%s", e.msg);
    free(r);
}
static vqe_link L(uint64_t a, uint64_t b, vqe_link_type t, float w) {
    return (vqe_link){.from = {.u = a}, .to = {.u = b}, .type = t, .weight = w};
}

/* ---- dense reference PageRank ---- */
static void dense_ppr(size_t n, const double *A /* n*n weights u->v */, const double *pers,
                      double restart, double *x) {
    double ps = 0, *p = malloc(n * sizeof *p), *nx = malloc(n * sizeof *nx);
    for (size_t i = 0; i < n; i++) ps += pers[i];
    for (size_t i = 0; i < n; i++) p[i] = pers[i] / ps, x[i] = p[i];
    double *P = calloc(n * n, sizeof *P);
    for (size_t u = 0; u < n; u++) {
        double W = 0;
        for (size_t v = 0; v < n; v++) W += A[u * n + v];
        for (size_t v = 0; v < n; v++) P[u * n + v] = W > 0 ? A[u * n + v] / W : p[v];
    }
    for (int it = 0; it < 3000; it++) {
        for (size_t v = 0; v < n; v++) {
            double s = 0;
            for (size_t u = 0; u < n; u++) s += x[u] * P[u * n + v];
            nx[v] = restart * p[v] + (1 - restart) * s;
        }
        memcpy(x, nx, n * sizeof *x);
    }
    free(p), free(nx), free(P);
}

Test(graph, ppr_matches_dense_power_iteration) {
    g_rng = 1;
    for (int trial = 0; trial < 40; trial++) {
        size_t n = 2 + rnd() % 40;
        double *A = calloc(n * n, sizeof *A);
        size_t *rp = calloc(n + 1, sizeof *rp);
        uint32_t *col = malloc(n * n * sizeof *col);
        double *w = malloc(n * n * sizeof *w), *pers = calloc(n, sizeof *pers);
        double dens = 0.05 + 0.4 * unif();
        size_t ne = 0;
        for (size_t u = 0; u < n; u++) {
            for (size_t v = 0; v < n; v++)
                if (unif() < dens) {
                    double wt = 0.1 + unif();
                    col[ne] = (uint32_t)v, w[ne++] = wt;
                    A[u * n + v] += wt;
                }
            rp[u + 1] = ne;
        }
        pers[rnd() % n] = 1;
        pers[rnd() % n] += 0.5;
        double restart = 0.05 + 0.5 * unif();
        double *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
        unsigned its;
        vq_err e;
        cr_assert_eq(vqe_ppr(n, rp, col, w, pers, restart, 1e-13, 10000, got, &its, &e), VQ_OK,
                     "%s", e.msg);
        dense_ppr(n, A, pers, restart, want);
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            cr_assert_float_eq(got[i], want[i], 1e-9, "trial %d node %zu: %g vs %g", trial, i,
                               got[i], want[i]);
            sum += got[i];
        }
        cr_assert_float_eq(sum, 1.0, 1e-9);
        free(A), free(rp), free(col), free(w), free(pers), free(got), free(want);
    }
    /* bad input */
    size_t rp[3] = {0, 1, 1};
    uint32_t col[1] = {1};
    double pers[2] = {1, 0}, out[2];
    vq_err e;
    cr_assert_eq(vqe_ppr(2, rp, col, NULL, pers, 1.0, 1e-9, 10, out, NULL, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "graph.restart");
    double zero[2] = {0, 0};
    cr_assert_eq(vqe_ppr(2, rp, col, NULL, zero, 0.2, 1e-9, 10, out, NULL, &e), VQ_EINVAL);
    col[0] = 5;
    cr_assert_eq(vqe_ppr(2, rp, col, NULL, pers, 0.2, 1e-9, 10, out, NULL, &e), VQ_EINVAL);
}

TestSuite(graph, .init = setup, .fini = teardown);

Test(graph, links_durable_listed_deleted_with_records) {
    vqe_collection *c = mk("g", 4, VQ_METRIC_L2, NULL);
    float x[10 * 4];
    for (int i = 0; i < 40; i++) x[i] = (float)(i % 7);
    put(c, 10, 4, x);
    vqe_record sr = {.id = {.is_str = 1, .s = "doc-A"}, .vector = x};
    vq_err e;
    cr_assert_eq(vqe_upsert(c, &sr, 1, &e), VQ_OK, "%s", e.msg);
    vqe_link ls[] = {L(0, 1, VQE_LINK_NEXT, 0),
                     L(1, 2, VQE_LINK_NEXT, 0),
                     L(2, 3, VQE_LINK_NEXT, 0),
                     L(5, 1, VQE_LINK_CITE, 2.5f),
                     {.from = {.is_str = 1, .s = "doc-A"}, .to = {.u = 1}, .type = VQE_LINK_CHUNK}};
    cr_assert_eq(vqe_link_add(c, ls, 5, &e), VQ_OK, "%s", e.msg);
    /* re-adding re-weights, not duplicates */
    cr_assert_eq(vqe_link_add(c, &ls[3], 1, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vqe_link_count(c), 5);

    vqe_links l;
    vqe_id one = {.u = 1};
    cr_assert_eq(vqe_link_list(c, &one, VQE_LINKS_BOTH, &l, &e), VQ_OK);
    cr_assert_eq(l.n, 4); /* out: next->2; in: next<-0, cite<-5, chunk<-doc-A */
    cr_assert_eq(l.links[0].type, VQE_LINK_NEXT);
    cr_assert_eq(l.links[0].from.u, 1);
    cr_assert_eq(l.links[0].to.u, 2);
    int saw_doc = 0, saw_cite = 0;
    for (size_t i = 1; i < l.n; i++) {
        cr_assert_eq(l.links[i].to.u, 1);
        if (l.links[i].type == VQE_LINK_CHUNK) {
            cr_assert(l.links[i].from.is_str);
            cr_assert_str_eq(l.links[i].from.s, "doc-A");
            saw_doc = 1;
        }
        if (l.links[i].type == VQE_LINK_CITE) {
            cr_assert_eq(l.links[i].from.u, 5);
            cr_assert_float_eq(l.links[i].weight, 2.5f, 0);
            saw_cite = 1;
        }
    }
    cr_assert(saw_doc && saw_cite);
    vqe_links_free(&l);

    /* an upsert that replaces record 1 keeps its links */
    vqe_record r1 = {.id = {.u = 1}, .vector = x + 8};
    cr_assert_eq(vqe_upsert(c, &r1, 1, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vqe_link_count(c), 5);

    reopen();
    c = op("g");
    cr_assert_eq(vqe_link_count(c), 5);
    cr_assert_eq(vqe_link_list(c, &one, VQE_LINKS_IN, &l, &e), VQ_OK);
    cr_assert_eq(l.n, 3);
    vqe_links_free(&l);

    /* deleting record 1 removes its 4 links, durably */
    size_t del;
    cr_assert_eq(vqe_delete(c, &one, 1, &del, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(del, 1);
    cr_assert_eq(vqe_link_count(c), 1);
    vqe_id two = {.u = 2};
    cr_assert_eq(vqe_link_list(c, &two, VQE_LINKS_BOTH, &l, &e), VQ_OK);
    cr_assert_eq(l.n, 1); /* 2 -> 3 */
    cr_assert_eq(l.links[0].to.u, 3);
    vqe_links_free(&l);
    reopen();
    c = op("g");
    cr_assert_eq(vqe_link_count(c), 1);
    cr_assert_eq(vqe_link_list(c, &one, VQE_LINKS_BOTH, &l, &e), VQ_OK);
    cr_assert_eq(l.n, 0);
    vqe_links_free(&l);

    /* remove */
    vqe_link r = L(2, 3, VQE_LINK_NEXT, 0);
    size_t removed;
    cr_assert_eq(vqe_link_remove(c, &r, 1, &removed, &e), VQ_OK);
    cr_assert_eq(removed, 1);
    cr_assert_eq(vqe_link_remove(c, &r, 1, &removed, &e), VQ_OK);
    cr_assert_eq(removed, 0);
    reopen();
    c = op("g");
    cr_assert_eq(vqe_link_count(c), 0);
    /* dropping and re-creating the name starts without links */
    cr_assert_eq(vqe_link_add(c, &r, 1, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vqe_collection_drop(g_db, "g", &e), VQ_OK, "%s", e.msg);
    c = mk("g", 4, VQ_METRIC_L2, NULL);
    put(c, 10, 4, x);
    cr_assert_eq(vqe_link_count(c), 0);
}

Test(graph, links_bad_input) {
    vqe_collection *c = mk("b", 2, VQ_METRIC_L2, NULL);
    float x[6] = {0, 1, 2, 3, 4, 5};
    put(c, 3, 2, x);
    vq_err e;
    vqe_link l = L(0, 9, VQE_LINK_NEXT, 0);
    cr_assert_eq(vqe_link_add(c, &l, 1, &e), VQ_ENOTFOUND);
    cr_assert_str_eq(e.field, "links[0].to");
    vqe_link two[2] = {L(0, 1, VQE_LINK_NEXT, 0), L(7, 1, VQE_LINK_NEXT, 0)};
    cr_assert_eq(vqe_link_add(c, two, 2, &e), VQ_ENOTFOUND);
    cr_assert_str_eq(e.field, "links[1].from");
    cr_assert_eq(vqe_link_count(c), 0); /* nothing of a rejected call is stored */
    l = L(1, 1, VQE_LINK_NEXT, 0);
    cr_assert_eq(vqe_link_add(c, &l, 1, &e), VQ_EINVAL);
    l = L(0, 1, VQE_LINK_NEXT, NAN);
    cr_assert_eq(vqe_link_add(c, &l, 1, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "links[0].weight");
    l = L(0, 1, VQE_LINK_NEXT, -1);
    cr_assert_eq(vqe_link_add(c, &l, 1, &e), VQ_EINVAL);
    l = L(0, 1, (vqe_link_type)9, 0);
    cr_assert_eq(vqe_link_add(c, &l, 1, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "links[0].type");
    l = (vqe_link){.from = {.is_str = 1, .s = ""}, .to = {.u = 1}, .type = VQE_LINK_NEXT};
    cr_assert_eq(vqe_link_add(c, &l, 1, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "links[0].from");
    vqe_link_type t;
    cr_assert_eq(vqe_link_type_parse("next", &t, &e), VQ_OK);
    cr_assert_eq(t, VQE_LINK_NEXT);
    cr_assert_eq(vqe_link_type_parse("sibling", &t, &e), VQ_EINVAL);
    /* expansion parameters */
    vqe_graph_params p;
    vqe_graph_params_default(&p);
    p.mode = VQE_EXPAND_HOPS;
    vqe_graph_result r;
    uint32_t seed = 0;
    double sc = 1;
    p.hops = 0;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &seed, &sc, 1, &r, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "graph.hops");
    p.hops = 1, p.alpha = 2;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &seed, &sc, 1, &r, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "graph.alpha");
    p.alpha = 0.5, p.restart = 1;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &seed, &sc, 1, &r, &e), VQ_EINVAL);
    p.restart = 0.15, p.type_mask = 1;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &seed, &sc, 1, &r, &e), VQ_EINVAL);
    p.type_mask = 0, p.use_knn = 1, p.knn = 0;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &seed, &sc, 1, &r, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "graph.knn");
    p.knn = 2;
    float q[2] = {NAN, 0};
    cr_assert_eq(vqe_graph_expand(c, &p, q, &seed, &sc, 1, &r, &e), VQ_ENOTFINITE);
    sc = INFINITY;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &seed, &sc, 1, &r, &e), VQ_ENOTFINITE);
}

/* 20 documents x 5 chunks with next-chunk links; random vectors, so a chunk's neighbours
 * are not near it in vector space: only the links can bring them. */
#define ND 20
#define NCH 5
#define DIM 16
static vqe_collection *chunks(const char *spec, float *x) {
    vqe_collection *c = mk("chunks", DIM, VQ_METRIC_COS, spec);
    for (int i = 0; i < ND * NCH * DIM; i++) x[i] = (float)gauss();
    put(c, ND * NCH, DIM, x);
    vqe_link *ls = calloc(ND * (NCH - 1), sizeof *ls);
    size_t n = 0;
    for (int d = 0; d < ND; d++)
        for (int k = 0; k + 1 < NCH; k++)
            ls[n++] = L((uint64_t)(d * NCH + k), (uint64_t)(d * NCH + k + 1), VQE_LINK_NEXT, 0);
    vq_err e;
    cr_assert_eq(vqe_link_add(c, ls, n, &e), VQ_OK, "%s", e.msg);
    free(ls);
    return c;
}

static int has(const vqe_graph_result *r, uint64_t u, vqe_ghit *out) {
    for (size_t i = 0; i < r->n; i++)
        if (r->hits[i].id.u == u) {
            if (out) *out = r->hits[i];
            return 1;
        }
    return 0;
}

Test(graph, next_chunk_links_bring_neighbours) {
    g_rng = 5;
    static float x[ND * NCH * DIM];
    vqe_collection *c = chunks(NULL, x);
    vq_err e;
    for (int trial = 0; trial < 10; trial++) {
        int target = (int)(rnd() % (ND * NCH));
        float q[DIM];
        for (int j = 0; j < DIM; j++) q[j] = x[target * DIM + j] + 0.01f * (float)gauss();
        vqe_search_params sp;
        vqe_search_params_default(&sp);
        sp.k = 3;
        vqe_hit hits[3];
        size_t nh;
        cr_assert_eq(vqe_search(c, q, &sp, hits, &nh, NULL, &e), VQ_OK, "%s", e.msg);
        cr_assert_eq(nh, 3);
        cr_assert_eq(hits[0].id.u, (uint64_t)target);
        uint32_t seeds[3];
        double sc[3];
        for (int i = 0; i < 3; i++) seeds[i] = hits[i].internal, sc[i] = -hits[i].score;
        for (unsigned hops = 1; hops <= 2; hops++) {
            vqe_graph_params p;
            vqe_graph_params_default(&p);
            p.mode = VQE_EXPAND_HOPS;
            p.hops = hops;
            vqe_graph_result r;
            cr_assert_eq(vqe_graph_expand(c, &p, q, seeds, sc, 3, &r, &e), VQ_OK, "%s", e.msg);
            cr_assert_eq(r.n_seeds, 3);
            /* every chunk within `hops` of a hit in its document is returned, nothing else */
            size_t expect = 0;
            int in[ND * NCH] = {0};
            for (int i = 0; i < 3; i++) {
                int h = (int)hits[i].id.u, doc = h / NCH;
                for (int k = 0; k < NCH; k++)
                    if (abs(doc * NCH + k - h) <= (int)hops) in[doc * NCH + k] = 1;
            }
            for (int i = 0; i < ND * NCH; i++) {
                vqe_ghit g;
                expect += (size_t)in[i];
                cr_assert_eq(has(&r, (uint64_t)i, &g), in[i], "trial %d hops %u id %d", trial, hops,
                             i);
                if (in[i] && g.hops > 0) cr_assert_leq(g.hops, hops);
            }
            cr_assert_eq(r.n, expect);
            /* the target's direct neighbours came through it at hop 1 */
            vqe_ghit g;
            if (target % NCH + 1 < NCH && has(&r, (uint64_t)target + 1, &g) && g.hops == 1) {
                cr_assert_leq(g.score, 1.0);
                cr_assert_gt(g.prox, 0);
            }
            cr_assert(has(&r, (uint64_t)target, &g));
            cr_assert_eq(g.hops, 0);
            cr_assert_eq(r.hits[0].id.u, (uint64_t)target); /* best vector match and seed */
            for (size_t i = 1; i < r.n; i++) cr_assert_geq(r.hits[i - 1].score, r.hits[i].score);
            vqe_graph_result_free(&r);
        }
        /* links of other types only: nothing beyond the seeds */
        vqe_graph_params p;
        vqe_graph_params_default(&p);
        p.mode = VQE_EXPAND_HOPS;
        p.type_mask = VQE_LINK_BIT(VQE_LINK_CITE);
        vqe_graph_result r;
        cr_assert_eq(vqe_graph_expand(c, &p, q, seeds, sc, 3, &r, &e), VQ_OK, "%s", e.msg);
        cr_assert_eq(r.n, 3);
        vqe_graph_result_free(&r);
    }
}

/* PPR expansion around two seeds of one document's 5-chunk chain equals the dense
 * reference on that chain (radius 4 covers the component). */
Test(graph, ppr_expansion_matches_dense) {
    g_rng = 6;
    static float x[ND * NCH * DIM];
    vqe_collection *c = chunks(NULL, x);
    vq_err e;
    /* a cite link with weight 3 inside document 2 makes the weights matter */
    vqe_link extra = L(10, 13, VQE_LINK_CITE, 3);
    cr_assert_eq(vqe_link_add(c, &extra, 1, &e), VQ_OK, "%s", e.msg);
    /* internal ids equal user ids here (one upsert of ids 0..99 in order) */
    uint32_t seeds[2] = {11, 14};
    double sc[2] = {2.0, 1.0}; /* weights r = 1 and 0.5 */
    vqe_graph_params p;
    vqe_graph_params_default(&p);
    p.mode = VQE_EXPAND_PPR;
    p.hops = 4;
    p.restart = 0.2;
    vqe_graph_result r;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, seeds, sc, 2, &r, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(r.n, 5);
    double A[25] = {0}, pers[5] = {0, 1, 0, 0, 0.5}, want[5];
    for (int k = 0; k + 1 < 5; k++) A[k * 5 + k + 1] = A[(k + 1) * 5 + k] = 1;
    A[0 * 5 + 3] += 3, A[3 * 5 + 0] += 3;
    dense_ppr(5, A, pers, 0.2, want);
    double mx = 0;
    for (int i = 0; i < 5; i++)
        if (want[i] > mx) mx = want[i];
    for (int i = 0; i < 5; i++) {
        vqe_ghit g;
        cr_assert(has(&r, (uint64_t)(10 + i), &g));
        cr_assert_float_eq(g.prox, want[i] / mx, 1e-8, "chunk %d: %g vs %g", i, g.prox,
                           want[i] / mx);
        cr_assert_float_eq(g.score, g.prox, 0); /* no query vector: score = proximity */
    }
    vqe_graph_result_free(&r);
}

/* Flat collection: the overlay is the exact kNN graph. */
Test(graph, knn_overlay_exact) {
    g_rng = 7;
    static float x[300 * 8];
    vqe_collection *c = mk("knn", 8, VQ_METRIC_L2, NULL);
    for (int i = 0; i < 300 * 8; i++) x[i] = (float)gauss();
    put(c, 300, 8, x);
    vq_err e;
    for (int t = 0; t < 5; t++) {
        uint32_t s = (uint32_t)(rnd() % 300);
        double sc = 1;
        vqe_graph_params p;
        vqe_graph_params_default(&p);
        p.mode = VQE_EXPAND_HOPS, p.use_links = 0, p.use_knn = 1, p.knn = 5;
        vqe_graph_result r;
        cr_assert_eq(vqe_graph_expand(c, &p, NULL, &s, &sc, 1, &r, &e), VQ_OK, "%s", e.msg);
        cr_assert_eq(r.n, 6);
        /* brute force 5 nearest */
        double d[300];
        int used[300] = {0};
        for (int i = 0; i < 300; i++) {
            d[i] = 0;
            for (int j = 0; j < 8; j++) d[i] += pow(x[i * 8 + j] - x[s * 8 + j], 2);
        }
        used[s] = 1;
        for (int k = 0; k < 5; k++) {
            int b = -1;
            for (int i = 0; i < 300; i++)
                if (!used[i] && (b < 0 || d[i] < d[b])) b = i;
            used[b] = 1;
            cr_assert(has(&r, (uint64_t)b, NULL), "neighbour %d of %u missing", b, s);
        }
        vqe_graph_result_free(&r);
    }
    /* after a delete the overlay is recomputed without the deleted record */
    uint32_t s = 0;
    double sc = 1;
    vqe_graph_params p;
    vqe_graph_params_default(&p);
    p.mode = VQE_EXPAND_HOPS, p.use_links = 0, p.use_knn = 1, p.knn = 1;
    vqe_graph_result r;
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &s, &sc, 1, &r, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(r.n, 2);
    vqe_id gone = r.hits[0].internal == 0 ? r.hits[1].id : r.hits[0].id;
    vqe_graph_result_free(&r);
    cr_assert_eq(vqe_delete(c, &gone, 1, NULL, &e), VQ_OK);
    cr_assert_eq(vqe_graph_expand(c, &p, NULL, &s, &sc, 1, &r, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(r.n, 2);
    cr_assert(!has(&r, gone.u, NULL));
    vqe_graph_result_free(&r);
}

/* HNSW collection: the overlay is the base layer; neighbours are live and near. */
Test(graph, knn_overlay_hnsw) {
    g_rng = 8;
    static float x[2000 * 16];
    for (int i = 0; i < 2000 * 16; i++) x[i] = (float)gauss();
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "h");
    s.dim = 16;
    snprintf(s.index_spec, sizeof s.index_spec, "hnsw:m=8,efc=60/f32");
    vq_err e;
    cr_assert_eq(vqe_collection_create(g_db, &s, &e), VQ_OK, "%s", e.msg);
    vqe_collection *c = op("h");
    put(c, 2000, 16, x);
    /* index level: neighbours of an id are live ids; flat indexes have none */
    vqi_index *idx;
    cr_assert_eq(vqi_index_new("hnsw:m=8,efc=60/f32", 16, VQ_METRIC_L2, &idx, &e), VQ_OK);
    cr_assert_eq(vqi_index_add(idx, 2000, x, NULL, &e), VQ_OK);
    uint64_t nb[64];
    size_t n;
    cr_assert_eq(vqi_index_neighbors(idx, 7, nb, 64, &n, &e), VQ_OK, "%s: %s", e.field, e.msg);
    cr_assert(n >= 1 && n <= 16);
    uint64_t del = nb[0];
    cr_assert_eq(vqi_index_remove(idx, 1, &del, NULL, &e), VQ_OK);
    size_t n2;
    cr_assert_eq(vqi_index_neighbors(idx, 7, nb, 64, &n2, &e), VQ_OK);
    cr_assert_eq(n2, n - 1);
    for (size_t i = 0; i < n2; i++) cr_assert_neq(nb[i], del);
    cr_assert_eq(vqi_index_neighbors(idx, del, nb, 64, &n2, &e), VQ_ENOTFOUND);
    vqi_index_free(idx);
    cr_assert_eq(vqi_index_new("flat/f32", 16, VQ_METRIC_L2, &idx, &e), VQ_OK);
    cr_assert_eq(vqi_index_add(idx, 10, x, NULL, &e), VQ_OK);
    cr_assert_eq(vqi_index_neighbors(idx, 1, nb, 64, &n2, &e), VQ_EUNSUPPORTED);
    vqi_index_free(idx);

    /* engine level: 1 hop over the overlay from a seed; the reached records are nearer to
     * the seed on average than random records */
    double near = 0, all = 0;
    int cnt = 0;
    for (int t = 0; t < 10; t++) {
        uint32_t sd = (uint32_t)(rnd() % 2000);
        double sc = 1;
        vqe_graph_params p;
        vqe_graph_params_default(&p);
        p.mode = VQE_EXPAND_HOPS, p.use_links = 0, p.use_knn = 1, p.knn = 8;
        vqe_graph_result r;
        cr_assert_eq(vqe_graph_expand(c, &p, x + sd * 16, &sd, &sc, 1, &r, &e), VQ_OK, "%s", e.msg);
        cr_assert_geq(r.n, 2);
        cr_assert_leq(r.n, 9);
        for (size_t i = 0; i < r.n; i++) {
            if (r.hits[i].hops == 0) continue;
            double dd = 0, dr = 0;
            uint32_t o = r.hits[i].internal, rr = (uint32_t)(rnd() % 2000);
            for (int j = 0; j < 16; j++) {
                dd += pow(x[o * 16 + j] - x[sd * 16 + j], 2);
                dr += pow(x[rr * 16 + j] - x[sd * 16 + j], 2);
            }
            near += dd, all += dr, cnt++;
        }
        vqe_graph_result_free(&r);
    }
    cr_assert_gt(cnt, 0);
    cr_assert_lt(near, 0.7 * all, "overlay neighbours are not nearer than random ones");
}

/* Through vqe_query: graph expansion after fusion returns the hits' linked chunks, and MMR
 * over the expanded pool picks k distinct records. */
Test(graph, query_pipeline_hops_and_diversity) {
    g_rng = 9;
    static float x[ND * NCH * DIM];
    vqe_collection *c = chunks(NULL, x);
    int target = 37; /* document 7, chunk 2 */
    vqe_subquery sq;
    vqe_subquery_init(&sq, VQE_SUB_DENSE);
    sq.vector = x + target * DIM;
    vqe_query_params p;
    vqe_query_params_default(&p);
    p.subs = &sq, p.n_subs = 1, p.k = 1;
    p.fusion.kind = VQE_FUSION_NONE;
    p.graph.mode = VQE_EXPAND_HOPS;
    p.graph.hops = 2;
    vqe_query_result r;
    vq_err e;
    /* k = 1: the hit; the pool then holds chunks 35..39 of its document */
    cr_assert_eq(vqe_query(c, &p, &r, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.hits[0].id.u, (uint64_t)target);
    cr_assert_eq(r.expanded, 4);
    vqe_query_result_free(&r);
    /* the same seed with k = 5 and MMR: the 5 picks are the hit plus its linked chunks only
     * when seeds are 1; with k = 5 the top 5 vector hits seed, so check that every linked
     * neighbour of the best hit is in the pool the diversity stage saw */
    p.k = 5;
    p.diversity.method = VQE_DIV_MMR;
    cr_assert_eq(vqe_query(c, &p, &r, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(r.n, 5);
    cr_assert_eq(r.div.n_sel, 5);
    cr_assert_eq(r.hits[0].id.u, (uint64_t)target);
    for (size_t i = 0; i < r.n; i++)
        for (size_t j = i + 1; j < r.n; j++) cr_assert_neq(r.hits[i].internal, r.hits[j].internal);
    cr_assert_geq(r.expanded, 4);
    vqe_query_result_free(&r);
}
