/* service.c — the vqdb.v1.VectorDB methods on top of engine/: decode with protobuf-c,
 * validate and convert (convert.c), call the engine, encode the reply. Errors keep the
 * engine's vq_err, whose field names the offending input ("points[3].vector"), and map to
 * gRPC statuses through VQ_ERRNO_MAP.
 *
 * Locking: collection handles stay valid until their collection is dropped, so DropCollection
 * takes the service's rwlock exclusively and every other method takes it shared; the
 * engine's own locks order searches and writes within a collection.
 *
 * Query: any number of dense, text (BM25) and sparse prefetches with one filter, fused by
 * RRF or weighted min-max / z-score fusion (engine/query.h). One dense prefetch alone is a
 * Search (same scores); one text or sparse prefetch keeps its own scores (BM25, inner
 * product), then graph expansion (user links and the kNN overlay, hops or personalized
 * PageRank) and diversity selection (MMR, facility location) over the fused pool. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "engine.h"
#include "internal.h"
#include "proto/vqdb.pb-c.h"
#include "query.h"
#include "wire.h"

#define VQR_DEFAULT_SPEC "hnsw:m=16,efc=200/sq8/rerank=4"

typedef struct service {
    vqe_db *db;
    pthread_rwlock_t lock;
} service;

static service g_svc; /* one per process: the server owns it from register to exit */

#define PACK(type, msg, resp, resp_len)                                               \
    do {                                                                              \
        size_t n__ = type##__get_packed_size(msg);                                    \
        *(resp) = vq_malloc(n__ ? n__ : 1);                                           \
        if (!*(resp)) return vq_err_set(err, VQ_ENOMEM, "response", "out of memory"); \
        *(resp_len) = type##__pack((msg), *(resp));                                   \
    } while (0)

static int open_coll(const char *name, vqe_collection **c, vq_err *err) {
    VQ_FAIL_IF(!name || !*name, VQ_EINVAL, err, "collection", "collection name is empty");
    return vqe_collection_open(g_svc.db, name, c, err);
}

static int deadline_passed(const vqr_call_ctx *ctx, vq_err *err) {
    if (ctx->deadline > 0 && vq_now() > ctx->deadline)
        return vq_err_set(err, VQ_EDEADLINE, "deadline", "the call's deadline passed");
    return VQ_OK;
}

/* Prefixes an error's message (and optionally its field) with the batch position. */
static void err_prefix(vq_err *err, const char *msg_prefix, const char *field_prefix) {
    if (!err) return;
    char m[sizeof err->msg + 64], f[sizeof err->field + 64];
    snprintf(m, sizeof m, "%s%s", msg_prefix, err->msg);
    memcpy(err->msg, m, sizeof err->msg - 1);
    err->msg[sizeof err->msg - 1] = '\0';
    if (field_prefix) {
        snprintf(f, sizeof f, "%s%s", field_prefix, err->field);
        memcpy(err->field, f, sizeof err->field - 1);
        err->field[sizeof err->field - 1] = '\0';
    }
}

/* ---- collections ---- */

static int create_collection(const vqr_call_ctx *ctx, const uint8_t *req, size_t len,
                             uint8_t **resp, size_t *resp_len, vq_err *err) {
    (void)ctx;
    Vqdb__V1__CreateCollectionRequest *in =
        vqdb__v1__create_collection_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed CreateCollectionRequest");
    vqe_schema s;
    int rc = in->schema ? vqr__schema_from_pb(in->schema, VQR_DEFAULT_SPEC, &s, err)
                        : vq_err_set(err, VQ_EINVAL, "schema", "schema is missing");
    vqdb__v1__create_collection_request__free_unpacked(in, NULL);
    VQ_TRY(rc);
    pthread_rwlock_rdlock(&g_svc.lock);
    rc = vqe_collection_create(g_svc.db, &s, err);
    vqe_collection *c = NULL;
    if (rc == VQ_OK) rc = vqe_collection_open(g_svc.db, s.name, &c, err);
    Vqdb__V1__CollectionInfo info = VQDB__V1__COLLECTION_INFO__INIT;
    vqr__info_mem mem;
    if (rc == VQ_OK) rc = vqr__info_to_pb(c, &info, &mem, err);
    pthread_rwlock_unlock(&g_svc.lock);
    VQ_TRY(rc);
    Vqdb__V1__CreateCollectionResponse out = VQDB__V1__CREATE_COLLECTION_RESPONSE__INIT;
    out.info = &info;
    size_t n = vqdb__v1__create_collection_response__get_packed_size(&out);
    *resp = vq_malloc(n ? n : 1);
    if (*resp) *resp_len = vqdb__v1__create_collection_response__pack(&out, *resp);
    vqr__info_mem_free(&mem);
    VQ_FAIL_IF(!*resp, VQ_ENOMEM, err, "response", "out of memory");
    return VQ_OK;
}

