/* Diversity selection (engine/diversity.c) against straightforward references written here:
 * plain greedy MMR and plain (not lazy) greedy facility location over a similarity matrix
 * computed with double loops. Integer-valued pools make every similarity exact, so the
 * selections (ties included) must be identical; float pools with cosine are compared where
 * the reference's decision at every step is not a near-tie. Facility location must reach
 * (1 - 1/e) of the exhaustive optimum on 20-candidate pools with 4 picks. Bad input is
 * rejected naming the field. On the SAP docs embeddings (skipped with a message when
 * /work/shared is absent) and on generated clustered data, MMR and FL lower the mean pairwise
 * similarity of the selection against plain top-10. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diversity.h"
#include "readers.h"

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

/* ---- reference ---- */
static double ref_sim(vqe_sim_kind kind, const float *a, const float *b, unsigned d) {
    double ip = 0, na = 0, nb = 0, l2 = 0;
    for (unsigned j = 0; j < d; j++) {
        ip += (double)a[j] * b[j];
        na += (double)a[j] * a[j];
        nb += (double)b[j] * b[j];
        l2 += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    }
    if (kind == VQE_SIM_IP) return ip;
    if (kind == VQE_SIM_NEGL2) return -l2;
    return na > 0 && nb > 0 ? ip / (sqrt(na) * sqrt(nb)) : 0.0;
}
static double *ref_matrix(vqe_sim_kind kind, const float *x, size_t n, unsigned d) {
    double *M = malloc(n * n * sizeof *M);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) M[i * n + j] = ref_sim(kind, x + i * d, x + j * d, d);
    return M;
}
/* Returns the smallest gap between the best and the runner-up over the steps. */
static double ref_mmr(const double *M, const double *rel, size_t n, size_t k, double lambda,
                      uint32_t *sel) {
    int *picked = calloc(n, sizeof *picked);
    double mingap = INFINITY;
    for (size_t t = 0; t < k && t < n; t++) {
        double best = -INFINITY, second = -INFINITY;
        size_t bi = n;
        for (size_t i = 0; i < n; i++) {
            if (picked[i]) continue;
            double m = 0;
            for (size_t u = 0; u < t; u++)
                if (u == 0 || M[sel[u] * n + i] > m) m = M[sel[u] * n + i];
            double v = lambda * rel[i] - (1.0 - lambda) * (t ? m : 0.0);
            if (bi == n || v > best) {
                second = best;
                best = v, bi = i;
            } else if (v > second) {
                second = v;
            }
        }
        if (second > -INFINITY && best - second < mingap) mingap = best - second;
        sel[t] = (uint32_t)bi;
        picked[bi] = 1;
    }
    free(picked);
    return mingap;
}
static double fl_value(const double *M, size_t n, const uint32_t *S, size_t k, double smin) {
    double f = 0;
    for (size_t p = 0; p < n; p++) {
        double m = 0;
        for (size_t t = 0; t < k; t++)
            if (M[S[t] * n + p] - smin > m) m = M[S[t] * n + p] - smin;
        f += m;
    }
    return f;
}
static double mat_min(const double *M, size_t n) {
    double m = INFINITY;
    for (size_t i = 0; i < n * n; i++)
        if (M[i] < m) m = M[i];
    return m;
}
static double ref_fl(const double *M, size_t n, size_t k, uint32_t *sel) {
    double smin = mat_min(M, n), mingap = INFINITY;
    double *cur = calloc(n, sizeof *cur);
    int *picked = calloc(n, sizeof *picked);
    for (size_t t = 0; t < k && t < n; t++) {
        double best = -1, second = -1;
        size_t bi = n;
        for (size_t c = 0; c < n; c++) {
            if (picked[c]) continue;
            double g = 0;
            for (size_t p = 0; p < n; p++) {
                double v = M[c * n + p] - smin;
                if (v > cur[p]) g += v - cur[p];
            }
            if (bi == n || g > best) {
                second = best;
                best = g, bi = c;
            } else if (g > second) {
                second = g;
            }
        }
        if (second >= 0 && best - second < mingap) mingap = best - second;
        sel[t] = (uint32_t)bi;
        picked[bi] = 1;
        for (size_t p = 0; p < n; p++)
            if (M[bi * n + p] - smin > cur[p]) cur[p] = M[bi * n + p] - smin;
    }
    free(cur);
    free(picked);
    return mingap;
}
static void ref_topk(const double *rel, size_t n, size_t k, uint32_t *sel) {
    int *picked = calloc(n, sizeof *picked);
    for (size_t t = 0; t < k && t < n; t++) {
        size_t bi = n;
        for (size_t i = 0; i < n; i++)
            if (!picked[i] && (bi == n || rel[i] > rel[bi])) bi = i;
        sel[t] = (uint32_t)bi;
        picked[bi] = 1;
    }
    free(picked);
}

