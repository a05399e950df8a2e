/* Index maintenance (engine/maint.c): rebuild beside the serving index while searches and
 * writes continue (the writes made during the build end up in the new index, a new SPEC is
 * recorded and survives a restart), background compaction when the deleted fraction passes
 * the threshold (searches keep running and never return a deleted id), explicit compaction,
 * parameter validation and a clean stop on close. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define D 16
#define N0 6000u   /* records before maintenance */
#define IDS 20000u /* id space: N0 initial + ids the writer adds */
#define BATCH 20u  /* writer batch */

static char g_dir[64];
/* Deterministic vector of a user id, so any thread can recompute it. */
static void vec_of(uint64_t id, float *x) {
    uint64_t s = id * 0x9e3779b97f4a7c15ull + 1;
    for (int j = 0; j < D; j++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[j] = (float)(s >> 40) / (float)(1 << 24);
    }
}

/* shared state of the worker threads */
typedef struct world {
    vqe_collection *c;
    int stop;
    uint64_t seq;          /* bumped after every acknowledged write */
    uint64_t del_seq[IDS]; /* seq at which an id's delete was acknowledged (0: never) */
    int present[IDS];      /* writer's view: 1 live, 0 absent */
    uint64_t next_id;      /* next id the writer inserts */
    uint64_t writes;       /* acknowledged write requests */
    int errors, bad_deleted, short_results, runs;
    int gate;             /* progress callback: wait for writes */
    uint64_t gate_writes; /* writes seen when the gate opened */
} world;

static world *W;

