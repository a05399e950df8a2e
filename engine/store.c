/* store.c — the only file that talks to RocksDB (rocksdb/c.h): open with column families,
 * point reads, write batches, prefix scans, WAL sync, checkpoints.
 *
 * One RocksDB per data directory (DIR/db), column families:
 *   meta     "format"                      -> u32 BE format version (VQE_FORMAT_VERSION)
 *            "next_cid"                    -> u32 BE, the next collection id
 *            "c/" + name                   -> u32 BE collection id (cid) of a collection name
 *            cid(4 BE) + "schema"          -> the schema as JSON (vqe_schema_to_json)
 *            cid(4 BE) + "state"           -> u64 BE write counter + u32 BE next internal id;
 *                                             rewritten by every write batch of the collection
 *   vectors  cid(4 BE) + iid(4 BE)         -> dim little-endian float32 (as given; cos vectors
 *                                             are normalized in memory, not on disk)
 *   attrs    cid(4 BE) + iid(4 BE)         -> attribute blob (format at the top of write.c);
 *                                             absent when the record has no attributes
 *   text     cid(4 BE) + iid(4 BE)         -> the text field's UTF-8 bytes
 *   idmap    cid(4 BE) + 'u' + user key    -> iid (4 BE)
 *            cid(4 BE) + 'i' + iid(4 BE)   -> user key
 *            user key = 'N' + u64 BE (numeric id) | 'S' + bytes (string id)
 *   postings cid(4 BE) + field(1) + iid(4 BE) -> the postings of record iid's text or sparse
 *                                             field (field = its index in the schema; value
 *                                             format at the top of postings.c). Written in
 *                                             the record's batch, deleted with the record;
 *                                             the in-memory impact lists are rebuilt from
 *                                             them at open (a prefix scan per field, in iid
 *                                             order). Added after format 1's first release:
 *                                             opening an older directory read-write creates
 *                                             the column family empty.
 *   links    cid(4 BE) + u16 BE length of the from user key + from user key + type(1)
 *            + to user key                 -> f32 LE weight (graph.c: one key per typed link
 *                                             between two records; written in one batch per
 *                                             link call, deleted in the batch that deletes
 *                                             either record; type 1 next, 2 chunk, 3 cite,
 *                                             4 related). Added after format 1's first
 *                                             release: opening an older directory read-write
 *                                             creates the column family empty.
 * Big-endian ids make RocksDB's byte order the numeric order, so a collection is one
 * contiguous key range per column family (drop = delete_range) and loads scan in iid order.
 *
 * Integrity: paranoid checks on open and verify_checksums on every read, so a corrupted
 * SST or MANIFEST is reported (VQ_ECORRUPT) rather than served; the engine also checks the
 * shape of every record it loads.
 *
 * Thread safety: RocksDB handles are thread-safe; a batch belongs to one thread.
 */
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coll_internal.h"

static const char *const cf_names[VQE_CF_N] = {"meta",  "vectors",  "attrs", "text",
                                               "idmap", "postings", "links"};

struct vqe__store {
    rocksdb_t *db;
    rocksdb_options_t *opt;
    rocksdb_column_family_handle_t *cf[VQE_CF_N];
    rocksdb_column_family_handle_t *dflt;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo_sync, *wo_nosync;
    int read_only;
};

/* RocksDB reports corruption with messages starting "Corruption:". */
static int rerr(char *e, vq_err *err, const char *field, const char *what) {
    int code = strstr(e, "Corruption") ? VQ_ECORRUPT : VQ_EIO;
    vq_err_set(err, code, field, "%s: %s", what, e);
    free(e);
    return code;
}

