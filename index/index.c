/* index.c — what every index structure shares: SPEC parsing, the handle's slots (external
 * ids, full vectors, tombstones, id map), validation of every public input, the add / remove
 * / compact write path under the rwlock, searchers, the final exact re-rank, stats and the
 * file container (save/load). Structure-specific work goes through vqi_ops (flat.c, ivf/,
 * hnsw/, faiss.c).
 *
 * Search path: normalize the query for COS -> take the rwlock shared -> the structure fills
 * a shortlist of candidate slots with approximate distances (only allowed, live slots) ->
 * exact distances from the full vectors for the shortlist -> best k. When the structure
 * returns fewer than k candidates while more live ids exist, an exact scan over the allowed
 * ids fills the result, so k results come back whenever k ids are allowed.
 *
 * Locks: see vqi_internal.h.
 */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np: writers must not starve */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vqi_internal.h"

vqi_params vqi_params_default(void) {
    return (vqi_params){.threads = 1, .seed = 1, .train_max = 262144, .kmeans_iters = 10};
}

vqi_search_params vqi_search_params_default(void) { return (vqi_search_params){0}; }

/* ---- spec parsing ---- */

/* Parses "k=v,k=v" of a structure into the index; unknown keys fail naming them. */
static int parse_uint(const char *key, const char *val, unsigned min, unsigned max, unsigned *out,
                      vq_err *err) {
    char field[64];
    snprintf(field, sizeof field, "spec.%s", key);
    char *end;
    errno = 0;
    unsigned long v = strtoul(val, &end, 10);
    VQ_FAIL_IF(!*val || *end || errno || val[0] == '-', VQ_ESPEC, err, field,
               "'%s' is not an unsigned integer", val);
    VQ_FAIL_IF(v < min || v > max, VQ_ESPEC, err, field, "%lu is outside [%u, %u]", v, min, max);
    *out = (unsigned)v;
    return VQ_OK;
}

static int parse_structure(vqi_index *idx, const char *s, vq_err *err) {
    char buf[VQ_SPEC_MAX];
    VQ_FAIL_IF(strlen(s) >= sizeof buf, VQ_ESPEC, err, "spec.structure", "longer than %u",
               VQ_SPEC_MAX - 1);
    strcpy(buf, s);
    char *colon = strchr(buf, ':');
    char *args = NULL;
    if (colon) {
        *colon = 0;
        args = colon + 1;
    }
    int has_nlist = 0;
    if (!strcmp(buf, "flat")) {
        idx->type = VQI_FLAT;
        idx->ops = &vq__ops_flat;
    } else if (!strcmp(buf, "ivf")) {
        idx->type = VQI_IVF;
        idx->ops = &vq__ops_ivf;
        idx->nprobe = VQI_NPROBE_DEFAULT;
    } else if (!strcmp(buf, "hnsw")) {
        idx->type = VQI_HNSW;
        idx->ops = &vq__ops_hnsw;
        idx->m = VQI_HNSW_M_DEFAULT;
        idx->efc = VQI_HNSW_EFC_DEFAULT;
        idx->ef = VQI_EF_DEFAULT;
    } else {
        return vq_err_set(err, VQ_ESPEC, "spec.structure",
                          "unknown structure '%s' (flat, ivf:nlist=N, hnsw:m=M,efc=E, "
                          "faiss:FACTORY)",
                          buf);
    }
    for (char *tok = args ? strtok(args, ",") : NULL; tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        VQ_FAIL_IF(!eq, VQ_ESPEC, err, "spec.structure", "'%s' is not key=value", tok);
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        if (idx->type == VQI_IVF && !strcmp(k, "nlist")) {
            VQ_TRY(parse_uint(k, v, VQI_IVF_NLIST_MIN, VQI_IVF_NLIST_MAX, &idx->nlist, err));
            has_nlist = 1;
        } else if (idx->type == VQI_IVF && !strcmp(k, "nprobe")) {
            VQ_TRY(parse_uint(k, v, 1, VQI_IVF_NLIST_MAX, &idx->nprobe, err));
        } else if (idx->type == VQI_HNSW && !strcmp(k, "m")) {
            VQ_TRY(parse_uint(k, v, VQI_HNSW_M_MIN, VQI_HNSW_M_MAX, &idx->m, err));
        } else if (idx->type == VQI_HNSW && !strcmp(k, "efc")) {
            VQ_TRY(parse_uint(k, v, VQI_HNSW_EFC_MIN, VQI_HNSW_EFC_MAX, &idx->efc, err));
        } else if (idx->type == VQI_HNSW && !strcmp(k, "ef")) {
            VQ_TRY(parse_uint(k, v, VQI_EF_MIN, VQI_EF_MAX, &idx->ef, err));
        } else {
            char field[64];
            snprintf(field, sizeof field, "spec.%.50s", k);
            return vq_err_set(err, VQ_ESPEC, field, "unknown key '%s' for structure '%s'", k, buf);
        }
    }
    VQ_FAIL_IF(idx->type == VQI_IVF && !has_nlist, VQ_ESPEC, err, "spec.nlist",
               "ivf needs nlist=N (%u..%u)", VQI_IVF_NLIST_MIN, VQI_IVF_NLIST_MAX);
    if (idx->type == VQI_IVF && idx->nprobe > idx->nlist) idx->nprobe = idx->nlist;
    return VQ_OK;
}

static int parse_rerank(const char *s, float *out, vq_err *err) {
    VQ_FAIL_IF(strncmp(s, "rerank=", 7), VQ_ESPEC, err, "spec.rerank",
               "'%s': expected rerank=F after the quantizer", s);
    char *end;
    errno = 0;
    float f = strtof(s + 7, &end);
    VQ_FAIL_IF(!s[7] || *end || errno || !isfinite(f), VQ_ESPEC, err, "spec.rerank",
               "'%s' is not a number", s + 7);
    VQ_FAIL_IF(f < VQI_RERANK_MIN || f > VQI_RERANK_MAX, VQ_ESPEC, err, "spec.rerank",
               "%g is outside [%g, %g]", f, VQI_RERANK_MIN, VQI_RERANK_MAX);
    *out = f;
    return VQ_OK;
}

