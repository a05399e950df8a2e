/* cmd_gen.c — `vqdb gen`: writes a seeded synthetic vector set (bench/gen.h) to .fvecs or
 * .npy, streaming, with a progress bar. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gen.h"
#include "quant.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vqdb gen --n N --d D [--clusters C] [--anisotropy A] [--normalize]\n"
            "                --seed S [--queries] --out FILE(.fvecs|.npy)\n"
            "  Clustered anisotropic Gaussian mixture (README, 'Benchmark tools'), reproducible\n"
            "  from its options on any machine. --queries draws rows from the same mixture as the\n"
            "  base set of the same seed (a different random stream). Defaults: --clusters %u\n"
            "  --anisotropy %g.\n",
            VQ_GEN_CLUSTERS_DEFAULT, (double)VQ_GEN_ANISOTROPY_DEFAULT);
}

static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || s[0] == '-' || v > max) {
        fprintf(stderr, "vqdb gen: %s needs an integer in [0, %" PRIu64 "], got '%s'\n", opt, max,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static void on_progress(void *ctx, size_t done, size_t total) {
    (void)total;
    vq_progress_update(ctx, done);
}

int vq_cmd_gen(int argc, char **argv) {
    vq_gen_params p = vq_gen_params_default();
    const char *out = NULL;
    int have_n = 0, have_d = 0, have_seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--normalize")) {
            p.normalize = 1;
        } else if (!strcmp(a, "--queries")) {
            p.stream = 1;
        } else if (!strcmp(a, "--n")) {
            if (parse_u64(a, v, (uint64_t)1 << 40, &x)) return 2;
            p.n = (size_t)x, have_n = 1, i++;
        } else if (!strcmp(a, "--d")) {
            if (parse_u64(a, v, VQ_DIM_MAX, &x)) return 2;
            p.d = (unsigned)x, have_d = 1, i++;
        } else if (!strcmp(a, "--clusters")) {
            if (parse_u64(a, v, VQ_GEN_CLUSTERS_MAX, &x)) return 2;
            p.clusters = (unsigned)x, i++;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(a, v, UINT64_MAX, &x)) return 2;
            p.seed = x, have_seed = 1, i++;
        } else if (!strcmp(a, "--anisotropy")) {
            char *end;
            p.anisotropy = v ? strtof(v, &end) : -1.0f;
            if (!v || !*v || *end) {
                fprintf(stderr, "vqdb gen: --anisotropy needs a number\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--out")) {
            if (!v) {
                fprintf(stderr, "vqdb gen: --out needs a file name\n");
                return 2;
            }
            out = v, i++;
        } else {
            fprintf(stderr, "vqdb gen: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!have_n || !have_d || !have_seed || !out) {
        fprintf(stderr, "vqdb gen: --n, --d, --seed and --out are required\n");
        usage(stderr);
        return 2;
    }
    vq_err err = {0};
    vq_progress pr;
    vq_progress_start(&pr, "gen", p.n);
    int rc = vq_gen_write(&p, out, on_progress, &pr, &err);
    vq_progress_end(&pr);
    if (rc < 0) return vq_cli_fail("gen", rc, &err);
    fprintf(stderr, "vqdb gen: wrote %zu x %u to %s (%.1f s)\n", p.n, p.d, out,
            vq_now() - pr.start);
    return 0;
}
