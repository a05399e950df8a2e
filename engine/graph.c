/* graph.c — typed links between records (storage, memory, delete cascade), the kNN-graph
 * overlay and multi-hop expansion (HOPS, personalized PageRank); semantics in graph.h.
 *
 * Storage: one key per link in the `links` column family,
 *   cid(4 BE) + u16 BE length of the from key + from user key + type(1) + to user key
 *   -> f32 LE weight
 * (user key = 'N' + u64 BE | 'S' + bytes, as in the idmap column family). The collection's
 * key range stays contiguous, so drop, snapshot and restore cover links with the other
 * column families. Loading scans the range once and checks every key (VQ_ECORRUPT on a
 * malformed key or a link to a missing record: deletes remove links in the same batch, so
 * a dangling link means the store was damaged).
 *
 * Memory: nodes keyed by user key (so links survive an upsert that replaces the record's
 * internal id), each with its out- and in-edge arrays; the in-edges make deleting a record
 * O(its degree) and expansion undirected. Nodes are never freed before close (a deleted
 * record's node keeps no edges). Changed under the collection's writer mutex plus exclusive
 * lock, read under the shared lock.
 *
 * kNN overlay cache (non-HNSW collections): rows by internal id, each [count, ids...],
 * computed by an exact scan of the live vectors on first use; the whole cache is dropped when
 * the collection's write counter moves. Guarded by its own mutex because readers fill it.
 *
 * Expansion: breadth-first by levels from the seeds; a record reached at level h gets
 * prox = max over its level-(h-1) predecessors u of prox(u) * decay (shortest-hop paths), its
 * nearest seed as `via`. PPR runs vqe_ppr on the reached subgraph made undirected (edge
 * weights: link weight, 1 per overlay edge, summed when both connect the same pair).
 */
#include "graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_internal.h"
#include "kernels/f32.h"

typedef struct gedge {
    uint32_t node;
    uint8_t type;
    float w;
} gedge;

typedef struct gnode {
    uint8_t *key;
    uint32_t kl;
    gedge *out, *in;
    uint32_t n_out, cap_out, n_in, cap_in;
} gnode;

struct vqe__graph {
    vqe__hmap nodes; /* user key -> node index */
    gnode *node;
    size_t n, cap;
    size_t n_links;
    pthread_mutex_t kmu;
    uint64_t kcounter;
    uint32_t **krow; /* by iid: [count, ids...] */
    size_t kcap;
    unsigned kk;
};

#define UKEY_MAX (VQE_STRING_MAX + 2)
#define LKEY_MAX (2 * UKEY_MAX + 8)

const char *vqe_link_type_name(vqe_link_type t) {
    switch (t) {
    case VQE_LINK_NEXT:
        return "next";
    case VQE_LINK_CHUNK:
        return "chunk";
    case VQE_LINK_CITE:
        return "cite";
    case VQE_LINK_RELATED:
        return "related";
    }
    return NULL;
}

int vqe_link_type_parse(const char *s, vqe_link_type *out, vq_err *err) {
    for (int t = 1; t <= VQE_LINK_TYPE_MAX; t++)
        if (s && !strcmp(s, vqe_link_type_name((vqe_link_type)t))) {
            *out = (vqe_link_type)t;
            return VQ_OK;
        }
    return vq_err_set(err, VQ_EINVAL, "type", "unknown link type '%s' (next, chunk, cite, related)",
                      s ? s : "(null)");
}

/* ---- memory ---- */
static int node_get(vqe__graph *g, const uint8_t *k, size_t kl, int create, uint32_t *out) {
    uint64_t v;
    if (vqe__hmap_get(&g->nodes, k, kl, &v)) {
        *out = (uint32_t)v;
        return VQ_OK;
    }
    if (!create) return VQ_ENOTFOUND;
    if (g->n == g->cap) {
        size_t nc = g->cap ? 2 * g->cap : 64;
        gnode *nn = vq_realloc(g->node, g->cap * sizeof *nn, nc * sizeof *nn);
        if (!nn) return VQ_ENOMEM;
        memset(nn + g->cap, 0, (nc - g->cap) * sizeof *nn);
        g->node = nn, g->cap = nc;
    }
    gnode *n = &g->node[g->n];
    n->key = vq_malloc(kl);
    if (!n->key) return VQ_ENOMEM;
    memcpy(n->key, k, kl);
    n->kl = (uint32_t)kl;
    if (vqe__hmap_put(&g->nodes, k, kl, g->n)) {
        vq_free(n->key);
        n->key = NULL;
        return VQ_ENOMEM;
    }
    *out = (uint32_t)g->n++;
    return VQ_OK;
}

static int edge_put(gedge **arr, uint32_t *n, uint32_t *cap, uint32_t node, uint8_t type, float w,
                    int *added) {
    for (uint32_t i = 0; i < *n; i++)
        if ((*arr)[i].node == node && (*arr)[i].type == type) {
            (*arr)[i].w = w;
            *added = 0;
            return VQ_OK;
        }
    if (*n == *cap) {
        uint32_t nc = *cap ? 2 * *cap : 4;
        gedge *na = vq_realloc(*arr, *cap * sizeof *na, nc * sizeof *na);
        if (!na) return VQ_ENOMEM;
        *arr = na, *cap = nc;
    }
    (*arr)[(*n)++] = (gedge){node, type, w};
    *added = 1;
    return VQ_OK;
}

static int edge_del(gedge *arr, uint32_t *n, uint32_t node, uint8_t type) {
    for (uint32_t i = 0; i < *n; i++)
        if (arr[i].node == node && arr[i].type == type) {
            arr[i] = arr[--*n];
            return 1;
        }
    return 0;
}

