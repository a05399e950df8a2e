/* convert.c — see convert.h. Limits enforced here (beyond the engine's): ids are one of
 * num/str with 1..VQE_STRING_MAX bytes, vectors have exactly `dim` values, filters nest at
 * most VQE_FILTER_MAX_DEPTH deep. */
#include "convert.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vqr__schema_from_pb(const Vqdb__V1__CollectionSchema *pb, const char *default_spec,
                        vqe_schema *s, vq_err *err) {
    vqe_schema_default(s);
    VQ_FAIL_IF(!pb->name || !*pb->name || strlen(pb->name) >= VQE_NAME_MAX, VQ_EINVAL, err,
               "schema.name", "collection name must have 1..%u characters", VQE_NAME_MAX - 1);
    snprintf(s->name, sizeof s->name, "%s", pb->name);
    s->dim = pb->dimension;
    switch (pb->metric) {
    case VQDB__V1__METRIC__L2:
        s->metric = VQ_METRIC_L2;
        break;
    case VQDB__V1__METRIC__IP:
        s->metric = VQ_METRIC_IP;
        break;
    case VQDB__V1__METRIC__COSINE:
        s->metric = VQ_METRIC_COS;
        break;
    default:
        return vq_err_set(err, VQ_EINVAL, "schema.metric", "metric must be L2, IP or COSINE");
    }
    const char *spec = pb->index_spec && *pb->index_spec ? pb->index_spec : default_spec;
    VQ_FAIL_IF(strlen(spec) >= sizeof s->index_spec, VQ_EINVAL, err, "schema.index_spec",
               "index spec longer than %zu characters", sizeof s->index_spec - 1);
    snprintf(s->index_spec, sizeof s->index_spec, "%s", spec);
    VQ_FAIL_IF(pb->n_fields > VQE_FIELDS_MAX, VQ_EINVAL, err, "schema.fields",
               "%zu fields; at most %u", pb->n_fields, VQE_FIELDS_MAX);
    for (size_t i = 0; i < pb->n_fields; i++) {
        const Vqdb__V1__FieldSchema *f = pb->fields[i];
        char fld[64];
        snprintf(fld, sizeof fld, "schema.fields[%zu]", i);
        VQ_FAIL_IF(!f->name || !*f->name || strlen(f->name) >= VQE_NAME_MAX, VQ_EINVAL, err, fld,
                   "field name must have 1..%u characters", VQE_NAME_MAX - 1);
        vqe_type t;
        switch (f->type) {
        case VQDB__V1__FIELD_TYPE__INT64:
            t = VQE_INT64;
            break;
        case VQDB__V1__FIELD_TYPE__DOUBLE:
            t = VQE_DOUBLE;
            break;
        case VQDB__V1__FIELD_TYPE__BOOL:
            t = VQE_BOOL;
            break;
        case VQDB__V1__FIELD_TYPE__KEYWORD:
            t = VQE_KEYWORD;
            break;
        case VQDB__V1__FIELD_TYPE__KEYWORD_LIST:
            t = VQE_TAGS;
            break;
        case VQDB__V1__FIELD_TYPE__TEXT:
            t = VQE_TEXT;
            break;
        case VQDB__V1__FIELD_TYPE__SPARSE:
            t = VQE_SPARSE;
            break;
        default:
            return vq_err_set(err, VQ_EINVAL, fld, "field '%s' has no type", f->name);
        }
        snprintf(s->fields[s->n_fields].name, VQE_NAME_MAX, "%s", f->name);
        s->fields[s->n_fields].type = t;
        s->n_fields++;
    }
    s->durability =
        pb->durability == VQDB__V1__DURABILITY__GROUP ? VQE_DURABLE_GROUP : VQE_DURABLE_SYNC;
    if (pb->group_commit_ms) s->group_ms = pb->group_commit_ms;
    return vqe_schema_validate(s, err);
}

