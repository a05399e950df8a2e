/* cmd_delete.c — `vqdb delete`: deletes records by user id (a comma-separated list or a file
 * with one id per line) as one durable batch. */
#include "engine_cli.h"

int vq_cmd_delete(int argc, char **argv) {
    const char *cmd = "delete";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf(
            "usage: vqdb delete --data DIR --collection C (--ids ID[,ID...] | --ids-file FILE)\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1), VQE_OPT("--collection", 1), VQE_OPT("--ids", 1),
                       VQE_OPT("--ids-file", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *ids = vqe_cli_get(o, no, "--ids"), *idf = vqe_cli_get(o, no, "--ids-file");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")))
        return rc;
    if (!ids == !idf) {
        fprintf(stderr, "vqdb delete: give exactly one of --ids and --ids-file\n");
        return 2;
    }
    char *list = NULL;
    if (ids) {
        list = strdup(ids);
    } else {
        FILE *fp = fopen(idf, "rb");
        long len = -1;
        if (fp && fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
        if (len >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (list = malloc((size_t)len + 1))) {
            size_t got = fread(list, 1, (size_t)len, fp);
            list[got] = 0;
            for (char *s = list; *s; s++)
                if (*s == '\n' || *s == '\r') *s = ',';
        }
        if (fp) fclose(fp);
        if (!list) {
            fprintf(stderr, "vqdb delete: cannot read %s\n", idf);
            return 1;
        }
    }
    size_t cap = 1;
    for (char *s = list; *s; s++) cap += *s == ',';
    vqe_id *v = malloc(cap * sizeof *v);
    size_t n = vqe_cli_ids(list, v, cap);
    vqe_db *db;
    vqe_collection *c;
    vq_err e = {0};
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (!ret) {
        size_t nd = 0;
        if ((rc = vqe_collection_open(db, cname, &c, &e)))
            ret = vq_cli_fail(cmd, rc, &e);
        else {
            for (size_t i = 0; i < n && !ret; i += VQE_BATCH_MAX) {
                size_t m = n - i < VQE_BATCH_MAX ? n - i : VQE_BATCH_MAX, d1 = 0;
                if ((rc = vqe_delete(c, v + i, m, &d1, &e))) ret = vq_cli_fail(cmd, rc, &e);
                nd += d1;
            }
            if (!ret) printf("deleted %zu of %zu ids\n", nd, n);
        }
        vqe_db_close(db);
    }
    free(v);
    free(list);
    return ret;
}
