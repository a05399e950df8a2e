/* pq_avx2.c — AVX2 instantiation of pq_body.h. */
#define VQ_KERNEL_AVX2
#include "pq_body.h"