int vqr__info_to_pb(vqe_collection *c, Vqdb__V1__CollectionInfo *info, vqr__info_mem *m,
                    vq_err *err) {
    (void)err;
    vqe_collection_info ci;
    vqe_collection_info_get(c, &ci);
    memset(m, 0, sizeof *m);
    vqdb__v1__collection_schema__init(&m->schema);
    snprintf(m->name, sizeof m->name, "%s", ci.schema.name);
    snprintf(m->spec, sizeof m->spec, "%s", ci.schema.index_spec);
    m->schema.name = m->name;
    m->schema.dimension = ci.schema.dim;
    m->schema.metric = ci.schema.metric == VQ_METRIC_L2   ? VQDB__V1__METRIC__L2
                       : ci.schema.metric == VQ_METRIC_IP ? VQDB__V1__METRIC__IP
                                                          : VQDB__V1__METRIC__COSINE;
    m->schema.index_spec = m->spec;
    for (unsigned i = 0; i < ci.schema.n_fields; i++) {
        vqdb__v1__field_schema__init(&m->fields[i]);
        snprintf(m->fnames[i], VQE_NAME_MAX, "%s", ci.schema.fields[i].name);
        m->fields[i].name = m->fnames[i];
        static const Vqdb__V1__FieldType map[] = {[VQE_INT64] = VQDB__V1__FIELD_TYPE__INT64,
                                                  [VQE_DOUBLE] = VQDB__V1__FIELD_TYPE__DOUBLE,
                                                  [VQE_BOOL] = VQDB__V1__FIELD_TYPE__BOOL,
                                                  [VQE_KEYWORD] = VQDB__V1__FIELD_TYPE__KEYWORD,
                                                  [VQE_TAGS] = VQDB__V1__FIELD_TYPE__KEYWORD_LIST,
                                                  [VQE_TEXT] = VQDB__V1__FIELD_TYPE__TEXT,
                                                  [VQE_SPARSE] = VQDB__V1__FIELD_TYPE__SPARSE};
        m->fields[i].type = map[ci.schema.fields[i].type];
        m->fptrs[i] = &m->fields[i];
    }
    m->schema.n_fields = ci.schema.n_fields;
    m->schema.fields = m->fptrs;
    m->schema.durability = ci.schema.durability == VQE_DURABLE_GROUP ? VQDB__V1__DURABILITY__GROUP
                                                                     : VQDB__V1__DURABILITY__SYNC;
    m->schema.group_commit_ms = ci.schema.group_ms;
    info->schema = &m->schema;
    info->count = ci.count;
    info->deleted = ci.next_internal > ci.count ? ci.next_internal - ci.count : 0;
    info->state = (char *)"ready";
    return VQ_OK;
}

void vqr__info_mem_free(vqr__info_mem *m) { (void)m; }

int vqr__ids_from_pb(Vqdb__V1__Id **ids, size_t n, const char *field, vqe_id *out, vq_err *err) {
    for (size_t i = 0; i < n; i++) {
        char fld[64];
        snprintf(fld, sizeof fld, "%s[%zu]", field, i);
        const Vqdb__V1__Id *id = ids[i];
        if (id->kind_case == VQDB__V1__ID__KIND_NUM) {
            out[i] = (vqe_id){.is_str = 0, .u = id->num};
        } else if (id->kind_case == VQDB__V1__ID__KIND_STR) {
            size_t l = strlen(id->str);
            VQ_FAIL_IF(l == 0 || l > VQE_STRING_MAX, VQ_EINVAL, err, fld,
                       "string id must have 1..%d bytes", VQE_STRING_MAX);
            out[i] = (vqe_id){.is_str = 1, .s = id->str};
        } else {
            return vq_err_set(err, VQ_EINVAL, fld, "id has neither num nor str");
        }
    }
    return VQ_OK;
}

