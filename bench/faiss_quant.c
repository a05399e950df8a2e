/* faiss_quant.c — FAISS baseline rows (faiss_quant.h) through the C API, optionally in a
 * forked child so that a FAISS abort cannot take the benchmark down. */
#include "faiss_quant.h"

#include <Index_c.h>
#include <errno.h>
#include <error_c.h>
#include <index_factory_c.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/f32.h"

#define FAISS_SCAN_QUERIES 100u
#define FAISS_SCAN_K 10

static int faiss_fail(vq_err *err, const char *what, const char *factory) {
    const char *m = faiss_get_last_error();
    return vq_err_set(err, VQ_EINTERNAL, "baseline", "faiss:%s: %s failed: %s", factory, what,
                      m ? m : "(no message)");
}

/* faiss_Index_sa_code_size of FAISS 1.7.3's C API never stores its result, so the size is
 * measured: encode one vector into a buffer of zeros and into one of 0xff bytes. Encoding
 * is deterministic, so the written prefix is the same in both and every byte past it
 * differs: the first differing byte is the code size. 0 when there is no standalone codec. */
static size_t code_size(FaissIndex *idx, size_t d) {
    size_t cap = 8 * d + 4096;
    uint8_t *a = vq_malloc(cap), *b = vq_malloc(cap);
    float *x = vq_calloc(d, sizeof(float));
    size_t cs = 0;
    if (a && b && x) {
        for (size_t j = 0; j < d; j++) x[j] = (float)((j * 7919) % 17) / 17.0f - 0.5f;
        memset(a, 0, cap);
        memset(b, 0xff, cap);
        if (faiss_Index_sa_encode(idx, 1, x, a) == 0 && faiss_Index_sa_encode(idx, 1, x, b) == 0)
            while (cs < cap && a[cs] == b[cs]) cs++;
        if (cs == cap) cs = 0; /* wrote past the probe: not a size this can measure */
    }
    vq_free(a);
    vq_free(b);
    vq_free(x);
    return cs;
}

typedef struct fenc {
    FaissIndex *idx;
    const float *x;
    size_t n;
    uint8_t *codes;
    int rc;
} fenc;

static void fenc_run(void *arg) {
    fenc *c = arg;
    c->rc = faiss_Index_sa_encode(c->idx, (idx_t)c->n, c->x, c->codes);
}

typedef struct fsearch {
    FaissIndex *idx;
    const float *q;
    size_t nq;
    float *dist;
    idx_t *lab;
    int rc;
} fsearch;

static void fsearch_run(void *arg) {
    fsearch *c = arg;
    c->rc = faiss_Index_search(c->idx, (idx_t)c->nq, c->q, FAISS_SCAN_K, c->dist, c->lab);
}

