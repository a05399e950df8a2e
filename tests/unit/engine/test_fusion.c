/* Fusion (engine/fusion.h): RRF and weighted min-max / z-score fusion against hand-computed
 * values, against a naive reference on random lists, the NONE pass-through, parsing, and
 * rejection of bad lists and parameters naming the field. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fusion.h"

static vqe_fused *fuse(const vqe_fusion_params *p, const vqe_rank_list *l, size_t nl, size_t *n) {
    vqe_fused *f = NULL;
    vq_err e;
    cr_assert_eq(vqe_fuse(p, l, nl, &f, n, &e), VQ_OK, "%s: %s", e.field, e.msg);
    return f;
}

static const uint32_t A_ID[] = {1, 2, 3}, B_ID[] = {3, 1, 4};
static const double A_SC[] = {10, 6, 2}, B_SC[] = {0.9, 0.6, 0.1};

Test(fusion, rrf_hand_computed) {
    vqe_fusion_params p;
    vqe_fusion_params_default(&p);
    cr_assert_eq(p.kind, VQE_FUSION_RRF);
    cr_assert_eq(p.rrf_k, 60.0);
    vqe_rank_list l[2] = {{A_ID, A_SC, 3, 1}, {B_ID, B_SC, 3, 1}};
    size_t n;
    vqe_fused *f = fuse(&p, l, 2, &n);
    cr_assert_eq(n, 4);
    /* 1: ranks 1 and 2; 3: ranks 3 and 1; 2: rank 2; 4: rank 3 */
    uint32_t want_id[] = {1, 3, 2, 4};
    double want[] = {1.0 / 61 + 1.0 / 62, 1.0 / 63 + 1.0 / 61, 1.0 / 62, 1.0 / 63};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(f[i].id, want_id[i], "rank %d", i);
        cr_expect_eq(f[i].score, want[i], "rank %d: %.17g vs %.17g", i, f[i].score, want[i]);
    }
    cr_expect(fabs(f[0].score - 0.0325225) < 1e-6, "%.9f", f[0].score);
    vq_free(f);
    /* weights and another k: 2/(k+r) for list A, 0.5/(k+r) for B, k = 1 */
    p.rrf_k = 1;
    l[0].weight = 2, l[1].weight = 0.5;
    f = fuse(&p, l, 2, &n);
    cr_assert_eq(n, 4);
    /* 1: 2/2 + 0.5/3 = 1.1667; 2: 2/3; 3: 2/4 + 0.5/2 = 0.75; 4: 0.5/4 */
    uint32_t want2[] = {1, 3, 2, 4};
    double ws[] = {2.0 / 2 + 0.5 / 3, 2.0 / 4 + 0.5 / 2, 2.0 / 3, 0.5 / 4};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(f[i].id, want2[i], "rank %d", i);
        cr_expect(fabs(f[i].score - ws[i]) < 1e-15, "rank %d", i);
    }
    vq_free(f);
}

Test(fusion, weighted_minmax_hand_computed) {
    vqe_fusion_params p;
    cr_assert_eq(vqe_fusion_parse("weighted:norm=minmax", &p, NULL), VQ_OK);
    vqe_rank_list l[2] = {{A_ID, A_SC, 3, 1}, {B_ID, B_SC, 3, 2}};
    size_t n;
    vqe_fused *f = fuse(&p, l, 2, &n);
    /* A normalized: 1 -> 1, 2 -> 0.5, 3 -> 0; B: 3 -> 1, 1 -> 0.625, 4 -> 0 (weight 2) */
    uint32_t want_id[] = {1, 3, 2, 4};
    double want[] = {1 + 2 * 0.625, 0 + 2 * 1.0, 0.5, 0};
    cr_assert_eq(n, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(f[i].id, want_id[i], "rank %d", i);
        cr_expect(fabs(f[i].score - want[i]) < 1e-12, "rank %d: %.17g vs %.17g", i, f[i].score,
                  want[i]);
    }
    vq_free(f);
    /* a list whose scores are all equal: each member normalizes to 1 */
    static const double eq[] = {5, 5};
    static const uint32_t eid[] = {7, 8};
    vqe_rank_list one = {eid, eq, 2, 3};
    f = fuse(&p, &one, 1, &n);
    cr_assert_eq(n, 2);
    cr_expect_eq(f[0].id, 7);
    cr_expect_eq(f[0].score, 3.0);
    cr_expect_eq(f[1].score, 3.0);
    vq_free(f);
}

