/* dbtest.h — the fixture shared by engine tests that work on one data directory: a fresh
 * temporary directory opened as g_db before each test (prefix DBTEST_PREFIX), removed after,
 * and reopen() to close and open it again (restart tests). Header-only: each test file is
 * one executable. */
#ifndef VQ_DBTEST_H
#define VQ_DBTEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine.h"

#ifndef DBTEST_PREFIX
#define DBTEST_PREFIX "vqe_test"
#endif

static char g_dir[64];
static vqe_db *g_db;

static inline void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/" DBTEST_PREFIX "_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    vq_err e;
    cr_assert_eq(vqe_db_open(g_dir, NULL, &g_db, &e), VQ_OK, "%s", e.msg);
}
static inline void teardown(void) {
    vqe_db_close(g_db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    cr_assert_eq(system(cmd), 0);
}
static inline void reopen(void) {
    vqe_db_close(g_db);
    vq_err e;
    cr_assert_eq(vqe_db_open(g_dir, NULL, &g_db, &e), VQ_OK, "%s", e.msg);
}

#endif
