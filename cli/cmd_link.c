/* cmd_link.c — `vqdb link`: adds, removes or lists typed links between records of a
 * collection (engine/graph.h): --from ID --to ID --type next|chunk|cite|related [--weight W]
 * [--remove], or --list ID. Links are written durably and used by `vqdb query --hops N`. */
#include "engine_cli.h"
#include "graph.h"

int vq_cmd_link(int argc, char **argv) {
    const char *cmd = "link";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb link --data DIR --collection C --from ID --to ID "
               "[--type next|chunk|cite|related] [--weight W] [--remove]\n"
               "       vqdb link --data DIR --collection C --list ID\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1),   VQE_OPT("--collection", 1), VQE_OPT("--from", 1),
                       VQE_OPT("--to", 1),     VQE_OPT("--type", 1),       VQE_OPT("--weight", 1),
                       VQE_OPT("--remove", 0), VQE_OPT("--list", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *from = vqe_cli_get(o, no, "--from"), *to = vqe_cli_get(o, no, "--to"),
               *type = vqe_cli_get(o, no, "--type"), *wt = vqe_cli_get(o, no, "--weight"),
               *list = vqe_cli_get(o, no, "--list");
    int remove = vqe_cli_get(o, no, "--remove") != NULL;
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")))
        return rc;
    if (!list && (!from || !to)) {
        fprintf(stderr, "vqdb link: give --from and --to, or --list\n");
        return 2;
    }
    vq_err e = {0};
    vqe_link l = {.type = VQE_LINK_NEXT};
    if (type && (rc = vqe_link_type_parse(type, &l.type, &e))) return vq_cli_fail(cmd, rc, &e);
    if (wt) {
        char *end = NULL;
        l.weight = strtof(wt, &end);
        if (end == wt || *end) {
            fprintf(stderr, "vqdb link: --weight '%s' is not a number\n", wt);
            return 2;
        }
    }
    vqe_db *db;
    vqe_collection *c;
    int ret = vqe_cli_open(cmd, dir, 0, &db);
    if (ret) return ret;
    if ((rc = vqe_collection_open(db, cname, &c, &e))) {
        ret = vq_cli_fail(cmd, rc, &e);
    } else if (list) {
        vqe_id id;
        vqe_cli_id(list, &id);
        vqe_links L;
        if ((rc = vqe_link_list(c, &id, VQE_LINKS_BOTH, &L, &e))) {
            ret = vq_cli_fail(cmd, rc, &e);
        } else {
            for (size_t i = 0; i < L.n; i++) {
                char a[80], b[80];
                printf("%s -%s-> %s  weight %g\n", vqe_id_str(&L.links[i].from, a, sizeof a),
                       vqe_link_type_name(L.links[i].type), vqe_id_str(&L.links[i].to, b, sizeof b),
                       L.links[i].weight);
            }
            vqe_links_free(&L);
        }
    } else {
        vqe_cli_id(from, &l.from);
        vqe_cli_id(to, &l.to);
        size_t removed = 0;
        rc = remove ? vqe_link_remove(c, &l, 1, &removed, &e) : vqe_link_add(c, &l, 1, &e);
        if (rc)
            ret = vq_cli_fail(cmd, rc, &e);
        else if (remove)
            printf("removed %zu link\n", removed);
        else
            printf("linked %s -> %s (%s)\n", from, to, vqe_link_type_name(l.type));
    }
    vqe_db_close(db);
    return ret;
}
