/* rpc_inproc.c — the in-process side of the RPC overhead measurement (bench/rpc_overhead.sh):
 * opens a vqdb data directory read-only, and for each ef of a list runs every query of a
 * file through vqe_search (k, ef as the server would) on one thread, after one untimed pass
 * to warm the index. Prints one JSON line per ef: recall@k against an .ivecs ground truth
 * (user ids are the base-file row numbers), CPU microseconds per search (this process's
 * CPU time, CLOCK_PROCESS_CPUTIME_ID, the same clock family as the server's /proc/PID/stat
 * figure) and wall QPS.
 *
 * With a last argument "rounds", it then stays open and reads commands "EF SECONDS" from
 * stdin, one per line: for each, it searches the same NQ queries (in order, cycling) with
 * that ef for SECONDS of wall time and prints one JSON line (searches, CPU seconds, CPU
 * microseconds per search, recall@k). A command "raw EF SECONDS CLIENT_CPU SPIN" serves
 * those searches to a forked client over a loopback socket with no RPC stack instead
 * (raw_serve.c; CLIENT_CPU -2 = any CPU, SPIN 1 = the client polls) and prints this
 * process's CPU per call: the gRPC server's ratio with the RPC stack taken out.
 * bench/rpc_overhead.sh uses this to alternate in-process windows with server windows on one opened
 * collection, so that both sides of the ratio see the same machine state (the collection is opened
 * once: 1M takes ~14 s CPU).
 *
 * usage: rpc_inproc DATA_DIR COLLECTION QUERIES.fvecs GT.ivecs K EF[,EF...] [NQ [rounds]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine.h"
#include "raw_serve.h"
#include "readers.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* How many of the n hits are among the first k ground-truth ids of their query. */
static size_t hits_in_gt(const vqe_hit *hits, size_t n, const int32_t *gt_row, unsigned k) {
    size_t found = 0;
    for (size_t a = 0; a < n; a++)
        for (unsigned b = 0; b < k; b++)
            if (!hits[a].id.is_str && hits[a].id.u == (uint64_t)gt_row[b]) {
                found++;
                break;
            }
    return found;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: rpc_inproc DATA_DIR COLLECTION QUERIES GT K EF[,EF...] [NQ]\n");
        return 2;
    }
    vq_err e;
    vq_matrix q;
    vq_imatrix gt;
    unsigned k = (unsigned)strtoul(argv[5], NULL, 10);
    size_t nq_max = argc > 7 ? strtoull(argv[7], NULL, 10) : 0;
    if (vq_read_vectors(argv[3], nq_max, &q, &e) || vq_read_ivecs(argv[4], nq_max, &gt, &e)) {
        fprintf(stderr, "rpc_inproc: %s: %s\n", e.field, e.msg);
        return 1;
    }
    if (gt.n < q.n || gt.d < k) {
        fprintf(stderr, "rpc_inproc: ground truth has %zu x %zu, need %zu x %u\n", gt.n, gt.d, q.n,
                k);
        return 1;
    }
    vqe_db_params dp;
    vqe_db_params_default(&dp);
    dp.read_only = 1;
    vqe_db *db;
    vqe_collection *c;
    double t_open = cpu_now();
    if (vqe_db_open(argv[1], &dp, &db, &e) || vqe_collection_open(db, argv[2], &c, &e)) {
        fprintf(stderr, "rpc_inproc: %s: %s\n", e.field, e.msg);
        return 1;
    }
    fprintf(stderr, "rpc_inproc: opened %s/%s in %.1f s CPU\n", argv[1], argv[2],
            cpu_now() - t_open);
    vqe_hit *hits = calloc(k, sizeof *hits);
    char *list = strdup(argv[6]), *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        vqe_search_params sp;
        vqe_search_params_default(&sp);
        sp.k = k;
        sp.ef = (unsigned)strtoul(tok, NULL, 10);
        size_t found = 0;
        double cpu = 0, wall = 0;
        for (int pass = 0; pass < 2; pass++) { /* pass 0 warms the index up, untimed */
            struct timespec w0, w1;
            clock_gettime(CLOCK_MONOTONIC, &w0);
            double c0 = cpu_now();
            found = 0;
            for (size_t i = 0; i < q.n; i++) {
                size_t n = 0;
                if (vqe_search(c, q.data + i * q.d, &sp, hits, &n, NULL, &e)) {
                    fprintf(stderr, "rpc_inproc: search: %s: %s\n", e.field, e.msg);
                    return 1;
                }
                found += hits_in_gt(hits, n, gt.data + i * gt.d, k);
            }
            cpu = cpu_now() - c0;
            clock_gettime(CLOCK_MONOTONIC, &w1);
            wall = (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec);
        }
        printf("{\"ef\":%u,\"k\":%u,\"nq\":%zu,\"recall\":%.4f,\"cpu_us_per_search\":%.2f,"
               "\"qps\":%.1f}\n",
               sp.ef, k, q.n, (double)found / ((double)q.n * k), 1e6 * cpu / (double)q.n,
               (double)q.n / wall);
        fflush(stdout);
    }
    free(list);
    if (argc > 8 && !strcmp(argv[8], "rounds")) {
        char cmd[128];
        int round = 0, raw_round = 0;
        while (fgets(cmd, sizeof cmd, stdin)) {
            unsigned ef;
            double secs;
            int client_cpu, spin;
            if (sscanf(cmd, "raw %u %lf %d %d", &ef, &secs, &client_cpu, &spin) == 4) {
                vqe_search_params sp;
                vqe_search_params_default(&sp);
                sp.k = k;
                sp.ef = ef;
                raw_result rr;
                if (secs <= 0 || raw_serve(c, &q, &sp, secs, client_cpu, spin, &rr) < 0 ||
                    !rr.calls) {
                    fprintf(stderr, "rpc_inproc: the raw-socket window failed\n");
                    return 1;
                }
                printf("{\"raw_round\":%d,\"ef\":%u,\"k\":%u,\"client_cpu\":%d,\"spin\":%d,"
                       "\"calls\":%llu,\"server_cpu_s\":%.3f,\"raw_cpu_us_per_call\":%.2f,"
                       "\"qps\":%.1f}\n",
                       ++raw_round, ef, k, client_cpu, spin, (unsigned long long)rr.calls,
                       rr.server_cpu_s, 1e6 * rr.server_cpu_s / (double)rr.calls,
                       (double)rr.calls / rr.wall_s);
                fflush(stdout);
                continue;
            }
            if (sscanf(cmd, "%u %lf", &ef, &secs) != 2 || secs <= 0) {
                fprintf(stderr, "rpc_inproc: expected \"EF SECONDS\", got %s", cmd);
                return 1;
            }
            vqe_search_params sp;
            vqe_search_params_default(&sp);
            sp.k = k;
            sp.ef = ef;
            size_t searches = 0, found = 0;
            struct timespec w0, w;
            clock_gettime(CLOCK_MONOTONIC, &w0);
            struct rusage ru0, ru1;
            getrusage(RUSAGE_SELF, &ru0);
            double c0 = cpu_now(), elapsed = 0;
            /* Time is checked once per search, as loadgen does per call. */
            while (elapsed < secs) {
                size_t i = searches % q.n, n = 0;
                if (vqe_search(c, q.data + i * q.d, &sp, hits, &n, NULL, &e)) {
                    fprintf(stderr, "rpc_inproc: search: %s: %s\n", e.field, e.msg);
                    return 1;
                }
                found += hits_in_gt(hits, n, gt.data + i * gt.d, k);
                searches++;
                clock_gettime(CLOCK_MONOTONIC, &w);
                elapsed = (double)(w.tv_sec - w0.tv_sec) + 1e-9 * (double)(w.tv_nsec - w0.tv_nsec);
            }
            double cpu = cpu_now() - c0;
            getrusage(RUSAGE_SELF, &ru1);
            printf("{\"round\":%d,\"minflt\":%ld,\"majflt\":%ld,\"ef\":%u,\"k\":%u,\"nq\":%zu,"
                   "\"searches\":%zu,\"recall\":%.4f,"
                   "\"cpu_s\":%.3f,\"cpu_us_per_search\":%.2f,\"qps\":%.1f}\n",
                   ++round, ru1.ru_minflt - ru0.ru_minflt, ru1.ru_majflt - ru0.ru_majflt, ef, k,
                   q.n, searches, (double)found / ((double)searches * k), cpu,
                   1e6 * cpu / (double)searches, (double)searches / elapsed);
            fflush(stdout);
        }
    }
    free(hits);
    vqe_db_close(db);
    vq_matrix_free(&q);
    vq_imatrix_free(&gt);
    return 0;
}