int vqr__records_from_pb(vqe_collection *c, Vqdb__V1__Point **pts, size_t n, vqr__records *out,
                         vq_err *err) {
    memset(out, 0, sizeof *out);
    VQ_FAIL_IF(n == 0, VQ_EINVAL, err, "points", "no points in the request");
    VQ_FAIL_IF(n > VQE_BATCH_MAX, VQ_EINVAL, err, "points", "%zu points; at most %d per request", n,
               VQE_BATCH_MAX);
    vqe_collection_info ci;
    vqe_collection_info_get(c, &ci);
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) nv += pts[i]->n_attributes;
    out->recs = calloc(n, sizeof *out->recs);
    out->vals = calloc(nv ? nv : 1, sizeof *out->vals);
    VQ_FAIL_IF(!out->recs || !out->vals, VQ_ENOMEM, err, "points", "out of memory");
    out->n = n;
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        const Vqdb__V1__Point *p = pts[i];
        char fld[96];
        snprintf(fld, sizeof fld, "points[%zu].id", i);
        VQ_FAIL_IF(!p->id, VQ_EINVAL, err, fld, "point has no id");
        VQ_TRY(vqr__ids_from_pb((Vqdb__V1__Id **)&p->id, 1, fld, &out->recs[i].id, err));
        snprintf(fld, sizeof fld, "points[%zu].vector", i);
        /* The engine takes `dim` floats on trust: the length is checked here. */
        VQ_FAIL_IF(p->n_vector != ci.schema.dim, VQ_EDIM, err, fld,
                   "vector has %zu values, collection '%s' has dimension %u", p->n_vector,
                   ci.schema.name, ci.schema.dim);
        out->recs[i].vector = p->vector;
        out->recs[i].values = out->vals + v;
        for (size_t a = 0; a < p->n_attributes; a++, v++) {
            const Vqdb__V1__Point__AttributesEntry *e = p->attributes[a];
            vqe_value *x = &out->vals[v];
            snprintf(fld, sizeof fld, "points[%zu].attributes.%s", i, e->key ? e->key : "");
            VQ_FAIL_IF(!e->value, VQ_EINVAL, err, fld, "attribute has no value");
            x->field = e->key;
            switch (e->value->kind_case) {
            case VQDB__V1__VALUE__KIND_INT_VALUE:
                x->type = VQE_INT64, x->i = e->value->int_value;
                break;
            case VQDB__V1__VALUE__KIND_DOUBLE_VALUE:
                x->type = VQE_DOUBLE, x->d = e->value->double_value;
                VQ_FAIL_IF(!isfinite(x->d), VQ_ENOTFINITE, err, fld, "value is not finite");
                break;
            case VQDB__V1__VALUE__KIND_BOOL_VALUE:
                x->type = VQE_BOOL, x->b = e->value->bool_value;
                break;
            case VQDB__V1__VALUE__KIND_KEYWORD_VALUE:
                x->type = VQE_KEYWORD, x->s = e->value->keyword_value;
                break;
            case VQDB__V1__VALUE__KIND_TEXT_VALUE:
                x->type = VQE_TEXT, x->s = e->value->text_value;
                break;
            case VQDB__V1__VALUE__KIND_KEYWORDS_VALUE:
                x->type = VQE_TAGS;
                x->tags = (const char *const *)e->value->keywords_value->values;
                x->n_tags = e->value->keywords_value->n_values;
                break;
            case VQDB__V1__VALUE__KIND_SPARSE_VALUE: {
                const Vqdb__V1__SparseVector *sv = e->value->sparse_value;
                VQ_FAIL_IF(!sv || sv->n_indices != sv->n_values, VQ_EINVAL, err, fld,
                           "sparse value needs as many values as indices (%zu indices, %zu "
                           "values)",
                           sv ? sv->n_indices : 0, sv ? sv->n_values : 0);
                x->type = VQE_SPARSE;
                x->sparse_indices = sv->indices;
                x->sparse_values = sv->values;
                x->n_sparse = sv->n_indices;
                break;
            }
            default:
                return vq_err_set(err, VQ_EINVAL, fld, "value has no kind");
            }
        }
        out->recs[i].n_values = p->n_attributes;
    }
    return VQ_OK;
}

void vqr__records_free(vqr__records *r) {
    free(r->recs);
    free(r->vals);
    memset(r, 0, sizeof *r);
}

/* ---- Get replies ---- */

typedef struct blk {
    struct blk *next;
    max_align_t data[];
} blk;
static void *arena(vqr__points *p, size_t n) {
    blk *b = calloc(1, sizeof *b + n);
    if (!b) return NULL;
    b->next = p->mem;
    p->mem = b;
    return b->data;
}

static char *arena_str(vqr__points *p, const char *s) {
    size_t l = strlen(s);
    char *d = arena(p, l + 1);
    if (d) memcpy(d, s, l + 1);
    return d;
}

