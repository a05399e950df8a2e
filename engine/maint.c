/* maint.c — index maintenance: rebuild (optionally to a new index SPEC) and compaction,
 * both done on a second index built beside the serving one and swapped in, and the
 * per-collection background thread that compacts when enough of the index is deleted.
 *
 * Build beside, catch up, swap. The serving index (c->index) keeps answering searches and
 * taking writes while the new one is prepared:
 *   rebuild  a fresh index (the collection's SPEC or a new one) is filled from the live
 *            in-memory vectors: the live set is copied under the shared lock (snapshot S),
 *            and vectors are copied out in chunks under the shared lock and added outside it;
 *   compact  the serving index is cloned (vqi_index_save_mem/load_mem: a consistent copy,
 *            index/ holds its own read lock for it), the clone is compacted in place
 *            (vqi_index_compact: HNSW re-links around the deleted nodes) where nobody
 *            searches it, and S = the ids the clone holds.
 * Catch-up: internal ids are never reused and an id's vector never changes while it is
 * live, so the writes that happened meanwhile are exactly the set differences
 * live \ S (added: their vectors are in c->vecs) and S \ live (deleted). Rounds of catch-up
 * run without blocking writers until a round has little left; the last round runs under
 * the writer mutex (writers wait only for that small delta), after which the new index
 * holds exactly the live set. The swap itself is a pointer exchange under the exclusive
 * lock; pooled searchers of the old index are freed there (no search is in flight while
 * the exclusive lock is held), and the old index is freed after the lock is released.
 * Searches never wait for more than that exchange. A changed SPEC is written to the schema
 * record (synced) before the swap, with the old index file's state record removed first,
 * so a crash in between restarts with a rebuild in the new SPEC.
 *
 * Saving after the swap runs outside the writer mutex, with the state record naming the
 * write counter at the swap: every write applied to the index after it has already moved
 * the stored counter past it (storage is written before memory), so the file is only ever
 * reloaded when it holds exactly that state.
 *
 * Background compaction: one thread per writable collection wakes every interval_ms and
 * compacts when the index's tombstones reach compact_fraction of its entries
 * (n_deleted / (n_live + n_deleted) >= compact_fraction; default
 * VQE_COMPACT_FRACTION_DEFAULT = 0.2). Tombstoned entries are never returned (index/ skips
 * them and the planner re-checks c->live); compaction reclaims their memory and the search
 * effort spent routing through them. The thread is stopped and joined before the
 * collection is freed (close, drop); a compaction in progress then gives up at its next
 * catch-up round.
 *
 * Locks: c->mmu serializes maintenance operations (background and explicit) and guards
 * c->index against a second swapper; c->wmu is held only for the final catch-up and the
 * swap; c->lock exclusively only for the pointer exchange. c->mtx guards the maintenance
 * parameters and counters.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coll_internal.h"

void vqe_rebuild_params_default(vqe_rebuild_params *p) {
    memset(p, 0, sizeof *p);
    p->threads = 1;
}

void vqe_maint_params_default(vqe_maint_params *p) {
    memset(p, 0, sizeof *p);
    p->compact_fraction = VQE_COMPACT_FRACTION_DEFAULT;
    p->interval_ms = VQE_MAINT_MS_DEFAULT;
}

void vqe__maint_init(vqe_collection *c) {
    pthread_mutex_init(&c->mmu, NULL);
    pthread_mutex_init(&c->mtx, NULL);
    pthread_cond_init(&c->mcv, NULL);
    vqe_maint_params_default(&c->maint);
}

void vqe__maint_destroy(vqe_collection *c) {
    vqe__maint_stop(c);
    pthread_mutex_destroy(&c->mmu);
    pthread_mutex_destroy(&c->mtx);
    pthread_cond_destroy(&c->mcv);
}

static int stopping(vqe_collection *c) {
    pthread_mutex_lock(&c->mtx);
    int s = c->maint_stop;
    pthread_mutex_unlock(&c->mtx);
    return s;
}

#if VQE_HAVE_INDEX
#define CHUNK 16384u

/* Adds the iids in ids[0..n) to idx, copying their vectors out of c->vecs under the shared
 * lock chunk by chunk (vecs may be reallocated by a writer between chunks). */
