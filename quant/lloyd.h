/* lloyd.h — private to quant/: Lloyd-Max scalar codebooks for the coordinates of a randomly
 * rotated unit vector, used by TurboQuant (tq, tq-ip).
 *
 * After a random rotation each coordinate t of a unit vector in R^d has the density
 * f(t) ∝ (1 - t^2)^((d-3)/2) on [-1, 1] (for d = 1 it is ±1 with equal mass; as d grows it
 * tends to N(0, 1/d)). One Lloyd-Max codebook of 2^b levels then serves every coordinate.
 * It is solved here for the exact density of the actual d, never the Gaussian limit: the
 * density is integrated in log space, so d up to VQ_DIM_MAX is exact without overflow.
 *
 * Thread safety: pure functions of their arguments. */
#ifndef VQ_LLOYD_H
#define VQ_LLOYD_H

#include "internal.h"

#define VQ_LLOYD_BITS_MIN 1u
#define VQ_LLOYD_BITS_MAX 8u

/* Solves the 2^bits-level Lloyd-Max quantizer of the coordinate density above.
 * centroids: 2^bits floats, ascending and symmetric about 0; thresholds: 2^bits - 1 floats,
 * the cell boundaries (midpoints of consecutive centroids), ascending. A value t is coded as
 * the number of thresholds <= t. *mse_coord (optional) receives E[(t - c(t))^2] for one
 * coordinate, so d * *mse_coord is the expected ||u - u^||^2 of a unit vector.
 * Fails with VQ_EINVAL for bits outside [1, 8] or d outside [1, VQ_DIM_MAX], VQ_ENOMEM. */
int vq__lloyd_sphere(unsigned d, unsigned bits, float *centroids, float *thresholds,
                     double *mse_coord, vq_err *err);

/* Index of the cell of t: the number of thresholds (2^bits - 1, ascending) that are <= t. */
static inline unsigned vq__lloyd_cell(const float *thresholds, unsigned bits, float t) {
    unsigned idx = 0;
    for (unsigned s = 1u << (bits - 1); s; s >>= 1)
        if (t >= thresholds[idx + s - 1]) idx += s;
    return idx;
}

#endif
