/* coll_internal.h — private to engine/ (the collection files): the storage wrapper
 * (store.c), a byte-keyed hash map, attribute indexes (attr_index.c), the collection and db
 * handles, and the helpers the write, plan and snapshot files share.
 *
 * Invariants of a loaded collection (all under c->lock):
 *   - internal ids (iid) are assigned in increasing order and never reused; an upsert of
 *     an existing user id assigns a new iid and kills the old one, so an iid's vector and
 *     attributes never change while it is live. Attribute indexes are therefore
 *     append-only: stale entries of dead iids stay until the next load and are removed by
 *     intersecting every filter result with `live`.
 *   - live = the iids present in the vectors column family;
 *     vecs[iid * dim ...] holds the vector (normalized for cos) of every iid < next_iid.
 */
#ifndef VQE_COLL_INTERNAL_H
#define VQE_COLL_INTERNAL_H

#include <pthread.h>
#include <roaring/roaring.h>
#include <stdint.h>

#include "engine.h"
#include "quant.h"
#include "text.h"

#if defined(__has_include)
#if __has_include("index.h")
#include "index.h"
#define VQE_HAVE_INDEX 1
#endif
#endif
#ifndef VQE_HAVE_INDEX
#define VQE_HAVE_INDEX 0
#endif

/* ---- store.c ---- */
enum {
    VQE_CF_META = 0,
    VQE_CF_VECTORS,
    VQE_CF_ATTRS,
    VQE_CF_TEXT,
    VQE_CF_IDMAP,
    VQE_CF_POSTINGS, /* text and sparse fields' per-record postings (postings.c) */
    VQE_CF_LINKS,    /* typed links between records (graph.c) */
    VQE_CF_N
};
typedef struct vqe__store vqe__store;
typedef struct vqe__batch vqe__batch;

int vqe__store_open(const char *dir, int create, int read_only, vqe__store **out, vq_err *err);
void vqe__store_close(vqe__store *s);
/* VQ_ENOTFOUND when absent; *val is malloc'd (free with free()). */
int vqe__store_get(vqe__store *s, int cf, const void *k, size_t kl, char **val, size_t *vl,
                   vq_err *err);
vqe__batch *vqe__batch_new(void);
void vqe__batch_free(vqe__batch *b);
void vqe__batch_put(vqe__batch *b, int cf, const void *k, size_t kl, const void *v, size_t vl);
void vqe__batch_del(vqe__batch *b, int cf, const void *k, size_t kl);
/* Deletes [k1, k2). */
void vqe__batch_del_range(vqe__batch *b, int cf, const void *k1, size_t l1, const void *k2,
                          size_t l2);
int vqe__store_write(vqe__store *s, vqe__batch *b, int sync, vq_err *err);
/* fsyncs the WAL (group commit). */
int vqe__store_sync_wal(vqe__store *s, vq_err *err);
/* Calls cb for every key with the prefix, in key order; a non-zero return stops the scan
 * and is returned. Reads verify checksums. */
typedef int (*vqe__scan_cb)(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
int vqe__store_scan(vqe__store *s, int cf, const void *prefix, size_t pl, vqe__scan_cb cb,
                    void *ctx, vq_err *err);
int vqe__store_checkpoint(vqe__store *s, const char *dir, vq_err *err);
int vqe__store_read_only(const vqe__store *s);

/* Key helpers (encoding documented at the top of store.c). */
static inline void vqe__be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}
static inline uint32_t vqe__rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void vqe__be64(uint8_t *p, uint64_t v) {
    vqe__be32(p, (uint32_t)(v >> 32));
    vqe__be32(p + 4, (uint32_t)v);
}
static inline uint64_t vqe__rd64(const uint8_t *p) {
    return (uint64_t)vqe__rd32(p) << 32 | vqe__rd32(p + 4);
}

/* ---- hash map: byte-string keys (copied) -> uint64 ---- */
typedef struct vqe__hslot {
    uint64_t h, val;
    char *key; /* NULL: empty */
    uint32_t klen;
} vqe__hslot;
typedef struct vqe__hmap {
    vqe__hslot *s;
    size_t cap, n;
} vqe__hmap;
/* Inserts or overwrites; VQ_ENOMEM on failure. */
int vqe__hmap_put(vqe__hmap *m, const void *k, size_t kl, uint64_t val);
/* 1 and *val when present. */
int vqe__hmap_get(const vqe__hmap *m, const void *k, size_t kl, uint64_t *val);
/* Removes; 1 when it was present. */
int vqe__hmap_del(vqe__hmap *m, const void *k, size_t kl);
void vqe__hmap_free(vqe__hmap *m, void (*free_val)(uint64_t));

