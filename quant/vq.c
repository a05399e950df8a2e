/* vq.c — status codes, the error record, the allocation hook, metric names, the finiteness
 * check every boundary uses, and a monotonic clock. */
#include "vq.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>

const char *vq_strerror(int code) {
    switch (code) {
#define VQ__STR(name, val, grpc, text) \
    case (val):                        \
        return text;
        VQ_ERRNO_MAP(VQ__STR)
#undef VQ__STR
    default:
        return "unknown error";
    }
}

int vq_grpc_status(int code) {
    switch (code) {
#define VQ__GRPC(name, val, grpc, text) \
    case (val):                         \
        return grpc;
        VQ_ERRNO_MAP(VQ__GRPC)
#undef VQ__GRPC
    default:
        return 2; /* UNKNOWN */
    }
}

int vq_err_set(vq_err *err, int code, const char *field, const char *fmt, ...) {
    if (err) {
        err->code = code;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void vq_err_clear(vq_err *err) {
    if (err) memset(err, 0, sizeof *err);
}

static void *default_alloc(size_t size, void *ctx) {
    (void)ctx;
    return malloc(size);
}
static void default_release(void *p, void *ctx) {
    (void)ctx;
    free(p);
}
static vq_allocator g_alloc = {default_alloc, default_release, NULL};

void vq_set_allocator(const vq_allocator *a) {
    if (a) {
        g_alloc = *a;
    } else {
        g_alloc.alloc = default_alloc;
        g_alloc.release = default_release;
        g_alloc.ctx = NULL;
    }
}

/* Every block carries a 64-byte header holding the offset back to the hook's pointer, so
 * aligned and plain allocations free the same way and alignment is always 64. */
#define VQ__HDR 64u

/* Large buffers (vectors, graph records, code lists) are read at random by searches and
 * graph builds, where a TLB miss per row costs as much as the row's cache miss: ask for
 * transparent huge pages on their page-aligned interior, before anything touches them
 * (the kernel's default "madvise" mode gives them to no one who does not ask). Advisory:
 * a kernel without THP ignores it. */
static void advise_huge(uint8_t *raw, size_t bytes) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (bytes < 4 * huge) return;
    uintptr_t lo = ((uintptr_t)raw + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)raw + bytes) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)raw;
    (void)bytes;
#endif
}

void *vq_malloc_aligned(size_t size) {
    if (size > SIZE_MAX - 2 * VQ__HDR) return NULL;
    uint8_t *raw = g_alloc.alloc(size + 2 * VQ__HDR, g_alloc.ctx);
    if (!raw) return NULL;
    advise_huge(raw, size + 2 * VQ__HDR);
    uintptr_t u = (uintptr_t)raw + VQ__HDR;
    u = (u + VQ__HDR - 1) & ~(uintptr_t)(VQ__HDR - 1);
    uint8_t *p = (uint8_t *)u;
    size_t off = (size_t)(p - raw);
    memcpy(p - sizeof(size_t), &off, sizeof off);
    memcpy(p - 2 * sizeof(size_t), &size, sizeof size);
    return p;
}

void *vq_malloc(size_t size) { return vq_malloc_aligned(size); }

void *vq_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    void *p = vq_malloc_aligned(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *vq_realloc(void *p, size_t old_size, size_t new_size) {
    void *np = vq_malloc_aligned(new_size);
    if (!np) return NULL;
    if (p) {
        memcpy(np, p, old_size < new_size ? old_size : new_size);
        vq_free(p);
    }
    return np;
}

void vq_free(void *p) {
    if (!p) return;
    size_t off;
    memcpy(&off, (uint8_t *)p - sizeof(size_t), sizeof off);
    g_alloc.release((uint8_t *)p - off, g_alloc.ctx);
}

int vq_metric_parse(const char *s, vq_metric *out, vq_err *err) {
    if (s && !strcasecmp(s, "l2"))
        *out = VQ_METRIC_L2;
    else if (s && !strcasecmp(s, "ip"))
        *out = VQ_METRIC_IP;
    else if (s && (!strcasecmp(s, "cos") || !strcasecmp(s, "cosine") || !strcasecmp(s, "angular")))
        *out = VQ_METRIC_COS;
    else
        return vq_err_set(err, VQ_EINVAL, "metric", "unknown metric '%s' (l2, ip or cos)",
                          s ? s : "(null)");
    return VQ_OK;
}

const char *vq_metric_name(vq_metric m) {
    return m == VQ_METRIC_L2 ? "l2" : m == VQ_METRIC_IP ? "ip" : "cos";
}

int vq_check_finite(const float *x, size_t n, size_t d, const char *field, vq_err *err) {
    for (size_t i = 0; i < n * d; i++) {
        if (!isfinite(x[i])) {
            char f[64];
            snprintf(f, sizeof f, "%s[%zu][%zu]", field ? field : "vector", i / d, i % d);
            return vq_err_set(err, VQ_ENOTFINITE, f, "%s: value %g is not finite",
                              field ? field : "vector", (double)x[i]);
        }
    }
    return VQ_OK;
}

double vq_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
