/* filter_parse.c — the filter tree's builders, its text-form parser (recursive descent over
 * a hand-written tokenizer, grammar in filter.h) and printer.
 *
 * Errors carry the 1-based byte column of the offending token in the field ("filter:17"),
 * so a CLI or RPC client can point at it. Depth and node counts are capped
 * (VQE_FILTER_MAX_DEPTH, VQE_FILTER_MAX_NODES) so hostile input cannot exhaust the stack. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

static char *dupstr(const char *s, size_t n) {
    char *p = vq_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

vqe_filter *vqe_filter_node(vqe_fop op, const char *field) {
    vqe_filter *f = vq_calloc(1, sizeof *f);
    if (!f) return NULL;
    f->op = op;
    f->field_idx = -1;
    if (field && !(f->field = dupstr(field, strlen(field)))) {
        vq_free(f);
        return NULL;
    }
    return f;
}

int vqe_filter_add_lit(vqe_filter *f, vqe_lit lit) {
    vqe_lit *v = vq_realloc(f->vals, f->n_vals * sizeof *v, (f->n_vals + 1) * sizeof *v);
    if (!v) return VQ_ENOMEM;
    f->vals = v;
    if (lit.kind == VQE_LIT_STRING) {
        if (!lit.s) return VQ_EINVAL;
        if (!(lit.s = dupstr(lit.s, strlen(lit.s)))) return VQ_ENOMEM;
    } else {
        lit.s = NULL;
    }
    f->vals[f->n_vals++] = lit;
    return VQ_OK;
}

int vqe_filter_add_kid(vqe_filter *f, vqe_filter *kid) {
    if (!kid) return VQ_ENOMEM;
    vqe_filter **k = vq_realloc(f->kids, f->n_kids * sizeof *k, (f->n_kids + 1) * sizeof *k);
    if (!k) {
        vqe_filter_free(kid);
        return VQ_ENOMEM;
    }
    f->kids = k;
    f->kids[f->n_kids++] = kid;
    return VQ_OK;
}

void vqe_filter_free(vqe_filter *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_kids; i++) vqe_filter_free(f->kids[i]);
    for (size_t i = 0; i < f->n_vals; i++) vq_free(f->vals[i].s);
    vq_free(f->lo.s);
    vq_free(f->hi.s);
    vq_free(f->kids);
    vq_free(f->vals);
    vq_free(f->field);
    vq_free(f);
}

/* ---- tokenizer ---- */
enum tok { T_END, T_IDENT, T_INT, T_DOUBLE, T_STRING, T_LP, T_RP, T_COMMA, T_OP };

typedef struct parser {
    const char *src;
    size_t pos;
    enum tok t;
    size_t tstart, tlen; /* token text */
    char op[3];          /* T_OP: "=", "!=", "<", "<=", ">", ">=" */
    vqe_lit lit;         /* T_INT/T_DOUBLE/T_STRING (s owned by the parser until taken) */
    unsigned depth, nodes;
    vq_err *err;
} parser;

static int fail(parser *p, size_t at, const char *fmt, const char *what) {
    char field[32];
    snprintf(field, sizeof field, "filter:%zu", at + 1);
    return vq_err_set(p->err, VQ_EINVAL, field, fmt, what);
}