int vqr__points_from_got(vqe_collection *c, Vqdb__V1__Id **ids, const vqe_got *got, size_t n,
                         int with_vectors, vqr__points *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    vqe_collection_info ci;
    vqe_collection_info_get(c, &ci);
    out->ptrs = arena(out, (n ? n : 1) * sizeof *out->ptrs);
    VQ_FAIL_IF(!out->ptrs, VQ_ENOMEM, err, "response", "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!got[i].found) continue;
        Vqdb__V1__Point *p = arena(out, sizeof *p);
        Vqdb__V1__Id *id = arena(out, sizeof *id);
        VQ_FAIL_IF(!p || !id, VQ_ENOMEM, err, "response", "out of memory");
        vqdb__v1__point__init(p);
        vqdb__v1__id__init(id);
        id->kind_case = ids[i]->kind_case;
        if (id->kind_case == VQDB__V1__ID__KIND_NUM)
            id->num = ids[i]->num;
        else
            id->str = arena_str(out, ids[i]->str);
        p->id = id;
        if (with_vectors) {
            p->vector = arena(out, ci.schema.dim * sizeof(float));
            VQ_FAIL_IF(!p->vector, VQ_ENOMEM, err, "response", "out of memory");
            memcpy(p->vector, got[i].vector, ci.schema.dim * sizeof(float));
            p->n_vector = ci.schema.dim;
        }
        cJSON *j = got[i].attrs_json ? cJSON_Parse(got[i].attrs_json) : NULL;
        size_t na = j ? (size_t)cJSON_GetArraySize(j) : 0;
        p->attributes = arena(out, (na ? na : 1) * sizeof *p->attributes);
        for (cJSON *e = j ? j->child : NULL; e && p->attributes; e = e->next) {
            Vqdb__V1__Point__AttributesEntry *ent = arena(out, sizeof *ent);
            Vqdb__V1__Value *val = arena(out, sizeof *val);
            if (!ent || !val) break;
            vqdb__v1__point__attributes_entry__init(ent);
            vqdb__v1__value__init(val);
            ent->key = arena_str(out, e->string);
            vqe_type t = VQE_KEYWORD;
            for (unsigned f = 0; f < ci.schema.n_fields; f++)
                if (!strcmp(ci.schema.fields[f].name, e->string)) t = ci.schema.fields[f].type;
            if (cJSON_IsBool(e)) {
                val->kind_case = VQDB__V1__VALUE__KIND_BOOL_VALUE;
                val->bool_value = cJSON_IsTrue(e);
            } else if (cJSON_IsNumber(e)) {
                if (t == VQE_INT64) {
                    val->kind_case = VQDB__V1__VALUE__KIND_INT_VALUE;
                    val->int_value = (int64_t)e->valuedouble;
                } else {
                    val->kind_case = VQDB__V1__VALUE__KIND_DOUBLE_VALUE;
                    val->double_value = e->valuedouble;
                }
            } else if (cJSON_IsString(e)) {
                val->kind_case = t == VQE_TEXT ? VQDB__V1__VALUE__KIND_TEXT_VALUE
                                               : VQDB__V1__VALUE__KIND_KEYWORD_VALUE;
                char *s = arena_str(out, e->valuestring);
                if (t == VQE_TEXT)
                    val->text_value = s;
                else
                    val->keyword_value = s;
            } else if (cJSON_IsObject(e) && t == VQE_SPARSE) {
                const cJSON *ix = cJSON_GetObjectItemCaseSensitive(e, "indices"),
                            *vx = cJSON_GetObjectItemCaseSensitive(e, "values");
                Vqdb__V1__SparseVector *sv = arena(out, sizeof *sv);
                size_t m = cJSON_IsArray(ix) ? (size_t)cJSON_GetArraySize(ix) : 0;
                if (!sv || !cJSON_IsArray(vx) || (size_t)cJSON_GetArraySize(vx) != m) break;
                vqdb__v1__sparse_vector__init(sv);
                sv->indices = arena(out, (m ? m : 1) * sizeof *sv->indices);
                sv->values = arena(out, (m ? m : 1) * sizeof *sv->values);
                if (!sv->indices || !sv->values) break;
                const cJSON *a = ix->child, *b = vx->child;
                for (; a && b; a = a->next, b = b->next) {
                    sv->indices[sv->n_indices++] = (uint32_t)a->valuedouble;
                    sv->values[sv->n_values++] = (float)b->valuedouble;
                }
                val->kind_case = VQDB__V1__VALUE__KIND_SPARSE_VALUE;
                val->sparse_value = sv;
            } else if (cJSON_IsArray(e)) {
                Vqdb__V1__StringList *sl = arena(out, sizeof *sl);
                size_t nt = (size_t)cJSON_GetArraySize(e);
                if (!sl) break;
                vqdb__v1__string_list__init(sl);
                sl->values = arena(out, (nt ? nt : 1) * sizeof(char *));
                for (cJSON *x = e->child; x && sl->values; x = x->next)
                    if (cJSON_IsString(x))
                        sl->values[sl->n_values++] = arena_str(out, x->valuestring);
                val->kind_case = VQDB__V1__VALUE__KIND_KEYWORDS_VALUE;
                val->keywords_value = sl;
            } else {
                continue;
            }
            ent->value = val;
            p->attributes[p->n_attributes++] = ent;
        }
        cJSON_Delete(j);
        out->ptrs[out->n++] = p;
    }
    return VQ_OK;
}