static int parse_spec(vqi_index *idx, const char *spec, vq_err *err) {
    VQ_FAIL_IF(!spec || !*spec, VQ_ESPEC, err, "spec", "empty spec");
    VQ_FAIL_IF(strlen(spec) >= sizeof idx->spec, VQ_ESPEC, err, "spec", "longer than %zu",
               sizeof idx->spec - 1);
    strcpy(idx->spec, spec);
    char buf[VQ_SPEC_MAX * 2];
    strcpy(buf, spec);
    char *s = buf;
    char pca[VQ_SPEC_MAX] = "";
    if (!strncmp(s, "pca:", 4)) {
        char *plus = strchr(s, '+');
        char *slash = strchr(s, '/');
        VQ_FAIL_IF(!plus || (slash && slash < plus), VQ_ESPEC, err, "spec.pca",
                   "a pca:d=D prefix must be followed by '+STRUCTURE/QUANT'");
        VQ_FAIL_IF((size_t)(plus - s + 1) >= sizeof pca, VQ_ESPEC, err, "spec.pca", "too long");
        memcpy(pca, s, (size_t)(plus - s + 1));
        pca[plus - s + 1] = 0;
        s = plus + 1;
    }
    char *parts[4] = {0};
    int np = 0;
    for (char *p = s; np < 4;) {
        parts[np++] = p;
        char *sl = strchr(p, '/');
        if (!sl) break;
        *sl = 0;
        p = sl + 1;
    }
    VQ_FAIL_IF(np == 4, VQ_ESPEC, err, "spec", "too many '/' parts (STRUCTURE/QUANT[/rerank=F])");
    VQ_FAIL_IF(strlen(parts[0]) >= sizeof idx->structure, VQ_ESPEC, err, "spec.structure",
               "too long");
    strcpy(idx->structure, parts[0]);
    if (!strncmp(parts[0], "faiss:", 6)) {
        VQ_FAIL_IF(pca[0], VQ_ESPEC, err, "spec.pca",
                   "use FAISS's own PCA (\"faiss:PCA64,IVF...\") with a faiss index");
        VQ_FAIL_IF(!parts[0][6], VQ_ESPEC, err, "spec.structure", "faiss: needs a factory string");
        idx->type = VQI_FAISS;
        idx->ops = &vq__ops_faiss;
        idx->rerank = 1;
        for (int i = 1; i < np; i++)
            if (!strncmp(parts[i], "rerank=", 7)) {
                float f;
                VQ_TRY(parse_rerank(parts[i], &f, err));
            } else {
                return vq_err_set(err, VQ_ESPEC, "spec.quant",
                                  "a faiss index takes no quantizer part ('%s'): put it in "
                                  "the factory string",
                                  parts[i]);
            }
        return VQ_OK;
    }
    VQ_TRY(parse_structure(idx, parts[0], err));
    VQ_FAIL_IF(np < 2 || !*parts[1], VQ_ESPEC, err, "spec.quant",
               "missing quantizer: STRUCTURE/QUANT, e.g. %s/sq8", parts[0]);
    VQ_FAIL_IF(strlen(pca) + strlen(parts[1]) >= sizeof idx->quant_spec, VQ_ESPEC, err,
               "spec.quant", "too long");
    strcpy(idx->quant_spec, pca);
    strcat(idx->quant_spec, parts[1]);
    idx->exact_codes = !pca[0] && !strcmp(parts[1], "f32");
    idx->rerank = idx->exact_codes ? 1.0f : 4.0f;
    if (np == 3) VQ_TRY(parse_rerank(parts[2], &idx->rerank, err));
    return VQ_OK;
}

/* ---- life cycle ---- */

static vqi_index *index_alloc(void) {
    vqi_index *idx = vq_calloc(1, sizeof *idx);
    if (!idx) return NULL;
    /* glibc's default rwlock prefers readers: a steady stream of searches would starve
     * add() forever. Prefer the writer; searches wait at most one chunk. */
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&idx->lock, &a);
    pthread_rwlockattr_destroy(&a);
    pthread_mutex_init(&idx->wmutex, NULL);
    vq_init();
    idx->kf = vq__k_f32(vq_isa_active());
    return idx;
}

void vqi_index_free(vqi_index *idx) {
    if (!idx) return;
    if (idx->ops && idx->ops->destroy) idx->ops->destroy(idx);
    vq_quant_free(idx->quant);
    vq_free(idx->ext_ids);
    vq_free(idx->vecs);
    vq_free(idx->deleted);
    vq__idmap_free(&idx->map);
    pthread_rwlock_destroy(&idx->lock);
    pthread_mutex_destroy(&idx->wmutex);
    vq_free(idx);
}

/* Creates the quantizer and the structure's empty state; shared by new and load. */
static int index_setup(vqi_index *idx, vq_err *err) {
    idx->keep_vectors = idx->type != VQI_FAISS;
    if (idx->type != VQI_FAISS) {
        int rc = vq_quant_new(idx->quant_spec, idx->d, &idx->quant, err);
        if (rc < 0) {
            if (err && strncmp(err->field, "spec", 4)) {
                char f[64];
                snprintf(f, sizeof f, "spec.quant.%.40s", err->field);
                strcpy(err->field, f);
            } else if (err && !strcmp(err->field, "spec")) {
                strcpy(err->field, "spec.quant");
            }
            return rc;
        }
        idx->code_size = vq_quant_code_size(idx->quant);
    }
    return VQ_OK;
}

int vqi_index_new_params(const char *spec, unsigned d, vq_metric metric, const vqi_params *p,
                         vqi_index **out, vq_err *err) {
    VQ_FAIL_IF(!out, VQ_EINVAL, err, "out", "NULL");
    VQ_FAIL_IF(d == 0 || d > VQ_DIM_MAX, VQ_EDIM, err, "d", "%u is outside [1, %u]", d, VQ_DIM_MAX);
    VQ_FAIL_IF(metric != VQ_METRIC_L2 && metric != VQ_METRIC_IP && metric != VQ_METRIC_COS,
               VQ_EINVAL, err, "metric", "unknown metric %d", (int)metric);
    vqi_index *idx = index_alloc();
    VQ_FAIL_IF(!idx, VQ_ENOMEM, err, "index", "out of memory");
    idx->d = d;
    idx->metric = metric;
    idx->params = p ? *p : vqi_params_default();
    if (idx->params.threads == 0) idx->params.threads = 1;
    if (idx->params.kmeans_iters == 0) idx->params.kmeans_iters = 10;
    int rc = parse_spec(idx, spec, err);
    if (rc == VQ_OK) rc = index_setup(idx, err);
    if (rc == VQ_OK && idx->ops->train == NULL) idx->trained = 1;
    if (rc == VQ_OK && idx->type != VQI_FAISS && idx->type != VQI_IVF)
        idx->trained = vq_quant_is_trained(idx->quant);
    if (rc == VQ_OK && idx->type == VQI_FAISS) rc = vq__faiss_create(idx, err);
    if (rc < 0) {
        vqi_index_free(idx);
        return rc;
    }
    *out = idx;
    return VQ_OK;
}

