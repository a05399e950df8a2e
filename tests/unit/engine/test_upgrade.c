/* test_upgrade.c — a data directory written before a column family existed (here: one
 * without "postings", as every directory before text/sparse indexing): a writable open adds
 * the missing column family and works; a read-only open, which cannot add it, fails with
 * VQ_EVERSION and a message saying what to do, until a writable open has upgraded it.
 * The old directory is made with RocksDB's C API directly (the test plays the old vqdb). */
#include <criterion/criterion.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"

static void make_old_dir(const char *dir) {
    char path[700];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/db", dir);
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_options_set_create_missing_column_families(o, 1);
    const char *names[] = {"default", "meta", "vectors", "attrs", "text", "idmap"};
    const rocksdb_options_t *opts[6] = {o, o, o, o, o, o};
    rocksdb_column_family_handle_t *h[6];
    char *e = NULL;
    rocksdb_t *db = rocksdb_open_column_families(o, path, 6, names, opts, h, &e);
    cr_assert_null(e, "%s", e);
    /* The format record vqdb writes: VQE_FORMAT_VERSION, big-endian u32. */
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    const char v[4] = {0, 0, 0, VQE_FORMAT_VERSION};
    rocksdb_put_cf(db, wo, h[1], "format", 6, v, 4, &e);
    cr_assert_null(e, "%s", e);
    rocksdb_writeoptions_destroy(wo);
    for (int i = 0; i < 6; i++) rocksdb_column_family_handle_destroy(h[i]);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
}

Test(upgrade, missing_column_family) {
    char dir[] = "/tmp/vq_upgrade_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[600];
    snprintf(sub, sizeof sub, "%s/d", dir);
    make_old_dir(sub);
    vqe_db_params p;
    vqe_db_params_default(&p);
    p.read_only = 1;
    vqe_db *db = NULL;
    vq_err err = {0};
    cr_assert_eq(vqe_db_open(sub, &p, &db, &err), VQ_EVERSION, "read-only open of an old dir");
    cr_expect_str_eq(err.field, "data");
    cr_expect(strstr(err.msg, "read-write") != NULL, "%s", err.msg);
    p.read_only = 0;
    p.create_if_missing = 0; /* as `vqdb rebuild` and the other maintenance commands open */
    cr_assert_eq(vqe_db_open(sub, &p, &db, &err), VQ_OK, "writable open: %s", err.msg);
    vqe_db_close(db);
    p.read_only = 1;
    cr_assert_eq(vqe_db_open(sub, &p, &db, &err), VQ_OK, "read-only after upgrade: %s", err.msg);
    vqe_db_close(db);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}