/* ---- attr_index.c ---- */
typedef struct vqe__numpair {
    uint64_t key; /* order-preserving key of the value (vqe__num_key) */
    uint32_t iid;
} vqe__numpair;

typedef struct vqe__attr_field {
    vqe_type type;
    roaring_bitmap_t *has; /* iids with a value */
    /* keyword, tags: value -> index into dict; dict[i] = bitmap of iids holding it */
    vqe__hmap dict;
    roaring_bitmap_t **bm;
    size_t n_bm, cap_bm;
    /* bool */
    roaring_bitmap_t *bt, *bf;
    /* int64, double: keys by iid, plus a sorted run of (key, iid) for iids < sorted_upto */
    uint64_t *keys;
    size_t cap_keys;
    vqe__numpair *sorted;
    size_t n_sorted;
    uint32_t sorted_upto;
} vqe__attr_field;

typedef struct vqe__attrs {
    unsigned n;
    vqe__attr_field *f;
} vqe__attrs;

/* A decoded attribute record (points into the encoded blob). */
typedef struct vqe__aval {
    int present;
    int64_t i;
    double d;
    int b;
    const char *s;
    uint32_t slen;
    const uint8_t *tags; /* n_tags (u32 len + bytes) entries */
    uint32_t n_tags;
} vqe__aval;

uint64_t vqe__num_key_i64(int64_t v);
uint64_t vqe__num_key_f64(double v);
int vqe__attrs_init(vqe__attrs *a, const vqe_schema *s);
void vqe__attrs_free(vqe__attrs *a);
/* Decodes an attrs blob (format at the top of write.c) into vals[n_fields]; VQ_ECORRUPT. */
int vqe__attrs_decode(const vqe_schema *s, const uint8_t *p, size_t n, vqe__aval *vals,
                      vq_err *err);
/* Indexes iid's values (iid above every iid added before, except during load). */
int vqe__attrs_add(vqe__attrs *a, uint32_t iid, const vqe__aval *vals);
/* Sorts the unsorted tail into the sorted run when it is large (or always when force). */
int vqe__attrs_settle(vqe__attrs *a, uint32_t next_iid, int force);
/* Evaluations; each returns a new bitmap (NULL when out of memory). */
roaring_bitmap_t *vqe__attrs_eq_str(const vqe__attrs *a, unsigned field, const char *s);
roaring_bitmap_t *vqe__attrs_bool(const vqe__attrs *a, unsigned field, int v);
/* Inclusive key range [lo, hi]. */
roaring_bitmap_t *vqe__attrs_range(const vqe__attrs *a, unsigned field, uint64_t lo, uint64_t hi,
                                   uint32_t next_iid);
size_t vqe__attrs_bytes(const vqe__attrs *a);

/* ---- handles ---- */
struct vqe_collection {
    vqe_db *db;
    vqe_schema schema;
    uint32_t cid;
    pthread_rwlock_t lock; /* shared: search; exclusive: applying a write, snapshot */
    pthread_mutex_t wmu;   /* serializes writers (storage order = memory order) */

    float *vecs; /* cap * dim */
    size_t cap;
    uint32_t next_iid;
    uint64_t write_counter;
    roaring_bitmap_t *live;
    vqe__hmap ids; /* encoded user id -> iid */
    uint64_t *uid; /* by iid: numeric user id */
    char **suid;   /* by iid: string user id (NULL for numeric ids); NULL until needed */
    vqe__attrs attrs;
    /* by field index: the impact index of a text (BM25) or sparse field, else NULL; updated
     * under the exclusive lock together with `live`, so its statistics cover live records */
    vqe_impact *impact[VQE_FIELDS_MAX];
    vq_quant *fq; /* "f32", for exact scans */
#if VQE_HAVE_INDEX
    vqi_index *index;
    /* idle per-thread searchers, reused across queries */
    vqi_searcher *pool[32];
    int n_pool;
#endif
    pthread_mutex_t pmu;
    int index_loaded;
    uint64_t saved_counter; /* write counter of the index file on disk (UINT64_MAX: none) */
    double load_seconds;
    char index_path[4200];
    int dropped;
    /* maint.c: maintenance (rebuild, compaction) and its background thread */
    pthread_mutex_t mmu; /* one maintenance operation at a time; only it swaps c->index */
    pthread_mutex_t mtx; /* the fields below */
    pthread_cond_t mcv;
    pthread_t maint_thread;
    int maint_on, maint_stop;
    vqe_maint_params maint;
    uint64_t n_compactions, n_rebuilds;
    int last_error;
    double last_seconds;
    struct vqe__graph *graph; /* links and the kNN overlay cache (graph.c) */
};

