/* collection.c — the database and collection handles: open/close of a data directory,
 * collection create/list/drop, and loading a collection into memory on first open.
 *
 * Load (vqe__collection_load): schema and state from meta; user ids from idmap ('i'
 * direction); vectors (checked: size, finiteness, an id for every vector and a vector for
 * every id); attributes into the attribute indexes; the postings of each text and sparse
 * field into its impact index (every record with postings must be live). Then the index: reloaded
 * from DIR/index/<cid>.vqi when DIR/index/<cid>.state records the collection's current write
 * counter and the file loads (its sections are checksummed), otherwise rebuilt from the
 * in-memory vectors with progress reports and saved for the next open. Any inconsistency
 * in storage is VQ_ECORRUPT and the collection is not served.
 *
 * Index file state record: "VQES" magic, u32 version 1, u64 write counter, u64 index file
 * size, u32 CRC-32 of the preceding 24 bytes. It is removed before the index file is
 * rewritten and written after, so a crash in between leaves no state (= rebuild).
 */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coll_internal.h"

uint32_t vq__crc32(uint32_t crc, const void *p, size_t n); /* quant/buf.c */

void vqe_db_params_default(vqe_db_params *p) {
    memset(p, 0, sizeof *p);
    p->create_if_missing = 1;
}

size_t vqe__id_encode(const vqe_id *id, uint8_t *buf, size_t cap) {
    if (!id->is_str) {
        if (cap < 9) return 0;
        buf[0] = 'N';
        vqe__be64(buf + 1, id->u);
        return 9;
    }
    size_t n = id->s ? strlen(id->s) : 0;
    if (!n || n > VQE_STRING_MAX || n + 1 > cap) return 0;
    buf[0] = 'S';
    memcpy(buf + 1, id->s, n);
    return n + 1;
}

void vqe__state_encode(uint8_t out[12], uint64_t counter, uint32_t next_iid) {
    vqe__be64(out, counter);
    vqe__be32(out + 8, next_iid);
}

static void meta_key(uint8_t *k, uint32_t cid, const char *suffix, size_t *kl) {
    vqe__be32(k, cid);
    size_t n = strlen(suffix);
    memcpy(k + 4, suffix, n);
    *kl = 4 + n;
}

int vqe_db_open(const char *dir, const vqe_db_params *p, vqe_db **out, vq_err *err) {
    VQ_FAIL_IF(!dir || !*dir || strlen(dir) > 4000, VQ_EINVAL, err, "data",
               "data directory path empty or too long");
    vqe_db_params def;
    if (!p) vqe_db_params_default(&def), p = &def;
    vqe_db *db = vq_calloc(1, sizeof *db);
    VQ_FAIL_IF(!db, VQ_ENOMEM, err, "db", "out of memory");
    snprintf(db->dir, sizeof db->dir, "%s", dir);
    db->params = *p;
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->smu, NULL);
    pthread_cond_init(&db->scv, NULL);
    int rc = vqe__store_open(dir, p->create_if_missing, p->read_only, &db->st, err);
    if (rc) goto fail;
    char *v;
    size_t vl;
    rc = vqe__store_get(db->st, VQE_CF_META, "format", 6, &v, &vl, err);
    if (rc == VQ_ENOTFOUND && !p->read_only) {
        uint8_t b[4];
        vqe__be32(b, VQE_FORMAT_VERSION);
        vqe__batch *wb = vqe__batch_new();
        if (!wb) {
            rc = vq_err_set(err, VQ_ENOMEM, "db", "out of memory");
            goto fail;
        }
        vqe__batch_put(wb, VQE_CF_META, "format", 6, b, 4);
        rc = vqe__store_write(db->st, wb, 1, err);
        vqe__batch_free(wb);
        if (rc) goto fail;
    } else if (rc == VQ_ENOTFOUND) {
        rc = vq_err_set(err, VQ_ECORRUPT, "data", "%s has no format record", dir);
        goto fail;
    } else if (rc) {
        goto fail;
    } else {
        uint32_t ver = vl == 4 ? vqe__rd32((uint8_t *)v) : 0;
        free(v);
        if (vl != 4) {
            rc = vq_err_set(err, VQ_ECORRUPT, "data", "malformed format record");
            goto fail;
        }
        if (ver != VQE_FORMAT_VERSION) {
            rc = vq_err_set(err, VQ_EVERSION, "data", "format version %u, this build reads %u", ver,
                            VQE_FORMAT_VERSION);
            goto fail;
        }
    }
    char idir[4200];
    snprintf(idir, sizeof idir, "%s/index", dir);
    if (!p->read_only) mkdir(idir, 0755);
    *out = db;
    return VQ_OK;
