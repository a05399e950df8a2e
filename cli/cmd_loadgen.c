/* cmd_loadgen.c — `vqdb loadgen`: closed-loop gRPC load against a vqdb server. For each
 * concurrency level, that many threads each issue calls back to back for the duration;
 * a fraction (--upsert-ratio) are Upserts of query-file vectors under fresh ids, the rest
 * Searches. Prints one JSON line per level: QPS, latency percentiles of successful calls,
 * and error counts by gRPC status. With --verify, every acknowledged Upsert's id is read back
 * with Get after the level ends (with its vector, compared bit for bit), and the line also
 * reports acked / lost / mismatched writes. With --batch N, each search call is one
 * SearchBatch of N queries: "searches" and "qps" then count queries, "calls" counts calls,
 * and the latencies are per call. With --spin, the threads poll for replies instead of
 * sleeping (see vqr_client_set_spin): a measurement option, not a way to run clients. */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "proto/vqdb.pb-c.h"
#include "readers.h"
#include "rpc.h"

typedef struct lg {
    vqr_client *client;
    const char *collection;
    const vq_matrix *q;
    unsigned k, ef, batch;
    double duration, upsert_ratio, timeout;
    int verify;
    atomic_uint_fast64_t next_id;
} lg;

typedef struct worker {
    lg *g;
    unsigned seed;
    double *lat;
    size_t n_lat, cap;
    uint64_t searches, upserts, calls, errors_by_status[17], other_errors;
    uint64_t *acked; /* --verify: (id, query row) pairs of acknowledged upserts */
    size_t n_acked, cap_acked;
} worker;

static int pack_search(const lg *g, size_t row, uint8_t **buf, size_t *len) {
    Vqdb__V1__SearchRequest r = VQDB__V1__SEARCH_REQUEST__INIT;
    Vqdb__V1__SearchParams sp = VQDB__V1__SEARCH_PARAMS__INIT;
    r.collection = (char *)g->collection;
    r.n_vector = g->q->d;
    r.vector = g->q->data + row * g->q->d;
    r.k = g->k;
    sp.ef = g->ef;
    r.params = &sp;
    *len = vqdb__v1__search_request__get_packed_size(&r);
    *buf = vq_malloc(*len + 1);
    if (!*buf) return VQ_ENOMEM;
    vqdb__v1__search_request__pack(&r, *buf);
    return VQ_OK;
}

/* One SearchBatch of g->batch queries drawn with `seed`, all with the same k and ef. */
static int pack_search_batch(const lg *g, unsigned *seed, uint8_t **buf, size_t *len) {
    Vqdb__V1__SearchBatchRequest r = VQDB__V1__SEARCH_BATCH_REQUEST__INIT;
    Vqdb__V1__SearchParams sp = VQDB__V1__SEARCH_PARAMS__INIT;
    Vqdb__V1__SearchRequest *s = calloc(g->batch, sizeof *s);
    Vqdb__V1__SearchRequest **ptrs = calloc(g->batch, sizeof *ptrs);
    int rc = s && ptrs ? VQ_OK : VQ_ENOMEM;
    sp.ef = g->ef;
    for (unsigned i = 0; rc == VQ_OK && i < g->batch; i++) {
        size_t row = (size_t)rand_r(seed) % g->q->n;
        vqdb__v1__search_request__init(&s[i]);
        s[i].n_vector = g->q->d;
        s[i].vector = g->q->data + row * g->q->d;
        s[i].k = g->k;
        s[i].params = &sp;
        ptrs[i] = &s[i];
    }
    if (rc == VQ_OK) {
        r.collection = (char *)g->collection;
        r.n_searches = g->batch;
        r.searches = ptrs;
        *len = vqdb__v1__search_batch_request__get_packed_size(&r);
        *buf = vq_malloc(*len + 1);
        if (*buf)
            vqdb__v1__search_batch_request__pack(&r, *buf);
        else
            rc = VQ_ENOMEM;
    }
    free(ptrs);
    free(s);
    return rc;
}

static int pack_upsert(lg *g, size_t row, uint8_t **buf, size_t *len, uint64_t *idp) {
    Vqdb__V1__UpsertRequest r = VQDB__V1__UPSERT_REQUEST__INIT;
    Vqdb__V1__Point p = VQDB__V1__POINT__INIT;
    Vqdb__V1__Id id = VQDB__V1__ID__INIT;
    Vqdb__V1__Point *pp = &p;
    id.kind_case = VQDB__V1__ID__KIND_NUM;
    id.num = *idp = atomic_fetch_add(&g->next_id, 1);
    p.id = &id;
    p.n_vector = g->q->d;
    p.vector = g->q->data + row * g->q->d;
    r.collection = (char *)g->collection;
    r.n_points = 1;
    r.points = &pp;
    *len = vqdb__v1__upsert_request__get_packed_size(&r);
    *buf = vq_malloc(*len + 1);
    if (!*buf) return VQ_ENOMEM;
    vqdb__v1__upsert_request__pack(&r, *buf);
    return VQ_OK;
}

