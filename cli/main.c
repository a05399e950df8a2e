/* main.c — the `vqdb` binary: dispatches to one cmd_<sub>.c per subcommand. Subcommands
 * are declared weak so that a build lists exactly the ones compiled in. */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vq.h"

#define VQ_CMDS(X)                                                                       \
    X("quant-bench", vq_cmd_quant_bench, "measure quantizers: distortion, bias, speed")  \
    X("gen", vq_cmd_gen, "generate a synthetic vector set with a fixed seed")            \
    X("gt", vq_cmd_gt, "compute exact top-k ground truth (.ivecs)")                      \
    X("build", vq_cmd_build, "build an index from a vector file")                        \
    X("search", vq_cmd_search, "search a saved index")                                   \
    X("bench", vq_cmd_bench, "recall/latency sweep against FAISS and hnswlib")           \
    X("collection", vq_cmd_collection, "create/list/describe/drop collections")          \
    X("upsert", vq_cmd_upsert, "write vectors and attributes into a collection")         \
    X("query", vq_cmd_query, "query a collection (vector + attribute filter)")           \
    X("delete", vq_cmd_delete, "delete ids from a collection")                           \
    X("get", vq_cmd_get, "read records by id")                                           \
    X("snapshot", vq_cmd_snapshot, "consistent copy of a collection")                    \
    X("restore", vq_cmd_restore, "restore a collection from a snapshot")                 \
    X("explain", vq_cmd_explain, "show the plan of a filtered query")                    \
    X("rebuild", vq_cmd_rebuild, "rebuild an index, optionally in a new SPEC")           \
    X("compact", vq_cmd_compact, "reclaim deleted entries of an index")                  \
    X("serve", vq_cmd_serve, "run the gRPC server")                                      \
    X("loadgen", vq_cmd_loadgen, "gRPC load generator")                                  \
    X("kv-bench", vq_cmd_kv_bench, "KV-cache compression on a llama2.c model")           \
    X("compress-weights", vq_cmd_compress_weights, "quantize a model's weight matrices") \
    X("link", vq_cmd_link, "add/remove/list typed links between records")                \
    X("graph-bench", vq_cmd_graph_bench, "latency MMR/facility location add to an HNSW search")

#define VQ__DECL(name, fn, help) int fn(int argc, char **argv) __attribute__((weak));
VQ_CMDS(VQ__DECL)
#undef VQ__DECL

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} g_cmds[] = {
#define VQ__ROW(name, fn, help) {name, fn, help},
    VQ_CMDS(VQ__ROW)
#undef VQ__ROW
};

static void usage(FILE *f) {
    fprintf(f, "usage: vqdb <command> [options]   (vqdb <command> --help for its options)\n\n");
    for (size_t i = 0; i < sizeof g_cmds / sizeof g_cmds[0]; i++)
        if (g_cmds[i].fn) fprintf(f, "  %-18s %s\n", g_cmds[i].name, g_cmds[i].help);
    fprintf(f, "\nkernels: %s (VQ_ISA=scalar|avx2|avx512 lowers it)\n", vq_isa_name(vq_init()));
}

/* BLAS threads: OpenBLAS (Debian's default libblas) parallelizes each sgemm with its own
 * spinning thread pool. vqdb runs its own threads, and on a machine with other work those
 * spinners made IVF training 10x slower (2.7 s -> 28 s for 300k x 128, nlist=1024). So the
 * CLI (server included) pins OpenBLAS to one thread unless OPENBLAS_NUM_THREADS says
 * otherwise; FAISS baselines in `vqdb bench` run under the same setting. Looked up at run
 * time so that any other BLAS works unchanged. */
static void pin_blas_threads(void) {
    if (getenv("OPENBLAS_NUM_THREADS")) return;
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (set) set(1);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    vq_init();
    pin_blas_threads();
    for (size_t i = 0; i < sizeof g_cmds / sizeof g_cmds[0]; i++)
        if (g_cmds[i].fn && !strcmp(argv[1], g_cmds[i].name))
            return g_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "vqdb: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
