/* cmd_query.c — `vqdb query`: k-nearest search of every query in a vector file, with an
 * optional filter expression. --json prints one line per query:
 * {"query": i, "ids": [...], "scores": [...]}; otherwise "i: id(score) ...". A summary
 * (QPS, plans used, recall@k when --gt gives ground truth as user ids) goes to stderr. */
#include <cjson/cJSON.h>

#include "engine_cli.h"
#include "readers.h"

int vq_cmd_query(int argc, char **argv) {
    const char *cmd = "query";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb query --data DIR --collection C --queries FILE -k K [--filter EXPR]\n"
               "                  [--ef N] [--json] [--gt FILE.ivecs] [--plan auto|exact|index]\n"
               "                  [--exact-threshold N]\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1),    VQE_OPT("--collection", 1),
                       VQE_OPT("--queries", 1), VQE_OPT("-k", 1),
                       VQE_OPT("--filter", 1),  VQE_OPT("--ef", 1),
                       VQE_OPT("--json", 0),    VQE_OPT("--gt", 1),
                       VQE_OPT("--plan", 1),    VQE_OPT("--exact-threshold", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *qf = vqe_cli_get(o, no, "--queries"), *ftext = vqe_cli_get(o, no, "--filter"),
               *gtf = vqe_cli_get(o, no, "--gt"), *plan = vqe_cli_get(o, no, "--plan");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")) ||
        (rc = vqe_cli_need(cmd, qf, "--queries")))
        return rc;
    vqe_search_params p;
    vqe_search_params_default(&p);
    unsigned long u;
    if (vqe_cli_get(o, no, "-k")) {
        if ((rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "-k"), "-k", 1, VQE_K_MAX, &u))) return rc;
        p.k = (unsigned)u;
    }
    if (vqe_cli_get(o, no, "--ef")) {
        if ((rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "--ef"), "--ef", 1, 100000, &u))) return rc;
        p.ef = (unsigned)u;
    }
    if (vqe_cli_get(o, no, "--exact-threshold")) {
        if ((rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "--exact-threshold"), "--exact-threshold", 1,
                               1ul << 32, &u)))
            return rc;
        p.exact_threshold = u;
    }
    if (plan) {
        if (!strcmp(plan, "exact"))
            p.force_plan = 1;
        else if (!strcmp(plan, "index"))
            p.force_plan = 2;
        else if (strcmp(plan, "auto")) {
            fprintf(stderr, "vqdb query: --plan must be auto, exact or index\n");
            return 2;
        }
    }
    int json = vqe_cli_flag(o, no, "--json");
    vq_err e = {0};
    vq_matrix q = {0};
    vq_imatrix gt = {0};
    if ((rc = vq_read_vectors(qf, 0, &q, &e))) return vq_cli_fail(cmd, rc, &e);
    if (gtf && (rc = vq_read_ivecs(gtf, q.n, &gt, &e))) {
        vq_matrix_free(&q);
        return vq_cli_fail(cmd, rc, &e);
    }
    vqe_db *db = NULL;
    vqe_collection *c = NULL;
    vqe_filter *f = NULL;
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (!ret && (rc = vqe_collection_open(db, cname, &c, &e))) ret = vq_cli_fail(cmd, rc, &e);
    vqe_collection_info in;
    if (!ret) {
        vqe_collection_info_get(c, &in);
        if (q.d != in.schema.dim) {
            fprintf(stderr, "vqdb query: queries have dimension %zu, collection %s has %u\n", q.d,
                    cname, in.schema.dim);
            ret = 1;
        }
    }
    if (!ret && ftext) {
        if ((rc = vqe_filter_parse(ftext, &f, &e)) || (rc = vqe_filter_bind(f, &in.schema, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
            if (!strncmp(e.field, "filter:", 7)) {
                unsigned col = (unsigned)strtoul(e.field + 7, NULL, 10);
                fprintf(stderr, "  %s\n  %*s^\n", ftext, col ? (int)col - 1 : 0, "");
            }
        }
        p.filter = f;
    }
    if (!ret) {
        vqe_hit *h = malloc(p.k * sizeof *h);
        size_t plans[4] = {0};
        double hits = 0, t0 = vq_now();
        for (size_t i = 0; i < q.n && !ret; i++) {
            size_t nh;
            vqe_explain ex;
            if ((rc = vqe_search(c, q.data + i * q.d, &p, h, &nh, &ex, &e))) {
                ret = vq_cli_fail(cmd, rc, &e);
                break;
            }
            plans[ex.plan]++;
            if (gtf && i < gt.n) {
                size_t kk = p.k < gt.d ? p.k : gt.d;
                for (size_t a = 0; a < nh && a < kk; a++)
                    for (size_t b = 0; b < kk; b++)
                        if (!h[a].id.is_str && h[a].id.u == (uint64_t)gt.data[i * gt.d + b]) {
                            hits++;
                            break;
                        }
            }
            char buf[4200];
            if (json) {
                printf("{\"query\": %zu, \"ids\": [", i);
                for (size_t t = 0; t < nh; t++) {
                    if (h[t].id.is_str) {
                        cJSON *s = cJSON_CreateString(h[t].id.s);
                        char *js = cJSON_PrintUnformatted(s);
                        printf("%s%s", t ? ", " : "", js);
                        cJSON_free(js);
                        cJSON_Delete(s);
                    } else {
                        printf("%s%llu", t ? ", " : "", (unsigned long long)h[t].id.u);
                    }
                }
                printf("], \"scores\": [");
                for (size_t t = 0; t < nh; t++) printf("%s%.9g", t ? ", " : "", h[t].score);
                printf("]}\n");
            } else {
                printf("%zu:", i);
                for (size_t t = 0; t < nh; t++)
                    printf(" %s(%.6g)", vqe_id_str(&h[t].id, buf, sizeof buf), h[t].score);
                printf("\n");
            }
        }
        double dt = vq_now() - t0;
        if (!ret) {
            fprintf(stderr,
                    "%zu queries in %.3f s: %.1f QPS (1 thread); plans: exact %zu, index %zu, "
                    "index+exact %zu, none %zu",
                    q.n, dt, dt > 0 ? (double)q.n / dt : 0.0, plans[1], plans[2], plans[3],
                    plans[0]);
            if (gtf) {
                size_t kk = p.k < gt.d ? p.k : gt.d;
                fprintf(stderr, "; recall@%zu %.4f", kk, hits / (double)(q.n * kk));
            }
            fprintf(stderr, "\n");
        }
        free(h);
    }
    vqe_filter_free(f);
    vqe_db_close(db);
    vq_matrix_free(&q);
    vq_imatrix_free(&gt);
    return ret;
}
