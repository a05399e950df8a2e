/* cmd_graph_bench.c — `vqdb graph-bench`: what the diversity stage adds to an ANN search, in
 * one process on one thread, with the same ef: (a) a pass of k=10 searches; (b) a pass of k=POOL
 * searches, each pool's full vectors read back from the index, then MMR (10 picks, lambda 0.5)
 * and, separately, facility location over the same pool. Reports the mean time of each part
 * and the ratios against (a), plus the mean pairwise cosine of plain top-10 vs the picks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diversity.h"
#include "index.h"
#include "readers.h"

int vq_cmd_graph_bench(int argc, char **argv) {
    const char *ipath = NULL, *qpath = NULL;
    unsigned nq = 1000, pool = 100, ef = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--index"))
            ipath = argv[i + 1];
        else if (!strcmp(argv[i], "--queries"))
            qpath = argv[i + 1];
        else if (!strcmp(argv[i], "-n"))
            nq = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pool"))
            pool = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ef"))
            ef = (unsigned)atoi(argv[i + 1]);
    }
    if (!ipath || !qpath || !nq || pool < 10 || pool > VQE_DIV_FL_POOL_MAX || ef < pool) {
        fprintf(stderr, "usage: vqdb graph-bench --index FILE.vqi --queries FILE [-n N (1000)] "
                        "[--pool P (100, 10..2048)] [--ef EF (100, >= P)]\n");
        return 2;
    }
    vq_err e = {0};
    vqi_index *idx;
    vq_matrix q;
    int rc;
    if ((rc = vqi_index_load(ipath, &idx, &e))) return vq_cli_fail("graph-bench", rc, &e);
    if ((rc = vq_read_vectors(qpath, nq, &q, &e))) return vq_cli_fail("graph-bench", rc, &e);
    nq = (unsigned)q.n;
    unsigned d = (unsigned)q.d;
    vqi_searcher *s;
    if ((rc = vqi_searcher_new(idx, &s, &e))) return vq_cli_fail("graph-bench", rc, &e);
    uint64_t *ids = malloc(pool * 8);
    float *dist = malloc(pool * 4), *x = malloc((size_t)pool * d * 4);
    double *rel = malloc(pool * sizeof *rel);
    uint32_t sel[10];
    vqi_search_params sp = vqi_search_params_default();
    sp.ef = ef;
    /* warm-up (STACK.md: the first loop after a load runs slower) */
    for (unsigned i = 0; i < nq && i < 200; i++)
        vqi_searcher_search(s, 1, q.data + (size_t)i * d, 10, &sp, ids, dist, &e);
    double t_k10 = 0, t_pool = 0, t_fetch = 0, t_mmr = 0, t_fl = 0;
    double mp_top = 0, mp_mmr = 0, mp_fl = 0;
    /* k=10 and the pool pass run as two separate passes over the queries, so neither finds
     * the other's graph nodes in cache */
    for (unsigned i = 0; i < nq; i++) {
        double t0 = vq_now();
        vqi_searcher_search(s, 1, q.data + (size_t)i * d, 10, &sp, ids, dist, &e);
        t_k10 += vq_now() - t0;
    }
    for (unsigned i = 0; i < nq; i++) {
        const float *qv = q.data + (size_t)i * d;
        double t1 = vq_now();
        vqi_searcher_search(s, 1, qv, pool, &sp, ids, dist, &e);
        double t2 = vq_now();
        for (unsigned j = 0; j < pool; j++) {
            vqi_index_get_vector(idx, ids[j], x + (size_t)j * d, &e);
            rel[j] = -dist[j];
        }
        double t3 = vq_now();
        vqe_diversity_params p;
        vqe_diversity_params_default(&p);
        p.method = VQE_DIV_MMR;
        vqe_div_report r;
        if ((rc = vqe_diversity_select(&p, pool, d, x, rel, sel, &r, &e)))
            return vq_cli_fail("graph-bench", rc, &e);
        double t4 = vq_now();
        mp_mmr += r.mean_pairwise / nq;
        p.method = VQE_DIV_FL;
        vqe_diversity_select(&p, pool, d, x, rel, sel, &r, &e);
        double t5 = vq_now();
        mp_fl += r.mean_pairwise / nq;
        p.method = VQE_DIV_TOPK;
        vqe_diversity_select(&p, pool, d, x, rel, sel, &r, &e);
        mp_top += r.mean_pairwise / nq;
        t_pool += t2 - t1, t_fetch += t3 - t2, t_mmr += t4 - t3, t_fl += t5 - t4;
    }
    double u = 1e6 / nq;
    printf(
        "{\"queries\": %u, \"ef\": %u, \"pool\": %u, \"us_search_k10\": %.1f, "
        "\"us_search_pool\": %.1f, \"us_fetch_vectors\": %.1f, \"us_mmr\": %.1f, \"us_fl\": %.1f, "
        "\"mmr_over_k10\": %.3f, \"mmr_end_to_end_over_k10\": %.3f, \"fl_over_k10\": %.3f, "
        "\"mean_pairwise_top10\": %.4f, \"mean_pairwise_mmr\": %.4f, \"mean_pairwise_fl\": %.4f}\n",
        nq, ef, pool, t_k10 * u, t_pool * u, t_fetch * u, t_mmr * u, t_fl * u,
        (t_fetch + t_mmr) / t_k10, (t_pool + t_fetch + t_mmr) / t_k10, (t_fetch + t_fl) / t_k10,
        mp_top, mp_mmr, mp_fl);
    free(ids), free(dist), free(x), free(rel);
    vqi_searcher_free(s);
    vqi_index_free(idx);
    vq_matrix_free(&q);
    return 0;
}
