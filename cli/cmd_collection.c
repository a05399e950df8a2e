/* cmd_collection.c — `vqdb collection create|list|describe|drop`: collection life cycle in
 * a data directory. */
#include <cjson/cJSON.h>

#include "engine_cli.h"

static int usage(FILE *f) {
    fprintf(f, "usage: vqdb collection create --data DIR --name C --dim D [--metric l2|ip|cos]\n"
               "                              [--index SPEC] [--schema FILE.json]\n"
               "                              [--durability sync|group] [--group-ms N]\n"
               "       vqdb collection list --data DIR\n"
               "       vqdb collection describe --data DIR --name C\n"
               "       vqdb collection drop --data DIR --name C\n"
               "SPEC is an index/ spec (default flat/f32), e.g. hnsw:m=16,efc=200/sq8/rerank=4.\n"
               "Schema file: {\"fields\": {\"tenant\": \"int64\", \"price\": \"double\", \"lang\": "
               "\"keyword\",\n  \"tags\": \"keyword[]\", \"public\": \"bool\", \"body\": "
               "\"text\"}}\n");
    return f == stdout ? 0 : 2;
}

int vq_cmd_collection(int argc, char **argv) {
    const char *cmd = "collection";
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage(argc < 2 ? stderr : stdout);
    const char *sub = argv[1];
    vqe_cli_opt o[] = {VQE_OPT("--data", 1),       VQE_OPT("--name", 1),    VQE_OPT("--dim", 1),
                       VQE_OPT("--metric", 1),     VQE_OPT("--index", 1),   VQE_OPT("--schema", 1),
                       VQE_OPT("--durability", 1), VQE_OPT("--group-ms", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 2, o, no);
    if (rc) return rc;
    const char *dir = vqe_cli_get(o, no, "--data"), *name = vqe_cli_get(o, no, "--name");
    if ((rc = vqe_cli_need(cmd, dir, "--data"))) return rc;
    int is_create = !strcmp(sub, "create");
    if (!is_create && strcmp(sub, "list") && strcmp(sub, "describe") && strcmp(sub, "drop")) {
        fprintf(stderr, "vqdb collection: unknown action '%s'\n", sub);
        return usage(stderr);
    }
    if (strcmp(sub, "list") && (rc = vqe_cli_need(cmd, name, "--name"))) return rc;
    vqe_db *db;
    if ((rc = vqe_cli_open(cmd, dir, is_create, &db))) return rc;
    vq_err e = {0};
    int ret = 0;
    if (is_create) {
        vqe_schema s;
        vqe_schema_default(&s);
        snprintf(s.name, sizeof s.name, "%s", name);
        const char *v;
        unsigned long u;
        if ((rc = vqe_cli_need(cmd, vqe_cli_get(o, no, "--dim"), "--dim")) ||
            (rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "--dim"), "--dim", 1, VQ_DIM_MAX, &u))) {
            vqe_db_close(db);
            return rc;
        }
        s.dim = (unsigned)u;
        if ((v = vqe_cli_get(o, no, "--metric")) && (rc = vq_metric_parse(v, &s.metric, &e)))
            ret = vq_cli_fail(cmd, rc, &e);
        if (!ret && (v = vqe_cli_get(o, no, "--index"))) {
            if (strlen(v) >= sizeof s.index_spec) {
                fprintf(stderr, "vqdb collection: --index longer than %zu bytes\n",
                        sizeof s.index_spec - 1);
                ret = 2;
            } else {
                snprintf(s.index_spec, sizeof s.index_spec, "%s", v);
            }
        }
        if (!ret && (v = vqe_cli_get(o, no, "--durability"))) {
            if (!strcmp(v, "sync"))
                s.durability = VQE_DURABLE_SYNC;
            else if (!strcmp(v, "group"))
                s.durability = VQE_DURABLE_GROUP;
            else
                fprintf(stderr, "vqdb collection: --durability must be sync or group\n"), ret = 2;
        }
        if (!ret && (v = vqe_cli_get(o, no, "--group-ms"))) {
            ret = vqe_cli_uint(cmd, v, "--group-ms", VQE_GROUP_MS_MIN, VQE_GROUP_MS_MAX, &u);
            s.group_ms = (unsigned)u;
        }
        if (!ret && (v = vqe_cli_get(o, no, "--schema"))) {
            FILE *f = fopen(v, "rb");
            char *buf = NULL;
            long len = 0;
            if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (1 << 20) &&
                fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) &&
                fread(buf, 1, (size_t)len, f) == (size_t)len) {
                buf[len] = 0;
                if ((rc = vqe_schema_fields_from_json(&s, buf, &e))) ret = vq_cli_fail(cmd, rc, &e);
            } else {
                fprintf(stderr, "vqdb collection: cannot read schema file %s\n", v);
                ret = 1;
            }
            free(buf);
            if (f) fclose(f);
        }
        if (!ret && (rc = vqe_collection_create(db, &s, &e))) ret = vq_cli_fail(cmd, rc, &e);
        if (!ret)
            printf("created collection %s (dim %u, %s, index %s, %s)\n", s.name, s.dim,
                   vq_metric_name(s.metric), s.index_spec,
                   s.durability == VQE_DURABLE_SYNC ? "sync" : "group");
    } else if (!strcmp(sub, "list")) {
        char **names;
        size_t n;
        if ((rc = vqe_collection_list(db, &names, &n, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
        } else {
            for (size_t i = 0; i < n; i++) printf("%s\n", names[i]);
            vqe_names_free(names, n);
        }
    } else if (!strcmp(sub, "describe")) {
        vqe_collection *c;
        if ((rc = vqe_collection_open(db, name, &c, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
        } else {
            vqe_collection_info in;
            vqe_collection_info_get(c, &in);
            char *js;
            if ((rc = vqe_schema_to_json(&in.schema, &js, &e))) {
                ret = vq_cli_fail(cmd, rc, &e);
            } else {
                cJSON *o2 = cJSON_Parse(js);
                cJSON_AddNumberToObject(o2, "count", (double)in.count);
                cJSON_AddNumberToObject(o2, "internal_ids", (double)in.next_internal);
                cJSON_AddNumberToObject(o2, "write_counter", (double)in.write_counter);
                cJSON_AddStringToObject(o2, "index_impl", in.index_impl);
                cJSON_AddStringToObject(o2, "index_source",
                                        in.index_loaded ? "loaded from file" : "rebuilt");
                cJSON_AddNumberToObject(o2, "load_seconds", in.load_seconds);
                uint64_t bytes;
                if (!vqe_dir_bytes(dir, &bytes, NULL))
                    cJSON_AddNumberToObject(o2, "data_dir_bytes", (double)bytes);
                char *out = cJSON_Print(o2);
                printf("%s\n", out);
                cJSON_free(out);
                cJSON_Delete(o2);
                vq_free(js);
            }
        }
    } else {
        if ((rc = vqe_collection_drop(db, name, &e)))
            ret = vq_cli_fail(cmd, rc, &e);
        else
            printf("dropped collection %s\n", name);
    }
    vqe_db_close(db);
    return ret;
}
