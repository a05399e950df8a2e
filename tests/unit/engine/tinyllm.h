/* tinyllm.h — a small random llama2.c checkpoint for tests that run the forward pass with a
 * KV cache: 2 layers, dim 16, hidden 24, 4 query heads over 2 KV heads, vocabulary 32,
 * 20 positions, weights uniform in [-0.5, 0.5) from a fixed seed. */
#ifndef VQ_TESTS_TINYLLM_H
#define VQ_TESTS_TINYLLM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The checkpoint's bytes (header, then every weight); *len gets its size; free() it after
 * the model loaded from it is freed. */
static inline uint8_t *tiny_llm(size_t *len) {
    int32_t hdr[7] = {16, 24, 2, 4, 2, 32, 20}; /* dim hidden layers heads kv_heads vocab seq */
    size_t L = 2, d = 16, kvd = 8, hid = 24, V = 32, hs = 4;
    size_t nf = V * d + L * d + L * d * d + 2 * L * kvd * d + L * d * d + L * d + 3 * L * hid * d +
                d + 20 * hs;
    *len = 28 + nf * 4;
    uint8_t *b = malloc(*len);
    if (!b) return NULL;
    memcpy(b, hdr, 28);
    uint64_t seed = 9;
    for (size_t i = 0; i < nf; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        float v = 0.5f * (float)((double)(seed >> 11) * 0x1.0p-53 * 2 - 1);
        memcpy(b + 28 + 4 * i, &v, 4);
    }
    return b;
}

#endif
