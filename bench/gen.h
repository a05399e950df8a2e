/* gen.h — seeded synthetic vector sets: a clustered, anisotropic Gaussian mixture that any
 * machine regenerates bit for bit from (n, d, clusters, anisotropy, normalize, seed, stream).
 *
 * Model. In a latent axis-aligned space, cluster c has a centre mu_c ~ N(0, I_d) and a
 * per-coordinate standard deviation s_c[j] = a * exp(-A * ((j + o_c) mod d) / d), where A is
 * the anisotropy, o_c a random cyclic offset (clusters are elongated along different axes)
 * and a normalizes the spectrum to RMS 1. A row picks a cluster uniformly, draws
 * y = mu_c + s_c * z with z ~ N(0, I_d), and is mapped by one fixed orthogonal transform R
 * (random signs and normalized Walsh-Hadamard blocks, see gen.c) so that the long axes are
 * not the coordinate axes. With --normalize each row is scaled to unit L2 norm.
 *
 * Streams. The mixture (centres, spectra, R) depends on the seed only; the rows depend on
 * (seed, stream, row index). Stream 0 is a base set, stream 1 a query set drawn from the
 * same mixture, so queries fall near the data without repeating any base row. Every row is
 * seeded on its own, so any range of rows can be produced independently (and in parallel).
 *
 * Determinism: the random numbers come from an integer generator (xoshiro256**, seeded with
 * splitmix64); Gaussians use Box-Muller in double precision with libm's log/sqrt/cos/sin,
 * which glibc computes identically on every x86-64 CPU.
 * Thread safety: a vq_gen is immutable after vq_gen_new; vq_gen_rows is reentrant.
 */
#ifndef VQ_GEN_H
#define VQ_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#define VQ_GEN_CLUSTERS_DEFAULT 64u
#define VQ_GEN_CLUSTERS_MAX 65536u
#define VQ_GEN_ANISOTROPY_DEFAULT 2.0f
#define VQ_GEN_ANISOTROPY_MAX 20.0f

typedef struct vq_gen_params {
    size_t n;          /* rows to write (vq_gen_write) */
    unsigned d;        /* dimension, 1..VQ_DIM_MAX */
    unsigned clusters; /* mixture components, 1..VQ_GEN_CLUSTERS_MAX */
    float anisotropy;  /* A in the spectrum exp(-A j / d); 0 = isotropic clusters */
    int normalize;     /* non-zero: unit-norm rows */
    uint64_t seed;     /* selects the mixture */
    unsigned stream;   /* 0 = base rows, 1 = queries from the same mixture, ... */
} vq_gen_params;

typedef struct vq_gen vq_gen;

vq_gen_params vq_gen_params_default(void);
/* Builds the mixture (centres, spectra, transform) of p; p->n is ignored here. */
int vq_gen_new(const vq_gen_params *p, vq_gen **out, vq_err *err);
void vq_gen_free(vq_gen *g);
/* Writes rows row0 .. row0 + n - 1 of the stream into out (n * d floats, row-major). */
void vq_gen_rows(const vq_gen *g, size_t row0, size_t n, float *out);

/* Progress callback: rows done so far out of p->n. */
typedef void (*vq_gen_progress_fn)(void *ctx, size_t done, size_t total);
/* Streams p->n rows to path (.fvecs or .npy, by extension) in chunks, never holding more
 * than one chunk in memory. */
int vq_gen_write(const vq_gen_params *p, const char *path, vq_gen_progress_fn progress, void *ctx,
                 vq_err *err);

#endif