int vqe__store_open(const char *dir, int create, int read_only, vqe__store **out, vq_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/db", dir);
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    VQ_FAIL_IF(!exists && (!create || read_only), VQ_ENOTFOUND, err, "data", "no vqdb data in %s",
               dir);
    if (!exists && mkdir(dir, 0755) != 0 && stat(dir, &sb) != 0)
        return vq_err_set(err, VQ_EIO, "data", "cannot create %s", dir);
    vqe__store *s = vq_calloc(1, sizeof *s);
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "store", "out of memory");
    s->read_only = read_only;
    s->opt = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(s->opt, create && !read_only);
    /* A writable open of an existing directory gains the column families a newer vqdb added
     * (empty: e.g. text postings); a read-only open cannot create them and says so below. */
    rocksdb_options_set_create_missing_column_families(s->opt, !read_only);
    rocksdb_options_set_paranoid_checks(s->opt, 1);
    /* kTolerateCorruptedTailRecords (0): a SIGKILL can leave a torn record at the WAL tail,
     * which belongs to a batch never acknowledged (sync writes fsync before the ack);
     * corruption anywhere else still fails the open (kAbsoluteConsistency would refuse the
     * torn tail too and leave the data directory unopenable after a crash). */
    rocksdb_options_set_wal_recovery_mode(s->opt, 0);
    rocksdb_options_increase_parallelism(s->opt, 2);
    const char *names[VQE_CF_N + 1] = {"default"};
    const rocksdb_options_t *opts[VQE_CF_N + 1];
    rocksdb_column_family_handle_t *h[VQE_CF_N + 1];
    for (int i = 0; i <= VQE_CF_N; i++) {
        if (i) names[i] = cf_names[i - 1];
        opts[i] = s->opt;
    }
    char *e = NULL;
    if (read_only)
        s->db = rocksdb_open_for_read_only_column_families(s->opt, path, VQE_CF_N + 1, names, opts,
                                                           h, 0, &e);
    else
        s->db = rocksdb_open_column_families(s->opt, path, VQE_CF_N + 1, names, opts, h, &e);
    if (e) {
        rocksdb_options_destroy(s->opt);
        vq_free(s);
        if (read_only && strstr(e, "Column family not found")) {
            vq_err_set(err, VQ_EVERSION, "data",
                       "%s was written by an older vqdb (%s); open it once read-write to add the "
                       "new column families",
                       dir, e);
            free(e);
            return VQ_EVERSION;
        }
        return rerr(e, err, "data", "cannot open RocksDB");
    }
    s->dflt = h[0];
    for (int i = 0; i < VQE_CF_N; i++) s->cf[i] = h[i + 1];
    s->ro = rocksdb_readoptions_create();
    rocksdb_readoptions_set_verify_checksums(s->ro, 1);
    s->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(s->wo_sync, 1);
    s->wo_nosync = rocksdb_writeoptions_create();
    *out = s;
    return VQ_OK;
}

void vqe__store_close(vqe__store *s) {
    if (!s) return;
    if (!s->read_only) {
        /* flush memtables so the next open replays no WAL; errors only cost replay time */
        rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
        rocksdb_flushoptions_set_wait(fo, 1);
        for (int i = 0; i < VQE_CF_N; i++) {
            char *e = NULL;
            rocksdb_flush_cf(s->db, fo, s->cf[i], &e);
            free(e);
        }
        rocksdb_flushoptions_destroy(fo);
    }
    for (int i = 0; i < VQE_CF_N; i++) rocksdb_column_family_handle_destroy(s->cf[i]);
    rocksdb_column_family_handle_destroy(s->dflt);
    rocksdb_close(s->db);
    rocksdb_readoptions_destroy(s->ro);
    rocksdb_writeoptions_destroy(s->wo_sync);
    rocksdb_writeoptions_destroy(s->wo_nosync);
    rocksdb_options_destroy(s->opt);
    vq_free(s);
}

int vqe__store_read_only(const vqe__store *s) { return s->read_only; }

int vqe__store_get(vqe__store *s, int cf, const void *k, size_t kl, char **val, size_t *vl,
                   vq_err *err) {
    char *e = NULL;
    size_t n = 0;
    char *v = rocksdb_get_cf(s->db, s->ro, s->cf[cf], k, kl, &n, &e);
    if (e) return rerr(e, err, cf_names[cf], "read failed");
    if (!v) return VQ_ENOTFOUND;
    *val = v;
    *vl = n;
    return VQ_OK;
}

/* A batch buffers its operations by column-family index and replays them into a
 * rocksdb_writebatch_t at write time, so batches can be assembled without the store. */
typedef struct bop {
    uint8_t op, cf; /* op: 0 put, 1 del, 2 del_range (v = end key) */
    size_t kl, vl;
    char *k, *v;
} bop;

struct vqe__batch {
    bop *ops;
    size_t n, cap;
    int oom;
};

