/* kill_mid_ingest — crash safety of the engine's write path.
 *
 * Each round forks a child that opens the data directory and ingests batches (random
 * sizes 1..64, each record tagged with its batch number and the batch size) into a `sync`
 * (or `group`) collection, and deletes whole earlier batches now and then. Before each
 * request it reports "B/D ..." on a pipe, after the call returns (= acknowledged) "A/X ...".
 * The parent SIGKILLs the child at a random moment (10..150 ms after its first ack),
 * reopens the directory (the index file is stale, so this also exercises the rebuild) and
 * checks, for every batch ever begun:
 *   - acknowledged and not deleted  -> all of its records are present, with their
 *                                      attributes;
 *   - acknowledged deletes          -> none of its records are present;
 *   - in flight at the kill         -> all or nothing (never a partial batch);
 *   - the collection's count equals the sum over the batches present.
 * Usage: kill_mid_ingest [rounds=50] [sync|group] [data-dir]. Exit 0 = every check held.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define DIM 8
#define MAXB 200000

static int size_of[MAXB]; /* records in batch b (0: never begun) */
static uint64_t first_of[MAXB];
static char acked[MAXB]; /* insert acknowledged */
static char del_begun[MAXB], del_acked[MAXB];
static int nbatches;
static uint64_t next_id = 1;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static void say(int fd, const char *fmt, long a, long b, long c) {
    char buf[96];
    int n = snprintf(buf, sizeof buf, fmt, a, b, c);
    ssize_t w = write(fd, buf, (size_t)n); /* one write() per line: atomic on a pipe */
    (void)w;
}

/* The table of live batches (number, size, first id) the parent writes before each fork, so
 * the child knows which ids a whole-batch delete must name. */
static const char *g_tab;

static int load_tab(uint64_t *first, int *size, int max) {
    FILE *f = fopen(g_tab, "r");
    if (!f) return 0;
    int b, n;
    unsigned long long fi;
    while (fscanf(f, "%d %d %llu", &b, &n, &fi) == 3)
        if (b >= 0 && b < max) size[b] = n, first[b] = fi;
    fclose(f);
    return 1;
}

static void child(const char *dir, int fd, int first_batch, uint64_t first_id, uint64_t seed) {
    static uint64_t cfirst[MAXB];
    static int csize[MAXB];
    load_tab(cfirst, csize, MAXB);
    vqe_db *db;
    vqe_collection *c;
    vq_err e;
    if (vqe_db_open(dir, NULL, &db, &e) || vqe_collection_open(db, "k", &c, &e)) {
        fprintf(stderr, "child: open: %s %s\n", e.field, e.msg);
        _exit(3);
    }
    rng = seed;
    uint64_t id = first_id;
    static float x[64 * DIM];
    static vqe_record r[64];
    static vqe_value v[64][2];
    static vqe_id ids[64];
    for (int b = first_batch; b < MAXB; b++) {
        if (b > 10 && rnd() % 6 == 0) {
            int t = (int)(rnd() % (uint64_t)b);
            if (!csize[t]) continue;
            for (int i = 0; i < csize[t]; i++) ids[i] = (vqe_id){.u = cfirst[t] + (uint64_t)i};
            say(fd, "D %ld %ld %ld\n", b, t, 0);
            if (vqe_delete(c, ids, (size_t)csize[t], NULL, &e)) {
                fprintf(stderr, "child: delete: %s %s\n", e.field, e.msg);
                _exit(4);
            }
            say(fd, "X %ld %ld %ld\n", b, t, 0);
            continue;
        }
        int n = 1 + (int)(rnd() % 64);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < DIM; j++) x[i * DIM + j] = (float)(rnd() % 1000) / 100.0f;
            v[i][0] = (vqe_value){.field = "batch", .type = VQE_INT64, .i = b};
            v[i][1] = (vqe_value){.field = "size", .type = VQE_INT64, .i = n};
            r[i] = (vqe_record){.id = {.u = id + (uint64_t)i},
                                .vector = x + i * DIM,
                                .values = v[i],
                                .n_values = 2};
        }
        csize[b] = n, cfirst[b] = id;
        say(fd, "B %ld %ld %ld\n", b, n, (long)id);
        if (vqe_upsert(c, r, (size_t)n, &e)) {
            fprintf(stderr, "child: upsert: %s %s\n", e.field, e.msg);
            _exit(4);
        }
        say(fd, "A %ld %ld %ld\n", b, 0, 0);
        id += (uint64_t)n;
    }
    vqe_db_close(db);
    _exit(0);
}