static double ref_mean_pairwise(const double *M, size_t n, const uint32_t *S, size_t k) {
    double s = 0;
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++) s += M[S[a] * n + S[b]];
    return k > 1 ? s / (k * (k - 1) / 2.0) : 0;
}

static int run(vqe_div_method m, vqe_sim_kind sim, double lambda, unsigned k, size_t n, unsigned d,
               const float *x, const double *rel, uint32_t *sel, vqe_div_report *rep) {
    vqe_diversity_params p;
    vqe_diversity_params_default(&p);
    p.method = m, p.sim = sim, p.lambda = lambda, p.k = k;
    vq_err e;
    int rc = vqe_diversity_select(&p, n, d, x, rel, sel, rep, &e);
    cr_assert_eq(rc, VQ_OK, "%s: %s", e.field, e.msg);
    return rc;
}

/* Integer coordinates in [-2, 2] and integer relevances: every similarity is exact, ties
 * are frequent; the selections must be identical, tie rule included. */
Test(diversity, integer_pools_equal_reference) {
    g_rng = 11;
    const double lambdas[] = {0, 0.25, 0.5, 0.75, 1};
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + rnd() % 60;
        unsigned d = 1 + (unsigned)(rnd() % 8);
        unsigned k = 1 + (unsigned)(rnd() % (n + 3));
        float *x = malloc(n * d * sizeof *x);
        double *rel = malloc(n * sizeof *rel);
        for (size_t i = 0; i < n * d; i++) x[i] = (float)((int)(rnd() % 5) - 2);
        for (size_t i = 0; i < n; i++) rel[i] = (double)(rnd() % 4);
        vqe_sim_kind sim = trial % 2 ? VQE_SIM_IP : VQE_SIM_NEGL2;
        double *M = ref_matrix(sim, x, n, d);
        size_t kk = k < n ? k : n;
        uint32_t *got = malloc(kk * 4), *want = malloc(kk * 4);
        vqe_div_report rep;

        double lambda = lambdas[trial % 5];
        run(VQE_DIV_MMR, sim, lambda, k, n, d, x, rel, got, &rep);
        ref_mmr(M, rel, n, kk, lambda, want);
        cr_assert_eq(rep.n_sel, kk);
        for (size_t t = 0; t < kk; t++)
            cr_assert_eq(got[t], want[t], "trial %d mmr lambda %g pick %zu: %u vs %u", trial,
                         lambda, t, got[t], want[t]);
        cr_assert_float_eq(rep.mean_pairwise, ref_mean_pairwise(M, n, want, kk), 1e-9);

        run(VQE_DIV_FL, sim, 0, k, n, d, x, rel, got, &rep);
        ref_fl(M, n, kk, want);
        for (size_t t = 0; t < kk; t++)
            cr_assert_eq(got[t], want[t], "trial %d fl pick %zu: %u vs %u", trial, t, got[t],
                         want[t]);
        cr_assert_eq(rep.objective, fl_value(M, n, want, kk, mat_min(M, n)));

        run(VQE_DIV_TOPK, sim, 0, k, n, d, x, rel, got, &rep);
        ref_topk(rel, n, kk, want);
        for (size_t t = 0; t < kk; t++) cr_assert_eq(got[t], want[t], "trial %d topk", trial);

        free(x), free(rel), free(M), free(got), free(want);
    }
}

/* Float pools under cosine: equal to the reference wherever the reference's choice at each
 * step beats the runner-up by more than float rounding can move it. */
