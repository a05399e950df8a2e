/* delete.c — reclaiming tombstoned HNSW nodes (compaction).
 *
 * Repair first, then renumber. For every live node and level whose list links to a deleted
 * node, the candidates are its live neighbours plus the live neighbours of each deleted
 * neighbour (the two-hop set through the hole), and the selection heuristic picks the new
 * list. This keeps the paths that ran through deleted nodes (the "repair" of hnswlib's
 * markDelete + updatePoint and of pgvector's vacuum). Then deleted records are dropped, the
 * slots renumbered densely and every link rewritten; a deleted entry point is replaced by
 * the live node with the highest level.
 */
#include <stdlib.h>

#include "hnsw.h"

static int repair(vqi_index *idx, hnsw *g, vq_err *err) {
    size_t cap = (size_t)g->M0 * (g->M0 + 1) + 1;
    vqi_cand *cand = vq_malloc(cap * sizeof *cand);
    uint32_t *out = vq_malloc((g->M0 + 1) * sizeof *out);
    vqi_visited vis = {0};
    int rc = VQ_OK;
    if (!cand || !out || vq__visited_reset(&vis, idx->n_slots))
        rc = vq_err_set(err, VQ_ENOMEM, "compact", "out of memory");
    for (size_t i = 0; rc == VQ_OK && i < idx->n_slots; i++) {
        if (idx->deleted[i]) continue;
        const float *vi = vq__vec(idx, (uint32_t)i);
        for (int l = 0; l <= g->levels[i]; l++) {
            uint32_t *lk = hnsw_links(g, (uint32_t)i, l);
            int hole = 0;
            for (unsigned j = 0; j < lk[0] && !hole; j++) hole = idx->deleted[lk[1 + j]];
            if (!hole) continue;
            vq__visited_reset(&vis, idx->n_slots);
            vq__visited_test_set(&vis, (uint32_t)i);
            size_t m = 0;
            for (unsigned j = 0; j < lk[0]; j++) {
                uint32_t nb = lk[1 + j];
                if (!idx->deleted[nb]) {
                    if (!vq__visited_test_set(&vis, nb))
                        cand[m++] = (vqi_cand){vq__dist(idx, vi, vq__vec(idx, nb)), nb};
                    continue;
                }
                const uint32_t *l2 = hnsw_links(g, nb, l);
                for (unsigned t = 0; t < l2[0] && m < cap; t++) {
                    uint32_t nn = l2[1 + t];
                    if (idx->deleted[nn] || vq__visited_test_set(&vis, nn)) continue;
                    cand[m++] = (vqi_cand){vq__dist(idx, vi, vq__vec(idx, nn)), nn};
                }
            }
            unsigned maxl = hnsw_maxlinks(g, l);
            size_t k = vq__hnsw_select(idx, cand, m, maxl, out);
            /* Keep pruned connections (the paper's keepPrunedConnections): fill the list up
             * to its capacity with the closest candidates the heuristic left out, so the
             * hole does not lower the node's degree. cand is sorted by distance now. */
            for (size_t t = 0; t < m && k < maxl; t++) {
                int dup = 0;
                for (size_t z = 0; z < k && !dup; z++) dup = out[z] == cand[t].slot;
                if (!dup) out[k++] = cand[t].slot;
            }
            memcpy(lk + 1, out, k * sizeof *out);
            lk[0] = (uint32_t)k;
            /* Nodes that were reachable only through the hole get an edge back. */
            for (size_t t = 0; t < k; t++) {
                uint32_t *bl = hnsw_links(g, out[t], l);
                if (bl[0] >= maxl) continue;
                int has = 0;
                for (unsigned z = 0; z < bl[0] && !has; z++) has = bl[1 + z] == (uint32_t)i;
                if (!has) bl[1 + bl[0]++] = (uint32_t)i;
            }
        }
    }
    vq_free(cand);
    vq_free(out);
    vq__visited_free(&vis);
    return rc;
}

int vq__hnsw_compact(vqi_index *idx, const uint32_t *o2n, size_t n_new, vq_err *err) {
    hnsw *g = H(idx);
    if (!g) return VQ_OK;
    VQ_TRY(repair(idx, g, err));
    /* Renumber in place: new slot j <= old slot i, so moving forward never overwrites a
     * record that is still to be read. */
    for (size_t i = 0; i < idx->n_slots; i++) {
        if (o2n[i] == UINT32_MAX) {
            vq_free(g->upper[i]);
            g->upper[i] = NULL;
            continue;
        }
        size_t j = o2n[i];
        if (j != i) {
            memmove(g->level0 + j * g->rec0, g->level0 + i * g->rec0, g->rec0);
            g->levels[j] = g->levels[i];
            g->upper[j] = g->upper[i];
            g->upper[i] = NULL;
        }
        for (int l = 0; l <= g->levels[j]; l++) {
            uint32_t *lk = hnsw_links(g, (uint32_t)j, l);
            unsigned w = 0;
            for (unsigned t = 0; t < lk[0]; t++)
                if (o2n[lk[1 + t]] != UINT32_MAX) lk[1 + w++] = o2n[lk[1 + t]];
            lk[0] = w;
        }
    }
    if (g->entry != UINT32_MAX && o2n[g->entry] != UINT32_MAX) {
        g->entry = o2n[g->entry];
    } else {
        g->entry = UINT32_MAX;
        g->max_level = -1;
        for (size_t j = 0; j < n_new; j++)
            if ((int)g->levels[j] > g->max_level) {
                g->max_level = g->levels[j];
                g->entry = (uint32_t)j;
            }
    }
    /* Upper levels above the new max level hold no nodes now: nothing to trim, since a
     * node's own level bounds its lists. */
    return VQ_OK;
}
