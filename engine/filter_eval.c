/* filter_eval.c — binding a filter tree to a schema and evaluating it to a CRoaring bitmap
 * of the live internal ids it allows, from the attribute indexes (attr_index.c).
 *
 * Numeric comparisons run on order-preserving keys (attr_index.c): every leaf becomes an
 * inclusive key interval [lo, hi]. An integer field compared with a decimal literal rounds
 * the bound inward (year > 2022.5 is year >= 2023), so `=` with a non-integral value
 * matches nothing rather than failing. AND intersects children in order and stops at the
 * first empty intermediate; NOT is live \ child; every result is intersected with live. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coll_internal.h"

static int field_index(const vqe_schema *s, const char *name) {
    for (unsigned i = 0; i < s->n_fields; i++)
        if (!strcmp(s->fields[i].name, name)) return (int)i;
    return -1;
}

static int is_num(const vqe_lit *l) { return l->kind == VQE_LIT_INT || l->kind == VQE_LIT_DOUBLE; }

static int bind_err(const vqe_filter *f, vq_err *err, const char *fmt, const char *a,
                    const char *b) {
    char field[96];
    snprintf(field, sizeof field, "filter:%u:%.60s", f->col, f->field ? f->field : "id");
    return vq_err_set(err, VQ_EINVAL, field, fmt, a, b);
}

int vqe_filter_bind(vqe_filter *f, const vqe_schema *s, vq_err *err) {
    VQ_FAIL_IF(!f, VQ_EINVAL, err, "filter", "NULL filter");
    switch (f->op) {
    case VQE_F_AND:
    case VQE_F_OR:
    case VQE_F_NOT:
        VQ_FAIL_IF(!f->n_kids || (f->op == VQE_F_NOT && f->n_kids != 1), VQ_EINVAL, err, "filter",
                   "%s node with %zu children", f->op == VQE_F_NOT ? "NOT" : "AND/OR", f->n_kids);
        for (size_t i = 0; i < f->n_kids; i++) VQ_TRY(vqe_filter_bind(f->kids[i], s, err));
        return VQ_OK;
    case VQE_F_ID_IN:
        VQ_FAIL_IF(!f->n_vals, VQ_EINVAL, err, "filter", "id IN with an empty list");
        for (size_t i = 0; i < f->n_vals; i++)
            if (!(f->vals[i].kind == VQE_LIT_STRING ||
                  (f->vals[i].kind == VQE_LIT_INT && f->vals[i].i >= 0)))
                return bind_err(f, err, "ids are non-negative integers or strings%s%s", "", "");
        return VQ_OK;
    default:
        break;
    }
    if (!f->field) return bind_err(f, err, "leaf without a field%s%s", "", "");
    int fi = field_index(s, f->field);
    if (fi < 0) return bind_err(f, err, "unknown field '%s'%s", f->field, "");
    f->field_idx = fi;
    vqe_type t = s->fields[fi].type;
    const char *tn = vqe_type_name(t);
    int num = t == VQE_INT64 || t == VQE_DOUBLE;
    if (t == VQE_TEXT)
        return bind_err(f, err, "text field '%s' cannot be filtered%s", f->field,
                        " (it is for keyword search)");
    if (t == VQE_SPARSE)
        return bind_err(f, err, "sparse field '%s' cannot be filtered%s", f->field,
                        " (it is for sparse search)");
    switch (f->op) {
    case VQE_F_EXISTS:
        return VQ_OK;
    case VQE_F_RANGE:
        if (!num) return bind_err(f, err, "range comparison on a %s field%s", tn, "");
        if ((f->has_lo && !is_num(&f->lo)) || (f->has_hi && !is_num(&f->hi)) ||
            (!f->has_lo && !f->has_hi))
            return bind_err(f, err, "range bounds must be numbers (field is %s)%s", tn, "");
        return VQ_OK;
    case VQE_F_EQ:
    case VQE_F_NE:
    case VQE_F_IN:
    case VQE_F_HAS_ANY:
    case VQE_F_HAS_ALL:
        if ((f->op == VQE_F_HAS_ANY || f->op == VQE_F_HAS_ALL) && t != VQE_TAGS)
            return bind_err(f, err, "HAS ANY/ALL needs a keyword[] field, not %s%s", tn, "");
        if (f->op == VQE_F_IN && t == VQE_BOOL)
            return bind_err(f, err, "IN on a %s field%s", tn, "");
        if (!f->n_vals) return bind_err(f, err, "empty value list%s%s", "", "");
        for (size_t i = 0; i < f->n_vals; i++) {
            const vqe_lit *l = &f->vals[i];
            int ok = num             ? is_num(l)
                     : t == VQE_BOOL ? l->kind == VQE_LIT_BOOL
                                     : l->kind == VQE_LIT_STRING;
            if (!ok) return bind_err(f, err, "value of the wrong type for a %s field%s", tn, "");
        }
        return VQ_OK;
    default:
        return bind_err(f, err, "unknown operator%s%s", "", "");
    }
}

/* Smallest (is_lo) or largest key the bound admits; 0 when no value can pass it. */
static int bound_key(vqe_type t, const vqe_lit *l, int is_lo, int incl, uint64_t *k) {
    if (t == VQE_INT64) {
        int64_t v;
        if (l->kind == VQE_LIT_INT) {
            v = l->i;
            if (!incl) {
                if (is_lo && v == INT64_MAX) return 0;
                if (!is_lo && v == INT64_MIN) return 0;
                v += is_lo ? 1 : -1;
            }
        } else {
            double x = l->d,
                   r = is_lo ? (incl ? ceil(x) : floor(x) + 1) : (incl ? floor(x) : ceil(x) - 1);
            if (r >= 9223372036854775808.0) {
                if (is_lo) return 0;
                v = INT64_MAX;
            } else if (r < -9223372036854775808.0) {
                if (!is_lo) return 0;
                v = INT64_MIN;
            } else {
                v = (int64_t)r;
            }
        }
        *k = vqe__num_key_i64(v);
        return 1;
    }
    double x = l->kind == VQE_LIT_INT ? (double)l->i : l->d;
    uint64_t key = vqe__num_key_f64(x);
    if (!incl) {
        if (is_lo && key == UINT64_MAX) return 0;
        if (!is_lo && key == 0) return 0;
        /* -0 and +0 share a key, so stepping from it skips no value */
        key += is_lo ? 1 : (uint64_t)-1;
    }
    *k = key;
    return 1;
}

