/* engine.h — vqdb's database layer: collections of vectors with typed attributes and text,
 * stored durably in RocksDB, searched with filters through an in-memory index.
 *
 * Model:
 *   vqe_db        one data directory = one RocksDB (column families meta, vectors, attrs,
 *                 text, idmap; see store.c for the key encoding) + one index file per
 *                 collection under DIR/index/.
 *   collection    a schema (vqe_schema: dimension, metric, index SPEC, typed attribute
 *                 fields, optional text field, durability) and its records.
 *   record        a user id (uint64 or string), a vector of `dim` floats, attribute values.
 *                 User ids map to dense internal ids (uint32); an upsert of an existing user
 *                 id replaces the record (new internal id, the old one is tombstoned).
 *
 * Write path (vqe_upsert / vqe_delete): the whole batch is validated first (dimension,
 * NaN/Inf, unknown field, wrong type, duplicate id) and rejected as a whole with an error
 * naming "records[i].field"; then one RocksDB WriteBatch holds every key of the request; it
 * is acknowledged when the WAL write is durable per the collection's durability:
 *   VQE_DURABLE_SYNC   the WAL is fsynced for this batch before the call returns;
 *   VQE_DURABLE_GROUP  the call returns after the WAL write (safe against a process crash);
 *                      a background thread fsyncs the WAL every group_ms, so a power loss
 *                      can take the writes acknowledged in the last group_ms (+ one fsync).
 * Only then are the in-memory index, id maps and attribute bitmaps updated.
 *
 * Restart (vqe_collection_open): records are loaded from RocksDB; the index is reloaded
 * from its file when the file's recorded write counter equals the collection's counter in
 * storage, otherwise (missing, stale or corrupted file) rebuilt from the vectors. A RocksDB
 * that fails its checksums or holds malformed records is reported as VQ_ECORRUPT and the
 * collection is not served.
 *
 * Search (vqe_search): a filter (filter.h) is evaluated to a bitmap of internal ids from the
 * attribute indexes; the planner (plan.c) scans the allowed ids exactly when they are few
 * and otherwise runs a filtered index search, falling back to the exact scan when the index
 * returns fewer than min(k, matches). Scores are distances, smaller is closer: squared L2,
 * -<q, x> for ip, 1 - cos(q, x) for cos (cos vectors are normalized on write and on query).
 *
 * Thread safety: a vqe_db and its collections may be used from any number of threads:
 * searches run concurrently (shared lock), writes to one collection are serialized by a
 * per-collection writer mutex and take the exclusive lock only to apply to memory.
 * Collection create/drop/open are serialized by the db. Handles returned by
 * vqe_collection_open stay valid until vqe_collection_drop of that name or vqe_db_close.
 */
#ifndef VQ_ENGINE_H
#define VQ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vqe_db vqe_db;
typedef struct vqe_collection vqe_collection;

#define VQE_NAME_MAX 64u    /* collection and field names: [A-Za-z_][A-Za-z0-9_.-]*, < 64 */
#define VQE_FIELDS_MAX 64u  /* attribute fields per collection */
#define VQE_BATCH_MAX 65536 /* records per upsert/delete/get request */
#define VQE_STRING_MAX 4096 /* bytes of a string user id, keyword or tag */
#define VQE_TEXT_MAX (1u << 24)
#define VQE_TAGS_MAX 1024 /* tags per record */
#define VQE_K_MAX 10000
#define VQE_GROUP_MS_DEFAULT 10
#define VQE_GROUP_MS_MIN 1
#define VQE_GROUP_MS_MAX 10000
#define VQE_FORMAT_VERSION 1

typedef enum vqe_type {
    VQE_INT64 = 1,
    VQE_DOUBLE = 2,
    VQE_BOOL = 3,
    VQE_KEYWORD = 4,
    VQE_TAGS = 5,  /* keyword list, "keyword[]" in schema files */
    VQE_TEXT = 6,  /* at most one per schema; stored in the text column family, indexed for
                      BM25 (its postings in the postings column family) */
    VQE_SPARSE = 7 /* a client-supplied sparse vector (index:value pairs, e.g. SPLADE or
                      BM25 weights), searched by inner product; stored in postings */
} vqe_type;
#define VQE_SPARSE_NNZ_MAX 65536 /* non-zero entries of one sparse vector */
/* "int64", "double", "bool", "keyword", "keyword[]", "text", "sparse"; NULL for a bad value. */
const char *vqe_type_name(vqe_type t);
int vqe_type_parse(const char *s, vqe_type *out);