struct vqe_db {
    vqe__store *st;
    char dir[4096];
    vqe_db_params params;
    pthread_mutex_t mu; /* collection list, create/drop/open */
    vqe_collection **open;
    size_t n_open;
    /* group commit: one thread fsyncs the WAL every sync_ms while group writes are pending */
    pthread_t syncer;
    int syncer_on, stop;
    unsigned sync_ms;
    uint64_t wal_dirty;
    pthread_mutex_t smu;
    pthread_cond_t scv;
    int sync_err;
};

/* Encoded user id: 'N' + 8 bytes big-endian, or 'S' + the bytes. Returns the length. */
size_t vqe__id_encode(const vqe_id *id, uint8_t *buf, size_t cap);
/* collection.c */
int vqe__meta_cid(vqe_db *db, const char *name, uint32_t *cid, vq_err *err);
void vqe__collection_free(vqe_collection *c);
int vqe__collection_load(vqe_db *db, const char *name, vqe_collection **out, vq_err *err);
int vqe__index_save(vqe_collection *c, const char *path, vq_err *err);
/* The index file's state record ("<path>.state", format at the top of collection.c). */
int vqe__index_state_write(const char *path, uint64_t counter, vq_err *err);
int vqe__index_state_read(const char *path, uint64_t *counter);
void vqe__state_encode(uint8_t out[12], uint64_t counter, uint32_t next_iid);
/* write.c: marks group-mode writes pending for the db's syncer. */
int vqe__group_start(vqe_db *db, unsigned ms, vq_err *err);
void vqe__group_stop(vqe_db *db);
/* maint.c: init (first thing after allocation), start (after the load), stop (joins the
 * thread; idempotent), destroy (stops, then frees the sync objects). */
void vqe__maint_init(vqe_collection *c);
int vqe__maint_start(vqe_collection *c, vq_err *err);
void vqe__maint_stop(vqe_collection *c);
void vqe__maint_destroy(vqe_collection *c);
/* postings.c: a text or sparse field's postings record (format at the top of postings.c).
 * text_postings tokenizes a text into its record; sparse_postings validates (field names
 * the value in errors), sorts by index and encodes; postings_apply decodes a record (from a
 * write or from storage: bounds-checked, VQ_ECORRUPT) into the field's impact index. */
int vqe__text_postings(const char *text, size_t len, const char *field, uint8_t **out,
                       size_t *out_len, vq_err *err);
int vqe__sparse_postings(const uint32_t *idx, const float *val, size_t n, const char *field,
                         uint8_t **out, size_t *out_len, vq_err *err);
int vqe__postings_apply(vqe_impact *ix, vqe_type type, uint32_t iid, const uint8_t *p, size_t n,
                        vq_err *err);
/* Creates the impact indexes of the schema's text and sparse fields (empty). */
int vqe__impact_init(vqe_collection *c, vq_err *err);
/* plan.c: dense top-k with the planner over `allowed` (NULL: every live id); the caller
 * holds c->lock shared and passes a validated query (normalized under cos). Never fewer
 * than min(k, matches) hits; ex receives the plan. */
int vqe__dense_topk(vqe_collection *c, const float *query, unsigned k, unsigned ef,
                    const roaring_bitmap_t *allowed, vqe_hit *hits, size_t *n_hits, vqe_explain *ex,
                    vq_err *err);
/* plan.c: VQ_ESTATE naming "filter" unless f was bound to c's schema (vqe_filter_bind). */
int vqe__filter_check(const vqe_collection *c, const vqe_filter *f, vq_err *err);
/* graph.c: links in memory. load creates c->graph from the links column family (after the
 * ids are loaded); batch_forget adds the deletes of every link touching a user key to a
 * delete's batch (under the writer mutex); forget drops them from memory once the batch is
 * durable (under the exclusive lock). */
typedef struct vqe__graph vqe__graph;
int vqe__graph_load(vqe_collection *c, vq_err *err);
void vqe__graph_free(vqe__graph *g);
void vqe__graph_batch_forget(vqe_collection *c, vqe__batch *b, const uint8_t *ukey, size_t kl);
void vqe__graph_forget(vqe_collection *c, const uint8_t *ukey, size_t kl);
/* filter_eval.c: evaluates a bound filter to the live iids it allows (new bitmap). */
int vqe__filter_eval(const vqe_collection *c, const vqe_filter *f, roaring_bitmap_t **out,
                     vq_err *err);

#endif