static int next(parser *p) {
    const char *s = p->src;
    vq_free(p->lit.s);
    p->lit.s = NULL;
    while (s[p->pos] && isspace((unsigned char)s[p->pos])) p->pos++;
    p->tstart = p->pos;
    char c = s[p->pos];
    if (!c) {
        p->t = T_END;
        p->tlen = 0;
        return VQ_OK;
    }
    if (c == '(' || c == ')' || c == ',') {
        p->t = c == '(' ? T_LP : c == ')' ? T_RP : T_COMMA;
        p->pos++;
    } else if (strchr("=!<>", c)) {
        char d = s[p->pos + 1];
        p->t = T_OP;
        if (c == '=') {
            strcpy(p->op, "=");
            p->pos += d == '=' ? 2 : 1;
        } else if (c == '!') {
            if (d != '=') return fail(p, p->pos, "expected '!=' %s", "");
            strcpy(p->op, "!=");
            p->pos += 2;
        } else if (c == '<' && d == '>') {
            strcpy(p->op, "!=");
            p->pos += 2;
        } else {
            p->op[0] = c;
            p->op[1] = d == '=' ? '=' : 0;
            p->op[2] = 0;
            p->pos += d == '=' ? 2 : 1;
        }
    } else if (c == '\'' || c == '"') {
        size_t i = p->pos + 1, n = 0;
        char *buf = vq_malloc(strlen(s + i) + 1);
        if (!buf) return vq_err_set(p->err, VQ_ENOMEM, "filter", "out of memory");
        for (;;) {
            if (!s[i]) {
                vq_free(buf);
                return fail(p, p->tstart, "unterminated string%s", "");
            }
            if (s[i] == '\\' && (s[i + 1] == c || s[i + 1] == '\\')) {
                buf[n++] = s[i + 1];
                i += 2;
            } else if (s[i] == c) {
                i++;
                break;
            } else {
                buf[n++] = s[i++];
            }
        }
        buf[n] = 0;
        p->t = T_STRING;
        p->lit = (vqe_lit){.kind = VQE_LIT_STRING, .s = buf};
        p->pos = i;
    } else if (isdigit((unsigned char)c) ||
               ((c == '-' || c == '+' || c == '.') &&
                (isdigit((unsigned char)s[p->pos + 1]) || s[p->pos + 1] == '.'))) {
        const char *b = s + p->pos;
        char *e1, *e2;
        errno = 0;
        long long iv = strtoll(b, &e1, 10);
        int int_ok = errno == 0;
        errno = 0;
        double dv = strtod(b, &e2);
        if (e2 > e1) {
            if (errno == ERANGE) return fail(p, p->tstart, "number out of range%s", "");
            p->t = T_DOUBLE;
            p->lit = (vqe_lit){.kind = VQE_LIT_DOUBLE, .d = dv};
            p->pos += (size_t)(e2 - b);
        } else {
            if (!int_ok) return fail(p, p->tstart, "integer out of the int64 range%s", "");
            p->t = T_INT;
            p->lit = (vqe_lit){.kind = VQE_LIT_INT, .i = iv};
            p->pos += (size_t)(e1 - b);
        }
        if (isalnum((unsigned char)s[p->pos]) || s[p->pos] == '_')
            return fail(p, p->tstart, "malformed number%s", "");
    } else if (isalpha((unsigned char)c) || c == '_') {
        while (isalnum((unsigned char)s[p->pos]) || s[p->pos] == '_' || s[p->pos] == '.') p->pos++;
        p->t = T_IDENT;
    } else {
        char what[8];
        snprintf(what, sizeof what, "'%c'", c);
        return fail(p, p->pos, "unexpected character %s", what);
    }
    p->tlen = p->pos - p->tstart;
    return VQ_OK;
}

static int is_kw(const parser *p, const char *kw) {
    return p->t == T_IDENT && strlen(kw) == p->tlen &&
           !strncasecmp(p->src + p->tstart, kw, p->tlen);
}

static int expect(parser *p, enum tok t, const char *what) {
    if (p->t != t) return fail(p, p->tstart, "expected %s", what);
    return next(p);
}

static int parse_or(parser *p, vqe_filter **out);

/* A literal into dst (string ownership moves to dst). true/false are literals too. */
static int take_lit(parser *p, vqe_lit *dst, int strings_only) {
    if (p->t == T_STRING || (!strings_only && (p->t == T_INT || p->t == T_DOUBLE))) {
        *dst = p->lit;
        p->lit.s = NULL;
        return next(p);
    }
    if (!strings_only && (is_kw(p, "true") || is_kw(p, "false"))) {
        *dst = (vqe_lit){.kind = VQE_LIT_BOOL, .i = is_kw(p, "true")};
        return next(p);
    }
    return fail(p, p->tstart, "expected %s", strings_only ? "a string" : "a literal");
}

static vqe_filter *node(parser *p, vqe_fop op, const char *field, size_t flen, size_t col) {
    if (++p->nodes > VQE_FILTER_MAX_NODES) return NULL;
    vqe_filter *f = vq_calloc(1, sizeof *f);
    if (!f) return NULL;
    f->op = op;
    f->col = (unsigned)col + 1;
    f->field_idx = -1;
    if (field && !(f->field = dupstr(field, flen))) {
        vq_free(f);
        return NULL;
    }
    return f;
}

