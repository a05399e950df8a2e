/* cmd_query.c — `vqdb query`: k-nearest search of every query in a vector file, with an
 * optional filter expression; with --text/--texts (BM25 on the text field) and/or --sparse
 * (inner product on a sparse field) a hybrid query per row, its sub-queries fused with
 * --fusion (engine/query.h). --json prints one line per query:
 * {"query": i, "ids": [...], "scores": [...]}; otherwise "i: id(score) ...". A summary
 * (QPS, plans used, recall@k when --gt gives ground truth as user ids) goes to stderr. */
#include <cjson/cJSON.h>
#include <math.h>

#include "engine_cli.h"
#include "query.h"
#include "readers.h"

static void print_hits(size_t i, const vqe_id *ids, size_t stride, const double *scores_d,
                       const vqe_hit *h, size_t nh, int json) {
    char buf[4200];
    if (json)
        printf("{\"query\": %zu, \"ids\": [", i);
    else
        printf("%zu:", i);
    for (size_t t = 0; t < nh; t++) {
        const vqe_id *id = (const vqe_id *)((const char *)ids + t * stride);
        double sc = scores_d ? *(const double *)((const char *)scores_d + t * stride) : h[t].score;
        if (!json) {
            printf(" %s(%.6g)", vqe_id_str(id, buf, sizeof buf), sc);
        } else if (id->is_str) {
            cJSON *s = cJSON_CreateString(id->s);
            char *js = cJSON_PrintUnformatted(s);
            printf("%s%s", t ? ", " : "", js);
            cJSON_free(js);
            cJSON_Delete(s);
        } else {
            printf("%s%llu", t ? ", " : "", (unsigned long long)id->u);
        }
    }
    if (json) {
        printf("], \"scores\": [");
        for (size_t t = 0; t < nh; t++) {
            double sc =
                scores_d ? *(const double *)((const char *)scores_d + t * stride) : h[t].score;
            printf("%s%.9g", t ? ", " : "", sc);
        }
        printf("]}");
    }
    printf("\n");
}

/* Lines of a text file (in place), empty lines kept as queries without terms except a
 * trailing one. Returns the buffer to free, NULL on failure. */
