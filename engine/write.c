/* write.c — the write path (upsert, delete), reads by id, JSON attribute conversion and the
 * group-commit WAL syncer.
 *
 * Upsert: (1) validate the whole batch without locks — ids, dimension, NaN/Inf, zero vectors
 * for cos, unknown fields, types, sizes, duplicate ids — and encode the attribute blobs;
 * nothing is written when any record fails, and the error names "records[i].<field>".
 * (2) Under the collection's writer mutex: resolve user ids (a replaced record's old iid is
 * deleted in the same batch), assign new iids, and build ONE RocksDB WriteBatch holding
 * every key plus the collection's state record (write counter, next iid). (3) Write it:
 * sync mode fsyncs the WAL in this call; group mode returns after the WAL write and the
 * db's syncer thread fsyncs every group_ms. (4) Acknowledged: remove replaced iids from the
 * index, apply vectors / ids / attributes to memory under the exclusive lock, then add the
 * new vectors to the index (which has its own reader/writer lock, so searches continue;
 * until the add finishes the new ids are reachable through exact scans only).
 *
 * Attribute blob (attrs column family value): a sequence of entries in increasing field
 * index: u8 field index, then by the field's type: int64 = 8 bytes BE two's complement;
 * double = 8 bytes BE IEEE-754 bits; bool = 1 byte (0/1); keyword = u32 BE length + bytes;
 * keyword[] = u32 BE count, then count × (u32 BE length + bytes). The text field is not in
 * the blob; it is the value of the text column family. Text and sparse fields also get a
 * postings record (postings.c) in the same batch: the text is tokenized during validation,
 * outside the locks, and the impact index is updated with the other in-memory state.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coll_internal.h"

/* ---- group commit ---- */
static void *syncer_main(void *arg) {
    vqe_db *db = arg;
    uint64_t synced = 0;
    pthread_mutex_lock(&db->smu);
    while (!db->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)db->sync_ms * 1000000ull;
        ts.tv_sec += (time_t)(ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        pthread_cond_timedwait(&db->scv, &db->smu, &ts);
        uint64_t target = db->wal_dirty;
        if (target == synced) continue;
        pthread_mutex_unlock(&db->smu);
        vq_err e;
        int rc = vqe__store_sync_wal(db->st, &e);
        pthread_mutex_lock(&db->smu);
        if (rc)
            db->sync_err = rc;
        else
            synced = target;
    }
    pthread_mutex_unlock(&db->smu);
    return NULL;
}

int vqe__group_start(vqe_db *db, unsigned ms, vq_err *err) {
    pthread_mutex_lock(&db->smu);
    int rc = VQ_OK;
    if (!db->syncer_on) {
        db->sync_ms = ms;
        db->stop = 0;
        if (pthread_create(&db->syncer, NULL, syncer_main, db))
            rc = vq_err_set(err, VQ_EINTERNAL, "durability", "cannot start the WAL sync thread");
        else
            db->syncer_on = 1;
    } else if (ms < db->sync_ms) {
        db->sync_ms = ms;
    }
    pthread_mutex_unlock(&db->smu);
    return rc;
}

void vqe__group_stop(vqe_db *db) {
    pthread_mutex_lock(&db->smu);
    int on = db->syncer_on;
    db->stop = 1;
    pthread_cond_broadcast(&db->scv);
    pthread_mutex_unlock(&db->smu);
    if (!on) return;
    pthread_join(db->syncer, NULL);
    db->syncer_on = 0;
    vq_err e;
    if (db->wal_dirty) vqe__store_sync_wal(db->st, &e);
}

/* ---- validation and encoding ---- */
typedef struct enc {
    uint8_t *p;
    size_t n, cap;
    int oom;
} enc;

static void put(enc *e, const void *s, size_t n) {
    if (e->oom) return;
    if (e->n + n > e->cap) {
        size_t nc = e->cap ? e->cap : 256;
        while (nc < e->n + n) nc *= 2;
        uint8_t *np = vq_realloc(e->p, e->cap, nc);
        if (!np) {
            e->oom = 1;
            return;
        }
        e->p = np, e->cap = nc;
    }
    memcpy(e->p + e->n, s, n);
    e->n += n;
}
static void put32(enc *e, uint32_t v) {
    uint8_t b[4];
    vqe__be32(b, v);
    put(e, b, 4);
}
static void put64(enc *e, uint64_t v) {
    uint8_t b[8];
    vqe__be64(b, v);
    put(e, b, 8);
}

typedef struct prep {
    uint8_t key[VQE_STRING_MAX + 2];
    size_t kl;
    size_t blob_off, blob_len; /* into the shared encoding buffer */
    const char *text;
    size_t text_len;
    vqe__aval *vals; /* n_fields decoded values (points into the blob) */
    uint8_t **post;  /* n_fields postings records (text and sparse fields), vq_malloc'd */
    size_t *post_len;
} prep;

static int rec_err(vq_err *err, int code, size_t i, const char *what, const char *fmt,
                   const char *a) {
    char field[128];
    snprintf(field, sizeof field, "records[%zu].%.90s", i, what);
    return vq_err_set(err, code, field, fmt, a);
}