static int delete_collection(const vqr_call_ctx *ctx, const uint8_t *req, size_t len,
                             uint8_t **resp, size_t *resp_len, vq_err *err) {
    (void)ctx;
    Vqdb__V1__DeleteCollectionRequest *in =
        vqdb__v1__delete_collection_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed DeleteCollectionRequest");
    pthread_rwlock_wrlock(&g_svc.lock);
    int rc = in->collection && *in->collection
                 ? vqe_collection_drop(g_svc.db, in->collection, err)
                 : vq_err_set(err, VQ_EINVAL, "collection", "collection name is empty");
    pthread_rwlock_unlock(&g_svc.lock);
    vqdb__v1__delete_collection_request__free_unpacked(in, NULL);
    VQ_TRY(rc);
    Vqdb__V1__DeleteCollectionResponse out = VQDB__V1__DELETE_COLLECTION_RESPONSE__INIT;
    size_t n = vqdb__v1__delete_collection_response__get_packed_size(&out);
    *resp = vq_malloc(n ? n : 1);
    VQ_FAIL_IF(!*resp, VQ_ENOMEM, err, "response", "out of memory");
    *resp_len = vqdb__v1__delete_collection_response__pack(&out, *resp);
    return VQ_OK;
}

static int list_collections(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                            size_t *resp_len, vq_err *err) {
    (void)ctx;
    Vqdb__V1__ListCollectionsRequest *in =
        vqdb__v1__list_collections_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed ListCollectionsRequest");
    vqdb__v1__list_collections_request__free_unpacked(in, NULL);
    pthread_rwlock_rdlock(&g_svc.lock);
    char **names = NULL;
    size_t n = 0;
    int rc = vqe_collection_list(g_svc.db, &names, &n, err);
    Vqdb__V1__CollectionInfo *infos = rc == VQ_OK ? calloc(n ? n : 1, sizeof *infos) : NULL;
    Vqdb__V1__CollectionInfo **ptrs = rc == VQ_OK ? calloc(n ? n : 1, sizeof *ptrs) : NULL;
    vqr__info_mem *mems = rc == VQ_OK ? calloc(n ? n : 1, sizeof *mems) : NULL;
    if (rc == VQ_OK && (!infos || !ptrs || !mems))
        rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    size_t done = 0;
    for (size_t i = 0; rc == VQ_OK && i < n; i++, done++) {
        vqe_collection *c;
        vqdb__v1__collection_info__init(&infos[i]);
        rc = vqe_collection_open(g_svc.db, names[i], &c, err);
        if (rc == VQ_OK) rc = vqr__info_to_pb(c, &infos[i], &mems[i], err);
        ptrs[i] = &infos[i];
    }
    pthread_rwlock_unlock(&g_svc.lock);
    if (rc == VQ_OK) {
        Vqdb__V1__ListCollectionsResponse out = VQDB__V1__LIST_COLLECTIONS_RESPONSE__INIT;
        out.n_collections = n;
        out.collections = ptrs;
        size_t sz = vqdb__v1__list_collections_response__get_packed_size(&out);
        *resp = vq_malloc(sz ? sz : 1);
        if (*resp)
            *resp_len = vqdb__v1__list_collections_response__pack(&out, *resp);
        else
            rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    }
    for (size_t i = 0; i < done; i++) vqr__info_mem_free(&mems[i]);
    free(infos);
    free(ptrs);
    free(mems);
    if (names) vqe_names_free(names, n);
    return rc;
}

static int describe_collection(const vqr_call_ctx *ctx, const uint8_t *req, size_t len,
                               uint8_t **resp, size_t *resp_len, vq_err *err) {
    (void)ctx;
    Vqdb__V1__DescribeCollectionRequest *in =
        vqdb__v1__describe_collection_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed DescribeCollectionRequest");
    pthread_rwlock_rdlock(&g_svc.lock);
    vqe_collection *c;
    int rc = open_coll(in->collection, &c, err);
    Vqdb__V1__CollectionInfo info = VQDB__V1__COLLECTION_INFO__INIT;
    vqr__info_mem mem;
    memset(&mem, 0, sizeof mem);
    if (rc == VQ_OK) rc = vqr__info_to_pb(c, &info, &mem, err);
    pthread_rwlock_unlock(&g_svc.lock);
    vqdb__v1__describe_collection_request__free_unpacked(in, NULL);
    if (rc == VQ_OK) {
        Vqdb__V1__DescribeCollectionResponse out = VQDB__V1__DESCRIBE_COLLECTION_RESPONSE__INIT;
        out.info = &info;
        size_t n = vqdb__v1__describe_collection_response__get_packed_size(&out);
        *resp = vq_malloc(n ? n : 1);
        if (*resp)
            *resp_len = vqdb__v1__describe_collection_response__pack(&out, *resp);
        else
            rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    }
    vqr__info_mem_free(&mem);
    return rc;
}

/* ---- records ---- */

static int do_upsert(Vqdb__V1__UpsertRequest *in, uint64_t *upserted, vq_err *err) {
    pthread_rwlock_rdlock(&g_svc.lock);
    vqe_collection *c;
    int rc = open_coll(in->collection, &c, err);
    vqr__records recs;
    memset(&recs, 0, sizeof recs);
    if (rc == VQ_OK) rc = vqr__records_from_pb(c, in->points, in->n_points, &recs, err);
    if (rc == VQ_OK) rc = vqe_upsert(c, recs.recs, recs.n, err);
    pthread_rwlock_unlock(&g_svc.lock);
    vqr__records_free(&recs);
    if (rc == VQ_OK) *upserted = in->n_points;
    return rc;
}