Test(diversity, float_pools_equal_reference) {
    g_rng = 12;
    int compared = 0, total = 0;
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 2 + rnd() % 120;
        unsigned d = 1 + (unsigned)(rnd() % 67);
        unsigned k = 1 + (unsigned)(rnd() % 12);
        float *x = malloc(n * d * sizeof *x);
        double *rel = malloc(n * sizeof *rel);
        for (size_t i = 0; i < n * d; i++) x[i] = (float)gauss();
        for (size_t i = 0; i < n; i++) rel[i] = unif();
        double *M = ref_matrix(VQE_SIM_COS, x, n, d);
        size_t kk = k < n ? k : n;
        uint32_t *got = malloc(kk * 4), *want = malloc(kk * 4);
        vqe_div_report rep;
        for (int m = 0; m < 2; m++) {
            total++;
            double gap;
            if (m == 0) {
                run(VQE_DIV_MMR, VQE_SIM_COS, 0.5, k, n, d, x, rel, got, &rep);
                gap = ref_mmr(M, rel, n, kk, 0.5, want);
            } else {
                run(VQE_DIV_FL, VQE_SIM_COS, 0, k, n, d, x, rel, got, &rep);
                gap = ref_fl(M, n, kk, want);
            }
            if (gap < 1e-4) continue;
            compared++;
            for (size_t t = 0; t < kk; t++)
                cr_assert_eq(got[t], want[t], "trial %d method %d pick %zu", trial, m, t);
            cr_assert_float_eq(rep.mean_pairwise, ref_mean_pairwise(M, n, want, kk), 1e-5);
        }
        free(x), free(rel), free(M), free(got), free(want);
    }
    cr_assert_geq(compared, total * 9 / 10, "only %d of %d trials without near-ties", compared,
                  total);
}

Test(diversity, lambda_one_is_topk) {
    g_rng = 13;
    size_t n = 100;
    unsigned d = 16;
    float *x = malloc(n * d * 4);
    double rel[100];
    for (size_t i = 0; i < n * d; i++) x[i] = (float)gauss();
    for (size_t i = 0; i < n; i++) rel[i] = unif();
    uint32_t a[10], b[10];
    vqe_div_report ra, rb;
    run(VQE_DIV_MMR, VQE_SIM_COS, 1.0, 10, n, d, x, rel, a, &ra);
    run(VQE_DIV_TOPK, VQE_SIM_COS, 0, 10, n, d, x, rel, b, &rb);
    for (int t = 0; t < 10; t++) cr_assert_eq(a[t], b[t]);
    for (int t = 1; t < 10; t++) cr_assert_geq(rel[a[t - 1]], rel[a[t]]);
    cr_assert_float_eq(ra.objective, rb.objective, 1e-12);
    cr_assert_float_eq(ra.coverage, rb.coverage, 1e-12);
    free(x);
}

/* Greedy FL >= (1 - 1/e) of the best 4-subset of 20 (all 4845 enumerated). */
Test(diversity, fl_reaches_1_minus_1_over_e) {
    g_rng = 14;
    double worst = INFINITY;
    for (int trial = 0; trial < 30; trial++) {
        size_t n = 20;
        unsigned d = 2 + trial % 10;
        float x[20 * 12];
        double rel[20];
        /* a few clusters of uneven size, so coverage choices matter */
        float cent[5][12];
        for (int c = 0; c < 5; c++)
            for (unsigned j = 0; j < d; j++) cent[c][j] = (float)gauss();
        for (size_t i = 0; i < n; i++) {
            int c = (int)(rnd() % 5);
            for (unsigned j = 0; j < d; j++) x[i * d + j] = cent[c][j] + 0.4f * (float)gauss();
            rel[i] = unif();
        }
        vqe_sim_kind sim = trial % 3 == 0   ? VQE_SIM_COS
                           : trial % 3 == 1 ? VQE_SIM_IP
                                            : VQE_SIM_NEGL2;
        uint32_t got[4];
        vqe_div_report rep;
        run(VQE_DIV_FL, sim, 0, 4, n, d, x, rel, got, &rep);
        double *M = ref_matrix(sim, x, n, d);
        double smin = mat_min(M, n), best = 0;
        uint32_t S[4];
        for (S[0] = 0; S[0] < n; S[0]++)
            for (S[1] = S[0] + 1; S[1] < n; S[1]++)
                for (S[2] = S[1] + 1; S[2] < n; S[2]++)
                    for (S[3] = S[2] + 1; S[3] < n; S[3]++) {
                        double f = fl_value(M, n, S, 4, smin);
                        if (f > best) best = f;
                    }
        double greedy = fl_value(M, n, got, 4, smin);
        cr_assert_float_eq(rep.objective, greedy, 1e-6 * (1 + fabs(greedy)));
        cr_assert_leq(greedy, best * (1 + 1e-9));
        cr_assert_geq(greedy, (1 - exp(-1)) * best, "trial %d: %g < (1-1/e) * %g", trial, greedy,
                      best);
        if (greedy / best < worst) worst = greedy / best;
        free(M);
    }
    cr_log_info("facility location: worst greedy/optimum over 30 pools = %.4f\n", worst);
}

