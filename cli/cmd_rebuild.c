/* cmd_rebuild.c — `vqdb rebuild` (a new index built from the stored vectors beside the
 * serving one and swapped in, optionally in a new index SPEC that the schema then records)
 * and `vqdb compact` (deleted entries reclaimed from the index). Both run engine/maint.c's
 * operations on an opened data directory and save the index file for the next open. */
#include "engine_cli.h"

int vq_cmd_rebuild(int argc, char **argv) {
    const char *cmd = "rebuild";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb rebuild --data DIR --collection C [--index SPEC] [--threads T]\n"
               "  Builds a new index from the stored vectors beside the current one and swaps\n"
               "  it in (searches and writes continue meanwhile in a server); --index changes\n"
               "  the collection's index SPEC (recorded in its schema); --threads: build\n"
               "  threads (default 1, at most %u).\n",
               VQE_REBUILD_THREADS_MAX);
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1), VQE_OPT("--collection", 1), VQE_OPT("--index", 1),
                       VQE_OPT("--threads", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *spec = vqe_cli_get(o, no, "--index"), *th = vqe_cli_get(o, no, "--threads");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")))
        return rc;
    vqe_rebuild_params rp;
    vqe_rebuild_params_default(&rp);
    rp.index_spec = spec;
    unsigned long t = 1;
    if (th && (rc = vqe_cli_uint(cmd, th, "--threads", 1, VQE_REBUILD_THREADS_MAX, &t))) return rc;
    rp.threads = (unsigned)t;
    vqe_db *db;
    vqe_collection *c;
    vq_err e = {0};
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (ret) return ret;
    double t0 = vq_now();
    if ((rc = vqe_collection_open(db, cname, &c, &e))) {
        ret = vq_cli_fail(cmd, rc, &e);
    } else {
        double t1 = vq_now();
        if ((rc = vqe_rebuild_with(c, &rp, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
        } else {
            vqe_collection_info in;
            vqe_collection_info_get(c, &in);
            printf("rebuilt the index of %s: %llu vectors, %s, in %.2f s (open %.2f s)\n", cname,
                   (unsigned long long)in.count, in.schema.index_spec, vq_now() - t1, t1 - t0);
        }
    }
    vqe_db_close(db);
    return ret;
}

int vq_cmd_compact(int argc, char **argv) {
    const char *cmd = "compact";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb compact --data DIR --collection C\n"
               "  Reclaims the index entries of deleted records (a compacted copy is built\n"
               "  beside the index and swapped in). Open collections also compact in the\n"
               "  background once %.0f%% of their index entries are deleted.\n",
               100 * VQE_COMPACT_FRACTION_DEFAULT);
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1), VQE_OPT("--collection", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")))
        return rc;
    vqe_db *db;
    vqe_collection *c;
    vq_err e = {0};
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (ret) return ret;
    if ((rc = vqe_collection_open(db, cname, &c, &e))) {
        ret = vq_cli_fail(cmd, rc, &e);
    } else {
        vqe_maint_info before, after;
        vqe_maint_info_get(c, &before);
        double t0 = vq_now();
        if ((rc = vqe_compact(c, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
        } else {
            vqe_maint_info_get(c, &after);
            printf("compacted %s: %llu deleted entries reclaimed, %llu live, in %.2f s\n", cname,
                   (unsigned long long)(before.index_deleted - after.index_deleted),
                   (unsigned long long)after.index_live, vq_now() - t0);
        }
    }
    vqe_db_close(db);
    return ret;
}
