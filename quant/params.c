/* params.c — parsing of one spec segment "name:key=value,key=value". Keys are checked
 * off as the quantizer reads them; leftovers are reported as unknown, naming the key. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int vq__params_parse(const char *spec, vq_params *p, vq_err *err) {
    memset(p, 0, sizeof *p);
    if (!spec || !*spec) return vq_err_set(err, VQ_ESPEC, "spec", "empty quantizer spec");
    const char *colon = strchr(spec, ':');
    size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
    VQ_FAIL_IF(nl == 0 || nl >= sizeof p->name, VQ_ESPEC, err, "spec",
               "quantizer name in '%s' is empty or longer than %zu characters", spec,
               sizeof p->name - 1);
    memcpy(p->name, spec, nl);
    if (!colon) return VQ_OK;
    const char *s = colon + 1;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        VQ_FAIL_IF(!eq, VQ_ESPEC, err, "spec", "'%.*s' in '%s' is not key=value", (int)len, s,
                   spec);
        size_t kl = (size_t)(eq - s), vl = len - kl - 1;
        VQ_FAIL_IF(kl == 0 || kl >= 32 || vl == 0 || vl >= 64, VQ_ESPEC, err, "spec",
                   "'%.*s' in '%s': empty or too long key or value", (int)len, s, spec);
        VQ_FAIL_IF(p->n >= VQ__PARAMS_MAX, VQ_ESPEC, err, "spec", "more than %d parameters",
                   VQ__PARAMS_MAX);
        memcpy(p->key[p->n], s, kl);
        memcpy(p->val[p->n], eq + 1, vl);
        for (unsigned i = 0; i < p->n; i++)
            VQ_FAIL_IF(!strcmp(p->key[i], p->key[p->n]), VQ_ESPEC, err, "spec",
                       "key '%s' given twice in '%s'", p->key[i], spec);
        p->n++;
        s += len + (comma ? 1 : 0);
        VQ_FAIL_IF(comma && !*s, VQ_ESPEC, err, "spec", "trailing ',' in '%s'", spec);
    }
    return VQ_OK;
}

static int find(vq_params *p, const char *key) {
    for (unsigned i = 0; i < p->n; i++)
        if (!strcmp(p->key[i], key)) {
            p->used[i] = 1;
            return (int)i;
        }
    return -1;
}

int vq__param_has(const vq_params *p, const char *key) {
    for (unsigned i = 0; i < p->n; i++)
        if (!strcmp(p->key[i], key)) return 1;
    return 0;
}

int vq__param_u64(vq_params *p, const char *key, uint64_t def, uint64_t *out, vq_err *err) {
    int i = find(p, key);
    if (i < 0) {
        *out = def;
        return VQ_OK;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p->val[i], &end, 10);
    VQ_FAIL_IF(errno || *end || p->val[i][0] == '-', VQ_ESPEC, err, key,
               "%s.%s='%s' is not an unsigned integer", p->name, key, p->val[i]);
    *out = v;
    return VQ_OK;
}

int vq__param_uint(vq_params *p, const char *key, unsigned def, unsigned min, unsigned max,
                   unsigned *out, vq_err *err) {
    uint64_t v;
    VQ_TRY(vq__param_u64(p, key, def, &v, err));
    VQ_FAIL_IF(v < min || v > max, VQ_ESPEC, err, key, "%s.%s=%llu is outside [%u, %u]", p->name,
               key, (unsigned long long)v, min, max);
    *out = (unsigned)v;
    return VQ_OK;
}

int vq__param_float(vq_params *p, const char *key, float def, float min, float max, float *out,
                    vq_err *err) {
    int i = find(p, key);
    if (i < 0) {
        *out = def;
        return VQ_OK;
    }
    char *end;
    errno = 0;
    float v = strtof(p->val[i], &end);
    VQ_FAIL_IF(errno || *end || !isfinite(v), VQ_ESPEC, err, key,
               "%s.%s='%s' is not a finite number", p->name, key, p->val[i]);
    VQ_FAIL_IF(v < min || v > max, VQ_ESPEC, err, key, "%s.%s=%g is outside [%g, %g]", p->name, key,
               (double)v, (double)min, (double)max);
    *out = v;
    return VQ_OK;
}

int vq__params_done(const vq_params *p, vq_err *err) {
    for (unsigned i = 0; i < p->n; i++)
        VQ_FAIL_IF(!p->used[i], VQ_ESPEC, err, p->key[i], "unknown key '%s' for quantizer '%s'",
                   p->key[i], p->name);
    return VQ_OK;
}