Test(fusion, weighted_zscore_hand_computed) {
    vqe_fusion_params p;
    cr_assert_eq(vqe_fusion_parse("weighted:norm=zscore", &p, NULL), VQ_OK);
    cr_assert_eq(p.norm, VQE_NORM_ZSCORE);
    vqe_rank_list l[2] = {{A_ID, A_SC, 3, 1}, {B_ID, B_SC, 3, 1}};
    size_t n;
    vqe_fused *f = fuse(&p, l, 2, &n);
    /* A: mean 6, population sd sqrt(32/3) -> z = +1.2247, 0, -1.2247.
     * B: mean 0.5333, sd 0.32998 -> z = 1.1112 (id 3), 0.2020 (id 1), -1.3132 (id 4). */
    double sa = sqrt(32.0 / 3), mb = 1.6 / 3;
    double sb =
        sqrt(((0.9 - mb) * (0.9 - mb) + (0.6 - mb) * (0.6 - mb) + (0.1 - mb) * (0.1 - mb)) / 3);
    uint32_t want_id[] = {1, 2, 3, 4};
    double want[] = {4 / sa + (0.6 - mb) / sb, 0, -4 / sa + (0.9 - mb) / sb, (0.1 - mb) / sb};
    double approx[] = {1.4267, 0, -0.1135, -1.3132};
    cr_assert_eq(n, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(f[i].id, want_id[i], "rank %d", i);
        cr_expect(fabs(f[i].score - want[i]) < 1e-12, "rank %d: %.17g vs %.17g", i, f[i].score,
                  want[i]);
        cr_expect(fabs(f[i].score - approx[i]) < 1e-4, "rank %d: %.6f", i, f[i].score);
    }
    vq_free(f);
    /* sd 0: z-scores are 0 */
    static const double eq[] = {5, 5};
    static const uint32_t eid[] = {9, 8};
    vqe_rank_list one = {eid, eq, 2, 1};
    f = fuse(&p, &one, 1, &n);
    cr_assert_eq(n, 2);
    cr_expect_eq(f[0].id, 8, "ties go to the smaller id");
    cr_expect_eq(f[0].score, 0.0);
    vq_free(f);
}

Test(fusion, none_keeps_scores_and_takes_one_list) {
    vqe_fusion_params p;
    cr_assert_eq(vqe_fusion_parse("none", &p, NULL), VQ_OK);
    vqe_rank_list l[2] = {{A_ID, A_SC, 3, 1}, {B_ID, B_SC, 3, 1}};
    size_t n;
    vqe_fused *f = fuse(&p, l, 1, &n);
    cr_assert_eq(n, 3);
    for (int i = 0; i < 3; i++) cr_expect(f[i].id == A_ID[i] && f[i].score == A_SC[i]);
    vq_free(f);
    vq_err e;
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "fusion");
}