static int field_of(const vqe_schema *s, const char *name) {
    for (unsigned i = 0; i < s->n_fields; i++)
        if (!strcmp(s->fields[i].name, name)) return (int)i;
    return -1;
}

/* Validates record i and appends its attribute blob to e. */
static int prep_record(const vqe_collection *c, const vqe_record *r, size_t i, prep *p, enc *e,
                       const vqe_value **byfield, vq_err *err) {
    const vqe_schema *s = &c->schema;
    char what[96];
    if (r->id.is_str) {
        size_t l = r->id.s ? strlen(r->id.s) : 0;
        if (!l || l > VQE_STRING_MAX)
            return rec_err(err, VQ_EINVAL, i, "id", "string id must be 1..4096 bytes%s", "");
    }
    p->kl = vqe__id_encode(&r->id, p->key, sizeof p->key);
    if (!r->vector) return rec_err(err, VQ_EINVAL, i, "vector", "missing vector%s", "");
    double norm = 0;
    for (unsigned j = 0; j < s->dim; j++) {
        float x = r->vector[j];
        if (!isfinite(x)) {
            snprintf(what, sizeof what, "vector[%u]", j);
            return rec_err(err, VQ_ENOTFINITE, i, what, "value is %s", isnan(x) ? "NaN" : "Inf");
        }
        norm += (double)x * x;
    }
    if (s->metric == VQ_METRIC_COS && norm == 0)
        return rec_err(err, VQ_EINVAL, i, "vector", "zero vector under the cos metric%s", "");
    for (unsigned f = 0; f < s->n_fields; f++) byfield[f] = NULL;
    p->text = NULL;
    for (size_t v = 0; v < r->n_values; v++) {
        const vqe_value *val = &r->values[v];
        const char *fname = val->field ? val->field : "";
        int fi = field_of(s, fname);
        snprintf(what, sizeof what, "%.80s", fname);
        if (fi < 0) return rec_err(err, VQ_EINVAL, i, what, "unknown field '%s'", fname);
        if (byfield[fi]) return rec_err(err, VQ_EINVAL, i, what, "field '%s' given twice", fname);
        vqe_type ft = s->fields[fi].type;
        if (ft == VQE_SPARSE || val->type == VQE_SPARSE) {
            if (val->type != ft)
                return rec_err(err, VQ_EINVAL, i, what, "wrong type: the field is %s",
                               vqe_type_name(ft));
            char fld[128];
            snprintf(fld, sizeof fld, "records[%zu].%.90s", i, fname);
            VQ_TRY(vqe__sparse_postings(val->sparse_indices, val->sparse_values, val->n_sparse, fld,
                                        &p->post[fi], &p->post_len[fi], err));
            byfield[fi] = val;
            continue;
        }
        int ok = val->type == ft ||
                 (ft == VQE_DOUBLE && val->type == VQE_INT64 && llabs(val->i) <= (1ll << 53)) ||
                 (ft == VQE_TEXT && val->type == VQE_KEYWORD);
        if (!ok)
            return rec_err(err, VQ_EINVAL, i, what, "wrong type: the field is %s",
                           vqe_type_name(ft));
        if (ft == VQE_DOUBLE && val->type == VQE_DOUBLE && !isfinite(val->d))
            return rec_err(err, VQ_ENOTFINITE, i, what, "value is %s", "NaN or Inf");
        if (ft == VQE_KEYWORD || ft == VQE_TEXT) {
            if (!val->s) return rec_err(err, VQ_EINVAL, i, what, "missing string%s", "");
            size_t l = strlen(val->s);
            if (l > (ft == VQE_TEXT ? VQE_TEXT_MAX : VQE_STRING_MAX))
                return rec_err(err, VQ_ETOOBIG, i, what, "string longer than %s bytes",
                               ft == VQE_TEXT ? "16777216" : "4096");
            if (ft == VQE_TEXT) {
                p->text = val->s, p->text_len = l;
                char fld[128];
                snprintf(fld, sizeof fld, "records[%zu].%.90s", i, fname);
                VQ_TRY(vqe__text_postings(val->s, l, fld, &p->post[fi], &p->post_len[fi], err));
            }
        }
        if (ft == VQE_TAGS) {
            if (val->n_tags > VQE_TAGS_MAX)
                return rec_err(err, VQ_ETOOBIG, i, what, "more than %s tags", "1024");
            for (size_t t = 0; t < val->n_tags; t++)
                if (!val->tags || !val->tags[t] || strlen(val->tags[t]) > VQE_STRING_MAX)
                    return rec_err(err, VQ_EINVAL, i, what,
                                   "tags must be strings of at most %s bytes", "4096");
        }
        byfield[fi] = val;
    }
    p->blob_off = e->n;
    for (unsigned f = 0; f < s->n_fields; f++) {
        const vqe_value *v = byfield[f];
        if (!v || s->fields[f].type == VQE_TEXT || s->fields[f].type == VQE_SPARSE) continue;
        uint8_t fb = (uint8_t)f;
        put(e, &fb, 1);
        switch (s->fields[f].type) {
        case VQE_INT64:
            put64(e, (uint64_t)v->i);
            break;
        case VQE_DOUBLE: {
            double d = v->type == VQE_INT64 ? (double)v->i : v->d;
            if (d == 0) d = 0;
            uint64_t b;
            memcpy(&b, &d, 8);
            put64(e, b);
            break;
        }
        case VQE_BOOL: {
            uint8_t b = v->b ? 1 : 0;
            put(e, &b, 1);
            break;
        }
        case VQE_KEYWORD: {
            size_t l = strlen(v->s);
            put32(e, (uint32_t)l);
            put(e, v->s, l);
            break;
        }
        case VQE_TAGS:
            put32(e, (uint32_t)v->n_tags);
            for (size_t t = 0; t < v->n_tags; t++) {
                size_t l = strlen(v->tags[t]);
                put32(e, (uint32_t)l);
                put(e, v->tags[t], l);
            }
            break;
        default:
            break;
        }
    }
    p->blob_len = e->n - p->blob_off;
    return VQ_OK;
}