typedef enum vqe_durability { VQE_DURABLE_SYNC = 0, VQE_DURABLE_GROUP = 1 } vqe_durability;

typedef struct vqe_field {
    char name[VQE_NAME_MAX];
    vqe_type type;
} vqe_field;

typedef struct vqe_schema {
    char name[VQE_NAME_MAX];
    unsigned dim;         /* 1..VQ_DIM_MAX */
    vq_metric metric;     /* l2, ip, cos */
    char index_spec[256]; /* the index SPEC handed to index/ ("flat" = exact scan only) */
    unsigned n_fields;    /* <= VQE_FIELDS_MAX */
    vqe_field fields[VQE_FIELDS_MAX];
    vqe_durability durability;
    unsigned group_ms; /* VQE_DURABLE_GROUP: fsync period, VQE_GROUP_MS_MIN..MAX */
} vqe_schema;

/* dim 0 (must be set), metric l2, index "flat", no fields, sync, group_ms default. */
void vqe_schema_default(vqe_schema *s);
/* Adds the fields of a schema file's JSON: {"fields": {"tenant": "int64", ...}}. Errors name
 * "fields.<name>". */
int vqe_schema_fields_from_json(vqe_schema *s, const char *json, vq_err *err);
/* Checks names, ranges and types (one text field at most; "id" is reserved). */
int vqe_schema_validate(const vqe_schema *s, vq_err *err);
/* The whole schema as a JSON object; *out is vq_malloc'd, free with vq_free. */
int vqe_schema_to_json(const vqe_schema *s, char **out, vq_err *err);
int vqe_schema_from_json(const char *json, vqe_schema *s, vq_err *err);

/* ---- database ---- */
typedef struct vqe_db_params {
    int create_if_missing; /* default 1 */
    int read_only;         /* default 0: open the RocksDB read-only (explain, get, query) */
    /* Called during index rebuilds with (done, total); may be NULL. */
    void (*progress)(void *ctx, const char *collection, size_t done, size_t total);
    void *progress_ctx;
} vqe_db_params;
void vqe_db_params_default(vqe_db_params *p);

int vqe_db_open(const char *dir, const vqe_db_params *p, vqe_db **out, vq_err *err);
/* Saves each open collection's index file (so a clean restart reloads it) and closes. */
void vqe_db_close(vqe_db *db);

int vqe_collection_create(vqe_db *db, const vqe_schema *s, vq_err *err);
/* Names of all collections, sorted; *names is a vq_malloc'd array of vq_malloc'd strings:
 * free with vqe_names_free. */
int vqe_collection_list(vqe_db *db, char ***names, size_t *n, vq_err *err);
void vqe_names_free(char **names, size_t n);
/* Loads (first call) and returns the collection; VQ_ENOTFOUND naming "collection". */
int vqe_collection_open(vqe_db *db, const char *name, vqe_collection **out, vq_err *err);
int vqe_collection_drop(vqe_db *db, const char *name, vq_err *err);

typedef struct vqe_collection_info {
    vqe_schema schema;
    uint64_t count;         /* live records */
    uint64_t next_internal; /* internal ids ever assigned */
    uint64_t write_counter; /* batches applied; recorded in the index file */
    int index_loaded;       /* 1: the index came from its file, 0: rebuilt or flat */
    char index_impl[64];    /* "flat" or the index's own description */
    double load_seconds;
} vqe_collection_info;
void vqe_collection_info_get(vqe_collection *c, vqe_collection_info *out);

/* ---- records ---- */
typedef struct vqe_id {
    int is_str;    /* 0: u, 1: s */
    uint64_t u;    /* numeric user id */
    const char *s; /* string user id, 1..VQE_STRING_MAX bytes, NUL-terminated */
} vqe_id;

typedef struct vqe_value {
    const char *field; /* a schema field name */
    vqe_type type;     /* VQE_INT64 is accepted for a double field (widened exactly when
                          |v| <= 2^53, else rejected) */
    int64_t i;
    double d;
    int b;
    const char *s;           /* keyword or text, NUL-terminated */
    const char *const *tags; /* VQE_TAGS: n_tags strings */
    size_t n_tags;
    /* VQE_SPARSE: n_sparse (index, value) pairs, indices in any order and unique, values
     * finite; n_sparse <= VQE_SPARSE_NNZ_MAX (0 is an empty vector: no postings) */
    const uint32_t *sparse_indices;
    const float *sparse_values;
    size_t n_sparse;
} vqe_value;

