/* cmd_search.c — `vqdb search`: load a saved index, answer a query file, write the ids as
 * .ivecs (or print them), and report time, QPS and, given --gt, recall@k. Queries run in
 * batches through one searcher per thread, each thread taking the next batch. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "readers.h"
#include "sweep.h"

#ifdef VQ_HAVE_INDEX
#include "index.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vqdb search --index PATH --query FILE -k K [--ef N | --nprobe N]\n"
               "                   [--rerank F] [--out FILE.ivecs] [--gt FILE] [--threads N]\n");
}

#define BATCH 64u

typedef struct job {
    const vqi_index *idx;
    const float *q;
    size_t nq, d;
    unsigned k;
    vqi_search_params sp;
    uint64_t *ids;
    float *dist;
    atomic_size_t next;
    atomic_int rc;
    vq_err err;
    vq_progress *bar;
    pthread_mutex_t mu;
} job;

static void *worker(void *arg) {
    job *j = arg;
    vqi_searcher *s = NULL;
    vq_err e = {0};
    int rc = vqi_searcher_new(j->idx, &s, &e);
    while (rc == VQ_OK) {
        size_t i = atomic_fetch_add(&j->next, BATCH);
        if (i >= j->nq || atomic_load(&j->rc) < 0) break;
        size_t m = j->nq - i < BATCH ? j->nq - i : BATCH;
        rc = vqi_searcher_search(s, m, j->q + i * j->d, j->k, &j->sp, j->ids + i * j->k,
                                 j->dist + i * j->k, &e);
        pthread_mutex_lock(&j->mu);
        vq_progress_update(j->bar, i + m);
        pthread_mutex_unlock(&j->mu);
    }
    if (rc < 0) {
        pthread_mutex_lock(&j->mu);
        if (atomic_load(&j->rc) == 0) {
            j->err = e;
            atomic_store(&j->rc, rc);
        }
        pthread_mutex_unlock(&j->mu);
    }
    vqi_searcher_free(s);
    return NULL;
}

static int parse_ul(const char *s, unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > max) return -1;
    *out = v;
    return 0;
}

int vq_cmd_search(int argc, char **argv) {
    const char *path = NULL, *qpath = NULL, *out = NULL, *gtp = NULL;
    unsigned long k = 0, ef = 0, nprobe = 0, threads = 1;
    float rerank = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "vqdb search: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int ok = 1;
        if (!strcmp(a, "--index"))
            path = v;
        else if (!strcmp(a, "--query"))
            qpath = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--gt"))
            gtp = v;
        else if (!strcmp(a, "-k") || !strcmp(a, "--k"))
            ok = !parse_ul(v, VQI_K_MAX, &k) && k > 0;
        else if (!strcmp(a, "--ef"))
            ok = !parse_ul(v, VQI_EF_MAX, &ef) && ef >= VQI_EF_MIN;
        else if (!strcmp(a, "--nprobe"))
            ok = !parse_ul(v, VQI_IVF_NLIST_MAX, &nprobe) && nprobe > 0;
        else if (!strcmp(a, "--threads"))
            ok = !parse_ul(v, 256, &threads) && threads > 0;
        else if (!strcmp(a, "--rerank")) {
            char *end;
            rerank = strtof(v, &end);
            ok = !*end && end != v && rerank >= VQI_RERANK_MIN && rerank <= VQI_RERANK_MAX;
        } else {
            fprintf(stderr, "vqdb search: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "vqdb search: %s '%s' is not a valid value\n", a, v);
            return 2;
        }
    }
    if (!path || !qpath || !k) {
        fprintf(stderr, "vqdb search: --index, --query and -k are required\n");
        usage(stderr);
        return 2;
    }
    if (ef && nprobe) {
        fprintf(stderr, "vqdb search: --ef (HNSW) and --nprobe (IVF) exclude each other\n");
        return 2;
    }
    vq_err err = {0};
    vqi_index *idx = NULL;
    vq_matrix q = {0};
    vq_imatrix gt = {0};
    uint64_t *ids = NULL;
    float *dist = NULL;
    int32_t *ids32 = NULL;
    int rc;
    double t0 = vq_now();
    if ((rc = vqi_index_load(path, &idx, &err)) < 0) goto fail;
    double load_s = vq_now() - t0;
    if ((rc = vq_read_vectors(qpath, 0, &q, &err)) < 0) goto fail;
    if (q.d != vqi_index_dim(idx)) {
        rc = vq_err_set(&err, VQ_EDIM, "query", "%s has d=%zu, the index d=%u", qpath, q.d,
                        vqi_index_dim(idx));
        goto fail;
    }
    if (ef && vqi_index_type(idx) != VQI_HNSW) {
        rc = vq_err_set(&err, VQ_EINVAL, "ef", "--ef applies to HNSW indexes; %s is not one",
                        vqi_index_spec(idx));
        goto fail;
    }
    if (nprobe && vqi_index_type(idx) != VQI_IVF) {
        rc = vq_err_set(&err, VQ_EINVAL, "nprobe", "--nprobe applies to IVF indexes; %s is not one",
                        vqi_index_spec(idx));
        goto fail;
    }
    ids = vq_malloc(q.n * k * sizeof *ids);
    dist = vq_malloc(q.n * k * sizeof *dist);
    if (!ids || !dist) {
        rc = vq_err_set(&err, VQ_ENOMEM, "results", "out of memory for %zu x %lu results", q.n, k);
        goto fail;
    }
    vq_progress bar;
    vq_progress_start(&bar, "search", q.n);
    job j = {.idx = idx,
             .q = q.data,
             .nq = q.n,
             .d = q.d,
             .k = (unsigned)k,
             .ids = ids,
             .dist = dist,
             .bar = &bar};
    j.sp = vqi_search_params_default();
    j.sp.ef = (unsigned)ef;
    j.sp.nprobe = (unsigned)nprobe;
    j.sp.rerank = rerank;
    atomic_init(&j.next, 0);
    atomic_init(&j.rc, 0);
    pthread_mutex_init(&j.mu, NULL);
    pthread_t th[256];
    unsigned started = 0;
    double t1 = vq_now();
    for (unsigned i = 1; i < threads; i++)
        if (pthread_create(&th[started], NULL, worker, &j) == 0) started++;
    worker(&j);
    for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
    double search_s = vq_now() - t1;
    vq_progress_end(&bar);
    pthread_mutex_destroy(&j.mu);
    if ((rc = atomic_load(&j.rc)) < 0) {
        err = j.err;
        goto fail;
    }
    fprintf(stderr,
            "vqdb search: %s: loaded in %.2f s; %zu queries in %.3f s (%.0f QPS, %u threads)\n",
            vqi_index_spec(idx), load_s, q.n, search_s, (double)q.n / search_s, started + 1);
    if (gtp) {
        if ((rc = vq_read_ivecs(gtp, q.n, &gt, &err)) < 0) goto fail;
        if (gt.n < q.n || gt.d < k) {
            rc = vq_err_set(&err, VQ_EDIM, "gt", "%s: %zu rows of %zu ids; need %zu rows of >= %lu",
                            gtp, gt.n, gt.d, q.n, k);
            goto fail;
        }
        int64_t *sid = vq_malloc(q.n * k * sizeof *sid);
        if (!sid) {
            rc = vq_err_set(&err, VQ_ENOMEM, "gt", "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < q.n * k; i++) sid[i] = ids[i] == VQI_NO_ID ? -1 : (int64_t)ids[i];
        printf("recall@%lu %.4f\n", k, vq_sweep_recall(sid, k, gt.data, gt.d, q.n, (unsigned)k));
        vq_free(sid);
    }
    if (out) {
        ids32 = vq_malloc(q.n * k * sizeof *ids32);
        if (!ids32) {
            rc = vq_err_set(&err, VQ_ENOMEM, "out", "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < q.n * k; i++) {
            if (ids[i] != VQI_NO_ID && ids[i] > INT32_MAX) {
                rc = vq_err_set(&err, VQ_ETOOBIG, "out",
                                "id %llu does not fit .ivecs (int32); omit --out to print ids",
                                (unsigned long long)ids[i]);
                goto fail;
            }
            ids32[i] = ids[i] == VQI_NO_ID ? -1 : (int32_t)ids[i];
        }
        if ((rc = vq_write_ivecs(out, ids32, q.n, k, &err)) < 0) goto fail;
    } else if (!gtp) {
        for (size_t i = 0; i < q.n; i++) {
            printf("%zu:", i);
            for (size_t a = 0; a < k; a++) {
                uint64_t id = ids[i * k + a];
                if (id == VQI_NO_ID)
                    printf(" -");
                else
                    printf(" %llu(%.6g)", (unsigned long long)id, dist[i * k + a]);
            }
            putchar('\n');
        }
    }
    vq_free(ids);
    vq_free(dist);
    vq_free(ids32);
    vq_matrix_free(&q);
    vq_imatrix_free(&gt);
    vqi_index_free(idx);
    return 0;
fail:
    vq_free(ids);
    vq_free(dist);
    vq_free(ids32);
    vq_matrix_free(&q);
    vq_imatrix_free(&gt);
    vqi_index_free(idx);
    return vq_cli_fail("search", rc, &err);
}
#endif