static int grow_mem(vqe_collection *c, uint32_t need) {
    if (need <= c->cap) return VQ_OK;
    size_t nc = c->cap;
    while (nc < need) nc *= 2;
    size_t d = c->schema.dim;
    float *nv = vq_realloc(c->vecs, c->cap * d * 4, nc * d * 4);
    if (!nv) return VQ_ENOMEM;
    c->vecs = nv;
    uint64_t *nu = vq_realloc(c->uid, c->cap * 8, nc * 8);
    if (!nu) return VQ_ENOMEM;
    c->uid = nu;
    if (c->suid) {
        char **ns = vq_realloc(c->suid, c->cap * sizeof *ns, nc * sizeof *ns);
        if (!ns) return VQ_ENOMEM;
        memset(ns + c->cap, 0, (nc - c->cap) * sizeof *ns);
        c->suid = ns;
    }
    c->cap = nc;
    return VQ_OK;
}

static void key8(uint8_t k[8], uint32_t cid, uint32_t iid) {
    vqe__be32(k, cid);
    vqe__be32(k + 4, iid);
}
static void idkey_i(uint8_t k[9], uint32_t cid, uint32_t iid) {
    vqe__be32(k, cid);
    k[4] = 'i';
    vqe__be32(k + 5, iid);
}
static size_t idkey_u(uint8_t *k, uint32_t cid, const uint8_t *ukey, size_t ul) {
    vqe__be32(k, cid);
    k[4] = 'u';
    memcpy(k + 5, ukey, ul);
    return ul + 5;
}

/* postings key: cid, field index, iid */
static void key9(uint8_t k[9], uint32_t cid, unsigned field, uint32_t iid) {
    vqe__be32(k, cid);
    k[4] = (uint8_t)field;
    vqe__be32(k + 5, iid);
}

static void del_iid(vqe__batch *b, const vqe_collection *c, uint32_t iid) {
    uint8_t k[9];
    uint32_t cid = c->cid;
    key8(k, cid, iid);
    vqe__batch_del(b, VQE_CF_VECTORS, k, 8);
    vqe__batch_del(b, VQE_CF_ATTRS, k, 8);
    vqe__batch_del(b, VQE_CF_TEXT, k, 8);
    for (unsigned f = 0; f < c->schema.n_fields; f++)
        if (c->impact[f]) {
            key9(k, cid, f, iid);
            vqe__batch_del(b, VQE_CF_POSTINGS, k, 9);
        }
    idkey_i(k, cid, iid);
    vqe__batch_del(b, VQE_CF_IDMAP, k, 9);
}

static void put_state(vqe__batch *b, uint32_t cid, uint64_t counter, uint32_t next_iid) {
    uint8_t k[9], st[12];
    vqe__be32(k, cid);
    memcpy(k + 4, "state", 5);
    vqe__state_encode(st, counter, next_iid);
    vqe__batch_put(b, VQE_CF_META, k, 9, st, 12);
}

static int commit(vqe_collection *c, vqe__batch *b, vq_err *err) {
    int sync = c->schema.durability == VQE_DURABLE_SYNC;
    VQ_TRY(vqe__store_write(c->db->st, b, sync, err));
    if (!sync) {
        vqe_db *db = c->db;
        pthread_mutex_lock(&db->smu);
        db->wal_dirty++;
        int se = db->sync_err;
        pthread_mutex_unlock(&db->smu);
        VQ_FAIL_IF(se, se, err, "durability", "the group-commit WAL sync failed earlier");
    }
    return VQ_OK;
}

