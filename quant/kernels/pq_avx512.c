/* pq_avx512.c — AVX-512 instantiation of pq_body.h. */
#define VQ_KERNEL_AVX512
#include "pq_body.h"
