/* baseline_hnswlib_avx2.cpp — hnswlib compiled with vqdb's AVX2 kernel flags (-mavx2 -mfma
 * -mf16c ..., set in CMakeLists.txt); hnswlib then uses its 256-bit AVX distance kernels. */
#define VQ_HNSW_VARIANT avx2
#include "baseline_hnswlib_body.h"