int vqe_upsert(vqe_collection *c, const vqe_record *recs, size_t n, vq_err *err) {
    VQ_FAIL_IF(!c || (!recs && n), VQ_EINVAL, err, "records", "NULL argument");
    VQ_FAIL_IF(n > VQE_BATCH_MAX, VQ_ETOOBIG, err, "records", "%zu records > %d per batch", n,
               VQE_BATCH_MAX);
    if (!n) return VQ_OK;
    const vqe_schema *s = &c->schema;
    unsigned nf = s->n_fields;
    prep *P = vq_calloc(n, sizeof *P);
    const vqe_value **byfield = vq_calloc(nf ? nf : 1, sizeof *byfield);
    vqe__aval *vals = vq_calloc(nf ? n * nf : 1, sizeof *vals);
    uint8_t **posts = vq_calloc(nf ? n * nf : 1, sizeof *posts);
    size_t *post_lens = vq_calloc(nf ? n * nf : 1, sizeof *post_lens);
    vqe__hmap seen = {0};
    enc e = {0};
    int rc = (!P || !byfield || !vals || !posts || !post_lens)
                 ? vq_err_set(err, VQ_ENOMEM, "records", "out of memory")
                 : 0;
    for (size_t i = 0; !rc && i < n; i++)
        P[i].post = posts + i * nf, P[i].post_len = post_lens + i * nf;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = prep_record(c, &recs[i], i, &P[i], &e, byfield, err);
        if (rc) break;
        if (vqe__hmap_get(&seen, P[i].key, P[i].kl, NULL)) {
            char buf[80];
            rc = rec_err(err, VQ_EINVAL, i, "id", "duplicate id %s in the batch",
                         vqe_id_str(&recs[i].id, buf, sizeof buf));
        } else if (vqe__hmap_put(&seen, P[i].key, P[i].kl, i)) {
            rc = vq_err_set(err, VQ_ENOMEM, "records", "out of memory");
        }
    }
    if (!rc && e.oom) rc = vq_err_set(err, VQ_ENOMEM, "records", "out of memory");
    for (size_t i = 0; !rc && i < n && nf; i++) {
        P[i].vals = vals + i * nf;
        rc = vqe__attrs_decode(s, e.p + P[i].blob_off, P[i].blob_len, P[i].vals, err);
    }
    vqe__hmap_free(&seen, NULL);
    if (rc) goto out;

    if (vqe__store_read_only(c->db->st)) {
        rc = vq_err_set(err, VQ_ESTATE, "data", "the data directory is open read-only");
        goto out;
    }
    pthread_mutex_lock(&c->wmu);
    uint64_t *old = vq_malloc(n * 8), *newids = vq_malloc(n * 8);
    size_t n_old = 0;
    vqe__batch *b = vqe__batch_new();
    if (!old || !newids || !b) rc = vq_err_set(err, VQ_ENOMEM, "records", "out of memory");
    if (!rc && (uint64_t)c->next_iid + n > UINT32_MAX)
        rc = vq_err_set(err, VQ_ETOOBIG, "records", "internal id space (2^32) exhausted");
    uint32_t base = c->next_iid;
    for (size_t i = 0; !rc && i < n; i++) {
        uint64_t o;
        uint32_t iid = base + (uint32_t)i;
        uint8_t k[VQE_STRING_MAX + 8];
        if (vqe__hmap_get(&c->ids, P[i].key, P[i].kl, &o)) {
            old[n_old++] = o;
            del_iid(b, c, (uint32_t)o);
        }
        newids[i] = iid;
        key8(k, c->cid, iid);
        vqe__batch_put(b, VQE_CF_VECTORS, k, 8, recs[i].vector, (size_t)s->dim * 4);
        if (P[i].blob_len)
            vqe__batch_put(b, VQE_CF_ATTRS, k, 8, e.p + P[i].blob_off, P[i].blob_len);
        if (P[i].text) vqe__batch_put(b, VQE_CF_TEXT, k, 8, P[i].text, P[i].text_len);
        for (unsigned f = 0; f < nf; f++)
            if (P[i].post[f]) {
                key9(k, c->cid, f, iid);
                vqe__batch_put(b, VQE_CF_POSTINGS, k, 9, P[i].post[f], P[i].post_len[f]);
            }
        size_t kl = idkey_u(k, c->cid, P[i].key, P[i].kl);
        uint8_t iv[4];
        vqe__be32(iv, iid);
        vqe__batch_put(b, VQE_CF_IDMAP, k, kl, iv, 4);
        idkey_i(k, c->cid, iid);
        vqe__batch_put(b, VQE_CF_IDMAP, k, 9, P[i].key, P[i].kl);
    }
    if (!rc) {
        put_state(b, c->cid, c->write_counter + 1, base + (uint32_t)n);
        rc = commit(c, b, err);
    }
    if (!rc) {
        /* acknowledged: now memory */
#if VQE_HAVE_INDEX
        vq_err ie;
        if (n_old) vqi_index_remove(c->index, n_old, old, NULL, &ie);
#endif
        pthread_rwlock_wrlock(&c->lock);
        int mrc = grow_mem(c, base + (uint32_t)n);
        for (size_t i = 0; !mrc && i < n_old; i++) {
            roaring_bitmap_remove(c->live, (uint32_t)old[i]);
            for (unsigned f = 0; f < nf; f++)
                if (c->impact[f]) vqe_impact_remove(c->impact[f], (uint32_t)old[i]);
        }
        for (size_t i = 0; !mrc && i < n; i++) {
            uint32_t iid = base + (uint32_t)i;
            float *x = c->vecs + (size_t)iid * s->dim;
            memcpy(x, recs[i].vector, (size_t)s->dim * 4);
            if (s->metric == VQ_METRIC_COS) {
                double nn = 0;
                for (unsigned j = 0; j < s->dim; j++) nn += (double)x[j] * x[j];
                float inv = (float)(1.0 / sqrt(nn));
                for (unsigned j = 0; j < s->dim; j++) x[j] *= inv;
            }
            if (recs[i].id.is_str) {
                if (!c->suid && !(c->suid = vq_calloc(c->cap, sizeof *c->suid))) mrc = VQ_ENOMEM;
                size_t l = strlen(recs[i].id.s);
                if (!mrc && !(c->suid[iid] = vq_malloc(l + 1))) mrc = VQ_ENOMEM;
                if (!mrc) memcpy(c->suid[iid], recs[i].id.s, l + 1);
            } else {
                c->uid[iid] = recs[i].id.u;
            }
            if (!mrc) mrc = vqe__hmap_put(&c->ids, P[i].key, P[i].kl, iid);
            if (!mrc && nf) mrc = vqe__attrs_add(&c->attrs, iid, P[i].vals);
            for (unsigned f = 0; !mrc && f < nf; f++)
                if (P[i].post[f]) {
                    vq_err pe;
                    mrc = vqe__postings_apply(c->impact[f], s->fields[f].type, iid, P[i].post[f],
                                              P[i].post_len[f], &pe);
                }
            if (!mrc) roaring_bitmap_add(c->live, iid);
        }
        c->next_iid = base + (uint32_t)n;
        c->write_counter++;
        if (!mrc) mrc = vqe__attrs_settle(&c->attrs, c->next_iid, 0);
        pthread_rwlock_unlock(&c->lock);
        if (mrc)
            rc = vq_err_set(err, VQ_ENOMEM, "records",
                            "stored durably, but out of memory updating the in-memory state; "
                            "reopen the collection");
#if VQE_HAVE_INDEX
        if (!rc) {
            float *x = vq_malloc((size_t)n * s->dim * 4);
            if (!x) {
                rc = vq_err_set(err, VQ_ENOMEM, "index", "stored durably; index add out of memory");
            } else {
                for (size_t i = 0; i < n; i++)
                    memcpy(x + i * s->dim, c->vecs + (size_t)(base + i) * s->dim,
                           (size_t)s->dim * 4);
                rc = vqi_index_add(c->index, n, x, newids, err);
                vq_free(x);
            }
        }
#endif
    }
    vqe__batch_free(b);
    vq_free(old);
    vq_free(newids);
    pthread_mutex_unlock(&c->wmu);