int vqi_index_new(const char *spec, unsigned d, vq_metric metric, vqi_index **out, vq_err *err) {
    return vqi_index_new_params(spec, d, metric, NULL, out, err);
}

/* Checks n * d floats: finite, and non-zero for COS. */
static int check_vectors(const vqi_index *idx, size_t n, const float *x, const char *field,
                         vq_err *err) {
    VQ_TRY(vq_check_finite(x, n, idx->d, field, err));
    if (idx->metric == VQ_METRIC_COS)
        for (size_t i = 0; i < n; i++) {
            const float *v = x + i * idx->d;
            VQ_FAIL_IF(idx->kf->ip(v, v, idx->d) <= 0.0f, VQ_EINVAL, err, field,
                       "row %zu is a zero vector, which has no cosine", i);
        }
    return VQ_OK;
}

static void normalize(const vqi_index *idx, float *v) {
    float nn = idx->kf->ip(v, v, idx->d);
    float inv = 1.0f / sqrtf(nn);
    for (unsigned j = 0; j < idx->d; j++) v[j] *= inv;
}

/* A copy of rows (optionally a seeded sample of at most max rows), normalized for COS. */
static float *prep_rows(const vqi_index *idx, size_t n, const float *x, size_t max, size_t *n_out) {
    size_t m = max && n > max ? max : n;
    float *c = vq_malloc(m * idx->d * sizeof(float) + 1);
    if (!c) return NULL;
    if (m == n) {
        memcpy(c, x, n * idx->d * sizeof(float));
    } else {
        /* Partial Fisher-Yates over row indices with a splitmix generator. */
        uint32_t *perm = vq_malloc(n * sizeof *perm);
        if (!perm) {
            vq_free(c);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
        uint64_t st = idx->params.seed ^ 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < m; i++) {
            st += 0x9e3779b97f4a7c15ULL;
            uint64_t z = st;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            size_t j = i + (size_t)(z % (n - i));
            uint32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            memcpy(c + i * idx->d, x + (size_t)perm[i] * idx->d, idx->d * sizeof(float));
        }
        vq_free(perm);
    }
    if (idx->metric == VQ_METRIC_COS)
        for (size_t i = 0; i < m; i++) normalize(idx, c + i * idx->d);
    *n_out = m;
    return c;
}

int vqi_index_is_trained(const vqi_index *idx) { return idx && idx->trained; }

static int train_locked(vqi_index *idx, size_t n, const float *x, vq_err *err) {
    size_t m;
    float *s = prep_rows(idx, n, x, idx->params.train_max, &m);
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "train", "out of memory copying %zu training rows", n);
    int rc =
        idx->ops->train ? idx->ops->train(idx, m, s, err) : vq_quant_train(idx->quant, m, s, err);
    vq_free(s);
    if (rc == VQ_OK) idx->trained = 1;
    return rc;
}

int vqi_index_train(vqi_index *idx, size_t n, const float *x, vq_err *err) {
    VQ_FAIL_IF(!idx, VQ_EINVAL, err, "idx", "NULL");
    VQ_FAIL_IF(n == 0 || !x, VQ_EINVAL, err, "n", "no training vectors");
    VQ_FAIL_IF(idx->trained, VQ_ESTATE, err, "idx", "already trained");
    VQ_TRY(check_vectors(idx, n, x, "x", err));
    VQ_FAIL_IF(pthread_mutex_trylock(&idx->wmutex), VQ_ESTATE, err, "idx",
               "another writer is running on this index");
    pthread_rwlock_wrlock(&idx->lock);
    int rc = train_locked(idx, n, x, err);
    pthread_rwlock_unlock(&idx->lock);
    pthread_mutex_unlock(&idx->wmutex);
    return rc;
}

/* ---- ids ----
 * Most indexes hold ids 0..n-1 in slot order (the CLI, the bench and the engine's dense
 * internal ids): slots [0, ident) with id == slot need no hash entry, which saves the map's
 * ~26 bytes per vector. Any other id goes to the map; compaction and load rebuild both. */

static uint32_t id_slot(const vqi_index *idx, uint64_t id) {
    if (id < idx->ident && !idx->deleted[id]) return (uint32_t)id;
    return vq__idmap_get(&idx->map, id);
}

/* Map entries that putting ids[0..n) at slots slot0.. will need (ids NULL: first_id + i). */
static size_t id_map_need(const vqi_index *idx, size_t slot0, size_t n, const uint64_t *ids,
                          uint64_t first_id) {
    size_t t = idx->ident, need = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = ids ? ids[i] : first_id + i;
        if (id == slot0 + i && slot0 + i == t)
            t++;
        else
            need++;
    }
    return need;
}

static void id_put(vqi_index *idx, uint64_t id, uint32_t slot) {
    if (id == slot && slot == idx->ident)
        idx->ident++;
    else
        vq__idmap_put(&idx->map, id, slot);
}

static void id_del(vqi_index *idx, uint64_t id, uint32_t slot) {
    if (!(id < idx->ident && id == slot)) vq__idmap_del(&idx->map, id);
}

/* Rebuilds ident and reserves the map for the live slots past the identity prefix of
 * [0, n); the caller puts those. A tombstoned slot may sit inside the prefix: id_slot checks
 * deleted[] first. -1 when out of memory. */
static int id_rebuild(vqi_index *idx, size_t n) {
    vq__idmap_free(&idx->map);
    size_t t = 0;
    while (t < n && idx->ext_ids[t] == t) t++;
    size_t need = 0;
    for (size_t i = t; i < n; i++) need += !idx->deleted[i];
    idx->ident = t;
    return vq__idmap_reserve(&idx->map, need) ? -1 : 0;
}

