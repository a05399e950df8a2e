/* hmap.c — an open-addressing hash map from byte strings (copied) to uint64, used for the
 * user id -> internal id map and the keyword/tag dictionaries of the attribute indexes.
 * Linear probing with backward-shift deletion (no tombstones), FNV-1a hashing, load <= 1/2.
 * Thread safety: none; the collection's lock protects it. */
#include <string.h>

#include "coll_internal.h"

static uint64_t hash(const void *k, size_t n) {
    const uint8_t *p = k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 29;
    return h ? h : 1;
}

static size_t find(const vqe__hmap *m, const void *k, size_t kl, uint64_t h) {
    size_t mask = m->cap - 1, i = h & mask;
    while (m->s[i].key) {
        if (m->s[i].h == h && m->s[i].klen == kl && !memcmp(m->s[i].key, k, kl)) return i;
        i = (i + 1) & mask;
    }
    return i;
}

static int grow(vqe__hmap *m) {
    size_t nc = m->cap ? 2 * m->cap : 64;
    vqe__hslot *ns = vq_calloc(nc, sizeof *ns);
    if (!ns) return VQ_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->s[i].key) continue;
        size_t j = m->s[i].h & (nc - 1);
        while (ns[j].key) j = (j + 1) & (nc - 1);
        ns[j] = m->s[i];
    }
    vq_free(m->s);
    m->s = ns;
    m->cap = nc;
    return VQ_OK;
}

int vqe__hmap_put(vqe__hmap *m, const void *k, size_t kl, uint64_t val) {
    if (2 * (m->n + 1) > m->cap) VQ_TRY(grow(m));
    uint64_t h = hash(k, kl);
    size_t i = find(m, k, kl, h);
    if (m->s[i].key) {
        m->s[i].val = val;
        return VQ_OK;
    }
    char *kc = vq_malloc(kl ? kl : 1);
    if (!kc) return VQ_ENOMEM;
    memcpy(kc, k, kl);
    m->s[i] = (vqe__hslot){h, val, kc, (uint32_t)kl};
    m->n++;
    return VQ_OK;
}

int vqe__hmap_get(const vqe__hmap *m, const void *k, size_t kl, uint64_t *val) {
    if (!m->cap) return 0;
    size_t i = find(m, k, kl, hash(k, kl));
    if (!m->s[i].key) return 0;
    if (val) *val = m->s[i].val;
    return 1;
}

int vqe__hmap_del(vqe__hmap *m, const void *k, size_t kl) {
    if (!m->cap) return 0;
    size_t mask = m->cap - 1, i = find(m, k, kl, hash(k, kl));
    if (!m->s[i].key) return 0;
    vq_free(m->s[i].key);
    m->s[i].key = NULL;
    m->n--;
    /* Backward shift: move later members of the probe run into the hole when their home
     * slot does not lie cyclically in (hole, j]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->s[j].key) break;
        size_t home = m->s[j].h & mask;
        int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (between) continue;
        m->s[i] = m->s[j];
        m->s[j].key = NULL;
        i = j;
    }
    return 1;
}

void vqe__hmap_free(vqe__hmap *m, void (*free_val)(uint64_t)) {
    for (size_t i = 0; i < m->cap; i++)
        if (m->s[i].key) {
            if (free_val) free_val(m->s[i].val);
            vq_free(m->s[i].key);
        }
    vq_free(m->s);
    m->s = NULL;
    m->cap = m->n = 0;
}