int vq_faiss_quant(const char *factory, const vq_qb_data *data, const vq_qb_params *p,
                   vq_qb_row *row, vq_err *err) {
    VQ_FAIL_IF(!factory || !*factory || !data || !p || !row, VQ_EINVAL, err, "baseline",
               "null argument or empty factory string");
    size_t n = data->n, d = data->d, nq = data->nq;
    char spec[VQ_SPEC_MAX + 16];
    snprintf(spec, sizeof spec, "faiss:%s", factory);
    vq_qb_row_init(row, spec, d, n);
    VQ_FAIL_IF(d > (size_t)INT32_MAX || !n || !nq, VQ_EINVAL, err, "baseline", "bad data shape");
    omp_set_num_threads((int)p->threads);
    const vq_k_f32 *k32 = vq__k_f32(vq_init());

    FaissIndex *idx = NULL;
    if (faiss_index_factory(&idx, (int)d, factory,
                            p->metric == VQ_METRIC_IP ? METRIC_INNER_PRODUCT : METRIC_L2))
        return vq_err_set(err, VQ_ESPEC, "baseline", "faiss:%s: index_factory rejected it: %s",
                          factory, faiss_get_last_error());
    uint8_t *codes = NULL;
    float *rec = NULL, *est = NULL, *truth = NULL, *dist = NULL;
    idx_t *lab = NULL;
    vq_qb_ipacc acc = {0};
    int rc = VQ_OK;

    double t0 = vq_now();
    if (faiss_Index_train(idx, (idx_t)n, data->base)) {
        rc = faiss_fail(err, "train", factory);
        goto out;
    }
    row->train_s = vq_now() - t0;

    size_t cs = code_size(idx, d);
    if (cs > 0) {
        row->bytes_per_vector = (double)cs;
        codes = vq_malloc(n * cs);
        rec = vq_malloc(n * d * sizeof(float));
        est = vq_malloc(n * sizeof(float));
        truth = vq_malloc(n * sizeof(float));
        if (!codes || !rec || !est || !truth) {
            rc = vq_err_set(err, VQ_ENOMEM, "baseline", "out of memory");
            goto out;
        }
        fenc e = {idx, data->base, n, codes, 0};
        double te = vq_qb_time(fenc_run, &e, p);
        /* Indexes without a standalone codec (sa_encode unimplemented) keep NaN here. */
        if (e.rc == 0 && faiss_Index_sa_decode(idx, (idx_t)n, codes, rec) == 0) {
            row->encode_vec_per_s = (double)n / te;
            double num = 0, den = 0;
            for (size_t i = 0; i < n; i++) {
                num += k32->l2sq(data->base + i * d, rec + i * d, d);
                den += k32->ip(data->base + i * d, data->base + i * d, d);
            }
            row->mse_rel = den > 0 ? num / den : NAN;
            if ((rc = vq_qb_ipacc_init(&acc, n, err)) < 0) goto out;
            for (size_t j = 0; j < nq; j++) {
                const float *qv = data->queries + j * d;
                k32->ip_ny(qv, rec, n, d, est);
                k32->ip_ny(qv, data->base, n, d, truth);
                vq_qb_ipacc_add(&acc, est, truth);
            }
            vq_qb_ipacc_finish(&acc, row);
        }
    }

    if (faiss_Index_add(idx, (idx_t)n, data->base)) {
        rc = faiss_fail(err, "add", factory);
        goto out;
    }
    size_t nqs = nq < FAISS_SCAN_QUERIES ? nq : FAISS_SCAN_QUERIES;
    dist = vq_malloc(nqs * FAISS_SCAN_K * sizeof(float));
    lab = vq_malloc(nqs * FAISS_SCAN_K * sizeof(idx_t));
    if (!dist || !lab) {
        rc = vq_err_set(err, VQ_ENOMEM, "baseline", "out of memory");
        goto out;
    }
    fsearch s = {idx, data->queries, nqs, dist, lab, 0};
    double ts = vq_qb_time(fsearch_run, &s, p);
    if (s.rc) {
        rc = faiss_fail(err, "search", factory);
        goto out;
    }
    row->scan_codes_per_s = (double)n * (double)nqs / ts;
    if (cs) row->scan_gbps = (double)n * (double)cs * (double)nqs / ts * 1e-9;
out:
    vq_qb_ipacc_free(&acc);
    vq_free(codes);
    vq_free(rec);
    vq_free(est);
    vq_free(truth);
    vq_free(dist);
    vq_free(lab);
    faiss_Index_free(idx);
    return rc;
}

static int read_full(int fd, void *buf, size_t len) {
    uint8_t *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r, len -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len) {
        ssize_t r = write(fd, p, len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r, len -= (size_t)r;
    }
    return 0;
}

typedef struct child_msg {
    int rc;
    vq_err err;
    vq_qb_row row;
} child_msg;

int vq_faiss_quant_isolated(const char *factory, const vq_qb_data *data, const vq_qb_params *p,
                            vq_qb_row *row, vq_err *err) {
    int fds[2];
    VQ_FAIL_IF(pipe(fds) != 0, VQ_EIO, err, "baseline", "pipe: %s", strerror(errno));
    fflush(NULL); /* the child must not flush the parent's buffered output again */
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return vq_err_set(err, VQ_EIO, "baseline", "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        child_msg m;
        memset(&m, 0, sizeof m);
        m.rc = vq_faiss_quant(factory, data, p, &m.row, &m.err);
        _exit(write_full(fds[1], &m, sizeof m) == 0 ? 0 : 1);
    }
    close(fds[1]);
    child_msg m;
    int got = read_full(fds[0], &m, sizeof m);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != 0) {
        if (WIFSIGNALED(status))
            return vq_err_set(err, VQ_EINTERNAL, "baseline",
                              "faiss:%s crashed in its child process (signal %d: %s)", factory,
                              WTERMSIG(status), strsignal(WTERMSIG(status)));
        return vq_err_set(err, VQ_EINTERNAL, "baseline",
                          "faiss:%s: child process exited with status %d without a result", factory,
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    if (m.rc < 0) {
        if (err) *err = m.err;
        return m.rc;
    }
    *row = m.row;
    return VQ_OK;
}
