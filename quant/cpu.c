/* cpu.c — runtime ISA choice. Resolved once (pthread_once) and read-only afterwards; every
 * kernel family selects its table from the ISA recorded here.
 *
 * Tiers: AVX-512 needs F, BW, DQ, VL and VPOPCNTDQ (the popcount kernels use it; CPUs
 * without it, such as Skylake-SP, run the AVX2 tier). AVX2 needs AVX2, FMA, F16C, BMI2 and
 * POPCNT. Anything else runs the scalar reference kernels. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vq.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static vq_isa g_supported = VQ_ISA_SCALAR;
static vq_isa g_active = VQ_ISA_SCALAR;

static vq_isa detect(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi2");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512vpopcntdq");
    if (avx512) return VQ_ISA_AVX512;
    if (avx2) return VQ_ISA_AVX2;
#endif
    return VQ_ISA_SCALAR;
}

static void init_once(void) {
    g_supported = detect();
    g_active = g_supported;
    const char *env = getenv("VQ_ISA");
    if (env) {
        vq_isa want = g_active;
        if (!strcmp(env, "scalar"))
            want = VQ_ISA_SCALAR;
        else if (!strcmp(env, "avx2"))
            want = VQ_ISA_AVX2;
        else if (!strcmp(env, "avx512"))
            want = VQ_ISA_AVX512;
        if (want < g_active) g_active = want; /* never above what the CPU has */
    }
}

vq_isa vq_init(void) {
    pthread_once(&g_once, init_once);
    return g_active;
}

vq_isa vq_isa_active(void) { return vq_init(); }

vq_isa vq_isa_supported(void) {
    vq_init();
    return g_supported;
}

const char *vq_isa_name(vq_isa isa) {
    return isa == VQ_ISA_AVX512 ? "avx512" : isa == VQ_ISA_AVX2 ? "avx2" : "scalar";
}