static int grow_slots(vqi_index *idx, size_t need, vq_err *err) {
    if (need <= idx->cap) return VQ_OK;
    size_t nc = idx->cap ? idx->cap : 1024;
    while (nc < need) nc *= 2;
    uint64_t *ids = vq_realloc(idx->ext_ids, idx->n_slots * 8, nc * 8);
    VQ_FAIL_IF(!ids, VQ_ENOMEM, err, "add", "out of memory growing to %zu vectors", nc);
    idx->ext_ids = ids;
    uint8_t *del = vq_realloc(idx->deleted, idx->n_slots, nc);
    VQ_FAIL_IF(!del, VQ_ENOMEM, err, "add", "out of memory growing to %zu vectors", nc);
    idx->deleted = del;
    if (idx->keep_vectors) {
        float *v = vq_realloc(idx->vecs, idx->n_slots * idx->d * 4, nc * idx->d * 4);
        VQ_FAIL_IF(!v, VQ_ENOMEM, err, "add", "out of memory growing to %zu vectors", nc);
        idx->vecs = v;
    }
    idx->cap = nc;
    return VQ_OK;
}

int vqi_index_add(vqi_index *idx, size_t n, const float *x, const uint64_t *ids, vq_err *err) {
    VQ_FAIL_IF(!idx, VQ_EINVAL, err, "idx", "NULL");
    if (n == 0) return VQ_OK;
    VQ_FAIL_IF(!x, VQ_EINVAL, err, "x", "NULL with n = %zu", n);
    VQ_FAIL_IF(idx->n_slots + n > UINT32_MAX - 1, VQ_ETOOBIG, err, "n",
               "%zu + %zu vectors exceed the limit of %u per index", idx->n_slots, n,
               UINT32_MAX - 1);
    VQ_TRY(check_vectors(idx, n, x, "x", err));
    VQ_FAIL_IF(pthread_mutex_trylock(&idx->wmutex), VQ_ESTATE, err, "idx",
               "another writer is running on this index");
    int rc = VQ_OK;
    float *xn = NULL;
    /* Ids: none live, none repeated within the batch (checked with a scratch map). */
    if (ids) {
        vqi_idmap seen = {0};
        rc = vq__idmap_reserve(&seen, n) ? VQ_ENOMEM : VQ_OK;
        if (rc < 0) vq_err_set(err, rc, "ids", "out of memory");
        for (size_t i = 0; rc == VQ_OK && i < n; i++) {
            if (ids[i] == VQI_NO_ID) {
                rc = vq_err_set(err, VQ_EINVAL, "ids",
                                "ids[%zu] is the reserved value "
                                "UINT64_MAX",
                                i);
            } else if (id_slot(idx, ids[i]) != UINT32_MAX) {
                rc = vq_err_set(err, VQ_EEXIST, "ids", "ids[%zu] = %llu is already in the index", i,
                                (unsigned long long)ids[i]);
            } else if (vq__idmap_get(&seen, ids[i]) != UINT32_MAX) {
                rc = vq_err_set(err, VQ_EINVAL, "ids",
                                "ids[%zu] = %llu repeats an earlier id "
                                "of the batch",
                                i, (unsigned long long)ids[i]);
            } else {
                vq__idmap_put(&seen, ids[i], (uint32_t)i);
            }
        }
        vq__idmap_free(&seen);
    } else {
        for (size_t i = 0; rc == VQ_OK && i < n; i++)
            if (id_slot(idx, idx->next_seq + i) != UINT32_MAX)
                rc = vq_err_set(err, VQ_EEXIST, "ids",
                                "sequential id %llu is already in the index (mixing explicit "
                                "and sequential ids)",
                                (unsigned long long)(idx->next_seq + i));
    }
    if (rc == VQ_OK && idx->metric == VQ_METRIC_COS) {
        size_t m;
        xn = prep_rows(idx, n, x, 0, &m);
        if (!xn)
            rc = vq_err_set(err, VQ_ENOMEM, "x", "out of memory");
        else
            x = xn;
    }
    if (rc == VQ_OK && !idx->trained) {
        pthread_rwlock_wrlock(&idx->lock);
        rc = train_locked(idx, n, x, err);
        pthread_rwlock_unlock(&idx->lock);
    }
    for (size_t off = 0, c = 0; rc == VQ_OK && off < n; off += c) {
        c = n - off < VQI_ADD_CHUNK ? n - off : VQI_ADD_CHUNK;
        /* HNSW with several threads inserts a whole chunk in parallel: use larger chunks
         * so the threads have work (readers still interleave between chunks). */
        if (idx->type == VQI_HNSW && idx->params.threads > 1) {
            size_t big = (size_t)VQI_ADD_CHUNK * idx->params.threads * 4;
            c = n - off < big ? n - off : big;
        }
        pthread_rwlock_wrlock(&idx->lock);
        size_t slot0 = idx->n_slots;
        rc = grow_slots(idx, slot0 + c, err);
        if (rc == VQ_OK &&
            vq__idmap_reserve(
                &idx->map, id_map_need(idx, slot0, c, ids ? ids + off : NULL, idx->next_seq + off)))
            rc = vq_err_set(err, VQ_ENOMEM, "add", "out of memory growing the id map");
        if (rc == VQ_OK) {
            const float *xc = x + off * idx->d;
            if (idx->keep_vectors)
                memcpy(idx->vecs + slot0 * idx->d, xc, c * idx->d * sizeof(float));
            for (size_t i = 0; i < c; i++) {
                uint64_t id = ids ? ids[off + i] : idx->next_seq + off + i;
                idx->ext_ids[slot0 + i] = id;
                idx->deleted[slot0 + i] = 0;
            }
            rc = idx->ops->add(idx, slot0, c, xc, err);
            if (rc == VQ_OK) {
                for (size_t i = 0; i < c; i++)
                    id_put(idx, idx->ext_ids[slot0 + i], (uint32_t)(slot0 + i));
                idx->n_slots = slot0 + c;
            }
        }
        pthread_rwlock_unlock(&idx->lock);
    }
    if (rc == VQ_OK && !ids) idx->next_seq += n;
    if (rc == VQ_OK && ids)
        for (size_t i = 0; i < n; i++)
            if (ids[i] >= idx->next_seq) idx->next_seq = ids[i] + 1;
    vq_free(xn);
    pthread_mutex_unlock(&idx->wmutex);
    return rc;
}

