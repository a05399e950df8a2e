/* snapshot.c — consistent copies of a collection and restore.
 *
 * Snapshot layout (out_dir):
 *   db/            a RocksDB checkpoint of the whole data directory's RocksDB (hard links
 *                  to the immutable SST files + a copy of the live WAL tail), consistent at
 *                  one sequence number;
 *   index.vqi      the collection's index at the same write counter (+ index.vqi.state);
 *   MANIFEST.json  {"collection": NAME, "cid": N, "write_counter": W, "format": 1}.
 * Writes to the collection are paused (its writer mutex) only while the checkpoint and the
 * index file are taken; searches continue throughout.
 *
 * Restore copies the collection's key ranges out of the snapshot's RocksDB (opened
 * read-only) into the target db under a fresh collection id, in batches, and makes the
 * collection visible with one final synced batch (name, schema, state), so a failed restore
 * leaves only unreferenced keys. The index file is copied when its state record matches
 * the snapshot's write counter; otherwise the first open rebuilds it.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coll_internal.h"

int vqe_snapshot(vqe_collection *c, const char *out_dir, vq_err *err) {
    VQ_FAIL_IF(!c || !out_dir || !*out_dir || strlen(out_dir) > 4000, VQ_EINVAL, err, "out",
               "snapshot directory path empty or too long");
    struct stat sb;
    VQ_FAIL_IF(stat(out_dir, &sb) == 0, VQ_EEXIST, err, "out", "%s already exists", out_dir);
    VQ_FAIL_IF(mkdir(out_dir, 0755) != 0, VQ_EIO, err, "out", "cannot create %s: %s", out_dir,
               strerror(errno));
    char p[4200];
    pthread_mutex_lock(&c->wmu);
    snprintf(p, sizeof p, "%s/db", out_dir);
    int rc = vqe__store_checkpoint(c->db->st, p, err);
    uint64_t counter = c->write_counter;
    if (!rc) {
        snprintf(p, sizeof p, "%s/index.vqi", out_dir);
        rc = vqe__index_save(c, p, err);
    }
    pthread_mutex_unlock(&c->wmu);
    if (rc) return rc;
    cJSON *m = cJSON_CreateObject();
    VQ_FAIL_IF(!m, VQ_ENOMEM, err, "snapshot", "out of memory");
    cJSON_AddStringToObject(m, "collection", c->schema.name);
    cJSON_AddNumberToObject(m, "cid", c->cid);
    cJSON_AddNumberToObject(m, "write_counter", (double)counter);
    cJSON_AddNumberToObject(m, "format", VQE_FORMAT_VERSION);
    char *txt = cJSON_Print(m);
    cJSON_Delete(m);
    VQ_FAIL_IF(!txt, VQ_ENOMEM, err, "snapshot", "out of memory");
    snprintf(p, sizeof p, "%s/MANIFEST.json", out_dir);
    FILE *f = fopen(p, "wb");
    int ok = f && fputs(txt, f) >= 0;
    if (f) ok &= fflush(f) == 0 && fsync(fileno(f)) == 0, ok &= fclose(f) == 0;
    cJSON_free(txt);
    VQ_FAIL_IF(!ok, VQ_EIO, err, "out", "cannot write %s", p);
    return VQ_OK;
}

typedef struct copy_ctx {
    vqe__store *dst;
    vqe__batch *b;
    int cf;
    uint32_t cid;
    size_t bytes;
    int rc;
    vq_err *err;
} copy_ctx;

static int copy_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    copy_ctx *x = ctx;
    uint8_t key[VQE_STRING_MAX + 16];
    if (kl < 4 || kl > sizeof key) {
        x->rc = vq_err_set(x->err, VQ_ECORRUPT, "snapshot", "malformed key in the snapshot");
        return 1;
    }
    memcpy(key, k, kl);
    vqe__be32(key, x->cid);
    vqe__batch_put(x->b, x->cf, key, kl, v, vl);
    x->bytes += kl + vl;
    if (x->bytes > (4u << 20)) {
        if ((x->rc = vqe__store_write(x->dst, x->b, 0, x->err))) return 1;
        vqe__batch_free(x->b);
        x->b = vqe__batch_new();
        x->bytes = 0;
        if (!x->b) {
            x->rc = vq_err_set(x->err, VQ_ENOMEM, "snapshot", "out of memory");
            return 1;
        }
    }
    return 0;
}

static int read_manifest(const char *snap, char *name, uint32_t *cid, uint64_t *counter,
                         vq_err *err) {
    char p[4200];
    snprintf(p, sizeof p, "%s/MANIFEST.json", snap);
    FILE *f = fopen(p, "rb");
    VQ_FAIL_IF(!f, VQ_ENOTFOUND, err, "snapshot", "no MANIFEST.json in %s", snap);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *m = cJSON_Parse(buf);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "collection"),
                *i = cJSON_GetObjectItemCaseSensitive(m, "cid"),
                *w = cJSON_GetObjectItemCaseSensitive(m, "write_counter");
    int ok = cJSON_IsString(c) && cJSON_IsNumber(i) && cJSON_IsNumber(w) &&
             strlen(c->valuestring) < VQE_NAME_MAX && i->valuedouble >= 1 &&
             i->valuedouble < 4294967296.0 && w->valuedouble >= 0;
    if (ok) {
        snprintf(name, VQE_NAME_MAX, "%s", c->valuestring);
        *cid = (uint32_t)i->valuedouble;
        *counter = (uint64_t)w->valuedouble;
    }
    cJSON_Delete(m);
    VQ_FAIL_IF(!ok, VQ_ECORRUPT, err, "snapshot", "malformed %s", p);
    return VQ_OK;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    int ok = a && b;
    char buf[1 << 16];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) ok &= !ferror(a), fclose(a);
    if (b) ok &= fflush(b) == 0 && fsync(fileno(b)) == 0, ok &= fclose(b) == 0;
    return ok ? VQ_OK : VQ_EIO;
}

int vqe_restore(vqe_db *db, const char *snap, const char *as_name, vq_err *err) {
    VQ_FAIL_IF(!db || !snap, VQ_EINVAL, err, "snapshot", "NULL argument");
    char name[VQE_NAME_MAX];
    uint32_t scid = 0;
    uint64_t counter = 0;
    VQ_TRY(read_manifest(snap, name, &scid, &counter, err));
    const char *target = as_name ? as_name : name;
    vqe__store *src;
    VQ_TRY(vqe__store_open(snap, 0, 1, &src, err));
    /* schema and state from the snapshot */
    uint8_t k[16];
    vqe__be32(k, scid);
    memcpy(k + 4, "schema", 6);
    char *v = NULL;
    size_t vl;
    vqe_schema s;
    int rc = vqe__store_get(src, VQE_CF_META, k, 10, &v, &vl, err);
    if (rc == VQ_ENOTFOUND) rc = vq_err_set(err, VQ_ECORRUPT, "snapshot", "no schema for %s", name);
    if (!rc) {
        char *js = vq_malloc(vl + 1);
        if (!js) {
            rc = vq_err_set(err, VQ_ENOMEM, "snapshot", "out of memory");
        } else {
            memcpy(js, v, vl);
            js[vl] = 0;
            rc = vqe_schema_from_json(js, &s, err);
            vq_free(js);
        }
        free(v);
    }
    char *state = NULL;
    size_t sl = 0;
    if (!rc) {
        memcpy(k + 4, "state", 5);
        rc = vqe__store_get(src, VQE_CF_META, k, 9, &state, &sl, err);
        if (rc == VQ_ENOTFOUND || (!rc && sl != 12))
            rc = vq_err_set(err, VQ_ECORRUPT, "snapshot", "state record missing or malformed");
    }
    if (!rc) {
        snprintf(s.name, sizeof s.name, "%s", target);
        rc = vqe_schema_validate(&s, err);
    }
    if (rc) {
        free(state);
        vqe__store_close(src);
        return rc;
    }
    pthread_mutex_lock(&db->mu);
    uint32_t cid = 0;
    rc = vqe__meta_cid(db, target, &cid, NULL);
    if (rc == VQ_OK)
        rc = vq_err_set(err, VQ_EEXIST, "name", "collection '%s' already exists", target);
    else if (rc == VQ_ENOTFOUND)
        rc = VQ_OK;
    /* reserve a collection id */
    if (!rc) {
        char *nv;
        size_t nl;
        rc = vqe__store_get(db->st, VQE_CF_META, "next_cid", 8, &nv, &nl, err);
        if (rc == VQ_ENOTFOUND) {
            cid = 1;
            rc = VQ_OK;
        } else if (!rc) {
            cid = nl == 4 ? vqe__rd32((uint8_t *)nv) : 0;
            free(nv);
            if (!cid) rc = vq_err_set(err, VQ_ECORRUPT, "meta", "malformed next_cid");
        }
    }
    if (!rc) {
        vqe__batch *b = vqe__batch_new();
        uint8_t nb[4];
        vqe__be32(nb, cid + 1);
        if (!b) rc = vq_err_set(err, VQ_ENOMEM, "snapshot", "out of memory");
        if (!rc) vqe__batch_put(b, VQE_CF_META, "next_cid", 8, nb, 4);
        if (!rc) rc = vqe__store_write(db->st, b, 1, err);
        vqe__batch_free(b);
    }
    uint8_t pfx[4];
    vqe__be32(pfx, scid);
    for (int cf = VQE_CF_VECTORS; !rc && cf < VQE_CF_N; cf++) {
        copy_ctx x = {db->st, vqe__batch_new(), cf, cid, 0, 0, err};
        if (!x.b) {
            rc = vq_err_set(err, VQ_ENOMEM, "snapshot", "out of memory");
            break;
        }
        rc = vqe__store_scan(src, cf, pfx, 4, copy_cb, &x, err);
        if (!rc) rc = x.rc;
        if (!rc) rc = vqe__store_write(db->st, x.b, 0, err);
        vqe__batch_free(x.b);
    }
    if (!rc) {
        char *json = NULL;
        rc = vqe_schema_to_json(&s, &json, err);
        vqe__batch *b = rc ? NULL : vqe__batch_new();
        if (!rc && !b) rc = vq_err_set(err, VQ_ENOMEM, "snapshot", "out of memory");
        if (!rc) {
            uint8_t key[VQE_NAME_MAX + 8], cb[4];
            size_t nl = strlen(target);
            memcpy(key, "c/", 2);
            memcpy(key + 2, target, nl);
            vqe__be32(cb, cid);
            vqe__batch_put(b, VQE_CF_META, key, nl + 2, cb, 4);
            vqe__be32(key, cid);
            memcpy(key + 4, "schema", 6);
            vqe__batch_put(b, VQE_CF_META, key, 10, json, strlen(json));
            memcpy(key + 4, "state", 5);
            vqe__batch_put(b, VQE_CF_META, key, 9, state, 12);
            rc = vqe__store_write(db->st, b, 1, err);
        }
        vqe__batch_free(b);
        vq_free(json);
    }
    pthread_mutex_unlock(&db->mu);
    if (!rc) {
        /* the index file, when it is the one taken with this state */
        char from[4200], to[4200];
        uint64_t ic;
        snprintf(from, sizeof from, "%s/index.vqi", snap);
        snprintf(to, sizeof to, "%s/index/%u.vqi", db->dir, cid);
        if (vqe__index_state_read(from, &ic) == VQ_OK && ic == vqe__rd64((uint8_t *)state) &&
            copy_file(from, to) == VQ_OK) {
            vq_err e;
            vqe__index_state_write(to, ic, &e);
        }
    }
    free(state);
    vqe__store_close(src);
    return rc;
}