Test(diversity, report_matches_select) {
    g_rng = 15;
    size_t n = 50;
    unsigned d = 24;
    float *x = malloc(n * d * 4);
    double rel[50];
    for (size_t i = 0; i < n * d; i++) x[i] = (float)gauss();
    for (size_t i = 0; i < n; i++) rel[i] = unif();
    for (int m = 0; m < 3; m++) {
        vqe_diversity_params p;
        vqe_diversity_params_default(&p);
        p.method = (vqe_div_method)m;
        p.k = 7;
        uint32_t sel[7];
        vqe_div_report a, b;
        vq_err e;
        cr_assert_eq(vqe_diversity_select(&p, n, d, x, rel, sel, &a, &e), VQ_OK, "%s", e.msg);
        cr_assert_eq(vqe_diversity_report(&p, n, d, x, rel, sel, 7, &b, &e), VQ_OK, "%s", e.msg);
        cr_assert_float_eq(a.objective, b.objective, 1e-9 * (1 + fabs(a.objective)), "method %d",
                           m);
        cr_assert_float_eq(a.mean_pairwise, b.mean_pairwise, 1e-12);
        cr_assert_float_eq(a.coverage, b.coverage, 1e-12);
        cr_assert_gt(a.sim_evals, 0);
        /* picks are distinct pool indices */
        for (int i = 0; i < 7; i++)
            for (int j = i + 1; j < 7; j++) cr_assert_neq(sel[i], sel[j]);
    }
    free(x);
}

