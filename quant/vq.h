/* vq.h — what every vqdb layer shares: status codes, the error record, the allocation hook,
 * metrics and start-up (kernel dispatch).
 *
 * Errors: functions return int, VQ_OK (0) or a negative code from VQ_ERRNO_MAP. Details go
 * into an optional caller-owned vq_err (code, field, message). The same table maps each code
 * to a gRPC status, so rpc/ never invents its own mapping.
 *
 * Thread safety: vq_init() may be called from any thread any number of times; the kernel
 * table it resolves is read-only afterwards. vq_err is per call, never shared.
 */
#ifndef VQ_H
#define VQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, gRPC status code, text) */
#define VQ_ERRNO_MAP(X)                                \
    X(OK, 0, 0, "ok")                                  \
    X(EINVAL, -1, 3, "invalid argument")               \
    X(EDIM, -2, 3, "dimension mismatch")               \
    X(ENOTFINITE, -3, 3, "value is NaN or infinite")   \
    X(ESPEC, -4, 3, "invalid spec")                    \
    X(ESTATE, -5, 9, "wrong state for this operation") \
    X(ENOMEM, -6, 8, "out of memory")                  \
    X(ECORRUPT, -7, 15, "corrupted data")              \
    X(EIO, -8, 14, "i/o error")                        \
    X(ENOTFOUND, -9, 5, "not found")                   \
    X(EEXIST, -10, 6, "already exists")                \
    X(EUNSUPPORTED, -11, 12, "not supported")          \
    X(ETOOBIG, -12, 8, "size over the limit")          \
    X(EDEADLINE, -13, 4, "deadline exceeded")          \
    X(EAUTH, -14, 16, "unauthenticated")               \
    X(EUNAVAIL, -15, 14, "unavailable")                \
    X(EVERSION, -16, 9, "unsupported format version")  \
    X(EINTERNAL, -17, 13, "internal error")

enum {
#define VQ__ENUM(name, val, grpc, text) VQ_##name = (val),
    VQ_ERRNO_MAP(VQ__ENUM)
#undef VQ__ENUM
};

/* Details of a failure, owned by the caller. field names the offending input ("dim",
 * "spec.bits", "file:offset"...), msg says what was wrong and the limit. */
typedef struct vq_err {
    int code;
    char field[64];
    char msg[256];
} vq_err;

const char *vq_strerror(int code);
/* The gRPC status code (grpc_status_code numbering) that a vq code maps to. */
int vq_grpc_status(int code);
/* Fills err (if non-NULL) and returns code; printf-style message. */
int vq_err_set(vq_err *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void vq_err_clear(vq_err *err);

#define VQ_TRY(expr)                   \
    do {                               \
        int vq__rc = (expr);           \
        if (vq__rc < 0) return vq__rc; \
    } while (0)
#define VQ_FAIL_IF(cond, code, err, field, ...)                           \
    do {                                                                  \
        if (cond) return vq_err_set((err), (code), (field), __VA_ARGS__); \
    } while (0)

/* Allocation hook. Every allocation of vqdb's libraries goes through it, so tests can
 * inject out-of-memory and handles can count their bytes. The default is malloc/free. */
typedef struct vq_allocator {
    void *(*alloc)(size_t size, void *ctx);
    void (*release)(void *ptr, void *ctx);
    void *ctx;
} vq_allocator;
/* Install before any handle is created; NULL restores the default. Not thread safe. */
void vq_set_allocator(const vq_allocator *a);
void *vq_malloc(size_t size);
void *vq_calloc(size_t n, size_t size);
/* 64-byte aligned; free with vq_free like the others. */
void *vq_malloc_aligned(size_t size);
void *vq_realloc(void *p, size_t old_size, size_t new_size);
void vq_free(void *p);

typedef enum vq_metric {
    VQ_METRIC_L2 = 0, /* squared Euclidean distance */
    VQ_METRIC_IP = 1, /* inner product, larger is closer */
    VQ_METRIC_COS = 2 /* cosine: IP on unit-normalized vectors */
} vq_metric;
int vq_metric_parse(const char *s, vq_metric *out, vq_err *err);
const char *vq_metric_name(vq_metric m);

typedef enum vq_isa { VQ_ISA_SCALAR = 0, VQ_ISA_AVX2 = 1, VQ_ISA_AVX512 = 2 } vq_isa;

/* Detects the CPU once and resolves the kernel table. The environment variable VQ_ISA
 * (scalar|avx2|avx512) lowers the choice, for tests and comparisons. Returns the ISA in use. */
vq_isa vq_init(void);
vq_isa vq_isa_active(void);
/* The best ISA this CPU supports, regardless of VQ_ISA. */
vq_isa vq_isa_supported(void);
const char *vq_isa_name(vq_isa isa);

/* Returns VQ_ENOTFINITE naming "<field>[row][col]" when x (n * d floats, row-major) holds a
 * NaN or an infinity. */
int vq_check_finite(const float *x, size_t n, size_t d, const char *field, vq_err *err);

/* Monotonic seconds, for benchmarks and progress. */
double vq_now(void);

#ifdef __cplusplus
}
#endif
#endif