static roaring_bitmap_t *num_range(const vqe_collection *c, int fi, const vqe_lit *lo, int lo_incl,
                                   const vqe_lit *hi, int hi_incl) {
    vqe_type t = c->schema.fields[fi].type;
    uint64_t a = 0, b = UINT64_MAX;
    if ((lo && !bound_key(t, lo, 1, lo_incl, &a)) || (hi && !bound_key(t, hi, 0, hi_incl, &b)))
        return roaring_bitmap_create();
    return vqe__attrs_range(&c->attrs, (unsigned)fi, a, b, c->next_iid);
}

static roaring_bitmap_t *eq_one(const vqe_collection *c, int fi, const vqe_lit *l) {
    switch (c->schema.fields[fi].type) {
    case VQE_INT64:
    case VQE_DOUBLE:
        return num_range(c, fi, l, 1, l, 1);
    case VQE_BOOL:
        return vqe__attrs_bool(&c->attrs, (unsigned)fi, (int)l->i);
    default:
        return vqe__attrs_eq_str(&c->attrs, (unsigned)fi, l->s);
    }
}

static roaring_bitmap_t *eval(const vqe_collection *c, const vqe_filter *f) {
    roaring_bitmap_t *r = NULL;
    switch (f->op) {
    case VQE_F_AND:
        for (size_t i = 0; i < f->n_kids; i++) {
            roaring_bitmap_t *k = eval(c, f->kids[i]);
            if (!k) goto oom;
            if (!r) {
                r = k;
            } else {
                roaring_bitmap_and_inplace(r, k);
                roaring_bitmap_free(k);
            }
            if (roaring_bitmap_is_empty(r)) break;
        }
        return r;
    case VQE_F_OR:
        if (!(r = roaring_bitmap_create())) return NULL;
        for (size_t i = 0; i < f->n_kids; i++) {
            roaring_bitmap_t *k = eval(c, f->kids[i]);
            if (!k) goto oom;
            roaring_bitmap_or_inplace(r, k);
            roaring_bitmap_free(k);
        }
        return r;
    case VQE_F_NOT: {
        roaring_bitmap_t *k = eval(c, f->kids[0]);
        if (!k) return NULL;
        r = roaring_bitmap_andnot(c->live, k);
        roaring_bitmap_free(k);
        return r;
    }
    case VQE_F_EXISTS:
        return roaring_bitmap_copy(c->attrs.f[f->field_idx].has);
    case VQE_F_RANGE:
        return num_range(c, f->field_idx, f->has_lo ? &f->lo : NULL, f->lo_incl,
                         f->has_hi ? &f->hi : NULL, f->hi_incl);
    case VQE_F_EQ:
        if (c->schema.fields[f->field_idx].type == VQE_TAGS) goto any;
        return eq_one(c, f->field_idx, &f->vals[0]);
    case VQE_F_NE: {
        roaring_bitmap_t *k =
            c->schema.fields[f->field_idx].type == VQE_TAGS
                ? vqe__attrs_eq_str(&c->attrs, (unsigned)f->field_idx, f->vals[0].s)
                : eq_one(c, f->field_idx, &f->vals[0]);
        if (!k) return NULL;
        r = roaring_bitmap_andnot(c->attrs.f[f->field_idx].has, k);
        roaring_bitmap_free(k);
        return r;
    }
    case VQE_F_IN:
    case VQE_F_HAS_ANY:
    any:
        if (!(r = roaring_bitmap_create())) return NULL;
        for (size_t i = 0; i < f->n_vals; i++) {
            roaring_bitmap_t *k =
                c->schema.fields[f->field_idx].type == VQE_TAGS
                    ? vqe__attrs_eq_str(&c->attrs, (unsigned)f->field_idx, f->vals[i].s)
                    : eq_one(c, f->field_idx, &f->vals[i]);
            if (!k) goto oom;
            roaring_bitmap_or_inplace(r, k);
            roaring_bitmap_free(k);
        }
        return r;
    case VQE_F_HAS_ALL:
        for (size_t i = 0; i < f->n_vals; i++) {
            roaring_bitmap_t *k =
                vqe__attrs_eq_str(&c->attrs, (unsigned)f->field_idx, f->vals[i].s);
            if (!k) goto oom;
            if (!r) {
                r = k;
            } else {
                roaring_bitmap_and_inplace(r, k);
                roaring_bitmap_free(k);
            }
        }
        return r;
    case VQE_F_ID_IN:
        if (!(r = roaring_bitmap_create())) return NULL;
        for (size_t i = 0; i < f->n_vals; i++) {
            vqe_id id = f->vals[i].kind == VQE_LIT_STRING ? (vqe_id){.is_str = 1, .s = f->vals[i].s}
                                                          : (vqe_id){.u = (uint64_t)f->vals[i].i};
            uint8_t key[VQE_STRING_MAX + 1];
            size_t kl = vqe__id_encode(&id, key, sizeof key);
            uint64_t iid;
            if (kl && vqe__hmap_get(&c->ids, key, kl, &iid)) roaring_bitmap_add(r, (uint32_t)iid);
        }
        return r;
    }
    return NULL;
oom:
    if (r) roaring_bitmap_free(r);
    return NULL;
}

int vqe__filter_eval(const vqe_collection *c, const vqe_filter *f, roaring_bitmap_t **out,
                     vq_err *err) {
    roaring_bitmap_t *r = eval(c, f);
    VQ_FAIL_IF(!r, VQ_ENOMEM, err, "filter", "out of memory evaluating the filter");
    roaring_bitmap_and_inplace(r, c->live);
    *out = r;
    return VQ_OK;
}