static int upsert(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                  size_t *resp_len, vq_err *err) {
    VQ_TRY(deadline_passed(ctx, err));
    Vqdb__V1__UpsertRequest *in = vqdb__v1__upsert_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed UpsertRequest");
    uint64_t n = 0;
    int rc = do_upsert(in, &n, err);
    vqdb__v1__upsert_request__free_unpacked(in, NULL);
    VQ_TRY(rc);
    Vqdb__V1__UpsertResponse out = VQDB__V1__UPSERT_RESPONSE__INIT;
    out.upserted = n;
    PACK(vqdb__v1__upsert_response, &out, resp, resp_len);
    return VQ_OK;
}

typedef struct stream_state {
    uint64_t upserted, batches;
} stream_state;

static int stream_begin(const vqr_call_ctx *ctx, void **state, vq_err *err) {
    (void)ctx;
    stream_state *s = calloc(1, sizeof *s);
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "stream", "out of memory");
    *state = s;
    return VQ_OK;
}

static int stream_message(const vqr_call_ctx *ctx, void *state, const uint8_t *msg, size_t len,
                          vq_err *err) {
    stream_state *s = state;
    VQ_TRY(deadline_passed(ctx, err));
    VQ_TRY(vqr__wire_check(&vqdb__v1__upsert_request__descriptor, msg, len, VQR_NESTING_MAX, err));
    Vqdb__V1__UpsertRequest *in = vqdb__v1__upsert_request__unpack(NULL, len, msg);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed UpsertRequest in batch %llu",
               (unsigned long long)s->batches);
    uint64_t n = 0;
    int rc = do_upsert(in, &n, err);
    vqdb__v1__upsert_request__free_unpacked(in, NULL);
    if (rc < 0) { /* say which batch failed; earlier batches are durable */
        char pre[48];
        snprintf(pre, sizeof pre, "batch %llu: ", (unsigned long long)s->batches);
        err_prefix(err, pre, NULL);
    }
    VQ_TRY(rc);
    s->upserted += n;
    s->batches++;
    return VQ_OK;
}

static int stream_finish(const vqr_call_ctx *ctx, void *state, uint8_t **resp, size_t *resp_len,
                         vq_err *err) {
    (void)ctx;
    stream_state *s = state;
    Vqdb__V1__UpsertStreamResponse out = VQDB__V1__UPSERT_STREAM_RESPONSE__INIT;
    out.upserted = s->upserted;
    out.batches = s->batches;
    PACK(vqdb__v1__upsert_stream_response, &out, resp, resp_len);
    return VQ_OK;
}

static void stream_end(void *state) { free(state); }

static int delete_records(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                          size_t *resp_len, vq_err *err) {
    VQ_TRY(deadline_passed(ctx, err));
    Vqdb__V1__DeleteRequest *in = vqdb__v1__delete_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed DeleteRequest");
    vqe_id *ids = calloc(in->n_ids ? in->n_ids : 1, sizeof *ids);
    int rc = ids ? vqr__ids_from_pb(in->ids, in->n_ids, "ids", ids, err)
                 : vq_err_set(err, VQ_ENOMEM, "ids", "out of memory");
    size_t deleted = 0;
    pthread_rwlock_rdlock(&g_svc.lock);
    vqe_collection *c;
    if (rc == VQ_OK) rc = open_coll(in->collection, &c, err);
    if (rc == VQ_OK) rc = vqe_delete(c, ids, in->n_ids, &deleted, err);
    pthread_rwlock_unlock(&g_svc.lock);
    size_t asked = in->n_ids;
    free(ids);
    vqdb__v1__delete_request__free_unpacked(in, NULL);
    VQ_TRY(rc);
    Vqdb__V1__DeleteResponse out = VQDB__V1__DELETE_RESPONSE__INIT;
    out.deleted = deleted;
    out.not_found = asked - deleted;
    PACK(vqdb__v1__delete_response, &out, resp, resp_len);
    return VQ_OK;
}

static int get_records(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                       size_t *resp_len, vq_err *err) {
    VQ_TRY(deadline_passed(ctx, err));
    Vqdb__V1__GetRequest *in = vqdb__v1__get_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed GetRequest");
    size_t n = in->n_ids;
    vqe_id *ids = calloc(n ? n : 1, sizeof *ids);
    vqe_got *got = calloc(n ? n : 1, sizeof *got);
    int rc = ids && got ? vqr__ids_from_pb(in->ids, n, "ids", ids, err)
                        : vq_err_set(err, VQ_ENOMEM, "ids", "out of memory");
    pthread_rwlock_rdlock(&g_svc.lock);
    vqe_collection *c = NULL;
    if (rc == VQ_OK) rc = open_coll(in->collection, &c, err);
    if (rc == VQ_OK) rc = vqe_get(c, ids, n, got, err);
    vqr__points pts;
    memset(&pts, 0, sizeof pts);
    if (rc == VQ_OK) rc = vqr__points_from_got(c, in->ids, got, n, in->with_vectors, &pts, err);
    pthread_rwlock_unlock(&g_svc.lock);
    if (rc == VQ_OK) {
        Vqdb__V1__GetResponse out = VQDB__V1__GET_RESPONSE__INIT;
        out.n_points = pts.n;
        out.points = pts.ptrs;
        size_t sz = vqdb__v1__get_response__get_packed_size(&out);
        *resp = vq_malloc(sz ? sz : 1);
        if (*resp)
            *resp_len = vqdb__v1__get_response__pack(&out, *resp);
        else
            rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    }
    vqr__points_free(&pts);
    vqe_got_free(got, n); /* entries (zeroed when vqe_get did not fill them) */
    free(got);
    free(ids);
    vqdb__v1__get_request__free_unpacked(in, NULL);
    return rc;
}

