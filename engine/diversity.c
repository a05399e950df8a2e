/* diversity.c — MMR and greedy facility-location selection over a candidate pool (the
 * definitions, tie rule and report are in diversity.h).
 *
 * Similarities come from quant/'s f32 kernel table (vq__k_f32 of the active ISA): one
 * candidate's vector against a contiguous block of pool rows (ip_ny or l2sq_ny), so the
 * cost is k * n evaluations for MMR (one row per pick) and n^2 / 2 for facility location
 * (upper triangle, mirrored, so the matrix is exactly symmetric). Cosine divides the inner
 * product by the two norms in double (norms from the same kernel table), which keeps
 * zero vectors at similarity 0 instead of NaN.
 *
 * Invariants: sel[] never holds an index twice; ties go to the smaller pool index
 * (diversity.h). Memory: MMR keeps n_sel rows of n doubles; FL the n x n matrix, which is
 * why its pool is capped at VQE_DIV_FL_POOL_MAX.
 */
#include "diversity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32.h"
#include "quant.h"

void vqe_diversity_params_default(vqe_diversity_params *p) {
    memset(p, 0, sizeof *p);
    p->method = VQE_DIV_TOPK;
    p->lambda = VQE_MMR_LAMBDA_DEFAULT;
    p->sim = VQE_SIM_COS;
    p->k = 10;
}

const char *vqe_div_method_name(vqe_div_method m) {
    switch (m) {
    case VQE_DIV_TOPK:
        return "topk";
    case VQE_DIV_MMR:
        return "mmr";
    case VQE_DIV_FL:
        return "fl";
    }
    return "?";
}

int vqe_diversity_parse(const char *s, vqe_diversity_params *p, vq_err *err) {
    VQ_FAIL_IF(!s || !p, VQ_EINVAL, err, "diversity", "NULL argument");
    if (!strcmp(s, "topk") || !strcmp(s, "none")) {
        p->method = VQE_DIV_TOPK;
        return VQ_OK;
    }
    if (!strcmp(s, "fl") || !strcmp(s, "facility")) {
        p->method = VQE_DIV_FL;
        return VQ_OK;
    }
    if (!strncmp(s, "mmr", 3) && (s[3] == 0 || s[3] == ':')) {
        double lambda = VQE_MMR_LAMBDA_DEFAULT;
        if (s[3] == ':') {
            const char *v = s + 4;
            VQ_FAIL_IF(strncmp(v, "lambda=", 7), VQ_EINVAL, err, "diversity",
                       "unknown MMR option in '%s' (expected mmr:lambda=X)", s);
            char *end = NULL;
            lambda = strtod(v + 7, &end);
            VQ_FAIL_IF(end == v + 7 || *end || !isfinite(lambda) || lambda < VQE_MMR_LAMBDA_MIN ||
                           lambda > VQE_MMR_LAMBDA_MAX,
                       VQ_EINVAL, err, "diversity.lambda",
                       "lambda '%s' is not a number in [%g, %g]", v + 7, VQE_MMR_LAMBDA_MIN,
                       VQE_MMR_LAMBDA_MAX);
        }
        p->method = VQE_DIV_MMR;
        p->lambda = lambda;
        return VQ_OK;
    }
    return vq_err_set(err, VQ_EINVAL, "diversity",
                      "unknown diversity '%s' (topk, mmr, mmr:lambda=X or fl)", s);
}

