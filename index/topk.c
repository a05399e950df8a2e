/* topk.c — binary heaps of (distance, slot): a bounded max-heap that keeps the k smallest
 * (result lists, re-rank shortlists) and a growable min-heap (HNSW's candidate queue).
 * Invariant: a[0] is the largest (max-heap) or smallest (min-heap) distance.
 */
#include "vqi_internal.h"

/* A searcher's heaps are reused across queries: the allocation only grows, but the bound
 * is this query's, so a wide query never widens the ones after it. */
int vq__heap_init(vqi_heap *h, size_t cap) {
    h->n = 0;
    h->lim = 0;
    if (cap > h->cap || !h->a) {
        vqi_cand *a = vq_realloc(h->a, h->cap * sizeof *a, cap * sizeof *a);
        if (!a) return -1;
        h->a = a;
        h->cap = cap;
    }
    h->lim = cap;
    return 0;
}

void vq__heap_free(vqi_heap *h) {
    vq_free(h->a);
    h->a = NULL;
    h->n = h->cap = h->lim = 0;
}

static void sift_down_max(vqi_cand *a, size_t n, size_t i) {
    vqi_cand x = a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1].d > a[c].d) c++;
        if (a[c].d <= x.d) break;
        a[i] = a[c];
        i = c;
    }
    a[i] = x;
}
static void sift_up_max(vqi_cand *a, size_t i) {
    vqi_cand x = a[i];
    while (i) {
        size_t p = (i - 1) / 2;
        if (a[p].d >= x.d) break;
        a[i] = a[p];
        i = p;
    }
    a[i] = x;
}
static void sift_down_min(vqi_cand *a, size_t n, size_t i) {
    vqi_cand x = a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && a[c + 1].d < a[c].d) c++;
        if (a[c].d >= x.d) break;
        a[i] = a[c];
        i = c;
    }
    a[i] = x;
}
static void sift_up_min(vqi_cand *a, size_t i) {
    vqi_cand x = a[i];
    while (i) {
        size_t p = (i - 1) / 2;
        if (a[p].d <= x.d) break;
        a[i] = a[p];
        i = p;
    }
    a[i] = x;
}

int vq__heap_push(vqi_heap *h, float d, uint32_t slot) {
    if (h->n < h->lim) {
        h->a[h->n] = (vqi_cand){d, slot};
        sift_up_max(h->a, h->n++);
        return 1;
    }
    if (!h->lim || !(d < h->a[0].d)) return 0;
    h->a[0] = (vqi_cand){d, slot};
    sift_down_max(h->a, h->n, 0);
    return 1;
}

static int grow(vqi_heap *h) {
    if (h->n < h->cap) return 0;
    size_t nc = h->cap ? h->cap * 2 : 64;
    vqi_cand *a = vq_realloc(h->a, h->cap * sizeof *a, nc * sizeof *a);
    if (!a) return -1;
    h->a = a;
    h->cap = nc;
    return 0;
}

int vq__heap_push_grow(vqi_heap *h, float d, uint32_t slot) {
    if (grow(h)) return -1;
    h->a[h->n] = (vqi_cand){d, slot};
    sift_up_max(h->a, h->n++);
    return 0;
}

vqi_cand vq__heap_pop(vqi_heap *h) {
    vqi_cand top = h->a[0];
    h->a[0] = h->a[--h->n];
    if (h->n) sift_down_max(h->a, h->n, 0);
    return top;
}

int vq__minheap_push(vqi_heap *h, float d, uint32_t slot) {
    if (grow(h)) return -1;
    h->a[h->n] = (vqi_cand){d, slot};
    sift_up_min(h->a, h->n++);
    return 0;
}

vqi_cand vq__minheap_pop(vqi_heap *h) {
    vqi_cand top = h->a[0];
    h->a[0] = h->a[--h->n];
    if (h->n) sift_down_min(h->a, h->n, 0);
    return top;
}

static int cmp_cand(const void *a, const void *b) {
    const vqi_cand *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

void vq__heap_sort(vqi_heap *h) { qsort(h->a, h->n, sizeof *h->a, cmp_cand); }
