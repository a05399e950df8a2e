/* cmd_build.c — `vqdb build`: read a vector file, build an index from a SPEC (train, then add
 * in chunks so that a progress bar can follow), save it in vqdb's index file format, and
 * print what was built (n, d, build time, bytes per vector, file size). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "readers.h"

#ifdef VQ_HAVE_INDEX
#include "index.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vqdb build --base FILE --index SPEC --out PATH [--metric l2|ip|cos]\n"
               "                  [--threads N] [--max-n N] [--seed S]\n"
               "SPEC: [pca:d=D+]STRUCTURE/QUANT[/rerank=F], e.g. hnsw:m=16,efc=200/sq8/rerank=4,\n"
               "      ivf:nlist=1024/pq:m=32,bits=4/rerank=4, flat/rabitq:bits=1/rerank=10\n");
}

static int parse_ul(const char *s, unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > max) return -1;
    *out = v;
    return 0;
}

int vq_cmd_build(int argc, char **argv) {
    const char *base = NULL, *spec = NULL, *out = NULL, *metric_s = "l2";
    unsigned long threads = 1, max_n = 0, seed = 0;
    int have_seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "vqdb build: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int ok = 1;
        if (!strcmp(a, "--base"))
            base = v;
        else if (!strcmp(a, "--index"))
            spec = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--metric"))
            metric_s = v;
        else if (!strcmp(a, "--threads"))
            ok = !parse_ul(v, 1024, &threads) && threads > 0;
        else if (!strcmp(a, "--max-n"))
            ok = !parse_ul(v, (unsigned long)INT64_MAX, &max_n);
        else if (!strcmp(a, "--seed"))
            ok = !parse_ul(v, (unsigned long)-1, &seed), have_seed = 1;
        else {
            fprintf(stderr, "vqdb build: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "vqdb build: %s '%s' is not a valid value\n", a, v);
            return 2;
        }
    }
    if (!base || !spec || !out) {
        fprintf(stderr, "vqdb build: --base, --index and --out are required\n");
        usage(stderr);
        return 2;
    }
    vq_err err = {0};
    vq_metric metric;
    if (vq_metric_parse(metric_s, &metric, &err) < 0) return vq_cli_fail("build", err.code, &err);
    vq_matrix x;
    if (vq_read_vectors(base, max_n, &x, &err) < 0) return vq_cli_fail("build", err.code, &err);
    vqi_params p = vqi_params_default();
    p.threads = (unsigned)threads;
    if (have_seed) p.seed = seed;
    vqi_index *idx = NULL;
    int rc = vqi_index_new_params(spec, (unsigned)x.d, metric, &p, &idx, &err);
    if (rc < 0) goto fail;
    double t0 = vq_now();
    if (!vqi_index_is_trained(idx) && (rc = vqi_index_train(idx, x.n, x.data, &err)) < 0) goto fail;
    double train_s = vq_now() - t0;
    /* Chunks of ~1% (at least a few add-chunks per thread) keep the bar moving without
     * starving a multi-threaded HNSW build of parallel work. */
    size_t chunk = x.n / 100, min_chunk = (size_t)VQI_ADD_CHUNK * 4 * threads;
    if (chunk < min_chunk) chunk = min_chunk;
    vq_progress bar;
    vq_progress_start(&bar, "build", x.n);
    for (size_t i = 0; i < x.n; i += chunk) {
        size_t m = x.n - i < chunk ? x.n - i : chunk;
        if ((rc = vqi_index_add(idx, m, x.data + i * x.d, NULL, &err)) < 0) break;
        vq_progress_update(&bar, i + m);
    }
    vq_progress_end(&bar);
    if (rc < 0) goto fail;
    double build_s = vq_now() - t0;
    double t1 = vq_now();
    if ((rc = vqi_index_save(idx, out, &err)) < 0) goto fail;
    double save_s = vq_now() - t1;
    vqi_stats st;
    vqi_index_stats(idx, &st);
    struct stat sb;
    long long fsize = stat(out, &sb) == 0 ? (long long)sb.st_size : -1;
    printf("built %s: n=%llu d=%zu metric=%s threads=%lu\n", spec, (unsigned long long)st.n, x.d,
           vq_metric_name(metric), threads);
    printf("  train %.2f s, build (train + add) %.2f s, save %.2f s\n", train_s, build_s, save_s);
    printf("  bytes_per_vector %.1f (graph %zu, lists %zu, codes %zu, ids %zu, quant %zu bytes)\n",
           st.n ? (double)st.index_bytes / (double)st.n : 0.0, st.graph_bytes, st.list_bytes,
           st.code_bytes, st.id_bytes, st.quant_state_bytes);
    printf("  rerank_bytes_per_vector %.1f; file %s: %lld bytes\n",
           st.n ? (double)st.vector_bytes / (double)st.n : 0.0, out, fsize);
    vqi_index_free(idx);
    vq_matrix_free(&x);
    return 0;
fail:
    vqi_index_free(idx);
    vq_matrix_free(&x);
    return vq_cli_fail("build", rc, &err);
}
#endif