fail:
    vqe__store_close(db->st);
    vq_free(db);
    return rc;
}

void vqe__collection_free(vqe_collection *c) {
    if (!c) return;
    vqe__maint_destroy(c); /* joins the maintenance thread before anything is freed */
    vq_free(c->vecs);
    if (c->live) roaring_bitmap_free(c->live);
    vqe__hmap_free(&c->ids, NULL);
    if (c->suid)
        for (uint32_t i = 0; i < c->next_iid; i++) vq_free(c->suid[i]);
    vq_free(c->suid);
    vq_free(c->uid);
    vqe__attrs_free(&c->attrs);
    for (unsigned f = 0; f < VQE_FIELDS_MAX; f++) vqe_impact_free(c->impact[f]);
    vqe__graph_free(c->graph);
    vq_quant_free(c->fq);
#if VQE_HAVE_INDEX
    for (int i = 0; i < c->n_pool; i++) vqi_searcher_free(c->pool[i]);
    vqi_index_free(c->index);
#endif
    pthread_mutex_destroy(&c->pmu);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->wmu);
    vq_free(c);
}

int vqe__index_state_write(const char *path, uint64_t counter, vq_err *err) {
    char st[4200], tmp[4200];
    struct stat sb;
    VQ_FAIL_IF(stat(path, &sb) != 0, VQ_EIO, err, "index", "stat %s", path);
    uint8_t rec[28];
    memcpy(rec, "VQES", 4);
    vqe__be32(rec + 4, 1);
    vqe__be64(rec + 8, counter);
    vqe__be64(rec + 16, (uint64_t)sb.st_size);
    vqe__be32(rec + 24, vq__crc32(0, rec, 24));
    snprintf(st, sizeof st, "%s.state", path);
    snprintf(tmp, sizeof tmp, "%s.state.tmp", path);
    FILE *f = fopen(tmp, "wb");
    VQ_FAIL_IF(!f, VQ_EIO, err, "index", "cannot write %s", tmp);
    int ok = fwrite(rec, 1, 28, f) == 28;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    VQ_FAIL_IF(!ok || rename(tmp, st) != 0, VQ_EIO, err, "index", "cannot write %s", st);
    return VQ_OK;
}

int vqe__index_state_read(const char *path, uint64_t *counter) {
    char st[4200];
    snprintf(st, sizeof st, "%s.state", path);
    FILE *f = fopen(st, "rb");
    if (!f) return VQ_ENOTFOUND;
    uint8_t rec[28];
    int ok = fread(rec, 1, 28, f) == 28 && fgetc(f) == EOF;
    fclose(f);
    if (!ok || memcmp(rec, "VQES", 4) || vqe__rd32(rec + 4) != 1 ||
        vqe__rd32(rec + 24) != vq__crc32(0, rec, 24))
        return VQ_ECORRUPT;
    struct stat sb;
    if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != vqe__rd64(rec + 16)) return VQ_ECORRUPT;
    *counter = vqe__rd64(rec + 8);
    return VQ_OK;
}

/* Saves the index to path (and its state record beside it); the caller holds c->wmu or is
 * the only user. */
