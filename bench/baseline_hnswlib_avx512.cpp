/* baseline_hnswlib_avx512.cpp — hnswlib compiled with vqdb's AVX-512 kernel flags (set in
 * CMakeLists.txt); hnswlib then uses its 512-bit distance kernels (USE_AVX512). */
#define VQ_HNSW_VARIANT avx512
#include "baseline_hnswlib_body.h"