static int add_iids(vqe_collection *c, vqi_index *idx, const uint32_t *ids, size_t n, int report,
                    vq_err *err) {
    const size_t d = c->schema.dim;
    float *x = vq_malloc(CHUNK * d * 4);
    uint64_t *ids64 = vq_malloc(CHUNK * 8);
    int rc = (!x || !ids64) ? vq_err_set(err, VQ_ENOMEM, "index", "out of memory") : VQ_OK;
    for (size_t i = 0; !rc && i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        pthread_rwlock_rdlock(&c->lock);
        for (size_t j = 0; j < m; j++) {
            ids64[j] = ids[i + j];
            memcpy(x + j * d, c->vecs + (size_t)ids[i + j] * d, d * 4);
        }
        pthread_rwlock_unlock(&c->lock);
        rc = vqi_index_add(idx, m, x, ids64, err);
        if (report && c->db->params.progress)
            c->db->params.progress(c->db->params.progress_ctx, c->schema.name, i + m, n);
    }
    vq_free(x), vq_free(ids64);
    return rc;
}

/* One catch-up round: makes idx (holding exactly the iids of `have`) hold the live set as
 * of this round's start; *changed counts the ids added and removed. */
static int catch_up(vqe_collection *c, vqi_index *idx, roaring_bitmap_t *have, size_t *changed,
                    vq_err *err) {
    pthread_rwlock_rdlock(&c->lock);
    roaring_bitmap_t *add = roaring_bitmap_andnot(c->live, have);
    roaring_bitmap_t *del = roaring_bitmap_andnot(have, c->live);
    pthread_rwlock_unlock(&c->lock);
    int rc = (!add || !del) ? vq_err_set(err, VQ_ENOMEM, "index", "out of memory") : VQ_OK;
    size_t na = rc ? 0 : roaring_bitmap_get_cardinality(add);
    size_t nd = rc ? 0 : roaring_bitmap_get_cardinality(del);
    uint32_t *a = vq_malloc((na > nd ? na : nd) * 4 + 4);
    uint64_t *d64 = vq_malloc(nd * 8 + 8);
    if (!rc && (!a || !d64)) rc = vq_err_set(err, VQ_ENOMEM, "index", "out of memory");
    if (!rc && nd) {
        roaring_bitmap_to_uint32_array(del, a);
        for (size_t i = 0; i < nd; i++) d64[i] = a[i];
        rc = vqi_index_remove(idx, nd, d64, NULL, err);
        if (!rc) roaring_bitmap_andnot_inplace(have, del);
    }
    if (!rc && na) {
        roaring_bitmap_to_uint32_array(add, a);
        rc = add_iids(c, idx, a, na, 0, err);
        if (!rc) roaring_bitmap_or_inplace(have, add);
    }
    if (changed) *changed = na + nd;
    vq_free(a), vq_free(d64);
    if (add) roaring_bitmap_free(add);
    if (del) roaring_bitmap_free(del);
    return rc;
}

/* A fresh index over the live vectors (snapshot taken here); *have = its iids. */
static int build_beside(vqe_collection *c, const char *spec, unsigned threads, vqi_index **out,
                        roaring_bitmap_t **have_out, vq_err *err) {
    vqi_params ip = vqi_params_default();
    ip.threads = threads ? threads : 1;
    vqi_index *idx;
    VQ_TRY(vqi_index_new_params(spec, c->schema.dim, c->schema.metric, &ip, &idx, err));
    pthread_rwlock_rdlock(&c->lock);
    roaring_bitmap_t *have = roaring_bitmap_copy(c->live);
    pthread_rwlock_unlock(&c->lock);
    size_t n = have ? roaring_bitmap_get_cardinality(have) : 0, d = c->schema.dim;
    uint32_t *ids = vq_malloc(n * 4 + 4);
    int rc = (!have || !ids) ? vq_err_set(err, VQ_ENOMEM, "index", "out of memory") : VQ_OK;
    if (!rc) roaring_bitmap_to_uint32_array(have, ids);
    if (!rc && n && !vqi_index_is_trained(idx)) {
        /* an evenly strided sample of up to 65536 live vectors, as the load-time build */
        size_t ns = n < 65536 ? n : 65536;
        float *s = vq_malloc(ns * d * 4);
        if (!s) rc = vq_err_set(err, VQ_ENOMEM, "index", "out of memory");
        if (!rc) {
            pthread_rwlock_rdlock(&c->lock);
            for (size_t i = 0; i < ns; i++)
                memcpy(s + i * d, c->vecs + (size_t)ids[i * n / ns] * d, d * 4);
            pthread_rwlock_unlock(&c->lock);
            rc = vqi_index_train(idx, ns, s, err);
        }
        vq_free(s);
    }
    if (!rc) rc = add_iids(c, idx, ids, n, 1, err);
    vq_free(ids);
    if (rc) {
        if (have) roaring_bitmap_free(have);
        vqi_index_free(idx);
        return rc;
    }
    *out = idx;
    *have_out = have;
    return VQ_OK;
}