static int link_apply(vqe__graph *g, const uint8_t *fk, size_t fl, uint8_t type, const uint8_t *tk,
                      size_t tl, float w) {
    uint32_t a, b;
    VQ_TRY(node_get(g, fk, fl, 1, &a));
    VQ_TRY(node_get(g, tk, tl, 1, &b));
    int added, added2;
    gnode *na = &g->node[a];
    VQ_TRY(edge_put(&na->out, &na->n_out, &na->cap_out, b, type, w, &added));
    gnode *nb = &g->node[b];
    VQ_TRY(edge_put(&nb->in, &nb->n_in, &nb->cap_in, a, type, w, &added2));
    g->n_links += (size_t)added;
    return VQ_OK;
}

static int link_unapply(vqe__graph *g, const uint8_t *fk, size_t fl, uint8_t type,
                        const uint8_t *tk, size_t tl) {
    uint32_t a, b;
    if (node_get(g, fk, fl, 0, &a) || node_get(g, tk, tl, 0, &b)) return 0;
    int r = edge_del(g->node[a].out, &g->node[a].n_out, b, type);
    edge_del(g->node[b].in, &g->node[b].n_in, a, type);
    g->n_links -= (size_t)r;
    return r;
}

static void kcache_clear(vqe__graph *g) {
    for (size_t i = 0; i < g->kcap; i++) vq_free(g->krow[i]);
    vq_free(g->krow);
    g->krow = NULL, g->kcap = 0;
}

void vqe__graph_free(vqe__graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) {
        vq_free(g->node[i].key);
        vq_free(g->node[i].out);
        vq_free(g->node[i].in);
    }
    vq_free(g->node);
    vqe__hmap_free(&g->nodes, NULL);
    kcache_clear(g);
    pthread_mutex_destroy(&g->kmu);
    vq_free(g);
}

/* ---- keys ---- */
static size_t link_key(uint8_t *k, uint32_t cid, const uint8_t *fk, size_t fl, uint8_t type,
                       const uint8_t *tk, size_t tl) {
    vqe__be32(k, cid);
    k[4] = (uint8_t)(fl >> 8), k[5] = (uint8_t)fl;
    memcpy(k + 6, fk, fl);
    k[6 + fl] = type;
    memcpy(k + 7 + fl, tk, tl);
    return 7 + fl + tl;
}

static int ukey_valid(const uint8_t *k, size_t kl) {
    if (kl < 2) return 0;
    if (k[0] == 'N') return kl == 9;
    return k[0] == 'S' && kl - 1 <= VQE_STRING_MAX;
}

typedef struct load_ctx {
    vqe_collection *c;
    vq_err *err;
    int rc;
} load_ctx;

static int load_cb(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    load_ctx *L = ctx;
    vqe_collection *c = L->c;
    if (kl < 7) goto bad;
    size_t fl = (size_t)k[4] << 8 | k[5];
    if (kl < 7 + fl + 2) goto bad;
    const uint8_t *fk = k + 6, *tk = k + 7 + fl;
    uint8_t type = k[6 + fl];
    size_t tl = kl - 7 - fl;
    float w;
    if (!ukey_valid(fk, fl) || !ukey_valid(tk, tl) || type < 1 || type > VQE_LINK_TYPE_MAX ||
        vl != 4)
        goto bad;
    memcpy(&w, v, 4);
    if (!isfinite(w) || w <= 0 || w > VQE_LINK_WEIGHT_MAX) goto bad;
    if (!vqe__hmap_get(&c->ids, fk, fl, NULL) || !vqe__hmap_get(&c->ids, tk, tl, NULL)) {
        L->rc = vq_err_set(L->err, VQ_ECORRUPT, "links", "a stored link names a missing record");
        return 1;
    }
    if (link_apply(c->graph, fk, fl, type, tk, tl, w)) {
        L->rc = vq_err_set(L->err, VQ_ENOMEM, "links", "out of memory loading links");
        return 1;
    }
    return 0;
bad:
    L->rc = vq_err_set(L->err, VQ_ECORRUPT, "links", "malformed link record (%zu-byte key)", kl);
    return 1;
}

int vqe__graph_load(vqe_collection *c, vq_err *err) {
    vqe__graph *g = vq_calloc(1, sizeof *g);
    VQ_FAIL_IF(!g, VQ_ENOMEM, err, "links", "out of memory");
    pthread_mutex_init(&g->kmu, NULL);
    c->graph = g;
    uint8_t pfx[4];
    vqe__be32(pfx, c->cid);
    load_ctx L = {c, err, 0};
    int rc = vqe__store_scan(c->db->st, VQE_CF_LINKS, pfx, 4, load_cb, &L, err);
    if (!rc) rc = L.rc;
    return rc < 0 ? rc : VQ_OK;
}

/* ---- write path ---- */
/* The same acknowledgement rule as write.c's upserts: sync fsyncs the WAL now, group mode
 * leaves it to the db's syncer. */
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

static int lerr(vq_err *err, int code, size_t i, const char *what, const char *msg) {
    char f[48];
    snprintf(f, sizeof f, "links[%zu].%s", i, what);
    return vq_err_set(err, code, f, "%s", msg);
}

/* Encodes and checks link i's ends; with c, both must be live. */
static int link_prep(const vqe_collection *c, const vqe_link *l, size_t i, int check_weight,
                     uint8_t *fk, size_t *fl, uint8_t *tk, size_t *tl, float *w, vq_err *err) {
    if (!(*fl = vqe__id_encode(&l->from, fk, UKEY_MAX)))
        return lerr(err, VQ_EINVAL, i, "from", "string id must be 1..4096 bytes");
    if (!(*tl = vqe__id_encode(&l->to, tk, UKEY_MAX)))
        return lerr(err, VQ_EINVAL, i, "to", "string id must be 1..4096 bytes");
    if (l->type < 1 || l->type > VQE_LINK_TYPE_MAX)
        return lerr(err, VQ_EINVAL, i, "type", "unknown link type (next, chunk, cite, related)");
    if (!check_weight) return VQ_OK;
    if (*fl == *tl && !memcmp(fk, tk, *fl))
        return lerr(err, VQ_EINVAL, i, "to", "a record cannot link to itself");
    float wt = l->weight == 0 ? 1.0f : l->weight;
    if (!isfinite(wt) || wt <= 0 || wt > VQE_LINK_WEIGHT_MAX)
        return lerr(err, VQ_EINVAL, i, "weight", "weight must be finite, in (0, 1e6]");
    *w = wt;
    if (!vqe__hmap_get(&c->ids, fk, *fl, NULL))
        return lerr(err, VQ_ENOTFOUND, i, "from", "no record with this id");
    if (!vqe__hmap_get(&c->ids, tk, *tl, NULL))
        return lerr(err, VQ_ENOTFOUND, i, "to", "no record with this id");
    return VQ_OK;
}

