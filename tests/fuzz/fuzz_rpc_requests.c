/* fuzz_rpc_requests.c — libFuzzer target for the request path of the gRPC service without a
 * server: the first byte selects one of the 14 request types (the 12 unary VectorDB methods,
 * UpsertStream, grpc.health.v1 Check), the rest is the request as it would arrive on the
 * wire. Each input goes through the real handler from the method table (nesting pre-scan,
 * protobuf-c decode, validation, conversion, the engine call) against a small collection
 * opened read-only, so writes validate fully and then fail with FAILED_PRECONDITION; the
 * input never changes the state. Snapshot and Rebuild run their handlers only for a
 * collection that does not exist (their validation), since for "c" they would write to a
 * path from the input or rebuild the index.
 *
 * Checked beyond "no crash, no sanitizer report, no leak": a success returns a response that
 * decodes as the method's response type; a failure returns a vq error code and names a field.
 * For UpsertStream the input after the selector is a sequence of messages, each preceded by
 * a 2-byte little-endian length. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "grpc/health/v1/health.pb-c.h"
#include "internal.h"
#include "proto/vqdb.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int vqr_service_register_db(vqr_server *s, const char *data_dir, const vqe_db_params *dbp,
                            vq_err *err);
void vqr_service_close(void);

#define V(x) "/vqdb.v1.VectorDB/" x
static const struct {
    const char *path;
    const ProtobufCMessageDescriptor *req, *resp;
} g_methods[] = {
    {V("CreateCollection"), &vqdb__v1__create_collection_request__descriptor,
     &vqdb__v1__create_collection_response__descriptor},
    {V("DeleteCollection"), &vqdb__v1__delete_collection_request__descriptor,
     &vqdb__v1__delete_collection_response__descriptor},
    {V("ListCollections"), &vqdb__v1__list_collections_request__descriptor,
     &vqdb__v1__list_collections_response__descriptor},
    {V("DescribeCollection"), &vqdb__v1__describe_collection_request__descriptor,
     &vqdb__v1__describe_collection_response__descriptor},
    {V("Upsert"), &vqdb__v1__upsert_request__descriptor, &vqdb__v1__upsert_response__descriptor},
    {V("Delete"), &vqdb__v1__delete_request__descriptor, &vqdb__v1__delete_response__descriptor},
    {V("Get"), &vqdb__v1__get_request__descriptor, &vqdb__v1__get_response__descriptor},
    {V("Search"), &vqdb__v1__search_request__descriptor, &vqdb__v1__search_response__descriptor},
    {V("SearchBatch"), &vqdb__v1__search_batch_request__descriptor,
     &vqdb__v1__search_batch_response__descriptor},
    {V("Query"), &vqdb__v1__query_request__descriptor, &vqdb__v1__query_response__descriptor},
    {V("Snapshot"), &vqdb__v1__snapshot_request__descriptor,
     &vqdb__v1__snapshot_response__descriptor},
    {V("Rebuild"), &vqdb__v1__rebuild_request__descriptor, &vqdb__v1__rebuild_response__descriptor},
    {V("UpsertStream"), &vqdb__v1__upsert_request__descriptor,
     &vqdb__v1__upsert_stream_response__descriptor},
    {"/grpc.health.v1.Health/Check", &grpc__health__v1__health_check_request__descriptor,
     &grpc__health__v1__health_check_response__descriptor},
};
#define N_METHODS (sizeof g_methods / sizeof g_methods[0])

static vqr_server *g_srv;
static char g_dir[64];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static void cleanup(void) {
    vqr_service_close();
    vqr_server_free(g_srv);
    if (g_dir[0]) nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void die(const char *what, const vq_err *e) {
    fprintf(stderr, "fuzz_rpc_requests: %s: %s: %s\n", what, e->field, e->msg);
    abort();
}

/* The data every run sees: collection "c", dimension 4, one field of each scalar type and
 * a keyword list, 40 records; then reopened read-only behind the service. */