typedef struct vqe_record {
    vqe_id id;
    const float *vector; /* dim floats */
    const vqe_value *values;
    size_t n_values;
} vqe_record;

/* Parses one JSON object of attributes ({"tenant": 7, "tags": ["a"]}) into values that
 * point into *owner (vq_malloc'd storage: free with vqe_values_free). JSON numbers without
 * fraction or exponent become VQE_INT64, others VQE_DOUBLE; strings become VQE_KEYWORD (or
 * VQE_TEXT for the schema's text field), arrays of strings VQE_TAGS; a sparse field takes
 * {"indices": [u32, ...], "values": [number, ...]}. field_prefix names the record in errors
 * ("records[3]"). */
typedef struct vqe_values {
    vqe_value *v;
    size_t n;
    void *mem;
} vqe_values;
int vqe_values_from_json(const vqe_collection *c, const char *json, const char *field_prefix,
                         vqe_values *out, vq_err *err);
void vqe_values_free(vqe_values *v);

/* Upserts n records as one atomic, durable batch (see the top of this file). */
int vqe_upsert(vqe_collection *c, const vqe_record *recs, size_t n, vq_err *err);
/* Deletes the given ids (absent ids are ignored); *deleted (may be NULL) counts the ones
 * that existed. */
int vqe_delete(vqe_collection *c, const vqe_id *ids, size_t n, size_t *deleted, vq_err *err);

/* A record read back: vector, attributes as a JSON object (text field included). */
typedef struct vqe_got {
    int found;
    float *vector;    /* dim floats */
    char *attrs_json; /* "{...}" */
} vqe_got;
/* Reads n records from storage (the source of truth); out[i].found = 0 for absent ids.
 * Free with vqe_got_free(out, n). */
int vqe_get(vqe_collection *c, const vqe_id *ids, size_t n, vqe_got *out, vq_err *err);
void vqe_got_free(vqe_got *g, size_t n);

/* ---- search ---- */
typedef struct vqe_search_params {
    unsigned k;               /* 1..VQE_K_MAX */
    unsigned ef;              /* index search effort (0: index default, raised to >= k) */
    const vqe_filter *filter; /* NULL: no filter; must be bound (vqe_filter_bind) */
    /* Filtered searches whose allowed set has at most this many ids scan them exactly.
     * 0 = the planner's cost model (plan.c): exact when matches <= sqrt(86 * ef * live). */
    size_t exact_threshold;
    int force_plan; /* 0 auto, 1 exact scan of the allowed ids, 2 index search */
} vqe_search_params;
void vqe_search_params_default(vqe_search_params *p);

typedef enum vqe_plan_kind {
    VQE_PLAN_NONE = 0,            /* the filter matches nothing */
    VQE_PLAN_EXACT = 1,           /* exact scan of the allowed ids */
    VQE_PLAN_INDEX = 2,           /* index search (filtered with the bitmap when a filter is set) */
    VQE_PLAN_INDEX_THEN_EXACT = 3 /* the index returned < min(k, matches): exact fallback */
} vqe_plan_kind;

typedef struct vqe_explain {
    vqe_plan_kind plan;
    uint64_t live;         /* live records */
    uint64_t matches;      /* ids the filter allows (live), exact */
    double selectivity;    /* matches / live */
    size_t threshold;      /* exact_threshold in force */
    unsigned ef;           /* ef used by the index search */
    double est_cost_exact; /* distance computations: matches */
    double est_cost_index; /* estimated: 86 * ef / selectivity (plan.c) */
    double filter_ms, search_ms;
    char filter_text[512]; /* the bound filter, printed back */
    char index_impl[64];
} vqe_explain;
const char *vqe_plan_name(vqe_plan_kind k);

typedef struct vqe_hit {
    uint32_t internal;
    float score; /* distance, smaller is closer */
    vqe_id id;   /* id.s points into the collection; valid while the collection is open */
} vqe_hit;

/* Searches one query (dim floats). Writes up to k hits sorted by score into hits[] and
 * their number into *n_hits; ex (may be NULL) receives the plan and its estimates.
 * Never returns fewer than min(k, matches) hits. */