void vqr__points_free(vqr__points *p) {
    blk *b = p->mem;
    while (b) {
        blk *nx = b->next;
        free(b);
        b = nx;
    }
    memset(p, 0, sizeof *p);
}

/* ---- filters ---- */

static int lit_from_value(const Vqdb__V1__Value *v, const char *fld, vqe_lit *l, vq_err *err) {
    memset(l, 0, sizeof *l);
    VQ_FAIL_IF(!v, VQ_EINVAL, err, fld, "missing value");
    switch (v->kind_case) {
    case VQDB__V1__VALUE__KIND_INT_VALUE:
        l->kind = VQE_LIT_INT, l->i = v->int_value;
        break;
    case VQDB__V1__VALUE__KIND_DOUBLE_VALUE:
        VQ_FAIL_IF(!isfinite(v->double_value), VQ_ENOTFINITE, err, fld, "value is not finite");
        l->kind = VQE_LIT_DOUBLE, l->d = v->double_value;
        break;
    case VQDB__V1__VALUE__KIND_BOOL_VALUE:
        l->kind = VQE_LIT_BOOL, l->i = v->bool_value;
        break;
    case VQDB__V1__VALUE__KIND_KEYWORD_VALUE:
        l->kind = VQE_LIT_STRING, l->s = v->keyword_value;
        break;
    default:
        return vq_err_set(err, VQ_EINVAL, fld, "value must be int, double, bool or keyword");
    }
    return VQ_OK;
}