/* ---- search ---- */

/* One search into a response (results owned by `out` through vqr__hits). */
static int run_search(const vqr_call_ctx *ctx, Vqdb__V1__SearchRequest *in,
                      Vqdb__V1__SearchResponse *out, vqr__hits *hits, vq_err *err) {
    VQ_TRY(deadline_passed(ctx, err));
    vqe_collection *c;
    VQ_TRY(open_coll(in->collection, &c, err));
    vqe_collection_info info;
    vqe_collection_info_get(c, &info);
    VQ_FAIL_IF(in->n_vector != info.schema.dim, VQ_EDIM, err, "vector",
               "vector has %zu values, collection '%s' has dimension %u", in->n_vector,
               info.schema.name, info.schema.dim);
    VQ_TRY(vq_check_finite(in->vector, 1, in->n_vector, "vector", err));
    VQ_FAIL_IF(in->k < 1 || in->k > VQE_K_MAX, VQ_EINVAL, err, "k", "k %u is outside [1, %u]",
               in->k, VQE_K_MAX);
    vqe_search_params sp;
    vqe_search_params_default(&sp);
    sp.k = in->k;
    if (in->params) sp.ef = in->params->ef;
    vqe_filter *f = NULL;
    if (in->filter) VQ_TRY(vqr__filter_from_pb(in->filter, &info.schema, &f, err));
    sp.filter = f;
    int rc = vqr__hits_alloc(hits, in->k, err);
    vqe_explain ex;
    memset(&ex, 0, sizeof ex);
    size_t n = 0;
    if (rc == VQ_OK) rc = vqe_search(c, in->vector, &sp, hits->hits, &n, &ex, err);
    if (rc == VQ_OK) rc = deadline_passed(ctx, err);
    if (rc == VQ_OK)
        rc = vqr__hits_to_pb(hits, n, info.schema.metric, vqe_plan_name(ex.plan), ex.ef, out, err);
    vqe_filter_free(f);
    return rc;
}

static int search(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                  size_t *resp_len, vq_err *err) {
    Vqdb__V1__SearchRequest *in = vqdb__v1__search_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed SearchRequest");
    Vqdb__V1__SearchResponse out = VQDB__V1__SEARCH_RESPONSE__INIT;
    vqr__hits hits;
    memset(&hits, 0, sizeof hits);
    pthread_rwlock_rdlock(&g_svc.lock);
    int rc = run_search(ctx, in, &out, &hits, err);
    pthread_rwlock_unlock(&g_svc.lock);
    if (rc == VQ_OK) {
        size_t n = vqdb__v1__search_response__get_packed_size(&out);
        *resp = vq_malloc(n ? n : 1);
        if (*resp)
            *resp_len = vqdb__v1__search_response__pack(&out, *resp);
        else
            rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    }
    vqr__hits_free(&hits);
    vqdb__v1__search_request__free_unpacked(in, NULL);
    return rc;
}

#define VQR_BATCH_RESULTS_MAX 100000u /* sum of k over one SearchBatch */

static int search_batch(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                        size_t *resp_len, vq_err *err) {
    Vqdb__V1__SearchBatchRequest *in = vqdb__v1__search_batch_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed SearchBatchRequest");
    size_t n = in->n_searches;
    int rc = n > VQR_BATCH_MAX
                 ? vq_err_set(err, VQ_EINVAL, "searches", "%zu searches in one batch; at most %u",
                              n, VQR_BATCH_MAX)
                 : VQ_OK;
    /* Result buffers are allocated per search before it runs: bound their sum, so that a
     * small request cannot make the server allocate 1024 x VQE_K_MAX results. */
    uint64_t total_k = 0;
    for (size_t i = 0; rc == VQ_OK && i < n; i++) total_k += in->searches[i]->k;
    if (rc == VQ_OK && total_k > VQR_BATCH_RESULTS_MAX)
        rc = vq_err_set(err, VQ_EINVAL, "searches",
                        "the batch asks for %llu results in all (sum of k); at most %u",
                        (unsigned long long)total_k, VQR_BATCH_RESULTS_MAX);
    Vqdb__V1__SearchResponse *outs = calloc(n ? n : 1, sizeof *outs);
    Vqdb__V1__SearchResponse **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    vqr__hits *hits = calloc(n ? n : 1, sizeof *hits);
    if (rc == VQ_OK && (!outs || !ptrs || !hits))
        rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    pthread_rwlock_rdlock(&g_svc.lock);
    for (size_t i = 0; rc == VQ_OK && i < n; i++) {
        vqdb__v1__search_response__init(&outs[i]);
        ptrs[i] = &outs[i];
        Vqdb__V1__SearchRequest *s = in->searches[i];
        /* Borrow the batch's name for the call and put the search's own string back after
         * (even an empty one is an allocation of the unpacked message: found by fuzzing). */
        char *own = s->collection;
        if (!own || !*own) s->collection = in->collection;
        rc = run_search(ctx, s, &outs[i], &hits[i], err);
        if (rc < 0) { /* the field names the position; only a field-less error needs it in
                       * the message ("searches[2].vector: ...", "searches[2]: ...") */
            char pre[48];
            int has_field = err && err->field[0];
            snprintf(pre, sizeof pre, has_field ? "searches[%zu]." : "searches[%zu]: ", i);
            err_prefix(err, has_field ? "" : pre, has_field ? pre : NULL);
        }
        s->collection = own;
    }
    pthread_rwlock_unlock(&g_svc.lock);
    if (rc == VQ_OK) {
        Vqdb__V1__SearchBatchResponse out = VQDB__V1__SEARCH_BATCH_RESPONSE__INIT;
        out.n_responses = n;
        out.responses = ptrs;
        size_t sz = vqdb__v1__search_batch_response__get_packed_size(&out);
        *resp = vq_malloc(sz ? sz : 1);
        if (*resp)
            *resp_len = vqdb__v1__search_batch_response__pack(&out, *resp);
        else
            rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    }
    for (size_t i = 0; hits && i < n; i++) vqr__hits_free(&hits[i]);
    free(outs);
    free(ptrs);
    free(hits);
    vqdb__v1__search_batch_request__free_unpacked(in, NULL);
    return rc;
}

