/* neighbors.c — read access to the HNSW base layer for graph-augmented retrieval
 * (vqi_index_neighbors, index.h): the level-0 links of one node, as external ids.
 *
 * The base layer is a kNN-like graph pruned with the HNSW heuristic (Malkov & Yashunin,
 * Algorithm 4), at most 2M links per node. Deleted nodes stay in the graph as routing
 * nodes until compaction; they are skipped here, so callers only see live ids.
 *
 * Locks: takes the index's read lock for the copy, like a search.
 */
#include "hnsw.h"

int vqi_index_neighbors(const vqi_index *idx, uint64_t id, uint64_t *out, size_t cap, size_t *n,
                        vq_err *err) {
    VQ_FAIL_IF(!idx || !n || (!out && cap), VQ_EINVAL, err, "neighbors", "NULL argument");
    *n = 0;
    VQ_FAIL_IF(idx->type != VQI_HNSW, VQ_EUNSUPPORTED, err, "index",
               "neighbors need an HNSW index (this one is '%s')", idx->spec);
    vq__rdlock(idx);
    /* index.c's id_slot: ids below the identity prefix are their own slot */
    uint32_t slot =
        id < idx->ident && !idx->deleted[id] ? (uint32_t)id : vq__idmap_get(&idx->map, id);
    if (slot == UINT32_MAX) {
        vq__unlock(idx);
        return vq_err_set(err, VQ_ENOTFOUND, "id", "id %llu is not live in the index",
                          (unsigned long long)id);
    }
    const hnsw *g = H(idx);
    const uint32_t *l = hnsw_links(g, slot, 0);
    size_t m = 0;
    for (uint32_t i = 0; i < l[0]; i++) {
        uint32_t s = l[1 + i];
        if (idx->deleted[s]) continue;
        if (m < cap) out[m] = idx->ext_ids[s];
        m++;
    }
    vq__unlock(idx);
    *n = m;
    return VQ_OK;
}