static int nomem(parser *p) {
    if (p->nodes > VQE_FILTER_MAX_NODES)
        return vq_err_set(p->err, VQ_ETOOBIG, "filter", "more than %d nodes", VQE_FILTER_MAX_NODES);
    return vq_err_set(p->err, VQ_ENOMEM, "filter", "out of memory");
}

/* "(" lit ("," lit)* ")" appended to f->vals */
static int lit_list(parser *p, vqe_filter *f, int strings_only) {
    VQ_TRY(expect(p, T_LP, "'('"));
    for (;;) {
        vqe_lit l = {0};
        int rc = take_lit(p, &l, strings_only);
        if (rc) { /* the literal may have been taken before the next token failed */
            vq_free(l.s);
            return rc;
        }
        vqe_lit *v = vq_realloc(f->vals, f->n_vals * sizeof *v, (f->n_vals + 1) * sizeof *v);
        if (!v) {
            vq_free(l.s);
            return nomem(p);
        }
        f->vals = v;
        f->vals[f->n_vals++] = l;
        if (p->t == T_COMMA) {
            VQ_TRY(next(p));
            continue;
        }
        return expect(p, T_RP, "',' or ')'");
    }
}

static int parse_leaf(parser *p, vqe_filter **out) {
    if (p->t != T_IDENT)
        return fail(p, p->tstart, "expected %s", "a field name, NOT, EXISTS or '('");
    size_t fstart = p->tstart, flen = p->tlen;
    const char *fname = p->src + fstart;
    int is_id = flen == 2 && !strncmp(fname, "id", 2);
    VQ_TRY(next(p));
    vqe_filter *f = NULL;
    int rc = VQ_OK, negate = 0;
    if (p->t == T_OP) {
        char op[3];
        strcpy(op, p->op);
        size_t opcol = p->tstart;
        VQ_TRY(next(p));
        if (is_id) {
            if (strcmp(op, "=") && strcmp(op, "!="))
                return fail(p, opcol, "id supports only =, != and IN%s", "");
            negate = op[0] == '!';
            f = node(p, VQE_F_ID_IN, NULL, 0, fstart);
            if (!f) return nomem(p);
            f->vals = vq_calloc(1, sizeof *f->vals);
            if (!f->vals) rc = nomem(p);
            if (!rc) f->n_vals = 1, rc = take_lit(p, &f->vals[0], 0);
        } else if (!strcmp(op, "=") || !strcmp(op, "!=")) {
            f = node(p, op[0] == '=' ? VQE_F_EQ : VQE_F_NE, fname, flen, fstart);
            if (!f) return nomem(p);
            f->vals = vq_calloc(1, sizeof *f->vals);
            if (!f->vals) rc = nomem(p);
            if (!rc) f->n_vals = 1, rc = take_lit(p, &f->vals[0], 0);
        } else {
            f = node(p, VQE_F_RANGE, fname, flen, fstart);
            if (!f) return nomem(p);
            if (op[0] == '<') {
                f->has_hi = 1, f->hi_incl = op[1] == '=';
                rc = take_lit(p, &f->hi, 0);
            } else {
                f->has_lo = 1, f->lo_incl = op[1] == '=';
                rc = take_lit(p, &f->lo, 0);
            }
        }
    } else if (is_kw(p, "NOT") || is_kw(p, "IN")) {
        if (is_kw(p, "NOT")) {
            negate = 1;
            VQ_TRY(next(p));
            if (!is_kw(p, "IN")) return fail(p, p->tstart, "expected %s", "IN after NOT");
        }
        VQ_TRY(next(p));
        f = is_id ? node(p, VQE_F_ID_IN, NULL, 0, fstart) : node(p, VQE_F_IN, fname, flen, fstart);
        if (!f) return nomem(p);
        rc = lit_list(p, f, 0);
    } else if (is_kw(p, "HAS")) {
        VQ_TRY(next(p));
        vqe_fop op;
        if (is_kw(p, "ANY"))
            op = VQE_F_HAS_ANY;
        else if (is_kw(p, "ALL"))
            op = VQE_F_HAS_ALL;
        else
            return fail(p, p->tstart, "expected %s", "ANY or ALL after HAS");
        VQ_TRY(next(p));
        f = node(p, op, fname, flen, fstart);
        if (!f) return nomem(p);
        rc = lit_list(p, f, 1);
    } else if (is_kw(p, "BETWEEN")) {
        VQ_TRY(next(p));
        f = node(p, VQE_F_RANGE, fname, flen, fstart);
        if (!f) return nomem(p);
        f->has_lo = f->has_hi = f->lo_incl = f->hi_incl = 1;
        rc = take_lit(p, &f->lo, 0);
        if (!rc && !is_kw(p, "AND")) rc = fail(p, p->tstart, "expected %s", "AND in BETWEEN");
        if (!rc) rc = next(p);
        if (!rc) rc = take_lit(p, &f->hi, 0);
    } else {
        return fail(p, p->tstart, "expected %s after the field name",
                    "an operator (=, !=, <, <=, >, >=, IN, NOT IN, HAS ANY, HAS ALL, BETWEEN)");
    }
    if (rc) {
        vqe_filter_free(f);
        return rc;
    }
    if (negate) {
        vqe_filter *n = node(p, VQE_F_NOT, NULL, 0, fstart);
        if (!n || !(n->kids = vq_malloc(sizeof *n->kids))) {
            vqe_filter_free(n);
            vqe_filter_free(f);
            return nomem(p);
        }
        n->kids[0] = f;
        n->n_kids = 1;
        f = n;
    }
    *out = f;
    return VQ_OK;
}