static int build(const Vqdb__V1__Filter *f, const vqe_schema *s, int depth, const char *path,
                 vqe_filter **out, vq_err *err) {
    VQ_FAIL_IF(depth > VQE_FILTER_MAX_DEPTH, VQ_EINVAL, err, path, "filter nests deeper than %d",
               VQE_FILTER_MAX_DEPTH);
    char fld[128];
    vqe_filter *n = NULL;
    int rc = VQ_OK;
    switch (f->node_case) {
    case VQDB__V1__FILTER__NODE_AND:
    case VQDB__V1__FILTER__NODE_OR: {
        const Vqdb__V1__FilterList *l =
            f->node_case == VQDB__V1__FILTER__NODE_AND ? f->and_ : f->or_;
        VQ_FAIL_IF(!l || !l->n_items, VQ_EINVAL, err, path, "AND/OR needs at least one item");
        n = vqe_filter_node(f->node_case == VQDB__V1__FILTER__NODE_AND ? VQE_F_AND : VQE_F_OR,
                            NULL);
        for (size_t i = 0; n && rc == VQ_OK && i < l->n_items; i++) {
            vqe_filter *kid;
            snprintf(fld, sizeof fld, "%s.items[%zu]", path, i);
            rc = build(l->items[i], s, depth + 1, fld, &kid, err);
            if (rc == VQ_OK && vqe_filter_add_kid(n, kid) < 0) rc = VQ_ENOMEM;
        }
        break;
    }
    case VQDB__V1__FILTER__NODE_NOT: {
        vqe_filter *kid;
        snprintf(fld, sizeof fld, "%s.not", path);
        VQ_TRY(build(f->not_, s, depth + 1, fld, &kid, err));
        n = vqe_filter_node(VQE_F_NOT, NULL);
        if (n && vqe_filter_add_kid(n, kid) < 0) rc = VQ_ENOMEM;
        if (!n) vqe_filter_free(kid);
        break;
    }
    case VQDB__V1__FILTER__NODE_CMP: {
        snprintf(fld, sizeof fld, "%s.cmp", path);
        VQ_FAIL_IF(!f->cmp->field || !*f->cmp->field, VQ_EINVAL, err, fld, "field is empty");
        vqe_lit l;
        VQ_TRY(lit_from_value(f->cmp->value, fld, &l, err));
        n = vqe_filter_node(f->cmp->op == VQDB__V1__COMPARISON__OP__NE ? VQE_F_NE : VQE_F_EQ,
                            f->cmp->field);
        if (n && vqe_filter_add_lit(n, l) < 0) rc = VQ_ENOMEM;
        break;
    }
    case VQDB__V1__FILTER__NODE_RANGE: {
        const Vqdb__V1__Range *r = f->range;
        snprintf(fld, sizeof fld, "%s.range", path);
        VQ_FAIL_IF(!r->field || !*r->field, VQ_EINVAL, err, fld, "field is empty");
        VQ_FAIL_IF((r->gte && r->gt) || (r->lte && r->lt), VQ_EINVAL, err, fld,
                   "give at most one lower and one upper bound");
        n = vqe_filter_node(VQE_F_RANGE, r->field);
        if (!n) break;
        const Vqdb__V1__Bound *lo = r->gte ? r->gte : r->gt, *hi = r->lte ? r->lte : r->lt;
        int is_int = 0;
        for (unsigned i = 0; i < s->n_fields; i++)
            if (!strcmp(s->fields[i].name, r->field)) is_int = s->fields[i].type == VQE_INT64;
        if (lo) {
            VQ_FAIL_IF(!isfinite(lo->value), VQ_ENOTFINITE, err, fld, "bound is not finite");
            n->has_lo = 1, n->lo_incl = r->gte != NULL;
            if (is_int && lo->value == floor(lo->value) && fabs(lo->value) < 9e15)
                n->lo = (vqe_lit){.kind = VQE_LIT_INT, .i = (int64_t)lo->value};
            else
                n->lo = (vqe_lit){.kind = VQE_LIT_DOUBLE, .d = lo->value};
        }
        if (hi) {
            VQ_FAIL_IF(!isfinite(hi->value), VQ_ENOTFINITE, err, fld, "bound is not finite");
            n->has_hi = 1, n->hi_incl = r->lte != NULL;
            if (is_int && hi->value == floor(hi->value) && fabs(hi->value) < 9e15)
                n->hi = (vqe_lit){.kind = VQE_LIT_INT, .i = (int64_t)hi->value};
            else
                n->hi = (vqe_lit){.kind = VQE_LIT_DOUBLE, .d = hi->value};
        }
        break;
    }
    case VQDB__V1__FILTER__NODE_IN: {
        snprintf(fld, sizeof fld, "%s.in", path);
        VQ_FAIL_IF(!f->in->field || !*f->in->field || !f->in->n_values, VQ_EINVAL, err, fld,
                   "IN needs a field and at least one value");
        n = vqe_filter_node(VQE_F_IN, f->in->field);
        for (size_t i = 0; n && rc == VQ_OK && i < f->in->n_values; i++) {
            vqe_lit l;
            rc = lit_from_value(f->in->values[i], fld, &l, err);
            if (rc == VQ_OK && vqe_filter_add_lit(n, l) < 0) rc = VQ_ENOMEM;
        }
        break;
    }
    case VQDB__V1__FILTER__NODE_HAS: {
        snprintf(fld, sizeof fld, "%s.has", path);
        VQ_FAIL_IF(!f->has->field || !*f->has->field || !f->has->n_tags, VQ_EINVAL, err, fld,
                   "HAS needs a field and at least one tag");
        n = vqe_filter_node(f->has->all ? VQE_F_HAS_ALL : VQE_F_HAS_ANY, f->has->field);
        for (size_t i = 0; n && rc == VQ_OK && i < f->has->n_tags; i++)
            if (vqe_filter_add_lit(n, (vqe_lit){.kind = VQE_LIT_STRING, .s = f->has->tags[i]}) < 0)
                rc = VQ_ENOMEM;
        break;
    }
    case VQDB__V1__FILTER__NODE_IDS: {
        snprintf(fld, sizeof fld, "%s.ids", path);
        VQ_FAIL_IF(!f->ids->n_ids, VQ_EINVAL, err, fld, "id set is empty");
        n = vqe_filter_node(VQE_F_ID_IN, NULL);
        for (size_t i = 0; n && rc == VQ_OK && i < f->ids->n_ids; i++) {
            const Vqdb__V1__Id *id = f->ids->ids[i];
            vqe_lit l = id->kind_case == VQDB__V1__ID__KIND_STR
                            ? (vqe_lit){.kind = VQE_LIT_STRING, .s = id->str}
                            : (vqe_lit){.kind = VQE_LIT_INT, .i = (int64_t)id->num};
            if (id->kind_case == VQDB__V1__ID__KIND__NOT_SET)
                rc = vq_err_set(err, VQ_EINVAL, fld, "id has neither num nor str");
            else if (vqe_filter_add_lit(n, l) < 0)
                rc = VQ_ENOMEM;
        }
        break;
    }
    case VQDB__V1__FILTER__NODE_EXISTS:
        snprintf(fld, sizeof fld, "%s.exists", path);
        VQ_FAIL_IF(!*f->exists, VQ_EINVAL, err, fld, "field is empty");
        n = vqe_filter_node(VQE_F_EXISTS, f->exists);
        break;
    case VQDB__V1__FILTER__NODE_TEXT:
        VQ_FAIL_IF(depth, VQ_EINVAL, err, path, "a text filter must be the whole filter");
        return vqe_filter_parse(f->text, out, err);
    default:
        return vq_err_set(err, VQ_EINVAL, path, "filter node is empty");
    }
    if (!n || rc == VQ_ENOMEM) {
        vqe_filter_free(n);
        return vq_err_set(err, VQ_ENOMEM, path, "out of memory");
    }
    if (rc < 0) {
        vqe_filter_free(n);
        return rc;
    }
    *out = n;
    return VQ_OK;
}

