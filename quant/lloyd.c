/* lloyd.c — Lloyd-Max codebooks for one coordinate of a random unit vector (see lloyd.h).
 *
 * Algorithm: the integrals ∫f, ∫t·f and ∫t²·f are tabulated as prefix sums on a uniform grid
 * (trapezoid rule); any cell's mass, first and second moment are then differences of two
 * linearly interpolated prefix values, O(1) per cell. For d >= 3 the grid is uniform in t
 * (the density is bounded). For d = 2 the density (1 - t²)^(-1/2) is unbounded at ±1, so the
 * grid is uniform in θ with t = sin(θ), where f(t) dt ∝ cos(θ)^(d-2) dθ = dθ is bounded. Lloyd's
 * iteration alternates thresholds = midpoints of centroids and centroids = conditional means, from
 * an equal-mass start, until no centroid moves by more than 1e-9 standard deviations.
 *
 * For large d the mass sits within a few multiples of 1/√d of 0, so the grid spans
 * |t| <= min(1, 16/√d) (the mass beyond 16 standard deviations is below e^-128), keeping
 * ~100 grid points per cell even at 8 bits. The result is symmetrized (the density is even)
 * so that 0 is always a threshold. */
#include "lloyd.h"

#include <math.h>

#define GRID 32768u /* intervals */
#define MAX_ITERS \
    5000 /* from the companding start, enough for 1e-3 of the outermost 8-bit centroid */
#define SPAN_SD 16.0

typedef struct tab {
    double *m0, *m1, *m2; /* GRID + 1 prefix integrals, normalized so m0[GRID] = 1 */
    double x0, h;         /* grid origin and step, in θ (d = 2) or in t */
    double tmax;          /* the grid covers t in [-tmax, tmax] */
    int theta;            /* grid variable is θ */
} tab;

/* Interpolated prefix value of the integrals up to t. */
static void prefix(const tab *T, double t, double *p0, double *p1, double *p2) {
    if (t <= -T->tmax) {
        *p0 = *p1 = *p2 = 0;
        return;
    }
    if (t >= T->tmax) {
        *p0 = T->m0[GRID], *p1 = T->m1[GRID], *p2 = T->m2[GRID];
        return;
    }
    double pos = ((T->theta ? asin(t) : t) - T->x0) / T->h;
    if (pos < 0) pos = 0;
    size_t j = (size_t)pos;
    if (j >= GRID) j = GRID - 1;
    double f = pos - (double)j;
    *p0 = T->m0[j] + f * (T->m0[j + 1] - T->m0[j]);
    *p1 = T->m1[j] + f * (T->m1[j + 1] - T->m1[j]);
    *p2 = T->m2[j] + f * (T->m2[j + 1] - T->m2[j]);
}

/* Smallest t where the monotone prefix table m (normalized to end at 1) reaches p. */
static double quantile(const tab *T, const double *m, double p) {
    size_t lo = 0, hi = GRID;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (m[mid] < p)
            lo = mid;
        else
            hi = mid;
    }
    double a = m[lo], b = m[hi], f = b > a ? (p - a) / (b - a) : 0.5;
    double x = T->x0 + ((double)lo + f) * T->h;
    return T->theta ? sin(x) : x;
}

/* Mass, mean and second moment of the cell [a, b). */
static void cell(const tab *T, double a, double b, double *w, double *mean, double *sq) {
    double a0, a1, a2, b0, b1, b2;
    prefix(T, a, &a0, &a1, &a2);
    prefix(T, b, &b0, &b1, &b2);
    *w = b0 - a0;
    *mean = *w > 1e-300 ? (b1 - a1) / *w : 0.5 * (a + b);
    *sq = b2 - a2;
}

