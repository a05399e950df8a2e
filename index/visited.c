/* visited.c — the epoch-tagged visited set of a searcher (hnswlib's visited list): a slot
 * is visited when its tag equals the current epoch, so starting a new query is one
 * increment; the tags are cleared only when the 16-bit epoch wraps.
 */
#include "vqi_internal.h"

int vq__visited_reset(vqi_visited *v, size_t n) {
    if (n > v->cap) {
        size_t nc = n + n / 2 + 1024;
        uint16_t *t = vq_realloc(v->tag, v->cap * sizeof *t, nc * sizeof *t);
        if (!t) return -1;
        memset(t + v->cap, 0, (nc - v->cap) * sizeof *t);
        v->tag = t;
        v->cap = nc;
    }
    if (++v->epoch == 0) {
        memset(v->tag, 0, v->cap * sizeof *v->tag);
        v->epoch = 1;
    }
    return 0;
}

void vq__visited_free(vqi_visited *v) {
    vq_free(v->tag);
    v->tag = NULL;
    v->cap = 0;
}