int vqe_search(vqe_collection *c, const float *query, const vqe_search_params *p, vqe_hit *hits,
               size_t *n_hits, vqe_explain *ex, vq_err *err);
/* The plan alone (evaluates the filter, runs nothing else). */
int vqe_explain_plan(vqe_collection *c, const vqe_search_params *p, vqe_explain *ex, vq_err *err);
/* Formats a vqe_id ("123" or the string) into buf. */
const char *vqe_id_str(const vqe_id *id, char *buf, size_t cap);

/* ---- index maintenance ---- */
/* Builds a new index from the stored vectors beside the old one and swaps it in. Searches
 * and writes continue on the old index meanwhile (the swap takes the exclusive lock for a
 * pointer exchange); writes made during the build are in the new index. Saves the new index
 * file. */
int vqe_rebuild(vqe_collection *c, vq_err *err);
/* Reclaims deleted entries (index/'s compaction: HNSW re-links the neighbours of deleted
 * nodes) on a copy of the index beside the serving one, then swaps it in like a rebuild:
 * searches and writes continue. The background thread (below) calls the same. */
int vqe_compact(vqe_collection *c, vq_err *err);

/* Rebuild with options: a new index SPEC (NULL: keep the collection's; the new SPEC is
 * recorded in the schema) and the threads index/ uses to build it. The new index is built
 * beside the serving one from the stored vectors while searches AND writes continue; writes
 * that arrive meanwhile are carried over (maint.c: catch-up by set difference, the last
 * small delta under the writer mutex), then the index is swapped in with a pointer
 * exchange. vqe_rebuild(c) = vqe_rebuild_with(c, NULL). */
#define VQE_REBUILD_THREADS_MAX 256u
typedef struct vqe_rebuild_params {
    const char *index_spec; /* NULL: the current SPEC */
    unsigned threads;       /* 0 or 1: the calling thread only */
} vqe_rebuild_params;
void vqe_rebuild_params_default(vqe_rebuild_params *p);
int vqe_rebuild_with(vqe_collection *c, const vqe_rebuild_params *p, vq_err *err);

/* Background maintenance: every writable open collection has a thread that wakes every
 * interval_ms and compacts (as vqe_compact: a compacted copy beside the serving index,
 * caught up and swapped in; searches and writes continue) when the index's deleted entries
 * reach compact_fraction of all its entries. compact_fraction 0 disables it. */
#define VQE_COMPACT_FRACTION_DEFAULT 0.2
#define VQE_MAINT_MS_DEFAULT 1000u
#define VQE_MAINT_MS_MIN 1u
#define VQE_MAINT_MS_MAX 3600000u
typedef struct vqe_maint_params {
    double compact_fraction; /* 0..1 */
    unsigned interval_ms;    /* VQE_MAINT_MS_MIN..MAX */
} vqe_maint_params;
void vqe_maint_params_default(vqe_maint_params *p);
int vqe_maint_set(vqe_collection *c, const vqe_maint_params *p, vq_err *err);

typedef struct vqe_maint_info {
    vqe_maint_params params;
    int background;          /* 1: the maintenance thread runs (not for read-only dbs) */
    uint64_t compactions;    /* completed, background and explicit */
    uint64_t rebuilds;       /* completed */
    int last_error;          /* status of the last maintenance operation */
    double last_seconds;     /* its duration */
    uint64_t index_live;     /* entries of the serving index */
    uint64_t index_deleted;  /* tombstones not yet reclaimed */
    double deleted_fraction; /* index_deleted / (index_live + index_deleted) */
} vqe_maint_info;
void vqe_maint_info_get(vqe_collection *c, vqe_maint_info *out);

/* ---- snapshots ---- */
/* Writes a consistent copy of the collection into out_dir (must not exist): a RocksDB
 * checkpoint (hard links where possible), the collection's index file taken at the same
 * write counter, and MANIFEST.json naming the collection. Writes continue meanwhile; they
 * are paused only while the checkpoint and the index file are taken. */
int vqe_snapshot(vqe_collection *c, const char *out_dir, vq_err *err);
/* Restores the collection saved in snap_dir into db as `as_name` (NULL: its own name), which
 * must not exist. Copies its records and, when it matches, its index file. */
int vqe_restore(vqe_db *db, const char *snap_dir, const char *as_name, vq_err *err);

/* Bytes the data directory occupies on disk (all files, recursively). */
int vqe_dir_bytes(const char *dir, uint64_t *out, vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
