/* schema.c — collection schemas: defaults, validation, and the JSON form kept in the meta
 * column family ({"name", "dim", "metric", "index", "durability", "group_ms", "fields"}) and
 * read from schema files ({"fields": {"tenant": "int64", ...}}). Field order is the order of
 * the JSON object and is part of the on-disk attribute encoding, so it never changes after
 * creation. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "quant.h"

static const char *const type_names[] = {NULL,      "int64",     "double", "bool",
                                         "keyword", "keyword[]", "text",   "sparse"};

const char *vqe_type_name(vqe_type t) {
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : NULL;
}

int vqe_type_parse(const char *s, vqe_type *out) {
    for (unsigned i = 1; i < sizeof type_names / sizeof *type_names; i++)
        if (!strcmp(s, type_names[i])) {
            *out = (vqe_type)i;
            return VQ_OK;
        }
    if (!strcmp(s, "tags")) return *out = VQE_TAGS, VQ_OK;
    return VQ_EINVAL;
}

void vqe_schema_default(vqe_schema *s) {
    memset(s, 0, sizeof *s);
    s->metric = VQ_METRIC_L2;
    snprintf(s->index_spec, sizeof s->index_spec, "flat/f32");
    s->durability = VQE_DURABLE_SYNC;
    s->group_ms = VQE_GROUP_MS_DEFAULT;
}

static int name_ok(const char *n) {
    size_t l = strlen(n);
    if (!l || l >= VQE_NAME_MAX || !(isalpha((unsigned char)n[0]) || n[0] == '_')) return 0;
    for (size_t i = 1; i < l; i++)
        if (!isalnum((unsigned char)n[i]) && !strchr("_.-", n[i])) return 0;
    return 1;
}

int vqe_schema_validate(const vqe_schema *s, vq_err *err) {
    VQ_FAIL_IF(!name_ok(s->name), VQ_EINVAL, err, "name",
               "collection name '%s' must match [A-Za-z_][A-Za-z0-9_.-]* and be < %u bytes",
               s->name, VQE_NAME_MAX);
    VQ_FAIL_IF(s->dim < 1 || s->dim > VQ_DIM_MAX, VQ_EINVAL, err, "dim", "dim %u not in 1..%u",
               s->dim, VQ_DIM_MAX);
    VQ_FAIL_IF(s->metric != VQ_METRIC_L2 && s->metric != VQ_METRIC_IP && s->metric != VQ_METRIC_COS,
               VQ_EINVAL, err, "metric", "unknown metric %d", (int)s->metric);
    VQ_FAIL_IF(!s->index_spec[0] || !memchr(s->index_spec, 0, sizeof s->index_spec), VQ_ESPEC, err,
               "index", "empty or unterminated index spec");
    VQ_FAIL_IF(s->durability != VQE_DURABLE_SYNC && s->durability != VQE_DURABLE_GROUP, VQ_EINVAL,
               err, "durability", "durability must be sync or group");
    VQ_FAIL_IF(s->group_ms < VQE_GROUP_MS_MIN || s->group_ms > VQE_GROUP_MS_MAX, VQ_EINVAL, err,
               "group_ms", "group_ms %u not in %u..%u", s->group_ms, VQE_GROUP_MS_MIN,
               VQE_GROUP_MS_MAX);
    VQ_FAIL_IF(s->n_fields > VQE_FIELDS_MAX, VQ_EINVAL, err, "fields", "more than %u fields",
               VQE_FIELDS_MAX);
    int texts = 0;
    for (unsigned i = 0; i < s->n_fields; i++) {
        const vqe_field *f = &s->fields[i];
        char fld[80];
        snprintf(fld, sizeof fld, "fields.%.60s", f->name);
        VQ_FAIL_IF(!name_ok(f->name), VQ_EINVAL, err, fld,
                   "field name must match [A-Za-z_][A-Za-z0-9_.-]* and be < %u bytes",
                   VQE_NAME_MAX);
        VQ_FAIL_IF(!strcmp(f->name, "id"), VQ_EINVAL, err, fld, "'id' is reserved for the user id");
        VQ_FAIL_IF(!vqe_type_name(f->type), VQ_EINVAL, err, fld, "unknown type %d", (int)f->type);
        texts += f->type == VQE_TEXT;
        VQ_FAIL_IF(texts > 1, VQ_EINVAL, err, fld, "at most one text field per collection");
        for (unsigned j = 0; j < i; j++)
            VQ_FAIL_IF(!strcmp(s->fields[j].name, f->name), VQ_EINVAL, err, fld,
                       "field defined twice");
    }
    return VQ_OK;
}

static int fields_from(vqe_schema *s, const cJSON *fields, vq_err *err) {
    VQ_FAIL_IF(!cJSON_IsObject(fields), VQ_EINVAL, err, "fields",
               "\"fields\" must be an object of name: type");
    const cJSON *it;
    cJSON_ArrayForEach(it, fields) {
        char fld[80];
        snprintf(fld, sizeof fld, "fields.%.60s", it->string ? it->string : "");
        VQ_FAIL_IF(s->n_fields >= VQE_FIELDS_MAX, VQ_EINVAL, err, fld, "more than %u fields",
                   VQE_FIELDS_MAX);
        vqe_type t;
        VQ_FAIL_IF(!cJSON_IsString(it) || vqe_type_parse(it->valuestring, &t), VQ_EINVAL, err, fld,
                   "type must be one of int64, double, bool, keyword, keyword[], text, sparse");
        VQ_FAIL_IF(strlen(it->string) >= VQE_NAME_MAX, VQ_EINVAL, err, fld,
                   "field name longer than %u bytes", VQE_NAME_MAX - 1);
        vqe_field *f = &s->fields[s->n_fields++];
        snprintf(f->name, sizeof f->name, "%s", it->string);
        f->type = t;
    }
    return vqe_schema_validate(s, err);
}

int vqe_schema_fields_from_json(vqe_schema *s, const char *json, vq_err *err) {
    cJSON *root = cJSON_Parse(json);
    VQ_FAIL_IF(!root, VQ_EINVAL, err, "schema", "not valid JSON near: %.40s",
               cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
    int rc;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(root, "fields");
    if (!cJSON_IsObject(root) || !fields)
        rc = vq_err_set(err, VQ_EINVAL, "schema", "expected {\"fields\": {name: type, ...}}");
    else
        rc = fields_from(s, fields, err);
    cJSON_Delete(root);
    return rc;
}

int vqe_schema_to_json(const vqe_schema *s, char **out, vq_err *err) {
    cJSON *o = cJSON_CreateObject(), *f = cJSON_CreateObject();
    VQ_FAIL_IF(!o || !f, VQ_ENOMEM, err, "schema", "out of memory");
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddNumberToObject(o, "dim", s->dim);
    cJSON_AddStringToObject(o, "metric", vq_metric_name(s->metric));
    cJSON_AddStringToObject(o, "index", s->index_spec);
    cJSON_AddStringToObject(o, "durability", s->durability == VQE_DURABLE_SYNC ? "sync" : "group");
    cJSON_AddNumberToObject(o, "group_ms", s->group_ms);
    for (unsigned i = 0; i < s->n_fields; i++)
        cJSON_AddStringToObject(f, s->fields[i].name, vqe_type_name(s->fields[i].type));
    cJSON_AddItemToObject(o, "fields", f);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    VQ_FAIL_IF(!txt, VQ_ENOMEM, err, "schema", "out of memory");
    size_t n = strlen(txt);
    *out = vq_malloc(n + 1);
    if (*out) memcpy(*out, txt, n + 1);
    cJSON_free(txt);
    VQ_FAIL_IF(!*out, VQ_ENOMEM, err, "schema", "out of memory");
    return VQ_OK;
}

int vqe_schema_from_json(const char *json, vqe_schema *s, vq_err *err) {
    vqe_schema_default(s);
    cJSON *o = cJSON_Parse(json);
    VQ_FAIL_IF(!o, VQ_ECORRUPT, err, "schema", "stored schema is not valid JSON");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name"),
                *dim = cJSON_GetObjectItemCaseSensitive(o, "dim"),
                *metric = cJSON_GetObjectItemCaseSensitive(o, "metric"),
                *index = cJSON_GetObjectItemCaseSensitive(o, "index"),
                *dur = cJSON_GetObjectItemCaseSensitive(o, "durability"),
                *gms = cJSON_GetObjectItemCaseSensitive(o, "group_ms"),
                *fields = cJSON_GetObjectItemCaseSensitive(o, "fields");
    int rc = VQ_OK;
    if (!cJSON_IsString(name) || !cJSON_IsNumber(dim) || !cJSON_IsString(metric) ||
        !cJSON_IsString(index) || !cJSON_IsString(dur) || !cJSON_IsNumber(gms) ||
        strlen(name->valuestring) >= sizeof s->name ||
        strlen(index->valuestring) >= sizeof s->index_spec || dim->valuedouble < 0 ||
        dim->valuedouble > VQ_DIM_MAX || gms->valuedouble < 0 || gms->valuedouble > 1e6) {
        rc = vq_err_set(err, VQ_ECORRUPT, "schema", "stored schema lacks or mistypes a key");
    } else {
        snprintf(s->name, sizeof s->name, "%s", name->valuestring);
        s->dim = (unsigned)dim->valuedouble;
        snprintf(s->index_spec, sizeof s->index_spec, "%s", index->valuestring);
        s->durability = !strcmp(dur->valuestring, "group") ? VQE_DURABLE_GROUP : VQE_DURABLE_SYNC;
        s->group_ms = (unsigned)gms->valuedouble;
        rc = vq_metric_parse(metric->valuestring, &s->metric, err);
        if (!rc) rc = fields_from(s, fields, err);
        if (rc) {
            char m[256];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            rc = vq_err_set(err, VQ_ECORRUPT, "schema", "stored schema invalid: %s", m);
        }
    }
    cJSON_Delete(o);
    return rc;
}
