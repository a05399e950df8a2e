/* cmd_upsert.c — `vqdb upsert`: writes vectors (.fvecs/.bvecs/.npy/HDF5), optional
 * attributes (one JSON object per line, in vector order) and optional ids (one per line;
 * digits = numeric id, else a string id; default: row numbers) into a collection, in
 * batches that are each one durable write. --threads T runs T writers over interleaved
 * batches (for the ingest-throughput measurement). Prints vectors/s. */
#include <pthread.h>

#include "engine_cli.h"
#include "readers.h"

typedef struct job {
    vqe_collection *c;
    const vq_matrix *m;
    char **attr_lines, **id_lines;
    size_t batch, first, step, n;
    int rc;
    vq_err err;
    size_t done;
    vq_progress *prog;
} job;

static pthread_mutex_t g_prog_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t g_done;

static void *worker(void *arg) {
    job *j = arg;
    size_t b = j->batch;
    vqe_record *r = calloc(b, sizeof *r);
    vqe_values *vals = calloc(b, sizeof *vals);
    if (!r || !vals) {
        j->rc = vq_err_set(&j->err, VQ_ENOMEM, "upsert", "out of memory");
        goto out;
    }
    for (size_t s = j->first * b; s < j->n; s += j->step * b) {
        size_t m = j->n - s < b ? j->n - s : b;
        for (size_t i = 0; i < m; i++) {
            size_t row = s + i;
            r[i] = (vqe_record){.vector = j->m->data + row * j->m->d};
            if (j->id_lines)
                vqe_cli_id(j->id_lines[row], &r[i].id);
            else
                r[i].id = (vqe_id){.u = row};
            if (j->attr_lines) {
                char pfx[48];
                snprintf(pfx, sizeof pfx, "line %zu", row + 1);
                if ((j->rc =
                         vqe_values_from_json(j->c, j->attr_lines[row], pfx, &vals[i], &j->err))) {
                    for (size_t t = 0; t < i; t++) vqe_values_free(&vals[t]);
                    goto out;
                }
                r[i].values = vals[i].v;
                r[i].n_values = vals[i].n;
            }
        }
        j->rc = vqe_upsert(j->c, r, m, &j->err);
        if (j->rc && !strncmp(j->err.field, "records[", 8)) {
            /* name the input row rather than the position in the batch */
            size_t k = strtoul(j->err.field + 8, NULL, 10);
            char *dot = strchr(j->err.field, ']');
            char f[64];
            snprintf(f, sizeof f, "row %zu%s", s + k, dot ? dot + 1 : "");
            snprintf(j->err.field, sizeof j->err.field, "%s", f);
        }
        for (size_t i = 0; i < m && j->attr_lines; i++) vqe_values_free(&vals[i]);
        if (j->rc) goto out;
        j->done += m;
        pthread_mutex_lock(&g_prog_mu);
        g_done += m;
        vq_progress_update(j->prog, g_done);
        pthread_mutex_unlock(&g_prog_mu);
    }
out:
    free(r);
    free(vals);
    return NULL;
}

/* Reads a text file and splits it into lines (in place); *n = number of non-empty lines. */
static char *read_lines(const char *path, char ***lines, size_t *n) {
    uint8_t *buf;
    size_t len;
    vq_err e;
    if (vq_read_file(path, &buf, &len, &e)) return NULL;
    char *s = vq_malloc(len + 1);
    if (!s) {
        vq_free(buf);
        return NULL;
    }
    memcpy(s, buf, len);
    s[len] = 0;
    vq_free(buf);
    size_t cap = 1024, k = 0;
    char **v = malloc(cap * sizeof *v);
    for (char *p = s; v && *p;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        if (*p) {
            if (k == cap) v = realloc(v, (cap *= 2) * sizeof *v);
            if (v) v[k++] = p;
        }
        if (!nl) break;
        p = nl + 1;
    }
    *lines = v;
    *n = k;
    return s;
}