/* A compacted copy of the serving index; *have = its iids. Caller holds c->mmu. */
static int clone_compacted(vqe_collection *c, vqi_index **out, roaring_bitmap_t **have_out,
                           vq_err *err) {
    uint8_t *buf;
    size_t len;
    VQ_TRY(vqi_index_save_mem(c->index, &buf, &len, err));
    vqi_index *idx;
    int rc = vqi_index_load_mem(buf, len, &idx, err);
    vq_free(buf);
    VQ_TRY(rc);
    rc = vqi_index_compact(idx, err);
    pthread_rwlock_rdlock(&c->lock);
    uint32_t n = c->next_iid;
    pthread_rwlock_unlock(&c->lock);
    roaring_bitmap_t *have = rc ? NULL : roaring_bitmap_create();
    if (!rc && !have) rc = vq_err_set(err, VQ_ENOMEM, "index", "out of memory");
    /* ids in the clone are below next_iid as read after the copy was taken */
    for (uint32_t i = 0; !rc && i < n; i++)
        if (vqi_index_contains(idx, i)) roaring_bitmap_add(have, i);
    if (rc) {
        if (have) roaring_bitmap_free(have);
        vqi_index_free(idx);
        return rc;
    }
    *out = idx;
    *have_out = have;
    return VQ_OK;
}

/* Writes the schema with a new index SPEC (synced) after removing the index file's state
 * record. Caller holds c->wmu. */
static int persist_spec(vqe_collection *c, const char *spec, vq_err *err) {
    vqe_schema s = c->schema;
    snprintf(s.index_spec, sizeof s.index_spec, "%s", spec);
    char *json;
    VQ_TRY(vqe_schema_to_json(&s, &json, err));
    char st[4300];
    snprintf(st, sizeof st, "%s.state", c->index_path);
    unlink(st);
    uint8_t k[16];
    vqe__be32(k, c->cid);
    memcpy(k + 4, "schema", 6);
    vqe__batch *b = vqe__batch_new();
    int rc = b ? VQ_OK : vq_err_set(err, VQ_ENOMEM, "batch", "out of memory");
    if (!rc) {
        vqe__batch_put(b, VQE_CF_META, k, 10, json, strlen(json));
        rc = vqe__store_write(c->db->st, b, 1, err);
    }
    vqe__batch_free(b);
    vq_free(json);
    return rc;
}

/* Catch-up rounds, the final one under wmu, then the swap and the save. Takes ownership of
 * idx and have. spec: the new SPEC to record, or NULL. */
static int finish(vqe_collection *c, vqi_index *idx, roaring_bitmap_t *have, const char *spec,
                  int background, vq_err *err) {
    int rc = VQ_OK;
    /* unlocked rounds while writers keep up a large delta (bounded: writes could outpace) */
    for (int round = 0; round < 8 && !rc; round++) {
        if (background && stopping(c)) {
            rc = vq_err_set(err, VQ_ESTATE, "collection", "closing: maintenance abandoned");
            break;
        }
        size_t changed;
        rc = catch_up(c, idx, have, &changed, err);
        if (changed <= 256) break;
    }
    if (rc) {
        vqi_index_free(idx);
        roaring_bitmap_free(have);
        return rc;
    }
    pthread_mutex_lock(&c->wmu);
    rc = catch_up(c, idx, have, NULL, err);
    if (!rc && spec && !vqe__store_read_only(c->db->st)) rc = persist_spec(c, spec, err);
    vqi_index *old = NULL;
    uint64_t counter = 0;
    if (!rc) {
        pthread_rwlock_wrlock(&c->lock);
        old = c->index;
        c->index = idx;
        pthread_mutex_lock(&c->pmu);
        for (int i = 0; i < c->n_pool; i++) vqi_searcher_free(c->pool[i]);
        c->n_pool = 0;
        pthread_mutex_unlock(&c->pmu);
        if (spec) snprintf(c->schema.index_spec, sizeof c->schema.index_spec, "%s", spec);
        c->index_loaded = 0;
        c->saved_counter = UINT64_MAX;
        counter = c->write_counter;
        pthread_rwlock_unlock(&c->lock);
    }
    pthread_mutex_unlock(&c->wmu);
    roaring_bitmap_free(have);
    if (rc) {
        vqi_index_free(idx);
        return rc;
    }
    vqi_index_free(old);
    if (!vqe__store_read_only(c->db->st)) {
        /* see the top comment: state = the counter at the swap */
        char st[4300], tmp[4300];
        snprintf(st, sizeof st, "%s.state", c->index_path);
        snprintf(tmp, sizeof tmp, "%s.tmp", c->index_path);
        unlink(st);
        vq_err e;
        if (!vqi_index_save(c->index, tmp, &e) && !rename(tmp, c->index_path) &&
            !vqe__index_state_write(c->index_path, counter, &e)) {
            pthread_mutex_lock(&c->wmu);
            c->saved_counter = counter;
            pthread_mutex_unlock(&c->wmu);
        }
    }
    return VQ_OK;
}

