/* rpc/wire.c: the nesting-depth pre-scan that runs before protobuf-c's (recursive, unbounded)
 * unpack. Deep Filter trees are rejected naming the limit, the limit itself is accepted,
 * malformed wire data is rejected, and nothing protobuf-c accepts is rejected below the
 * limit (every truncation and byte flip of valid requests). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/vqdb.pb-c.h"
#include "wire.h"

/* Writes a varint ending just before *end, moving *end back. */
static void put_varint_back(uint8_t **end, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    *end -= n;
    memcpy(*end, tmp, n);
}

/* A SearchRequest whose filter is `levels` nested NOT nodes around an `exists` leaf, built
 * back to front (packing it with protobuf-c would itself recurse once per level). The
 * deepest message (the leaf Filter) is at depth levels + 1. Returns a malloc'd buffer. */
static uint8_t *deep_search(size_t levels, size_t *len) {
    size_t cap = 64 + levels * 12;
    uint8_t *buf = malloc(cap), *end = buf + cap, *stop = end;
    cr_assert_not_null(buf);
    /* innermost Filter: exists = "a" (field 9, LEN) */
    *--end = 'a';
    *--end = 1;
    *--end = (9 << 3) | 2;
    for (size_t i = 0; i < levels; i++) { /* wrap in Filter{not = <current>} */
        size_t inner = (size_t)(stop - end);
        put_varint_back(&end, inner);
        *--end = (3 << 3) | 2;
    }
    size_t inner = (size_t)(stop - end);
    put_varint_back(&end, inner);
    *--end = (4 << 3) | 2; /* SearchRequest.filter */
    const char *coll = "c";
    *--end = (uint8_t)coll[0];
    *--end = 1;
    *--end = (1 << 3) | 2; /* SearchRequest.collection */
    *len = (size_t)(stop - end);
    memmove(buf, end, *len);
    return buf;
}

Test(wire, deep_filter_rejected_naming_limit) {
    size_t len;
    uint8_t *b = deep_search(1000000, &len); /* ~3 MB, far past any stack */
    vq_err e;
    memset(&e, 0, sizeof e);
    int rc = vqr__wire_check(&vqdb__v1__search_request__descriptor, b, len, VQR_NESTING_MAX, &e);
    cr_assert_eq(rc, VQ_EINVAL);
    cr_assert_str_eq(e.field, "filter");
    char lim[16];
    snprintf(lim, sizeof lim, "%u", VQR_NESTING_MAX);
    cr_assert(strstr(e.msg, lim), "message must name the limit: %s", e.msg);
    cr_assert_null(vqr__unpack(&vqdb__v1__search_request__descriptor, b, len, &e));
    cr_assert_eq(e.code, VQ_EINVAL);
    free(b);
}

Test(wire, limit_is_exact) {
    /* the leaf sits levels + 1 messages below the request */
    size_t len;
    uint8_t *b = deep_search(VQR_NESTING_MAX - 1, &len);
    vq_err e;
    cr_assert_eq(
        vqr__wire_check(&vqdb__v1__search_request__descriptor, b, len, VQR_NESTING_MAX, &e), VQ_OK,
        "%s", e.msg);
    ProtobufCMessage *m = vqr__unpack(&vqdb__v1__search_request__descriptor, b, len, &e);
    cr_assert_not_null(m, "%s", e.msg);
    const Vqdb__V1__Filter *f = ((Vqdb__V1__SearchRequest *)m)->filter;
    size_t d = 0;
    while (f->node_case == VQDB__V1__FILTER__NODE_NOT) f = f->not_, d++;
    cr_assert_eq(d, VQR_NESTING_MAX - 1);
    cr_assert_str_eq(f->exists, "a");
    protobuf_c_message_free_unpacked(m, NULL);
    free(b);
    b = deep_search(VQR_NESTING_MAX, &len);
    cr_assert_eq(
        vqr__wire_check(&vqdb__v1__search_request__descriptor, b, len, VQR_NESTING_MAX, &e),
        VQ_EINVAL);
    free(b);
}

Test(wire, engine_depth_filters_fit) {
    /* The deepest filter the engine accepts, as AND lists, inside a SearchBatchRequest. */
    Vqdb__V1__Filter nodes[65], leaf = VQDB__V1__FILTER__INIT;
    Vqdb__V1__FilterList lists[64];
    Vqdb__V1__Filter *items[64];
    leaf.node_case = VQDB__V1__FILTER__NODE_EXISTS;
    leaf.exists = "a";
    Vqdb__V1__Filter *cur = &leaf;
    for (int i = 0; i < 64; i++) {
        vqdb__v1__filter__init(&nodes[i]);
        vqdb__v1__filter_list__init(&lists[i]);
        items[i] = cur;
        lists[i].n_items = 1;
        lists[i].items = &items[i];
        nodes[i].node_case = VQDB__V1__FILTER__NODE_AND;
        nodes[i].and_ = &lists[i];
        cur = &nodes[i];
    }
    Vqdb__V1__SearchRequest s = VQDB__V1__SEARCH_REQUEST__INIT, *sp = &s;
    s.filter = cur;
    Vqdb__V1__SearchBatchRequest b = VQDB__V1__SEARCH_BATCH_REQUEST__INIT;
    b.n_searches = 1;
    b.searches = &sp;
    size_t n = vqdb__v1__search_batch_request__get_packed_size(&b);
    uint8_t *buf = malloc(n);
    vqdb__v1__search_batch_request__pack(&b, buf);
    vq_err e;
    ProtobufCMessage *m = vqr__unpack(&vqdb__v1__search_batch_request__descriptor, buf, n, &e);
    cr_assert_not_null(m, "%s", e.msg);
    protobuf_c_message_free_unpacked(m, NULL);
    free(buf);
}

