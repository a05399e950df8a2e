/* Filters: the text parser (grammar, printing back, error columns, limits), binding to a
 * schema, and evaluation through a collection compared with a naive evaluator over random
 * attributes, including after updates and deletes (the append-only numeric tail and its
 * merge into the sorted run). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

static int parse_ok(const char *s, vqe_filter **f) {
    vq_err e = {0};
    int rc = vqe_filter_parse(s, f, &e);
    cr_assert_eq(rc, VQ_OK, "'%s': %s %s", s, e.field, e.msg);
    return rc;
}

Test(filter, parses_and_prints_back) {
    const char *good[] = {
        "tenant = 7 AND year >= 2023 AND tags HAS ANY (\"news\", \"blog\")",
        "a = 1 OR b = 2 AND c = 3",
        "NOT (a != 'x' OR price < 2.5e1)",
        "lang IN ('en', 'de') AND public = true",
        "x BETWEEN 1 AND 10",
        "x NOT IN (1, 2, 3)",
        "EXISTS price AND EXISTS(lang)",
        "id IN (1, 2, \"doc-7\") OR id = 9",
        "tags HAS ALL ('a','b') and price <= -0.5 or year > -3",
        "name = 'it\\'s'",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        vqe_filter *f, *g;
        parse_ok(good[i], &f);
        char a[1024], b[1024];
        vqe_filter_print(f, a, sizeof a);
        parse_ok(a, &g); /* the printed form parses back to the same print */
        vqe_filter_print(g, b, sizeof b);
        cr_expect_str_eq(a, b, "round trip of '%s'", good[i]);
        vqe_filter_free(f);
        vqe_filter_free(g);
    }
    /* precedence: AND binds tighter than OR */
    vqe_filter *f;
    parse_ok("a = 1 OR b = 2 AND c = 3", &f);
    cr_assert_eq(f->op, VQE_F_OR);
    cr_assert_eq(f->n_kids, 2);
    cr_assert_eq(f->kids[1]->op, VQE_F_AND);
    vqe_filter_free(f);
    parse_ok("year >= 2023", &f);
    cr_assert_eq(f->op, VQE_F_RANGE);
    cr_assert(f->has_lo && f->lo_incl && !f->has_hi);
    cr_assert_eq(f->lo.i, 2023);
    vqe_filter_free(f);
}

Test(filter, syntax_errors_name_the_column) {
    struct {
        const char *s;
        const char *field;
    } bad[] = {
        {"tenant = ", "filter:10"},
        {"tenant = 7 AND", "filter:15"},
        {"tenant 7", "filter:8"},
        {"(a = 1", "filter:7"},
        {"a = 1)", "filter:6"},
        {"tags HAS SOME ('x')", "filter:10"},
        {"a = 'unterminated", "filter:5"},
        {"a = 1 # b", "filter:7"},
        {"", "filter:1"},
        {"a IN ()", "filter:7"},
        {"a = 12abc", "filter:5"},
        {"a = 99999999999999999999", "filter:5"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vqe_filter *f = NULL;
        vq_err e = {0};
        cr_expect_eq(vqe_filter_parse(bad[i].s, &f, &e), VQ_EINVAL, "'%s' parsed", bad[i].s);
        cr_expect_str_eq(e.field, bad[i].field, "'%s': got %s (%s)", bad[i].s, e.field, e.msg);
        cr_expect_null(f);
    }
    /* nesting limit */
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++) deep[n++] = '(';
    strcpy(deep + n, "a = 1");
    n += 5;
    for (int i = 0; i < 100; i++) deep[n++] = ')';
    deep[n] = 0;
    vqe_filter *f = NULL;
    vq_err e;
    cr_expect_eq(vqe_filter_parse(deep, &f, &e), VQ_EINVAL);
}

