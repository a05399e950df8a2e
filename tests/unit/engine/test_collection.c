/* Collections: create/list/describe/drop, the write path's validation (every bad input is
 * rejected naming the field, and nothing of a rejected batch is stored), upsert-replaces,
 * string ids, get, search against brute force (l2, ip, cos; with and without filters; both
 * plans), snapshot while writing + restore. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBTEST_PREFIX "vqe_coll"
#include "dbtest.h"
#include "engine.h"

static void mk(const char *name, unsigned dim, vq_metric m, const char *fields) {
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "%s", name);
    s.dim = dim;
    s.metric = m;
    s.durability = VQE_DURABLE_GROUP;
    s.group_ms = 5;
    vq_err e;
    if (fields) cr_assert_eq(vqe_schema_fields_from_json(&s, fields, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vqe_collection_create(g_db, &s, &e), VQ_OK, "%s", e.msg);
}

static vqe_collection *op(const char *name) {
    vqe_collection *c;
    vq_err e;
    cr_assert_eq(vqe_collection_open(g_db, name, &c, &e), VQ_OK, "%s", e.msg);
    return c;
}

static uint64_t count(vqe_collection *c) {
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    return in.count;
}

TestSuite(collection, .init = setup, .fini = teardown);

Test(collection, create_list_drop) {
    mk("b", 8, VQ_METRIC_L2, NULL);
    mk("a", 8, VQ_METRIC_IP, "{\"fields\": {\"x\": \"int64\"}}");
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "a");
    s.dim = 8;
    vq_err e;
    cr_expect_eq(vqe_collection_create(g_db, &s, &e), VQ_EEXIST);
    cr_expect_str_eq(e.field, "name");
    s.dim = 0;
    snprintf(s.name, sizeof s.name, "c");
    cr_expect_eq(vqe_collection_create(g_db, &s, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "dim");
    s.dim = 4;
    snprintf(s.name, sizeof s.name, "bad name");
    cr_expect_eq(vqe_collection_create(g_db, &s, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "name");
    snprintf(s.name, sizeof s.name, "c");
    cr_expect_eq(vqe_schema_fields_from_json(&s, "{\"fields\": {\"id\": \"int64\"}}", &e),
                 VQ_EINVAL);
    cr_expect_str_eq(e.field, "fields.id");
    vqe_schema_default(&s);
    cr_expect_eq(vqe_schema_fields_from_json(&s, "{\"fields\": {\"q\": \"float\"}}", &e),
                 VQ_EINVAL);
    cr_expect_str_eq(e.field, "fields.q");
    char **names;
    size_t n;
    cr_assert_eq(vqe_collection_list(g_db, &names, &n, &e), VQ_OK);
    cr_assert_eq(n, 2);
    cr_expect_str_eq(names[0], "a");
    cr_expect_str_eq(names[1], "b");
    vqe_names_free(names, n);
    vqe_collection *c = op("a");
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_expect_eq(in.schema.dim, 8);
    cr_expect_eq(in.schema.metric, VQ_METRIC_IP);
    cr_expect_eq(in.schema.n_fields, 1);
    cr_expect_eq(in.schema.fields[0].type, VQE_INT64);
    cr_assert_eq(vqe_collection_drop(g_db, "a", &e), VQ_OK);
    cr_expect_eq(vqe_collection_open(g_db, "a", &c, &e), VQ_ENOTFOUND);
    cr_expect_str_eq(e.field, "collection");
    cr_expect_eq(vqe_collection_drop(g_db, "a", &e), VQ_ENOTFOUND);
    /* a new collection of the same name starts empty */
    mk("a", 8, VQ_METRIC_L2, NULL);
    cr_expect_eq(count(op("a")), 0);
}

#define FIELDS                                                                            \
    "{\"fields\": {\"tenant\": \"int64\", \"price\": \"double\", \"lang\": \"keyword\", " \
    "\"tags\": \"keyword[]\", \"public\": \"bool\", \"body\": \"text\"}}"

