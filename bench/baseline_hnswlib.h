/* baseline_hnswlib.h — hnswlib (Debian's libhnswlib-dev 0.6.2, header-only C++) behind a C
 * interface, for the HNSW baseline of `vqdb bench`.
 *
 * ISA: hnswlib selects its SIMD distance code at compile time, so the shim is compiled twice,
 * with exactly the flags of vqdb's AVX2 kernels and of its AVX-512 kernels
 * (baseline_hnswlib_avx2.cpp, baseline_hnswlib_avx512.cpp, flags set in CMakeLists.txt), and
 * vq_hnswlib_new picks the variant matching vq_isa_active(): the baseline always runs at the
 * same ISA level as vqdb's kernels in the same process. With VQ_ISA=scalar (or a CPU without
 * AVX2) there is no matching variant and vq_hnswlib_new fails with VQ_EUNSUPPORTED rather
 * than measuring a mismatched baseline.
 *
 * Metrics: L2 uses hnswlib's L2Space, IP its InnerProductSpace (distance 1 - <q,x>); COS is
 * IP on unit vectors: the shim normalizes copies of the base rows and of each query.
 *
 * Thread safety: vq_hnswlib_search may run concurrently from many threads; add, set_ef and
 * free must not run concurrently with anything on the same handle.
 */
#ifndef VQ_BASELINE_HNSWLIB_H
#define VQ_BASELINE_HNSWLIB_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vq_hnswlib vq_hnswlib;

#define VQ_HNSWLIB_M_DEFAULT 16u
#define VQ_HNSWLIB_M_MIN 2u
#define VQ_HNSWLIB_M_MAX 256u
#define VQ_HNSWLIB_EFC_DEFAULT 200u
#define VQ_HNSWLIB_EFC_MIN 1u
#define VQ_HNSWLIB_EFC_MAX 100000u

/* An empty index for up to max_n vectors of d floats. */
int vq_hnswlib_new(size_t d, vq_metric metric, size_t max_n, unsigned m, unsigned efc,
                   vq_hnswlib **out, vq_err *err);
void vq_hnswlib_free(vq_hnswlib *h);
/* Appends n rows (n * d floats, row-major) with ids count..count+n-1 using `threads` threads. */
int vq_hnswlib_add(vq_hnswlib *h, const float *x, size_t n, unsigned threads, vq_err *err);
/* Search-time candidate list size (hnswlib's ef; searches use max(ef, k)). */
void vq_hnswlib_set_ef(vq_hnswlib *h, unsigned ef);
/* Top-k ids (closest first, -1 pads) and distances (may be NULL) for one query of d floats. */
int vq_hnswlib_search(const vq_hnswlib *h, const float *q, unsigned k, int64_t *ids, float *dist,
                      vq_err *err);
size_t vq_hnswlib_count(const vq_hnswlib *h);
/* Bytes of the index in memory: level-0 blocks (links + vector + label), upper-level links
 * and per-element levels. The vectors are part of the index here. */
size_t vq_hnswlib_bytes(const vq_hnswlib *h);
/* Writes hnswlib's own file format (saveIndex) to path. */
int vq_hnswlib_save(const vq_hnswlib *h, const char *path, vq_err *err);
/* "avx2" or "avx512": the compiled variant in use. */
const char *vq_hnswlib_isa(const vq_hnswlib *h);

/* Per-ISA entry points (internal to the shim). */
typedef struct vq__hnsw_ops {
    void *(*create)(size_t d, int ip, size_t max_n, unsigned m, unsigned efc, char *msg,
                    size_t len);
    int (*add)(void *h, const float *x, size_t d, size_t first, size_t n, unsigned threads,
               char *msg, size_t len);
    void (*set_ef)(void *h, unsigned ef);
    int (*search)(const void *h, const float *q, unsigned k, int64_t *ids, float *dist);
    size_t (*bytes)(const void *h);
    int (*save)(const void *h, const char *path);
    void (*destroy)(void *h);
} vq__hnsw_ops;
extern const vq__hnsw_ops vq__hnsw_ops_avx2, vq__hnsw_ops_avx512;

#ifdef __cplusplus
}
#endif
#endif
