/* cmd_gt.c — `vqdb gt`: exact top-k ground truth of a query file against a base file,
 * written as .ivecs (one row of k base ids per query, nearest first). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gt.h"
#include "readers.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vqdb gt --base FILE --query FILE -k K [--metric l2|ip|cos] [--threads N]\n"
               "               [--n N] --out FILE.ivecs\n"
               "  Exact k nearest base rows of every query (brute force, f32 kernels); ties go\n"
               "  to the smaller id, so the output is the same for any --threads.\n"
               "  --n reads only the first N base rows. Defaults: --metric l2 --threads 1.\n");
}

static int parse_size(const char *opt, const char *s, size_t max, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || s[0] == '-' || v < 1 || v > max) {
        fprintf(stderr, "vqdb gt: %s needs an integer in [1, %zu], got '%s'\n", opt, max,
                s ? s : "");
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static void on_progress(void *ctx, double done, double total) {
    vq_progress *pr = ctx;
    /* The bar counts per mille so that n * nq pairs never overflow its size_t. */
    (void)total;
    vq_progress_update(pr, (size_t)(done / total * 1000.0));
}

int vq_cmd_gt(int argc, char **argv) {
    const char *base = NULL, *query = NULL, *out = NULL, *metric = "l2";
    size_t n = 0, threads = 1;
    vq_gt_params p = vq_gt_params_default();
    int have_k = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "vqdb gt: unknown option or missing value '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--base"))
            base = v;
        else if (!strcmp(a, "--query") || !strcmp(a, "--queries"))
            query = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--metric"))
            metric = v;
        else if (!strcmp(a, "-k") || !strcmp(a, "--k")) {
            if (parse_size(a, v, VQ_GT_K_MAX, &p.k)) return 2;
            have_k = 1;
        } else if (!strcmp(a, "--threads")) {
            if (parse_size(a, v, VQ_GT_THREADS_MAX, &threads)) return 2;
        } else if (!strcmp(a, "--n")) {
            if (parse_size(a, v, (size_t)INT32_MAX, &n)) return 2;
        } else {
            fprintf(stderr, "vqdb gt: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (!base || !query || !out || !have_k) {
        fprintf(stderr, "vqdb gt: --base, --query, -k and --out are required\n");
        usage(stderr);
        return 2;
    }
    vq_err err = {0};
    int rc = vq_metric_parse(metric, &p.metric, &err);
    if (rc < 0) return vq_cli_fail("gt", rc, &err);
    p.threads = (unsigned)threads;
    vq_matrix xb = {0}, xq = {0};
    int32_t *ids = NULL;
    if ((rc = vq_read_vectors(base, n, &xb, &err)) < 0 ||
        (rc = vq_read_vectors(query, 0, &xq, &err)) < 0)
        goto done;
    if (xq.d != xb.d) {
        rc = vq_err_set(&err, VQ_EDIM, "query", "%s has d=%zu but %s has d=%zu", query, xq.d, base,
                        xb.d);
        goto done;
    }
    if ((rc = vq_check_finite(xb.data, xb.n, xb.d, "base", &err)) < 0 ||
        (rc = vq_check_finite(xq.data, xq.n, xq.d, "query", &err)) < 0)
        goto done;
    ids = vq_malloc(xq.n * p.k * sizeof(int32_t));
    if (!ids) {
        rc = vq_err_set(&err, VQ_ENOMEM, "gt", "out of memory");
        goto done;
    }
    vq_progress pr;
    vq_progress_start(&pr, "gt", 1000);
    p.progress = on_progress;
    p.progress_ctx = &pr;
    rc = vq_gt_compute(xb.data, xb.n, xq.data, xq.n, xb.d, &p, ids, NULL, &err);
    vq_progress_end(&pr);
    if (rc < 0) goto done;
    double secs = vq_now() - pr.start;
    rc = vq_write_ivecs(out, ids, xq.n, p.k, &err);
    if (rc == VQ_OK)
        fprintf(stderr, "vqdb gt: %zu queries x %zu base, k=%zu, %s, %u threads: %.2f s -> %s\n",
                xq.n, xb.n, p.k, vq_metric_name(p.metric), p.threads, secs, out);
done:
    vq_free(ids);
    vq_matrix_free(&xb);
    vq_matrix_free(&xq);
    return rc < 0 ? vq_cli_fail("gt", rc, &err) : 0;
}
