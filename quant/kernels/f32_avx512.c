/* f32_avx512.c — AVX-512 instantiation of f32_body.h. */
#define VQ_KERNEL_AVX512
#include "f32_body.h"
