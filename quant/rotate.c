/* rotate.c — randomized Hadamard rotation of any dimension (see rotate.h for the scheme).
 * The inverse runs the same steps backwards with the transposes: the normalized Hadamard
 * matrix is symmetric and its own inverse, signs are their own inverse, and a permutation's
 * inverse is its transpose. */
#include "rotate.h"

#include <math.h>

struct vq_rot {
    unsigned d, rounds, blk; /* blk = 2^k <= d */
    uint32_t *perm;          /* rounds * d */
    int8_t *sign;            /* rounds * 2 * d (+1/-1) */
    float scale;             /* 1 / sqrt(blk) */
};

int vq__rot_new(unsigned d, uint64_t seed, unsigned rounds, vq_rot **out, vq_err *err) {
    VQ_FAIL_IF(d == 0 || d > VQ_DIM_MAX, VQ_EDIM, err, "dim", "rotation dimension %u", d);
    VQ_FAIL_IF(rounds == 0 || rounds > VQ_ROT_ROUNDS_MAX, VQ_ESPEC, err, "rounds",
               "rotation rounds %u outside [1, %u]", rounds, VQ_ROT_ROUNDS_MAX);
    vq_rot *r = vq_calloc(1, sizeof *r);
    VQ_FAIL_IF(!r, VQ_ENOMEM, err, "rotation", "out of memory");
    r->d = d;
    r->rounds = rounds;
    r->blk = 1;
    while (r->blk * 2 <= d) r->blk *= 2;
    r->scale = (float)(1.0 / sqrt((double)r->blk));
    r->perm = vq_malloc((size_t)rounds * d * sizeof(uint32_t));
    r->sign = vq_malloc((size_t)rounds * 2 * d);
    if (!r->perm || !r->sign) {
        vq__rot_free(r);
        return vq_err_set(err, VQ_ENOMEM, "rotation", "out of memory");
    }
    vq_rng g;
    vq__rng_seed(&g, seed ^ 0x524f544154494f4eull);
    for (unsigned t = 0; t < rounds; t++) {
        uint32_t *p = r->perm + (size_t)t * d;
        for (unsigned i = 0; i < d; i++) p[i] = i;
        for (unsigned i = d - 1; i > 0; i--) { /* Fisher-Yates */
            unsigned j = (unsigned)(vq__rng_u64(&g) % (i + 1));
            uint32_t tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        int8_t *s = r->sign + (size_t)t * 2 * d;
        for (unsigned i = 0; i < 2 * d; i++) s[i] = (vq__rng_u64(&g) >> 63) ? -1 : 1;
    }
    *out = r;
    return VQ_OK;
}

void vq__rot_free(vq_rot *r) {
    if (!r) return;
    vq_free(r->perm);
    vq_free(r->sign);
    vq_free(r);
}

unsigned vq__rot_dim(const vq_rot *r) { return r->d; }
size_t vq__rot_bytes(const vq_rot *r) {
    return sizeof *r + (size_t)r->rounds * r->d * (sizeof(uint32_t) + 2);
}

/* In-place normalized Walsh-Hadamard transform of n = 2^k floats. */
static void fwht(float *x, unsigned n, float scale) {
    for (unsigned h = 1; h < n; h *= 2)
        for (unsigned i = 0; i < n; i += 2 * h)
            for (unsigned j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    for (unsigned i = 0; i < n; i++) x[i] *= scale;
}

/* Scratch on the stack for common sizes, heap beyond. */
#define STACK_D 4096u

static int run(const vq_rot *r, const float *in, float *out, int inverse) {
    unsigned d = r->d;
    float stack[STACK_D], *buf = d <= STACK_D ? stack : vq_malloc((size_t)d * sizeof(float));
    if (!buf) return VQ_ENOMEM;
    for (unsigned i = 0; i < d; i++) out[i] = in[i];
    for (unsigned tt = 0; tt < r->rounds; tt++) {
        unsigned t = inverse ? r->rounds - 1 - tt : tt;
        const uint32_t *p = r->perm + (size_t)t * d;
        const int8_t *s1 = r->sign + (size_t)t * 2 * d, *s2 = s1 + d;
        unsigned lo = d - r->blk;
        if (!inverse) {
            for (unsigned i = 0; i < d; i++) buf[i] = out[p[i]] * (float)s1[i];
            fwht(buf, r->blk, r->scale);
            for (unsigned i = 0; i < d; i++) buf[i] *= (float)s2[i];
            if (lo) fwht(buf + lo, r->blk, r->scale);
            for (unsigned i = 0; i < d; i++) out[i] = buf[i];
        } else {
            for (unsigned i = 0; i < d; i++) buf[i] = out[i];
            if (lo) fwht(buf + lo, r->blk, r->scale);
            for (unsigned i = 0; i < d; i++) buf[i] *= (float)s2[i];
            fwht(buf, r->blk, r->scale);
            for (unsigned i = 0; i < d; i++) out[p[i]] = buf[i] * (float)s1[i];
        }
    }
    if (buf != stack) vq_free(buf);
    return VQ_OK;
}

int vq__rot_apply(const vq_rot *r, const float *in, float *out) { return run(r, in, out, 0); }
int vq__rot_apply_t(const vq_rot *r, const float *in, float *out) { return run(r, in, out, 1); }