int vqe__index_save(vqe_collection *c, const char *path, vq_err *err) {
#if VQE_HAVE_INDEX
    if (!c->index) return VQ_OK;
    char st[4200], tmp[4200];
    snprintf(st, sizeof st, "%s.state", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(st);
    VQ_TRY(vqi_index_save(c->index, tmp, err));
    VQ_FAIL_IF(rename(tmp, path) != 0, VQ_EIO, err, "index", "rename %s: %s", tmp, strerror(errno));
    return vqe__index_state_write(path, c->write_counter, err);
#else
    (void)c, (void)path, (void)err;
    return VQ_OK;
#endif
}

void vqe_db_close(vqe_db *db) {
    if (!db) return;
    vqe__group_stop(db);
    for (size_t i = 0; i < db->n_open; i++) {
        vqe_collection *c = db->open[i];
        vqe__maint_stop(c); /* no swap may race the save below */
        if (!vqe__store_read_only(db->st) && c->saved_counter != c->write_counter) {
            /* the index changed since it was loaded (or was rebuilt): save it so that a
             * clean restart reloads it; a failure only costs a rebuild next time */
            vq_err e;
            vqe__index_save(c, c->index_path, &e);
        }
        vqe__collection_free(c);
    }
    vq_free(db->open);
    vqe__store_close(db->st);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->smu);
    pthread_cond_destroy(&db->scv);
    vq_free(db);
}

int vqe__meta_cid(vqe_db *db, const char *name, uint32_t *cid, vq_err *err) {
    uint8_t k[VQE_NAME_MAX + 4];
    size_t n = strlen(name);
    VQ_FAIL_IF(!n || n >= VQE_NAME_MAX, VQ_ENOTFOUND, err, "collection",
               "no collection named '%.64s'", name);
    memcpy(k, "c/", 2);
    memcpy(k + 2, name, n);
    char *v;
    size_t vl;
    int rc = vqe__store_get(db->st, VQE_CF_META, k, n + 2, &v, &vl, err);
    if (rc == VQ_ENOTFOUND)
        return vq_err_set(err, VQ_ENOTFOUND, "collection", "no collection named '%s'", name);
    VQ_TRY(rc);
    if (vl != 4) {
        free(v);
        return vq_err_set(err, VQ_ECORRUPT, "meta", "malformed id of collection '%s'", name);
    }
    *cid = vqe__rd32((uint8_t *)v);
    free(v);
    return VQ_OK;
}

int vqe_collection_create(vqe_db *db, const vqe_schema *s, vq_err *err) {
    VQ_TRY(vqe_schema_validate(s, err));
#if VQE_HAVE_INDEX
    {
        vqi_index *probe;
        vq_metric m = s->metric;
        VQ_TRY(vqi_index_new(s->index_spec, s->dim, m, &probe, err));
        vqi_index_free(probe);
    }
#endif
    pthread_mutex_lock(&db->mu);
    uint32_t cid;
    int rc = vqe__meta_cid(db, s->name, &cid, NULL);
    if (rc == VQ_OK) {
        rc = vq_err_set(err, VQ_EEXIST, "name", "collection '%s' already exists", s->name);
        goto out;
    }
    if (rc != VQ_ENOTFOUND) {
        rc = vqe__meta_cid(db, s->name, &cid, err);
        goto out;
    }
    char *v;
    size_t vl;
    rc = vqe__store_get(db->st, VQE_CF_META, "next_cid", 8, &v, &vl, err);
    if (rc == VQ_ENOTFOUND) {
        cid = 1;
    } else if (rc) {
        goto out;
    } else {
        cid = vl == 4 ? vqe__rd32((uint8_t *)v) : 0;
        free(v);
        if (!cid) {
            rc = vq_err_set(err, VQ_ECORRUPT, "meta", "malformed next_cid");
            goto out;
        }
    }
    char *json;
    if ((rc = vqe_schema_to_json(s, &json, err))) goto out;
    vqe__batch *b = vqe__batch_new();
    uint8_t k[VQE_NAME_MAX + 8], cb[4], nb[4], st[12];
    size_t nl = strlen(s->name), kl;
    memcpy(k, "c/", 2);
    memcpy(k + 2, s->name, nl);
    vqe__be32(cb, cid);
    vqe__be32(nb, cid + 1);
    if (b) {
        vqe__batch_put(b, VQE_CF_META, k, nl + 2, cb, 4);
        vqe__batch_put(b, VQE_CF_META, "next_cid", 8, nb, 4);
        meta_key(k, cid, "schema", &kl);
        vqe__batch_put(b, VQE_CF_META, k, kl, json, strlen(json));
        meta_key(k, cid, "state", &kl);
        vqe__state_encode(st, 0, 0);
        vqe__batch_put(b, VQE_CF_META, k, kl, st, 12);
        rc = vqe__store_write(db->st, b, 1, err);
    } else {
        rc = vq_err_set(err, VQ_ENOMEM, "batch", "out of memory");
    }
    vqe__batch_free(b);
    vq_free(json);
out:
    pthread_mutex_unlock(&db->mu);
    return rc;
}