int vqi_index_remove(vqi_index *idx, size_t n, const uint64_t *ids, size_t *n_removed,
                     vq_err *err) {
    VQ_FAIL_IF(!idx, VQ_EINVAL, err, "idx", "NULL");
    VQ_FAIL_IF(n && !ids, VQ_EINVAL, err, "ids", "NULL with n = %zu", n);
    VQ_FAIL_IF(pthread_mutex_trylock(&idx->wmutex), VQ_ESTATE, err, "idx",
               "another writer is running on this index");
    pthread_rwlock_wrlock(&idx->lock);
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = id_slot(idx, ids[i]);
        if (s == UINT32_MAX) continue;
        idx->deleted[s] = 1;
        id_del(idx, ids[i], s);
        idx->n_deleted++;
        cnt++;
    }
    pthread_rwlock_unlock(&idx->lock);
    pthread_mutex_unlock(&idx->wmutex);
    if (n_removed) *n_removed = cnt;
    return VQ_OK;
}

int vqi_index_compact(vqi_index *idx, vq_err *err) {
    VQ_FAIL_IF(!idx, VQ_EINVAL, err, "idx", "NULL");
    VQ_FAIL_IF(pthread_mutex_trylock(&idx->wmutex), VQ_ESTATE, err, "idx",
               "another writer is running on this index");
    int rc = VQ_OK;
    pthread_rwlock_wrlock(&idx->lock);
    if (idx->n_deleted) {
        uint32_t *o2n = vq_malloc(idx->n_slots * sizeof *o2n + 1);
        if (!o2n) rc = vq_err_set(err, VQ_ENOMEM, "compact", "out of memory");
        size_t nn = 0;
        for (size_t i = 0; o2n && i < idx->n_slots; i++)
            o2n[i] = idx->deleted[i] ? UINT32_MAX : (uint32_t)nn++;
        if (rc == VQ_OK) rc = idx->ops->compact(idx, o2n, nn, err);
        if (rc == VQ_OK) {
            for (size_t i = 0; i < idx->n_slots; i++) {
                if (o2n[i] == UINT32_MAX) continue;
                size_t j = o2n[i];
                idx->ext_ids[j] = idx->ext_ids[i];
                idx->deleted[j] = 0;
                if (idx->keep_vectors && j != i)
                    memmove(idx->vecs + j * idx->d, idx->vecs + i * idx->d, idx->d * sizeof(float));
            }
            idx->n_slots = nn;
            idx->n_deleted = 0;
            if (id_rebuild(idx, nn)) {
                rc = vq_err_set(err, VQ_ENOMEM, "compact", "out of memory");
            } else {
                for (size_t i = idx->ident; i < nn; i++)
                    vq__idmap_put(&idx->map, idx->ext_ids[i], (uint32_t)i);
            }
        }
        vq_free(o2n);
    }
    pthread_rwlock_unlock(&idx->lock);
    pthread_mutex_unlock(&idx->wmutex);
    return rc;
}

/* ---- search ---- */

int vqi_searcher_new(const vqi_index *idx, vqi_searcher **out, vq_err *err) {
    VQ_FAIL_IF(!idx || !out, VQ_EINVAL, err, "idx", "NULL");
    vqi_searcher *s = vq_calloc(1, sizeof *s);
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "searcher", "out of memory");
    s->idx = idx;
    int rc = VQ_OK;
    s->qbuf = vq_malloc(idx->d * sizeof(float) * 2);
    if (!s->qbuf) rc = vq_err_set(err, VQ_ENOMEM, "searcher", "out of memory");
    if (rc == VQ_OK && idx->quant) rc = vq_query_new(idx->quant, &s->qs, err);
    if (rc == VQ_OK && idx->ops->searcher_init) rc = idx->ops->searcher_init(s, err);
    if (rc < 0) {
        vqi_searcher_free(s);
        return rc;
    }
    *out = s;
    return VQ_OK;
}

void vqi_searcher_free(vqi_searcher *s) {
    if (!s) return;
    if (s->idx->ops->searcher_free) s->idx->ops->searcher_free(s);
    vq_query_free(s->qs);
    vq__heap_free(&s->res);
    vq__heap_free(&s->cand);
    vq__visited_free(&s->vis);
    vq_free(s->qbuf);
    vq_free(s->dbuf);
    vq_free(s);
}

typedef struct bf_ctx {
    vqi_searcher *s;
    const float *q;
    const vqi_search_params *sp;
} bf_ctx;

static bool bf_visit(uint32_t id, void *p) {
    bf_ctx *c = p;
    const vqi_index *idx = c->s->idx;
    uint32_t slot = id_slot(idx, id);
    if (slot == UINT32_MAX || !vq__allowed(idx, c->sp, slot)) return true;
    vq__heap_push(&c->s->res, vq__exact(idx, c->q, vq__vec(idx, slot)), slot);
    return true;
}

int vq__brute_force(vqi_searcher *s, const float *q, unsigned k, const vqi_search_params *sp,
                    vq_err *err) {
    const vqi_index *idx = s->idx;
    VQ_FAIL_IF(vq__heap_init(&s->res, k), VQ_ENOMEM, err, "search", "out of memory");
    s->exact = 1;
    if (sp && sp->filter_bitmap) {
        bf_ctx c = {s, q, sp};
        roaring_iterate(sp->filter_bitmap, bf_visit, &c);
        return VQ_OK;
    }
    for (size_t i = 0; i < idx->n_slots; i++)
        if (vq__allowed(idx, sp, (uint32_t)i))
            vq__heap_push(&s->res, vq__exact(idx, q, vq__vec(idx, (uint32_t)i)), (uint32_t)i);
    return VQ_OK;
}