static void *run_worker(void *arg) {
    worker *w = arg;
    lg *g = w->g;
    double end = vq_now() + g->duration;
    while (vq_now() < end) {
        size_t row = (size_t)rand_r(&w->seed) % g->q->n;
        int upsert = g->upsert_ratio > 0 && (double)rand_r(&w->seed) / RAND_MAX < g->upsert_ratio;
        uint8_t *req, *resp;
        size_t len, rlen;
        uint64_t id = 0;
        int batch = !upsert && g->batch > 1;
        if ((upsert  ? pack_upsert(g, row, &req, &len, &id)
             : batch ? pack_search_batch(g, &w->seed, &req, &len)
                     : pack_search(g, row, &req, &len)) < 0) {
            w->other_errors++;
            break;
        }
        int status;
        char details[256];
        double t0 = vq_now();
        const char *method = upsert  ? "/vqdb.v1.VectorDB/Upsert"
                             : batch ? "/vqdb.v1.VectorDB/SearchBatch"
                                     : "/vqdb.v1.VectorDB/Search";
        int rc = vqr_client_call(g->client, method, req, len, g->timeout, &resp, &rlen, &status,
                                 details, sizeof details);
        double dt = vq_now() - t0;
        vq_free(req);
        vq_free(resp);
        if (rc < 0) {
            w->other_errors++;
            continue;
        }
        if (status != 0) {
            w->errors_by_status[status >= 0 && status < 17 ? status : 2]++;
            continue;
        }
        if (upsert && g->verify) {
            if (w->n_acked + 2 > w->cap_acked) {
                size_t nc = w->cap_acked ? w->cap_acked * 2 : 4096;
                uint64_t *na = realloc(w->acked, nc * sizeof *na);
                if (!na) {
                    w->other_errors++;
                    break;
                }
                w->acked = na;
                w->cap_acked = nc;
            }
            w->acked[w->n_acked++] = id;
            w->acked[w->n_acked++] = row;
        }
        if (upsert)
            w->upserts++;
        else
            w->searches += batch ? g->batch : 1;
        w->calls++;
        if (w->n_lat == w->cap) {
            size_t nc = w->cap ? w->cap * 2 : 4096;
            double *nl = realloc(w->lat, nc * sizeof *nl);
            if (!nl) continue;
            w->lat = nl;
            w->cap = nc;
        }
        w->lat[w->n_lat++] = dt;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
    if (!n) return NAN;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

/* Reads back acknowledged upserts (pairs of id, query row) with Get in batches; counts ids
 * that are missing and ids whose stored vector differs from the one sent. */
static int verify_acked(lg *g, const uint64_t *acked, size_t n, uint64_t *lost,
                        uint64_t *mismatched) {
    *lost = *mismatched = 0;
    enum { B = 1000 };
    Vqdb__V1__Id ids[B], *ptrs[B];
    for (size_t at = 0; at < n; at += B) {
        size_t m = n - at < B ? n - at : B;
        Vqdb__V1__GetRequest r = VQDB__V1__GET_REQUEST__INIT;
        for (size_t i = 0; i < m; i++) {
            vqdb__v1__id__init(&ids[i]);
            ids[i].kind_case = VQDB__V1__ID__KIND_NUM;
            ids[i].num = acked[2 * (at + i)];
            ptrs[i] = &ids[i];
        }
        r.collection = (char *)g->collection;
        r.n_ids = m;
        r.ids = ptrs;
        r.with_vectors = 1;
        size_t len = vqdb__v1__get_request__get_packed_size(&r), rlen;
        uint8_t *req = vq_malloc(len + 1), *resp = NULL;
        if (!req) return VQ_ENOMEM;
        vqdb__v1__get_request__pack(&r, req);
        int status;
        char details[256];
        int rc = vqr_client_call(g->client, "/vqdb.v1.VectorDB/Get", req, len, 60, &resp, &rlen,
                                 &status, details, sizeof details);
        vq_free(req);
        if (rc < 0 || status != 0) {
            vq_free(resp);
            fprintf(stderr, "vqdb loadgen: verify Get failed: status %d %s\n", status, details);
            return VQ_EIO;
        }
        Vqdb__V1__GetResponse *out = vqdb__v1__get_response__unpack(NULL, rlen, resp);
        vq_free(resp);
        if (!out) return VQ_ECORRUPT;
        /* points come in request order with missing ids omitted */
        size_t j = 0;
        for (size_t i = 0; i < m; i++) {
            const Vqdb__V1__Point *p = j < out->n_points ? out->points[j] : NULL;
            if (!p || !p->id || p->id->num != ids[i].num) {
                (*lost)++;
                continue;
            }
            j++;
            const float *want = g->q->data + acked[2 * (at + i) + 1] * g->q->d;
            if (p->n_vector != g->q->d || memcmp(p->vector, want, g->q->d * sizeof(float)))
                (*mismatched)++;
        }
        vqdb__v1__get_response__free_unpacked(out, NULL);
    }
    return VQ_OK;
}

static void usage(void) {
    fprintf(stderr, "usage: vqdb loadgen --target HOST:PORT --collection C --queries FILE\n"
                    "         [--concurrency 1,8,32,64] [--duration 30s] [-k 10] [--ef N]\n"
                    "         [--upsert-ratio R] [--id-base N] [--token-file F] [--timeout S]\n"
                    "         [--verify] [--batch N] [--spin]\n");
}

int vq_cmd_loadgen(int argc, char **argv) {
    const char *target = NULL, *collection = NULL, *queries = NULL, *conc = "1,8,32,64",
               *token_file = NULL;
    lg g;
    memset(&g, 0, sizeof g);
    g.k = 10;
    g.duration = 30;
    g.timeout = 10;
    g.batch = 1;
    uint64_t id_base = 1ull << 40;
    int spin = 0;
    static const struct option opts[] = {
        {"target", 1, 0, 't'},       {"collection", 1, 0, 'c'}, {"queries", 1, 0, 'q'},
        {"concurrency", 1, 0, 'n'},  {"duration", 1, 0, 'd'},   {"ef", 1, 0, 'e'},
        {"upsert-ratio", 1, 0, 'u'}, {"id-base", 1, 0, 'i'},    {"token-file", 1, 0, 'f'},
        {"timeout", 1, 0, 'o'},      {"help", 0, 0, 'h'},       {"verify", 0, 0, 'V'},
        {"batch", 1, 0, 'b'},        {"spin", 0, 0, 'S'},       {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
        switch (ch) {
        case 't':
            target = optarg;
            break;
        case 'c':
            collection = optarg;
            break;
        case 'q':
            queries = optarg;
            break;
        case 'n':
            conc = optarg;
            break;
        case 'd':
            g.duration = strtod(optarg, NULL);
            break; /* "30s" parses as 30 */
        case 'k':
            g.k = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'e':
            g.ef = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'u':
            g.upsert_ratio = strtod(optarg, NULL);
            break;
        case 'i':
            id_base = strtoull(optarg, NULL, 10);
            break;
        case 'f':
            token_file = optarg;
            break;
        case 'o':
            g.timeout = strtod(optarg, NULL);
            break;
        case 'V':
            g.verify = 1;
            break;
        case 'b':
            g.batch = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'S':
            spin = 1;
            break;
        default:
            usage();
            return ch == 'h' ? 0 : 2;
        }
    }
    if (!target || !collection || !queries || g.duration <= 0 || g.k == 0 || g.upsert_ratio < 0 ||
        g.upsert_ratio > 1 || g.batch < 1 || g.batch > VQR_BATCH_MAX) {
        usage();
        return 2;
    }
    char token[512] = {0};
    if (token_file) {
        FILE *f = fopen(token_file, "r");
        size_t n = f ? fread(token, 1, sizeof token - 1, f) : 0;
        if (f) fclose(f);
        while (n && (token[n - 1] == '\n' || token[n - 1] == ' ')) token[--n] = '\0';
        if (!n) {
            fprintf(stderr, "vqdb loadgen: cannot read a token from %s (--token-file)\n",
                    token_file);
            return 1;
        }
    }
    vq_err err;
    vq_err_clear(&err);
    vq_matrix q;
    int rc = vq_read_vectors(queries, 0, &q, &err);
    if (rc < 0) return vq_cli_fail("loadgen", rc, &err);
    if (q.n == 0) {
        fprintf(stderr, "vqdb loadgen: %s holds no vectors (--queries)\n", queries);
        vq_matrix_free(&q);
        return 1;
    }
    rc = vqr_client_new(target, token_file ? token : NULL, &g.client, &err);
    if (rc < 0) {
        vq_matrix_free(&q);
        return vq_cli_fail("loadgen", rc, &err);
    }
    vqr_client_set_spin(g.client, spin);
    g.collection = collection;
    g.q = &q;
    atomic_store(&g.next_id, id_base);
    char *list = strdup(conc), *save = NULL;
    int status = 0;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        unsigned c = (unsigned)strtoul(tok, NULL, 10);
        if (c == 0 || c > 4096) {
            fprintf(stderr, "vqdb loadgen: concurrency '%s' outside [1, 4096]\n", tok);
            status = 2;
            break;
        }
        worker *ws = calloc(c, sizeof *ws);
        pthread_t *th = calloc(c, sizeof *th);
        if (!ws || !th) {
            free(ws);
            free(th);
            status = 1;
            break;
        }
        double t0 = vq_now();
        for (unsigned i = 0; i < c; i++) {
            ws[i].g = &g;
            ws[i].seed = 1234u + i;
            pthread_create(&th[i], NULL, run_worker, &ws[i]);
        }
        for (unsigned i = 0; i < c; i++) pthread_join(th[i], NULL);
        double wall = vq_now() - t0;
        size_t n = 0;
        uint64_t searches = 0, upserts = 0, calls = 0, errs[17] = {0}, other = 0;
        for (unsigned i = 0; i < c; i++) {
            n += ws[i].n_lat;
            searches += ws[i].searches;
            upserts += ws[i].upserts;
            calls += ws[i].calls;
            other += ws[i].other_errors;
            for (int s = 0; s < 17; s++) errs[s] += ws[i].errors_by_status[s];
        }
        double *all = malloc((n ? n : 1) * sizeof *all);
        size_t m = 0;
        for (unsigned i = 0; i < c; i++) {
            /* a worker with no successful call has no buffer (memcpy's NULL is UB) */
            if (all && ws[i].n_lat) memcpy(all + m, ws[i].lat, ws[i].n_lat * sizeof *all);
            m += ws[i].n_lat;
            free(ws[i].lat);
        }
        if (all) qsort(all, n, sizeof *all, cmp_double);
        uint64_t nerr = other;
        for (int s = 0; s < 17; s++) nerr += errs[s];
        char p50[32] = "null", p99[32] = "null", p999[32] = "null";
        if (all && n) {
            snprintf(p50, sizeof p50, "%.3f", 1e3 * pct(all, n, 0.5));
            snprintf(p99, sizeof p99, "%.3f", 1e3 * pct(all, n, 0.99));
            snprintf(p999, sizeof p999, "%.3f", 1e3 * pct(all, n, 0.999));
        }
        printf("{\"concurrency\":%u,\"duration_s\":%.2f,\"qps\":%.1f,\"searches\":%llu,"
               "\"upserts\":%llu,\"batch\":%u,\"spin\":%d,\"calls\":%llu,\"errors\":%llu,"
               "\"p50_ms\":%s,\"p99_ms\":%s,\"p999_ms\":%s,\"errors_by_status\":{",
               c, wall, (double)(searches + upserts) / wall, (unsigned long long)searches,
               (unsigned long long)upserts, g.batch, spin, (unsigned long long)calls,
               (unsigned long long)nerr, p50, p99, p999);
        int first = 1;
        for (int s = 0; s < 17; s++)
            if (errs[s]) {
                printf("%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)errs[s]);
                first = 0;
            }
        if (other) printf("%s\"transport\":%llu", first ? "" : ",", (unsigned long long)other);
        printf("}");
        if (g.verify) {
            size_t na = 0;
            for (unsigned i = 0; i < c; i++) na += ws[i].n_acked;
            uint64_t *acked = malloc((na ? na : 1) * sizeof *acked), lost = 0, mism = 0;
            size_t at = 0;
            for (unsigned i = 0; acked && i < c; i++) {
                if (ws[i].n_acked) memcpy(acked + at, ws[i].acked, ws[i].n_acked * sizeof *acked);
                at += ws[i].n_acked;
            }
            int vrc = acked ? verify_acked(&g, acked, na / 2, &lost, &mism) : VQ_ENOMEM;
            if (vrc < 0) status = 1;
            printf(",\"acked_upserts\":%zu,\"verified\":%s,\"lost\":%llu,\"mismatched\":%llu",
                   na / 2, vrc < 0 ? "false" : "true", (unsigned long long)lost,
                   (unsigned long long)mism);
            if (lost || mism) status = 1;
            free(acked);
        }
        for (unsigned i = 0; i < c; i++) free(ws[i].acked);
        printf("}\n");
        fflush(stdout);
        free(all);
        free(ws);
        free(th);
    }
    free(list);
    vqr_client_free(g.client);
    vq_matrix_free(&q);
    return status;
}
