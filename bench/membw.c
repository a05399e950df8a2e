/* membw.c — the plain read loop of membw.h. */
#include "membw.h"

#include <string.h>

typedef uint64_t u64x2 __attribute__((vector_size(16)));

uint64_t vq_membw_read(const void *buf, size_t bytes) {
    const uint8_t *p = buf;
    u64x2 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0;
    size_t n = bytes / 64;
    for (size_t i = 0; i < n; i++, p += 64) {
        u64x2 v0, v1, v2, v3;
        /* memcpy is the alignment-agnostic load; GCC turns each into one movdqu. */
        memcpy(&v0, p, 16);
        memcpy(&v1, p + 16, 16);
        memcpy(&v2, p + 32, 16);
        memcpy(&v3, p + 48, 16);
        a0 += v0, a1 += v1, a2 += v2, a3 += v3;
    }
    u64x2 s = a0 + a1 + a2 + a3;
    return s[0] + s[1];
}
