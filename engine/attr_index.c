/* attr_index.c — in-memory attribute indexes of a collection, and the attribute blob
 * decoder.
 *
 * Per field:
 *   keyword, tags  a dictionary value -> CRoaring bitmap of the iids holding it;
 *   bool           two bitmaps (true, false);
 *   int64, double  the value's order-preserving 64-bit key per iid, plus a sorted run of
 *                  (key, iid) for iids below sorted_upto. Since iids are assigned in
 *                  increasing order and never change their values (an upsert assigns a new
 *                  iid), new values form an unsorted tail [sorted_upto, next_iid); a range
 *                  query binary-searches the run and scans the tail. The tail is merged into
 *                  the run when it exceeds VQE_TAIL_MIN + n_sorted / 16, which keeps the
 *                  amortized cost per write at O(log n) and each query's tail scan short.
 *   every field    a bitmap `has` of the iids with a value (EXISTS, NE).
 * Deleted iids stay in these structures; the caller intersects every result with the live
 * bitmap (see coll_internal.h), and a reload drops them.
 *
 * Order-preserving keys: int64 v -> v ^ 2^63; double v (never NaN; -0 folded to +0) ->
 * bits ^ 2^63 when v >= 0, ~bits when v < 0. Unsigned comparison of keys is numeric
 * comparison of values, and key + 1 is the next representable value (exclusive bounds). */
#include <stdlib.h>
#include <string.h>

#include "coll_internal.h"

#define VQE_TAIL_MIN 4096u

uint64_t vqe__num_key_i64(int64_t v) { return (uint64_t)v ^ (1ull << 63); }
uint64_t vqe__num_key_f64(double v) {
    if (v == 0) v = 0; /* folds -0 */
    uint64_t b;
    memcpy(&b, &v, 8);
    return (b >> 63) ? ~b : b ^ (1ull << 63);
}

int vqe__attrs_init(vqe__attrs *a, const vqe_schema *s) {
    memset(a, 0, sizeof *a);
    a->n = s->n_fields;
    if (!a->n) return VQ_OK;
    a->f = vq_calloc(a->n, sizeof *a->f);
    if (!a->f) return VQ_ENOMEM;
    for (unsigned i = 0; i < a->n; i++) {
        a->f[i].type = s->fields[i].type;
        if (!(a->f[i].has = roaring_bitmap_create())) return VQ_ENOMEM;
        if (a->f[i].type == VQE_BOOL) {
            a->f[i].bt = roaring_bitmap_create();
            a->f[i].bf = roaring_bitmap_create();
            if (!a->f[i].bt || !a->f[i].bf) return VQ_ENOMEM;
        }
    }
    return VQ_OK;
}

void vqe__attrs_free(vqe__attrs *a) {
    if (!a->f) return;
    for (unsigned i = 0; i < a->n; i++) {
        vqe__attr_field *f = &a->f[i];
        if (f->has) roaring_bitmap_free(f->has);
        if (f->bt) roaring_bitmap_free(f->bt);
        if (f->bf) roaring_bitmap_free(f->bf);
        for (size_t j = 0; j < f->n_bm; j++) roaring_bitmap_free(f->bm[j]);
        vq_free(f->bm);
        vqe__hmap_free(&f->dict, NULL);
        vq_free(f->keys);
        vq_free(f->sorted);
    }
    vq_free(a->f);
    memset(a, 0, sizeof *a);
}

size_t vqe__attrs_bytes(const vqe__attrs *a) {
    size_t t = 0;
    for (unsigned i = 0; i < a->n; i++) {
        const vqe__attr_field *f = &a->f[i];
        t += roaring_bitmap_size_in_bytes(f->has);
        for (size_t j = 0; j < f->n_bm; j++) t += roaring_bitmap_size_in_bytes(f->bm[j]);
        if (f->bt) t += roaring_bitmap_size_in_bytes(f->bt) + roaring_bitmap_size_in_bytes(f->bf);
        t +=
            f->cap_keys * 8 + f->n_sorted * sizeof(vqe__numpair) + f->dict.cap * sizeof(vqe__hslot);
    }
    return t;
}