static int validate(const vqe_diversity_params *p, size_t n, unsigned d, const float *vecs,
                    const double *rel, const void *sel, vq_err *err) {
    VQ_FAIL_IF(!p, VQ_EINVAL, err, "diversity", "NULL params");
    VQ_FAIL_IF(p->method != VQE_DIV_TOPK && p->method != VQE_DIV_MMR && p->method != VQE_DIV_FL,
               VQ_EINVAL, err, "diversity.method", "unknown method %d", (int)p->method);
    VQ_FAIL_IF(p->sim != VQE_SIM_COS && p->sim != VQE_SIM_IP && p->sim != VQE_SIM_NEGL2, VQ_EINVAL,
               err, "diversity.sim", "unknown similarity %d", (int)p->sim);
    VQ_FAIL_IF(p->method == VQE_DIV_MMR &&
                   (!isfinite(p->lambda) || p->lambda < VQE_MMR_LAMBDA_MIN ||
                    p->lambda > VQE_MMR_LAMBDA_MAX),
               VQ_EINVAL, err, "diversity.lambda", "lambda %g not in [%g, %g]", p->lambda,
               VQE_MMR_LAMBDA_MIN, VQE_MMR_LAMBDA_MAX);
    VQ_FAIL_IF(p->k < 1 || p->k > VQE_DIV_K_MAX, VQ_EINVAL, err, "diversity.k", "k %u not in 1..%u",
               p->k, VQE_DIV_K_MAX);
    VQ_FAIL_IF(n > VQE_DIV_POOL_MAX, VQ_ETOOBIG, err, "pool", "%zu candidates > %u", n,
               VQE_DIV_POOL_MAX);
    VQ_FAIL_IF(p->method == VQE_DIV_FL && n > VQE_DIV_FL_POOL_MAX, VQ_ETOOBIG, err, "pool",
               "%zu candidates > %u for facility location (its n x n similarity matrix)", n,
               VQE_DIV_FL_POOL_MAX);
    if (!n) return VQ_OK;
    VQ_FAIL_IF(!vecs || !rel || !sel, VQ_EINVAL, err, "pool", "NULL vectors, relevance or output");
    VQ_FAIL_IF(d < 1 || d > VQ_DIM_MAX, VQ_EDIM, err, "pool.d", "dimension %u not in 1..%u", d,
               VQ_DIM_MAX);
    VQ_TRY(vq_check_finite(vecs, n, d, "pool.vectors", err));
    for (size_t i = 0; i < n; i++)
        if (!isfinite(rel[i])) {
            char f[48];
            snprintf(f, sizeof f, "pool.relevance[%zu]", i);
            return vq_err_set(err, VQ_ENOTFINITE, f, "relevance is NaN or infinite");
        }
    return VQ_OK;
}

/* ---- similarities ---- */
typedef struct simctx {
    const vq_k_f32 *kf;
    vqe_sim_kind kind;
    size_t n;
    unsigned d;
    const float *x;
    double *norm; /* COS: ||x_i|| */
    float *tmp;   /* n */
    double evals;
} simctx;

static int sim_init(simctx *s, vqe_sim_kind kind, size_t n, unsigned d, const float *x) {
    memset(s, 0, sizeof *s);
    s->kf = vq__k_f32(vq_isa_active());
    s->kind = kind, s->n = n, s->d = d, s->x = x;
    s->tmp = vq_malloc((n ? n : 1) * sizeof *s->tmp);
    if (!s->tmp) return VQ_ENOMEM;
    if (kind == VQE_SIM_COS) {
        s->norm = vq_malloc((n ? n : 1) * sizeof *s->norm);
        if (!s->norm) return VQ_ENOMEM;
        for (size_t i = 0; i < n; i++)
            s->norm[i] = sqrt((double)s->kf->ip(x + i * d, x + i * d, d));
    }
    return VQ_OK;
}
static void sim_free(simctx *s) {
    vq_free(s->norm);
    vq_free(s->tmp);
}

/* out[j] = sim(x_i, x_{from + j}) for j < cnt. */
static void sim_row(simctx *s, size_t i, size_t from, size_t cnt, double *out) {
    const float *q = s->x + i * s->d, *rows = s->x + from * s->d;
    s->evals += (double)cnt;
    if (s->kind == VQE_SIM_NEGL2) {
        s->kf->l2sq_ny(q, rows, cnt, s->d, s->tmp);
        for (size_t j = 0; j < cnt; j++) out[j] = -(double)s->tmp[j];
        return;
    }
    s->kf->ip_ny(q, rows, cnt, s->d, s->tmp);
    if (s->kind == VQE_SIM_IP) {
        for (size_t j = 0; j < cnt; j++) out[j] = (double)s->tmp[j];
        return;
    }
    double ni = s->norm[i];
    for (size_t j = 0; j < cnt; j++) {
        double nj = s->norm[from + j];
        out[j] = ni > 0 && nj > 0 ? (double)s->tmp[j] / (ni * nj) : 0.0;
    }
}

/* mean_pairwise and coverage from rows[t * n + p] = sim(sel[t], p). */
static void finish_report(const double *rows, const uint32_t *sel, size_t n_sel, size_t n,
                          vqe_div_report *rep) {
    double pair = 0;
    for (size_t a = 0; a < n_sel; a++)
        for (size_t b = a + 1; b < n_sel; b++) pair += rows[a * n + sel[b]];
    rep->mean_pairwise = n_sel > 1 ? pair / ((double)n_sel * (double)(n_sel - 1) / 2.0) : 0.0;
    double cov = 0;
    for (size_t p = 0; p < n && n_sel; p++) {
        double m = rows[p];
        for (size_t t = 1; t < n_sel; t++)
            if (rows[t * n + p] > m) m = rows[t * n + p];
        cov += m;
    }
    rep->coverage = n ? cov / (double)n : 0.0;
    rep->n_sel = n_sel;
}

/* ---- methods ---- */
static int cmp_rel_desc(const void *a, const void *b, void *ctx) {
    const double *rel = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (rel[x] > rel[y]) return -1;
    if (rel[x] < rel[y]) return 1;
    return x < y ? -1 : x > y;
}