static int parse_unary(parser *p, vqe_filter **out) {
    if (++p->depth > VQE_FILTER_MAX_DEPTH)
        return fail(p, p->tstart, "nesting deeper than %s", "64");
    int rc;
    size_t col = p->tstart;
    if (is_kw(p, "NOT")) {
        VQ_TRY(next(p));
        vqe_filter *kid = NULL;
        VQ_TRY(parse_unary(p, &kid));
        vqe_filter *n = node(p, VQE_F_NOT, NULL, 0, col);
        if (!n || !(n->kids = vq_malloc(sizeof *n->kids))) {
            vqe_filter_free(n);
            vqe_filter_free(kid);
            return nomem(p);
        }
        n->kids[0] = kid;
        n->n_kids = 1;
        *out = n;
        rc = VQ_OK;
    } else if (p->t == T_LP) {
        VQ_TRY(next(p));
        vqe_filter *f = NULL;
        VQ_TRY(parse_or(p, &f));
        if ((rc = expect(p, T_RP, "')'"))) {
            vqe_filter_free(f);
            return rc;
        }
        *out = f;
    } else if (is_kw(p, "EXISTS")) {
        VQ_TRY(next(p));
        int paren = p->t == T_LP;
        if (paren) VQ_TRY(next(p));
        if (p->t != T_IDENT) return fail(p, p->tstart, "expected %s", "a field name after EXISTS");
        vqe_filter *f = node(p, VQE_F_EXISTS, p->src + p->tstart, p->tlen, p->tstart);
        if (!f) return nomem(p);
        rc = next(p);
        if (!rc && paren) rc = expect(p, T_RP, "')'");
        if (rc) {
            vqe_filter_free(f);
            return rc;
        }
        *out = f;
    } else {
        rc = parse_leaf(p, out);
    }
    p->depth--;
    return rc;
}

static int parse_chain(parser *p, vqe_filter **out, int is_or) {
    vqe_filter *first = NULL;
    size_t col = p->tstart;
    VQ_TRY(is_or ? parse_chain(p, &first, 0) : parse_unary(p, &first));
    if (!is_kw(p, is_or ? "OR" : "AND")) {
        *out = first;
        return VQ_OK;
    }
    vqe_filter *n = node(p, is_or ? VQE_F_OR : VQE_F_AND, NULL, 0, col);
    if (!n) {
        vqe_filter_free(first);
        return nomem(p);
    }
    int rc = vqe_filter_add_kid(n, first);
    while (!rc && is_kw(p, is_or ? "OR" : "AND")) {
        vqe_filter *k = NULL;
        rc = next(p);
        if (!rc) rc = is_or ? parse_chain(p, &k, 0) : parse_unary(p, &k);
        if (!rc) rc = vqe_filter_add_kid(n, k);
    }
    if (rc) {
        vqe_filter_free(n);
        if (rc == VQ_ENOMEM) nomem(p);
        return rc;
    }
    *out = n;
    return VQ_OK;
}

static int parse_or(parser *p, vqe_filter **out) { return parse_chain(p, out, 1); }

