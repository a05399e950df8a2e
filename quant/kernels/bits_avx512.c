/* bits_avx512.c — AVX-512 instantiation of bits_body.h (VPOPCNTDQ, masked tail loads). */
#define VQ_KERNEL_AVX512
#include "bits_body.h"