typedef struct names_ctx {
    char **v;
    size_t n, cap;
    int oom;
} names_ctx;

static int names_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    (void)v, (void)vl;
    names_ctx *c = ctx;
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 16;
        char **nv = vq_realloc(c->v, c->cap * sizeof *nv, nc * sizeof *nv);
        if (!nv) return c->oom = 1;
        c->v = nv, c->cap = nc;
    }
    char *s = vq_malloc(kl - 1);
    if (!s) return c->oom = 1;
    memcpy(s, k + 2, kl - 2);
    s[kl - 2] = 0;
    c->v[c->n++] = s;
    return 0;
}

void vqe_names_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) vq_free(names[i]);
    vq_free(names);
}

int vqe_collection_list(vqe_db *db, char ***names, size_t *n, vq_err *err) {
    names_ctx c = {0};
    int rc = vqe__store_scan(db->st, VQE_CF_META, "c/", 2, names_cb, &c, err);
    if (rc || c.oom) {
        vqe_names_free(c.v, c.n);
        return c.oom ? vq_err_set(err, VQ_ENOMEM, "list", "out of memory") : rc;
    }
    *names = c.v;
    *n = c.n;
    return VQ_OK;
}

/* ---- loading ---- */
typedef struct load_ctx {
    vqe_collection *c;
    vq_err *err;
    int rc;
    size_t done, total;
    vqe__aval *vals;
} load_ctx;

static int lfail(load_ctx *L, int code, const char *field, const char *msg, uint32_t iid) {
    L->rc = vq_err_set(L->err, code, field, "%s (internal id %u)", msg, iid);
    return 1;
}

static int ids_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    load_ctx *L = ctx;
    vqe_collection *c = L->c;
    if (kl != 9) return lfail(L, VQ_ECORRUPT, "idmap", "malformed id map key", 0);
    uint32_t iid = vqe__rd32(k + 5);
    if (iid >= c->next_iid) return lfail(L, VQ_ECORRUPT, "idmap", "id beyond next id", iid);
    if (vl == 9 && v[0] == 'N') {
        c->uid[iid] = vqe__rd64(v + 1);
    } else if (vl >= 2 && vl <= VQE_STRING_MAX + 1 && v[0] == 'S') {
        if (!c->suid && !(c->suid = vq_calloc(c->cap, sizeof *c->suid)))
            return lfail(L, VQ_ENOMEM, "idmap", "out of memory", iid);
        if (!(c->suid[iid] = vq_malloc(vl)))
            return lfail(L, VQ_ENOMEM, "idmap", "out of memory", iid);
        memcpy(c->suid[iid], v + 1, vl - 1);
        c->suid[iid][vl - 1] = 0;
    } else {
        return lfail(L, VQ_ECORRUPT, "idmap", "malformed user id", iid);
    }
    if (vqe__hmap_get(&c->ids, v, vl, NULL))
        return lfail(L, VQ_ECORRUPT, "idmap", "user id mapped twice", iid);
    if (vqe__hmap_put(&c->ids, v, vl, iid))
        return lfail(L, VQ_ENOMEM, "idmap", "out of memory", iid);
    return 0;
}

static void normalize(float *x, unsigned d) {
    double s = 0;
    for (unsigned j = 0; j < d; j++) s += (double)x[j] * x[j];
    if (s > 0) {
        float inv = (float)(1.0 / sqrt(s));
        for (unsigned j = 0; j < d; j++) x[j] *= inv;
    }
}

