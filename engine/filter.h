/* filter.h — attribute filters: the expression tree, its text form, binding to a schema.
 *
 * Tree: AND / OR (n children), NOT (1 child); leaves compare one field with literals:
 *   EQ, NE           int64/double/bool/keyword field = literal
 *   IN               field value in a list (int64/double/keyword)
 *   RANGE            lo <(=) field <(=) hi on int64/double; either bound may be open
 *   HAS_ANY/HAS_ALL  a tags (keyword[]) field contains any / all of the listed tags
 *   ID_IN            the record's user id is one of the listed ids (uint64 or string)
 *   EXISTS           the record has a value for the field
 * NE and RANGE match only records that have the field (SQL-like); NOT(EQ) also matches
 * records without it.
 *
 * Text form (keywords case-insensitive):
 *   expr    := or
 *   or      := and ("OR" and)*
 *   and     := unary ("AND" unary)*
 *   unary   := "NOT" unary | "(" expr ")" | "EXISTS" ["("] FIELD [")"] | leaf
 *   leaf    := FIELD ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") literal
 *            | FIELD ["NOT"] "IN" "(" literal ("," literal)* ")"
 *            | FIELD "HAS" ("ANY" | "ALL") "(" string ("," string)* ")"
 *            | FIELD "BETWEEN" literal "AND" literal          (inclusive)
 *   literal := integer | decimal (1.5, 1e3) | 'string' | "string" | true | false
 * FIELD "id" addresses the user id: id = 5, id IN (1, 2, "doc-7").
 * Example: tenant = 7 AND year >= 2023 AND tags HAS ANY ("news", "blog")
 * Syntax errors are VQ_EINVAL with field "filter:<column>" (1-based byte column) and a
 * message saying what was expected.
 *
 * Binding (vqe_filter_bind) checks every field exists in the schema with a type the
 * operator accepts and converts literals (an integer literal compares with a double field);
 * errors name the field and its column.
 *
 * Thread safety: a filter tree is immutable once bound and may be shared by threads.
 */
#ifndef VQ_FILTER_H
#define VQ_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "vq.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQE_FILTER_MAX_DEPTH 64
#define VQE_FILTER_MAX_NODES 4096
#define VQE_FILTER_MAX_TEXT 65536

typedef enum vqe_fop {
    VQE_F_AND = 1,
    VQE_F_OR,
    VQE_F_NOT,
    VQE_F_EQ,
    VQE_F_NE,
    VQE_F_IN,
    VQE_F_RANGE,
    VQE_F_HAS_ANY,
    VQE_F_HAS_ALL,
    VQE_F_ID_IN,
    VQE_F_EXISTS
} vqe_fop;

typedef enum vqe_lit_kind {
    VQE_LIT_INT = 1,
    VQE_LIT_DOUBLE,
    VQE_LIT_STRING,
    VQE_LIT_BOOL
} vqe_lit_kind;

typedef struct vqe_lit {
    vqe_lit_kind kind;
    int64_t i; /* INT, BOOL (0/1) */
    double d;  /* DOUBLE */
    char *s;   /* STRING, owned by the node */
} vqe_lit;

typedef struct vqe_filter vqe_filter;
struct vqe_filter {
    vqe_fop op;
    unsigned col;  /* 1-based column in the text form (0 when built in code) */
    char *field;   /* leaves except ID_IN; owned */
    vqe_lit *vals; /* EQ/NE: 1; IN, HAS_ANY, HAS_ALL, ID_IN: n_vals; owned */
    size_t n_vals;
    vqe_lit lo, hi; /* RANGE */
    int has_lo, has_hi, lo_incl, hi_incl;
    vqe_filter **kids; /* AND/OR: n_kids >= 1; NOT: 1; owned */
    size_t n_kids;
    int field_idx; /* set by bind: index into the schema's fields */
};

/* Builders for code that assembles trees (rpc/): each returns NULL when out of memory and
 * takes ownership of its children (freeing them on failure). Strings are copied. */
vqe_filter *vqe_filter_node(vqe_fop op, const char *field);
int vqe_filter_add_lit(vqe_filter *f, vqe_lit lit); /* copies lit.s */
int vqe_filter_add_kid(vqe_filter *f, vqe_filter *kid);
void vqe_filter_free(vqe_filter *f);

/* Parses the text form. */
int vqe_filter_parse(const char *text, vqe_filter **out, vq_err *err);
/* Prints a tree in the text form (parses back to an equivalent tree); returns bytes needed. */
size_t vqe_filter_print(const vqe_filter *f, char *buf, size_t cap);

struct vqe_schema;
/* Checks and converts f against a schema (see the top). */
int vqe_filter_bind(vqe_filter *f, const struct vqe_schema *s, vq_err *err);

#ifdef __cplusplus
}
#endif
#endif