/* Re-ranks s->res exactly into the best k, written to ids/dists. */
static int finish(vqi_searcher *s, const float *q, unsigned k, uint64_t *ids, float *dists,
                  vq_err *err) {
    const vqi_index *idx = s->idx;
    if (!s->exact) {
        /* Exact distances for the shortlist, then the best k. The rows are scattered:
         * start all their loads before the first distance. */
        for (size_t i = 0; i < s->res.n; i++) {
            const char *r = (const char *)vq__vec(idx, s->res.a[i].slot);
            for (size_t o = 0; o < idx->d * sizeof(float) && o < 512; o += 64)
                __builtin_prefetch(r + o);
        }
        for (size_t i = 0; i < s->res.n; i++)
            s->res.a[i].d = vq__exact(idx, q, vq__vec(idx, s->res.a[i].slot));
    }
    (void)err;
    vq__heap_sort(&s->res);
    size_t m = s->res.n < k ? s->res.n : k;
    for (size_t i = 0; i < m; i++) {
        ids[i] = idx->ext_ids[s->res.a[i].slot];
        dists[i] = s->res.a[i].d;
    }
    for (size_t i = m; i < k; i++) {
        ids[i] = VQI_NO_ID;
        dists[i] = INFINITY;
    }
    return VQ_OK;
}

int vqi_searcher_search(vqi_searcher *s, size_t nq, const float *q, unsigned k,
                        const vqi_search_params *sp, uint64_t *ids, float *dists, vq_err *err) {
    VQ_FAIL_IF(!s, VQ_EINVAL, err, "searcher", "NULL");
    const vqi_index *idx = s->idx;
    VQ_FAIL_IF(k == 0 || k > VQI_K_MAX, VQ_EINVAL, err, "k", "%u is outside [1, %u]", k, VQI_K_MAX);
    if (nq == 0) return VQ_OK;
    VQ_FAIL_IF(!q || !ids || !dists, VQ_EINVAL, err, "q", "NULL query or output");
    if (sp) {
        VQ_FAIL_IF(sp->rerank != 0 &&
                       !(sp->rerank >= VQI_RERANK_MIN && sp->rerank <= VQI_RERANK_MAX),
                   VQ_EINVAL, err, "rerank", "%g is outside [%g, %g]", sp->rerank, VQI_RERANK_MIN,
                   VQI_RERANK_MAX);
        VQ_FAIL_IF(sp->ef > VQI_EF_MAX, VQ_EINVAL, err, "ef", "%u is over %u", sp->ef, VQI_EF_MAX);
        VQ_FAIL_IF(!(sp->brute_force_ratio >= 0 && sp->brute_force_ratio <= 1), VQ_EINVAL, err,
                   "brute_force_ratio", "%g is outside [0, 1]", sp->brute_force_ratio);
    }
    VQ_TRY(check_vectors(idx, nq, q, "q", err));
    VQ_FAIL_IF(!idx->trained, VQ_ESTATE, err, "idx",
               "the index is not trained (add vectors first)");
    float *qn = s->qbuf;
    for (size_t i = 0; i < nq; i++) {
        const float *qi = q + i * idx->d;
        if (idx->metric == VQ_METRIC_COS) {
            memcpy(qn, qi, idx->d * sizeof(float));
            normalize(idx, qn);
            qi = qn;
        }
        vq__rdlock(idx);
        s->exact = 0;
        int rc = idx->n_slots - idx->n_deleted ? idx->ops->search(s, qi, k, sp, err) : VQ_OK;
        if (rc == VQ_OK && idx->n_slots - idx->n_deleted == 0) {
            s->res.n = 0;
            s->exact = 1;
        }
        /* Too few candidates while more live ids exist: fill exactly (filters, tiny lists,
         * disconnected graph parts). */
        if (rc == VQ_OK && s->res.n < k && s->res.n < idx->n_slots - idx->n_deleted &&
            idx->keep_vectors)
            rc = vq__brute_force(s, qi, k, sp, err);
        if (rc == VQ_OK) rc = finish(s, qi, k, ids + i * k, dists + i * k, err);
        vq__unlock(idx);
        if (rc < 0) return rc;
    }
    return VQ_OK;
}

int vqi_index_search(const vqi_index *idx, size_t nq, const float *q, unsigned k,
                     const vqi_search_params *sp, uint64_t *ids, float *dists, vq_err *err) {
    vqi_searcher *s;
    VQ_TRY(vqi_searcher_new(idx, &s, err));
    int rc = vqi_searcher_search(s, nq, q, k, sp, ids, dists, err);
    vqi_searcher_free(s);
    return rc;
}

/* ---- accessors and stats ---- */

int vqi_index_stats(const vqi_index *idx, vqi_stats *st) {
    if (!idx || !st) return VQ_EINVAL;
    memset(st, 0, sizeof *st);
    vq__rdlock(idx);
    st->type = idx->type;
    st->d = idx->d;
    st->metric = idx->metric;
    st->n = idx->n_slots - idx->n_deleted;
    st->n_deleted = idx->n_deleted;
    st->id_bytes = idx->n_slots * (8 + 1) + vq__idmap_bytes(&idx->map);
    st->vector_bytes = idx->keep_vectors ? idx->n_slots * idx->d * sizeof(float) : 0;
    st->quant_state_bytes = idx->quant ? vq_quant_state_bytes(idx->quant) : 0;
    if (idx->ops->stats) idx->ops->stats(idx, st);
    st->index_bytes =
        st->graph_bytes + st->list_bytes + st->code_bytes + st->id_bytes + st->quant_state_bytes;
    vq__unlock(idx);
    return VQ_OK;
}

int vqi_index_get_vector(const vqi_index *idx, uint64_t id, float *out, vq_err *err) {
    VQ_FAIL_IF(!idx || !out, VQ_EINVAL, err, "idx", "NULL");
    vq__rdlock(idx);
    uint32_t s = id_slot(idx, id);
    int rc = VQ_OK;
    if (s == UINT32_MAX)
        rc = vq_err_set(err, VQ_ENOTFOUND, "id", "id %llu is not in the index",
                        (unsigned long long)id);
    else if (idx->keep_vectors)
        memcpy(out, vq__vec(idx, s), idx->d * sizeof(float));
    else
        rc = vq_err_set(err, VQ_EUNSUPPORTED, "id", "this index keeps no vectors");
    vq__unlock(idx);
    return rc;
}

int vqi_index_contains(const vqi_index *idx, uint64_t id) {
    if (!idx) return 0;
    vq__rdlock(idx);
    int r = id_slot(idx, id) != UINT32_MAX;
    vq__unlock(idx);
    return r;
}

