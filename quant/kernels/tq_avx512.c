/* tq_avx512.c — AVX-512 instantiation of tq_body.h. */
#define VQ_KERNEL_AVX512
#include "tq_body.h"
