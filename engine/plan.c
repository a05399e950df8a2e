/* plan.c — query planning and execution for one dense query with an optional filter.
 *
 * 1. The filter is evaluated to the exact bitmap of live iids it allows (filter_eval.c);
 *    its cardinality m is the plan's estimate, and it is exact.
 * 2. m == 0: nothing to do. Otherwise a cost model picks the cheaper plan: the exact scan
 *    of the allowed ids over the full-precision vectors costs m distance computations
 *    (recall 1); a filtered graph search costs about VQE_COST_PER_EF * ef / s of them
 *    (calibrated on filtered searches, see the constant; bench/results/eng2.md,
 *    divided by the selectivity s = m / live, because only a fraction s of the nodes the
 *    traversal scores count towards the result). So the scan wins when m <= sqrt(
 *    VQE_COST_PER_EF * ef * live), e.g. ~ 74k of 1M at ef 64. A caller's exact_threshold
 *    replaces the model (exact when m <= threshold). Otherwise the index searches with the bitmap
 * as its filter (HNSW traverses through disallowed nodes; IVF/flat check the bitmap while
 * scanning), with ef raised as the filter gets more selective: ef' = ef * min(VQE_EF_BOOST_MAX,
 * sqrt(live / m)), because a beam through a graph where only a fraction s of nodes count holds ~s *
 * ef useful candidates. Without a filter the index searches plainly.
 * 3. Never fewer than min(k, m): when the index returns fewer, the allowed ids are scanned
 *    exactly (plan INDEX_THEN_EXACT).
 * Without index/ in the build every search is an exact scan (of live or allowed ids).
 *
 * Locks: a search holds the collection's shared lock for the whole query, so the bitmaps,
 * vectors and id tables it reads do not change under it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coll_internal.h"

/* Cost of a filtered HNSW search per unit of ef / selectivity, in units of one exact
 * scan step over an allowed id (calibrated, bench/results/eng2.md): on the synthetic
 * 1M x 128 set's first 100k rows a filtered traversal cost ~300 unfiltered-scan distance
 * computations per unit of ef / s (50% and 10% filters alike), and scanning an allowed id
 * of a filter bitmap ~3.5 of them (scattered ids, plus the bitmap walk). The earlier 48
 * (the unfiltered beam's cost) chose the graph for 10% of 1M, where the exact scan of 100k
 * ids is several times faster. */
#define VQE_COST_PER_EF 86.0
#define VQE_EF_BOOST_MAX 8.0

void vqe_search_params_default(vqe_search_params *p) {
    memset(p, 0, sizeof *p);
    p->k = 10;
}

const char *vqe_plan_name(vqe_plan_kind k) {
    switch (k) {
    case VQE_PLAN_NONE:
        return "none (no record matches)";
    case VQE_PLAN_EXACT:
        return "exact scan of the allowed ids";
    case VQE_PLAN_INDEX:
        return "index search";
    case VQE_PLAN_INDEX_THEN_EXACT:
        return "index search, then exact scan (index found < k)";
    }
    return "?";
}

/* The tree must have been bound to this collection's schema. */
int vqe__filter_check(const vqe_collection *c, const vqe_filter *f, vq_err *err) {
    if (f->op == VQE_F_AND || f->op == VQE_F_OR || f->op == VQE_F_NOT) {
        VQ_FAIL_IF(!f->n_kids, VQ_EINVAL, err, "filter", "operator without operands");
        for (size_t i = 0; i < f->n_kids; i++) VQ_TRY(vqe__filter_check(c, f->kids[i], err));
        return VQ_OK;
    }
    if (f->op == VQE_F_ID_IN) return VQ_OK;
    VQ_FAIL_IF(f->field_idx < 0 || (unsigned)f->field_idx >= c->schema.n_fields || !f->field ||
                   strcmp(c->schema.fields[f->field_idx].name, f->field),
               VQ_ESTATE, err, "filter", "filter not bound to collection '%s' (vqe_filter_bind)",
               c->schema.name);
    return VQ_OK;
}

/* max-heap of (score, iid) of size k */
typedef struct heap {
    float *s;
    uint32_t *id;
    size_t n, k;
} heap;