Test(diversity, bad_input_rejected) {
    float x[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1};
    double rel[4] = {1, 0.5, 0.2, 0.1};
    uint32_t sel[4];
    vqe_diversity_params p;
    vqe_diversity_params_default(&p);
    p.k = 2;
    vq_err e;
    cr_assert_eq(vqe_diversity_select(&p, 4, 3, x, rel, sel, NULL, &e), VQ_OK);
    vqe_diversity_params q = p;
    q.method = VQE_DIV_MMR, q.lambda = 1.5;
    cr_assert_eq(vqe_diversity_select(&q, 4, 3, x, rel, sel, NULL, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "diversity.lambda");
    q.lambda = NAN;
    cr_assert_eq(vqe_diversity_select(&q, 4, 3, x, rel, sel, NULL, &e), VQ_EINVAL);
    q = p, q.k = 0;
    cr_assert_eq(vqe_diversity_select(&q, 4, 3, x, rel, sel, NULL, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "diversity.k");
    q = p, q.method = (vqe_div_method)7;
    cr_assert_eq(vqe_diversity_select(&q, 4, 3, x, rel, sel, NULL, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "diversity.method");
    q = p, q.sim = (vqe_sim_kind)9;
    cr_assert_eq(vqe_diversity_select(&q, 4, 3, x, rel, sel, NULL, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "diversity.sim");
    cr_assert_eq(vqe_diversity_select(&p, 4, 0, x, rel, sel, NULL, &e), VQ_EDIM);
    cr_assert_eq(vqe_diversity_select(&p, 4, 3, NULL, rel, sel, NULL, &e), VQ_EINVAL);
    cr_assert_eq(vqe_diversity_select(&p, VQE_DIV_POOL_MAX + 1, 3, x, rel, sel, NULL, &e),
                 VQ_ETOOBIG);
    q = p, q.method = VQE_DIV_FL;
    cr_assert_eq(vqe_diversity_select(&q, VQE_DIV_FL_POOL_MAX + 1, 3, x, rel, sel, NULL, &e),
                 VQ_ETOOBIG);
    x[4] = INFINITY;
    cr_assert_eq(vqe_diversity_select(&p, 4, 3, x, rel, sel, NULL, &e), VQ_ENOTFINITE);
    cr_assert_str_eq(e.field, "pool.vectors[1][1]");
    x[4] = 1;
    rel[2] = NAN;
    cr_assert_eq(vqe_diversity_select(&p, 4, 3, x, rel, sel, NULL, &e), VQ_ENOTFINITE);
    cr_assert_str_eq(e.field, "pool.relevance[2]");
    rel[2] = 0.2;
    uint32_t dup[2] = {1, 1};
    vqe_div_report r;
    cr_assert_eq(vqe_diversity_report(&p, 4, 3, x, rel, dup, 2, &r, &e), VQ_EINVAL);
    uint32_t oob[1] = {4};
    cr_assert_eq(vqe_diversity_report(&p, 4, 3, x, rel, oob, 1, &r, &e), VQ_EINVAL);
    /* empty pool: nothing selected */
    cr_assert_eq(vqe_diversity_select(&p, 0, 3, NULL, NULL, NULL, &r, &e), VQ_OK);
    cr_assert_eq(r.n_sel, 0);
    /* parse */
    q = p;
    cr_assert_eq(vqe_diversity_parse("mmr:lambda=0.3", &q, &e), VQ_OK);
    cr_assert_eq(q.method, VQE_DIV_MMR);
    cr_assert_float_eq(q.lambda, 0.3, 1e-15);
    cr_assert_eq(vqe_diversity_parse("fl", &q, &e), VQ_OK);
    cr_assert_eq(q.method, VQE_DIV_FL);
    cr_assert_eq(vqe_diversity_parse("mmr:lambda=2", &q, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "diversity.lambda");
    cr_assert_eq(vqe_diversity_parse("mmr:lambda=0.5x", &q, &e), VQ_EINVAL);
    cr_assert_eq(vqe_diversity_parse("mmr:alpha=1", &q, &e), VQ_EINVAL);
    cr_assert_eq(vqe_diversity_parse("greedy", &q, &e), VQ_EINVAL);
    cr_assert_str_eq(e.field, "diversity");
}

/* Mean pairwise similarity of top-10 vs MMR / FL over pools of the 100 nearest neighbours
 * (cosine) of nq queries; returns how many queries got a lower mean for both methods. */
static int lowered(const float *base, size_t nb, const float *qs, size_t nq, unsigned d,
                   double *m_top, double *m_mmr, double *m_fl) {
    const size_t P = 100;
    float *pool = malloc(P * d * 4);
    double *rel = malloc(P * sizeof *rel), *all = malloc(nb * sizeof *all);
    uint32_t *ord = malloc(nb * 4);
    int better = 0;
    *m_top = *m_mmr = *m_fl = 0;
    for (size_t q = 0; q < nq; q++) {
        for (size_t i = 0; i < nb; i++) all[i] = ref_sim(VQE_SIM_COS, qs + q * d, base + i * d, d);
        ref_topk(all, nb, P, ord);
        for (size_t i = 0; i < P; i++) {
            memcpy(pool + i * d, base + (size_t)ord[i] * d, d * 4);
            rel[i] = all[ord[i]];
        }
        uint32_t sel[10];
        vqe_div_report rt, rm, rf;
        run(VQE_DIV_TOPK, VQE_SIM_COS, 0, 10, P, d, pool, rel, sel, &rt);
        run(VQE_DIV_MMR, VQE_SIM_COS, 0.5, 10, P, d, pool, rel, sel, &rm);
        run(VQE_DIV_FL, VQE_SIM_COS, 0, 10, P, d, pool, rel, sel, &rf);
        *m_top += rt.mean_pairwise / nq, *m_mmr += rm.mean_pairwise / nq;
        *m_fl += rf.mean_pairwise / nq;
        better += rm.mean_pairwise < rt.mean_pairwise && rf.mean_pairwise < rt.mean_pairwise;
        /* FL optimizes coverage: it must cover the pool at least as well as top-10 */
        cr_assert_geq(rf.coverage, rt.coverage - 1e-9);
    }
    free(pool), free(rel), free(all), free(ord);
    return better;
}

Test(diversity, lowers_mean_pairwise_generated) {
    g_rng = 16;
    /* near-duplicate clusters: top-10 picks one cluster's copies, diversity spreads out */
    size_t nb = 2000, nq = 20;
    unsigned d = 32;
    float *base = malloc(nb * d * 4), *qs = malloc(nq * d * 4), cent[40][32];
    for (int c = 0; c < 40; c++)
        for (unsigned j = 0; j < d; j++) cent[c][j] = (float)gauss();
    for (size_t i = 0; i < nb; i++)
        for (unsigned j = 0; j < d; j++) base[i * d + j] = cent[i % 40][j] + 0.3f * (float)gauss();
    for (size_t i = 0; i < nq * d; i++) qs[i] = (float)gauss();
    double a, b, c;
    int better = lowered(base, nb, qs, nq, d, &a, &b, &c);
    cr_log_info("generated: mean pairwise top-10 %.4f, MMR %.4f, FL %.4f (%d/%zu lower)\n", a, b, c,
                better, nq);
    cr_assert_eq(better, (int)nq);
    free(base), free(qs);
}

Test(diversity, lowers_mean_pairwise_sapdocs) {
    const char *path = VQ_SHARED_DIR "/datasets/sapdocs/sapdocs_minilm_778x384.fvecs";
    FILE *f = fopen(path, "rb");
    if (!f) {
        cr_log_info("skip: %s absent (the generated-data test above still runs)\n", path);
        return;
    }
    fclose(f);
    vq_matrix m;
    vq_err e;
    cr_assert_eq(vq_read_vectors(path, 0, &m, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(m.d, 384);
    /* queries: 30 of the chunks themselves, spread over the corpus */
    size_t nq = 30;
    float *qs = malloc(nq * m.d * 4);
    for (size_t q = 0; q < nq; q++) memcpy(qs + q * m.d, m.data + (q * 25) * m.d, m.d * 4);
    double a, b, c;
    int better = lowered(m.data, m.n, qs, nq, (unsigned)m.d, &a, &b, &c);
    cr_log_info("sapdocs: mean pairwise top-10 %.4f, MMR %.4f, FL %.4f (%d/%zu lower)\n", a, b, c,
                better, nq);
    cr_assert_lt(b, a);
    cr_assert_lt(c, a);
    cr_assert_geq(better, (int)(nq * 9 / 10));
    free(qs);
    vq_matrix_free(&m);
}

Test(diversity, lowers_mean_pairwise_mnist) {
    const char *bp = VQ_SHARED_DIR "/datasets/mnist10k/mnist10k_base.fvecs";
    const char *qp = VQ_SHARED_DIR "/datasets/mnist10k/mnist10k_query.fvecs";
    FILE *f = fopen(bp, "rb");
    if (!f) {
        cr_log_info("skip: %s absent (the generated-data test above still runs)\n", bp);
        return;
    }
    fclose(f);
    vq_matrix b, q;
    vq_err e;
    cr_assert_eq(vq_read_vectors(bp, 0, &b, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vq_read_vectors(qp, 30, &q, &e), VQ_OK, "%s", e.msg);
    double a, m, c;
    int better = lowered(b.data, b.n, q.data, q.n, (unsigned)b.d, &a, &m, &c);
    cr_log_info("mnist: mean pairwise top-10 %.4f, MMR %.4f, FL %.4f (%d/%zu lower)\n", a, m, c,
                better, q.n);
    cr_assert_lt(m, a);
    cr_assert_lt(c, a);
    cr_assert_geq(better, (int)(q.n * 9 / 10));
    vq_matrix_free(&b);
    vq_matrix_free(&q);
}