out:
    for (size_t i = 0; posts && i < n * nf; i++) vq_free(posts[i]);
    vq_free(posts);
    vq_free(post_lens);
    vq_free(e.p);
    vq_free(vals);
    vq_free(byfield);
    vq_free(P);
    return rc;
}

int vqe_delete(vqe_collection *c, const vqe_id *ids, size_t n, size_t *deleted, vq_err *err) {
    VQ_FAIL_IF(!c || (!ids && n), VQ_EINVAL, err, "ids", "NULL argument");
    VQ_FAIL_IF(n > VQE_BATCH_MAX, VQ_ETOOBIG, err, "ids", "%zu ids > %d per batch", n,
               VQE_BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        uint8_t k[VQE_STRING_MAX + 2];
        if (!vqe__id_encode(&ids[i], k, sizeof k)) {
            char f[32];
            snprintf(f, sizeof f, "ids[%zu]", i);
            return vq_err_set(err, VQ_EINVAL, f, "string id must be 1..%d bytes", VQE_STRING_MAX);
        }
    }
    if (deleted) *deleted = 0;
    pthread_mutex_lock(&c->wmu);
    int rc = VQ_OK;
    uint64_t *old = vq_malloc((n ? n : 1) * 8);
    uint8_t(*keys)[VQE_STRING_MAX + 2] = vq_malloc((n ? n : 1) * sizeof *keys);
    size_t *kls = vq_malloc((n ? n : 1) * sizeof *kls);
    vqe__batch *b = vqe__batch_new();
    size_t n_old = 0;
    if (!old || !keys || !kls || !b) rc = vq_err_set(err, VQ_ENOMEM, "ids", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        size_t kl = vqe__id_encode(&ids[i], keys[n_old], sizeof keys[n_old]);
        uint64_t o;
        if (!vqe__hmap_get(&c->ids, keys[n_old], kl, &o)) continue;
        int dup = 0;
        for (size_t j = 0; j < n_old; j++) dup |= old[j] == o;
        if (dup) continue;
        kls[n_old] = kl;
        old[n_old++] = o;
        del_iid(b, c, (uint32_t)o);
        uint8_t k[VQE_STRING_MAX + 8];
        size_t ukl = idkey_u(k, c->cid, keys[n_old - 1], kl);
        vqe__batch_del(b, VQE_CF_IDMAP, k, ukl);
        vqe__graph_batch_forget(c, b, keys[n_old - 1], kl); /* its links go with it */
    }
    if (!rc && n_old) {
        put_state(b, c->cid, c->write_counter + 1, c->next_iid);
        rc = commit(c, b, err);
        if (!rc) {
#if VQE_HAVE_INDEX
            vq_err ie;
            vqi_index_remove(c->index, n_old, old, NULL, &ie);
#endif
            pthread_rwlock_wrlock(&c->lock);
            for (size_t i = 0; i < n_old; i++) {
                roaring_bitmap_remove(c->live, (uint32_t)old[i]);
                for (unsigned f = 0; f < c->schema.n_fields; f++)
                    if (c->impact[f]) vqe_impact_remove(c->impact[f], (uint32_t)old[i]);
                vqe__hmap_del(&c->ids, keys[i], kls[i]);
                vqe__graph_forget(c, keys[i], kls[i]);
                /* The string id of a dead internal id is kept (freed at close; a restart
                 * does not load it): search results handed out before this write point at
                 * it, and readers hold no lock once vqe_search returns. */
            }
            c->write_counter++;
            pthread_rwlock_unlock(&c->lock);
            if (deleted) *deleted = n_old;
        }
    }
    vqe__batch_free(b);
    vq_free(old);
    vq_free(keys);
    vq_free(kls);
    pthread_mutex_unlock(&c->wmu);
    return rc;
}