static void *writer(void *arg) {
    world *w = arg;
    vq_err e;
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) && w->next_id + BATCH < IDS) {
        vqe_record r[BATCH];
        float x[BATCH * D];
        for (unsigned i = 0; i < BATCH; i++) {
            uint64_t id = w->next_id + i;
            vec_of(id, x + i * D);
            r[i] = (vqe_record){.id = {.u = id}, .vector = x + i * D};
        }
        if (vqe_upsert(w->c, r, BATCH, &e)) {
            __atomic_add_fetch(&w->errors, 1, __ATOMIC_RELAXED);
            break;
        }
        for (unsigned i = 0; i < BATCH; i++) w->present[w->next_id + i] = 1;
        w->next_id += BATCH;
        /* delete one of the initial records, every third one not yet deleted */
        uint64_t victim = (w->writes * 3) % N0;
        vqe_id id = {.u = victim};
        size_t nd;
        if (vqe_delete(w->c, &id, 1, &nd, &e)) {
            __atomic_add_fetch(&w->errors, 1, __ATOMIC_RELAXED);
            break;
        }
        if (nd) {
            w->present[victim] = 0;
            uint64_t s = __atomic_add_fetch(&w->seq, 1, __ATOMIC_ACQ_REL);
            __atomic_store_n(&w->del_seq[victim], s, __ATOMIC_RELEASE);
        }
        __atomic_add_fetch(&w->writes, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static void *searcher(void *arg) {
    world *w = arg;
    vqe_search_params p;
    vqe_search_params_default(&p);
    vqe_hit h[10];
    float q[D];
    uint64_t qi = 0;
    while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
        vec_of(qi++ % N0, q);
        uint64_t s0 = __atomic_load_n(&w->seq, __ATOMIC_ACQUIRE);
        size_t nh;
        vq_err e;
        if (vqe_search(w->c, q, &p, h, &nh, NULL, &e)) {
            __atomic_add_fetch(&w->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (nh != 10) __atomic_add_fetch(&w->short_results, 1, __ATOMIC_RELAXED);
        for (size_t t = 0; t < nh; t++) {
            uint64_t ds =
                h[t].id.u < IDS ? __atomic_load_n(&w->del_seq[h[t].id.u], __ATOMIC_ACQUIRE) : 0;
            /* deleted (acknowledged) before this search began, yet returned */
            if (ds && ds <= s0) __atomic_add_fetch(&w->bad_deleted, 1, __ATOMIC_RELAXED);
        }
        __atomic_add_fetch(&w->runs, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

/* Rebuild progress: on the first report, hold the build until the writer has completed 5
 * more writes (proves writes are not blocked by a rebuild and do overlap it). */
static void progress(void *ctx, const char *coll, size_t done, size_t total) {
    (void)ctx, (void)coll, (void)done, (void)total;
    if (!W || !__atomic_load_n(&W->gate, __ATOMIC_ACQUIRE)) return;
    __atomic_store_n(&W->gate, 0, __ATOMIC_RELEASE);
    uint64_t w0 = __atomic_load_n(&W->writes, __ATOMIC_ACQUIRE);
    for (int i = 0; i < 60000; i++) { /* up to 60 s (sanitizers on a loaded host) */
        if (__atomic_load_n(&W->writes, __ATOMIC_ACQUIRE) >= w0 + 5) break;
        usleep(1000);
    }
    W->gate_writes = __atomic_load_n(&W->writes, __ATOMIC_ACQUIRE) - w0;
}

static vqe_db *open_db(void) {
    vqe_db_params dp;
    vqe_db_params_default(&dp);
    dp.progress = progress;
    vqe_db *db;
    vq_err e;
    cr_assert_eq(vqe_db_open(g_dir, &dp, &db, &e), VQ_OK, "%s", e.msg);
    return db;
}

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/vqe_maint_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    W = calloc(1, sizeof *W);
    cr_assert_not_null(W);
}
static void teardown(void) {
    free(W);
    W = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    cr_assert_eq(system(cmd), 0);
}
TestSuite(maint, .init = setup, .fini = teardown);

/* Creates "m" with N0 records; returns NULL when this build has no HNSW. */
static vqe_collection *populate(vqe_db *db, const char *spec) {
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "m");
    s.dim = D;
    s.durability = VQE_DURABLE_GROUP;
    s.group_ms = 5;
    snprintf(s.index_spec, sizeof s.index_spec, "%s", spec);
    vq_err e;
    int rc = vqe_collection_create(db, &s, &e);
    if (rc == VQ_ESPEC) {
        cr_log_info("index/ without %s in this build: %s", spec, e.msg);
        return NULL;
    }
    cr_assert_eq(rc, VQ_OK, "%s", e.msg);
    vqe_collection *c;
    cr_assert_eq(vqe_collection_open(db, "m", &c, &e), VQ_OK, "%s", e.msg);
    float *x = malloc((size_t)N0 * D * 4);
    vqe_record *r = calloc(N0, sizeof *r);
    for (uint64_t i = 0; i < N0; i++) {
        vec_of(i, x + i * D);
        r[i] = (vqe_record){.id = {.u = i}, .vector = x + i * D};
        W->present[i] = 1;
    }
    cr_assert_eq(vqe_upsert(c, r, N0, &e), VQ_OK, "%s", e.msg);
    free(x);
    free(r);
    W->c = c;
    W->next_id = N0;
    return c;
}

/* Every id the writer holds present is found by an index search for its own vector (top
 * hit at distance 0), and no absent id is returned; the index holds exactly the live set. */
static void check_index_matches(vqe_collection *c) {
    vqe_search_params p;
    vqe_search_params_default(&p);
    p.force_plan = 2;
    p.k = 1;
    /* The rebuilt index is a weak graph on purpose (m=8, efc=40): ef 64 found 99.25% of
     * the self-matches in one ASan run, under the 99.5% bar; a wider beam tests what this
     * check is for (every live id reachable in the index), not the graph's recall. */
    p.ef = 256;
    size_t live = 0, found = 0;
    for (uint64_t id = 0; id < W->next_id; id++) {
        if (!W->present[id]) continue;
        live++;
        float q[D];
        vec_of(id, q);
        vqe_hit h[1];
        size_t nh;
        vq_err e;
        cr_assert_eq(vqe_search(c, q, &p, h, &nh, NULL, &e), VQ_OK, "%s", e.msg);
        found += nh == 1 && h[0].id.u == id;
    }
    vqe_maint_info mi;
    vqe_maint_info_get(c, &mi);
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_expect_eq(in.count, live);
    cr_expect_eq(mi.index_live, live, "index holds %llu, %zu live",
                 (unsigned long long)mi.index_live, live);
    /* HNSW may miss an exact self-match rarely; the index must hold every one */
    cr_expect(found >= live - live / 200, "%zu of %zu live ids found by their own vector", found,
              live);
}

Test(maint, rebuild_beside_while_searching_and_writing) {
    vqe_db *db = open_db();
    vqe_collection *c = populate(db, "hnsw:m=12,efc=60/f32");
    if (!c) {
        vqe_db_close(db);
        return;
    }
    vqe_maint_params mp;
    vqe_maint_params_default(&mp);
    mp.compact_fraction = 0; /* only the explicit rebuild here */
    vq_err e;
    cr_assert_eq(vqe_maint_set(c, &mp, &e), VQ_OK, "%s", e.msg);
    pthread_t tw, ts[2];
    pthread_create(&tw, NULL, writer, W);
    for (int i = 0; i < 2; i++) pthread_create(&ts[i], NULL, searcher, W);
    __atomic_store_n(&W->gate, 1, __ATOMIC_RELEASE);
    vqe_rebuild_params rp;
    vqe_rebuild_params_default(&rp);
    rp.index_spec = "hnsw:m=8,efc=40/sq8/rerank=4";
    rp.threads = 2;
    cr_expect_eq(vqe_rebuild_with(c, &rp, &e), VQ_OK, "%s", e.msg);
    /* let writes continue on the new index a little, then stop everything */
    uint64_t w1 = __atomic_load_n(&W->writes, __ATOMIC_ACQUIRE);
    for (int i = 0; i < 5000 && __atomic_load_n(&W->writes, __ATOMIC_ACQUIRE) < w1 + 3; i++)
        usleep(1000);
    __atomic_store_n(&W->stop, 1, __ATOMIC_RELEASE);
    pthread_join(tw, NULL);
    for (int i = 0; i < 2; i++) pthread_join(ts[i], NULL);
    cr_expect_geq(W->gate_writes, 5, "writes blocked during the rebuild (%llu done)",
                  (unsigned long long)W->gate_writes);
    cr_expect_eq(W->errors, 0);
    cr_expect_eq(W->bad_deleted, 0, "%d deleted ids returned", W->bad_deleted);
    cr_expect_eq(W->short_results, 0, "%d searches returned < 10", W->short_results);
    cr_expect_gt(W->runs, 0);
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_expect_str_eq(in.schema.index_spec, "hnsw:m=8,efc=40/sq8/rerank=4");
    vqe_maint_info mi;
    vqe_maint_info_get(c, &mi);
    cr_expect_eq(mi.rebuilds, 1);
    check_index_matches(c);
    /* restart: the new SPEC is in the schema and the saved index reloads */
    vqe_db_close(db);
    db = open_db();
    cr_assert_eq(vqe_collection_open(db, "m", &c, &e), VQ_OK, "%s", e.msg);
    vqe_collection_info_get(c, &in);
    cr_expect_str_eq(in.schema.index_spec, "hnsw:m=8,efc=40/sq8/rerank=4");
    cr_expect_eq(in.index_loaded, 1);
    check_index_matches(c);
    /* a bad SPEC is rejected and changes nothing */
    rp.index_spec = "hnsw:m=1/f32";
    cr_expect_neq(vqe_rebuild_with(c, &rp, &e), VQ_OK);
    vqe_collection_info_get(c, &in);
    cr_expect_str_eq(in.schema.index_spec, "hnsw:m=8,efc=40/sq8/rerank=4");
    vqe_db_close(db);
}

Test(maint, background_compaction_while_searching_and_writing) {
    vqe_db *db = open_db();
    vqe_collection *c = populate(db, "hnsw:m=12,efc=60/f32");
    if (!c) {
        vqe_db_close(db);
        return;
    }
    vq_err e;
    vqe_maint_params mp;
    vqe_maint_params_default(&mp);
    mp.compact_fraction = 0.1;
    mp.interval_ms = 5;
    cr_assert_eq(vqe_maint_set(c, &mp, &e), VQ_OK, "%s", e.msg);
    vqe_maint_info mi;
    vqe_maint_info_get(c, &mi);
    cr_expect_eq(mi.background, 1);
    pthread_t tw, ts[2];
    pthread_create(&tw, NULL, writer, W);
    for (int i = 0; i < 2; i++) pthread_create(&ts[i], NULL, searcher, W);
    /* delete a fifth of the initial records in one request: past the 10% threshold */
    vqe_id *del = calloc(N0 / 5, sizeof *del);
    size_t nd = 0;
    for (uint64_t i = 1; i < N0; i += 5) del[nd++] = (vqe_id){.u = i};
    size_t got;
    cr_assert_eq(vqe_delete(c, del, nd, &got, &e), VQ_OK, "%s", e.msg);
    uint64_t s = __atomic_add_fetch(&W->seq, 1, __ATOMIC_ACQ_REL);
    for (size_t i = 0; i < nd; i++) {
        /* the writer deletes ids = 0 mod 3 only; ids = 1 mod 5 may overlap: both absent */
        W->present[del[i].u] = 0;
        __atomic_store_n(&W->del_seq[del[i].u], s, __ATOMIC_RELEASE);
    }
    free(del);
    /* A compaction counts once its index file is saved; on a loaded host under sanitizers
     * that takes minutes of wall clock (it took ~4 min at nice 19 beside other builds).
     * Wait for one that took the fifth away: a compaction that began before the delete
     * (the writer's own deletes can trigger one) swaps in with those tombstones still
     * counted (seen once in CI: 0.195 after the first), and the background thread must then
     * compact again. */
    int done = 0;
    double t_end = vq_now() + 300;
    while (!done && vq_now() < t_end) {
        vqe_maint_info_get(c, &mi);
        done = mi.compactions >= 1 && mi.deleted_fraction < mp.compact_fraction;
        if (!done) usleep(2000);
    }
    cr_expect(done, "no background compaction within 300 s (deleted fraction %.3f)",
              mi.deleted_fraction);
    /* the writer keeps going for a few more writes after the swap */
    uint64_t w1 = __atomic_load_n(&W->writes, __ATOMIC_ACQUIRE);
    for (int i = 0; i < 5000 && __atomic_load_n(&W->writes, __ATOMIC_ACQUIRE) < w1 + 3; i++)
        usleep(1000);
    __atomic_store_n(&W->stop, 1, __ATOMIC_RELEASE);
    pthread_join(tw, NULL);
    for (int i = 0; i < 2; i++) pthread_join(ts[i], NULL);
    cr_expect_eq(W->errors, 0);
    cr_expect_eq(W->bad_deleted, 0, "%d deleted ids returned", W->bad_deleted);
    cr_expect_eq(W->short_results, 0);
    cr_expect_gt(W->runs, 0);
    vqe_maint_info_get(c, &mi);
    cr_expect_eq(mi.last_error, VQ_OK);
    /* reclaimed: what is left are the writer's deletes after the last compaction */
    cr_expect_lt(mi.deleted_fraction, 0.1, "deleted fraction %.3f after compaction",
                 mi.deleted_fraction);
    check_index_matches(c);
    vqe_db_close(db); /* joins the maintenance thread */
}

Test(maint, explicit_compact_and_disabled_background) {
    vqe_db *db = open_db();
    vqe_collection *c = populate(db, "hnsw:m=12,efc=60/f32");
    if (!c) {
        vqe_db_close(db);
        return;
    }
    vq_err e;
    vqe_maint_params mp;
    vqe_maint_params_default(&mp);
    cr_expect_eq(mp.compact_fraction, VQE_COMPACT_FRACTION_DEFAULT);
    mp.compact_fraction = 0; /* disabled */
    mp.interval_ms = 2;
    cr_assert_eq(vqe_maint_set(c, &mp, &e), VQ_OK, "%s", e.msg);
    vqe_id del[N0 / 2];
    for (uint64_t i = 0; i < N0 / 2; i++) {
        del[i] = (vqe_id){.u = 2 * i};
        W->present[2 * i] = 0;
    }
    cr_assert_eq(vqe_delete(c, del, N0 / 2, NULL, &e), VQ_OK, "%s", e.msg);
    usleep(100000); /* 50 wake-ups: none may compact */
    vqe_maint_info mi;
    vqe_maint_info_get(c, &mi);
    cr_expect_eq(mi.compactions, 0);
    cr_expect_eq(mi.index_deleted, N0 / 2);
    cr_expect_eq(vqe_compact(c, &e), VQ_OK, "%s", e.msg);
    vqe_maint_info_get(c, &mi);
    cr_expect_eq(mi.compactions, 1);
    cr_expect_eq(mi.index_deleted, 0);
    cr_expect_eq(mi.index_live, N0 / 2);
    check_index_matches(c);
    /* parameter validation names the field */
    mp.compact_fraction = 1.5;
    cr_expect_eq(vqe_maint_set(c, &mp, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "compact_fraction");
    mp.compact_fraction = 0.2;
    mp.interval_ms = 0;
    cr_expect_eq(vqe_maint_set(c, &mp, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "interval_ms");
    vqe_rebuild_params rp;
    vqe_rebuild_params_default(&rp);
    rp.threads = VQE_REBUILD_THREADS_MAX + 1;
    cr_expect_eq(vqe_rebuild_with(c, &rp, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "threads");
    vqe_db_close(db);
}