static void schema(vqe_schema *s) {
    vqe_schema_default(s);
    snprintf(s->name, sizeof s->name, "t");
    s->dim = 4;
    vq_err e;
    cr_assert_eq(vqe_schema_fields_from_json(
                     s,
                     "{\"fields\": {\"tenant\": \"int64\", \"price\": \"double\", \"lang\": "
                     "\"keyword\", \"tags\": \"keyword[]\", \"public\": \"bool\", \"body\": "
                     "\"text\"}}",
                     &e),
                 VQ_OK, "%s", e.msg);
}

Test(filter, bind_checks_fields_and_types) {
    vqe_schema s;
    schema(&s);
    struct {
        const char *f;
        int ok;
        const char *field;
    } cases[] = {
        {"tenant = 7", 1, NULL},
        {"price > 3", 1, NULL},     /* integer literal on a double field */
        {"tenant >= 2.5", 1, NULL}, /* decimal on an int field rounds inward */
        {"nosuch = 1", 0, "filter:1:nosuch"},
        {"tenant = 'x'", 0, "filter:1:tenant"},
        {"lang > 3", 0, "filter:1:lang"},
        {"lang HAS ANY ('x')", 0, "filter:1:lang"},
        {"public IN (true)", 0, "filter:1:public"},
        {"a = 1 OR body = 'x'", 0, "filter:1:a"},
        {"tenant = 1 AND body = 'x'", 0, "filter:16:body"},
        {"id IN (-1)", 0, "filter:1:id"},
        {"EXISTS lang AND tags = 'x'", 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vqe_filter *f;
        parse_ok(cases[i].f, &f);
        vq_err e = {0};
        int rc = vqe_filter_bind(f, &s, &e);
        if (cases[i].ok)
            cr_expect_eq(rc, VQ_OK, "'%s': %s", cases[i].f, e.msg);
        else {
            cr_expect_eq(rc, VQ_EINVAL, "'%s' bound", cases[i].f);
            cr_expect_str_eq(e.field, cases[i].field, "'%s': %s", cases[i].f, e.field);
        }
        vqe_filter_free(f);
    }
}

/* ---- evaluation against a naive evaluator ---- */
#define N 3000
typedef struct row {
    int alive;
    int has_tenant, has_price, has_lang, has_pub;
    int64_t tenant;
    double price;
    int lang;      /* 0..4 */
    unsigned tags; /* bitmask of 6 tags */
    int pub;
} row;
static const char *langs[] = {"en", "de", "fr", "es", "it"};
static const char *tagn[] = {"news", "blog", "tech", "sport", "art", "misc"};

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}

static void make_row(row *r) {
    r->alive = 1;
    r->has_tenant = rnd() % 10 != 0;
    r->tenant = (int64_t)(rnd() % 20) - 5;
    r->has_price = rnd() % 8 != 0;
    r->price = (double)(rnd() % 2000) / 10.0 - 50.0;
    r->has_lang = rnd() % 6 != 0;
    r->lang = (int)(rnd() % 5);
    r->tags = (unsigned)(rnd() % 64);
    r->has_pub = rnd() % 3 != 0;
    r->pub = (int)(rnd() % 2);
}

static int naive(const row *r, int q) {
    int has_news = (r->tags & 1) != 0, has_blog = (r->tags & 2) != 0, has_tech = (r->tags & 4) != 0;
    switch (q) {
    case 0:
        return r->has_tenant && r->tenant == 7;
    case 1:
        return r->has_tenant && r->tenant >= 3 && r->has_price && r->price < 20.5;
    case 2:
        return has_news || has_blog;
    case 3:
        return has_news && has_tech;
    case 4:
        return !(r->has_lang && r->lang == 0);
    case 5:
        return r->has_lang && r->lang != 0;
    case 6:
        return (r->has_lang && (r->lang == 1 || r->lang == 2)) || (r->has_pub && r->pub);
    case 7:
        return r->has_price;
    case 8:
        return r->has_tenant && r->tenant > -3 && r->tenant <= 2;
    case 9:
        return r->has_price && r->price >= -10 && r->price <= 10;
    case 10:
        return r->has_tenant && r->tenant >= 3; /* tenant > 2.5 */
    case 11:
        return r->has_tenant && (r->tenant == 1 || r->tenant == 4 || r->tenant == 9);
    case 12:
        return !(r->has_tenant && (r->tenant == 1 || r->tenant == 4));
    }
    return 0;
}
static const char *queries[] = {
    "tenant = 7",
    "tenant >= 3 AND price < 20.5",
    "tags HAS ANY ('news', 'blog')",
    "tags HAS ALL ('news', 'tech')",
    "NOT lang = 'en'",
    "lang != 'en'",
    "lang IN ('de', 'fr') OR public = true",
    "EXISTS price",
    "tenant > -3 AND tenant <= 2",
    "price BETWEEN -10 AND 10",
    "tenant > 2.5",
    "tenant IN (1, 4, 9)",
    "tenant NOT IN (1, 4)",
};