/* ---- reads ---- */
static cJSON *attrs_json(const vqe_schema *s, const vqe__aval *v) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    for (unsigned f = 0; f < s->n_fields; f++) {
        if (!v[f].present) continue;
        const char *name = s->fields[f].name;
        switch (s->fields[f].type) {
        case VQE_INT64: {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", (long long)v[f].i);
            cJSON_AddItemToObject(o, name, cJSON_CreateRaw(buf)); /* exact beyond 2^53 */
            break;
        }
        case VQE_DOUBLE:
            cJSON_AddNumberToObject(o, name, v[f].d);
            break;
        case VQE_BOOL:
            cJSON_AddBoolToObject(o, name, v[f].b);
            break;
        case VQE_KEYWORD: {
            char *t = vq_malloc(v[f].slen + 1);
            if (t) {
                memcpy(t, v[f].s, v[f].slen);
                t[v[f].slen] = 0;
                cJSON_AddStringToObject(o, name, t);
                vq_free(t);
            }
            break;
        }
        case VQE_TAGS: {
            cJSON *a = cJSON_AddArrayToObject(o, name);
            const uint8_t *p = v[f].tags;
            for (uint32_t t = 0; a && t < v[f].n_tags; t++) {
                uint32_t l = vqe__rd32(p);
                char *str = vq_malloc(l + 1);
                if (str) {
                    memcpy(str, p + 4, l);
                    str[l] = 0;
                    cJSON_AddItemToArray(a, cJSON_CreateString(str));
                    vq_free(str);
                }
                p += 4 + l;
            }
            break;
        }
        default:
            break;
        }
    }
    return o;
}

void vqe_got_free(vqe_got *g, size_t n) {
    for (size_t i = 0; g && i < n; i++) {
        vq_free(g[i].vector);
        vq_free(g[i].attrs_json);
    }
}