static int vecs_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    load_ctx *L = ctx;
    vqe_collection *c = L->c;
    unsigned d = c->schema.dim;
    if (kl != 8) return lfail(L, VQ_ECORRUPT, "vectors", "malformed vector key", 0);
    uint32_t iid = vqe__rd32(k + 4);
    if (iid >= c->next_iid) return lfail(L, VQ_ECORRUPT, "vectors", "id beyond next id", iid);
    if (vl != (size_t)d * 4)
        return lfail(L, VQ_ECORRUPT, "vectors", "vector of the wrong size", iid);
    float *x = c->vecs + (size_t)iid * d;
    memcpy(x, v, vl);
    for (unsigned j = 0; j < d; j++)
        if (!isfinite(x[j])) return lfail(L, VQ_ECORRUPT, "vectors", "stored NaN/Inf", iid);
    if (c->schema.metric == VQ_METRIC_COS) normalize(x, d);
    uint8_t key[VQE_STRING_MAX + 2];
    vqe_id id = c->suid && c->suid[iid] ? (vqe_id){.is_str = 1, .s = c->suid[iid]}
                                        : (vqe_id){.u = c->uid[iid]};
    size_t klen = vqe__id_encode(&id, key, sizeof key);
    uint64_t got;
    if (!klen || !vqe__hmap_get(&c->ids, key, klen, &got) || got != iid)
        return lfail(L, VQ_ECORRUPT, "idmap", "vector without a user id", iid);
    roaring_bitmap_add(c->live, iid);
    if (L->total && ++L->done % 65536 == 0 && c->db->params.progress)
        c->db->params.progress(c->db->params.progress_ctx, c->schema.name, L->done, L->total);
    return 0;
}

static int attrs_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    load_ctx *L = ctx;
    vqe_collection *c = L->c;
    if (kl != 8) return lfail(L, VQ_ECORRUPT, "attrs", "malformed attrs key", 0);
    uint32_t iid = vqe__rd32(k + 4);
    if (!roaring_bitmap_contains(c->live, iid))
        return lfail(L, VQ_ECORRUPT, "attrs", "attributes without a vector", iid);
    int rc = vqe__attrs_decode(&c->schema, v, vl, L->vals, L->err);
    if (rc) return L->rc = rc, 1;
    if (vqe__attrs_add(&c->attrs, iid, L->vals))
        return lfail(L, VQ_ENOMEM, "attrs", "out of memory", iid);
    return 0;
}

typedef struct post_ctx {
    load_ctx *L;
    unsigned field;
} post_ctx;

static int postings_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    post_ctx *P = ctx;
    load_ctx *L = P->L;
    vqe_collection *c = L->c;
    if (kl != 9) return lfail(L, VQ_ECORRUPT, "postings", "malformed postings key", 0);
    uint32_t iid = vqe__rd32(k + 5);
    if (!roaring_bitmap_contains(c->live, iid))
        return lfail(L, VQ_ECORRUPT, "postings", "postings without a vector", iid);
    int rc = vqe__postings_apply(c->impact[P->field], c->schema.fields[P->field].type, iid, v, vl,
                                 L->err);
    if (rc) return L->rc = rc, 1;
    return 0;
}

static int postings_load(vqe_collection *c, load_ctx *L, vq_err *err) {
    VQ_TRY(vqe__impact_init(c, err));
    for (unsigned f = 0; f < c->schema.n_fields; f++) {
        if (!c->impact[f]) continue;
        uint8_t pfx[5];
        vqe__be32(pfx, c->cid);
        pfx[4] = (uint8_t)f;
        post_ctx P = {L, f};
        int rc = vqe__store_scan(c->db->st, VQE_CF_POSTINGS, pfx, 5, postings_cb, &P, err);
        if (rc) return rc;
        if (L->rc) return L->rc;
    }
    return VQ_OK;
}

#if VQE_HAVE_INDEX
static int index_try_load(vqe_collection *c) {
    uint64_t counter;
    if (vqe__index_state_read(c->index_path, &counter) || counter != c->write_counter) return 0;
    vqi_index *idx;
    vq_err e;
    if (vqi_index_load(c->index_path, &idx, &e)) return 0;
    if (vqi_index_dim(idx) != c->schema.dim || vqi_index_metric(idx) != c->schema.metric ||
        vqi_index_size(idx) != roaring_bitmap_get_cardinality(c->live)) {
        vqi_index_free(idx);
        return 0;
    }
    c->index = idx;
    return 1;
}

