/* kivi.c — the KIVI-style integer baseline of the KV cache (see kivi.h): per-channel key
 * groups over tokens, per-token value groups over channels, b-bit asymmetric codes with fp16
 * scale and zero point, round to nearest. Codes are bit-packed little-endian at b bits each
 * so that 3-bit sweeps cost exactly 3 bits.
 */
#include "kivi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32.h"

int vqe__kivi_parse(const char *spec, unsigned value_dim, vqe__kivi_spec *out, vq_err *err) {
    if (strncmp(spec, "kivi", 4) || (spec[4] != 0 && spec[4] != ':')) return 0;
    vqe__kivi_spec s = {.bits = 2, .group = 0};
    char buf[128];
    VQ_FAIL_IF(strlen(spec) >= sizeof buf, VQ_ESPEC, err, "spec", "kivi spec longer than %zu",
               sizeof buf - 1);
    strcpy(buf, spec);
    char *rest = buf[4] ? buf + 5 : buf + 4, *save = NULL;
    for (char *kv = strtok_r(rest, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        VQ_FAIL_IF(!eq, VQ_ESPEC, err, "spec", "kivi: '%s' is not key=value", kv);
        *eq = 0;
        char *end;
        unsigned long v = strtoul(eq + 1, &end, 10);
        VQ_FAIL_IF(*end || eq[1] == 0, VQ_ESPEC, err, kv, "kivi: %s='%s' is not a number", kv,
                   eq + 1);
        if (!strcmp(kv, "bits")) {
            VQ_FAIL_IF(v < 1 || v > 8, VQ_ESPEC, err, "spec.bits", "kivi: bits=%lu outside [1, 8]",
                       v);
            s.bits = (unsigned)v;
        } else if (!strcmp(kv, "group")) {
            VQ_FAIL_IF(v < 1 || v > VQE_KIVI_GROUP_MAX, VQ_ESPEC, err, "spec.group",
                       "kivi: group=%lu outside [1, %u]", v, VQE_KIVI_GROUP_MAX);
            s.group = (unsigned)v;
        } else {
            return vq_err_set(err, VQ_ESPEC, kv, "kivi: unknown key '%s' (bits, group)", kv);
        }
    }
    if (value_dim) {
        unsigned g =
            s.group ? s.group
                    : (value_dim < VQE_KIVI_GROUP_DEFAULT ? value_dim : VQE_KIVI_GROUP_DEFAULT);
        VQ_FAIL_IF(value_dim % g, VQ_ESPEC, err, "spec.group",
                   "kivi: value group %u does not divide the head dimension %u", g, value_dim);
        s.group = g;
    } else if (!s.group) {
        s.group = VQE_KIVI_GROUP_DEFAULT;
    }
    *out = s;
    return 1;
}

static inline void put_bits(uint8_t *p, size_t i, unsigned b, unsigned v) {
    size_t bit = i * b;
    for (unsigned j = 0; j < b; j++, bit++)
        if (v >> j & 1) p[bit >> 3] |= (uint8_t)(1u << (bit & 7));
}
static inline unsigned get_bits(const uint8_t *p, size_t i, unsigned b) {
    size_t bit = i * b;
    unsigned v = p[bit >> 3];
    /* The next byte only when the code straddles it: never a read past the last code. */
    if ((bit & 7) + b > 8) v |= (unsigned)p[(bit >> 3) + 1] << 8;
    return v >> (bit & 7) & ((1u << b) - 1);
}
static size_t packed_bytes(size_t count, unsigned b) { return (count * b + 7) / 8; }

/* Min/max quantization of n values with stride; writes fp16 zero and scale. */
static void quant_group(const float *x, size_t n, size_t stride, unsigned bits, uint16_t *zero,
                        uint16_t *scale, uint8_t *codes, size_t first, size_t cstride) {
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float v = x[i * stride];
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    unsigned lv = (1u << bits) - 1;
    uint16_t hz = vq__f32_to_f16(mn), hs = vq__f32_to_f16((mx - mn) / (float)lv);
    float z = vq__f16_to_f32(hz), s = vq__f16_to_f32(hs);
    *zero = hz;
    *scale = hs;
    for (size_t i = 0; i < n; i++) {
        float c = s > 0 ? roundf((x[i * stride] - z) / s) : 0.0f;
        unsigned u = c < 0 ? 0 : c > (float)lv ? lv : (unsigned)c;
        put_bits(codes, first + i * cstride, bits, u);
    }
}

size_t vqe__kivi_value_code_size(const vqe__kivi_spec *s, unsigned dim) {
    return (size_t)(dim / s->group) * 4 + packed_bytes(dim, s->bits);
}

void vqe__kivi_value_encode(const vqe__kivi_spec *s, unsigned dim, const float *x, uint8_t *code) {
    unsigned ng = dim / s->group;
    size_t sz = vqe__kivi_value_code_size(s, dim);
    memset(code, 0, sz);
    uint8_t *bits = code + ng * 4;
    for (unsigned g = 0; g < ng; g++) {
        uint16_t z, sc;
        quant_group(x + g * s->group, s->group, 1, s->bits, &z, &sc, bits, (size_t)g * s->group, 1);
        memcpy(code + g * 4, &z, 2);
        memcpy(code + g * 4 + 2, &sc, 2);
    }
}

void vqe__kivi_value_decode(const vqe__kivi_spec *s, unsigned dim, const uint8_t *code, float *x) {
    unsigned ng = dim / s->group;
    const uint8_t *bits = code + ng * 4;
    for (unsigned g = 0; g < ng; g++) {
        uint16_t z, sc;
        memcpy(&z, code + g * 4, 2);
        memcpy(&sc, code + g * 4 + 2, 2);
        float fz = vq__f16_to_f32(z), fs = vq__f16_to_f32(sc);
        for (unsigned i = 0; i < s->group; i++) {
            size_t c = (size_t)g * s->group + i;
            x[c] = fz + fs * (float)get_bits(bits, c, s->bits);
        }
    }
}

struct vqe__kivi_keys {
    vqe__kivi_spec s;
    unsigned dim;
    size_t n_groups, cap_groups;
    size_t group_bytes; /* zero[dim] f16, scale[dim] f16, then packed codes */
    uint8_t *groups;
    float *resid; /* group * dim floats */
    size_t n_resid;
};

int vqe__kivi_keys_new(const vqe__kivi_spec *s, unsigned dim, vqe__kivi_keys **out, vq_err *err) {
    vqe__kivi_keys *k = vq_calloc(1, sizeof *k);
    VQ_FAIL_IF(!k, VQ_ENOMEM, err, "kivi", "out of memory");
    k->s = *s;
    k->dim = dim;
    k->group_bytes = (size_t)dim * 4 + packed_bytes((size_t)s->group * dim, s->bits);
    k->resid = vq_malloc((size_t)s->group * dim * sizeof(float));
    if (!k->resid) {
        vq_free(k);
        return vq_err_set(err, VQ_ENOMEM, "kivi", "out of memory");
    }
    *out = k;
    return VQ_OK;
}

void vqe__kivi_keys_free(vqe__kivi_keys *k) {
    if (!k) return;
    vq_free(k->groups);
    vq_free(k->resid);
    vq_free(k);
}

void vqe__kivi_keys_reset(vqe__kivi_keys *k) { k->n_groups = k->n_resid = 0; }

size_t vqe__kivi_keys_len(const vqe__kivi_keys *k) { return k->n_groups * k->s.group + k->n_resid; }

int vqe__kivi_keys_append(vqe__kivi_keys *k, const float *x, vq_err *err) {
    memcpy(k->resid + k->n_resid * k->dim, x, k->dim * sizeof(float));
    if (++k->n_resid < k->s.group) return VQ_OK;
    if (k->n_groups == k->cap_groups) {
        size_t nc = k->cap_groups ? k->cap_groups * 2 : 8;
        uint8_t *ng = vq_realloc(k->groups, k->cap_groups * k->group_bytes, nc * k->group_bytes);
        if (!ng) {
            k->n_resid--;
            return vq_err_set(err, VQ_ENOMEM, "kivi", "out of memory for %zu key groups", nc);
        }
        k->groups = ng;
        k->cap_groups = nc;
    }
    uint8_t *g = k->groups + k->n_groups * k->group_bytes;
    memset(g, 0, k->group_bytes);
    uint16_t *zero = (uint16_t *)(void *)g, *scale = zero + k->dim;
    uint8_t *codes = g + (size_t)k->dim * 4;
    for (unsigned c = 0; c < k->dim; c++) {
        uint16_t z, s;
        quant_group(k->resid + c, k->s.group, k->dim, k->s.bits, &z, &s, codes, c, k->dim);
        memcpy(zero + c, &z, 2);
        memcpy(scale + c, &s, 2);
    }
    k->n_groups++;
    k->n_resid = 0;
    return VQ_OK;
}

void vqe__kivi_keys_dot(const vqe__kivi_keys *k, const float *q, float *dot) {
    unsigned d = k->dim, G = k->s.group, b = k->s.bits;
    float qs[VQE_KIVI_GROUP_MAX];
    float *w = d <= VQE_KIVI_GROUP_MAX ? qs : NULL;
    for (size_t g = 0; g < k->n_groups; g++) {
        const uint8_t *gp = k->groups + g * k->group_bytes;
        const uint8_t *codes = gp + (size_t)d * 4;
        float base = 0;
        for (unsigned c = 0; c < d; c++) {
            uint16_t z, s;
            memcpy(&z, gp + 2 * c, 2);
            memcpy(&s, gp + 2 * ((size_t)d + c), 2);
            base += q[c] * vq__f16_to_f32(z);
            if (w) w[c] = q[c] * vq__f16_to_f32(s);
        }
        for (unsigned t = 0; t < G; t++) {
            float acc = base;
            for (unsigned c = 0; c < d; c++) {
                float wc;
                if (w) {
                    wc = w[c];
                } else {
                    uint16_t s;
                    memcpy(&s, gp + 2 * ((size_t)d + c), 2);
                    wc = q[c] * vq__f16_to_f32(s);
                }
                acc += wc * (float)get_bits(codes, (size_t)t * d + c, b);
            }
            dot[g * G + t] = acc;
        }
    }
    float *o = dot + k->n_groups * G;
    for (size_t t = 0; t < k->n_resid; t++) {
        const float *r = k->resid + t * d;
        float acc = 0;
        for (unsigned c = 0; c < d; c++) acc += q[c] * r[c];
        o[t] = acc;
    }
}

void vqe__kivi_keys_decode(const vqe__kivi_keys *k, size_t t, float *x) {
    unsigned d = k->dim, G = k->s.group;
    size_t g = t / G;
    if (g >= k->n_groups) {
        memcpy(x, k->resid + (t - k->n_groups * G) * d, d * sizeof(float));
        return;
    }
    const uint8_t *gp = k->groups + g * k->group_bytes;
    for (unsigned c = 0; c < d; c++) {
        uint16_t z, s;
        memcpy(&z, gp + 2 * c, 2);
        memcpy(&s, gp + 2 * ((size_t)d + c), 2);
        x[c] = vq__f16_to_f32(z) +
               vq__f16_to_f32(s) * (float)get_bits(gp + (size_t)d * 4, (t % G) * d + c, k->s.bits);
    }
}

size_t vqe__kivi_keys_bytes(const vqe__kivi_keys *k) {
    return k->n_groups * k->group_bytes + k->n_resid * k->dim * sizeof(float);
}