#define VQR_PREFETCH_LIMIT_DEFAULT 100u

/* Converts the prefetches; vectors, texts and sparse arrays stay in the message. */
static int subs_from_pb(Vqdb__V1__QueryRequest *in, const vqe_schema *sc, vqe_subquery *sq,
                        vq_err *err) {
    for (size_t i = 0; i < in->n_prefetch; i++) {
        const Vqdb__V1__Prefetch *pf = in->prefetch[i];
        char fld[64];
        snprintf(fld, sizeof fld, "prefetch[%zu]", i);
        VQ_FAIL_IF(!isfinite(pf->weight) || pf->weight < 0, VQ_EINVAL, err, fld,
                   "weight %g must be finite and >= 0 (0: 1)", (double)pf->weight);
        switch (pf->query_case) {
        case VQDB__V1__PREFETCH__QUERY_DENSE: {
            const Vqdb__V1__DenseQuery *d = pf->dense;
            vqe_subquery_init(&sq[i], VQE_SUB_DENSE);
            snprintf(fld, sizeof fld, "prefetch[%zu].dense.vector", i);
            VQ_FAIL_IF(d->n_vector != sc->dim, VQ_EDIM, err, fld,
                       "vector has %zu values, collection '%s' has dimension %u", d->n_vector,
                       sc->name, sc->dim);
            sq[i].vector = d->vector;
            if (d->params) sq[i].ef = d->params->ef;
            break;
        }
        case VQDB__V1__PREFETCH__QUERY_TEXT:
            vqe_subquery_init(&sq[i], VQE_SUB_TEXT);
            sq[i].field = pf->text->field && *pf->text->field ? pf->text->field : NULL;
            sq[i].text = pf->text->query ? pf->text->query : "";
            sq[i].text_len = strlen(sq[i].text);
            break;
        case VQDB__V1__PREFETCH__QUERY_SPARSE: {
            const Vqdb__V1__SparseVector *sv = pf->sparse->vector;
            vqe_subquery_init(&sq[i], VQE_SUB_SPARSE);
            snprintf(fld, sizeof fld, "prefetch[%zu].sparse.vector", i);
            VQ_FAIL_IF(!sv || sv->n_indices != sv->n_values, VQ_EINVAL, err, fld,
                       "needs as many values as indices");
            sq[i].field = pf->sparse->field && *pf->sparse->field ? pf->sparse->field : NULL;
            sq[i].indices = sv->indices;
            sq[i].values = sv->values;
            sq[i].nnz = sv->n_indices;
            break;
        }
        default:
            return vq_err_set(err, VQ_EINVAL, fld, "prefetch has no query (dense, sparse or text)");
        }
        sq[i].prefetch = pf->limit ? pf->limit : VQR_PREFETCH_LIMIT_DEFAULT;
        sq[i].weight = pf->weight;
    }
    return VQ_OK;
}

/* Renames the engine's "subs[i]..." fields to the request's "prefetch[i]...". */
static void subs_to_prefetch(vq_err *err) {
    if (!err || strncmp(err->field, "subs[", 5)) return;
    char f[sizeof err->field];
    snprintf(f, sizeof f, "prefetch[%s", err->field + 5);
    snprintf(err->field, sizeof err->field, "%s", f);
}

/* GraphExpansion -> engine parameters. proto3 cannot tell an unset float from 0, so blend 0
 * means the engine default (0.5); restart > 0 selects personalized PageRank. */