/* Builds the index from the live in-memory vectors, in chunks, reporting progress. */
static int index_build(vqe_collection *c, vqi_index **out, vq_err *err) {
    vqi_index *idx;
    VQ_TRY(vqi_index_new(c->schema.index_spec, c->schema.dim, c->schema.metric, &idx, err));
    size_t n = roaring_bitmap_get_cardinality(c->live), d = c->schema.dim, chunk = 16384;
    uint32_t *ids32 = vq_malloc((n ? n : 1) * 4);
    uint64_t *ids = vq_malloc(chunk * 8);
    float *x = vq_malloc(chunk * d * 4);
    int rc = (!ids32 || !ids || !x) ? vq_err_set(err, VQ_ENOMEM, "index", "out of memory") : 0;
    if (!rc) roaring_bitmap_to_uint32_array(c->live, ids32);
    if (!rc && n && !vqi_index_is_trained(idx)) {
        /* train on an evenly strided sample of up to 65536 live vectors */
        size_t ns = n < 65536 ? n : 65536;
        float *s = vq_malloc(ns * d * 4);
        if (!s) rc = vq_err_set(err, VQ_ENOMEM, "index", "out of memory");
        for (size_t i = 0; !rc && i < ns; i++)
            memcpy(s + i * d, c->vecs + (size_t)ids32[i * n / ns] * d, d * 4);
        if (!rc) rc = vqi_index_train(idx, ns, s, err);
        vq_free(s);
    }
    for (size_t i = 0; !rc && i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        for (size_t j = 0; j < m; j++) {
            ids[j] = ids32[i + j];
            memcpy(x + j * d, c->vecs + (size_t)ids32[i + j] * d, d * 4);
        }
        rc = vqi_index_add(idx, m, x, ids, err);
        if (c->db->params.progress)
            c->db->params.progress(c->db->params.progress_ctx, c->schema.name, i + m, n);
    }
    vq_free(ids32), vq_free(ids), vq_free(x);
    if (rc) {
        vqi_index_free(idx);
        return rc;
    }
    *out = idx;
    return VQ_OK;
}
#endif

/* vqe_rebuild, vqe_compact: maint.c */

