/* Storage and restart: a reopened collection gives identical search results; the index
 * file is reloaded when current and rebuilt when missing or corrupted; corrupted RocksDB
 * files make the open fail with VQ_ECORRUPT instead of serving; a second process cannot
 * open the same data directory for writing. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

#define N 3000
#define D 24
#define NQ 20
#define K 10

static uint64_t s_rng = 99;
static float frand(void) {
    s_rng ^= s_rng << 13, s_rng ^= s_rng >> 7, s_rng ^= s_rng << 17;
    return (float)((s_rng >> 11) * 0x1.0p-53) * 2 - 1;
}

static void fill(const char *dir, float *x, float *q) {
    vqe_db *db;
    vq_err e;
    cr_assert_eq(vqe_db_open(dir, NULL, &db, &e), VQ_OK, "%s", e.msg);
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "r");
    s.dim = D;
    s.durability = VQE_DURABLE_GROUP;
    cr_assert_eq(vqe_schema_fields_from_json(&s, "{\"fields\": {\"b\": \"bool\"}}", &e), VQ_OK);
    cr_assert_eq(vqe_collection_create(db, &s, &e), VQ_OK, "%s", e.msg);
    vqe_collection *c;
    cr_assert_eq(vqe_collection_open(db, "r", &c, &e), VQ_OK);
    for (size_t i = 0; i < (size_t)N * D; i++) x[i] = frand();
    for (size_t i = 0; i < (size_t)NQ * D; i++) q[i] = frand();
    for (size_t b = 0; b < N; b += 500) {
        vqe_record r[500];
        vqe_value v[500];
        for (size_t i = 0; i < 500; i++) {
            v[i] = (vqe_value){.field = "b", .type = VQE_BOOL, .b = (int)((b + i) % 3 == 0)};
            r[i] = (vqe_record){
                .id = {.u = b + i}, .vector = x + (b + i) * D, .values = &v[i], .n_values = 1};
        }
        cr_assert_eq(vqe_upsert(c, r, 500, &e), VQ_OK, "%s", e.msg);
    }
    vqe_id del = {.u = 17};
    cr_assert_eq(vqe_delete(c, &del, 1, NULL, &e), VQ_OK);
    vqe_db_close(db);
}

static void results(const char *dir, const float *q, uint64_t *ids, float *sc, int *loaded) {
    vqe_db *db;
    vq_err e;
    cr_assert_eq(vqe_db_open(dir, NULL, &db, &e), VQ_OK, "%s", e.msg);
    vqe_collection *c;
    cr_assert_eq(vqe_collection_open(db, "r", &c, &e), VQ_OK, "%s %s", e.field, e.msg);
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_assert_eq(in.count, N - 1);
    if (loaded) *loaded = in.index_loaded;
    vqe_filter *f;
    cr_assert_eq(vqe_filter_parse("b = true", &f, &e), VQ_OK);
    cr_assert_eq(vqe_filter_bind(f, &in.schema, &e), VQ_OK);
    for (int i = 0; i < NQ; i++) {
        vqe_search_params p;
        vqe_search_params_default(&p);
        p.k = K;
        p.ef = 100;
        p.filter = i % 2 ? f : NULL;
        vqe_hit h[K];
        size_t nh;
        cr_assert_eq(vqe_search(c, q + i * D, &p, h, &nh, NULL, &e), VQ_OK, "%s", e.msg);
        cr_assert_eq(nh, K);
        for (int t = 0; t < K; t++) {
            ids[i * K + t] = h[t].id.u;
            sc[i * K + t] = h[t].score;
            cr_assert_neq(h[t].id.u, 17);
        }
    }
    vqe_filter_free(f);
    vqe_db_close(db);
}

static char *mkdir_tmp(void) {
    static char d[64];
    snprintf(d, sizeof d, "/tmp/vqe_store_XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}
static void rmrf(const char *d) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    cr_assert_eq(system(cmd), 0);
}

static void flip(const char *path, long at, int n) {
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f, "%s", path);
    for (int i = 0; i < n; i++) {
        fseek(f, at + i, SEEK_SET);
        int c = fgetc(f);
        fseek(f, at + i, SEEK_SET);
        fputc(c ^ 0x5a, f);
    }
    fclose(f);
}

Test(store, restart_gives_identical_results_and_index_reload_or_rebuild) {
    char *dir = mkdir_tmp();
    static float x[N * D], q[NQ * D];
    fill(dir, x, q);
    static uint64_t a[NQ * K], b[NQ * K];
    static float sa[NQ * K], sb[NQ * K];
    int loaded;
    results(dir, q, a, sa, &loaded);
    results(dir, q, b, sb, &loaded);
    cr_expect_eq(memcmp(a, b, sizeof a), 0, "results changed across a restart");
    cr_expect_eq(memcmp(sa, sb, sizeof sa), 0);
    char ip[128];
    snprintf(ip, sizeof ip, "%s/index/1.vqi", dir);
    struct stat st;
    if (stat(ip, &st) == 0) {
        cr_expect(loaded, "the saved index was not reloaded");
        /* corrupted index file: rebuilt, same results */
        flip(ip, st.st_size / 2, 64);
        results(dir, q, b, sb, &loaded);
        cr_expect(!loaded, "a corrupted index file was used");
        cr_expect_eq(memcmp(a, b, sizeof a), 0);
        /* missing index file: rebuilt */
        unlink(ip);
        results(dir, q, b, sb, &loaded);
        cr_expect_eq(memcmp(a, b, sizeof a), 0);
    } else {
        cr_log_info("no index file: index/ is not built, searches are exact scans");
        cr_expect(!loaded);
    }
    rmrf(dir);
}

Test(store, corrupted_rocksdb_refuses_to_serve) {
    char *dir = mkdir_tmp();
    static float x[N * D], q[NQ * D];
    fill(dir, x, q);
    /* the largest SST holds the vectors: damage its middle */
    char dbdir[128], best[512] = "";
    snprintf(dbdir, sizeof dbdir, "%s/db", dir);
    DIR *d = opendir(dbdir);
    cr_assert_not_null(d);
    struct dirent *de;
    off_t bsz = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 4 || strcmp(de->d_name + l - 4, ".sst")) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dbdir, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && st.st_size > bsz)
            bsz = st.st_size, snprintf(best, sizeof best, "%s", p);
    }
    closedir(d);
    cr_assert(bsz > 100000, "no SST file with the vectors (largest %ld bytes)", (long)bsz);
    flip(best, bsz / 3, 256);
    vqe_db *db;
    vq_err e = {0};
    int rc = vqe_db_open(dir, NULL, &db, &e);
    if (rc == VQ_OK) {
        vqe_collection *c;
        rc = vqe_collection_open(db, "r", &c, &e);
        vqe_db_close(db);
    }
    cr_expect_eq(rc, VQ_ECORRUPT, "opened a corrupted store: rc %d %s", rc, e.msg);
    rmrf(dir);
}

Test(store, missing_dir_and_lock) {
    vqe_db_params p;
    vqe_db_params_default(&p);
    p.create_if_missing = 0;
    vqe_db *db, *db2;
    vq_err e;
    cr_expect_eq(vqe_db_open("/tmp/vqe_no_such_dir_xyz", &p, &db, &e), VQ_ENOTFOUND);
    char *dir = mkdir_tmp();
    cr_assert_eq(vqe_db_open(dir, NULL, &db, &e), VQ_OK);
    /* RocksDB's LOCK file: a second writer on the same directory is refused */
    cr_expect_eq(vqe_db_open(dir, NULL, &db2, &e), VQ_EIO);
    vqe_db_close(db);
    rmrf(dir);
}