static void note(vqe_collection *c, int compaction, int rc, double t0) {
    pthread_mutex_lock(&c->mtx);
    if (!rc) {
        if (compaction)
            c->n_compactions++;
        else
            c->n_rebuilds++;
    }
    c->last_error = rc;
    c->last_seconds = vq_now() - t0;
    pthread_mutex_unlock(&c->mtx);
}

static int compact_now(vqe_collection *c, int background, vq_err *err) {
    double t0 = vq_now();
    pthread_mutex_lock(&c->mmu);
    vqi_index *idx;
    roaring_bitmap_t *have;
    int rc = clone_compacted(c, &idx, &have, err);
    if (!rc) rc = finish(c, idx, have, NULL, background, err);
    /* The text/sparse impact lists drop the postings of dead records too. They are compacted
     * in place, so searches (which read them under the shared lock) wait for it. */
    if (!rc) {
        pthread_mutex_lock(&c->wmu);
        pthread_rwlock_wrlock(&c->lock);
        for (unsigned f = 0; !rc && f < c->schema.n_fields; f++)
            if (c->impact[f]) rc = vqe_impact_compact(c->impact[f], err);
        pthread_rwlock_unlock(&c->lock);
        pthread_mutex_unlock(&c->wmu);
    }
    pthread_mutex_unlock(&c->mmu);
    note(c, 1, rc, t0);
    return rc;
}
#endif

int vqe_rebuild_with(vqe_collection *c, const vqe_rebuild_params *p, vq_err *err) {
    VQ_FAIL_IF(!c, VQ_EINVAL, err, "collection", "NULL argument");
    vqe_rebuild_params def;
    if (!p) vqe_rebuild_params_default(&def), p = &def;
    VQ_FAIL_IF(p->threads > VQE_REBUILD_THREADS_MAX, VQ_EINVAL, err, "threads", "%u threads > %u",
               p->threads, VQE_REBUILD_THREADS_MAX);
    VQ_FAIL_IF(p->index_spec &&
                   (!*p->index_spec || strlen(p->index_spec) >= sizeof c->schema.index_spec),
               VQ_EINVAL, err, "index", "index SPEC empty or longer than %zu bytes",
               sizeof c->schema.index_spec - 1);
#if VQE_HAVE_INDEX
    double t0 = vq_now();
    pthread_mutex_lock(&c->mmu);
    char spec[sizeof c->schema.index_spec];
    pthread_rwlock_rdlock(&c->lock);
    snprintf(spec, sizeof spec, "%s", p->index_spec ? p->index_spec : c->schema.index_spec);
    pthread_rwlock_unlock(&c->lock);
    vqi_index *idx;
    roaring_bitmap_t *have;
    int rc = build_beside(c, spec, p->threads, &idx, &have, err);
    if (!rc) rc = finish(c, idx, have, p->index_spec ? spec : NULL, 0, err);
    pthread_mutex_unlock(&c->mmu);
    note(c, 0, rc, t0);
    return rc;
#else
    return vq_err_set(err, VQ_EUNSUPPORTED, "index", "index/ is not built: nothing to rebuild");
#endif
}

int vqe_rebuild(vqe_collection *c, vq_err *err) { return vqe_rebuild_with(c, NULL, err); }