int vqe__collection_load(vqe_db *db, const char *name, vqe_collection **out, vq_err *err) {
    double t0 = vq_now();
    uint32_t cid;
    VQ_TRY(vqe__meta_cid(db, name, &cid, err));
    vqe_collection *c = vq_calloc(1, sizeof *c);
    VQ_FAIL_IF(!c, VQ_ENOMEM, err, "collection", "out of memory");
    c->db = db;
    c->cid = cid;
    /* Writer-preferring: with glibc's default (readers first) a steady stream of
     * overlapping searches starves a write's exclusive section indefinitely (seen with two
     * search threads during a rebuild). No path takes c->lock shared twice, so writer
     * preference cannot deadlock a reader against itself. */
    pthread_rwlockattr_t la;
    pthread_rwlockattr_init(&la);
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&c->lock, &la);
    pthread_rwlockattr_destroy(&la);
    pthread_mutex_init(&c->wmu, NULL);
    pthread_mutex_init(&c->pmu, NULL);
    vqe__maint_init(c);
    load_ctx L = {.c = c, .err = err};
    uint8_t k[16];
    size_t kl;
    char *v = NULL;
    size_t vl;
    meta_key(k, cid, "schema", &kl);
    int rc = vqe__store_get(db->st, VQE_CF_META, k, kl, &v, &vl, err);
    if (rc == VQ_ENOTFOUND) rc = vq_err_set(err, VQ_ECORRUPT, "meta", "schema record missing");
    if (!rc) {
        char *js = vq_malloc(vl + 1);
        if (!js) {
            rc = vq_err_set(err, VQ_ENOMEM, "schema", "out of memory");
        } else {
            memcpy(js, v, vl);
            js[vl] = 0;
            rc = vqe_schema_from_json(js, &c->schema, err);
            vq_free(js);
        }
        free(v);
    }
    if (rc) goto fail;
    meta_key(k, cid, "state", &kl);
    rc = vqe__store_get(db->st, VQE_CF_META, k, kl, &v, &vl, err);
    if (rc == VQ_ENOTFOUND || (!rc && vl != 12)) {
        if (!rc) free(v);
        rc = vq_err_set(err, VQ_ECORRUPT, "meta", "state record missing or malformed");
    }
    if (rc) goto fail;
    c->write_counter = vqe__rd64((uint8_t *)v);
    c->next_iid = vqe__rd32((uint8_t *)v + 8);
    free(v);
    unsigned d = c->schema.dim;
    c->cap = c->next_iid > 1024 ? c->next_iid : 1024;
    c->vecs = vq_malloc(c->cap * d * sizeof(float));
    c->uid = vq_calloc(c->cap, sizeof *c->uid);
    c->live = roaring_bitmap_create();
    if (!c->vecs || !c->uid || !c->live) {
        rc = vq_err_set(err, VQ_ENOMEM, "collection", "out of memory for %u vectors", c->next_iid);
        goto fail;
    }
    if ((rc = vqe__attrs_init(&c->attrs, &c->schema))) {
        rc = vq_err_set(err, rc, "attrs", "out of memory");
        goto fail;
    }
    uint8_t pfx[5];
    vqe__be32(pfx, cid);
    pfx[4] = 'i';
    rc = vqe__store_scan(db->st, VQE_CF_IDMAP, pfx, 5, ids_cb, &L, err);
    if (!rc && !L.rc) {
        L.total = c->ids.n;
        rc = vqe__store_scan(db->st, VQE_CF_VECTORS, pfx, 4, vecs_cb, &L, err);
    }
    if (!rc && !L.rc && roaring_bitmap_get_cardinality(c->live) != c->ids.n)
        L.rc = vq_err_set(err, VQ_ECORRUPT, "idmap", "%zu user ids but %llu vectors", c->ids.n,
                          (unsigned long long)roaring_bitmap_get_cardinality(c->live));
    if (!rc && !L.rc && c->schema.n_fields) {
        L.vals = vq_calloc(c->schema.n_fields, sizeof *L.vals);
        if (!L.vals)
            L.rc = vq_err_set(err, VQ_ENOMEM, "attrs", "out of memory");
        else
            rc = vqe__store_scan(db->st, VQE_CF_ATTRS, pfx, 4, attrs_cb, &L, err);
        vq_free(L.vals);
    }
    if (!rc) rc = L.rc;
    if (!rc) rc = postings_load(c, &L, err);
    if (rc) goto fail;
    if ((rc = vqe__attrs_settle(&c->attrs, c->next_iid, 1))) {
        rc = vq_err_set(err, rc, "attrs", "out of memory");
        goto fail;
    }
    if ((rc = vqe__graph_load(c, err))) goto fail;
    if ((rc = vq_quant_new("f32", d, &c->fq, err))) goto fail;
    snprintf(c->index_path, sizeof c->index_path, "%s/index/%u.vqi", db->dir, cid);
#if VQE_HAVE_INDEX
    c->saved_counter = UINT64_MAX;
    if (index_try_load(c)) {
        c->index_loaded = 1;
        c->saved_counter = c->write_counter;
    } else {
        if ((rc = index_build(c, &c->index, err))) goto fail;
        if (!vqe__store_read_only(db->st)) {
            vq_err e;
            if (!vqe__index_save(c, c->index_path, &e)) c->saved_counter = c->write_counter;
        }
    }
#endif
    c->load_seconds = vq_now() - t0;
    *out = c;
    return VQ_OK;
fail:
    vqe__collection_free(c);
    return rc;
}

