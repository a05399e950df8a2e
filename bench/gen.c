/* gen.c — the seeded Gaussian-mixture generator of gen.h and its streaming writers.
 *
 * The generator keeps its own xoshiro256** (the one in quant/rng.c is private to quant/):
 * the mixture is drawn from seed alone, and each row reseeds from (seed, stream, row), so a
 * row's values never depend on which other rows were generated or in which order.
 *
 * The fixed orthogonal map R: random signs, a normalized Walsh-Hadamard transform on the
 * first 2^k coordinates (2^k <= d < 2^(k+1)), random signs again and a second transform on
 * the last 2^k coordinates. The blocks overlap and together cover every coordinate, so the
 * elongated cluster axes are spread over all of them; each step is orthogonal. */
#include "gen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "quant.h"

#define GEN_CHUNK_ROWS 4096u
#define GEN_STATE_MAX ((size_t)1 << 26) /* floats of centres: 256 MB */

struct vq_gen {
    vq_gen_params p;
    unsigned pow2;        /* 2^k <= d */
    float *centres;       /* clusters * d */
    float *spectrum;      /* d: RMS-1 standard deviations before the cyclic offset */
    unsigned *offset;     /* clusters */
    float *sign1, *sign2; /* d each, +-1 */
};

typedef struct gen_rng {
    uint64_t s[4];
} gen_rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(gen_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_u64(gen_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* (0, 1]: never 0, so log() below stays finite. */
static double rng_open01(gen_rng *r) { return ((double)(rng_u64(r) >> 11) + 1.0) * 0x1.0p-53; }

/* Two independent N(0, 1) values (Box-Muller). */
static void rng_normal2(gen_rng *r, double *a, double *b) {
    double rad = sqrt(-2.0 * log(rng_open01(r))), th = 6.283185307179586 * rng_open01(r);
    *a = rad * cos(th);
    *b = rad * sin(th);
}

/* Uniform in [0, m) by multiply-shift on the high 32 bits (bias below 2^-32 * m). */
static unsigned rng_below(gen_rng *r, unsigned m) {
    return (unsigned)(((rng_u64(r) >> 32) * (uint64_t)m) >> 32);
}

vq_gen_params vq_gen_params_default(void) {
    vq_gen_params p = {0};
    p.clusters = VQ_GEN_CLUSTERS_DEFAULT;
    p.anisotropy = VQ_GEN_ANISOTROPY_DEFAULT;
    p.seed = 1;
    return p;
}

void vq_gen_free(vq_gen *g) {
    if (!g) return;
    vq_free(g->centres);
    vq_free(g->spectrum);
    vq_free(g->offset);
    vq_free(g->sign1);
    vq_free(g->sign2);
    vq_free(g);
}

int vq_gen_new(const vq_gen_params *p, vq_gen **out, vq_err *err) {
    VQ_FAIL_IF(!p || !out, VQ_EINVAL, err, "gen", "null argument");
    VQ_FAIL_IF(p->d == 0 || p->d > VQ_DIM_MAX, VQ_EDIM, err, "d", "dimension %u is outside [1, %u]",
               p->d, VQ_DIM_MAX);
    VQ_FAIL_IF(p->clusters == 0 || p->clusters > VQ_GEN_CLUSTERS_MAX, VQ_EINVAL, err, "clusters",
               "clusters %u is outside [1, %u]", p->clusters, VQ_GEN_CLUSTERS_MAX);
    VQ_FAIL_IF(!(p->anisotropy >= 0.0f && p->anisotropy <= VQ_GEN_ANISOTROPY_MAX), VQ_EINVAL, err,
               "anisotropy", "anisotropy %g is outside [0, %g]", (double)p->anisotropy,
               (double)VQ_GEN_ANISOTROPY_MAX);
    VQ_FAIL_IF((size_t)p->clusters * p->d > GEN_STATE_MAX, VQ_ETOOBIG, err, "clusters",
               "clusters * d = %zu centre values exceeds %zu", (size_t)p->clusters * p->d,
               GEN_STATE_MAX);
    vq_gen *g = vq_calloc(1, sizeof *g);
    VQ_FAIL_IF(!g, VQ_ENOMEM, err, "gen", "out of memory");
    size_t d = p->d, c = p->clusters;
    g->p = *p;
    g->centres = vq_malloc(c * d * sizeof(float));
    g->spectrum = vq_malloc(d * sizeof(float));
    g->offset = vq_malloc(c * sizeof(unsigned));
    g->sign1 = vq_malloc(d * sizeof(float));
    g->sign2 = vq_malloc(d * sizeof(float));
    if (!g->centres || !g->spectrum || !g->offset || !g->sign1 || !g->sign2) {
        vq_gen_free(g);
        return vq_err_set(err, VQ_ENOMEM, "gen", "out of memory for %zu centres of d=%zu", c, d);
    }
    g->pow2 = 1;
    while (g->pow2 * 2 <= d) g->pow2 *= 2;

    gen_rng r;
    rng_seed(&r, p->seed ^ 0x6d69787475726531ull); /* "mixture1": apart from row seeds */
    for (size_t i = 0; i < c * d; i += 2) {
        double a, b;
        rng_normal2(&r, &a, &b);
        g->centres[i] = (float)a;
        if (i + 1 < c * d) g->centres[i + 1] = (float)b;
    }
    double ss = 0;
    for (size_t j = 0; j < d; j++) {
        double v = exp(-(double)p->anisotropy * (double)j / (double)d);
        g->spectrum[j] = (float)v;
        ss += v * v;
    }
    double scale = 1.0 / sqrt(ss / (double)d);
    for (size_t j = 0; j < d; j++) g->spectrum[j] = (float)(g->spectrum[j] * scale);
    for (size_t k = 0; k < c; k++) g->offset[k] = rng_below(&r, (unsigned)d);
    for (size_t j = 0; j < d; j++) {
        g->sign1[j] = (rng_u64(&r) >> 63) ? -1.0f : 1.0f;
        g->sign2[j] = (rng_u64(&r) >> 63) ? -1.0f : 1.0f;
    }
    *out = g;
    return VQ_OK;
}

/* In-place normalized Walsh-Hadamard transform of m (a power of two) floats. */
static void fwht(float *x, unsigned m) {
    for (unsigned h = 1; h < m; h *= 2)
        for (unsigned i = 0; i < m; i += 2 * h)
            for (unsigned j = i; j < i + h; j++) {
                float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    float s = 1.0f / sqrtf((float)m);
    for (unsigned i = 0; i < m; i++) x[i] *= s;
}

static void transform(const vq_gen *g, float *x) {
    unsigned d = g->p.d, m = g->pow2;
    for (unsigned j = 0; j < d; j++) x[j] *= g->sign1[j];
    fwht(x, m);
    if (m != d) {
        for (unsigned j = 0; j < d; j++) x[j] *= g->sign2[j];
        fwht(x + (d - m), m);
    }
}

void vq_gen_rows(const vq_gen *g, size_t row0, size_t n, float *out) {
    size_t d = g->p.d;
    uint64_t base = g->p.seed;
    uint64_t key = splitmix64(&base) ^ ((uint64_t)g->p.stream * 0xd1b54a32d192ed03ull);
    for (size_t i = 0; i < n; i++) {
        float *x = out + i * d;
        gen_rng r;
        rng_seed(&r, key + (uint64_t)(row0 + i) * 0x9e3779b97f4a7c15ull);
        unsigned c = rng_below(&r, g->p.clusters), off = g->offset[c];
        const float *mu = g->centres + (size_t)c * d;
        for (size_t j = 0; j < d; j += 2) {
            double a, b;
            rng_normal2(&r, &a, &b);
            size_t s = (j + off) % d;
            x[j] = mu[j] + g->spectrum[s] * (float)a;
            if (j + 1 < d) x[j + 1] = mu[j + 1] + g->spectrum[(s + 1) % d] * (float)b;
        }
        transform(g, x);
        if (g->p.normalize) {
            double ss = 0;
            for (size_t j = 0; j < d; j++) ss += (double)x[j] * x[j];
            /* A zero row has probability zero but is left as is rather than divided by 0. */
            if (ss > 0) {
                float inv = (float)(1.0 / sqrt(ss));
                for (size_t j = 0; j < d; j++) x[j] *= inv;
            }
        }
    }
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* The same header layout as readers.c's writer: v1.0, padded so the data starts at a
 * multiple of 64 bytes. */
static int write_npy_header(FILE *f, size_t n, size_t d) {
    char hdr[160];
    int hl = snprintf(hdr, sizeof hdr,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", n, d);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
    uint16_t h16 = (uint16_t)(hl + pad + 1);
    uint8_t le[2] = {(uint8_t)(h16 & 0xff), (uint8_t)(h16 >> 8)};
    int ok = fwrite("\x93NUMPY\x01\x00", 1, 8, f) == 8 && fwrite(le, 1, 2, f) == 2 &&
             fwrite(hdr, 1, (size_t)hl, f) == (size_t)hl;
    for (int i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    return ok && fputc('\n', f) != EOF;
}

int vq_gen_write(const vq_gen_params *p, const char *path, vq_gen_progress_fn progress, void *ctx,
                 vq_err *err) {
    VQ_FAIL_IF(!p || !path, VQ_EINVAL, err, "gen", "null argument");
    int npy = ends_with(path, ".npy");
    VQ_FAIL_IF(!npy && !ends_with(path, ".fvecs"), VQ_EUNSUPPORTED, err, "out",
               "%s: output must end in .fvecs or .npy", path);
    VQ_FAIL_IF(p->n == 0, VQ_EINVAL, err, "n", "n must be at least 1");
    vq_gen *g;
    VQ_TRY(vq_gen_new(p, &g, err));
    size_t d = p->d;
    float *buf = vq_malloc((size_t)GEN_CHUNK_ROWS * d * sizeof(float));
    uint8_t *row = vq_malloc(4 + d * sizeof(float));
    FILE *f = fopen(path, "wb");
    int rc = VQ_OK;
    if (!buf || !row) {
        rc = vq_err_set(err, VQ_ENOMEM, "gen", "out of memory");
    } else if (!f) {
        rc = vq_err_set(err, VQ_EIO, path, "%s: cannot create: %s", path, strerror(errno));
    } else if (npy && !write_npy_header(f, p->n, d)) {
        rc = vq_err_set(err, VQ_EIO, path, "%s: write failed", path);
    }
    int32_t di = (int32_t)d;
    for (size_t r0 = 0; rc == VQ_OK && r0 < p->n; r0 += GEN_CHUNK_ROWS) {
        size_t m = p->n - r0 < GEN_CHUNK_ROWS ? p->n - r0 : GEN_CHUNK_ROWS;
        vq_gen_rows(g, r0, m, buf);
        int ok = 1;
        if (npy) {
            ok = fwrite(buf, sizeof(float), m * d, f) == m * d;
        } else {
            for (size_t i = 0; ok && i < m; i++) {
                memcpy(row, &di, 4);
                memcpy(row + 4, buf + i * d, d * sizeof(float));
                ok = fwrite(row, 1, 4 + d * sizeof(float), f) == 4 + d * sizeof(float);
            }
        }
        if (!ok) rc = vq_err_set(err, VQ_EIO, path, "%s: write failed: %s", path, strerror(errno));
        if (progress) progress(ctx, r0 + m, p->n);
    }
    if (f && fclose(f) != 0 && rc == VQ_OK)
        rc = vq_err_set(err, VQ_EIO, path, "%s: write failed: %s", path, strerror(errno));
    if (rc != VQ_OK && f) remove(path);
    vq_free(buf);
    vq_free(row);
    vq_gen_free(g);
    return rc;
}