vqe__batch *vqe__batch_new(void) { return vq_calloc(1, sizeof(vqe__batch)); }

void vqe__batch_free(vqe__batch *b) {
    if (!b) return;
    vqe__batch *o = b;
    for (size_t i = 0; i < o->n; i++) vq_free(o->ops[i].k);
    vq_free(o->ops);
    vq_free(b);
}

static void push(vqe__batch *b, int op, int cf, const void *k, size_t kl, const void *v,
                 size_t vl) {
    vqe__batch *o = b;
    if (o->oom) return;
    if (o->n == o->cap) {
        size_t nc = o->cap ? 2 * o->cap : 64;
        bop *n = vq_realloc(o->ops, o->cap * sizeof *n, nc * sizeof *n);
        if (!n) {
            o->oom = 1;
            return;
        }
        o->ops = n, o->cap = nc;
    }
    char *kv = vq_malloc(kl + vl + 1);
    if (!kv) {
        o->oom = 1;
        return;
    }
    memcpy(kv, k, kl);
    if (vl) memcpy(kv + kl, v, vl);
    o->ops[o->n++] = (bop){(uint8_t)op, (uint8_t)cf, kl, vl, kv, kv + kl};
}

void vqe__batch_put(vqe__batch *b, int cf, const void *k, size_t kl, const void *v, size_t vl) {
    push(b, 0, cf, k, kl, v, vl);
}
void vqe__batch_del(vqe__batch *b, int cf, const void *k, size_t kl) {
    push(b, 1, cf, k, kl, NULL, 0);
}
void vqe__batch_del_range(vqe__batch *b, int cf, const void *k1, size_t l1, const void *k2,
                          size_t l2) {
    push(b, 2, cf, k1, l1, k2, l2);
}

int vqe__store_write(vqe__store *s, vqe__batch *b, int sync, vq_err *err) {
    vqe__batch *o = b;
    VQ_FAIL_IF(o->oom, VQ_ENOMEM, err, "batch", "out of memory building the write batch");
    VQ_FAIL_IF(s->read_only, VQ_ESTATE, err, "data", "the data directory is open read-only");
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t i = 0; i < o->n; i++) {
        bop *p = &o->ops[i];
        if (p->op == 0)
            rocksdb_writebatch_put_cf(wb, s->cf[p->cf], p->k, p->kl, p->v, p->vl);
        else if (p->op == 1)
            rocksdb_writebatch_delete_cf(wb, s->cf[p->cf], p->k, p->kl);
        else
            rocksdb_writebatch_delete_range_cf(wb, s->cf[p->cf], p->k, p->kl, p->v, p->vl);
    }
    char *e = NULL;
    rocksdb_write(s->db, sync ? s->wo_sync : s->wo_nosync, wb, &e);
    rocksdb_writebatch_destroy(wb);
    if (e) return rerr(e, err, "data", "write failed");
    return VQ_OK;
}

int vqe__store_sync_wal(vqe__store *s, vq_err *err) {
    char *e = NULL;
    rocksdb_flush_wal(s->db, 1, &e);
    if (e) return rerr(e, err, "data", "WAL sync failed");
    return VQ_OK;
}

int vqe__store_scan(vqe__store *s, int cf, const void *prefix, size_t pl, vqe__scan_cb cb,
                    void *ctx, vq_err *err) {
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, s->ro, s->cf[cf]);
    int rc = 0;
    for (rocksdb_iter_seek(it, prefix, pl); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        if (kl < pl || memcmp(k, prefix, pl)) break;
        const char *v = rocksdb_iter_value(it, &vl);
        if ((rc = cb(ctx, (const uint8_t *)k, kl, (const uint8_t *)v, vl))) break;
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    rocksdb_iter_destroy(it);
    if (e) return rerr(e, err, cf_names[cf], "scan failed");
    return rc;
}

int vqe__store_checkpoint(vqe__store *s, const char *dir, vq_err *err) {
    char *e = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(s->db, &e);
    if (e) return rerr(e, err, "snapshot", "checkpoint failed");
    rocksdb_checkpoint_create(cp, dir, 0, &e);
    rocksdb_checkpoint_object_destroy(cp);
    if (e) return rerr(e, err, "snapshot", "checkpoint failed");
    return VQ_OK;
}