Test(wire, malformed_rejected) {
    static const struct {
        const char *what;
        uint8_t b[12];
        size_t n;
    } cases[] = {
        {"truncated tag varint", {0x80}, 1},
        {"truncated value varint", {0x18, 0x80, 0x80}, 3},
        {"length past the end", {0x0a, 0x05, 'a'}, 3},
        {"fixed64 cut short", {0x09, 1, 2, 3}, 4},
        {"fixed32 cut short", {0x0d, 1, 2}, 3},
        {"start group", {0x0b, 0x0c}, 2},
        {"wire type 7", {0x0f}, 1},
        {"field number 0", {0x02, 0x00}, 2},
        {"11-byte varint",
         {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1},
         12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vq_err e;
        cr_assert_eq(vqr__wire_check(&vqdb__v1__search_request__descriptor, cases[i].b, cases[i].n,
                                     VQR_NESTING_MAX, &e),
                     VQ_EINVAL, "%s", cases[i].what);
        cr_assert_str_eq(e.field, "request");
        cr_assert_null(
            vqr__unpack(&vqdb__v1__search_request__descriptor, cases[i].b, cases[i].n, &e), "%s",
            cases[i].what);
    }
}

Test(wire, unknown_fields_skipped_not_descended) {
    /* Field 99 (unknown) holding bytes that are not a valid message: protobuf-c keeps them as
     * opaque unknown-field bytes, so the scan must not reject them either. */
    uint8_t b[] = {0x0a, 0x01, 'c', 0x9a, 0x06, 0x03, 0xff, 0xff, 0xff, 0x18, 0x0a};
    vq_err e;
    ProtobufCMessage *m = vqr__unpack(&vqdb__v1__search_request__descriptor, b, sizeof b, &e);
    cr_assert_not_null(m, "%s", e.msg);
    cr_assert_eq(((Vqdb__V1__SearchRequest *)m)->k, 10);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* An UpsertRequest with map attributes (map entries are nested messages) and a Query with
 * several sub-messages: every truncation and single-byte change either decodes with both
 * or is rejected by the scan without protobuf-c accepting it. */
static void no_false_rejects(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    for (size_t cut = 0; cut <= n; cut++) {
        vq_err e;
        int scan = vqr__wire_check(d, b, cut, VQR_NESTING_MAX, &e);
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, cut, b);
        if (m) cr_assert_eq(scan, VQ_OK, "cut %zu: %s", cut, e.msg);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    for (size_t i = 0; i < n; i++)
        for (int x = 1; x < 256; x += 17) {
            memcpy(c, b, n);
            c[i] ^= (uint8_t)x;
            vq_err e;
            int scan = vqr__wire_check(d, c, n, VQR_NESTING_MAX, &e);
            ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, c);
            if (m) cr_assert_eq(scan, VQ_OK, "byte %zu ^ %d: %s", i, x, e.msg);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    free(c);
}

Test(wire, no_false_rejects_upsert_and_query) {
    float v[4] = {1, 2, 3, 4};
    Vqdb__V1__Id id = VQDB__V1__ID__INIT;
    id.kind_case = VQDB__V1__ID__KIND_STR;
    id.str = "doc-1";
    Vqdb__V1__Value val = VQDB__V1__VALUE__INIT;
    val.kind_case = VQDB__V1__VALUE__KIND_INT_VALUE;
    val.int_value = -7;
    Vqdb__V1__Point__AttributesEntry ent = VQDB__V1__POINT__ATTRIBUTES_ENTRY__INIT, *ep = &ent;
    ent.key = "year";
    ent.value = &val;
    Vqdb__V1__Point p = VQDB__V1__POINT__INIT, *pp = &p;
    p.id = &id;
    p.n_vector = 4;
    p.vector = v;
    p.n_attributes = 1;
    p.attributes = &ep;
    Vqdb__V1__UpsertRequest u = VQDB__V1__UPSERT_REQUEST__INIT;
    u.collection = "c";
    u.n_points = 1;
    u.points = &pp;
    size_t n = vqdb__v1__upsert_request__get_packed_size(&u);
    uint8_t *b = malloc(n);
    vqdb__v1__upsert_request__pack(&u, b);
    no_false_rejects(&vqdb__v1__upsert_request__descriptor, b, n);
    free(b);

    Vqdb__V1__DenseQuery dq = VQDB__V1__DENSE_QUERY__INIT;
    dq.n_vector = 4;
    dq.vector = v;
    Vqdb__V1__Prefetch pf = VQDB__V1__PREFETCH__INIT, *pfp = &pf;
    pf.query_case = VQDB__V1__PREFETCH__QUERY_DENSE;
    pf.dense = &dq;
    Vqdb__V1__Filter f = VQDB__V1__FILTER__INIT;
    f.node_case = VQDB__V1__FILTER__NODE_TEXT;
    f.text = "year = 7";
    Vqdb__V1__QueryRequest q = VQDB__V1__QUERY_REQUEST__INIT;
    q.collection = "c";
    q.n_prefetch = 1;
    q.prefetch = &pfp;
    q.filter = &f;
    q.k = 5;
    n = vqdb__v1__query_request__get_packed_size(&q);
    b = malloc(n);
    vqdb__v1__query_request__pack(&q, b);
    no_false_rejects(&vqdb__v1__query_request__descriptor, b, n);
    free(b);
}