static char *read_lines(const char *path, char ***lines, size_t *n, vq_err *e) {
    uint8_t *buf;
    size_t len;
    if (vq_read_file(path, &buf, &len, e)) return NULL;
    char *s = malloc(len + 1);
    size_t cap = 1024, k = 0;
    char **v = malloc(cap * sizeof *v);
    if (!s || !v) {
        vq_free(buf), free(s), free(v);
        vq_err_set(e, VQ_ENOMEM, path, "out of memory");
        return NULL;
    }
    memcpy(s, buf, len);
    s[len] = 0;
    vq_free(buf);
    for (char *p = s; *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (k == cap) {
            char **nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[k++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    *lines = v;
    *n = k;
    return s;
}

/* One sparse query per JSONL line: {"indices": [...], "values": [...]}. */
typedef struct sq_line {
    uint32_t *idx;
    float *val;
    size_t n;
} sq_line;

static int parse_sparse(const char *path, char **lines, size_t n, sq_line *out, vq_err *e) {
    for (size_t i = 0; i < n; i++) {
        char f[64];
        snprintf(f, sizeof f, "%.30s line %zu", path, i + 1);
        cJSON *o = cJSON_Parse(lines[i]);
        const cJSON *ix = o ? cJSON_GetObjectItemCaseSensitive(o, "indices") : NULL,
                    *vx = o ? cJSON_GetObjectItemCaseSensitive(o, "values") : NULL;
        if (!cJSON_IsArray(ix) || !cJSON_IsArray(vx) ||
            cJSON_GetArraySize(ix) != cJSON_GetArraySize(vx)) {
            cJSON_Delete(o);
            return vq_err_set(e, VQ_EINVAL, f,
                              "expected {\"indices\": [...], \"values\": [...]} of equal "
                              "length");
        }
        size_t m = (size_t)cJSON_GetArraySize(ix);
        out[i].idx = malloc((m ? m : 1) * 4);
        out[i].val = malloc((m ? m : 1) * 4);
        out[i].n = m;
        const cJSON *a = ix->child, *b = vx->child;
        for (size_t j = 0; a && b; j++, a = a->next, b = b->next) {
            double di = a->valuedouble, dv = b->valuedouble;
            if (!cJSON_IsNumber(a) || di != (double)(uint32_t)di || !cJSON_IsNumber(b) ||
                !(fabs(dv) <= 3.4e38)) {
                cJSON_Delete(o);
                return vq_err_set(e, VQ_EINVAL, f,
                                  "entry %zu: index must be an integer in 0..2^32-1 and value "
                                  "a finite number",
                                  j);
            }
            out[i].idx[j] = (uint32_t)di;
            out[i].val[j] = (float)dv;
        }
        cJSON_Delete(o);
    }
    return VQ_OK;
}

typedef struct hybrid_in {
    const vq_matrix *q; /* dense queries or NULL */
    const char *text;   /* --text, for every row */
    char **texts;       /* --texts lines */
    const sq_line *sparse;
    const char *sparse_field;
    size_t rows;
    unsigned prefetch, ef;
    vqe_fusion_params fusion;
    int fusion_set;
    vqe_diversity_params div; /* --diversity (README: "Diversity and graph-augmented retrieval") */
    vqe_graph_params graph;   /* --hops */
} hybrid_in;

static int run_hybrid(const char *cmd, vqe_collection *c, const hybrid_in *in, unsigned k,
                      const vqe_filter *f, int json, const vq_imatrix *gt) {
    vqe_subquery sq[3];
    vqe_query_params p;
    vqe_query_params_default(&p);
    p.k = k;
    p.filter = f;
    p.subs = sq;
    double t0 = vq_now(), hits = 0, sub_ms[3] = {0}, fuse_ms = 0;
    int kinds[3] = {0};
    for (size_t i = 0; i < in->rows; i++) {
        size_t ns = 0;
        if (in->q) {
            vqe_subquery_init(&sq[ns], VQE_SUB_DENSE);
            sq[ns].vector = in->q->data + i * in->q->d;
            sq[ns].ef = in->ef;
            kinds[ns] = VQE_SUB_DENSE;
            ns++;
        }
        if (in->text || in->texts) {
            vqe_subquery_init(&sq[ns], VQE_SUB_TEXT);
            sq[ns].text = in->text ? in->text : in->texts[i];
            sq[ns].text_len = strlen(sq[ns].text);
            kinds[ns] = VQE_SUB_TEXT;
            ns++;
        }
        if (in->sparse) {
            vqe_subquery_init(&sq[ns], VQE_SUB_SPARSE);
            sq[ns].field = in->sparse_field;
            sq[ns].indices = in->sparse[i].idx;
            sq[ns].values = in->sparse[i].val;
            sq[ns].nnz = in->sparse[i].n;
            kinds[ns] = VQE_SUB_SPARSE;
            ns++;
        }
        for (size_t j = 0; j < ns; j++) sq[j].prefetch = in->prefetch;
        p.n_subs = ns;
        p.fusion = in->fusion;
        p.diversity = in->div;
        p.graph = in->graph;
        if (!in->fusion_set && ns == 1) p.fusion.kind = VQE_FUSION_NONE;
        vqe_query_result r;
        vq_err e = {0};
        int rc = vqe_query(c, &p, &r, &e);
        if (rc) {
            fprintf(stderr, "vqdb %s: query %zu (row %zu of the inputs) failed\n", cmd, i, i + 1);
            return vq_cli_fail(cmd, rc, &e);
        }
        for (size_t j = 0; j < ns; j++) sub_ms[j] += r.subs[j].ms;
        fuse_ms += r.fuse_ms;
        if (gt && gt->n && i < gt->n) {
            size_t kk = k < gt->d ? k : gt->d;
            for (size_t a = 0; a < r.n && a < kk; a++)
                for (size_t b = 0; b < kk; b++)
                    if (!r.hits[a].id.is_str &&
                        r.hits[a].id.u == (uint64_t)gt->data[i * gt->d + b]) {
                        hits++;
                        break;
                    }
        }
        print_hits(i, &r.hits[0].id, sizeof *r.hits, &r.hits[0].score, NULL, r.n, json);
        vqe_query_result_free(&r);
    }
    double dt = vq_now() - t0;
    static const char *const kn[] = {"", "dense", "text", "sparse"};
    fprintf(stderr, "%zu queries in %.3f s: %.1f QPS (1 thread); mean ms:", in->rows, dt,
            dt > 0 ? (double)in->rows / dt : 0.0);
    for (int j = 0; j < 3 && kinds[j]; j++)
        fprintf(stderr, " %s %.3f", kn[kinds[j]], in->rows ? sub_ms[j] / (double)in->rows : 0);
    fprintf(stderr, " fusion %.4f", in->rows ? fuse_ms / (double)in->rows : 0);
    if (gt && gt->n) {
        size_t kk = k < gt->d ? k : gt->d;
        fprintf(stderr, "; recall@%zu %.4f", kk, hits / (double)(in->rows * kk));
    }
    fprintf(stderr, "\n");
    return 0;
}

int vq_cmd_query(int argc, char **argv) {
    const char *cmd = "query";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: vqdb query --data DIR --collection C --queries FILE -k K [--filter EXPR]\n"
               "                  [--ef N] [--json] [--gt FILE.ivecs] [--plan auto|exact|index]\n"
               "                  [--exact-threshold N]\n"
               "       hybrid:    [--queries FILE] [--text STRING | --texts FILE] [--sparse "
               "FILE.jsonl]\n"
               "                  [--sparse-field NAME] [--fusion rrf[:k=K]|weighted[:norm="
               "minmax|zscore]|none]\n"
               "                  [--prefetch N]   (BM25 on the text field, inner product on a "
               "sparse field;\n"
               "                  sparse lines are {\"indices\": [...], \"values\": [...]}; "
               "default fusion rrf)\n"
               "                  [--diversity mmr[:lambda=X]|fl] [--hops N]   (after fusion: "
               "graph expansion over\n"
               "                  the collection's links from the top k, then MMR or facility "
               "location;\n"
               "                  README: 'Diversity and graph-augmented retrieval')\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1),      VQE_OPT("--collection", 1),
                       VQE_OPT("--queries", 1),   VQE_OPT("-k", 1),
                       VQE_OPT("--filter", 1),    VQE_OPT("--ef", 1),
                       VQE_OPT("--json", 0),      VQE_OPT("--gt", 1),
                       VQE_OPT("--plan", 1),      VQE_OPT("--exact-threshold", 1),
                       VQE_OPT("--text", 1),      VQE_OPT("--texts", 1),
                       VQE_OPT("--sparse", 1),    VQE_OPT("--sparse-field", 1),
                       VQE_OPT("--fusion", 1),    VQE_OPT("--prefetch", 1),
                       VQE_OPT("--diversity", 1), VQE_OPT("--hops", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *qf = vqe_cli_get(o, no, "--queries"), *ftext = vqe_cli_get(o, no, "--filter"),
               *gtf = vqe_cli_get(o, no, "--gt"), *plan = vqe_cli_get(o, no, "--plan");
    const char *text = vqe_cli_get(o, no, "--text"), *textf = vqe_cli_get(o, no, "--texts"),
               *spf = vqe_cli_get(o, no, "--sparse"), *fus = vqe_cli_get(o, no, "--fusion");
    const char *divs = vqe_cli_get(o, no, "--diversity"), *hops = vqe_cli_get(o, no, "--hops");
    int hybrid = text || textf || spf || fus || vqe_cli_get(o, no, "--prefetch") || divs || hops;
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")) ||
        (!hybrid && (rc = vqe_cli_need(cmd, qf, "--queries"))))
        return rc;
    if (text && textf) {
        fprintf(stderr, "vqdb query: give --text or --texts, not both\n");
        return 2;
    }
    if (hybrid && !qf && !text && !textf && !spf) {
        fprintf(stderr, "vqdb query: give --queries, --text, --texts and/or --sparse\n");
        return 2;
    }
    hybrid_in hin = {.text = text, .sparse_field = vqe_cli_get(o, no, "--sparse-field")};
    vqe_fusion_params_default(&hin.fusion);
    vqe_diversity_params_default(&hin.div);
    vqe_graph_params_default(&hin.graph);
    if (divs) {
        vq_err de = {0};
        if ((rc = vqe_diversity_parse(divs, &hin.div, &de))) return vq_cli_fail(cmd, rc, &de);
    }
    if (hops) {
        unsigned long h;
        if ((rc = vqe_cli_uint(cmd, hops, "--hops", 0, VQE_GRAPH_HOPS_MAX, &h))) return rc;
        hin.graph.mode = h ? VQE_EXPAND_HOPS : VQE_EXPAND_NONE;
        hin.graph.hops = h ? (unsigned)h : 1;
    }
    if (fus) {
        vq_err fe = {0};
        if ((rc = vqe_fusion_parse(fus, &hin.fusion, &fe))) return vq_cli_fail(cmd, rc, &fe);
        hin.fusion_set = 1;
    }
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
    if (vqe_cli_get(o, no, "--prefetch")) {
        if ((rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "--prefetch"), "--prefetch", 1,
                               VQE_PREFETCH_MAX, &u)))
            return rc;
        hin.prefetch = (unsigned)u;
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
    char *tbuf = NULL, *sbuf = NULL, **slines = NULL;
    size_t n_texts = 0, n_sparse = 0;
    sq_line *sp = NULL;
    int ret = 0;
    if (qf && (rc = vq_read_vectors(qf, 0, &q, &e))) return vq_cli_fail(cmd, rc, &e);
    if (textf && !(tbuf = read_lines(textf, &hin.texts, &n_texts, &e)))
        ret = vq_cli_fail(cmd, e.code ? e.code : VQ_EIO, &e);
    if (!ret && spf && !(sbuf = read_lines(spf, &slines, &n_sparse, &e)))
        ret = vq_cli_fail(cmd, e.code ? e.code : VQ_EIO, &e);
    if (!ret && spf) {
        while (n_sparse && !slines[n_sparse - 1][0]) n_sparse--; /* trailing blank lines */
        sp = calloc(n_sparse ? n_sparse : 1, sizeof *sp);
        if (!sp || (rc = parse_sparse(spf, slines, n_sparse, sp, &e)))
            ret = vq_cli_fail(cmd, sp ? rc : VQ_ENOMEM, &e);
        hin.sparse = sp;
    }
    if (!ret && textf)
        while (n_texts && !hin.texts[n_texts - 1][0]) n_texts--;
    /* rows: every multi-query source must have the same count; --text applies to each row */
    size_t rows = qf ? q.n : textf ? n_texts : spf ? n_sparse : 1;
    if (!ret && ((textf && n_texts != rows) || (spf && n_sparse != rows))) {
        fprintf(stderr,
                "vqdb query: query counts differ (--queries %zu, --texts %zu, --sparse %zu)\n",
                qf ? q.n : 0, n_texts, n_sparse);
        ret = 2;
    }
    hin.rows = rows;
    hin.q = qf ? &q : NULL;
    hin.ef = p.ef;
    if (!ret && gtf && (rc = vq_read_ivecs(gtf, rows, &gt, &e))) ret = vq_cli_fail(cmd, rc, &e);
    if (ret) {
        vq_matrix_free(&q);
        free(tbuf), free(sbuf), free(hin.texts), free(slines);
        for (size_t i = 0; sp && i < n_sparse; i++) free(sp[i].idx), free(sp[i].val);
        free(sp);
        return ret;
    }
    vqe_db *db = NULL;
    vqe_collection *c = NULL;
    vqe_filter *f = NULL;
    ret = vqe_cli_open(cmd, dir, 0, &db);
    if (!ret && (rc = vqe_collection_open(db, cname, &c, &e))) ret = vq_cli_fail(cmd, rc, &e);
    vqe_collection_info in;
    if (!ret) {
        vqe_collection_info_get(c, &in);
        if (qf && q.d != in.schema.dim) {
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
    if (!ret && hybrid) {
        ret = run_hybrid(cmd, c, &hin, p.k, f, json, gtf ? &gt : NULL);
    } else if (!ret) {
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
            print_hits(i, &h[0].id, sizeof *h, NULL, h, nh, json);
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
    free(tbuf), free(sbuf), free(hin.texts), free(slines);
    for (size_t i = 0; sp && i < n_sparse; i++) free(sp[i].idx), free(sp[i].val);
    free(sp);
    return ret;
}