int vq_cmd_upsert(int argc, char **argv) {
    const char *cmd = "upsert";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf(
            "usage: vqdb upsert --data DIR --collection C --vectors FILE [--attrs FILE.jsonl]\n"
            "                   [--ids FILE] [--batch N (1000)] [--threads T (1)] [--limit N]\n");
        return 0;
    }
    vqe_cli_opt o[] = {VQE_OPT("--data", 1),    VQE_OPT("--collection", 1), VQE_OPT("--vectors", 1),
                       VQE_OPT("--attrs", 1),   VQE_OPT("--ids", 1),        VQE_OPT("--batch", 1),
                       VQE_OPT("--threads", 1), VQE_OPT("--limit", 1)};
    size_t no = sizeof o / sizeof *o;
    int rc = vqe_cli_parse(cmd, argc, argv, 1, o, no);
    const char *dir = vqe_cli_get(o, no, "--data"), *cname = vqe_cli_get(o, no, "--collection"),
               *vec = vqe_cli_get(o, no, "--vectors"), *attrs = vqe_cli_get(o, no, "--attrs"),
               *idf = vqe_cli_get(o, no, "--ids");
    if (rc || (rc = vqe_cli_need(cmd, dir, "--data")) ||
        (rc = vqe_cli_need(cmd, cname, "--collection")) ||
        (rc = vqe_cli_need(cmd, vec, "--vectors")))
        return rc;
    unsigned long batch = 1000, threads = 1, limit = 0;
    if (vqe_cli_get(o, no, "--batch") && (rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "--batch"),
                                                            "--batch", 1, VQE_BATCH_MAX, &batch)))
        return rc;
    if (vqe_cli_get(o, no, "--threads") &&
        (rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "--threads"), "--threads", 1, 64, &threads)))
        return rc;
    if (vqe_cli_get(o, no, "--limit") &&
        (rc = vqe_cli_uint(cmd, vqe_cli_get(o, no, "--limit"), "--limit", 1, 1ul << 40, &limit)))
        return rc;
    vq_matrix m = {0};
    vq_err e = {0};
    if ((rc = vq_read_vectors(vec, limit, &m, &e))) return vq_cli_fail(cmd, rc, &e);
    char **al = NULL, **il = NULL;
    size_t na = 0, ni = 0;
    char *abuf = NULL, *ibuf = NULL;
    int ret = 0;
    if (attrs && !(abuf = read_lines(attrs, &al, &na))) {
        fprintf(stderr, "vqdb upsert: cannot read %s\n", attrs);
        ret = 1;
    }
    if (!ret && idf && !(ibuf = read_lines(idf, &il, &ni))) {
        fprintf(stderr, "vqdb upsert: cannot read %s\n", idf);
        ret = 1;
    }
    if (!ret && attrs && na < m.n) {
        fprintf(stderr, "vqdb upsert: %s has %zu lines for %zu vectors\n", attrs, na, m.n);
        ret = 1;
    }
    if (!ret && idf && ni < m.n) {
        fprintf(stderr, "vqdb upsert: %s has %zu ids for %zu vectors\n", idf, ni, m.n);
        ret = 1;
    }
    vqe_db *db = NULL;
    vqe_collection *c = NULL;
    if (!ret && (ret = vqe_cli_open(cmd, dir, 0, &db)) == 0 &&
        (rc = vqe_collection_open(db, cname, &c, &e)))
        ret = vq_cli_fail(cmd, rc, &e);
    if (!ret) {
        vq_progress prog;
        vq_progress_start(&prog, "upsert", m.n);
        job *jobs = calloc(threads, sizeof *jobs);
        pthread_t *th = calloc(threads, sizeof *th);
        double t0 = vq_now();
        for (unsigned long t = 0; t < threads; t++) {
            jobs[t] = (job){c, &m, al, il, batch, t, threads, m.n, 0, {0}, 0, &prog};
            pthread_create(&th[t], NULL, worker, &jobs[t]);
        }
        size_t done = 0;
        for (unsigned long t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            done += jobs[t].done;
            if (jobs[t].rc && !ret) ret = vq_cli_fail(cmd, jobs[t].rc, &jobs[t].err);
        }
        double dt = vq_now() - t0;
        vq_progress_end(&prog);
        vqe_collection_info in;
        vqe_collection_info_get(c, &in);
        printf("upserted %zu vectors in %.2f s: %.0f vectors/s (%s, batch %lu, %lu thread%s); "
               "collection now holds %llu\n",
               done, dt, dt > 0 ? (double)done / dt : 0.0,
               in.schema.durability == VQE_DURABLE_SYNC ? "sync" : "group", batch, threads,
               threads > 1 ? "s" : "", (unsigned long long)in.count);
        free(jobs);
        free(th);
    }
    vqe_db_close(db);
    vq_free(abuf);
    vq_free(ibuf);
    free(al);
    free(il);
    vq_matrix_free(&m);
    return ret;
}