/* Insertion sort: pools are at most VQE_DIV_POOL_MAX and only the k best are needed, so a
 * partial selection keeps this O(n k) without a qsort_r dependency. */
static void topk(const double *rel, size_t n, size_t k, uint32_t *sel) {
    size_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m == k && cmp_rel_desc(&i, &sel[k - 1], (void *)rel) > 0) continue;
        size_t j = m < k ? m++ : k - 1;
        while (j > 0 && cmp_rel_desc(&i, &sel[j - 1], (void *)rel) < 0) {
            sel[j] = sel[j - 1];
            j--;
        }
        sel[j] = i;
    }
}

static double mmr_score(double lambda, double rel, double maxsim, int first) {
    return lambda * rel - (1.0 - lambda) * (first ? 0.0 : maxsim);
}

static void mmr(simctx *s, double lambda, const double *rel, size_t kk, uint32_t *sel, double *rows,
                uint8_t *picked, double *maxsim, double *obj) {
    size_t n = s->n;
    *obj = 0;
    for (size_t t = 0; t < kk; t++) {
        size_t best = n;
        double bs = 0;
        for (size_t i = 0; i < n; i++) {
            if (picked[i]) continue;
            double v = mmr_score(lambda, rel[i], maxsim[i], t == 0);
            if (best == n || v > bs) best = i, bs = v;
        }
        sel[t] = (uint32_t)best;
        picked[best] = 1;
        *obj += bs;
        double *row = rows + t * n;
        sim_row(s, best, 0, n, row);
        for (size_t i = 0; i < n; i++)
            if (t == 0 || row[i] > maxsim[i]) maxsim[i] = row[i];
    }
}

/* Lazy-greedy heap entry: a gain bound, computed in round `stamp`. */
typedef struct gent {
    double g;
    uint32_t i, stamp;
} gent;
static int gbetter(const gent *a, const gent *b) {
    return a->g > b->g || (a->g == b->g && a->i < b->i);
}
static void gsift_down(gent *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && gbetter(&h[l], &h[m])) m = l;
        if (r < n && gbetter(&h[r], &h[m])) m = r;
        if (m == i) return;
        gent t = h[i];
        h[i] = h[m], h[m] = t;
        i = m;
    }
}

static double fl_gain(const double *M, size_t n, size_t c, double smin, const double *cur) {
    const double *row = M + c * n;
    double g = 0;
    for (size_t p = 0; p < n; p++) {
        double v = row[p] - smin;
        if (v > cur[p]) g += v - cur[p];
    }
    return g;
}

static int fl(simctx *s, size_t kk, uint32_t *sel, double *rows, double *obj) {
    size_t n = s->n;
    double *M = vq_malloc(n * n * sizeof *M);
    double *cur = vq_calloc(n, sizeof *cur);
    gent *h = vq_malloc(n * sizeof *h);
    if (!M || !cur || !h) {
        vq_free(M), vq_free(cur), vq_free(h);
        return VQ_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        sim_row(s, i, i, n - i, M + i * n + i);
        for (size_t j = i + 1; j < n; j++) M[j * n + i] = M[i * n + j];
    }
    double smin = M[0];
    for (size_t i = 0; i < n * n; i++)
        if (M[i] < smin) smin = M[i];
    for (size_t i = 0; i < n; i++) h[i] = (gent){fl_gain(M, n, i, smin, cur), (uint32_t)i, 0};
    for (size_t i = n / 2; i-- > 0;) gsift_down(h, n, i);
    size_t hn = n;
    for (uint32_t t = 0; t < kk; t++) {
        for (;;) {
            if (h[0].stamp == t) break;
            h[0].g = fl_gain(M, n, h[0].i, smin, cur);
            h[0].stamp = t;
            gsift_down(h, hn, 0);
        }
        uint32_t c = h[0].i;
        sel[t] = c;
        h[0] = h[--hn];
        gsift_down(h, hn, 0);
        const double *row = M + (size_t)c * n;
        for (size_t p = 0; p < n; p++) {
            double v = row[p] - smin;
            if (v > cur[p]) cur[p] = v;
        }
        memcpy(rows + (size_t)t * n, row, n * sizeof *row);
    }
    double f = 0;
    for (size_t p = 0; p < n; p++) f += cur[p];
    *obj = f;
    vq_free(M), vq_free(cur), vq_free(h);
    return VQ_OK;
}

