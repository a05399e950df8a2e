/* bits_avx2.c — AVX2 instantiation of bits_body.h (nibble-table popcount). */
#define VQ_KERNEL_AVX2
#include "bits_body.h"