static void upsert_rows(vqe_collection *c, row *rows, size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
        row *r = &rows[i];
        vqe_value v[6];
        const char *tg[6];
        size_t nv = 0, nt = 0;
        for (int t = 0; t < 6; t++)
            if (r->tags >> t & 1) tg[nt++] = tagn[t];
        if (r->has_tenant)
            v[nv++] = (vqe_value){.field = "tenant", .type = VQE_INT64, .i = r->tenant};
        if (r->has_price)
            v[nv++] = (vqe_value){.field = "price", .type = VQE_DOUBLE, .d = r->price};
        if (r->has_lang)
            v[nv++] = (vqe_value){.field = "lang", .type = VQE_KEYWORD, .s = langs[r->lang]};
        v[nv++] = (vqe_value){.field = "tags", .type = VQE_TAGS, .tags = tg, .n_tags = nt};
        if (r->has_pub) v[nv++] = (vqe_value){.field = "public", .type = VQE_BOOL, .b = r->pub};
        float x[4] = {(float)i, 1, 2, 3};
        vqe_record rec = {.id = {.u = i}, .vector = x, .values = v, .n_values = nv};
        vq_err e;
        cr_assert_eq(vqe_upsert(c, &rec, 1, &e), VQ_OK, "%s %s", e.field, e.msg);
    }
}

static void check_all(vqe_collection *c, row *rows) {
    vqe_schema s;
    schema(&s);
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        vqe_filter *f;
        parse_ok(queries[q], &f);
        vq_err e;
        cr_assert_eq(vqe_filter_bind(f, &s, &e), VQ_OK, "%s", e.msg);
        uint64_t want = 0;
        for (size_t i = 0; i < N; i++) want += rows[i].alive && naive(&rows[i], (int)q);
        vqe_search_params p;
        vqe_search_params_default(&p);
        p.filter = f;
        p.k = 5;
        vqe_explain ex;
        cr_assert_eq(vqe_explain_plan(c, &p, &ex, &e), VQ_OK, "%s", e.msg);
        cr_expect_eq(ex.matches, want, "'%s': %llu matches, naive %llu", queries[q],
                     (unsigned long long)ex.matches, (unsigned long long)want);
        /* every hit satisfies the filter */
        vqe_hit hits[5];
        size_t nh;
        float qv[4] = {1500, 1, 2, 3};
        cr_assert_eq(vqe_search(c, qv, &p, hits, &nh, NULL, &e), VQ_OK, "%s", e.msg);
        cr_expect_eq(nh, want < 5 ? want : 5);
        for (size_t h = 0; h < nh; h++)
            cr_expect(rows[hits[h].id.u].alive && naive(&rows[hits[h].id.u], (int)q),
                      "'%s': hit %llu does not match", queries[q],
                      (unsigned long long)hits[h].id.u);
        vqe_filter_free(f);
    }
}