int vqe_get(vqe_collection *c, const vqe_id *ids, size_t n, vqe_got *out, vq_err *err) {
    VQ_FAIL_IF(!c || (!ids && n) || (!out && n), VQ_EINVAL, err, "ids", "NULL argument");
    VQ_FAIL_IF(n > VQE_BATCH_MAX, VQ_ETOOBIG, err, "ids", "%zu ids > %d per request", n,
               VQE_BATCH_MAX);
    memset(out, 0, n * sizeof *out);
    const vqe_schema *s = &c->schema;
    vqe__aval *vals = vq_calloc(s->n_fields ? s->n_fields : 1, sizeof *vals);
    VQ_FAIL_IF(!vals, VQ_ENOMEM, err, "ids", "out of memory");
    int rc = VQ_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        uint8_t k[VQE_STRING_MAX + 2];
        size_t kl = vqe__id_encode(&ids[i], k, sizeof k);
        if (!kl) {
            char f[32];
            snprintf(f, sizeof f, "ids[%zu]", i);
            rc = vq_err_set(err, VQ_EINVAL, f, "string id must be 1..%d bytes", VQE_STRING_MAX);
            break;
        }
        uint64_t iid;
        pthread_rwlock_rdlock(&c->lock);
        int found = vqe__hmap_get(&c->ids, k, kl, &iid);
        pthread_rwlock_unlock(&c->lock);
        if (!found) continue;
        /* iids are immutable: reading them from storage needs no lock; a concurrent
         * delete shows as a missing vector */
        uint8_t key[8];
        key8(key, c->cid, (uint32_t)iid);
        char *v = NULL, *a = NULL, *t = NULL;
        size_t vl, al = 0, tl = 0;
        rc = vqe__store_get(c->db->st, VQE_CF_VECTORS, key, 8, &v, &vl, err);
        if (rc == VQ_ENOTFOUND) {
            rc = VQ_OK;
            continue;
        }
        if (rc) break;
        if (vl != (size_t)s->dim * 4) {
            free(v);
            rc = vq_err_set(err, VQ_ECORRUPT, "vectors", "stored vector of %zu bytes", vl);
            break;
        }
        int ra = vqe__store_get(c->db->st, VQE_CF_ATTRS, key, 8, &a, &al, err);
        int rt = ra && ra != VQ_ENOTFOUND
                     ? ra
                     : vqe__store_get(c->db->st, VQE_CF_TEXT, key, 8, &t, &tl, err);
        if ((ra && ra != VQ_ENOTFOUND) || (rt && rt != VQ_ENOTFOUND)) {
            rc = ra && ra != VQ_ENOTFOUND ? ra : rt;
        } else {
            rc = a ? vqe__attrs_decode(s, (uint8_t *)a, al, vals, err) : VQ_OK;
            if (!a) memset(vals, 0, s->n_fields * sizeof *vals);
        }
        cJSON *o = rc ? NULL : attrs_json(s, vals);
        if (!rc && o && t) {
            for (unsigned f = 0; f < s->n_fields; f++)
                if (s->fields[f].type == VQE_TEXT) {
                    char *tx = vq_malloc(tl + 1);
                    if (tx) {
                        memcpy(tx, t, tl);
                        tx[tl] = 0;
                        cJSON_AddStringToObject(o, s->fields[f].name, tx);
                        vq_free(tx);
                    }
                }
        }
        for (unsigned f = 0; !rc && o && f < s->n_fields; f++) {
            if (s->fields[f].type != VQE_SPARSE) continue;
            uint8_t pk[9];
            key9(pk, c->cid, f, (uint32_t)iid);
            char *pv = NULL;
            size_t pl = 0;
            int rp = vqe__store_get(c->db->st, VQE_CF_POSTINGS, pk, 9, &pv, &pl, err);
            if (rp == VQ_ENOTFOUND) continue;
            if (rp) {
                rc = rp;
                break;
            }
            const uint8_t *b = (const uint8_t *)pv;
            uint32_t m = pl >= 5 ? vqe__rd32(b + 1) : 0;
            if (pl < 5 || b[0] != 'S' || (size_t)m * 8 != pl - 5) {
                free(pv);
                rc = vq_err_set(err, VQ_ECORRUPT, "postings", "malformed sparse postings");
                break;
            }
            cJSON *so = cJSON_AddObjectToObject(o, s->fields[f].name);
            cJSON *ia = so ? cJSON_AddArrayToObject(so, "indices") : NULL;
            cJSON *va = so ? cJSON_AddArrayToObject(so, "values") : NULL;
            for (uint32_t j = 0; ia && va && j < m; j++) {
                uint32_t bits = vqe__rd32(b + 9 + 8 * j);
                float fv;
                memcpy(&fv, &bits, 4);
                cJSON_AddItemToArray(ia, cJSON_CreateNumber(vqe__rd32(b + 5 + 8 * j)));
                cJSON_AddItemToArray(va, cJSON_CreateNumber(fv));
            }
            free(pv);
        }
        char *js = o ? cJSON_PrintUnformatted(o) : NULL;
        if (!rc) {
            out[i].vector = vq_malloc(vl);
            out[i].attrs_json = js ? vq_malloc(strlen(js) + 1) : NULL;
            if (!out[i].vector || !out[i].attrs_json) {
                rc = vq_err_set(err, VQ_ENOMEM, "ids", "out of memory");
            } else {
                memcpy(out[i].vector, v, vl);
                strcpy(out[i].attrs_json, js);
                out[i].found = 1;
            }
        }
        if (js) cJSON_free(js);
        cJSON_Delete(o);
        free(v), free(a), free(t);
    }
    vq_free(vals);
    if (rc) vqe_got_free(out, n), memset(out, 0, n * sizeof *out);
    return rc;
}

/* ---- JSON attributes ---- */
typedef struct json_mem {
    cJSON *root;
    const char **tagp;
    uint32_t *sidx; /* sparse fields' indices and values */
    float *sval;
} json_mem;

void vqe_values_free(vqe_values *v) {
    if (!v) return;
    json_mem *m = v->mem;
    if (m) {
        cJSON_Delete(m->root);
        vq_free(m->tagp);
        vq_free(m->sidx);
        vq_free(m->sval);
        vq_free(m);
    }
    vq_free(v->v);
    memset(v, 0, sizeof *v);
}