static int links_write(vqe_collection *c, const vqe_link *links, size_t n, int add, size_t *removed,
                       vq_err *err) {
    VQ_FAIL_IF(!c || (!links && n), VQ_EINVAL, err, "links", "NULL argument");
    VQ_FAIL_IF(n > VQE_LINKS_MAX, VQ_ETOOBIG, err, "links", "%zu links > %u per call", n,
               VQE_LINKS_MAX);
    if (removed) *removed = 0;
    if (!n) return VQ_OK;
    VQ_FAIL_IF(vqe__store_read_only(c->db->st), VQ_ESTATE, err, "data",
               "the data directory is open read-only");
    uint8_t fk[UKEY_MAX], tk[UKEY_MAX], key[LKEY_MAX];
    size_t fl, tl;
    float w = 1;
    pthread_mutex_lock(&c->wmu);
    vqe__batch *b = vqe__batch_new();
    int rc = b ? VQ_OK : vq_err_set(err, VQ_ENOMEM, "links", "out of memory");
    size_t n_present = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = link_prep(c, &links[i], i, add, fk, &fl, tk, &tl, &w, err);
        if (rc) break;
        size_t kl = link_key(key, c->cid, fk, fl, (uint8_t)links[i].type, tk, tl);
        if (add) {
            uint8_t wv[4];
            memcpy(wv, &w, 4);
            vqe__batch_put(b, VQE_CF_LINKS, key, kl, wv, 4);
        } else {
            vqe__batch_del(b, VQE_CF_LINKS, key, kl);
        }
    }
    if (!rc) rc = commit(c, b, err);
    if (!rc) {
        int mrc = VQ_OK;
        pthread_rwlock_wrlock(&c->lock);
        for (size_t i = 0; !mrc && i < n; i++) {
            link_prep(c, &links[i], i, add, fk, &fl, tk, &tl, &w, NULL);
            if (add)
                mrc = link_apply(c->graph, fk, fl, (uint8_t)links[i].type, tk, tl, w);
            else
                n_present += (size_t)link_unapply(c->graph, fk, fl, (uint8_t)links[i].type, tk, tl);
        }
        pthread_rwlock_unlock(&c->lock);
        if (mrc)
            rc = vq_err_set(err, VQ_ENOMEM, "links",
                            "stored durably, but out of memory updating the in-memory links; "
                            "reopen the collection");
    }
    vqe__batch_free(b);
    pthread_mutex_unlock(&c->wmu);
    if (!rc && removed) *removed = n_present;
    return rc;
}

int vqe_link_add(vqe_collection *c, const vqe_link *links, size_t n, vq_err *err) {
    return links_write(c, links, n, 1, NULL, err);
}

int vqe_link_remove(vqe_collection *c, const vqe_link *links, size_t n, size_t *removed,
                    vq_err *err) {
    return links_write(c, links, n, 0, removed, err);
}

void vqe__graph_batch_forget(vqe_collection *c, vqe__batch *b, const uint8_t *uk, size_t kl) {
    vqe__graph *g = c->graph;
    uint32_t a;
    if (!g || node_get(g, uk, kl, 0, &a)) return;
    uint8_t key[LKEY_MAX];
    const gnode *n = &g->node[a];
    for (uint32_t i = 0; i < n->n_out; i++) {
        const gnode *o = &g->node[n->out[i].node];
        size_t l = link_key(key, c->cid, uk, kl, n->out[i].type, o->key, o->kl);
        vqe__batch_del(b, VQE_CF_LINKS, key, l);
    }
    for (uint32_t i = 0; i < n->n_in; i++) {
        const gnode *o = &g->node[n->in[i].node];
        size_t l = link_key(key, c->cid, o->key, o->kl, n->in[i].type, uk, kl);
        vqe__batch_del(b, VQE_CF_LINKS, key, l);
    }
}

void vqe__graph_forget(vqe_collection *c, const uint8_t *uk, size_t kl) {
    vqe__graph *g = c->graph;
    uint32_t a;
    if (!g || node_get(g, uk, kl, 0, &a)) return;
    gnode *n = &g->node[a];
    for (uint32_t i = 0; i < n->n_out; i++) {
        gnode *o = &g->node[n->out[i].node];
        edge_del(o->in, &o->n_in, a, n->out[i].type);
        g->n_links--;
    }
    for (uint32_t i = 0; i < n->n_in; i++) {
        gnode *o = &g->node[n->in[i].node];
        if (edge_del(o->out, &o->n_out, a, n->in[i].type)) g->n_links--;
    }
    n->n_out = n->n_in = 0;
}