unsigned vqi_index_dim(const vqi_index *idx) { return idx->d; }
vq_metric vqi_index_metric(const vqi_index *idx) { return idx->metric; }
vqi_type vqi_index_type(const vqi_index *idx) { return idx->type; }
const char *vqi_index_spec(const vqi_index *idx) { return idx->spec; }
uint64_t vqi_index_size(const vqi_index *idx) { return idx->n_slots - idx->n_deleted; }

/* ---- file container ---- */

static const char MAGIC[4] = {'V', 'Q', 'I', 'X'};

int vqi_index_save_mem(const vqi_index *idx, uint8_t **buf, size_t *len, vq_err *err) {
    VQ_FAIL_IF(!idx || !buf || !len, VQ_EINVAL, err, "idx", "NULL");
    VQ_FAIL_IF(!idx->trained, VQ_ESTATE, err, "idx", "an untrained index has nothing to save");
    vqi_w w = {0};
    int rc = VQ_OK;
    vq__rdlock(idx);
    vq__iw_bytes(&w, MAGIC, 4);
    vq__iw_u32(&w, VQI_FORMAT_VERSION);
    vq__iw_u32(&w, (uint32_t)idx->type);
    size_t m = vq__iw_sec_begin(&w, VQI_SEC_META);
    uint32_t sl = (uint32_t)strlen(idx->spec);
    vq__iw_u32(&w, sl);
    vq__iw_bytes(&w, idx->spec, sl);
    vq__iw_u32(&w, idx->d);
    vq__iw_u32(&w, (uint32_t)idx->metric);
    vq__iw_u64(&w, idx->n_slots);
    vq__iw_u64(&w, idx->n_deleted);
    vq__iw_u64(&w, idx->next_seq);
    vq__iw_u64(&w, idx->params.seed);
    vq__iw_u32(&w, idx->params.threads);
    vq__iw_sec_end(&w, m);
    if (idx->quant) {
        uint8_t *qb = NULL;
        size_t ql = 0;
        rc = vq_quant_save(idx->quant, &qb, &ql, err);
        m = vq__iw_sec_begin(&w, VQI_SEC_QUANT);
        vq__iw_bytes(&w, qb, ql);
        vq__iw_sec_end(&w, m);
        vq_free(qb);
    }
    m = vq__iw_sec_begin(&w, VQI_SEC_SLOTS);
    vq__iw_bytes(&w, idx->ext_ids, idx->n_slots * 8);
    vq__iw_bytes(&w, idx->deleted, idx->n_slots);
    vq__iw_sec_end(&w, m);
    if (idx->keep_vectors) {
        m = vq__iw_sec_begin(&w, VQI_SEC_VECS);
        vq__iw_bytes(&w, idx->vecs, idx->n_slots * idx->d * sizeof(float));
        vq__iw_sec_end(&w, m);
    }
    if (rc == VQ_OK) rc = idx->ops->save(idx, &w, err);
    m = vq__iw_sec_begin(&w, VQI_SEC_END);
    vq__iw_sec_end(&w, m);
    vq__unlock(idx);
    if (rc == VQ_OK && w.oom) rc = vq_err_set(err, VQ_ENOMEM, "save", "out of memory");
    if (rc < 0) {
        vq_free(w.p);
        return rc;
    }
    *buf = w.p;
    *len = w.len;
    return VQ_OK;
}