static void heap_push(heap *h, float s, uint32_t id) {
    if (h->n < h->k) {
        size_t i = h->n++;
        while (i && h->s[(i - 1) / 2] < s) {
            h->s[i] = h->s[(i - 1) / 2], h->id[i] = h->id[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        h->s[i] = s, h->id[i] = id;
        return;
    }
    if (s >= h->s[0]) return;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        float ms = s;
        if (l < h->n && h->s[l] > ms) m = l, ms = h->s[l];
        if (r < h->n && h->s[r] > ms) m = r, ms = h->s[r];
        if (m == i) break;
        h->s[i] = h->s[m], h->id[i] = h->id[m];
        i = m;
    }
    h->s[i] = s, h->id[i] = id;
}

typedef struct scan_ctx {
    const vqe_collection *c;
    vq_query *qs;
    heap *h;
    float add;
} scan_ctx;

static bool scan_one(uint32_t iid, void *arg) {
    scan_ctx *x = arg;
    const uint8_t *code = (const uint8_t *)(x->c->vecs + (size_t)iid * x->c->schema.dim);
    heap_push(x->h, vq_quant_score_one(x->qs, code) + x->add, iid);
    return true;
}

/* Exact top-k over the ids of `allowed` into hits (sorted). */
static int exact_scan(const vqe_collection *c, const float *q, unsigned k,
                      const roaring_bitmap_t *allowed, vqe_hit *hits, size_t *n_hits, vq_err *err) {
    vq_query *qs;
    VQ_TRY(vq_query_new(c->fq, &qs, err));
    vq_metric m = c->schema.metric == VQ_METRIC_L2 ? VQ_METRIC_L2 : VQ_METRIC_IP;
    int rc = vq_query_prepare(qs, q, m, err);
    heap h = {vq_malloc(k * sizeof(float)), vq_malloc(k * sizeof(uint32_t)), 0, k};
    if (!rc && (!h.s || !h.id)) rc = vq_err_set(err, VQ_ENOMEM, "search", "out of memory");
    if (!rc) {
        /* cos: 1 - <q, x> on normalized vectors, like index/ reports */
        scan_ctx x = {c, qs, &h, c->schema.metric == VQ_METRIC_COS ? 1.0f : 0.0f};
        roaring_iterate(allowed, scan_one, &x);
        /* heap -> ascending */
        size_t n = h.n;
        for (size_t i = n; i-- > 0;) {
            hits[i].score = h.s[0];
            hits[i].internal = h.id[0];
            h.n--;
            float ls = h.s[h.n];
            uint32_t li = h.id[h.n];
            if (h.n) {
                size_t j = 0;
                for (;;) {
                    size_t l = 2 * j + 1, r = l + 1, mm = j;
                    float ms = ls;
                    if (l < h.n && h.s[l] > ms) mm = l, ms = h.s[l];
                    if (r < h.n && h.s[r] > ms) mm = r, ms = h.s[r];
                    if (mm == j) break;
                    h.s[j] = h.s[mm], h.id[j] = h.id[mm];
                    j = mm;
                }
                h.s[j] = ls, h.id[j] = li;
            }
        }
        *n_hits = n;
    }
    vq_free(h.s), vq_free(h.id);
    vq_query_free(qs);
    return rc;
}

#if VQE_HAVE_INDEX
static vqi_searcher *searcher_get(vqe_collection *c, vq_err *err) {
    vqi_searcher *s = NULL;
    pthread_mutex_lock(&c->pmu);
    if (c->n_pool) s = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->pmu);
    if (!s && vqi_searcher_new(c->index, &s, err)) return NULL;
    return s;
}
static void searcher_put(vqe_collection *c, vqi_searcher *s) {
    pthread_mutex_lock(&c->pmu);
    if (c->n_pool < (int)(sizeof c->pool / sizeof *c->pool)) {
        c->pool[c->n_pool++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&c->pmu);
    vqi_searcher_free(s);
}

static int index_search(vqe_collection *c, const float *q, unsigned k, unsigned ef,
                        const roaring_bitmap_t *allowed, vqe_hit *hits, size_t *n_hits,
                        vq_err *err) {
    vqi_searcher *s = searcher_get(c, err);
    if (!s) return err ? err->code : VQ_ENOMEM;
    uint64_t *ids = vq_malloc(k * 8);
    float *d = vq_malloc(k * 4);
    int rc = (!ids || !d) ? vq_err_set(err, VQ_ENOMEM, "search", "out of memory") : 0;
    if (!rc) {
        vqi_search_params sp = vqi_search_params_default();
        sp.ef = ef;
        sp.filter_bitmap = allowed;
        rc = vqi_searcher_search(s, 1, q, k, &sp, ids, d, err);
    }
    size_t n = 0;
    for (unsigned i = 0; !rc && i < k; i++) {
        if (ids[i] == VQI_NO_ID) break;
        /* the index may still hold an id whose delete is being applied: skip it */
        if (!roaring_bitmap_contains(c->live, (uint32_t)ids[i])) continue;
        hits[n].internal = (uint32_t)ids[i];
        hits[n].score = d[i];
        n++;
    }
    *n_hits = n;
    vq_free(ids), vq_free(d);
    searcher_put(c, s);
    return rc;
}
#endif

static void fill_ids(const vqe_collection *c, vqe_hit *hits, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t iid = hits[i].internal;
        if (c->suid && c->suid[iid])
            hits[i].id = (vqe_id){.is_str = 1, .s = c->suid[iid]};
        else
            hits[i].id = (vqe_id){.u = c->uid[iid]};
    }
}

