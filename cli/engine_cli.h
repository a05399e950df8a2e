/* engine_cli.h — helpers shared by the engine subcommands (collection, upsert, query,
 * delete, get, snapshot, restore, explain): option tables, opening the data directory, and
 * parsing user ids ("123" is a numeric id, anything else a string id). Header-only so each
 * cmd_<sub>.c stays independent. */
#ifndef VQ_ENGINE_CLI_H
#define VQ_ENGINE_CLI_H

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "quant.h"

/* Looks up "--name VALUE" style options; returns the value or NULL. Flags (no value) are
 * found with vqe_cli_flag. Unknown options are reported by vqe_cli_check. */
typedef struct vqe_cli_opt {
    const char *name; /* "--data" */
    int has_arg;
    const char *val;
    int seen;
} vqe_cli_opt;
#define VQE_OPT(n, a) \
    { (n), (a), NULL, 0 }

static inline int vqe_cli_parse(const char *cmd, int argc, char **argv, int first,
                                vqe_cli_opt *opts, size_t n) {
    for (int i = first; i < argc; i++) {
        size_t j = 0;
        for (; j < n; j++)
            if (!strcmp(argv[i], opts[j].name)) break;
        if (j == n) {
            fprintf(stderr, "vqdb %s: unknown option '%s' (see --help)\n", cmd, argv[i]);
            return 2;
        }
        opts[j].seen = 1;
        if (opts[j].has_arg) {
            if (i + 1 >= argc) {
                fprintf(stderr, "vqdb %s: %s needs a value\n", cmd, argv[i]);
                return 2;
            }
            opts[j].val = argv[++i];
        }
    }
    return 0;
}

static inline const char *vqe_cli_get(vqe_cli_opt *opts, size_t n, const char *name) {
    for (size_t j = 0; j < n; j++)
        if (!strcmp(opts[j].name, name)) return opts[j].val;
    return NULL;
}
static inline int vqe_cli_flag(vqe_cli_opt *opts, size_t n, const char *name) {
    for (size_t j = 0; j < n; j++)
        if (!strcmp(opts[j].name, name)) return opts[j].seen;
    return 0;
}
static inline int vqe_cli_need(const char *cmd, const char *v, const char *name) {
    if (v) return 0;
    fprintf(stderr, "vqdb %s: %s is required\n", cmd, name);
    return 2;
}
static inline int vqe_cli_uint(const char *cmd, const char *s, const char *name, unsigned long min,
                               unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max || s[0] == '-') {
        fprintf(stderr, "vqdb %s: %s must be an integer in %lu..%lu\n", cmd, name, min, max);
        return 2;
    }
    *out = v;
    return 0;
}

static inline void vqe_cli_progress(void *ctx, const char *coll, size_t done, size_t total) {
    (void)ctx;
    fprintf(stderr, "\rrebuilding index of %s: %zu/%zu", coll, done, total);
    if (done == total) fputc('\n', stderr);
}

static inline int vqe_cli_open(const char *cmd, const char *dir, int create, vqe_db **db) {
    vqe_db_params p;
    vqe_db_params_default(&p);
    p.create_if_missing = create;
    p.progress = vqe_cli_progress;
    vq_err e = {0};
    int rc = vqe_db_open(dir, &p, db, &e);
    if (rc) return vq_cli_fail(cmd, rc, &e);
    return 0;
}

/* "123" -> numeric id, anything else -> string id (s points into the argument). */
static inline void vqe_cli_id(const char *s, vqe_id *id) {
    const char *p = s;
    while (*p && isdigit((unsigned char)*p)) p++;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (*s && !*p && !errno && strlen(s) <= 20) {
        *id = (vqe_id){.u = v};
    } else {
        *id = (vqe_id){.is_str = 1, .s = s};
    }
}

/* Splits "a,b,c" in place into ids; returns the count (<= cap). */
static inline size_t vqe_cli_ids(char *list, vqe_id *ids, size_t cap) {
    size_t n = 0;
    for (char *tok = strtok(list, ","); tok && n < cap; tok = strtok(NULL, ","))
        vqe_cli_id(tok, &ids[n++]);
    return n;
}

#endif
