/* fuzz_readers.c — libFuzzer target for the vector-file parsers: vq_npy_parse and
 * vq_vecs_parse (fvecs/ivecs and bvecs layouts, with and without a row limit) on arbitrary
 * bytes. Any result is fine except a crash, a sanitizer report or a leak; a success must
 * describe exactly the bytes it was given. */
#include <stdint.h>
#include <stdlib.h>

#include "readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vq_npy a;
    if (vq_npy_parse(data, size, "fuzz.npy", &a, NULL) == VQ_OK) {
        if (a.count > size) abort(); /* every element comes from the input */
        vq_npy_free(&a);
    }
    for (int u8 = 0; u8 < 2; u8++)
        for (size_t max_n = 0; max_n < 4; max_n += 3) {
            size_t n, d;
            void *out = NULL;
            if (vq_vecs_parse(data, size, "fuzz.fvecs", u8, max_n, &n, &d, &out, NULL) == VQ_OK) {
                if (n * (4 + d * (u8 ? 1 : 4)) > size || (max_n && n > max_n)) abort();
                vq_free(out);
            }
        }
    return 0;
}