int vq__lloyd_sphere(unsigned d, unsigned bits, float *centroids, float *thresholds,
                     double *mse_coord, vq_err *err) {
    VQ_FAIL_IF(bits < VQ_LLOYD_BITS_MIN || bits > VQ_LLOYD_BITS_MAX, VQ_EINVAL, err, "bits",
               "codebook bits %u outside [%u, %u]", bits, VQ_LLOYD_BITS_MIN, VQ_LLOYD_BITS_MAX);
    VQ_FAIL_IF(d == 0 || d > VQ_DIM_MAX, VQ_EINVAL, err, "dim", "dimension %u outside [1, %u]", d,
               VQ_DIM_MAX);
    unsigned K = 1u << bits;
    if (d == 1) {
        /* The coordinate is ±1: any codebook containing both is exact. Spread the rest evenly
         * so that the codebook stays ascending. */
        for (unsigned k = 0; k < K; k++) centroids[k] = (float)(-1.0 + 2.0 * k / (K - 1));
        for (unsigned k = 0; k + 1 < K; k++)
            thresholds[k] = 0.5f * (centroids[k] + centroids[k + 1]);
        if (mse_coord) *mse_coord = 0;
        return VQ_OK;
    }
    tab T;
    T.m0 = vq_malloc(4 * (GRID + 1) * sizeof(double));
    VQ_FAIL_IF(!T.m0, VQ_ENOMEM, err, "codebook", "out of memory");
    T.m1 = T.m0 + GRID + 1;
    T.m2 = T.m1 + GRID + 1;
    double *m3 = T.m2 + GRID + 1; /* prefix of the companding density, for the start */
    double sd = 1.0 / sqrt((double)d);
    T.tmax = fmin(1.0, SPAN_SD * sd);
    T.theta = d == 2;
    double xmax = T.theta ? asin(T.tmax) : T.tmax;
    T.x0 = -xmax;
    T.h = 2 * xmax / GRID;
    /* Weights relative to the peak (t = 0), in log space so that large d cannot underflow
     * the whole table. */
    double e = 0.5 * ((double)d - 3.0), pw0 = 0, pw1 = 0, pw2 = 0, pw3 = 0;
    T.m0[0] = T.m1[0] = T.m2[0] = m3[0] = 0;
    for (unsigned j = 0; j <= GRID; j++) {
        double x = T.x0 + j * T.h, s = T.theta ? sin(x) : x, u = 1 - s * s;
        double w = T.theta || e == 0 ? 1.0 : u <= 0 ? 0.0 : exp(e * log(u));
        double w1 = w * s, w2 = w * s * s;
        /* Panter-Dite point density f_t^(1/3) in the grid variable: w^(1/3) (dt/dx)^(2/3). */
        double w3 = T.theta ? cbrt(cos(x) * cos(x)) : cbrt(w);
        if (j) {
            T.m0[j] = T.m0[j - 1] + 0.5 * T.h * (pw0 + w);
            T.m1[j] = T.m1[j - 1] + 0.5 * T.h * (pw1 + w1);
            T.m2[j] = T.m2[j - 1] + 0.5 * T.h * (pw2 + w2);
            m3[j] = m3[j - 1] + 0.5 * T.h * (pw3 + w3);
        }
        pw0 = w, pw1 = w1, pw2 = w2, pw3 = w3;
    }
    double z = T.m0[GRID], z3 = m3[GRID];
    for (unsigned j = 0; j <= GRID; j++) T.m0[j] /= z, T.m1[j] /= z, T.m2[j] /= z, m3[j] /= z3;

    double c[256], th[256];
    /* Start from the high-resolution optimum (companding with point density ∝ f^(1/3)),
     * which leaves Lloyd few iterations even at 8 bits; an equal-mass start needs thousands. */
    for (unsigned k = 0; k + 1 < K; k++) th[k] = quantile(&T, m3, (double)(k + 1) / K);
    for (unsigned k = 0; k < K; k++) {
        double w, sq;
        cell(&T, k ? th[k - 1] : -1.0, k + 1 < K ? th[k] : 1.0, &w, &c[k], &sq);
    }
    double tol = 1e-9 * sd, P0[257], P1[257], unused;
    P0[0] = P1[0] = 0;
    prefix(&T, 1.0, &P0[K], &P1[K], &unused);
    for (int it = 0; it < MAX_ITERS; it++) {
        for (unsigned k = 0; k + 1 < K; k++)
            prefix(&T, 0.5 * (c[k] + c[k + 1]), &P0[k + 1], &P1[k + 1], &unused);
        double moved = 0;
        for (unsigned k = 0; k < K; k++) {
            double w = P0[k + 1] - P0[k];
            double m = w > 1e-300 ? (P1[k + 1] - P1[k]) / w : c[k];
            moved = fmax(moved, fabs(m - c[k]));
            c[k] = m;
        }
        if (moved < tol) break;
    }
    for (unsigned k = 0; k < K / 2; k++) {
        double v = 0.5 * (c[K - 1 - k] - c[k]);
        c[k] = -v;
        c[K - 1 - k] = v;
    }
    for (unsigned k = 0; k + 1 < K; k++) th[k] = 0.5 * (c[k] + c[k + 1]);
    th[K / 2 - 1] = 0;
    if (mse_coord) {
        /* E[(t - c)^2] summed over cells: ∫t² - 2c∫t + c²∫1. */
        double mse = 0;
        for (unsigned k = 0; k < K; k++) {
            double a = k ? th[k - 1] : -1.0, b = k + 1 < K ? th[k] : 1.0;
            double a0, a1, a2, b0, b1, b2;
            prefix(&T, a, &a0, &a1, &a2);
            prefix(&T, b, &b0, &b1, &b2);
            mse += (b2 - a2) - 2 * c[k] * (b1 - a1) + c[k] * c[k] * (b0 - a0);
        }
        *mse_coord = mse;
    }
    for (unsigned k = 0; k < K; k++) centroids[k] = (float)c[k];
    for (unsigned k = 0; k + 1 < K; k++) thresholds[k] = (float)th[k];
    vq_free(T.m0);
    return VQ_OK;
}