static void setup(void) {
    vq_err e;
    snprintf(g_dir, sizeof g_dir, "/tmp/vqfuzz_rpc_XXXXXX");
    if (!mkdtemp(g_dir)) abort();
    vqe_db *db;
    if (vqe_db_open(g_dir, NULL, &db, &e)) die("open", &e);
    vqe_schema s;
    vqe_schema_default(&s);
    snprintf(s.name, sizeof s.name, "c");
    s.dim = 4;
    s.metric = VQ_METRIC_L2;
    snprintf(s.index_spec, sizeof s.index_spec, "hnsw:m=8,efc=32/sq8/rerank=2");
    static const struct {
        const char *name;
        vqe_type t;
    } f[] = {{"tenant", VQE_INT64},
             {"score", VQE_DOUBLE},
             {"ok", VQE_BOOL},
             {"lang", VQE_KEYWORD},
             {"tags", VQE_TAGS}};
    for (unsigned i = 0; i < 5; i++) {
        snprintf(s.fields[i].name, VQE_NAME_MAX, "%s", f[i].name);
        s.fields[i].type = f[i].t;
    }
    s.n_fields = 5;
    if (vqe_collection_create(db, &s, &e)) die("create", &e);
    vqe_collection *c;
    if (vqe_collection_open(db, "c", &c, &e)) die("open c", &e);
    float vec[40][4];
    vqe_record recs[40];
    vqe_value vals[40][5];
    static const char *langs[] = {"en", "de"};
    static const char *tags[] = {"a", "b", "c"};
    char sid[40][8];
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < 4; j++) vec[i][j] = (float)((i * 7 + j * 3) % 11) - 5.0f;
        memset(&recs[i], 0, sizeof recs[i]);
        if (i % 4 == 3) {
            snprintf(sid[i], sizeof sid[i], "s%d", i);
            recs[i].id = (vqe_id){.is_str = 1, .s = sid[i]};
        } else {
            recs[i].id = (vqe_id){.is_str = 0, .u = (uint64_t)i};
        }
        recs[i].vector = vec[i];
        memset(vals[i], 0, sizeof vals[i]);
        vals[i][0] = (vqe_value){.field = "tenant", .type = VQE_INT64, .i = i % 5};
        vals[i][1] = (vqe_value){.field = "score", .type = VQE_DOUBLE, .d = i * 0.25};
        vals[i][2] = (vqe_value){.field = "ok", .type = VQE_BOOL, .b = i % 2};
        vals[i][3] = (vqe_value){.field = "lang", .type = VQE_KEYWORD, .s = langs[i % 2]};
        vals[i][4] =
            (vqe_value){.field = "tags", .type = VQE_TAGS, .tags = &tags[i % 2], .n_tags = 2};
        recs[i].values = vals[i];
        recs[i].n_values = 5;
    }
    if (vqe_upsert(c, recs, 40, &e)) die("upsert", &e);
    vqe_db_close(db);

    if (vqr_server_new(NULL, &g_srv, &e)) die("server", &e);
    vqe_db_params dbp;
    vqe_db_params_default(&dbp);
    dbp.read_only = 1;
    if (vqr_service_register_db(g_srv, g_dir, &dbp, &e)) die("register", &e);
    if (vqr_health_register(g_srv, &e)) die("health", &e);
    atexit(cleanup);
}

static void check_result(size_t sel, int rc, const vq_err *e, uint8_t *resp, size_t resp_len) {
    if (rc == VQ_OK) {
        if (!resp) abort(); /* a success always carries a response */
        ProtobufCMessage *m = protobuf_c_message_unpack(g_methods[sel].resp, NULL, resp_len, resp);
        if (!m) abort(); /* the reply must decode as the method's response type */
        protobuf_c_message_free_unpacked(m, NULL);
    } else {
        if (rc > 0 || rc < VQ_EINTERNAL || e->code != rc || !e->field[0]) abort();
    }
    vq_free(resp);
}

/* Snapshot/Rebuild for collection "c" would write: their input is decoded here and the
 * handler runs only when the request names another collection. */
static int writes_for_real(size_t sel, const uint8_t *b, size_t n) {
    if (strcmp(g_methods[sel].path, V("Snapshot")) && strcmp(g_methods[sel].path, V("Rebuild")))
        return 0;
    ProtobufCMessage *m = protobuf_c_message_unpack(g_methods[sel].req, NULL, n, b);
    if (!m) return 0; /* the handler rejects it */
    const char *coll = sel == 10 ? ((Vqdb__V1__SnapshotRequest *)m)->collection
                                 : ((Vqdb__V1__RebuildRequest *)m)->collection;
    int real = coll && !strcmp(coll, "c");
    protobuf_c_message_free_unpacked(m, NULL);
    return real;
}

/* libFuzzer calls this before the first input (so the setup is not timed as one); the
 * replay driver does not, and the first input sets up instead. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (!g_srv) setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_srv) setup();
    if (size < 1) return 0;
    size_t sel = data[0] % N_METHODS;
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    const vqr__method *m = vqr__method_find(g_srv, g_methods[sel].path);
    if (!m) abort();
    vqr_call_ctx ctx = {.method = m->path, .deadline = 0, .user = m->user};
    vq_err e;
    memset(&e, 0, sizeof e);
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    int rc;
    if (m->kind == VQR__UNARY) {
        if (writes_for_real(sel, b, n)) return 0;
        rc = m->unary(&ctx, b, n, &resp, &resp_len, &e);
    } else {
        void *st = NULL;
        rc = m->stream.begin ? m->stream.begin(&ctx, &st, &e) : VQ_OK;
        while (rc == VQ_OK && n >= 2) {
            size_t l = (size_t)b[0] | (size_t)b[1] << 8;
            b += 2, n -= 2;
            if (l > n) l = n;
            /* an exact-size copy, so that ASan sees reads past the message */
            uint8_t *msg = malloc(l ? l : 1);
            memcpy(msg, b, l);
            rc = m->stream.message(&ctx, st, msg, l, &e);
            free(msg);
            b += l, n -= l;
        }
        if (rc == VQ_OK) rc = m->stream.finish(&ctx, st, &resp, &resp_len, &e);
        if (m->stream.end) m->stream.end(st);
    }
    if (getenv("FUZZ_RPC_VERBOSE")) /* for checking what a corpus exercises */
        fprintf(stderr, "%s rc=%d %s: %s\n", m->path, rc, rc ? e.field : "", rc ? e.msg : "");
    check_result(sel, rc, &e, resp, resp_len);
    return 0;
}