int vqi_index_load_mem(const uint8_t *buf, size_t len, vqi_index **out, vq_err *err) {
    VQ_FAIL_IF(!buf || !out, VQ_EINVAL, err, "buf", "NULL");
    vqi_r r = {buf, len, 0, "header"};
    char magic[4];
    uint32_t ver, type;
    VQ_TRY(vq__ir_bytes(&r, magic, 4, err));
    VQ_FAIL_IF(memcmp(magic, MAGIC, 4), VQ_ECORRUPT, err, "header",
               "not a vqdb index file (bad magic)");
    VQ_TRY(vq__ir_u32(&r, &ver, err));
    VQ_FAIL_IF(ver > VQI_FORMAT_VERSION || ver == 0, VQ_EVERSION, err, "header.version",
               "format version %u, this build reads 1..%u", ver, VQI_FORMAT_VERSION);
    VQ_TRY(vq__ir_u32(&r, &type, err));
    VQ_FAIL_IF(type > VQI_FAISS, VQ_ECORRUPT, err, "header.type", "unknown index type %u", type);
    vqi_r sec;
    VQ_TRY(vq__ir_sec(&r, VQI_SEC_META, "meta", &sec, err));
    uint32_t sl, d, metric, threads;
    uint64_t n_slots, n_del, next_seq, seed;
    char spec[VQ_SPEC_MAX * 2];
    VQ_TRY(vq__ir_u32(&sec, &sl, err));
    VQ_FAIL_IF(sl >= sizeof spec, VQ_ECORRUPT, err, "meta", "spec length %u", sl);
    VQ_TRY(vq__ir_bytes(&sec, spec, sl, err));
    spec[sl] = 0;
    VQ_TRY(vq__ir_u32(&sec, &d, err));
    VQ_TRY(vq__ir_u32(&sec, &metric, err));
    VQ_TRY(vq__ir_u64(&sec, &n_slots, err));
    VQ_TRY(vq__ir_u64(&sec, &n_del, err));
    VQ_TRY(vq__ir_u64(&sec, &next_seq, err));
    VQ_TRY(vq__ir_u64(&sec, &seed, err));
    VQ_TRY(vq__ir_u32(&sec, &threads, err));
    VQ_TRY(vq__ir_end(&sec, err));
    VQ_FAIL_IF(d == 0 || d > VQ_DIM_MAX || metric > VQ_METRIC_COS || n_slots >= UINT32_MAX ||
                   n_del > n_slots,
               VQ_ECORRUPT, err, "meta", "impossible values (d %u, metric %u, n %llu)", d, metric,
               (unsigned long long)n_slots);
    vqi_index *idx = index_alloc();
    VQ_FAIL_IF(!idx, VQ_ENOMEM, err, "load", "out of memory");
    idx->d = d;
    idx->metric = (vq_metric)metric;
    idx->params = vqi_params_default();
    idx->params.seed = seed;
    idx->params.threads = threads ? threads : 1;
    idx->next_seq = next_seq;
    int rc = parse_spec(idx, spec, err);
    if (rc == VQ_OK && idx->type != (vqi_type)type)
        rc = vq_err_set(err, VQ_ECORRUPT, "header.type", "type %u does not match the spec", type);
    if (rc == VQ_OK) idx->keep_vectors = idx->type != VQI_FAISS;
    if (rc == VQ_OK && idx->type != VQI_FAISS) {
        rc = vq__ir_sec(&r, VQI_SEC_QUANT, "quant", &sec, err);
        if (rc == VQ_OK) rc = vq_quant_load(sec.p, sec.len, &idx->quant, err);
        if (rc == VQ_OK && vq_quant_dim(idx->quant) != d)
            rc = vq_err_set(err, VQ_ECORRUPT, "quant", "quantizer dimension %u, index %u",
                            vq_quant_dim(idx->quant), d);
        if (rc == VQ_OK) idx->code_size = vq_quant_code_size(idx->quant);
    }
    if (rc == VQ_OK) rc = grow_slots(idx, n_slots ? n_slots : 1, err);
    if (rc == VQ_OK) rc = vq__ir_sec(&r, VQI_SEC_SLOTS, "slots", &sec, err);
    if (rc == VQ_OK) rc = vq__ir_bytes(&sec, idx->ext_ids, n_slots * 8, err);
    if (rc == VQ_OK) rc = vq__ir_bytes(&sec, idx->deleted, n_slots, err);
    if (rc == VQ_OK) rc = vq__ir_end(&sec, err);
    if (rc == VQ_OK && idx->keep_vectors) {
        rc = vq__ir_sec(&r, VQI_SEC_VECS, "vectors", &sec, err);
        if (rc == VQ_OK) rc = vq__ir_bytes(&sec, idx->vecs, n_slots * d * sizeof(float), err);
        if (rc == VQ_OK) rc = vq__ir_end(&sec, err);
    }
    if (rc == VQ_OK) {
        idx->n_slots = n_slots;
        size_t cnt = 0;
        if (id_rebuild(idx, n_slots)) rc = vq_err_set(err, VQ_ENOMEM, "load", "out of memory");
        for (size_t i = 0; rc == VQ_OK && i < n_slots; i++) {
            if (idx->deleted[i] > 1)
                rc = vq_err_set(err, VQ_ECORRUPT, "slots", "bad tombstone byte at %zu", i);
            else if (idx->deleted[i])
                cnt++;
            else if (i < idx->ident)
                continue; /* id == slot: no map entry */
            else if (id_slot(idx, idx->ext_ids[i]) != UINT32_MAX)
                rc = vq_err_set(err, VQ_ECORRUPT, "slots", "id %llu appears twice",
                                (unsigned long long)idx->ext_ids[i]);
            else
                vq__idmap_put(&idx->map, idx->ext_ids[i], (uint32_t)i);
        }
        if (rc == VQ_OK && cnt != n_del)
            rc = vq_err_set(err, VQ_ECORRUPT, "slots", "%zu tombstones, meta says %llu", cnt,
                            (unsigned long long)n_del);
        idx->n_deleted = cnt;
    }
    if (rc == VQ_OK) rc = idx->ops->load(idx, &r, err);
    if (rc == VQ_OK) rc = vq__ir_sec(&r, VQI_SEC_END, "end", &sec, err);
    if (rc == VQ_OK && r.pos != r.len)
        rc = vq_err_set(err, VQ_ECORRUPT, "end", "%zu bytes after the end section", r.len - r.pos);
    if (rc < 0) {
        vqi_index_free(idx);
        return rc;
    }
    idx->trained = 1;
    *out = idx;
    return VQ_OK;
}

int vqi_index_save(const vqi_index *idx, const char *path, vq_err *err) {
    VQ_FAIL_IF(!path, VQ_EINVAL, err, "path", "NULL");
    uint8_t *buf;
    size_t len;
    VQ_TRY(vqi_index_save_mem(idx, &buf, &len, err));
    /* Write to a temporary name and rename, so a crash never leaves a half file under path. */
    char tmp[4096];
    int rc = VQ_OK;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        rc = vq_err_set(err, VQ_EINVAL, "path", "longer than %zu", sizeof tmp - 5);
    FILE *f = rc == VQ_OK ? fopen(tmp, "wb") : NULL;
    if (rc == VQ_OK && !f) rc = vq_err_set(err, VQ_EIO, "path", "%s: %s", tmp, strerror(errno));
    if (f) {
        if (fwrite(buf, 1, len, f) != len || fflush(f) != 0)
            rc = vq_err_set(err, VQ_EIO, "path", "%s: write failed: %s", tmp, strerror(errno));
        if (fclose(f) != 0 && rc == VQ_OK)
            rc = vq_err_set(err, VQ_EIO, "path", "%s: %s", tmp, strerror(errno));
        if (rc == VQ_OK && rename(tmp, path) != 0)
            rc = vq_err_set(err, VQ_EIO, "path", "rename to %s: %s", path, strerror(errno));
        if (rc < 0) remove(tmp);
    }
    vq_free(buf);
    return rc;
}

int vqi_index_load(const char *path, vqi_index **out, vq_err *err) {
    VQ_FAIL_IF(!path || !out, VQ_EINVAL, err, "path", "NULL");
    FILE *f = fopen(path, "rb");
    VQ_FAIL_IF(!f, VQ_EIO, err, "path", "%s: %s", path, strerror(errno));
    int rc = VQ_OK;
    long sz = -1;
    if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0)
        rc = vq_err_set(err, VQ_EIO, "path", "%s: cannot determine the size", path);
    uint8_t *buf = rc == VQ_OK ? vq_malloc((size_t)sz + 1) : NULL;
    if (rc == VQ_OK && !buf) rc = vq_err_set(err, VQ_ENOMEM, "path", "%s: %ld bytes", path, sz);
    if (rc == VQ_OK && fread(buf, 1, (size_t)sz, f) != (size_t)sz)
        rc = vq_err_set(err, VQ_EIO, "path", "%s: short read", path);
    fclose(f);
    if (rc == VQ_OK) rc = vqi_index_load_mem(buf, (size_t)sz, out, err);
    vq_free(buf);
    return rc;
}