static int fails;
#define CHECK(cond, ...)                           \
    do {                                           \
        if (!(cond)) {                             \
            fprintf(stderr, "FAIL: " __VA_ARGS__); \
            fputc('\n', stderr);                   \
            if (++fails > 20) exit(1);             \
        }                                          \
    } while (0)

static uint64_t matches(vqe_collection *c, const vqe_schema *s, int b) {
    char q[64];
    snprintf(q, sizeof q, "batch = %d", b);
    vqe_filter *f;
    vq_err e;
    if (vqe_filter_parse(q, &f, &e) || vqe_filter_bind(f, s, &e)) {
        fprintf(stderr, "filter: %s\n", e.msg);
        exit(1);
    }
    vqe_search_params p;
    vqe_search_params_default(&p);
    p.filter = f;
    vqe_explain ex;
    if (vqe_explain_plan(c, &p, &ex, &e)) {
        fprintf(stderr, "explain: %s\n", e.msg);
        exit(1);
    }
    vqe_filter_free(f);
    return ex.matches;
}

static void verify(const char *dir, int round) {
    vqe_db *db;
    vqe_collection *c;
    vq_err e;
    if (vqe_db_open(dir, NULL, &db, &e) || vqe_collection_open(db, "k", &c, &e)) {
        fprintf(stderr, "FAIL: round %d: reopen: %s %s\n", round, e.field, e.msg);
        exit(1);
    }
    vqe_collection_info in;
    vqe_collection_info_get(c, &in);
    uint64_t total = 0;
    for (int b = 0; b < nbatches; b++) {
        if (!size_of[b]) continue;
        uint64_t m = matches(c, &in.schema, b);
        CHECK(m == 0 || m == (uint64_t)size_of[b], "round %d: batch %d partial: %llu of %d", round,
              b, (unsigned long long)m, size_of[b]);
        if (acked[b] && !del_begun[b])
            CHECK(m == (uint64_t)size_of[b], "round %d: acknowledged batch %d lost (%llu of %d)",
                  round, b, (unsigned long long)m, size_of[b]);
        if (del_acked[b])
            CHECK(m == 0, "round %d: acknowledged delete of batch %d not applied", round, b);
        /* a batch found present is re-marked so the child's next deletes know its ids */
        if (m == 0) {
            if (!acked[b] || del_begun[b]) size_of[b] = -size_of[b]; /* gone for good */
        } else {
            acked[b] = 1; /* present after restart = durable */
            del_begun[b] = 0;
        }
        total += m;
        if (m && (b % 7 == 0)) { /* spot-check get: vector and attributes */
            vqe_id id = {.u = first_of[b]};
            vqe_got g;
            CHECK(vqe_get(c, &id, 1, &g, &e) == VQ_OK && g.found, "round %d: get of batch %d",
                  round, b);
            if (g.found) {
                char want[64];
                snprintf(want, sizeof want, "{\"batch\":%d,\"size\":%d}", b, size_of[b]);
                CHECK(!strcmp(g.attrs_json, want), "round %d: attrs %s != %s", round, g.attrs_json,
                      want);
            }
            vqe_got_free(&g, 1);
        }
    }
    CHECK(in.count == total, "round %d: count %llu != %llu in batches", round,
          (unsigned long long)in.count, (unsigned long long)total);
    vqe_db_close(db);
    /* batches that vanished for good are forgotten (negative size) */
    for (int b = 0; b < nbatches; b++)
        if (size_of[b] < 0) size_of[b] = 0;
    FILE *f = fopen(g_tab, "w");
    for (int b = 0; f && b < nbatches; b++)
        if (size_of[b]) fprintf(f, "%d %d %llu\n", b, size_of[b], (unsigned long long)first_of[b]);
    if (f) fclose(f);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 50;
    int group = argc > 2 && !strcmp(argv[2], "group");
    char dir[256], tab[300];
    if (argc > 3)
        snprintf(dir, sizeof dir, "%s", argv[3]);
    else {
        snprintf(dir, sizeof dir, "/tmp/vqe_kill_XXXXXX");
        if (!mkdtemp(dir)) return 2;
    }
    snprintf(tab, sizeof tab, "%s.batches", dir);
    g_tab = tab;
    unlink(tab);
    vq_init();
    {
        vqe_db *db;
        vq_err e;
        vqe_schema s;
        vqe_schema_default(&s);
        snprintf(s.name, sizeof s.name, "k");
        s.dim = DIM;
        s.durability = group ? VQE_DURABLE_GROUP : VQE_DURABLE_SYNC;
        s.group_ms = 20;
        if (vqe_db_open(dir, NULL, &db, &e) ||
            vqe_schema_fields_from_json(
                &s, "{\"fields\": {\"batch\": \"int64\", \"size\": \"int64\"}}", &e) ||
            vqe_collection_create(db, &s, &e)) {
            fprintf(stderr, "setup: %s %s\n", e.field, e.msg);
            return 2;
        }
        vqe_db_close(db);
    }
    srand((unsigned)time(NULL));
    uint64_t seed0 = (uint64_t)time(NULL) * 2654435761u + 1;
    long acks_total = 0, inflight_present = 0, inflight_absent = 0;
    double t0 = vq_now();
    for (int round = 0; round < rounds; round++) {
        int fd[2];
        if (pipe(fd)) return 2;
        pid_t pid = fork();
        if (pid == 0) {
            close(fd[0]);
            child(dir, fd[1], nbatches, next_id, seed0 + (uint64_t)round * 7919);
        }
        close(fd[1]);
        int kill_ms = 10 + rand() % 140, killed = 0;
        double start = 0;
        char buf[1 << 16];
        size_t have = 0;
        int in_flight = -1;
        for (;;) {
            if (!killed && start > 0 && (vq_now() - start) * 1e3 >= kill_ms) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            struct pollfd p = {fd[0], POLLIN, 0};
            int pr = poll(&p, 1, 5);
            if (pr <= 0) continue;
            ssize_t n = read(fd[0], buf + have, sizeof buf - 1 - have);
            if (n <= 0) break; /* child gone (killed or failed) */
            have += (size_t)n;
            buf[have] = 0;
            char *line = buf, *nl;
            while ((nl = strchr(line, '\n'))) {
                *nl = 0;
                char t;
                long a, b, cc;
                if (sscanf(line, "%c %ld %ld %ld", &t, &a, &b, &cc) == 4) {
                    if (t == 'B') {
                        if (a >= MAXB) break;
                        size_of[a] = (int)b, first_of[a] = (uint64_t)cc;
                        if (a + 1 > nbatches) nbatches = (int)a + 1;
                        next_id = (uint64_t)cc + (uint64_t)b;
                        in_flight = (int)a;
                    } else if (t == 'A') {
                        acked[a] = 1, acks_total++, in_flight = -1;
                        if (start == 0) start = vq_now();
                    } else if (t == 'D') {
                        del_begun[b] = 1;
                        if (a + 1 > nbatches) nbatches = (int)a + 1;
                    } else if (t == 'X') {
                        del_acked[b] = 1, acks_total++;
                    }
                }
                line = nl + 1;
            }
            have -= (size_t)(line - buf);
            memmove(buf, line, have);
        }
        close(fd[0]);
        int st;
        waitpid(pid, &st, 0);
        if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
            fprintf(stderr, "FAIL: round %d: child exited with status %d before the kill\n", round,
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            return 1;
        }
        /* the batch in flight (begun, not acknowledged) may be present or absent */
        int fl = in_flight;
        verify(dir, round);
        if (fl >= 0) {
            if (size_of[fl] > 0 && acked[fl])
                inflight_present++;
            else
                inflight_absent++;
        }
        /* ids must never repeat across rounds, whether the in-flight batch survived or not */
        next_id += 64;
    }
    printf("kill_mid_ingest: %d rounds (%s), %ld acknowledged requests, %d batches begun; "
           "in-flight batch at the kill: %ld present, %ld absent; %d failures; %.1f s\n",
           rounds, group ? "group" : "sync", acks_total, nbatches, inflight_present,
           inflight_absent, fails, vq_now() - t0);
    if (argc <= 3) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf %s %s", dir, tab);
        if (system(cmd)) fails++;
    }
    return fails ? 1 : 0;
}
