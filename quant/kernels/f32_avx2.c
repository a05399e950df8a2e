/* f32_avx2.c — AVX2+FMA+F16C instantiation of f32_body.h. */
#define VQ_KERNEL_AVX2
#include "f32_body.h"