static uint32_t rd32(const uint8_t *p) { return vqe__rd32(p); }

int vqe__attrs_decode(const vqe_schema *s, const uint8_t *p, size_t n, vqe__aval *vals,
                      vq_err *err) {
    memset(vals, 0, s->n_fields * sizeof *vals);
    size_t pos = 0;
    int last = -1;
#define NEED(m)                                                  \
    VQ_FAIL_IF(n - pos < (size_t)(m), VQ_ECORRUPT, err, "attrs", \
               "attribute record truncated at byte %zu (needs %zu more)", pos, (size_t)(m))
    while (pos < n) {
        unsigned fi = p[pos++];
        VQ_FAIL_IF((int)fi <= last || fi >= s->n_fields, VQ_ECORRUPT, err, "attrs",
                   "attribute record names field %u out of order or range", fi);
        last = (int)fi;
        vqe__aval *v = &vals[fi];
        v->present = 1;
        switch (s->fields[fi].type) {
        case VQE_INT64:
            NEED(8);
            v->i = (int64_t)vqe__rd64(p + pos);
            pos += 8;
            break;
        case VQE_DOUBLE: {
            NEED(8);
            uint64_t b = vqe__rd64(p + pos);
            memcpy(&v->d, &b, 8);
            pos += 8;
            VQ_FAIL_IF(v->d != v->d, VQ_ECORRUPT, err, "attrs", "stored double is NaN");
            break;
        }
        case VQE_BOOL:
            NEED(1);
            VQ_FAIL_IF(p[pos] > 1, VQ_ECORRUPT, err, "attrs", "stored bool is %u", p[pos]);
            v->b = p[pos++];
            break;
        case VQE_KEYWORD:
            NEED(4);
            v->slen = rd32(p + pos);
            pos += 4;
            NEED(v->slen);
            v->s = (const char *)p + pos;
            pos += v->slen;
            break;
        case VQE_TAGS: {
            NEED(4);
            v->n_tags = rd32(p + pos);
            pos += 4;
            v->tags = p + pos;
            for (uint32_t t = 0; t < v->n_tags; t++) {
                NEED(4);
                uint32_t l = rd32(p + pos);
                pos += 4;
                NEED(l);
                pos += l;
            }
            break;
        }
        default:
            return vq_err_set(err, VQ_ECORRUPT, "attrs", "field %u of type %d in attrs blob", fi,
                              (int)s->fields[fi].type);
        }
    }
#undef NEED
    return VQ_OK;
}

static int dict_add(vqe__attr_field *f, const char *s, size_t n, uint32_t iid) {
    uint64_t idx;
    if (!vqe__hmap_get(&f->dict, s, n, &idx)) {
        if (f->n_bm == f->cap_bm) {
            size_t nc = f->cap_bm ? 2 * f->cap_bm : 16;
            roaring_bitmap_t **nb = vq_realloc(f->bm, f->cap_bm * sizeof *nb, nc * sizeof *nb);
            if (!nb) return VQ_ENOMEM;
            f->bm = nb, f->cap_bm = nc;
        }
        roaring_bitmap_t *b = roaring_bitmap_create();
        if (!b) return VQ_ENOMEM;
        idx = f->n_bm;
        if (vqe__hmap_put(&f->dict, s, n, idx)) {
            roaring_bitmap_free(b);
            return VQ_ENOMEM;
        }
        f->bm[f->n_bm++] = b;
    }
    roaring_bitmap_add(f->bm[idx], iid);
    return VQ_OK;
}