Test(collection, bad_batches_are_rejected_whole) {
    mk("c", 4, VQ_METRIC_L2, FIELDS);
    vqe_collection *c = op("c");
    float ok[4] = {1, 2, 3, 4}, nan[4] = {1, NAN, 3, 4}, inf[4] = {1, 2, INFINITY, 4};
    vqe_value good[] = {{.field = "tenant", .type = VQE_INT64, .i = 7}};
    vqe_value unknown[] = {{.field = "nosuch", .type = VQE_INT64, .i = 7}};
    vqe_value wrong[] = {{.field = "tenant", .type = VQE_KEYWORD, .s = "x"}};
    vqe_value twice[] = {{.field = "tenant", .type = VQE_INT64, .i = 1},
                         {.field = "tenant", .type = VQE_INT64, .i = 2}};
    vqe_value dnan[] = {{.field = "price", .type = VQE_DOUBLE, .d = NAN}};
    struct {
        vqe_record bad;
        int code;
        const char *field;
    } cases[] = {
        {{.id = {.u = 100}, .vector = nan}, VQ_ENOTFINITE, "records[1].vector[1]"},
        {{.id = {.u = 100}, .vector = inf}, VQ_ENOTFINITE, "records[1].vector[2]"},
        {{.id = {.u = 100}, .vector = ok, .values = unknown, .n_values = 1},
         VQ_EINVAL,
         "records[1].nosuch"},
        {{.id = {.u = 100}, .vector = ok, .values = wrong, .n_values = 1},
         VQ_EINVAL,
         "records[1].tenant"},
        {{.id = {.u = 100}, .vector = ok, .values = twice, .n_values = 2},
         VQ_EINVAL,
         "records[1].tenant"},
        {{.id = {.u = 100}, .vector = ok, .values = dnan, .n_values = 1},
         VQ_ENOTFINITE,
         "records[1].price"},
        {{.id = {.u = 1}, .vector = ok}, VQ_EINVAL, "records[1].id"}, /* duplicate of [0] */
        {{.id = {.is_str = 1, .s = ""}, .vector = ok}, VQ_EINVAL, "records[1].id"},
        {{.id = {.u = 100}, .vector = NULL}, VQ_EINVAL, "records[1].vector"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vqe_record recs[3] = {{.id = {.u = 1}, .vector = ok, .values = good, .n_values = 1},
                              cases[i].bad,
                              {.id = {.u = 2}, .vector = ok}};
        vq_err e = {0};
        cr_expect_eq(vqe_upsert(c, recs, 3, &e), cases[i].code, "case %zu: %s", i, e.msg);
        cr_expect_str_eq(e.field, cases[i].field, "case %zu: %s (%s)", i, e.field, e.msg);
        cr_expect_eq(count(c), 0, "case %zu stored something", i);
    }
    /* nothing reached storage either: get finds nothing */
    vqe_id id = {.u = 1};
    vqe_got g;
    vq_err e;
    cr_assert_eq(vqe_get(c, &id, 1, &g, &e), VQ_OK);
    cr_expect_eq(g.found, 0);
    /* JSON attributes: wrong types are named */
    vqe_values v;
    cr_expect_eq(vqe_values_from_json(c, "{\"tenant\": 1.5}", "records[4]", &v, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "records[4].tenant");
    cr_expect_eq(vqe_values_from_json(c, "{\"tags\": [1]}", "records[4]", &v, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "records[4].tags");
    cr_expect_eq(vqe_values_from_json(c, "[1]", "records[4]", &v, &e), VQ_EINVAL);
    cr_assert_eq(vqe_values_from_json(c, "{\"lang\": 5}", "records[0]", &v, &e), VQ_OK);
    vqe_record r = {.id = {.u = 9}, .vector = ok, .values = v.v, .n_values = v.n};
    cr_expect_eq(vqe_upsert(c, &r, 1, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "records[0].lang");
    vqe_values_free(&v);
}

Test(collection, upsert_replaces_get_and_string_ids) {
    mk("c", 3, VQ_METRIC_L2, FIELDS);
    vqe_collection *c = op("c");
    vq_err e;
    vqe_values v;
    cr_assert_eq(vqe_values_from_json(c,
                                      "{\"tenant\": 7, \"price\": 2.5, \"lang\": \"en\", \"tags\": "
                                      "[\"a\", \"b\"], \"public\": true, \"body\": \"hello\"}",
                                      NULL, &v, &e),
                 VQ_OK, "%s", e.msg);
    float x1[3] = {1, 0, 0}, x2[3] = {0, 1, 0};
    vqe_record r[2] = {
        {.id = {.is_str = 1, .s = "doc-1"}, .vector = x1, .values = v.v, .n_values = v.n},
        {.id = {.u = 42}, .vector = x2}};
    cr_assert_eq(vqe_upsert(c, r, 2, &e), VQ_OK, "%s", e.msg);
    vqe_values_free(&v);
    cr_expect_eq(count(c), 2);
    vqe_id ids[3] = {{.is_str = 1, .s = "doc-1"}, {.u = 42}, {.u = 43}};
    vqe_got g[3];
    cr_assert_eq(vqe_get(c, ids, 3, g, &e), VQ_OK, "%s", e.msg);
    cr_assert(g[0].found && g[1].found && !g[2].found);
    cr_expect_eq(g[0].vector[0], 1.0f);
    cr_expect_str_eq(g[0].attrs_json,
                     "{\"tenant\":7,\"price\":2.5,\"lang\":\"en\",\"tags\":[\"a\",\"b\"],"
                     "\"public\":true,\"body\":\"hello\"}");
    cr_expect_str_eq(g[1].attrs_json, "{}");
    vqe_got_free(g, 3);
    /* replace doc-1: new vector, no attributes; the old attributes no longer match */
    float x3[3] = {0, 0, 5};
    vqe_record r2 = {.id = {.is_str = 1, .s = "doc-1"}, .vector = x3};
    cr_assert_eq(vqe_upsert(c, &r2, 1, &e), VQ_OK);
    cr_expect_eq(count(c), 2);
    vqe_filter *f;
    cr_assert_eq(vqe_filter_parse("tenant = 7", &f, &e), VQ_OK);
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_assert_eq(vqe_filter_bind(f, &in.schema, &e), VQ_OK);
    vqe_search_params p;
    vqe_search_params_default(&p);
    p.filter = f;
    vqe_hit h[10];
    size_t nh;
    cr_assert_eq(vqe_search(c, x3, &p, h, &nh, NULL, &e), VQ_OK);
    cr_expect_eq(nh, 0);
    p.filter = NULL;
    cr_assert_eq(vqe_search(c, x3, &p, h, &nh, NULL, &e), VQ_OK);
    cr_assert_eq(nh, 2);
    cr_expect(h[0].id.is_str && !strcmp(h[0].id.s, "doc-1"));
    cr_expect_float_eq(h[0].score, 0.0f, 1e-6);
    vqe_filter_free(f);
    /* delete: gone from search and get; deleting again counts 0 */
    size_t nd;
    cr_assert_eq(vqe_delete(c, ids, 3, &nd, &e), VQ_OK);
    cr_expect_eq(nd, 2);
    cr_expect_eq(count(c), 0);
    cr_assert_eq(vqe_delete(c, ids, 3, &nd, &e), VQ_OK);
    cr_expect_eq(nd, 0);
    cr_assert_eq(vqe_search(c, x3, &p, h, &nh, NULL, &e), VQ_OK);
    cr_expect_eq(nh, 0);
}

static uint64_t s_rng = 0x1234567;
static float frand(void) {
    s_rng ^= s_rng << 13, s_rng ^= s_rng >> 7, s_rng ^= s_rng << 17;
    return (float)((s_rng >> 11) * 0x1.0p-53) * 2 - 1;
}

/* brute-force k nearest under the metric, scores like the engine's */
static void brute(const float *x, size_t n, unsigned d, vq_metric m, const float *q,
                  const int *allow, unsigned k, float *best) {
    for (unsigned i = 0; i < k; i++) best[i] = INFINITY;
    double qn = 0;
    for (unsigned j = 0; j < d; j++) qn += (double)q[j] * q[j];
    for (size_t i = 0; i < n; i++) {
        if (allow && !allow[i]) continue;
        double s = 0, xn = 0;
        for (unsigned j = 0; j < d; j++) {
            double a = q[j], b = x[i * d + j];
            s += m == VQ_METRIC_L2 ? (a - b) * (a - b) : a * b;
            xn += b * b;
        }
        float sc = m == VQ_METRIC_L2   ? (float)s
                   : m == VQ_METRIC_IP ? (float)-s
                                       : (float)(1 - s / sqrt(qn * xn));
        for (unsigned t = 0; t < k; t++)
            if (sc < best[t]) {
                memmove(best + t + 1, best + t, (k - t - 1) * sizeof *best);
                best[t] = sc;
                break;
            }
    }
}

Test(collection, search_equals_brute_force) {
    const unsigned d = 16, k = 10;
    const size_t n = 2000;
    vq_metric ms[3] = {VQ_METRIC_L2, VQ_METRIC_IP, VQ_METRIC_COS};
    float *x = malloc(n * d * 4);
    int *allow = malloc(n * sizeof *allow);
    for (size_t i = 0; i < n * d; i++) x[i] = frand();
    for (int mi = 0; mi < 3; mi++) {
        char name[8];
        snprintf(name, sizeof name, "m%d", mi);
        mk(name, d, ms[mi], "{\"fields\": {\"g\": \"int64\"}}");
        vqe_collection *c = op(name);
        vqe_record *r = calloc(n, sizeof *r);
        vqe_value *v = calloc(n, sizeof *v);
        for (size_t i = 0; i < n; i++) {
            v[i] = (vqe_value){.field = "g", .type = VQE_INT64, .i = (int64_t)(i % 100)};
            r[i] = (vqe_record){
                .id = {.u = i * 7}, .vector = x + i * d, .values = &v[i], .n_values = 1};
        }
        vq_err e;
        cr_assert_eq(vqe_upsert(c, r, n, &e), VQ_OK, "%s", e.msg);
        vqe_collection_info in;
        vqe_collection_info_get(c, &in);
        vqe_filter *f;
        cr_assert_eq(vqe_filter_parse("g < 3", &f, &e), VQ_OK);
        cr_assert_eq(vqe_filter_bind(f, &in.schema, &e), VQ_OK);
        for (size_t i = 0; i < n; i++) allow[i] = (i % 100) < 3;
        for (int qi = 0; qi < 5; qi++) {
            float q[16], best[10];
            for (unsigned j = 0; j < d; j++) q[j] = frand();
            for (int filt = 0; filt < 2; filt++)
                for (int plan = 1; plan <= 2; plan++) {
                    vqe_search_params p;
                    vqe_search_params_default(&p);
                    p.k = k;
                    p.ef = 400;
                    p.filter = filt ? f : NULL;
                    p.force_plan = plan;
                    vqe_hit h[10];
                    size_t nh;
                    vqe_explain ex;
                    cr_assert_eq(vqe_search(c, q, &p, h, &nh, &ex, &e), VQ_OK, "%s", e.msg);
                    cr_assert_eq(nh, k);
                    brute(x, n, d, ms[mi], q, filt ? allow : NULL, k, best);
                    for (unsigned t = 0; t < k; t++) {
                        cr_expect(fabsf(h[t].score - best[t]) <= 1e-3f * (1 + fabsf(best[t])),
                                  "metric %d filt %d plan %d rank %u: %g vs %g", mi, filt, plan, t,
                                  h[t].score, best[t]);
                        if (filt) cr_expect((h[t].id.u / 7) % 100 < 3);
                    }
                    cr_expect_eq(ex.matches, filt ? 60 : n);
                }
        }
        vqe_filter_free(f);
        free(r);
        free(v);
    }
    /* query validation */
    vqe_collection *c = op("m0");
    float q[16] = {NAN};
    vqe_search_params p;
    vqe_search_params_default(&p);
    vqe_hit h[10];
    size_t nh;
    vq_err e;
    cr_expect_eq(vqe_search(c, q, &p, h, &nh, NULL, &e), VQ_ENOTFINITE);
    q[0] = 0;
    p.k = 0;
    cr_expect_eq(vqe_search(c, q, &p, h, &nh, NULL, &e), VQ_EINVAL);
    cr_expect_str_eq(e.field, "k");
    free(x);
    free(allow);
}

Test(collection, snapshot_and_restore) {
    mk("s", 4, VQ_METRIC_L2, "{\"fields\": {\"t\": \"keyword\"}}");
    vqe_collection *c = op("s");
    vq_err e;
    for (unsigned i = 0; i < 300; i++) {
        float x[4] = {(float)i, 0, 0, 1};
        vqe_value v = {.field = "t", .type = VQE_KEYWORD, .s = i % 2 ? "odd" : "even"};
        vqe_record r = {.id = {.u = i}, .vector = x, .values = &v, .n_values = 1};
        cr_assert_eq(vqe_upsert(c, &r, 1, &e), VQ_OK);
    }
    char snap[128];
    snprintf(snap, sizeof snap, "%s/snap1", g_dir);
    cr_assert_eq(vqe_snapshot(c, snap, &e), VQ_OK, "%s", e.msg);
    cr_expect_eq(vqe_snapshot(c, snap, &e), VQ_EEXIST);
    /* writes after the snapshot are not in it */
    vqe_id id = {.u = 5};
    cr_assert_eq(vqe_delete(c, &id, 1, NULL, &e), VQ_OK);
    cr_expect_eq(vqe_restore(g_db, snap, NULL, &e), VQ_EEXIST);
    cr_assert_eq(vqe_restore(g_db, snap, "s2", &e), VQ_OK, "%s", e.msg);
    vqe_collection *c2 = op("s2");
    cr_expect_eq(count(c2), 300);
    cr_expect_eq(count(c), 299);
    vqe_got g;
    cr_assert_eq(vqe_get(c2, &id, 1, &g, &e), VQ_OK);
    cr_expect(g.found);
    cr_expect_str_eq(g.attrs_json, "{\"t\":\"odd\"}");
    vqe_got_free(&g, 1);
    /* the restored collection searches and filters */
    vqe_filter *f;
    cr_assert_eq(vqe_filter_parse("t = 'odd'", &f, &e), VQ_OK);
    vqe_collection_info in;
    vqe_collection_info_get(c2, &in);
    cr_assert_eq(vqe_filter_bind(f, &in.schema, &e), VQ_OK);
    vqe_search_params p;
    vqe_search_params_default(&p);
    p.filter = f;
    p.k = 3;
    float q[4] = {10, 0, 0, 1};
    vqe_hit h[3];
    size_t nh;
    cr_assert_eq(vqe_search(c2, q, &p, h, &nh, NULL, &e), VQ_OK);
    cr_assert_eq(nh, 3);
    cr_expect(h[0].id.u == 9 || h[0].id.u == 11);
    vqe_filter_free(f);
    /* dropping the original leaves the restored copy intact */
    cr_assert_eq(vqe_collection_drop(g_db, "s", &e), VQ_OK);
    cr_expect_eq(count(op("s2")), 300);
}

/* HNSW-backed collection: every plan returns min(k, matches) hits that satisfy the filter,
 * with recall against the exact plan; then rebuild and compact while another thread
 * searches, and results stay complete. */
#include <pthread.h>

typedef struct bg {
    vqe_collection *c;
    const float *q;
    int stop, errors, runs;
} bg;

static void *searcher(void *arg) {
    bg *b = arg;
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        vqe_search_params p;
        vqe_search_params_default(&p);
        vqe_hit h[10];
        size_t nh;
        vq_err e;
        if (vqe_search(b->c, b->q, &p, h, &nh, NULL, &e) || nh != 10) b->errors++;
        b->runs++;
    }
    return NULL;
}

Test(collection, hnsw_filtered_plans_rebuild_compact) {
    const unsigned d = 16;
    const size_t n = 3000;
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "h");
    s.dim = d;
    s.durability = VQE_DURABLE_GROUP;
    snprintf(s.index_spec, sizeof s.index_spec, "hnsw:m=12,efc=80/f32");
    vq_err e;
    cr_assert_eq(vqe_schema_fields_from_json(&s, "{\"fields\": {\"g\": \"int64\"}}", &e), VQ_OK);
    int rc = vqe_collection_create(g_db, &s, &e);
    if (rc == VQ_ESPEC) {
        cr_log_info("index/ without hnsw in this build: %s", e.msg);
        return;
    }
    cr_assert_eq(rc, VQ_OK, "%s", e.msg);
    vqe_collection *c = op("h");
    float *x = malloc(n * d * 4);
    for (size_t i = 0; i < n * d; i++) x[i] = frand();
    vqe_record *r = calloc(n, sizeof *r);
    vqe_value *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (vqe_value){.field = "g", .type = VQE_INT64, .i = (int64_t)(i % 1000)};
        r[i] = (vqe_record){.id = {.u = i}, .vector = x + i * d, .values = &v[i], .n_values = 1};
    }
    cr_assert_eq(vqe_upsert(c, r, n, &e), VQ_OK, "%s", e.msg);
    const char *filters[] = {"g < 500", "g < 100", "g < 10", "g < 2", "g = 999"};
    size_t want[] = {1500, 300, 30, 6, 3};
    for (size_t fi = 0; fi < 5; fi++) {
        vqe_filter *f;
        cr_assert_eq(vqe_filter_parse(filters[fi], &f, &e), VQ_OK);
        cr_assert_eq(vqe_filter_bind(f, &s, &e), VQ_OK);
        double hits = 0, total = 0;
        for (int qi = 0; qi < 20; qi++) {
            float q[16];
            for (unsigned j = 0; j < d; j++) q[j] = frand();
            vqe_hit ref[10], h[10];
            size_t nref, nh;
            vqe_search_params p;
            vqe_search_params_default(&p);
            p.filter = f;
            p.force_plan = 1;
            cr_assert_eq(vqe_search(c, q, &p, ref, &nref, NULL, &e), VQ_OK);
            cr_assert_eq(nref, want[fi] < 10 ? want[fi] : 10);
            for (int plan = 0; plan <= 2; plan += 2) {
                p.force_plan = plan;
                vqe_explain ex;
                cr_assert_eq(vqe_search(c, q, &p, h, &nh, &ex, &e), VQ_OK, "%s", e.msg);
                cr_assert_eq(nh, nref, "'%s' plan %d: %zu hits, %zu match", filters[fi], plan, nh,
                             nref);
                cr_expect_eq(ex.matches, want[fi]);
                for (size_t t = 0; t < nh; t++) {
                    int ok = 0;
                    for (size_t u = 0; u < nref; u++) ok |= h[t].id.u == ref[u].id.u;
                    hits += ok;
                    uint64_t g = h[t].id.u % 1000;
                    cr_expect(fi == 4 ? g == 999 : g < (uint64_t)want[fi] / 3,
                              "'%s': hit %llu does not match", filters[fi],
                              (unsigned long long)h[t].id.u);
                }
                total += (double)nref;
            }
        }
        cr_expect(hits / total >= 0.9, "'%s': recall %.3f", filters[fi], hits / total);
        vqe_filter_free(f);
    }
    /* delete a third, then compact and rebuild while a thread searches */
    for (size_t i = 0; i < n; i += 3) {
        vqe_id id = {.u = i};
        cr_assert_eq(vqe_delete(c, &id, 1, NULL, &e), VQ_OK);
    }
    bg b = {c, x + 5 * d, 0, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, searcher, &b);
    cr_expect_eq(vqe_compact(c, &e), VQ_OK, "%s", e.msg);
    cr_expect_eq(vqe_rebuild(c, &e), VQ_OK, "%s", e.msg);
    __atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    cr_expect_eq(b.errors, 0, "%d of %d searches failed during compact/rebuild", b.errors, b.runs);
    vqe_search_params p;
    vqe_search_params_default(&p);
    vqe_hit h[10];
    size_t nh;
    cr_assert_eq(vqe_search(c, x + 5 * d, &p, h, &nh, NULL, &e), VQ_OK);
    cr_expect_eq(nh, 10);
    cr_expect_eq(h[0].id.u, 5);
    for (size_t t = 0; t < nh; t++)
        cr_expect(h[t].id.u % 3 != 0, "deleted id %llu returned", (unsigned long long)h[t].id.u);
    free(x);
    free(r);
    free(v);
}

/* Concurrency: one thread upserts (replacing ids) and deletes while two threads run filtered
 * searches; every search succeeds, returns min(k, matches) hits and only matching ids. */
typedef struct rw {
    vqe_collection *c;
    const vqe_filter *f;
    int stop, errors, runs;
} rw;

static void *filtered_reader(void *arg) {
    rw *b = arg;
    float q[8] = {0};
    while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE)) {
        vqe_search_params p;
        vqe_search_params_default(&p);
        p.filter = b->f;
        vqe_hit h[10];
        size_t nh;
        vqe_explain ex;
        vq_err e;
        q[0] = (float)(b->runs % 50);
        if (vqe_search(b->c, q, &p, h, &nh, &ex, &e) || nh != (ex.matches < 10 ? ex.matches : 10))
            __atomic_add_fetch(&b->errors, 1, __ATOMIC_RELAXED);
        for (size_t t = 0; t < nh; t++)
            if (h[t].id.u % 2) __atomic_add_fetch(&b->errors, 1, __ATOMIC_RELAXED);
        b->runs++;
    }
    return NULL;
}