/* Fills ex's plan fields from ex->live and ex->matches (set by the caller) and p. */
static void plan_choose(const vqe_collection *c, const vqe_search_params *p, int filtered,
                        vqe_explain *ex) {
    size_t thr = p->exact_threshold;
    unsigned ef = p->ef ? p->ef : 64;
    if (ef < p->k) ef = p->k;
    if (filtered && ex->matches) {
        double boost = sqrt((double)ex->live / (double)ex->matches);
        if (boost > VQE_EF_BOOST_MAX) boost = VQE_EF_BOOST_MAX;
        ef = (unsigned)ceil(ef * boost);
    }
    ex->selectivity = ex->live ? (double)ex->matches / (double)ex->live : 0;
    ex->ef = ef;
    ex->est_cost_exact = (double)ex->matches;
    ex->est_cost_index = ex->selectivity > 0 ? VQE_COST_PER_EF * ef / ex->selectivity : 0;
    if (!thr) /* the cost model's break-even point: m = VQE_COST_PER_EF * ef * live / m */
        thr = (size_t)sqrt(VQE_COST_PER_EF * ef * (double)ex->live);
    ex->threshold = thr;
#if VQE_HAVE_INDEX
    snprintf(ex->index_impl, sizeof ex->index_impl, "%s", vqi_index_spec(c->index));
    int use_index = p->force_plan == 2 || (p->force_plan == 0 && (!filtered || ex->matches > thr));
#else
    (void)c;
    snprintf(ex->index_impl, sizeof ex->index_impl, "exact scan (index/ not built)");
    int use_index = 0;
#endif
    if (!ex->matches)
        ex->plan = VQE_PLAN_NONE;
    else
        ex->plan = use_index ? VQE_PLAN_INDEX : VQE_PLAN_EXACT;
}

/* Runs the chosen plan; never fewer than min(k, matches) hits. */
static int plan_exec(vqe_collection *c, const float *query, unsigned k,
                     const roaring_bitmap_t *allowed, vqe_explain *ex, vqe_hit *hits,
                     size_t *n_hits, vq_err *err) {
    int rc = VQ_OK;
    size_t n = 0;
    size_t want = ex->matches < k ? (size_t)ex->matches : k;
    if (ex->plan == VQE_PLAN_INDEX) {
#if VQE_HAVE_INDEX
        rc = index_search(c, query, k, ex->ef, allowed, hits, &n, err);
#endif
        if (!rc && n < want) {
            ex->plan = VQE_PLAN_INDEX_THEN_EXACT;
            rc = exact_scan(c, query, k, allowed ? allowed : c->live, hits, &n, err);
        }
    } else if (ex->plan == VQE_PLAN_EXACT) {
        rc = exact_scan(c, query, k, allowed ? allowed : c->live, hits, &n, err);
    }
    if (!rc) fill_ids(c, hits, n);
    *n_hits = rc ? 0 : n;
    return rc;
}