int vqe__attrs_add(vqe__attrs *a, uint32_t iid, const vqe__aval *vals) {
    for (unsigned i = 0; i < a->n; i++) {
        vqe__attr_field *f = &a->f[i];
        const vqe__aval *v = &vals[i];
        if (f->type == VQE_INT64 || f->type == VQE_DOUBLE) {
            if ((size_t)iid >= f->cap_keys) {
                size_t nc = f->cap_keys ? f->cap_keys : 1024;
                while (nc <= iid) nc *= 2;
                uint64_t *nk = vq_realloc(f->keys, f->cap_keys * 8, nc * 8);
                if (!nk) return VQ_ENOMEM;
                f->keys = nk, f->cap_keys = nc;
            }
            if (v->present)
                f->keys[iid] =
                    f->type == VQE_INT64 ? vqe__num_key_i64(v->i) : vqe__num_key_f64(v->d);
        }
        if (!v->present) continue;
        roaring_bitmap_add(f->has, iid);
        switch (f->type) {
        case VQE_BOOL:
            roaring_bitmap_add(v->b ? f->bt : f->bf, iid);
            break;
        case VQE_KEYWORD:
            VQ_TRY(dict_add(f, v->s, v->slen, iid));
            break;
        case VQE_TAGS: {
            const uint8_t *p = v->tags;
            for (uint32_t t = 0; t < v->n_tags; t++) {
                uint32_t l = rd32(p);
                VQ_TRY(dict_add(f, (const char *)p + 4, l, iid));
                p += 4 + l;
            }
            break;
        }
        default:
            break;
        }
    }
    return VQ_OK;
}

static int cmp_pair(const void *a, const void *b) {
    const vqe__numpair *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->iid < y->iid ? -1 : x->iid > y->iid;
}

int vqe__attrs_settle(vqe__attrs *a, uint32_t next_iid, int force) {
    for (unsigned i = 0; i < a->n; i++) {
        vqe__attr_field *f = &a->f[i];
        if (f->type != VQE_INT64 && f->type != VQE_DOUBLE) continue;
        uint32_t lo = f->sorted_upto;
        uint64_t tail = roaring_bitmap_range_cardinality(f->has, lo, next_iid);
        if (!tail || (!force && tail <= VQE_TAIL_MIN + f->n_sorted / 16)) {
            if (!tail) f->sorted_upto = next_iid;
            continue;
        }
        size_t n = f->n_sorted + (size_t)tail;
        vqe__numpair *m = vq_malloc(n * sizeof *m), *t = vq_malloc((size_t)tail * sizeof *t);
        if (!m || !t) {
            vq_free(m), vq_free(t);
            return VQ_ENOMEM;
        }
        size_t nt = 0;
        roaring_uint32_iterator_t *it = roaring_create_iterator(f->has);
        roaring_move_uint32_iterator_equalorlarger(it, lo);
        for (; it->has_value && it->current_value < next_iid; roaring_advance_uint32_iterator(it))
            t[nt++] = (vqe__numpair){f->keys[it->current_value], it->current_value};
        roaring_free_uint32_iterator(it);
        qsort(t, nt, sizeof *t, cmp_pair);
        size_t x = 0, y = 0, o = 0;
        while (x < f->n_sorted || y < nt)
            m[o++] = (y >= nt || (x < f->n_sorted && cmp_pair(&f->sorted[x], &t[y]) <= 0))
                         ? f->sorted[x++]
                         : t[y++];
        vq_free(t);
        vq_free(f->sorted);
        f->sorted = m;
        f->n_sorted = o;
        f->sorted_upto = next_iid;
    }
    return VQ_OK;
}

roaring_bitmap_t *vqe__attrs_eq_str(const vqe__attrs *a, unsigned field, const char *s) {
    const vqe__attr_field *f = &a->f[field];
    uint64_t idx;
    if (!vqe__hmap_get(&f->dict, s, strlen(s), &idx)) return roaring_bitmap_create();
    return roaring_bitmap_copy(f->bm[idx]);
}

roaring_bitmap_t *vqe__attrs_bool(const vqe__attrs *a, unsigned field, int v) {
    return roaring_bitmap_copy(v ? a->f[field].bt : a->f[field].bf);
}

