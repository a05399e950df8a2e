/* rotate.h — private to quant/: a seeded random orthogonal transform of R^d for any d,
 * built from randomized Walsh-Hadamard blocks, used by TurboQuant, RaBitQ and QJL-style
 * sketches to make coordinates near-Gaussian and nearly independent.
 *
 * Any d without padding: with 2^k <= d < 2^(k+1), each round applies a random permutation,
 * random signs, a normalized Hadamard transform on coordinates [0, 2^k), random signs again
 * and a normalized Hadamard transform on [d - 2^k, d). The two blocks overlap and cover
 * every coordinate; each step is orthogonal, so the product is. (RaBitQ-Library's rotator
 * uses the same first/last-block idea.) Default 3 rounds.
 *
 * Reproducible: signs and permutations come from the integer RNG; the transform uses only
 * additions and one final scaling, in a fixed order, so the output is bit-identical on every
 * CPU. Only (d, seed, rounds) needs saving.
 * Thread safety: immutable after creation. */
#ifndef VQ_ROTATE_H
#define VQ_ROTATE_H

#include "internal.h"

typedef struct vq_rot vq_rot;

#define VQ_ROT_ROUNDS_DEFAULT 3u
#define VQ_ROT_ROUNDS_MAX 8u

int vq__rot_new(unsigned d, uint64_t seed, unsigned rounds, vq_rot **out, vq_err *err);
void vq__rot_free(vq_rot *r);
/* out = R in; in and out are d floats and may alias. Returns VQ_ENOMEM only when
 * d > 4096 and its scratch cannot be allocated. */
int vq__rot_apply(const vq_rot *r, const float *in, float *out);
/* out = R^T in (the inverse); may alias. */
int vq__rot_apply_t(const vq_rot *r, const float *in, float *out);
unsigned vq__rot_dim(const vq_rot *r);
size_t vq__rot_bytes(const vq_rot *r);

#endif