int vqe_diversity_select(const vqe_diversity_params *p, size_t n, unsigned d, const float *vecs,
                         const double *rel, uint32_t *sel, vqe_div_report *rep, vq_err *err) {
    VQ_TRY(validate(p, n, d, vecs, rel, sel, err));
    double t0 = vq_now();
    vqe_div_report lr;
    if (!rep) rep = &lr;
    memset(rep, 0, sizeof *rep);
    if (!n) return VQ_OK;
    size_t kk = p->k < n ? p->k : n;
    simctx s;
    double *rows = vq_malloc(kk * n * sizeof *rows);
    double *maxsim = vq_calloc(n, sizeof *maxsim);
    uint8_t *picked = vq_calloc(n, 1);
    int rc = sim_init(&s, p->sim, n, d, vecs);
    if (!rc && (!rows || !maxsim || !picked)) rc = VQ_ENOMEM;
    double obj = 0;
    if (!rc) {
        if (p->method == VQE_DIV_TOPK) {
            topk(rel, n, kk, sel);
            for (size_t t = 0; t < kk; t++) {
                obj += rel[sel[t]];
                sim_row(&s, sel[t], 0, n, rows + t * n);
            }
        } else if (p->method == VQE_DIV_MMR) {
            mmr(&s, p->lambda, rel, kk, sel, rows, picked, maxsim, &obj);
        } else {
            rc = fl(&s, kk, sel, rows, &obj);
        }
    }
    if (!rc) {
        finish_report(rows, sel, kk, n, rep);
        rep->objective = obj;
        rep->sim_evals = s.evals;
        rep->ms = (vq_now() - t0) * 1e3;
    }
    sim_free(&s);
    vq_free(rows), vq_free(maxsim), vq_free(picked);
    if (rc) return vq_err_set(err, rc, "diversity", "out of memory (pool of %zu)", n);
    return VQ_OK;
}

int vqe_diversity_report(const vqe_diversity_params *p, size_t n, unsigned d, const float *vecs,
                         const double *rel, const uint32_t *sel, size_t n_sel, vqe_div_report *rep,
                         vq_err *err) {
    VQ_TRY(validate(p, n, d, vecs, rel, sel, err));
    VQ_FAIL_IF(!rep, VQ_EINVAL, err, "report", "NULL report");
    VQ_FAIL_IF(n_sel > n, VQ_EINVAL, err, "sel", "%zu picks from a pool of %zu", n_sel, n);
    memset(rep, 0, sizeof *rep);
    if (!n) return VQ_OK;
    uint8_t *seen = vq_calloc(n, 1);
    VQ_FAIL_IF(!seen, VQ_ENOMEM, err, "report", "out of memory");
    for (size_t t = 0; t < n_sel; t++) {
        if (sel[t] >= n || seen[sel[t]]) {
            vq_free(seen);
            char f[32];
            snprintf(f, sizeof f, "sel[%zu]", t);
            return vq_err_set(err, VQ_EINVAL, f, "index %u out of range or repeated", sel[t]);
        }
        seen[sel[t]] = 1;
    }
    vq_free(seen);
    double t0 = vq_now();
    simctx s;
    double *rows = vq_malloc((n_sel ? n_sel : 1) * n * sizeof *rows);
    double *other = vq_malloc(n * sizeof *other);
    int rc = sim_init(&s, p->sim, n, d, vecs);
    if (!rc && (!rows || !other)) rc = VQ_ENOMEM;
    if (!rc) {
        double obj = 0;
        for (size_t t = 0; t < n_sel; t++) sim_row(&s, sel[t], 0, n, rows + t * n);
        if (p->method == VQE_DIV_TOPK) {
            for (size_t t = 0; t < n_sel; t++) obj += rel[sel[t]];
        } else if (p->method == VQE_DIV_MMR) {
            for (size_t t = 0; t < n_sel; t++) {
                double m = 0;
                for (size_t u = 0; u < t; u++)
                    if (u == 0 || rows[u * n + sel[t]] > m) m = rows[u * n + sel[t]];
                obj += mmr_score(p->lambda, rel[sel[t]], m, t == 0);
            }
        } else {
            double smin = INFINITY;
            for (size_t i = 0; i < n; i++) {
                sim_row(&s, i, i, n - i, other);
                for (size_t j = 0; j < n - i; j++)
                    if (other[j] < smin) smin = other[j];
            }
            for (size_t q = 0; q < n && n_sel; q++) {
                double m = rows[q];
                for (size_t t = 1; t < n_sel; t++)
                    if (rows[t * n + q] > m) m = rows[t * n + q];
                obj += m - smin;
            }
        }
        finish_report(rows, sel, n_sel, n, rep);
        rep->objective = obj;
        rep->sim_evals = s.evals;
        rep->ms = (vq_now() - t0) * 1e3;
    }
    sim_free(&s);
    vq_free(rows), vq_free(other);
    if (rc) return vq_err_set(err, rc, "report", "out of memory (pool of %zu)", n);
    return VQ_OK;
}
