/* bench_index.c — a small measurement driver for index/ (not a test; built by hand, see
 * bench/results/index.md): for each SPEC on a base/query/ground-truth triple, build time,
 * recall@10 and single-thread QPS per sweep value, bytes per vector, in one process so the
 * FAISS rows are measured on the same data in the same run. One warm-up pass precedes each
 * timed pass; each timed pass is repeated 3 times and the median QPS reported.
 * usage: bench_index BASE.fvecs QUERY.fvecs GT.ivecs SWEEPKEY=v1,v2,... SPEC... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "readers.h"

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s BASE QUERY GT ef|nprobe=V,V,... SPEC...\n", argv[0]);
        return 2;
    }
    vq_err err = {0};
    vq_matrix base, query;
    vq_imatrix gt;
    if (vq_read_vectors(argv[1], 0, &base, &err) || vq_read_vectors(argv[2], 0, &query, &err) ||
        vq_read_ivecs(argv[3], 0, &gt, &err)) {
        fprintf(stderr, "read: %s %s\n", err.field, err.msg);
        return 1;
    }
    const unsigned k = 10;
    char key[16] = "";
    unsigned vals[32], nv = 0;
    {
        char *s = strdup(argv[4]), *eq = strchr(s, '=');
        if (!eq) return 2;
        *eq = 0;
        snprintf(key, sizeof key, "%s", s);
        for (char *t = strtok(eq + 1, ","); t && nv < 32; t = strtok(NULL, ","))
            vals[nv++] = atoi(t);
        free(s);
    }
    printf("dataset %s: n=%zu d=%zu nq=%zu\n", argv[1], base.n, base.d, query.n);
    for (int a = 5; a < argc; a++) {
        vqi_index *idx;
        vqi_params p = vqi_params_default();
        if (vqi_index_new_params(argv[a], (unsigned)base.d, VQ_METRIC_L2, &p, &idx, &err)) {
            fprintf(stderr, "%s: %s %s\n", argv[a], err.field, err.msg);
            continue;
        }
        double t0 = vq_now();
        if (vqi_index_add(idx, base.n, base.data, NULL, &err)) {
            fprintf(stderr, "%s: add: %s %s\n", argv[a], err.field, err.msg);
            vqi_index_free(idx);
            continue;
        }
        double build = vq_now() - t0;
        vqi_stats st;
        vqi_index_stats(idx, &st);
        vqi_searcher *s;
        vqi_searcher_new(idx, &s, &err);
        uint64_t *ids = malloc(query.n * k * sizeof *ids);
        float *dist = malloc(query.n * k * sizeof *dist);
        for (unsigned v = 0; v < nv; v++) {
            vqi_search_params sp = vqi_search_params_default();
            if (!strcmp(key, "ef"))
                sp.ef = vals[v];
            else
                sp.nprobe = vals[v];
            double qps[3];
            int bad = 0;
            for (int rep = -1; rep < 3 && !bad; rep++) {
                double t1 = vq_now();
                for (size_t i = 0; i < query.n; i++)
                    if (vqi_searcher_search(s, 1, query.data + i * base.d, k, &sp, ids + i * k,
                                            dist + i * k, &err)) {
                        bad = 1;
                        break;
                    }
                if (rep >= 0) qps[rep] = (double)query.n / (vq_now() - t1);
            }
            if (bad) {
                fprintf(stderr, "%s: search: %s %s\n", argv[a], err.field, err.msg);
                break;
            }
            qsort(qps, 3, sizeof *qps, cmpd);
            size_t hit = 0;
            for (size_t i = 0; i < query.n; i++)
                for (unsigned x = 0; x < k; x++)
                    for (unsigned y = 0; y < k; y++)
                        if (ids[i * k + y] == (uint64_t)gt.data[i * gt.d + x]) {
                            hit++;
                            break;
                        }
            printf("%-44s %s=%-4u recall@10=%.4f qps=%8.0f build_s=%.2f bytes/vec=%.1f "
                   "rerank_bytes/vec=%.1f\n",
                   argv[a], key, vals[v], (double)hit / (double)(query.n * k), qps[1], build,
                   (double)st.index_bytes / (double)st.n, (double)st.vector_bytes / (double)st.n);
            fflush(stdout);
        }
        free(ids);
        free(dist);
        vqi_searcher_free(s);
        vqi_index_free(idx);
    }
    return 0;
}