int vqe_filter_parse(const char *text, vqe_filter **out, vq_err *err) {
    VQ_FAIL_IF(!text || !out, VQ_EINVAL, err, "filter", "NULL argument");
    VQ_FAIL_IF(strlen(text) > VQE_FILTER_MAX_TEXT, VQ_ETOOBIG, err, "filter",
               "filter text longer than %d bytes", VQE_FILTER_MAX_TEXT);
    parser p = {.src = text, .err = err};
    int rc = next(&p);
    if (!rc && p.t == T_END) rc = fail(&p, 0, "empty filter%s", "");
    vqe_filter *f = NULL;
    if (!rc) rc = parse_or(&p, &f);
    if (!rc && p.t != T_END) {
        rc = fail(&p, p.tstart, "expected %s", "AND, OR or the end of the filter");
        vqe_filter_free(f);
    }
    vq_free(p.lit.s);
    if (rc) return rc;
    *out = f;
    return VQ_OK;
}

/* ---- printer ---- */
typedef struct pbuf {
    char *b;
    size_t cap, n;
} pbuf;

static void pr(pbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void pr(pbuf *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->n < o->cap ? o->cap - o->n : 0;
    int w = vsnprintf(room ? o->b + o->n : NULL, room, fmt, ap);
    va_end(ap);
    if (w > 0) o->n += (size_t)w;
}

static void pr_lit(pbuf *o, const vqe_lit *l) {
    switch (l->kind) {
    case VQE_LIT_INT:
        pr(o, "%lld", (long long)l->i);
        break;
    case VQE_LIT_DOUBLE:
        pr(o, "%.17g", l->d);
        break;
    case VQE_LIT_BOOL:
        pr(o, "%s", l->i ? "true" : "false");
        break;
    case VQE_LIT_STRING:
        pr(o, "\"");
        for (const char *s = l->s; *s; s++) pr(o, (*s == '"' || *s == '\\') ? "\\%c" : "%c", *s);
        pr(o, "\"");
        break;
    }
}

static void pr_list(pbuf *o, const vqe_filter *f) {
    pr(o, "(");
    for (size_t i = 0; i < f->n_vals; i++) {
        if (i) pr(o, ", ");
        pr_lit(o, &f->vals[i]);
    }
    pr(o, ")");
}

static void pr_node(pbuf *o, const vqe_filter *f) {
    switch (f->op) {
    case VQE_F_AND:
    case VQE_F_OR:
        pr(o, "(");
        for (size_t i = 0; i < f->n_kids; i++) {
            if (i) pr(o, f->op == VQE_F_AND ? " AND " : " OR ");
            pr_node(o, f->kids[i]);
        }
        pr(o, ")");
        break;
    case VQE_F_NOT:
        pr(o, "NOT ");
        if (f->n_kids) pr_node(o, f->kids[0]);
        break;
    case VQE_F_EQ:
    case VQE_F_NE:
        pr(o, "%s %s ", f->field, f->op == VQE_F_EQ ? "=" : "!=");
        if (f->n_vals) pr_lit(o, &f->vals[0]);
        break;
    case VQE_F_IN:
        pr(o, "%s IN ", f->field), pr_list(o, f);
        break;
    case VQE_F_HAS_ANY:
        pr(o, "%s HAS ANY ", f->field), pr_list(o, f);
        break;
    case VQE_F_HAS_ALL:
        pr(o, "%s HAS ALL ", f->field), pr_list(o, f);
        break;
    case VQE_F_ID_IN:
        pr(o, "id IN "), pr_list(o, f);
        break;
    case VQE_F_EXISTS:
        pr(o, "EXISTS %s", f->field);
        break;
    case VQE_F_RANGE:
        if (f->has_lo && f->has_hi) pr(o, "(");
        if (f->has_lo) pr(o, "%s %s ", f->field, f->lo_incl ? ">=" : ">"), pr_lit(o, &f->lo);
        if (f->has_lo && f->has_hi) pr(o, " AND ");
        if (f->has_hi) pr(o, "%s %s ", f->field, f->hi_incl ? "<=" : "<"), pr_lit(o, &f->hi);
        if (f->has_lo && f->has_hi) pr(o, ")");
        break;
    }
}

size_t vqe_filter_print(const vqe_filter *f, char *buf, size_t cap) {
    pbuf o = {buf, cap, 0};
    if (f) pr_node(&o, f);
    if (cap) buf[o.n < cap ? o.n : cap - 1] = 0;
    return o.n + 1;
}