int vqe_collection_open(vqe_db *db, const char *name, vqe_collection **out, vq_err *err) {
    VQ_FAIL_IF(!db || !name || !out, VQ_EINVAL, err, "collection", "NULL argument");
    pthread_mutex_lock(&db->mu);
    int rc = VQ_OK;
    for (size_t i = 0; i < db->n_open; i++)
        if (!strcmp(db->open[i]->schema.name, name)) {
            *out = db->open[i];
            goto out;
        }
    vqe_collection *c;
    if ((rc = vqe__collection_load(db, name, &c, err))) goto out;
    if (c->schema.durability == VQE_DURABLE_GROUP && !vqe__store_read_only(db->st) &&
        (rc = vqe__group_start(db, c->schema.group_ms, err))) {
        vqe__collection_free(c);
        goto out;
    }
    if ((rc = vqe__maint_start(c, err))) {
        vqe__collection_free(c);
        goto out;
    }
    vqe_collection **no =
        vq_realloc(db->open, db->n_open * sizeof *no, (db->n_open + 1) * sizeof *no);
    if (!no) {
        vqe__collection_free(c);
        rc = vq_err_set(err, VQ_ENOMEM, "collection", "out of memory");
        goto out;
    }
    db->open = no;
    db->open[db->n_open++] = c;
    *out = c;
out:
    pthread_mutex_unlock(&db->mu);
    return rc;
}

int vqe_collection_drop(vqe_db *db, const char *name, vq_err *err) {
    pthread_mutex_lock(&db->mu);
    uint32_t cid;
    int rc = vqe__meta_cid(db, name, &cid, err);
    if (rc) goto out;
    vqe__batch *b = vqe__batch_new();
    if (!b) {
        rc = vq_err_set(err, VQ_ENOMEM, "batch", "out of memory");
        goto out;
    }
    uint8_t lo[4], hi[4], k[VQE_NAME_MAX + 8];
    vqe__be32(lo, cid);
    vqe__be32(hi, cid + 1);
    for (int cf = VQE_CF_VECTORS; cf < VQE_CF_N; cf++) vqe__batch_del_range(b, cf, lo, 4, hi, 4);
    size_t nl = strlen(name), kl;
    memcpy(k, "c/", 2);
    memcpy(k + 2, name, nl);
    vqe__batch_del(b, VQE_CF_META, k, nl + 2);
    meta_key(k, cid, "schema", &kl);
    vqe__batch_del(b, VQE_CF_META, k, kl);
    meta_key(k, cid, "state", &kl);
    vqe__batch_del(b, VQE_CF_META, k, kl);
    rc = vqe__store_write(db->st, b, 1, err);
    vqe__batch_free(b);
    if (rc) goto out;
    for (size_t i = 0; i < db->n_open; i++)
        if (db->open[i]->cid == cid) {
            vqe__collection_free(db->open[i]);
            db->open[i] = db->open[--db->n_open];
            break;
        }
    char p[4200];
    snprintf(p, sizeof p, "%s/index/%u.vqi.state", db->dir, cid);
    unlink(p);
    snprintf(p, sizeof p, "%s/index/%u.vqi", db->dir, cid);
    unlink(p);
out:
    pthread_mutex_unlock(&db->mu);
    return rc;
}

void vqe_collection_info_get(vqe_collection *c, vqe_collection_info *out) {
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&c->lock);
    out->schema = c->schema;
    out->count = roaring_bitmap_get_cardinality(c->live);
    out->next_internal = c->next_iid;
    out->write_counter = c->write_counter;
    out->index_loaded = c->index_loaded;
    out->load_seconds = c->load_seconds;
#if VQE_HAVE_INDEX
    snprintf(out->index_impl, sizeof out->index_impl, "%s", vqi_index_spec(c->index));
#else
    snprintf(out->index_impl, sizeof out->index_impl, "exact scan (index/ not built)");
#endif
    pthread_rwlock_unlock(&c->lock);
}

static int du(const char *path, uint64_t *acc) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return VQ_EIO;
    if (!S_ISDIR(sb.st_mode)) {
        *acc += (uint64_t)sb.st_size;
        return VQ_OK;
    }
    DIR *d = opendir(path);
    if (!d) return VQ_EIO;
    struct dirent *e;
    char sub[4200];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            du(sub, acc);
        }
    closedir(d);
    return VQ_OK;
}

int vqe_dir_bytes(const char *dir, uint64_t *out, vq_err *err) {
    *out = 0;
    VQ_FAIL_IF(du(dir, out), VQ_EIO, err, "data", "cannot read %s", dir);
    return VQ_OK;
}