static int graph_from_pb(const Vqdb__V1__GraphExpansion *g, vqe_graph_params *gp, vq_err *err) {
    VQ_FAIL_IF(g->hops > VQE_GRAPH_HOPS_MAX, VQ_EINVAL, err, "graph.hops", "%u not in 0..%u",
               g->hops, VQE_GRAPH_HOPS_MAX);
    VQ_FAIL_IF(!(g->restart >= 0 && g->restart < 1), VQ_EINVAL, err, "graph.restart",
               "%g not in [0, 1)", (double)g->restart);
    VQ_FAIL_IF(!(g->blend >= 0 && g->blend <= 1), VQ_EINVAL, err, "graph.blend", "%g not in [0, 1]",
               (double)g->blend);
    gp->mode = g->restart > 0 ? VQE_EXPAND_PPR : VQE_EXPAND_HOPS;
    if (g->hops) gp->hops = g->hops;
    if (g->restart > 0) gp->restart = g->restart;
    if (g->blend > 0) gp->alpha = 1.0 - g->blend;
    if (!g->n_link_types) { /* all user links and the kNN overlay */
        gp->use_links = 1, gp->type_mask = 0, gp->use_knn = 1;
        return VQ_OK;
    }
    gp->use_links = 0, gp->type_mask = 0, gp->use_knn = 0;
    for (size_t i = 0; i < g->n_link_types; i++) {
        if (!strcmp(g->link_types[i], "knn")) {
            gp->use_knn = 1;
            continue;
        }
        vqe_link_type t;
        VQ_FAIL_IF(
            vqe_link_type_parse(g->link_types[i], &t, NULL), VQ_EINVAL, err, "graph.link_types",
            "link_types[%zu] '%.40s': not knn, next, chunk, cite or related", i, g->link_types[i]);
        gp->use_links = 1;
        gp->type_mask |= VQE_LINK_BIT(t);
    }
    return VQ_OK;
}

/* Diversity -> engine parameters; lambda 0 means the default 0.5 (proto3 has no unset). */
static int diversity_from_pb(const Vqdb__V1__Diversity *d, vqe_diversity_params *dp, vq_err *err) {
    switch (d->method) {
    case VQDB__V1__DIVERSITY__METHOD__MMR:
        dp->method = VQE_DIV_MMR;
        break;
    case VQDB__V1__DIVERSITY__METHOD__FACILITY_LOCATION:
        dp->method = VQE_DIV_FL;
        break;
    default:
        return vq_err_set(err, VQ_EINVAL, "diversity.method", "unknown diversity method %d",
                          (int)d->method);
    }
    VQ_FAIL_IF(!(d->lambda >= VQE_MMR_LAMBDA_MIN && d->lambda <= VQE_MMR_LAMBDA_MAX), VQ_EINVAL,
               err, "diversity.lambda", "%g not in [0, 1]", (double)d->lambda);
    if (d->lambda > 0) dp->lambda = d->lambda;
    dp->pool = d->pool;
    return VQ_OK;
}

static int run_query(const vqr_call_ctx *ctx, Vqdb__V1__QueryRequest *in,
                     Vqdb__V1__QueryResponse *out, vqr__hits *h, vq_err *err) {
    VQ_TRY(deadline_passed(ctx, err));
    vqe_collection *c;
    VQ_TRY(open_coll(in->collection, &c, err));
    vqe_collection_info info;
    vqe_collection_info_get(c, &info);
    VQ_FAIL_IF(in->n_prefetch < 1 || in->n_prefetch > VQE_SUBQUERIES_MAX, VQ_EINVAL, err,
               "prefetch", "%zu prefetches; 1..%d", in->n_prefetch, VQE_SUBQUERIES_MAX);
    VQ_FAIL_IF(in->k < 1 || in->k > VQE_K_MAX, VQ_EINVAL, err, "k", "k %u is outside [1, %u]",
               in->k, VQE_K_MAX);
    vqe_subquery sq[VQE_SUBQUERIES_MAX];
    VQ_TRY(subs_from_pb(in, &info.schema, sq, err));
    vqe_query_params p;
    vqe_query_params_default(&p);
    p.subs = sq;
    p.n_subs = in->n_prefetch;
    p.k = in->k;
    if (in->n_prefetch == 1) {
        p.fusion.kind = VQE_FUSION_NONE; /* the list's own scores */
    } else if (in->fusion) {
        switch (in->fusion->method) {
        case VQDB__V1__FUSION__METHOD__RRF:
            p.fusion.kind = VQE_FUSION_RRF;
            if (in->fusion->rrf_k) p.fusion.rrf_k = in->fusion->rrf_k;
            break;
        case VQDB__V1__FUSION__METHOD__WEIGHTED_MINMAX:
            p.fusion.kind = VQE_FUSION_WEIGHTED, p.fusion.norm = VQE_NORM_MINMAX;
            break;
        case VQDB__V1__FUSION__METHOD__WEIGHTED_ZSCORE:
            p.fusion.kind = VQE_FUSION_WEIGHTED, p.fusion.norm = VQE_NORM_ZSCORE;
            break;
        default:
            return vq_err_set(err, VQ_EINVAL, "fusion.method", "unknown fusion method %d",
                              (int)in->fusion->method);
        }
    }
    if (in->graph && (in->graph->hops || in->graph->restart != 0))
        VQ_TRY(graph_from_pb(in->graph, &p.graph, err));
    if (in->diversity && in->diversity->method != VQDB__V1__DIVERSITY__METHOD__NONE)
        VQ_TRY(diversity_from_pb(in->diversity, &p.diversity, err));
    vqe_filter *f = NULL;
    if (in->filter) VQ_TRY(vqr__filter_from_pb(in->filter, &info.schema, &f, err));
    p.filter = f;
    vqe_query_result r;
    int rc = vqe_query(c, &p, &r, err);
    vqe_filter_free(f);
    if (rc) {
        subs_to_prefetch(err);
        return rc;
    }
    rc = deadline_passed(ctx, err);
    if (rc == VQ_OK) rc = vqr__hits_alloc(h, (unsigned)(r.n ? r.n : 1), err);
    /* vqr__hits_to_pb maps engine distances to the API's scores; fused and text/sparse
     * scores are similarities already, so they pass through as "L2 distances" unchanged,
     * and a lone dense list's -distance is turned back into a distance first. */
    int dense_alone =
        p.n_subs == 1 && sq[0].kind == VQE_SUB_DENSE && p.graph.mode == VQE_EXPAND_NONE;
    for (size_t i = 0; rc == VQ_OK && i < r.n; i++) {
        h->hits[i].internal = r.hits[i].internal;
        h->hits[i].id = r.hits[i].id;
        h->hits[i].score = (float)(dense_alone ? -r.hits[i].score : r.hits[i].score);
    }
    char plan[96];
    static const char *const kn[] = {"", "dense", "text", "sparse"};
    int o = snprintf(plan, sizeof plan, "%s", "query:");
    for (size_t i = 0; i < p.n_subs && o < (int)sizeof plan; i++)
        o += snprintf(plan + o, sizeof plan - (size_t)o, " %s %zu", kn[sq[i].kind], r.subs[i].n);
    if (o < (int)sizeof plan)
        snprintf(plan + o, sizeof plan - (size_t)o, " -> %s pool %zu",
                 p.fusion.kind == VQE_FUSION_RRF        ? "rrf"
                 : p.fusion.kind == VQE_FUSION_WEIGHTED ? "weighted"
                                                        : "none",
                 r.pool);
    if (rc == VQ_OK) {
        Vqdb__V1__SearchResponse sr = VQDB__V1__SEARCH_RESPONSE__INIT;
        rc = vqr__hits_to_pb(h, r.n, dense_alone ? info.schema.metric : VQ_METRIC_L2, plan, 0, &sr,
                             err);
        out->n_results = sr.n_results;
        out->results = sr.results;
        /* vqr__hits_to_pb appended " ef=0"; the plan is ours */
        snprintf(h->plan, sizeof h->plan, "%s", plan);
        size_t pl = strlen(h->plan);
        if (p.graph.mode != VQE_EXPAND_NONE && pl < sizeof h->plan)
            pl += (size_t)snprintf(h->plan + pl, sizeof h->plan - pl, " -> graph %s +%zu",
                                   p.graph.mode == VQE_EXPAND_PPR ? "ppr" : "hops", r.expanded);
        if (p.diversity.method != VQE_DIV_TOPK && pl < sizeof h->plan)
            snprintf(h->plan + pl, sizeof h->plan - pl, " -> %s %zu",
                     vqe_div_method_name(p.diversity.method), r.div.n_sel);
        out->plan = h->plan;
        out->objective = r.div.objective;
        out->mean_pairwise_sim = r.div.mean_pairwise;
    }
    vqe_query_result_free(&r);
    return rc;
}