Test(filter, evaluation_matches_naive) {
    char dir[] = "/tmp/vqe_filter_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    vqe_db *db;
    vq_err e;
    cr_assert_eq(vqe_db_open(dir, NULL, &db, &e), VQ_OK, "%s", e.msg);
    vqe_schema s;
    schema(&s);
    s.durability = VQE_DURABLE_GROUP; /* fast: fsync in the background */
    cr_assert_eq(vqe_collection_create(db, &s, &e), VQ_OK, "%s", e.msg);
    vqe_collection *c;
    cr_assert_eq(vqe_collection_open(db, "t", &c, &e), VQ_OK, "%s", e.msg);
    static row rows[N];
    for (size_t i = 0; i < N; i++) make_row(&rows[i]);
    upsert_rows(c, rows, 0, N);
    check_all(c, rows);
    /* replace a third, delete a tenth, check again; then reopen (reload path) */
    for (size_t i = 0; i < N; i += 3) make_row(&rows[i]);
    for (size_t i = 0; i < N; i += 3) upsert_rows(c, rows, i, i + 1);
    for (size_t i = 1; i < N; i += 10) {
        vqe_id id = {.u = i};
        size_t nd;
        cr_assert_eq(vqe_delete(c, &id, 1, &nd, &e), VQ_OK);
        cr_assert_eq(nd, 1);
        rows[i].alive = 0;
    }
    check_all(c, rows);
    vqe_db_close(db);
    cr_assert_eq(vqe_db_open(dir, NULL, &db, &e), VQ_OK, "%s", e.msg);
    cr_assert_eq(vqe_collection_open(db, "t", &c, &e), VQ_OK, "%s", e.msg);
    check_all(c, rows);
    /* after the reload the numeric values sit in the sorted runs; new writes form a tail:
     * queries must combine both */
    for (size_t i = 2; i < N; i += 5) {
        make_row(&rows[i]);
        upsert_rows(c, rows, i, i + 1);
    }
    check_all(c, rows);
    vqe_db_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Robustness: random mutations of valid filters (byte flips, truncations, splices) never
 * crash the parser; whatever parses prints back to something that parses to the same print,
 * and whatever fails names a column inside the text (+1 for the end). */
Test(filter, mutated_inputs_parse_or_fail_cleanly) {
    const char *seeds[] = {
        "tenant = 7 AND year >= 2023 AND tags HAS ANY (\"news\", \"blog\")",
        "NOT (a != 'x' OR price < 2.5e1) AND id IN (1, \"d\")",
        "x BETWEEN -1 AND 10 OR EXISTS(y) AND z NOT IN (1, 2)",
    };
    const char alphabet[] = "()=!<>,'\" .-+eE0123456789aAnNdDoOrRtTiIsS_\\";
    for (int it = 0; it < 20000; it++) {
        char buf[256];
        const char *seed = seeds[it % 3];
        snprintf(buf, sizeof buf, "%s", seed);
        size_t n = strlen(buf);
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts && n; m++) {
            size_t pos = rnd() % n;
            switch (rnd() % 3) {
            case 0:
                buf[pos] = alphabet[rnd() % (sizeof alphabet - 1)];
                break;
            case 1:
                buf[pos] = 0, n = pos;
                break;
            case 2:
                if (n + 1 < sizeof buf) {
                    memmove(buf + pos + 1, buf + pos, n - pos + 1);
                    buf[pos] = alphabet[rnd() % (sizeof alphabet - 1)];
                    n++;
                }
                break;
            }
        }
        vqe_filter *f = NULL;
        vq_err e = {0};
        int rc = vqe_filter_parse(buf, &f, &e);
        if (rc == VQ_OK) {
            char a[1024], b[1024];
            vqe_filter_print(f, a, sizeof a);
            vqe_filter *g = NULL;
            cr_assert_eq(vqe_filter_parse(a, &g, &e), VQ_OK, "'%s' printed as '%s': %s", buf, a,
                         e.msg);
            vqe_filter_print(g, b, sizeof b);
            cr_assert_str_eq(a, b);
            vqe_filter_free(g);
            vqe_filter_free(f);
        } else {
            cr_assert_eq(rc, VQ_EINVAL, "'%s': rc %d", buf, rc);
            cr_assert_null(f);
            unsigned col = 0;
            cr_assert_eq(sscanf(e.field, "filter:%u", &col), 1, "'%s': field %s", buf, e.field);
            cr_assert(col >= 1 && col <= n + 1, "'%s': column %u of %zu", buf, col, n);
        }
    }
}