int vqe_values_from_json(const vqe_collection *c, const char *json, const char *pfx,
                         vqe_values *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    pfx = pfx ? pfx : "attrs";
    char field[128];
    snprintf(field, sizeof field, "%.100s", pfx);
    cJSON *root = cJSON_Parse(json);
    VQ_FAIL_IF(!root || !cJSON_IsObject(root), (cJSON_Delete(root), VQ_EINVAL), err, field,
               "attributes must be one JSON object");
    json_mem *m = vq_calloc(1, sizeof *m);
    size_t n = (size_t)cJSON_GetArraySize(root), ntags = 0, nsp = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (cJSON_IsArray(it)) ntags += (size_t)cJSON_GetArraySize(it);
        const cJSON *ix = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "indices") : 0;
        if (cJSON_IsArray(ix)) nsp += (size_t)cJSON_GetArraySize(ix);
    }
    out->v = vq_calloc(n ? n : 1, sizeof *out->v);
    if (m) {
        m->root = root, m->tagp = vq_calloc(ntags ? ntags : 1, sizeof *m->tagp);
        m->sidx = vq_malloc((nsp ? nsp : 1) * sizeof *m->sidx);
        m->sval = vq_malloc((nsp ? nsp : 1) * sizeof *m->sval);
    }
    out->mem = m;
    if (!m || !out->v || !m->tagp || !m->sidx || !m->sval) {
        if (!m) cJSON_Delete(root);
        vqe_values_free(out);
        return vq_err_set(err, VQ_ENOMEM, field, "out of memory");
    }
    size_t tp = 0, sp = 0;
    int rc = VQ_OK;
    cJSON_ArrayForEach(it, root) {
        snprintf(field, sizeof field, "%.60s.%.60s", pfx, it->string);
        if (cJSON_IsNull(it)) continue; /* null = field absent */
        vqe_value *v = &out->v[out->n];
        v->field = it->string;
        int fi = field_of(&c->schema, it->string);
        vqe_type ft = fi >= 0 ? c->schema.fields[fi].type : VQE_KEYWORD;
        if (cJSON_IsBool(it)) {
            v->type = VQE_BOOL;
            v->b = cJSON_IsTrue(it);
        } else if (cJSON_IsNumber(it)) {
            double d = it->valuedouble;
            /* cJSON parses numbers as double; integral values within +-2^53 are exact */
            if (ft == VQE_INT64 && d == floor(d) && fabs(d) <= 9007199254740992.0) {
                v->type = VQE_INT64;
                v->i = (int64_t)d;
            } else if (ft == VQE_INT64) {
                rc = vq_err_set(err, VQ_EINVAL, field,
                                "int64 field needs an integer within +-2^53 in JSON");
                break;
            } else {
                v->type = VQE_DOUBLE;
                v->d = d;
            }
        } else if (cJSON_IsString(it)) {
            v->type = ft == VQE_TEXT ? VQE_TEXT : VQE_KEYWORD;
            v->s = it->valuestring;
        } else if (cJSON_IsArray(it)) {
            v->type = VQE_TAGS;
            v->tags = m->tagp + tp;
            const cJSON *t;
            cJSON_ArrayForEach(t, it) {
                if (!cJSON_IsString(t)) {
                    rc = vq_err_set(err, VQ_EINVAL, field, "tags must be strings");
                    break;
                }
                m->tagp[tp++] = t->valuestring;
                v->n_tags++;
            }
            if (rc) break;
        } else if (ft == VQE_SPARSE && cJSON_IsObject(it)) {
            /* {"indices": [u32...], "values": [number...]}, equal lengths */
            const cJSON *ix = cJSON_GetObjectItemCaseSensitive(it, "indices"),
                        *vx = cJSON_GetObjectItemCaseSensitive(it, "values");
            if (!cJSON_IsArray(ix) || !cJSON_IsArray(vx) ||
                cJSON_GetArraySize(ix) != cJSON_GetArraySize(vx) || cJSON_GetArraySize(it) != 2) {
                rc = vq_err_set(err, VQ_EINVAL, field,
                                "a sparse value is {\"indices\": [...], \"values\": [...]} "
                                "with arrays of equal length");
                break;
            }
            v->type = VQE_SPARSE;
            v->sparse_indices = m->sidx + sp;
            v->sparse_values = m->sval + sp;
            const cJSON *a = ix->child, *b = vx->child;
            for (size_t j = 0; a && b; j++, a = a->next, b = b->next) {
                double di = a->valuedouble, dv = b->valuedouble;
                if (!cJSON_IsNumber(a) || di != floor(di) || di < 0 || di > 4294967295.0) {
                    snprintf(field, sizeof field, "%.60s.%.40s.indices[%zu]", pfx, it->string, j);
                    rc = vq_err_set(err, VQ_EINVAL, field, "index must be an integer in 0..2^32-1");
                    break;
                }
                if (!cJSON_IsNumber(b) || !isfinite(dv) || fabs(dv) > 3.4028234663852886e38) {
                    snprintf(field, sizeof field, "%.60s.%.40s.values[%zu]", pfx, it->string, j);
                    rc = vq_err_set(err, VQ_EINVAL, field, "value must be a finite float");
                    break;
                }
                m->sidx[sp] = (uint32_t)di;
                m->sval[sp] = (float)dv;
                sp++;
                v->n_sparse++;
            }
            if (rc) break;
        } else {
            rc = vq_err_set(err, VQ_EINVAL, field,
                            ft == VQE_SPARSE ? "a sparse field needs {\"indices\": [...], "
                                               "\"values\": [...]}"
                                             : "unsupported JSON value (object)");
            break;
        }
        out->n++;
    }
    if (rc) vqe_values_free(out);
    return rc;
}

const char *vqe_id_str(const vqe_id *id, char *buf, size_t cap) {
    if (id->is_str)
        snprintf(buf, cap, "\"%s\"", id->s ? id->s : "");
    else
        snprintf(buf, cap, "%llu", (unsigned long long)id->u);
    return buf;
}
