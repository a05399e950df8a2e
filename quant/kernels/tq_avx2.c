/* tq_avx2.c — AVX2+FMA instantiation of tq_body.h. */
#define VQ_KERNEL_AVX2
#include "tq_body.h"