Test(collection, concurrent_writes_and_filtered_searches) {
    mk("w", 8, VQ_METRIC_L2, "{\"fields\": {\"even\": \"bool\"}}");
    vqe_collection *c = op("w");
    vq_err e;
    vqe_filter *f;
    cr_assert_eq(vqe_filter_parse("even = true", &f, &e), VQ_OK);
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    cr_assert_eq(vqe_filter_bind(f, &in.schema, &e), VQ_OK);
    rw b[2] = {{c, f, 0, 0, 0}, {c, f, 0, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, filtered_reader, &b[i]);
    for (int round = 0; round < 40; round++) {
        vqe_record r[50];
        vqe_value v[50];
        float x[50 * 8];
        for (int i = 0; i < 50; i++) {
            uint64_t id = (uint64_t)(round % 10) * 50 + (uint64_t)i; /* ids repeat: replaces */
            for (int j = 0; j < 8; j++) x[i * 8 + j] = (float)((int)id % 50) + frand();
            v[i] = (vqe_value){.field = "even", .type = VQE_BOOL, .b = id % 2 == 0};
            r[i] =
                (vqe_record){.id = {.u = id}, .vector = x + i * 8, .values = &v[i], .n_values = 1};
        }
        cr_assert_eq(vqe_upsert(c, r, 50, &e), VQ_OK, "%s", e.msg);
        vqe_id del[5];
        for (int i = 0; i < 5; i++) del[i] = (vqe_id){.u = (uint64_t)((round * 7 + i * 13) % 500)};
        cr_assert_eq(vqe_delete(c, del, 5, NULL, &e), VQ_OK);
    }
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&b[i].stop, 1, __ATOMIC_RELEASE);
        pthread_join(th[i], NULL);
        cr_expect_eq(b[i].errors, 0, "reader %d: %d errors in %d searches", i, b[i].errors,
                     b[i].runs);
        cr_expect(b[i].runs > 0);
    }
    vqe_filter_free(f);
}
