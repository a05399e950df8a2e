/* tokenize.c — the unicode61-compatible tokenizer (see text.h). Which characters are token
 * characters and how they fold (case and diacritics) comes from unicode61_tables.h, generated
 * from SQLite FTS5 itself by scripts/gen-unicode61, so tokens agree with FTS5 exactly,
 * including its Unicode 6.1 view of the world (code points assigned later, such as newer
 * emoji, count as token characters there, and so here). ASCII is handled inline. */
#include <stdint.h>
#include <string.h>

#include "text.h"
#include "unicode61_tables.h"

static int is_token_char(uint32_t c) {
    if (c < 128) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    size_t lo = 0, hi = sizeof g_u61_sep / sizeof g_u61_sep[0];
    while (lo < hi) { /* first range whose end >= c */
        size_t mid = (lo + hi) / 2;
        if (g_u61_sep[mid][1] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return !(lo < sizeof g_u61_sep / sizeof g_u61_sep[0] && g_u61_sep[lo][0] <= c);
}

/* Folded code point; 0 when the character is dropped (combining marks). */
static uint32_t fold(uint32_t c) {
    if (c < 128) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
    size_t lo = 0, hi = sizeof g_u61_fold / sizeof g_u61_fold[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g_u61_fold[mid][0] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sizeof g_u61_fold / sizeof g_u61_fold[0] && g_u61_fold[lo][0] == c)
        return g_u61_fold[lo][1];
    return c;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 (invalid: *c set to 0). */
static size_t utf8_next(const unsigned char *s, size_t left, uint32_t *c) {
    unsigned char b = s[0];
    size_t n;
    uint32_t v;
    if (b < 0x80) {
        *c = b;
        return 1;
    } else if ((b & 0xE0) == 0xC0) {
        n = 2, v = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
        n = 3, v = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
        n = 4, v = b & 0x07;
    } else {
        *c = 0;
        return 0;
    }
    if (n > left) {
        *c = 0;
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *c = 0;
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *c = 0;
        return 0;
    }
    *c = v;
    return n;
}

static size_t utf8_put(uint32_t c, char *out) {
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    } else if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    } else if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

long vqe_tokenize(const char *text, size_t len, vqe_token_fn fn, void *ctx) {
    const unsigned char *s = (const unsigned char *)text;
    char tok[VQE_TOKEN_MAX + 4];
    size_t tl = 0;
    long count = 0;
    size_t i = 0;
    while (i <= len) {
        uint32_t c = 0;
        size_t n = 1;
        int tc = 0;
        if (i < len) {
            n = utf8_next(s + i, len - i, &c);
            if (n == 0)
                n = 1; /* invalid byte: a separator */
            else
                tc = is_token_char(c);
        }
        if (tc) {
            char enc[4];
            uint32_t fc = fold(c);
            size_t el = fc ? utf8_put(fc, enc) : 0;
            if (tl + el <= VQE_TOKEN_MAX) {
                memcpy(tok + tl, enc, el);
                tl += el;
            }
        } else if (tl) {
            tok[tl] = '\0';
            int rc = fn(tok, tl, ctx);
            if (rc < 0) return rc;
            count++;
            tl = 0;
        }
        i += n;
    }
    return count;
}
