/* rng.c — xoshiro256** (Blackman & Vigna) seeded through splitmix64. Integer-only state
 * updates, so a seed yields the same stream on every CPU; codes that depend on random
 * rotations are therefore reproducible across machines. */
#include <math.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void vq__rng_seed(vq_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t vq__rng_u64(vq_rng *r) {
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

double vq__rng_uniform(vq_rng *r) { return (double)(vq__rng_u64(r) >> 11) * 0x1.0p-53; }

double vq__rng_normal(vq_rng *r) {
    double u1 = vq__rng_uniform(r), u2 = vq__rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