int vqe_compact(vqe_collection *c, vq_err *err) {
    VQ_FAIL_IF(!c, VQ_EINVAL, err, "collection", "NULL argument");
#if VQE_HAVE_INDEX
    return compact_now(c, 0, err);
#else
    return vq_err_set(err, VQ_EUNSUPPORTED, "index", "index/ is not built: nothing to compact");
#endif
}

/* ---- the background thread ---- */
#if VQE_HAVE_INDEX
static void *maint_main(void *arg) {
    vqe_collection *c = arg;
    pthread_mutex_lock(&c->mtx);
    while (!c->maint_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)c->maint.interval_ms * 1000000ull;
        ts.tv_sec += (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        pthread_cond_timedwait(&c->mcv, &c->mtx, &ts);
        if (c->maint_stop) break;
        double frac = c->maint.compact_fraction;
        pthread_mutex_unlock(&c->mtx);
        vqi_stats st;
        pthread_rwlock_rdlock(&c->lock);
        int src = vqi_index_stats(c->index, &st);
        pthread_rwlock_unlock(&c->lock);
        if (!src && frac > 0 && st.n_deleted &&
            (double)st.n_deleted >= frac * (double)(st.n + st.n_deleted)) {
            vq_err e;
            compact_now(c, 1, &e);
        }
        pthread_mutex_lock(&c->mtx);
    }
    pthread_mutex_unlock(&c->mtx);
    return NULL;
}
#endif

int vqe__maint_start(vqe_collection *c, vq_err *err) {
#if VQE_HAVE_INDEX
    if (vqe__store_read_only(c->db->st)) return VQ_OK;
    pthread_mutex_lock(&c->mtx);
    c->maint_stop = 0;
    int prc = pthread_create(&c->maint_thread, NULL, maint_main, c);
    if (!prc) c->maint_on = 1;
    pthread_mutex_unlock(&c->mtx);
    VQ_FAIL_IF(prc, VQ_ENOMEM, err, "maintenance", "cannot start the maintenance thread");
#else
    (void)c, (void)err;
#endif
    return VQ_OK;
}

void vqe__maint_stop(vqe_collection *c) {
    pthread_mutex_lock(&c->mtx);
    int on = c->maint_on;
    c->maint_stop = 1;
    c->maint_on = 0;
    pthread_cond_broadcast(&c->mcv);
    pthread_mutex_unlock(&c->mtx);
    if (on) pthread_join(c->maint_thread, NULL);
}

int vqe_maint_set(vqe_collection *c, const vqe_maint_params *p, vq_err *err) {
    VQ_FAIL_IF(!c || !p, VQ_EINVAL, err, "maintenance", "NULL argument");
    VQ_FAIL_IF(!(p->compact_fraction >= 0 && p->compact_fraction <= 1), VQ_EINVAL, err,
               "compact_fraction", "%g not in [0, 1] (0 disables background compaction)",
               p->compact_fraction);
    VQ_FAIL_IF(p->interval_ms < VQE_MAINT_MS_MIN || p->interval_ms > VQE_MAINT_MS_MAX, VQ_EINVAL,
               err, "interval_ms", "%u not in %u..%u", p->interval_ms, VQE_MAINT_MS_MIN,
               VQE_MAINT_MS_MAX);
    pthread_mutex_lock(&c->mtx);
    c->maint = *p;
    pthread_cond_broadcast(&c->mcv); /* re-arm the wait with the new interval */
    pthread_mutex_unlock(&c->mtx);
    return VQ_OK;
}

void vqe_maint_info_get(vqe_collection *c, vqe_maint_info *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mtx);
    out->params = c->maint;
    out->background = c->maint_on;
    out->compactions = c->n_compactions;
    out->rebuilds = c->n_rebuilds;
    out->last_error = c->last_error;
    out->last_seconds = c->last_seconds;
    pthread_mutex_unlock(&c->mtx);
#if VQE_HAVE_INDEX
    vqi_stats st;
    pthread_rwlock_rdlock(&c->lock);
    if (!vqi_index_stats(c->index, &st)) {
        out->index_live = st.n;
        out->index_deleted = st.n_deleted;
    }
    pthread_rwlock_unlock(&c->lock);
    uint64_t tot = out->index_live + out->index_deleted;
    out->deleted_fraction = tot ? (double)out->index_deleted / (double)tot : 0;
#endif
}
