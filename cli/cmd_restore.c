/* cmd_restore.c — `vqdb restore`: restores a collection from a snapshot directory into a
 * data directory, under its own name or --as NAME (which must not exist). */
#include "engine_cli.h"

int vq_cmd_restore(int argc, char **argv) {
    const char *cmd = "restore";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb restore --data DIR --from SNAPSHOT_DIR [--as NAME]\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1), VQE_OPT("--from", 1), VQE_OPT("--as", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *from = vqe_cli_get(o, no, "--from"),
               *as = vqe_cli_get(o, no, "--as");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) || (rc = vqe_cli_need(cmd, from, "--from")))
        return rc;
    vqe_db *db;
    vq_err e = {0};
    int ret = vqe_cli_open(cmd, dir, 1, &db);
    if (ret) return ret;
    double t0 = vq_now();
    if ((rc = vqe_restore(db, from, as, &e)))
        ret = vq_cli_fail(cmd, rc, &e);
    else
        printf("restored %s into %s in %.2f s\n", from, dir, vq_now() - t0);
    vqe_db_close(db);
    return ret;
}