static int query(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                 size_t *resp_len, vq_err *err) {
    Vqdb__V1__QueryRequest *in = vqdb__v1__query_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed QueryRequest");
    int rc = VQ_OK;
    Vqdb__V1__QueryResponse out = VQDB__V1__QUERY_RESPONSE__INIT;
    vqr__hits hits;
    memset(&hits, 0, sizeof hits);
    if (rc == VQ_OK) {
        pthread_rwlock_rdlock(&g_svc.lock);
        rc = run_query(ctx, in, &out, &hits, err);
        pthread_rwlock_unlock(&g_svc.lock);
    }
    if (rc == VQ_OK) {
        size_t sz = vqdb__v1__query_response__get_packed_size(&out);
        *resp = vq_malloc(sz ? sz : 1);
        if (*resp)
            *resp_len = vqdb__v1__query_response__pack(&out, *resp);
        else
            rc = vq_err_set(err, VQ_ENOMEM, "response", "out of memory");
    }
    vqr__hits_free(&hits);
    vqdb__v1__query_request__free_unpacked(in, NULL);
    return rc;
}

/* ---- maintenance ---- */

static int snapshot(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                    size_t *resp_len, vq_err *err) {
    (void)ctx;
    Vqdb__V1__SnapshotRequest *in = vqdb__v1__snapshot_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed SnapshotRequest");
    pthread_rwlock_rdlock(&g_svc.lock);
    vqe_collection *c;
    int rc = open_coll(in->collection, &c, err);
    if (rc == VQ_OK && (!in->path || !*in->path))
        rc = vq_err_set(err, VQ_EINVAL, "path", "snapshot path is empty");
    if (rc == VQ_OK) rc = vqe_snapshot(c, in->path, err);
    uint64_t bytes = 0;
    if (rc == VQ_OK) rc = vqe_dir_bytes(in->path, &bytes, err);
    vqe_collection_info info;
    if (rc == VQ_OK) vqe_collection_info_get(c, &info);
    pthread_rwlock_unlock(&g_svc.lock);
    vqdb__v1__snapshot_request__free_unpacked(in, NULL);
    VQ_TRY(rc);
    Vqdb__V1__SnapshotResponse out = VQDB__V1__SNAPSHOT_RESPONSE__INIT;
    out.sequence = info.write_counter;
    out.bytes = bytes;
    PACK(vqdb__v1__snapshot_response, &out, resp, resp_len);
    return VQ_OK;
}