size_t vqe_link_count(vqe_collection *c) {
    if (!c || !c->graph) return 0;
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->graph->n_links;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

/* ---- listing ---- */
typedef struct lent {
    int dir;
    uint8_t type;
    const uint8_t *key;
    uint32_t kl;
    float w;
} lent;
static int lent_cmp(const void *a, const void *b) {
    const lent *x = a, *y = b;
    if (x->dir != y->dir) return x->dir - y->dir;
    if (x->type != y->type) return x->type - y->type;
    uint32_t m = x->kl < y->kl ? x->kl : y->kl;
    int r = memcmp(x->key, y->key, m);
    return r ? r : (int)x->kl - (int)y->kl;
}

static vqe_id ukey_id(const uint8_t *k, uint32_t kl, char **mem) {
    vqe_id id = {0};
    if (k[0] == 'N') {
        id.u = vqe__rd64(k + 1);
        return id;
    }
    id.is_str = 1;
    memcpy(*mem, k + 1, kl - 1);
    (*mem)[kl - 1] = 0;
    id.s = *mem;
    *mem += kl;
    return id;
}

int vqe_link_list(vqe_collection *c, const vqe_id *id, vqe_link_dir dir, vqe_links *out,
                  vq_err *err) {
    VQ_FAIL_IF(!c || !id || !out, VQ_EINVAL, err, "links", "NULL argument");
    VQ_FAIL_IF(dir < VQE_LINKS_OUT || dir > VQE_LINKS_BOTH, VQ_EINVAL, err, "dir",
               "direction %d not out (1), in (2) or both (3)", (int)dir);
    memset(out, 0, sizeof *out);
    uint8_t uk[UKEY_MAX];
    size_t kl = vqe__id_encode(id, uk, sizeof uk);
    VQ_FAIL_IF(!kl, VQ_EINVAL, err, "id", "string id must be 1..%d bytes", VQE_STRING_MAX);
    pthread_rwlock_rdlock(&c->lock);
    vqe__graph *g = c->graph;
    uint32_t a;
    int rc = VQ_OK;
    if (!g || node_get(g, uk, kl, 0, &a)) goto done;
    const gnode *n = &g->node[a];
    size_t m = ((dir & VQE_LINKS_OUT) ? n->n_out : 0) + ((dir & VQE_LINKS_IN) ? n->n_in : 0);
    if (!m) goto done;
    lent *E = vq_malloc(m * sizeof *E);
    size_t bytes = 0, j = 0;
    if (!E) {
        rc = vq_err_set(err, VQ_ENOMEM, "links", "out of memory");
        goto done;
    }
    for (int d = 1; d <= 2; d++) {
        if (!(dir & d)) continue;
        const gedge *ed = d == 1 ? n->out : n->in;
        uint32_t ne = d == 1 ? n->n_out : n->n_in;
        for (uint32_t i = 0; i < ne; i++) {
            const gnode *o = &g->node[ed[i].node];
            E[j++] = (lent){d, ed[i].type, o->key, o->kl, ed[i].w};
            bytes += o->kl;
        }
    }
    qsort(E, m, sizeof *E, lent_cmp);
    out->links = vq_malloc(m * sizeof *out->links);
    out->mem = vq_malloc(bytes + kl + 1);
    if (!out->links || !out->mem) {
        vq_free(out->links), vq_free(out->mem), vq_free(E);
        memset(out, 0, sizeof *out);
        rc = vq_err_set(err, VQ_ENOMEM, "links", "out of memory");
        goto done;
    }
    char *mem = out->mem;
    vqe_id self = ukey_id(uk, (uint32_t)kl, &mem);
    for (size_t i = 0; i < m; i++) {
        vqe_id other = ukey_id(E[i].key, E[i].kl, &mem);
        out->links[i] = (vqe_link){E[i].dir == 1 ? self : other, E[i].dir == 1 ? other : self,
                                   (vqe_link_type)E[i].type, E[i].w};
    }
    out->n = m;
    vq_free(E);
done:
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

void vqe_links_free(vqe_links *l) {
    if (!l) return;
    vq_free(l->links);
    vq_free(l->mem);
    memset(l, 0, sizeof *l);
}

/* ---- PageRank ---- */
int vqe_ppr(size_t n, const size_t *rowptr, const uint32_t *col, const double *w,
            const double *pers, double restart, double tol, unsigned max_iter, double *out,
            unsigned *iters, vq_err *err) {
    VQ_FAIL_IF(!n || !rowptr || !pers || !out || (!col && rowptr[n]), VQ_EINVAL, err, "graph",
               "NULL argument or empty graph");
    VQ_FAIL_IF(!(restart > 0 && restart < 1), VQ_EINVAL, err, "graph.restart",
               "restart probability %g not in (0, 1)", restart);
    VQ_FAIL_IF(!(tol > 0) || !max_iter, VQ_EINVAL, err, "graph", "tol and max_iter must be > 0");
    double ps = 0;
    for (size_t i = 0; i < n; i++) {
        VQ_FAIL_IF(!isfinite(pers[i]) || pers[i] < 0, VQ_EINVAL, err, "graph.personalization",
                   "weight %zu is negative or not finite", i);
        ps += pers[i];
    }
    VQ_FAIL_IF(!(ps > 0), VQ_EINVAL, err, "graph.personalization", "all weights are 0");
    double *W = vq_calloc(n, sizeof *W), *nx = vq_malloc(n * sizeof *nx);
    double *p = vq_malloc(n * sizeof *p);
    if (!W || !nx || !p) {
        vq_free(W), vq_free(nx), vq_free(p);
        return vq_err_set(err, VQ_ENOMEM, "graph", "out of memory");
    }
    int rc = VQ_OK;
    for (size_t u = 0; u < n && !rc; u++)
        for (size_t e = rowptr[u]; e < rowptr[u + 1]; e++) {
            double we = w ? w[e] : 1.0;
            if (col[e] >= n || !isfinite(we) || we <= 0) {
                rc = vq_err_set(err, VQ_EINVAL, "graph", "edge %zu: bad target or weight", e);
                break;
            }
            W[u] += we;
        }
    for (size_t i = 0; i < n; i++) p[i] = pers[i] / ps, out[i] = p[i];
    unsigned it = 0;
    while (!rc && it < max_iter) {
        it++;
        double dangling = 0;
        for (size_t v = 0; v < n; v++) nx[v] = 0;
        for (size_t u = 0; u < n; u++) {
            if (W[u] <= 0) {
                dangling += out[u];
                continue;
            }
            double share = out[u] / W[u];
            for (size_t e = rowptr[u]; e < rowptr[u + 1]; e++)
                nx[col[e]] += share * (w ? w[e] : 1.0);
        }
        double diff = 0;
        for (size_t v = 0; v < n; v++) {
            double x = restart * p[v] + (1 - restart) * (nx[v] + dangling * p[v]);
            diff += fabs(x - out[v]);
            out[v] = x;
        }
        if (diff < tol) break;
    }
    if (iters) *iters = it;
    vq_free(W), vq_free(nx), vq_free(p);
    return rc;
}

/* ---- kNN overlay ---- */
static float dist_iid(const vqe_collection *c, const vq_k_f32 *kf, const float *q, uint32_t iid) {
    const float *x = c->vecs + (size_t)iid * c->schema.dim;
    if (c->schema.metric == VQ_METRIC_L2) return kf->l2sq(q, x, c->schema.dim);
    return -kf->ip(q, x, c->schema.dim);
}

typedef struct nbr {
    float d;
    uint32_t id;
} nbr;
static int nbr_cmp(const void *a, const void *b) {
    const nbr *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* k nearest live records of iid by exact scan (excluding iid); insertion into a sorted run */
typedef struct kscan {
    const vqe_collection *c;
    const vq_k_f32 *kf;
    const float *q;
    uint32_t self;
    nbr *best;
    unsigned k, n;
} kscan;
static bool kscan_one(uint32_t id, void *arg) {
    kscan *s = arg;
    if (id == s->self) return true;
    nbr x = {dist_iid(s->c, s->kf, s->q, id), id};
    if (s->n == s->k && nbr_cmp(&x, &s->best[s->n - 1]) >= 0) return true;
    unsigned j = s->n < s->k ? s->n++ : s->k - 1;
    while (j > 0 && nbr_cmp(&x, &s->best[j - 1]) < 0) {
        s->best[j] = s->best[j - 1];
        j--;
    }
    s->best[j] = x;
    return true;
}

/* Overlay neighbours of iid (live, nearest first) into out (room for k); *n = count. */
static int knn_of(vqe_collection *c, uint32_t iid, unsigned k, uint32_t *out, size_t *n,
                  vq_err *err) {
    const vq_k_f32 *kf = vq__k_f32(vq_isa_active());
    const float *q = c->vecs + (size_t)iid * c->schema.dim;
    *n = 0;
#if VQE_HAVE_INDEX
    if (c->index && vqi_index_type(c->index) == VQI_HNSW) {
        uint64_t buf[2 * VQI_HNSW_M_MAX];
        size_t m = 0;
        int rc = vqi_index_neighbors(c->index, iid, buf, 2 * VQI_HNSW_M_MAX, &m, NULL);
        if (rc == VQ_ENOTFOUND) return VQ_OK; /* not yet added to the index */
        VQ_FAIL_IF(rc, rc, err, "graph.knn", "cannot read the HNSW neighbours");
        if (m > 2 * VQI_HNSW_M_MAX) m = 2 * VQI_HNSW_M_MAX;
        nbr cand[2 * VQI_HNSW_M_MAX];
        size_t nc = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t v = (uint32_t)buf[i];
            if (!roaring_bitmap_contains(c->live, v)) continue;
            cand[nc++] = (nbr){dist_iid(c, kf, q, v), v};
        }
        qsort(cand, nc, sizeof *cand, nbr_cmp);
        for (size_t i = 0; i < nc && i < k; i++) out[(*n)++] = cand[i].id;
        return VQ_OK;
    }
#endif
    uint64_t live = roaring_bitmap_get_cardinality(c->live);
    VQ_FAIL_IF(live > VQE_GRAPH_EXACT_MAX, VQ_EUNSUPPORTED, err, "graph.knn",
               "the kNN overlay needs an HNSW index or at most %u records (this has %llu)",
               VQE_GRAPH_EXACT_MAX, (unsigned long long)live);
    vqe__graph *g = c->graph;
    pthread_mutex_lock(&g->kmu);
    int rc = VQ_OK;
    if (g->kcounter != c->write_counter || g->kk < k) {
        kcache_clear(g);
        g->kcounter = c->write_counter;
        g->kk = k;
    }
    if (g->kcap < c->next_iid) {
        uint32_t **nr = vq_realloc(g->krow, g->kcap * sizeof *nr, c->next_iid * sizeof *nr);
        if (!nr) {
            rc = vq_err_set(err, VQ_ENOMEM, "graph.knn", "out of memory");
            goto out;
        }
        memset(nr + g->kcap, 0, (c->next_iid - g->kcap) * sizeof *nr);
        g->krow = nr, g->kcap = c->next_iid;
    }
    if (!g->krow[iid]) {
        uint32_t *row = vq_malloc((1 + (size_t)g->kk) * sizeof *row);
        nbr *best = vq_malloc(g->kk * sizeof *best);
        if (!row || !best) {
            vq_free(row), vq_free(best);
            rc = vq_err_set(err, VQ_ENOMEM, "graph.knn", "out of memory");
            goto out;
        }
        kscan s = {c, kf, q, iid, best, g->kk, 0};
        roaring_iterate(c->live, kscan_one, &s);
        row[0] = s.n;
        for (unsigned i = 0; i < s.n; i++) row[1 + i] = best[i].id;
        vq_free(best);
        g->krow[iid] = row;
    }
    for (uint32_t i = 0; i < g->krow[iid][0] && i < k; i++) out[(*n)++] = g->krow[iid][1 + i];
out:
    pthread_mutex_unlock(&g->kmu);
    return rc;
}

/* ---- expansion ---- */
/* iid -> local index, open addressing */
typedef struct lmap {
    uint32_t *key, *val;
    size_t cap;
} lmap;
static int lmap_init(lmap *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n + 2) m->cap *= 2;
    m->key = vq_malloc(m->cap * sizeof *m->key);
    m->val = vq_malloc(m->cap * sizeof *m->val);
    if (!m->key || !m->val) return VQ_ENOMEM;
    memset(m->key, 0xff, m->cap * sizeof *m->key);
    return VQ_OK;
}
static uint32_t *lmap_slot(lmap *m, uint32_t k) {
    size_t i = (k * 2654435761u) & (m->cap - 1);
    while (m->key[i] != UINT32_MAX && m->key[i] != k) i = (i + 1) & (m->cap - 1);
    m->key[i] = k;
    return &m->val[i];
}
static int lmap_get(const lmap *m, uint32_t k, uint32_t *v) {
    size_t i = (k * 2654435761u) & (m->cap - 1);
    while (m->key[i] != UINT32_MAX) {
        if (m->key[i] == k) {
            *v = m->val[i];
            return 1;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return 0;
}

typedef struct ledge {
    uint32_t a, b;
    double w;
} ledge;

typedef struct xstate {
    vqe_collection *c;
    const vqe_graph_params *p;
    lmap map;
    uint32_t *iid, *via, *hop;
    double *prox;
    size_t n, cap;
    ledge *E;
    size_t ne, cap_e;
    uint32_t *nb; /* neighbour scratch */
    double *nbw;
    size_t cap_nb;
} xstate;

static int nb_push(xstate *x, size_t *m, uint32_t v, double w) {
    if (*m == x->cap_nb) {
        size_t nc = x->cap_nb ? 2 * x->cap_nb : 64;
        uint32_t *a = vq_realloc(x->nb, x->cap_nb * sizeof *a, nc * sizeof *a);
        if (a) x->nb = a;
        double *b = vq_realloc(x->nbw, x->cap_nb * sizeof *b, nc * sizeof *b);
        if (b) x->nbw = b;
        if (!a || !b) return VQ_ENOMEM;
        x->cap_nb = nc;
    }
    x->nb[*m] = v, x->nbw[*m] = w;
    (*m)++;
    return VQ_OK;
}

/* Live graph neighbours of iid (links both ways, filtered by type; then the overlay). */
static int neighbours(xstate *x, uint32_t iid, size_t *m, vq_err *err) {
    vqe_collection *c = x->c;
    const vqe_graph_params *p = x->p;
    *m = 0;
    vqe__graph *g = c->graph;
    if (p->use_links && g && g->n_links) {
        uint8_t uk[UKEY_MAX];
        vqe_id id = c->suid && c->suid[iid] ? (vqe_id){.is_str = 1, .s = c->suid[iid]}
                                            : (vqe_id){.u = c->uid[iid]};
        size_t kl = vqe__id_encode(&id, uk, sizeof uk);
        uint32_t a;
        if (kl && !node_get(g, uk, kl, 0, &a)) {
            const gnode *n = &g->node[a];
            for (int d = 0; d < 2; d++) {
                const gedge *ed = d ? n->in : n->out;
                uint32_t ne = d ? n->n_in : n->n_out;
                for (uint32_t i = 0; i < ne; i++) {
                    if (p->type_mask && !(p->type_mask & VQE_LINK_BIT(ed[i].type))) continue;
                    const gnode *o = &g->node[ed[i].node];
                    uint64_t v;
                    if (!vqe__hmap_get(&c->ids, o->key, o->kl, &v)) continue;
                    if (!roaring_bitmap_contains(c->live, (uint32_t)v)) continue;
                    if (nb_push(x, m, (uint32_t)v, ed[i].w))
                        return vq_err_set(err, VQ_ENOMEM, "graph", "out of memory");
                }
            }
        }
    }
    if (p->use_knn) {
        uint32_t buf[VQE_GRAPH_KNN_MAX];
        size_t k = 0;
        VQ_TRY(knn_of(c, iid, p->knn, buf, &k, err));
        for (size_t i = 0; i < k; i++)
            if (nb_push(x, m, buf[i], 1.0))
                return vq_err_set(err, VQ_ENOMEM, "graph", "out of memory");
    }
    return VQ_OK;
}

static int node_add(xstate *x, uint32_t iid, uint32_t via, uint32_t hop, double prox,
                    uint32_t *out) {
    if (x->n == x->cap) return VQ_ETOOBIG;
    *lmap_slot(&x->map, iid) = (uint32_t)x->n;
    x->iid[x->n] = iid, x->via[x->n] = via, x->hop[x->n] = hop, x->prox[x->n] = prox;
    *out = (uint32_t)x->n++;
    return VQ_OK;
}

static int edge_add(xstate *x, uint32_t a, uint32_t b, double w) {
    if (x->ne == x->cap_e) {
        size_t nc = x->cap_e ? 2 * x->cap_e : 256;
        ledge *e = vq_realloc(x->E, x->cap_e * sizeof *e, nc * sizeof *e);
        if (!e) return VQ_ENOMEM;
        x->E = e, x->cap_e = nc;
    }
    x->E[x->ne++] = (ledge){a, b, w};
    return VQ_OK;
}

void vqe_graph_params_default(vqe_graph_params *p) {
    memset(p, 0, sizeof *p);
    p->mode = VQE_EXPAND_NONE;
    p->hops = 1;
    p->alpha = VQE_GRAPH_ALPHA_DEFAULT;
    p->decay = VQE_GRAPH_DECAY_DEFAULT;
    p->restart = VQE_PPR_RESTART_DEFAULT;
    p->use_links = 1;
    p->knn = VQE_GRAPH_KNN_DEFAULT;
    p->max_nodes = VQE_GRAPH_NODES_DEFAULT;
}

static int check_params(const vqe_graph_params *p, vq_err *err) {
    VQ_FAIL_IF(!p, VQ_EINVAL, err, "graph", "NULL params");
    VQ_FAIL_IF(p->mode != VQE_EXPAND_NONE && p->mode != VQE_EXPAND_HOPS &&
                   p->mode != VQE_EXPAND_PPR,
               VQ_EINVAL, err, "graph.mode", "unknown expansion mode %d", (int)p->mode);
    VQ_FAIL_IF(p->hops < 1 || p->hops > VQE_GRAPH_HOPS_MAX, VQ_EINVAL, err, "graph.hops",
               "hops %u not in 1..%u", p->hops, VQE_GRAPH_HOPS_MAX);
    VQ_FAIL_IF(!(p->alpha >= 0 && p->alpha <= 1), VQ_EINVAL, err, "graph.alpha",
               "alpha %g not in [0, 1]", p->alpha);
    VQ_FAIL_IF(!(p->decay > 0 && p->decay <= 1), VQ_EINVAL, err, "graph.decay",
               "decay %g not in (0, 1]", p->decay);
    VQ_FAIL_IF(!(p->restart > 0 && p->restart < 1), VQ_EINVAL, err, "graph.restart",
               "restart %g not in (0, 1)", p->restart);
    VQ_FAIL_IF(p->use_knn && (p->knn < 1 || p->knn > VQE_GRAPH_KNN_MAX), VQ_EINVAL, err,
               "graph.knn", "knn %u not in 1..%u", p->knn, VQE_GRAPH_KNN_MAX);
    VQ_FAIL_IF(p->max_nodes < 1 || p->max_nodes > VQE_GRAPH_NODES_MAX, VQ_EINVAL, err,
               "graph.max_nodes", "max_nodes %u not in 1..%u", p->max_nodes, VQE_GRAPH_NODES_MAX);
    VQ_FAIL_IF(p->type_mask & ~(uint32_t)(((1u << (VQE_LINK_TYPE_MAX + 1)) - 1) & ~1u), VQ_EINVAL,
               err, "graph.type_mask", "unknown link type bits 0x%x", p->type_mask);
    return VQ_OK;
}

static int ghit_cmp(const void *a, const void *b) {
    const vqe_ghit *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->hops != y->hops) return x->hops < y->hops ? -1 : 1;
    return x->internal < y->internal ? -1 : x->internal > y->internal;
}

static int expand(vqe_collection *c, const vqe_graph_params *p, const float *query,
                  const uint32_t *seeds, const double *ss, size_t ns, vqe_graph_result *out,
                  vq_err *err) {
    xstate x = {.c = c, .p = p};
    size_t cap = p->max_nodes + ns;
    int rc = VQ_OK;
    x.cap = cap;
    x.iid = vq_malloc(cap * 4), x.via = vq_malloc(cap * 4), x.hop = vq_malloc(cap * 4);
    x.prox = vq_malloc(cap * sizeof *x.prox);
    if (lmap_init(&x.map, cap) || !x.iid || !x.via || !x.hop || !x.prox) {
        rc = vq_err_set(err, VQ_ENOMEM, "graph", "out of memory");
        goto done;
    }
    /* seeds: live, distinct; weights in [0.5, 1] */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < ns; i++) {
        if (!isfinite(ss[i])) {
            rc = vq_err_set(err, VQ_ENOTFINITE, "seeds", "seed score %zu is not finite", i);
            goto done;
        }
        if (ss[i] < lo) lo = ss[i];
        if (ss[i] > hi) hi = ss[i];
    }
    for (size_t i = 0; i < ns; i++) {
        uint32_t t;
        if (seeds[i] >= c->next_iid || !roaring_bitmap_contains(c->live, seeds[i]) ||
            lmap_get(&x.map, seeds[i], &t))
            continue;
        double r = hi > lo ? 0.5 + 0.5 * (ss[i] - lo) / (hi - lo) : 1.0;
        node_add(&x, seeds[i], seeds[i], 0, r, &t);
    }
    out->n_seeds = x.n;
    int ppr = p->mode == VQE_EXPAND_PPR;
    size_t level_lo = 0, level_hi = x.n;
    for (unsigned h = 1; p->mode != VQE_EXPAND_NONE && h <= p->hops + (unsigned)ppr; h++) {
        /* PPR takes one more round that only records edges among the reached records */
        int grow = h <= p->hops;
        for (size_t u = level_lo; u < level_hi; u++) {
            size_t m;
            if ((rc = neighbours(&x, x.iid[u], &m, err))) goto done;
            out->n_edges += m;
            for (size_t j = 0; j < m; j++) {
                uint32_t v;
                double pr = x.prox[u] * p->decay;
                if (lmap_get(&x.map, x.nb[j], &v)) {
                    if (x.hop[v] == h && pr > x.prox[v]) x.prox[v] = pr, x.via[v] = x.via[u];
                } else {
                    if (!grow || x.n - out->n_seeds >= p->max_nodes) continue;
                    node_add(&x, x.nb[j], x.via[u], h, pr, &v);
                }
                if (ppr && (rc = edge_add(&x, (uint32_t)u, v, x.nbw[j]))) {
                    rc = vq_err_set(err, VQ_ENOMEM, "graph", "out of memory");
                    goto done;
                }
            }
        }
        level_lo = level_hi, level_hi = x.n;
        if (level_lo == level_hi) break;
    }
    if (ppr && x.n) {
        /* undirected CSR over the reached records; each stored edge once per direction */
        size_t *rp = vq_calloc(x.n + 1, sizeof *rp);
        uint32_t *col = vq_malloc((2 * x.ne + 1) * sizeof *col);
        double *w = vq_malloc((2 * x.ne + 1) * sizeof *w), *pers = vq_calloc(x.n, sizeof *pers);
        double *pr = vq_malloc(x.n * sizeof *pr);
        size_t *fill = vq_malloc((x.n + 1) * sizeof *fill);
        if (!rp || !col || !w || !pers || !pr || !fill) {
            rc = vq_err_set(err, VQ_ENOMEM, "graph", "out of memory");
        } else {
            /* every record reached is expanded once, so a link is listed from both of its
             * ends: each listing adds half its weight in both directions (a link counts its
             * full weight; an overlay edge listed by one end only counts half) */
            for (size_t e = 0; e < x.ne; e++) rp[x.E[e].a + 1]++, rp[x.E[e].b + 1]++;
            for (size_t i = 0; i < x.n; i++) rp[i + 1] += rp[i];
            memcpy(fill, rp, (x.n + 1) * sizeof *fill);
            for (size_t e = 0; e < x.ne; e++) {
                col[fill[x.E[e].a]] = x.E[e].b, w[fill[x.E[e].a]++] = x.E[e].w / 2;
                col[fill[x.E[e].b]] = x.E[e].a, w[fill[x.E[e].b]++] = x.E[e].w / 2;
            }
            for (size_t i = 0; i < out->n_seeds; i++) pers[i] = x.prox[i];
            rc = vqe_ppr(x.n, rp, col, w, pers, p->restart, 1e-10, 1000, pr, &out->ppr_its, err);
            double mx = 0;
            for (size_t i = 0; !rc && i < x.n; i++)
                if (pr[i] > mx) mx = pr[i];
            for (size_t i = 0; !rc && i < x.n; i++) x.prox[i] = mx > 0 ? pr[i] / mx : 0;
        }
        vq_free(rp), vq_free(col), vq_free(w), vq_free(pers), vq_free(pr), vq_free(fill);
        if (rc) goto done;
    }
    out->hits = vq_malloc((x.n ? x.n : 1) * sizeof *out->hits);
    if (!out->hits) {
        rc = vq_err_set(err, VQ_ENOMEM, "graph", "out of memory");
        goto done;
    }
    const unsigned d = c->schema.dim;
    const vq_k_f32 *kf = vq__k_f32(vq_isa_active());
    double vlo = INFINITY, vhi = -INFINITY;
    for (size_t i = 0; i < x.n; i++) {
        vqe_ghit *g = &out->hits[i];
        g->internal = x.iid[i], g->via = x.via[i], g->hops = x.hop[i], g->prox = x.prox[i];
        g->vsim = 0;
        if (query) {
            const float *v = c->vecs + (size_t)x.iid[i] * d;
            g->vsim = c->schema.metric == VQ_METRIC_L2 ? -(double)kf->l2sq(query, v, d)
                                                       : (double)kf->ip(query, v, d);
            if (g->vsim < vlo) vlo = g->vsim;
            if (g->vsim > vhi) vhi = g->vsim;
        }
        uint32_t iid = x.iid[i];
        g->id = c->suid && c->suid[iid] ? (vqe_id){.is_str = 1, .s = c->suid[iid]}
                                        : (vqe_id){.u = c->uid[iid]};
    }
    for (size_t i = 0; i < x.n; i++) {
        vqe_ghit *g = &out->hits[i];
        if (query) {
            g->vsim = vhi > vlo ? (g->vsim - vlo) / (vhi - vlo) : 1.0;
            g->score = p->alpha * g->vsim + (1 - p->alpha) * g->prox;
        } else {
            g->score = g->prox;
        }
    }
    qsort(out->hits, x.n, sizeof *out->hits, ghit_cmp);
    out->n = x.n;
done:
    vq_free(x.map.key), vq_free(x.map.val);
    vq_free(x.iid), vq_free(x.via), vq_free(x.hop), vq_free(x.prox);
    vq_free(x.E), vq_free(x.nb), vq_free(x.nbw);
    return rc;
}

int vqe__graph_expand_locked(vqe_collection *c, const vqe_graph_params *p, const float *query,
                             const uint32_t *seeds, const double *seed_scores, size_t n_seeds,
                             vqe_graph_result *out, vq_err *err) {
    VQ_FAIL_IF(!out, VQ_EINVAL, err, "graph", "NULL result");
    memset(out, 0, sizeof *out);
    VQ_FAIL_IF(!c || (n_seeds && (!seeds || !seed_scores)), VQ_EINVAL, err, "seeds",
               "NULL argument");
    VQ_TRY(check_params(p, err));
    VQ_FAIL_IF(n_seeds > VQE_GRAPH_NODES_MAX, VQ_ETOOBIG, err, "seeds", "%zu seeds > %u", n_seeds,
               VQE_GRAPH_NODES_MAX);
    double t0 = vq_now();
    float *qn = NULL;
    const unsigned d = c->schema.dim;
    if (query) {
        VQ_TRY(vq_check_finite(query, 1, d, "query", err));
        if (c->schema.metric == VQ_METRIC_COS) {
            double s = 0;
            for (unsigned j = 0; j < d; j++) s += (double)query[j] * query[j];
            VQ_FAIL_IF(s == 0, VQ_EINVAL, err, "query", "zero query vector under cos");
            qn = vq_malloc(d * sizeof *qn);
            VQ_FAIL_IF(!qn, VQ_ENOMEM, err, "query", "out of memory");
            for (unsigned j = 0; j < d; j++) qn[j] = (float)(query[j] / sqrt(s));
            query = qn;
        }
    }
    int rc = expand(c, p, query, seeds, seed_scores, n_seeds, out, err);
    vq_free(qn);
    if (rc) {
        vqe_graph_result_free(out);
        return rc;
    }
    out->ms = (vq_now() - t0) * 1e3;
    return VQ_OK;
}

int vqe_graph_expand(vqe_collection *c, const vqe_graph_params *p, const float *query,
                     const uint32_t *seeds, const double *seed_scores, size_t n_seeds,
                     vqe_graph_result *out, vq_err *err) {
    VQ_FAIL_IF(!c || !out, VQ_EINVAL, err, "graph", "NULL argument");
    pthread_rwlock_rdlock(&c->lock);
    int rc = vqe__graph_expand_locked(c, p, query, seeds, seed_scores, n_seeds, out, err);
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

void vqe_graph_result_free(vqe_graph_result *r) {
    if (!r) return;
    vq_free(r->hits);
    memset(r, 0, sizeof *r);
}
