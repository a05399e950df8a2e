/* cmd_quant_bench.c — `vqdb quant-bench`: one JSON line per quantizer (and per FAISS
 * baseline) with the figures of bench/quantbench.h, or with --kernels the kernel figures.
 * Parses options, reads and optionally normalizes the data, picks the queries, and prints. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "faiss_quant.h"
#include "quantbench.h"
#include "readers.h"

#define QB_MAX_SPECS 64
#define QB_NQ_DEFAULT 100u

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: vqdb quant-bench --base FILE [--n N] [--queries FILE] [--nq NQ]\n"
        "                        --quant SPEC [--quant SPEC ...] [--baseline faiss:FACTORY ...]\n"
        "                        [--metric l2|ip] [--threads T] [--repeats R] [--normalize]\n"
        "       vqdb quant-bench --kernels [--n 1000000] [--d 128] [--repeats R]\n"
        "  Prints one JSON line per quantizer: spec, d, n, bytes_per_vector, mse_rel,\n"
        "  ip_rel_err, ip_bias, ip_rel_bias, ip_bias_se, train_s, encode_vec_per_s,\n"
        "  scan_codes_per_s, scan_gbps, scalar_scan_codes_per_s (README, 'Benchmark tools').\n"
        "  --n: use the first N base rows (default all). Queries: --queries FILE (its first\n"
        "  NQ rows; default all), else the NQ rows after the first N of the base file when\n"
        "  it has them (held out), else NQ base rows evenly spaced (then also in the base).\n"
        "  Default NQ without --queries: %u. --metric sets the scan timing's metric (the\n"
        "  inner-product figures always use IP). --normalize scales base and queries to unit\n"
        "  norm. Defaults: --threads 1 --repeats %u.\n",
        QB_NQ_DEFAULT, VQ_QB_REPEATS_DEFAULT);
}

static int parse_size(const char *opt, const char *s, size_t min, size_t max, size_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "vqdb quant-bench: %s needs an integer in [%zu, %zu], got '%s'\n", opt, min,
                max, s ? s : "");
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static void normalize_rows(float *x, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (size_t j = 0; j < d; j++) x[i * d + j] *= inv;
        }
    }
}

static void print_line(void *ctx, const char *json) {
    (void)ctx;
    printf("%s\n", json);
    fflush(stdout);
}

static int print_row(const vq_qb_row *row) {
    char *s = vq_qb_row_json(row);
    if (!s) return -1;
    print_line(NULL, s);
    free(s);
    return 0;
}

int vq_cmd_quant_bench(int argc, char **argv) {
    const char *base = NULL, *queries = NULL, *metric = "l2";
    const char *quants[QB_MAX_SPECS], *baselines[QB_MAX_SPECS];
    size_t nquant = 0, nbase = 0, n = 0, nq = 0, d = 128, threads = 1, repeats = 0;
    int kernels = 0, normalize = 0, have_nq = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--kernels")) {
            kernels = 1;
            continue;
        }
        if (!strcmp(a, "--normalize")) {
            normalize = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "vqdb quant-bench: unknown option or missing value '%s'\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--base")) {
            base = v;
        } else if (!strcmp(a, "--queries") || !strcmp(a, "--query")) {
            queries = v;
        } else if (!strcmp(a, "--metric")) {
            metric = v;
        } else if (!strcmp(a, "--quant") || !strcmp(a, "--baseline")) {
            int q = !strcmp(a, "--quant");
            if ((q ? nquant : nbase) >= QB_MAX_SPECS) {
                fprintf(stderr, "vqdb quant-bench: at most %d %s options\n", QB_MAX_SPECS, a);
                return 2;
            }
            if (!q && strncmp(v, "faiss:", 6)) {
                fprintf(stderr, "vqdb quant-bench: --baseline '%s' must be faiss:FACTORY\n", v);
                return 2;
            }
            if (q)
                quants[nquant++] = v;
            else
                baselines[nbase++] = v;
        } else if (!strcmp(a, "--n")) {
            if (parse_size(a, v, 1, (size_t)1 << 40, &n)) return 2;
        } else if (!strcmp(a, "--nq")) {
            if (parse_size(a, v, 1, (size_t)1 << 30, &nq)) return 2;
            have_nq = 1;
        } else if (!strcmp(a, "--d")) {
            if (parse_size(a, v, 1, VQ_DIM_MAX, &d)) return 2;
        } else if (!strcmp(a, "--threads")) {
            if (parse_size(a, v, 1, VQ_QB_THREADS_MAX, &threads)) return 2;
        } else if (!strcmp(a, "--repeats")) {
            if (parse_size(a, v, 1, VQ_QB_REPEATS_MAX, &repeats)) return 2;
        } else {
            fprintf(stderr, "vqdb quant-bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    vq_err err = {0};
    vq_qb_params p = vq_qb_params_default();
    p.threads = (unsigned)threads;
    if (repeats) p.repeats = (unsigned)repeats;
    vq_metric m;
    int rc = vq_metric_parse(metric, &m, &err);
    if (rc < 0) return vq_cli_fail("quant-bench", rc, &err);
    if (m == VQ_METRIC_COS) {
        fprintf(stderr, "vqdb quant-bench: --metric is l2 or ip (use --normalize for cosine)\n");
        return 2;
    }
    p.metric = m;

    if (kernels) {
        rc = vq_qb_kernels(n ? n : 1000000, d, &p, print_line, NULL, &err);
        return rc < 0 ? vq_cli_fail("quant-bench", rc, &err) : 0;
    }
    if (!base || (!nquant && !nbase)) {
        fprintf(stderr, "vqdb quant-bench: --base and at least one --quant or --baseline are "
                        "required\n");
        usage(stderr);
        return 2;
    }

    vq_matrix xb = {0}, xq = {0};
    float *qbuf = NULL;
    const char *qsrc;
    if (queries) {
        if ((rc = vq_read_vectors(queries, have_nq ? nq : 0, &xq, &err)) < 0) goto fail;
        if ((rc = vq_read_vectors(base, n, &xb, &err)) < 0) goto fail;
        nq = xq.n;
        qbuf = xq.data;
        qsrc = queries;
    } else {
        if (!have_nq) nq = QB_NQ_DEFAULT;
        if ((rc = vq_read_vectors(base, n ? n + nq : 0, &xb, &err)) < 0) goto fail;
        if (n && xb.n >= n + nq) {
            qbuf = xb.data + n * xb.d; /* held-out rows right after the base rows */
            xb.n = n;
            qsrc = "held-out base-file rows";
        } else {
            if (n && xb.n > n) xb.n = n;
            if (nq > xb.n) nq = xb.n;
            qbuf = vq_malloc(nq * xb.d * sizeof(float));
            if (!qbuf) {
                rc = vq_err_set(&err, VQ_ENOMEM, "queries", "out of memory");
                goto fail;
            }
            for (size_t j = 0; j < nq; j++)
                memcpy(qbuf + j * xb.d, xb.data + (j * xb.n / nq) * xb.d, xb.d * sizeof(float));
            xq.data = qbuf; /* freed with xq */
            qsrc = "evenly spaced base rows (also in the base)";
        }
    }
    if (queries && xq.d != xb.d) {
        rc = vq_err_set(&err, VQ_EDIM, "queries", "%s has d=%zu but %s has d=%zu", queries, xq.d,
                        base, xb.d);
        goto fail;
    }
    if (n && xb.n < n)
        fprintf(stderr, "vqdb quant-bench: %s has only %zu rows (asked --n %zu)\n", base, xb.n, n);
    if ((rc = vq_check_finite(xb.data, xb.n, xb.d, "base", &err)) < 0 ||
        (rc = vq_check_finite(qbuf, nq, xb.d, "query", &err)) < 0)
        goto fail;
    if (normalize) {
        /* The queries are never the base rows themselves (a file, held-out rows or a
         * copy), so each row is normalized exactly once. */
        normalize_rows(xb.data, xb.n, xb.d);
        normalize_rows(qbuf, nq, xb.d);
    }
    fprintf(stderr,
            "vqdb quant-bench: base %s: %zu x %zu%s; %zu queries: %s; kernels %s, %u "
            "thread(s), scan metric %s\n",
            base, xb.n, xb.d, normalize ? " (normalized)" : "", nq, qsrc,
            vq_isa_name(vq_isa_active()), p.threads, vq_metric_name(p.metric));

    vq_qb_data data = {xb.data, xb.n, qbuf, nq, xb.d};
    int failed = 0;
    /* Baselines first: they run in forked children, which is safest before this process
     * has started any OpenMP or worker threads of its own. */
    for (size_t i = 0; i < nbase; i++) {
        vq_qb_row row;
        vq_err e = {0};
        int r = vq_faiss_quant_isolated(baselines[i] + 6, &data, &p, &row, &e);
        if (r < 0) {
            vq_cli_fail("quant-bench", r, &e);
            failed = 1;
        } else if (print_row(&row)) {
            failed = 1;
        }
    }
    for (size_t i = 0; i < nquant; i++) {
        vq_qb_row row;
        vq_err e = {0};
        int r = vq_qb_quant(quants[i], &data, &p, &row, &e);
        if (r < 0) {
            fprintf(stderr, "vqdb quant-bench: %s: %s (field: %s)\n", quants[i],
                    e.msg[0] ? e.msg : vq_strerror(r), e.field);
            failed = 1;
        } else if (print_row(&row)) {
            failed = 1;
        }
    }
    vq_matrix_free(&xb);
    vq_matrix_free(&xq);
    return failed;
fail:
    vq_matrix_free(&xb);
    vq_matrix_free(&xq);
    return vq_cli_fail("quant-bench", rc, &err);
}