int vqr__filter_from_pb(const Vqdb__V1__Filter *f, const vqe_schema *s, vqe_filter **out,
                        vq_err *err) {
    vqe_filter *t;
    VQ_TRY(build(f, s, 0, "filter", &t, err));
    int rc = vqe_filter_bind(t, s, err);
    if (rc < 0) {
        vqe_filter_free(t);
        return rc;
    }
    *out = t;
    return VQ_OK;
}

/* ---- search results ---- */

int vqr__hits_alloc(vqr__hits *h, unsigned k, vq_err *err) {
    memset(h, 0, sizeof *h);
    h->k = k;
    h->hits = calloc(k, sizeof *h->hits);
    h->sp = calloc(k, sizeof *h->sp);
    h->ptrs = calloc(k, sizeof *h->ptrs);
    h->ids = calloc(k, sizeof *h->ids);
    h->strs = calloc(k, sizeof *h->strs);
    VQ_FAIL_IF(!h->hits || !h->sp || !h->ptrs || !h->ids || !h->strs, VQ_ENOMEM, err, "k",
               "out of memory for %u results", k);
    return VQ_OK;
}

int vqr__hits_to_pb(vqr__hits *h, size_t n, vq_metric metric, const char *plan, unsigned ef,
                    Vqdb__V1__SearchResponse *out, vq_err *err) {
    for (size_t i = 0; i < n; i++) {
        vqdb__v1__scored_point__init(&h->sp[i]);
        vqdb__v1__id__init(&h->ids[i]);
        if (h->hits[i].id.is_str) {
            h->strs[i] = strdup(h->hits[i].id.s);
            VQ_FAIL_IF(!h->strs[i], VQ_ENOMEM, err, "response", "out of memory");
            h->ids[i].kind_case = VQDB__V1__ID__KIND_STR;
            h->ids[i].str = h->strs[i];
        } else {
            h->ids[i].kind_case = VQDB__V1__ID__KIND_NUM;
            h->ids[i].num = h->hits[i].id.u;
        }
        h->sp[i].id = &h->ids[i];
        /* The engine returns distances; the API returns similarities for IP and cosine. */
        h->sp[i].score = metric == VQ_METRIC_L2   ? h->hits[i].score
                         : metric == VQ_METRIC_IP ? -h->hits[i].score
                                                  : 1.0f - h->hits[i].score; /* 1 - cos */
        h->ptrs[i] = &h->sp[i];
    }
    snprintf(h->plan, sizeof h->plan, "%s ef=%u", plan, ef);
    out->n_results = n;
    out->results = h->ptrs;
    out->plan = h->plan;
    return VQ_OK;
}

void vqr__hits_free(vqr__hits *h) {
    if (h->strs)
        for (unsigned i = 0; i < h->k; i++) free(h->strs[i]);
    free(h->hits);
    free(h->sp);
    free(h->ptrs);
    free(h->ids);
    free(h->strs);
    memset(h, 0, sizeof *h);
}
