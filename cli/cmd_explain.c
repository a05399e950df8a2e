/* cmd_explain.c — `vqdb explain`: evaluates a filter on a collection and prints the plan a
 * query with it would take (exact scan or index search), the number of matching records,
 * the selectivity and the cost estimates, without running a search. */
#include "engine_cli.h"

int vq_cmd_explain(int argc, char **argv) {
    const char *cmd = "explain";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb explain --data DIR --collection C --filter EXPR [-k K] [--ef N]\n"
               "                    [--exact-threshold N]\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1),   VQE_OPT("--collection", 1),
                       VQE_OPT("--filter", 1), VQE_OPT("-k", 1),
                       VQE_OPT("--ef", 1),     VQE_OPT("--exact-threshold", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *ftext = vqe_cli_get(o, no, "--filter");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")) ||
        (rc = vqe_cli_need(cmd, ftext, "--filter")))
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
    vq_err e = {0};
    vqe_filter *f = NULL;
    if ((rc = vqe_filter_parse(ftext, &f, &e))) {
        vq_cli_fail(cmd, rc, &e);
        unsigned col = (unsigned)strtoul(e.field + 7, NULL, 10);
        fprintf(stderr, "  %s\n  %*s^\n", ftext, col ? (int)col - 1 : 0, "");
        return 1;
    }
    vqe_db *db;
    vqe_collection *c;
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (ret) {
        vqe_filter_free(f);
        return ret;
    }
    vqe_collection_info in;
    if ((rc = vqe_collection_open(db, cname, &c, &e))) {
        ret = vq_cli_fail(cmd, rc, &e);
    } else {
        vqe_collection_info_get(c, &in);
        vqe_explain ex;
        p.filter = f;
        if ((rc = vqe_filter_bind(f, &in.schema, &e)) || (rc = vqe_explain_plan(c, &p, &ex, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
        } else {
            printf("filter:       %s\n", ex.filter_text);
            printf("records:      %llu live\n", (unsigned long long)ex.live);
            printf("matches:      %llu (selectivity %.4f%%), evaluated in %.3f ms\n",
                   (unsigned long long)ex.matches, 100 * ex.selectivity, ex.filter_ms);
            printf("plan:         %s\n", vqe_plan_name(ex.plan));
            printf("threshold:    exact scan when matches <= %zu\n", ex.threshold);
            printf("index:        %s, ef %u (k %u)\n", ex.index_impl, ex.ef, p.k);
            printf("cost (est.):  exact %.0f distance computations; index ~%.0f\n",
                   ex.est_cost_exact, ex.est_cost_index);
        }
    }
    vqe_filter_free(f);
    vqe_db_close(db);
    return ret;
}
