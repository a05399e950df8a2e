/* cmd_snapshot.c — `vqdb snapshot`: a consistent copy of a collection (RocksDB checkpoint +
 * index file + MANIFEST.json) into a new directory. */
#include "engine_cli.h"

int vq_cmd_snapshot(int argc, char **argv) {
    const char *cmd = "snapshot";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb snapshot --data DIR --collection C --out DIR\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1), VQE_OPT("--collection", 1), VQE_OPT("--out", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *out = vqe_cli_get(o, no, "--out");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")) || (rc = vqe_cli_need(cmd, out, "--out")))
        return rc;
    vqe_db *db;
    vqe_collection *c;
    vq_err e = {0};
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (ret) return ret;
    double t0 = vq_now();
    if ((rc = vqe_collection_open(db, cname, &c, &e)) || (rc = vqe_snapshot(c, out, &e)))
        ret = vq_cli_fail(cmd, rc, &e);
    else
        printf("snapshot of %s written to %s in %.2f s\n", cname, out, vq_now() - t0);
    vqe_db_close(db);
    return ret;
}
