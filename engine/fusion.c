/* fusion.c — reciprocal rank fusion and weighted fusion of normalized scores (fusion.h).
 *
 * Each list is validated, then turned into (id, list, contribution) triples; the triples are
 * sorted by id so that equal ids are adjacent (which also finds an id given twice by one
 * list), summed per id, and the sums sorted best first. O(T log T) for T = total list
 * length; no hashing, so the result does not depend on allocation or insertion order.
 * Sums run in list order for each id, so a reference that adds the same terms in the same
 * order reproduces the scores bit for bit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

void vqe_fusion_params_default(vqe_fusion_params *p) {
    p->kind = VQE_FUSION_RRF;
    p->rrf_k = VQE_RRF_K_DEFAULT;
    p->norm = VQE_NORM_MINMAX;
}

int vqe_fusion_parse(const char *s, vqe_fusion_params *p, vq_err *err) {
    vqe_fusion_params_default(p);
    VQ_FAIL_IF(!s, VQ_EINVAL, err, "fusion", "missing fusion method");
    if (!strcmp(s, "none")) {
        p->kind = VQE_FUSION_NONE;
        return VQ_OK;
    }
    if (!strcmp(s, "rrf")) return VQ_OK;
    if (!strncmp(s, "rrf:k=", 6)) {
        char *end;
        double k = strtod(s + 6, &end);
        VQ_FAIL_IF(end == s + 6 || *end || !(k >= VQE_RRF_K_MIN && k <= VQE_RRF_K_MAX), VQ_EINVAL,
                   err, "fusion", "rrf:k=K needs K in [%g, %g], got '%s'", VQE_RRF_K_MIN,
                   VQE_RRF_K_MAX, s + 6);
        p->rrf_k = k;
        return VQ_OK;
    }
    if (!strcmp(s, "weighted") || !strcmp(s, "weighted:norm=minmax")) {
        p->kind = VQE_FUSION_WEIGHTED;
        return VQ_OK;
    }
    if (!strcmp(s, "weighted:norm=zscore")) {
        p->kind = VQE_FUSION_WEIGHTED;
        p->norm = VQE_NORM_ZSCORE;
        return VQ_OK;
    }
    return vq_err_set(err, VQ_EINVAL, "fusion",
                      "unknown fusion '%.64s': use rrf, rrf:k=K, weighted[:norm=minmax|zscore] "
                      "or none",
                      s);
}

typedef struct contrib {
    uint32_t id;
    uint32_t list;
    double v;
} contrib;

static int cmp_contrib(const void *a, const void *b) {
    const contrib *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return (x->list > y->list) - (x->list < y->list);
}

static int cmp_fused(const void *a, const void *b) {
    const vqe_fused *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static int check_list(const vqe_rank_list *l, size_t i, vq_err *err) {
    char f[32];
    snprintf(f, sizeof f, "lists[%zu]", i);
    VQ_FAIL_IF(l->n && (!l->ids || !l->scores), VQ_EINVAL, err, f, "NULL ids or scores");
    VQ_FAIL_IF(!isfinite(l->weight) || l->weight < 0 || l->weight > VQE_FUSION_WEIGHT_MAX,
               VQ_EINVAL, err, f, "weight %g not in [0, %g]", l->weight, VQE_FUSION_WEIGHT_MAX);
    for (size_t j = 0; j < l->n; j++) {
        VQ_FAIL_IF(!isfinite(l->scores[j]), VQ_ENOTFINITE, err, f, "score %zu is not finite", j);
        VQ_FAIL_IF(j && l->scores[j] > l->scores[j - 1], VQ_EINVAL, err, f,
                   "scores must be best first (non-increasing): score %zu > score %zu", j, j - 1);
    }
    return VQ_OK;
}

int vqe_fuse(const vqe_fusion_params *p, const vqe_rank_list *lists, size_t n_lists,
             vqe_fused **out, size_t *n_out, vq_err *err) {
    VQ_FAIL_IF(!p || !out || !n_out || (n_lists && !lists), VQ_EINVAL, err, "fusion",
               "NULL argument");
    VQ_FAIL_IF(p->kind != VQE_FUSION_RRF && p->kind != VQE_FUSION_WEIGHTED &&
                   p->kind != VQE_FUSION_NONE,
               VQ_EINVAL, err, "fusion", "unknown fusion kind %d", (int)p->kind);
    VQ_FAIL_IF(p->kind == VQE_FUSION_RRF &&
                   !(p->rrf_k >= VQE_RRF_K_MIN && p->rrf_k <= VQE_RRF_K_MAX),
               VQ_EINVAL, err, "fusion.rrf_k", "rrf_k %g not in [%g, %g]", p->rrf_k, VQE_RRF_K_MIN,
               VQE_RRF_K_MAX);
    VQ_FAIL_IF(p->kind == VQE_FUSION_WEIGHTED && p->norm != VQE_NORM_MINMAX &&
                   p->norm != VQE_NORM_ZSCORE,
               VQ_EINVAL, err, "fusion.norm", "unknown normalization %d", (int)p->norm);
    VQ_FAIL_IF(p->kind == VQE_FUSION_NONE && n_lists > 1, VQ_EINVAL, err, "fusion",
               "fusion 'none' takes one list, got %zu", n_lists);
    size_t total = 0;
    for (size_t i = 0; i < n_lists; i++) {
        VQ_TRY(check_list(&lists[i], i, err));
        total += lists[i].n;
    }
    contrib *t = vq_malloc((total ? total : 1) * sizeof *t);
    VQ_FAIL_IF(!t, VQ_ENOMEM, err, "fusion", "out of memory for %zu candidates", total);
    size_t w = 0;
    for (size_t i = 0; i < n_lists; i++) {
        const vqe_rank_list *l = &lists[i];
        double a = 0, b = 1; /* norm(s) = (s - a) * b */
        if (p->kind == VQE_FUSION_WEIGHTED && l->n) {
            if (p->norm == VQE_NORM_MINMAX) {
                double mx = l->scores[0], mn = l->scores[l->n - 1];
                a = mn;
                b = mx > mn ? 1.0 / (mx - mn) : 0;
            } else {
                double mean = 0, var = 0;
                for (size_t j = 0; j < l->n; j++) mean += l->scores[j];
                mean /= (double)l->n;
                for (size_t j = 0; j < l->n; j++)
                    var += (l->scores[j] - mean) * (l->scores[j] - mean);
                var /= (double)l->n;
                a = mean;
                b = var > 0 ? 1.0 / sqrt(var) : 0;
            }
        }
        for (size_t j = 0; j < l->n; j++) {
            double v;
            if (p->kind == VQE_FUSION_RRF)
                v = l->weight / (p->rrf_k + (double)(j + 1));
            else if (p->kind == VQE_FUSION_NONE)
                v = l->scores[j];
            else if (p->norm == VQE_NORM_MINMAX && b == 0)
                v = l->weight; /* all scores equal: each is the list's best (norm 1) */
            else
                v = l->weight * ((l->scores[j] - a) * b);
            t[w++] = (contrib){l->ids[j], (uint32_t)i, v};
        }
    }
    qsort(t, total, sizeof *t, cmp_contrib);
    vqe_fused *f = vq_malloc((total ? total : 1) * sizeof *f);
    if (!f) {
        vq_free(t);
        return vq_err_set(err, VQ_ENOMEM, "fusion", "out of memory for %zu candidates", total);
    }
    size_t n = 0;
    for (size_t i = 0; i < total; i++) {
        if (i && t[i].id == t[i - 1].id) {
            if (t[i].list == t[i - 1].list) {
                char fl[32];
                snprintf(fl, sizeof fl, "lists[%u]", t[i].list);
                uint32_t id = t[i].id;
                vq_free(t), vq_free(f);
                return vq_err_set(err, VQ_EINVAL, fl, "id %u appears twice", id);
            }
            f[n - 1].score += t[i].v;
        } else {
            f[n++] = (vqe_fused){t[i].id, t[i].v};
        }
    }
    vq_free(t);
    qsort(f, n, sizeof *f, cmp_fused);
    *out = f;
    *n_out = n;
    return VQ_OK;
}