static int rebuild(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                   size_t *resp_len, vq_err *err) {
    (void)ctx;
    Vqdb__V1__RebuildRequest *in = vqdb__v1__rebuild_request__unpack(NULL, len, req);
    VQ_FAIL_IF(!in, VQ_EINVAL, err, "request", "malformed RebuildRequest");
    int rc = VQ_OK;
    double t0 = vq_now();
    pthread_rwlock_rdlock(&g_svc.lock);
    vqe_collection *c;
    if (rc == VQ_OK) rc = open_coll(in->collection, &c, err);
    vqe_rebuild_params rp;
    vqe_rebuild_params_default(&rp);
    if (in->index_spec && *in->index_spec) rp.index_spec = in->index_spec;
    if (rc == VQ_OK) {
        rc = vqe_rebuild_with(c, &rp, err);
        /* the engine names a bad SPEC "index"; the API's field is index_spec */
        if (rc && err && !strcmp(err->field, "index"))
            snprintf(err->field, sizeof err->field, "index_spec");
    }
    pthread_rwlock_unlock(&g_svc.lock);
    vqdb__v1__rebuild_request__free_unpacked(in, NULL);
    VQ_TRY(rc);
    Vqdb__V1__RebuildResponse out = VQDB__V1__REBUILD_RESPONSE__INIT;
    out.seconds = vq_now() - t0;
    PACK(vqdb__v1__rebuild_response, &out, resp, resp_len);
    return VQ_OK;
}

/* The unary methods with their request types: every request passes vqr__wire_check (nesting
 * depth, wire syntax) before its handler unpacks it, so no handler can be made to recurse
 * without bound inside protobuf-c. */
typedef struct checked_method {
    const char *path;
    vqr_unary_fn fn;
    const ProtobufCMessageDescriptor *req;
} checked_method;

static const checked_method g_unary[] = {
    {"/vqdb.v1.VectorDB/CreateCollection", create_collection,
     &vqdb__v1__create_collection_request__descriptor},
    {"/vqdb.v1.VectorDB/DeleteCollection", delete_collection,
     &vqdb__v1__delete_collection_request__descriptor},
    {"/vqdb.v1.VectorDB/ListCollections", list_collections,
     &vqdb__v1__list_collections_request__descriptor},
    {"/vqdb.v1.VectorDB/DescribeCollection", describe_collection,
     &vqdb__v1__describe_collection_request__descriptor},
    {"/vqdb.v1.VectorDB/Upsert", upsert, &vqdb__v1__upsert_request__descriptor},
    {"/vqdb.v1.VectorDB/Delete", delete_records, &vqdb__v1__delete_request__descriptor},
    {"/vqdb.v1.VectorDB/Get", get_records, &vqdb__v1__get_request__descriptor},
    {"/vqdb.v1.VectorDB/Search", search, &vqdb__v1__search_request__descriptor},
    {"/vqdb.v1.VectorDB/SearchBatch", search_batch, &vqdb__v1__search_batch_request__descriptor},
    {"/vqdb.v1.VectorDB/Query", query, &vqdb__v1__query_request__descriptor},
    {"/vqdb.v1.VectorDB/Snapshot", snapshot, &vqdb__v1__snapshot_request__descriptor},
    {"/vqdb.v1.VectorDB/Rebuild", rebuild, &vqdb__v1__rebuild_request__descriptor},
};

static int checked_unary(const vqr_call_ctx *ctx, const uint8_t *req, size_t len, uint8_t **resp,
                         size_t *resp_len, vq_err *err) {
    const checked_method *m = ctx->user;
    VQ_TRY(vqr__wire_check(m->req, req, len, VQR_NESTING_MAX, err));
    return m->fn(ctx, req, len, resp, resp_len, err);
}

int vqr_service_register_db(vqr_server *s, const char *data_dir, const vqe_db_params *dbp,
                            vq_err *err);

/* Called by `vqdb serve` (a weak reference there, so builds without the engine serve health
 * only). Opens the data directory and registers every method. */
int vqr_service_register(vqr_server *s, const char *data_dir, vq_err *err) {
    return vqr_service_register_db(s, data_dir, NULL, err);
}

/* The same with database parameters (NULL: defaults). The fuzz target opens its data
 * read-only, so that every handler validates its whole request and then fails to write. */
int vqr_service_register_db(vqr_server *s, const char *data_dir, const vqe_db_params *dbp,
                            vq_err *err) {
    VQ_FAIL_IF(g_svc.db, VQ_ESTATE, err, "service", "the service is already registered");
    VQ_TRY(vqe_db_open(data_dir, dbp, &g_svc.db, err));
    pthread_rwlock_init(&g_svc.lock, NULL);
    for (size_t i = 0; i < sizeof g_unary / sizeof g_unary[0]; i++)
        VQ_TRY(
            vqr_server_add_unary(s, g_unary[i].path, checked_unary, (void *)&g_unary[i], 0, err));
    static const vqr_stream_fns stream = {stream_begin, stream_message, stream_finish, stream_end};
    return vqr_server_add_stream(s, "/vqdb.v1.VectorDB/UpsertStream", &stream, &g_svc, err);
}

/* Flushes and closes storage after the server has stopped (SIGTERM path of `vqdb serve`). */
void vqr_service_close(void) {
    if (!g_svc.db) return;
    vqe_db_close(g_svc.db);
    g_svc.db = NULL;
    pthread_rwlock_destroy(&g_svc.lock);
}
