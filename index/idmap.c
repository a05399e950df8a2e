/* idmap.c — external id (uint64) -> slot (uint32) for live vectors: open addressing with
 * linear probing and tombstones, capacity a power of two kept under 50% load (counting
 * tombstones), so lookups from searches stay short.
 */
#include "vqi_internal.h"

static inline size_t hash64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (size_t)x;
}

static int rehash(vqi_idmap *m, size_t ncap) {
    uint64_t *k = vq_malloc(ncap * sizeof *k);
    uint32_t *v = vq_malloc(ncap * sizeof *v);
    uint8_t *u = vq_calloc(ncap, 1);
    if (!k || !v || !u) {
        vq_free(k);
        vq_free(v);
        vq_free(u);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->used[i] != 1) continue;
        size_t j = hash64(m->keys[i]) & (ncap - 1);
        while (u[j]) j = (j + 1) & (ncap - 1);
        u[j] = 1;
        k[j] = m->keys[i];
        v[j] = m->vals[i];
    }
    vq_free(m->keys);
    vq_free(m->vals);
    vq_free(m->used);
    m->keys = k;
    m->vals = v;
    m->used = u;
    m->cap = ncap;
    m->n_removed = 0;
    return 0;
}

int vq__idmap_reserve(vqi_idmap *m, size_t n_more) {
    size_t need = (m->n + m->n_removed + n_more) * 2;
    if (need <= m->cap) return 0;
    size_t nc = 1024;
    while (nc < (m->n + n_more) * 2 + 16) nc *= 2;
    return rehash(m, nc);
}

uint32_t vq__idmap_get(const vqi_idmap *m, uint64_t key) {
    if (!m->cap) return UINT32_MAX;
    size_t j = hash64(key) & (m->cap - 1);
    while (m->used[j]) {
        if (m->used[j] == 1 && m->keys[j] == key) return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return UINT32_MAX;
}

void vq__idmap_put(vqi_idmap *m, uint64_t key, uint32_t val) {
    size_t j = hash64(key) & (m->cap - 1);
    while (m->used[j] == 1) {
        if (m->keys[j] == key) {
            m->vals[j] = val;
            return;
        }
        j = (j + 1) & (m->cap - 1);
    }
    /* A tombstone (2) is reused only after checking the key is absent further on. */
    size_t first = j;
    while (m->used[j]) {
        if (m->used[j] == 1 && m->keys[j] == key) {
            m->vals[j] = val;
            return;
        }
        j = (j + 1) & (m->cap - 1);
    }
    if (m->used[first] == 2) m->n_removed--;
    m->used[first] = 1;
    m->keys[first] = key;
    m->vals[first] = val;
    m->n++;
}

void vq__idmap_del(vqi_idmap *m, uint64_t key) {
    if (!m->cap) return;
    size_t j = hash64(key) & (m->cap - 1);
    while (m->used[j]) {
        if (m->used[j] == 1 && m->keys[j] == key) {
            m->used[j] = 2;
            m->n--;
            m->n_removed++;
            return;
        }
        j = (j + 1) & (m->cap - 1);
    }
}

void vq__idmap_free(vqi_idmap *m) {
    vq_free(m->keys);
    vq_free(m->vals);
    vq_free(m->used);
    memset(m, 0, sizeof *m);
}

size_t vq__idmap_bytes(const vqi_idmap *m) { return m->cap * (8 + 4 + 1); }
