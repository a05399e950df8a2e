/* cmd_get.c — `vqdb get`: reads records by user id from storage and prints one JSON line
 * each: {"id": ..., "found": true, "vector": [...], "attrs": {...}}. */
#include <cjson/cJSON.h>

#include "engine_cli.h"

int vq_cmd_get(int argc, char **argv) {
    const char *cmd = "get";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb get --data DIR --collection C --ids ID[,ID...] [--no-vector]\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1), VQE_OPT("--collection", 1), VQE_OPT("--ids", 1),
                       VQE_OPT("--no-vector", 0)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *ids = vqe_cli_get(o, no, "--ids");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")) || (rc = vqe_cli_need(cmd, ids, "--ids")))
        return rc;
    char *list = strdup(ids);
    size_t cap = 1;
    for (char *s = list; *s; s++) cap += *s == ',';
    if (cap > VQE_BATCH_MAX) cap = VQE_BATCH_MAX;
    vqe_id *v = malloc(cap * sizeof *v);
    size_t n = vqe_cli_ids(list, v, cap);
    vqe_got *g = calloc(n ? n : 1, sizeof *g);
    vqe_db *db;
    vqe_collection *c;
    vq_err e = {0};
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (!ret) {
        if ((rc = vqe_collection_open(db, cname, &c, &e)) || (rc = vqe_get(c, v, n, g, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
        } else {
            vqe_collection_info in;
            vqe_collection_info_get(c, &in);
            for (size_t i = 0; i < n; i++) {
                cJSON *o2 = cJSON_CreateObject();
                if (v[i].is_str)
                    cJSON_AddStringToObject(o2, "id", v[i].s);
                else
                    cJSON_AddNumberToObject(o2, "id", (double)v[i].u);
                cJSON_AddBoolToObject(o2, "found", g[i].found);
                if (g[i].found) {
                    if (!vqe_cli_flag(o, no, "--no-vector")) {
                        cJSON *a = cJSON_AddArrayToObject(o2, "vector");
                        for (unsigned j = 0; j < in.schema.dim; j++)
                            cJSON_AddItemToArray(a, cJSON_CreateNumber(g[i].vector[j]));
                    }
                    cJSON_AddItemToObject(o2, "attrs", cJSON_Parse(g[i].attrs_json));
                }
                char *s = cJSON_PrintUnformatted(o2);
                printf("%s\n", s);
                cJSON_free(s);
                cJSON_Delete(o2);
            }
            vqe_got_free(g, n);
        }
        vqe_db_close(db);
    }
    free(g);
    free(v);
    free(list);
    return ret;
}