typedef struct col_scan {
    const uint64_t *keys;
    uint64_t lo, hi;
    uint32_t end;
    roaring_bitmap_t *r;
    uint32_t buf[1024];
    size_t nb;
} col_scan;

static bool col_scan_one(uint32_t iid, void *arg) {
    col_scan *c = arg;
    if (iid >= c->end) return false;
    uint64_t k = c->keys[iid];
    if (k >= c->lo && k <= c->hi) {
        c->buf[c->nb++] = iid;
        if (c->nb == 1024) roaring_bitmap_add_many(c->r, c->nb, c->buf), c->nb = 0;
    }
    return true;
}

roaring_bitmap_t *vqe__attrs_range(const vqe__attrs *a, unsigned field, uint64_t lo, uint64_t hi,
                                   uint32_t next_iid) {
    const vqe__attr_field *f = &a->f[field];
    roaring_bitmap_t *r = roaring_bitmap_create();
    if (!r || lo > hi) return r;
    /* lower_bound of (lo, 0) in the sorted run */
    size_t l = 0, h = f->n_sorted;
    while (l < h) {
        size_t m = l + (h - l) / 2;
        if (f->sorted[m].key < lo)
            l = m + 1;
        else
            h = m;
    }
    uint32_t buf[1024];
    size_t nb = 0;
    /* upper end, to choose between the sorted run (ids in key order, random) and a scan of
     * the key column in id order (sequential, and builds the bitmap in order) */
    size_t u = l, uh = f->n_sorted;
    while (u < uh) {
        size_t m = u + (uh - u) / 2;
        if (f->sorted[m].key <= hi)
            u = m + 1;
        else
            uh = m;
    }
    if ((u - l) * 8 > f->n_sorted) {
        col_scan cs = {f->keys, lo, hi, next_iid, r, {0}, 0};
        roaring_iterate(f->has, col_scan_one, &cs);
        if (cs.nb) roaring_bitmap_add_many(r, cs.nb, cs.buf);
        return r;
    }
    /* The run's ids are in key order, i.e. random: sort them (LSD radix, 4 x 8 bits) so
     * the bitmap is built by appends; random inserts into CRoaring's array containers
     * cost a memmove each. */
    size_t m = u - l;
    uint32_t *ra = vq_malloc((m ? m : 1) * 4), *rt = vq_malloc((m ? m : 1) * 4);
    if (!ra || !rt) {
        vq_free(ra), vq_free(rt);
        roaring_bitmap_free(r);
        return NULL;
    }
    for (size_t i = 0; i < m; i++) ra[i] = f->sorted[l + i].iid;
    for (unsigned sh = 0; sh < 32; sh += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < m; i++) cnt[((ra[i] >> sh) & 255) + 1]++;
        for (int b = 0; b < 256; b++) cnt[b + 1] += cnt[b];
        for (size_t i = 0; i < m; i++) rt[cnt[(ra[i] >> sh) & 255]++] = ra[i];
        uint32_t *x = ra;
        ra = rt, rt = x;
    }
    roaring_bitmap_add_many(r, m, ra);
    vq_free(ra), vq_free(rt);
    /* the unsorted tail: ids in increasing order */
    if (f->sorted_upto < next_iid) {
        roaring_uint32_iterator_t *it = roaring_create_iterator(f->has);
        roaring_move_uint32_iterator_equalorlarger(it, f->sorted_upto);
        for (; it->has_value && it->current_value < next_iid; roaring_advance_uint32_iterator(it)) {
            uint64_t k = f->keys[it->current_value];
            if (k >= lo && k <= hi) {
                buf[nb++] = it->current_value;
                if (nb == 1024) roaring_bitmap_add_many(r, nb, buf), nb = 0;
            }
        }
        roaring_free_uint32_iterator(it);
    }
    if (nb) roaring_bitmap_add_many(r, nb, buf);
    return r;
}