Test(fusion, empty_lists) {
    vqe_fusion_params p;
    vqe_fusion_params_default(&p);
    vqe_rank_list l[2] = {{NULL, NULL, 0, 1}, {B_ID, B_SC, 3, 1}};
    size_t n;
    vqe_fused *f = fuse(&p, l, 2, &n);
    cr_assert_eq(n, 3);
    cr_expect_eq(f[0].id, 3);
    vq_free(f);
    f = fuse(&p, l, 1, &n);
    cr_expect_eq(n, 0);
    vq_free(f);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t nxt(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* Naive reference: for each distinct id, walk every list in order. */
Test(fusion, random_lists_equal_naive_reference) {
    for (int round = 0; round < 30; round++) {
        size_t nl = 1 + nxt() % 6;
        vqe_rank_list l[6];
        uint32_t ids[6][50];
        double sc[6][50];
        for (size_t i = 0; i < nl; i++) {
            size_t n = nxt() % 50;
            /* distinct ids from 0..79 via a partial shuffle */
            uint32_t pool[80];
            for (uint32_t j = 0; j < 80; j++) pool[j] = j;
            double s = 100;
            for (size_t j = 0; j < n; j++) {
                size_t r = j + nxt() % (80 - j);
                uint32_t t = pool[j];
                pool[j] = pool[r], pool[r] = t;
                ids[i][j] = pool[j];
                s -= (double)(nxt() % 4); /* ties happen */
                sc[i][j] = s;
            }
            l[i] = (vqe_rank_list){ids[i], sc[i], n, 0.25 * (double)(1 + nxt() % 8)};
        }
        for (int kind = 0; kind < 3; kind++) {
            vqe_fusion_params p;
            vqe_fusion_params_default(&p);
            if (kind)
                p.kind = VQE_FUSION_WEIGHTED,
                p.norm = kind == 1 ? VQE_NORM_MINMAX : VQE_NORM_ZSCORE;
            size_t n;
            vqe_fused *f = fuse(&p, l, nl, &n);
            double ref[80];
            int seen[80] = {0};
            size_t distinct = 0;
            for (size_t i = 0; i < nl; i++) {
                double mn = l[i].n ? sc[i][l[i].n - 1] : 0, mx = l[i].n ? sc[i][0] : 0, mean = 0,
                       var = 0;
                for (size_t j = 0; j < l[i].n; j++) mean += sc[i][j];
                mean = l[i].n ? mean / (double)l[i].n : 0;
                for (size_t j = 0; j < l[i].n; j++) var += (sc[i][j] - mean) * (sc[i][j] - mean);
                double sd = l[i].n ? sqrt(var / (double)l[i].n) : 0;
                for (size_t j = 0; j < l[i].n; j++) {
                    double v;
                    if (kind == 0)
                        v = l[i].weight / (60.0 + (double)(j + 1));
                    else if (kind == 1)
                        v = l[i].weight * (mx > mn ? (sc[i][j] - mn) / (mx - mn) : 1.0);
                    else
                        v = l[i].weight * (sd > 0 ? (sc[i][j] - mean) / sd : 0.0);
                    uint32_t id = ids[i][j];
                    if (!seen[id]) seen[id] = 1, ref[id] = 0, distinct++;
                    ref[id] += v;
                }
            }
            cr_assert_eq(n, distinct, "round %d kind %d", round, kind);
            for (size_t r = 0; r < n; r++) {
                cr_expect(seen[f[r].id]);
                cr_expect(fabs(f[r].score - ref[f[r].id]) <= 1e-12 * (1 + fabs(ref[f[r].id])),
                          "round %d kind %d rank %zu", round, kind, r);
                if (r)
                    cr_expect(f[r - 1].score > f[r].score ||
                                  (f[r - 1].score == f[r].score && f[r - 1].id < f[r].id),
                              "order at rank %zu", r);
            }
            vq_free(f);
        }
    }
}

Test(fusion, bad_input_names_the_field) {
    vqe_fusion_params p;
    vqe_fusion_params_default(&p);
    vq_err e;
    vqe_fused *f;
    size_t n;
    static const uint32_t dup[] = {1, 1};
    static const double sc2[] = {2, 1}, up[] = {1, 2}, nan2[] = {NAN, 1};
    vqe_rank_list ok = {A_ID, A_SC, 3, 1};
    vqe_rank_list l[2] = {ok, {dup, sc2, 2, 1}};
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "lists[1]");
    l[1] = (vqe_rank_list){B_ID, up, 2, 1};
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "lists[1]");
    l[1] = (vqe_rank_list){B_ID, nan2, 2, 1};
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_ENOTFINITE);
    cr_expect_str_eq(e.field, "lists[1]");
    l[1] = (vqe_rank_list){B_ID, B_SC, 3, -1};
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "lists[1]");
    l[1].weight = NAN;
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_EINVAL);
    l[1].weight = 1;
    p.rrf_k = -1;
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "fusion.rrf_k");
    p.rrf_k = 60;
    p.kind = (vqe_fusion_kind)7;
    cr_expect_eq(vqe_fuse(&p, l, 2, &f, &n, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "fusion");
    cr_expect_eq(vqe_fusion_parse("bm42", &p, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "fusion");
    cr_expect_eq(vqe_fusion_parse("rrf:k=-3", &p, &e), VQ_EINVAL);
    cr_expect_eq(vqe_fusion_parse("weighted:norm=l2", &p, &e), VQ_EINVAL);
    cr_expect_eq(vqe_fusion_parse("rrf:k=20", &p, &e), VQ_OK);
    cr_expect_eq(p.rrf_k, 20.0);
    cr_expect_eq(vqe_fusion_parse("weighted", &p, &e), VQ_OK);
    cr_expect(p.kind == VQE_FUSION_WEIGHTED && p.norm == VQE_NORM_MINMAX);
}