int vqe__dense_topk(vqe_collection *c, const float *query, unsigned k, unsigned ef,
                    const roaring_bitmap_t *allowed, vqe_hit *hits, size_t *n_hits, vqe_explain *ex,
                    vq_err *err) {
    vqe_search_params p;
    vqe_search_params_default(&p);
    p.k = k;
    p.ef = ef;
    memset(ex, 0, sizeof *ex);
    ex->live = roaring_bitmap_get_cardinality(c->live);
    ex->matches = allowed ? roaring_bitmap_get_cardinality(allowed) : ex->live;
    plan_choose(c, &p, allowed != NULL, ex);
    return plan_exec(c, query, k, allowed, ex, hits, n_hits, err);
}

static int run(vqe_collection *c, const float *query, const vqe_search_params *p, vqe_hit *hits,
               size_t *n_hits, vqe_explain *ex, int plan_only, vq_err *err) {
    VQ_FAIL_IF(!c || !p || (!plan_only && (!query || !hits || !n_hits)), VQ_EINVAL, err, "search",
               "NULL argument");
    VQ_FAIL_IF(p->k < 1 || p->k > VQE_K_MAX, VQ_EINVAL, err, "k", "k %u not in 1..%d", p->k,
               VQE_K_MAX);
    VQ_FAIL_IF(p->force_plan < 0 || p->force_plan > 2, VQ_EINVAL, err, "force_plan",
               "force_plan %d not in 0..2", p->force_plan);
    const unsigned d = c->schema.dim;
    float *qn = NULL;
    if (!plan_only) {
        VQ_TRY(vq_check_finite(query, 1, d, "query", err));
        if (c->schema.metric == VQ_METRIC_COS) {
            double s = 0;
            for (unsigned j = 0; j < d; j++) s += (double)query[j] * query[j];
            VQ_FAIL_IF(s == 0, VQ_EINVAL, err, "query", "zero query vector under cos");
            qn = vq_malloc(d * 4);
            VQ_FAIL_IF(!qn, VQ_ENOMEM, err, "query", "out of memory");
            for (unsigned j = 0; j < d; j++) qn[j] = (float)(query[j] / sqrt(s));
            query = qn;
        }
    }
    if (p->filter) {
        int rc = vqe__filter_check(c, p->filter, err);
        if (rc) {
            vq_free(qn);
            return rc;
        }
    }
    vqe_explain lx;
    if (!ex) ex = &lx;
    memset(ex, 0, sizeof *ex);
    if (p->filter) vqe_filter_print(p->filter, ex->filter_text, sizeof ex->filter_text);

    pthread_rwlock_rdlock(&c->lock);
    double t0 = vq_now();
    roaring_bitmap_t *allowed = NULL;
    int rc = VQ_OK;
    ex->live = roaring_bitmap_get_cardinality(c->live);
    if (p->filter) rc = vqe__filter_eval(c, p->filter, &allowed, err);
    ex->matches = allowed ? roaring_bitmap_get_cardinality(allowed) : ex->live;
    ex->filter_ms = (vq_now() - t0) * 1e3;
    if (!rc) plan_choose(c, p, allowed != NULL, ex);
    if (!rc && !plan_only) {
        double t1 = vq_now();
        rc = plan_exec(c, query, p->k, allowed, ex, hits, n_hits, err);
        ex->search_ms = (vq_now() - t1) * 1e3;
    }
    pthread_rwlock_unlock(&c->lock);
    if (allowed) roaring_bitmap_free(allowed);
    vq_free(qn);
    return rc;
}

int vqe_search(vqe_collection *c, const float *query, const vqe_search_params *p, vqe_hit *hits,
               size_t *n_hits, vqe_explain *ex, vq_err *err) {
    return run(c, query, p, hits, n_hits, ex, 0, err);
}

int vqe_explain_plan(vqe_collection *c, const vqe_search_params *p, vqe_explain *ex, vq_err *err) {
    return run(c, NULL, p, NULL, NULL, ex, 1, err);
}
