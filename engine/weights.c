/* weights.c — weight-matrix quantization with quant/ specs or the per-group int baseline,
 * and the compressed weights file (see weights.h). A tensor's vectors are contiguous in
 * row-major order (whole rows, or groups of consecutive columns), so the tensor itself is the
 * n_vec x dim matrix handed to the quantizer: trained on its own vectors (at most
 * TRAIN_MAX of them, evenly spaced), then encoded and decoded.
 */
#include "weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32.h"
#include "quant.h"

#define TRAIN_MAX 65536u
#define MAGIC "VQWZ"
#define VERSION 1u

/* ---- bounded byte buffers ---- */

typedef struct wb {
    uint8_t *p;
    size_t len, cap;
    int oom;
} wb;

static void w_bytes(wb *w, const void *src, size_t n) {
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t nc = w->cap ? w->cap : 4096;
        while (nc < w->len + n) nc *= 2;
        uint8_t *np = vq_realloc(w->p, w->cap, nc);
        if (!np) {
            w->oom = 1;
            return;
        }
        w->p = np;
        w->cap = nc;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}
static void w_u32(wb *w, uint32_t v) { w_bytes(w, &v, 4); }
static void w_u64(wb *w, uint64_t v) { w_bytes(w, &v, 8); }

typedef struct rb {
    const uint8_t *p;
    size_t len, pos;
} rb;

static int r_bytes(rb *r, void *dst, size_t n, const char *what, vq_err *err) {
    VQ_FAIL_IF(n > r->len - r->pos, VQ_ECORRUPT, err, what,
               "compressed weights: %s needs %zu bytes at offset %zu, %zu left", what, n, r->pos,
               r->len - r->pos);
    if (dst) memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return VQ_OK;
}
static int r_u32(rb *r, uint32_t *v, const char *what, vq_err *err) {
    return r_bytes(r, v, 4, what, err);
}
static int r_u64(rb *r, uint64_t *v, const char *what, vq_err *err) {
    return r_bytes(r, v, 8, what, err);
}

/* ---- int baseline ---- */

static int parse_int_spec(const char *spec, unsigned *bits, unsigned *group, vq_err *err) {
    if (strncmp(spec, "int", 3) || (spec[3] && spec[3] != ':')) return 0;
    *bits = 4;
    *group = VQE_W_INT_GROUP_DEFAULT;
    char buf[128];
    VQ_FAIL_IF(strlen(spec) >= sizeof buf, VQ_ESPEC, err, "spec", "int spec too long");
    strcpy(buf, spec);
    char *save = NULL;
    for (char *kv = strtok_r(buf[3] ? buf + 4 : buf + 3, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *end;
        VQ_FAIL_IF(!eq, VQ_ESPEC, err, "spec", "int: '%s' is not key=value", kv);
        *eq = 0;
        unsigned long v = strtoul(eq + 1, &end, 10);
        VQ_FAIL_IF(*end || !eq[1], VQ_ESPEC, err, kv, "int: %s is not a number", kv);
        if (!strcmp(kv, "bits")) {
            VQ_FAIL_IF(v < 2 || v > 8, VQ_ESPEC, err, "spec.bits", "int: bits=%lu outside [2, 8]",
                       v);
            *bits = (unsigned)v;
        } else if (!strcmp(kv, "group")) {
            VQ_FAIL_IF(v < 1 || v > VQE_W_GROUP_MAX, VQ_ESPEC, err, "spec.group",
                       "int: group=%lu outside [1, %u]", v, VQE_W_GROUP_MAX);
            *group = (unsigned)v;
        } else {
            return vq_err_set(err, VQ_ESPEC, kv, "int: unknown key '%s' (bits, group)", kv);
        }
    }
    return 1;
}

static void put_bits(uint8_t *p, size_t i, unsigned b, unsigned v) {
    size_t bit = i * b;
    for (unsigned j = 0; j < b; j++, bit++)
        if (v >> j & 1) p[bit >> 3] |= (uint8_t)(1u << (bit & 7));
}
static unsigned get_bits(const uint8_t *p, size_t i, unsigned b) {
    size_t bit = i * b;
    unsigned v = p[bit >> 3];
    if ((bit & 7) + b > 8) v |= (unsigned)p[(bit >> 3) + 1] << 8;
    return v >> (bit & 7) & ((1u << b) - 1);
}

/* Blob: u32 bits, u32 group, u64 cols, fp16 scales (ceil(cols / group) per row, the last
 * group of a row may be shorter), packed (2^(b-1) + code) values. Symmetric round to
 * nearest on levels -(2^(b-1)-1)..2^(b-1)-1 times the scale. */
static void int_encode(const float *w, size_t rows, size_t cols, unsigned bits, unsigned g, wb *out,
                       float *w_hat) {
    size_t count = rows * cols;
    int lv = (1 << (bits - 1)) - 1, off = 1 << (bits - 1);
    w_u32(out, bits);
    w_u32(out, g);
    w_u64(out, cols);
    size_t pb = (count * bits + 7) / 8;
    uint8_t *codes = vq_calloc(pb ? pb : 1, 1);
    if (!codes) {
        out->oom = 1;
        return;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c0 = 0; c0 < cols; c0 += g) {
            size_t m = cols - c0 < g ? cols - c0 : g, base = r * cols + c0;
            const float *x = w + base;
            float mx = 0;
            for (size_t i = 0; i < m; i++) mx = fmaxf(mx, fabsf(x[i]));
            uint16_t hs = vq__f32_to_f16(mx / (float)lv);
            float s = vq__f16_to_f32(hs);
            w_bytes(out, &hs, 2);
            for (size_t i = 0; i < m; i++) {
                int c = s > 0 ? (int)lrintf(x[i] / s) : 0;
                c = c < -lv ? -lv : c > lv ? lv : c;
                put_bits(codes, base + i, bits, (unsigned)(c + off));
                w_hat[base + i] = s * (float)c;
            }
        }
    w_bytes(out, codes, pb);
    vq_free(codes);
}

static int int_decode(rb *r, size_t count, float *w, vq_err *err) {
    uint32_t bits, g;
    uint64_t cols;
    VQ_TRY(r_u32(r, &bits, "int.bits", err));
    VQ_TRY(r_u32(r, &g, "int.group", err));
    VQ_TRY(r_u64(r, &cols, "int.cols", err));
    VQ_FAIL_IF(bits < 2 || bits > 8 || g < 1 || g > VQE_W_GROUP_MAX || cols < 1 || cols > count ||
                   count % cols,
               VQ_ECORRUPT, err, "int",
               "int block: bits %u / group %u / cols %llu invalid for %zu weights", bits, g,
               (unsigned long long)cols, count);
    size_t rows = count / (size_t)cols, gpr = ((size_t)cols + g - 1) / g, ng = rows * gpr,
           pb = (count * bits + 7) / 8;
    VQ_FAIL_IF(ng * 2 + pb != r->len - r->pos, VQ_ECORRUPT, err, "int",
               "int block: %zu bytes for %zu weights at %u bits, need %zu", r->len - r->pos, count,
               bits, ng * 2 + pb);
    const uint8_t *sc = r->p + r->pos, *codes = sc + ng * 2;
    int off = 1 << (bits - 1);
    for (size_t gi = 0; gi < ng; gi++) {
        uint16_t hs;
        memcpy(&hs, sc + 2 * gi, 2);
        float s = vq__f16_to_f32(hs);
        VQ_FAIL_IF(!isfinite(s), VQ_ECORRUPT, err, "int.scale", "int block: scale not finite");
        size_t row = gi / gpr, c0 = (gi % gpr) * g, m = cols - c0 < g ? cols - c0 : g;
        for (size_t i = 0; i < m; i++) {
            size_t k = row * cols + c0 + i;
            w[k] = s * (float)((int)get_bits(codes, k, bits) - off);
        }
    }
    r->pos = r->len;
    return VQ_OK;
}

/* ---- quantization ---- */

static double rel_frob(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        num += e * e;
        den += (double)a[i] * a[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

int vqe_w_quantize(const float *w, size_t rows, size_t cols, const vqe_w_params *p, float *w_hat,
                   uint8_t **blob, size_t *blob_len, vqe_w_result *res, vq_err *err) {
    VQ_FAIL_IF(!p || !p->spec, VQ_EINVAL, err, "spec", "no spec");
    VQ_FAIL_IF(rows < 1 || cols < 1, VQ_EINVAL, err, "shape", "empty tensor");
    VQ_FAIL_IF(p->group > VQE_W_GROUP_MAX, VQ_EINVAL, err, "group", "group %u > %u", p->group,
               VQE_W_GROUP_MAX);
    size_t count = rows * cols;
    VQ_TRY(vq_check_finite(w, rows, cols, "weights", err));
    wb out = {0};
    unsigned ibits, igroup;
    int isint = parse_int_spec(p->spec, &ibits, &igroup, err);
    VQ_TRY(isint);
    if (isint) {
        VQ_FAIL_IF(p->group && p->group != igroup, VQ_EINVAL, err, "group",
                   "int spec has its own group (%u); --group %u differs", igroup, p->group);
        int_encode(w, rows, cols, ibits, igroup, &out, w_hat);
    } else {
        size_t dim = p->group ? p->group : cols;
        VQ_FAIL_IF(cols % dim, VQ_EINVAL, err, "group", "group %zu does not divide %zu columns",
                   dim, cols);
        VQ_FAIL_IF(dim > VQ_DIM_MAX, VQ_EINVAL, err, "group", "vector dimension %zu > %u", dim,
                   VQ_DIM_MAX);
        size_t nv = count / dim;
        vq_quant *qz;
        VQ_TRY(vq_quant_new(p->spec, (unsigned)dim, &qz, err));
        int rc = VQ_OK;
        float *tr = NULL;
        uint8_t *codes = NULL, *st = NULL;
        size_t stlen = 0;
        if (!vq_quant_is_trained(qz)) {
            size_t nt = nv < TRAIN_MAX ? nv : TRAIN_MAX;
            tr = vq_malloc(nt * dim * sizeof(float));
            if (!tr) {
                rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
                goto qdone;
            }
            for (size_t i = 0; i < nt; i++)
                memcpy(tr + i * dim, w + (i * nv / nt) * dim, dim * sizeof(float));
            if ((rc = vq_quant_train(qz, nt, tr, err)) < 0) goto qdone;
        }
        size_t cs = vq_quant_code_size(qz);
        codes = vq_malloc(nv * cs + 1);
        if (!codes) {
            rc = vq_err_set(err, VQ_ENOMEM, "codes", "out of memory");
            goto qdone;
        }
        if ((rc = vq_quant_encode(qz, nv, w, codes, err)) < 0) goto qdone;
        if ((rc = vq_quant_decode(qz, nv, codes, w_hat, err)) < 0) goto qdone;
        if ((rc = vq_quant_save(qz, &st, &stlen, err)) < 0) goto qdone;
        w_u32(&out, (uint32_t)dim);
        w_u64(&out, stlen);
        w_bytes(&out, st, stlen);
        w_bytes(&out, codes, nv * cs);
    qdone:
        vq_free(st);
        vq_free(codes);
        vq_free(tr);
        vq_quant_free(qz);
        if (rc < 0) {
            vq_free(out.p);
            return rc;
        }
    }
    if (out.oom) {
        vq_free(out.p);
        return vq_err_set(err, VQ_ENOMEM, "blob", "out of memory");
    }
    if (res) {
        res->rel_frob = rel_frob(w, w_hat, count);
        res->bytes = out.len;
        res->bits_per_weight = 8.0 * (double)out.len / (double)count;
    }
    if (blob) {
        *blob = out.p;
        *blob_len = out.len;
    } else {
        vq_free(out.p);
    }
    return VQ_OK;
}

static int blob_decode(const char *spec, const uint8_t *blob, size_t len, size_t count, float *w,
                       vq_err *err) {
    rb r = {blob, len, 0};
    unsigned ib, ig;
    int isint = parse_int_spec(spec, &ib, &ig, err);
    VQ_TRY(isint);
    if (isint) return int_decode(&r, count, w, err);
    uint32_t dim = 0;
    uint64_t stlen = 0;
    VQ_TRY(r_u32(&r, &dim, "dim", err));
    VQ_TRY(r_u64(&r, &stlen, "state", err));
    VQ_FAIL_IF(dim < 1 || count % dim || stlen > len - r.pos, VQ_ECORRUPT, err, "blob",
               "quantized block: dim %u / state %llu bytes invalid", dim,
               (unsigned long long)stlen);
    vq_quant *qz;
    VQ_TRY(vq_quant_load(blob + r.pos, (size_t)stlen, &qz, err));
    r.pos += (size_t)stlen;
    /* The file names the spec as the user gave it ("pq:m=1,bits=8"); the saved state holds
     * the quantizer's canonical form (defaults filled in), so compare canonical forms. */
    vq_quant *want = NULL;
    int rc = vq_quant_new(spec, dim, &want, NULL);
    int same = rc == VQ_OK && strcmp(vq_quant_spec(want), vq_quant_spec(qz)) == 0;
    vq_quant_free(want);
    rc = VQ_OK;
    size_t nv = count / dim, cs = vq_quant_code_size(qz);
    if (vq_quant_dim(qz) != dim || !same || nv * cs != len - r.pos)
        rc = vq_err_set(err, VQ_ECORRUPT, "blob",
                        "quantized block: %zu code bytes for %zu vectors of %zu bytes (%s)",
                        len - r.pos, nv, cs, vq_quant_spec(qz));
    else
        rc = vq_quant_decode(qz, nv, blob + r.pos, w, err);
    vq_quant_free(qz);
    return rc;
}

double vqe_w_matvec_rel_err(const float *w, const float *w_hat, size_t rows, size_t cols,
                            const float *x, size_t n) {
    double tot = 0;
    for (size_t k = 0; k < n; k++) {
        const float *xv = x + k * cols;
        double num = 0, den = 0;
        for (size_t i = 0; i < rows; i++) {
            double a = 0, b = 0;
            for (size_t j = 0; j < cols; j++) {
                a += (double)w[i * cols + j] * xv[j];
                b += (double)w_hat[i * cols + j] * xv[j];
            }
            num += (a - b) * (a - b);
            den += a * a;
        }
        tot += den > 0 ? sqrt(num / den) : sqrt(num);
    }
    return n ? tot / (double)n : 0;
}

/* ---- compressed file ---- */

static uint32_t crc32_tab(uint32_t crc, const uint8_t *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static int copy_tensor_meta(vqe_w_tensor *dst, const vqe_w_tensor *src, vq_err *err) {
    *dst = *src;
    dst->data = vq_malloc(src->count * sizeof(float) + 1);
    VQ_FAIL_IF(!dst->data, VQ_ENOMEM, err, src->name, "out of memory");
    return VQ_OK;
}

int vqe_w_compress(const vqe_w_file *f, const vqe_w_params *p, uint8_t **buf, size_t *len,
                   vqe_w_report *report, vqe_w_file *recon, vq_err *err) {
    VQ_FAIL_IF(!p || !p->spec || strlen(p->spec) >= VQ_SPEC_MAX, VQ_EINVAL, err, "spec",
               "missing or too long spec");
    wb out = {0};
    w_bytes(&out, MAGIC, 4);
    w_u32(&out, VERSION);
    w_u64(&out, f->n);
    if (recon) {
        recon->n = 0;
        recon->t = vq_calloc(f->n ? f->n : 1, sizeof(vqe_w_tensor));
        VQ_FAIL_IF(!recon->t, VQ_ENOMEM, err, "recon", "out of memory");
    }
    int rc = VQ_OK;
    for (size_t i = 0; i < f->n; i++) {
        const vqe_w_tensor *t = &f->t[i];
        size_t rows = t->ndim >= 2 ? t->shape[0] : 1, cols = rows ? t->count / rows : 0;
        int quant = t->ndim >= 2 && rows > 0 && cols > 0;
        float *hat = NULL;
        if (recon) {
            if ((rc = copy_tensor_meta(&recon->t[i], t, err)) < 0) goto fail;
            recon->n = i + 1;
            hat = recon->t[i].data;
        } else {
            hat = vq_malloc(t->count * sizeof(float) + 1);
            if (!hat) {
                rc = vq_err_set(err, VQ_ENOMEM, t->name, "out of memory");
                goto fail;
            }
        }
        size_t nl = strlen(t->name);
        w_u32(&out, (uint32_t)nl);
        w_bytes(&out, t->name, nl);
        w_u32(&out, t->ndim);
        for (unsigned d = 0; d < t->ndim; d++) w_u64(&out, t->shape[d]);
        w_u32(&out, (uint32_t)quant);
        if (report) {
            memset(&report[i], 0, sizeof report[i]);
            snprintf(report[i].name, sizeof report[i].name, "%s", t->name);
            report[i].rows = rows;
            report[i].cols = cols;
            report[i].quantized = quant;
        }
        if (!quant) {
            w_u64(&out, t->count * 4);
            w_bytes(&out, t->data, t->count * 4);
            memcpy(hat, t->data, t->count * 4);
            if (report) report[i].r.bits_per_weight = 32;
        } else {
            uint8_t *blob;
            size_t bl;
            vqe_w_result r;
            rc = vqe_w_quantize(t->data, rows, cols, p, hat, &blob, &bl, &r, err);
            if (rc < 0) {
                if (!recon) vq_free(hat);
                if (err) {
                    char m[sizeof err->msg];
                    snprintf(m, sizeof m, "%s", err->msg);
                    vq_err_set(err, rc, t->name, "tensor '%s': %.200s", t->name, m);
                }
                goto fail;
            }
            w_u32(&out, p->group);
            size_t sl = strlen(p->spec);
            w_u32(&out, (uint32_t)sl);
            w_bytes(&out, p->spec, sl);
            w_u64(&out, bl);
            w_bytes(&out, blob, bl);
            vq_free(blob);
            if (report) report[i].r = r;
        }
        if (!recon) vq_free(hat);
    }
    w_u32(&out, out.oom ? 0 : crc32_tab(0, out.p, out.len));
    if (out.oom) {
        rc = vq_err_set(err, VQ_ENOMEM, "file", "out of memory");
        goto fail;
    }
    *buf = out.p;
    *len = out.len;
    return VQ_OK;
fail:
    vq_free(out.p);
    if (recon) vqe_w_file_free(recon);
    return rc;
}

/* Element count of a decoded shape, at most 2^31 (8 GiB of floats). */
static int shape_ok(vqe_w_tensor *t) {
    size_t c = 1;
    for (unsigned d = 0; d < t->ndim; d++) {
        if (t->shape[d] && c > ((size_t)1 << 31) / t->shape[d]) return -1;
        c *= t->shape[d];
    }
    t->count = c;
    return 0;
}

int vqe_w_decompress(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    VQ_FAIL_IF(len < 20 || memcmp(buf, MAGIC, 4), VQ_ECORRUPT, err, "magic",
               "not a vqdb compressed-weights file");
    uint32_t crc;
    memcpy(&crc, buf + len - 4, 4);
    VQ_FAIL_IF(crc != crc32_tab(0, buf, len - 4), VQ_ECORRUPT, err, "crc",
               "compressed weights: checksum mismatch");
    rb r = {buf, len - 4, 4};
    uint32_t ver;
    uint64_t n;
    VQ_TRY(r_u32(&r, &ver, "version", err));
    VQ_FAIL_IF(ver != VERSION, VQ_EVERSION, err, "version", "version %u (this build reads %u)", ver,
               VERSION);
    VQ_TRY(r_u64(&r, &n, "count", err));
    VQ_FAIL_IF(n > VQE_W_TENSORS_MAX, VQ_ECORRUPT, err, "count", "%llu tensors",
               (unsigned long long)n);
    out->t = vq_calloc(n ? (size_t)n : 1, sizeof(vqe_w_tensor));
    VQ_FAIL_IF(!out->t, VQ_ENOMEM, err, "tensors", "out of memory");
    int rc = VQ_OK;
    for (size_t i = 0; i < n; i++) {
        vqe_w_tensor *t = &out->t[i];
        uint32_t nl, nd, quant;
        if ((rc = r_u32(&r, &nl, "name", err)) < 0) goto fail;
        if (nl >= VQE_W_NAME_MAX) {
            rc = vq_err_set(err, VQ_ECORRUPT, "name", "name of %u bytes", nl);
            goto fail;
        }
        if ((rc = r_bytes(&r, t->name, nl, "name", err)) < 0) goto fail;
        if ((rc = r_u32(&r, &nd, "ndim", err)) < 0) goto fail;
        if (nd > VQE_W_NDIM_MAX) {
            rc = vq_err_set(err, VQ_ECORRUPT, t->name, "ndim %u", nd);
            goto fail;
        }
        t->ndim = nd;
        for (unsigned d = 0; d < nd; d++) {
            uint64_t s;
            if ((rc = r_u64(&r, &s, "shape", err)) < 0) goto fail;
            t->shape[d] = (size_t)s;
        }
        if (shape_ok(t) < 0 || (rc = r_u32(&r, &quant, "kind", err)) < 0) {
            if (rc == VQ_OK) rc = vq_err_set(err, VQ_ECORRUPT, t->name, "shape too large");
            goto fail;
        }
        uint32_t group = 0, sl = 0;
        char spec[VQ_SPEC_MAX] = "";
        if (quant) {
            if ((rc = r_u32(&r, &group, "group", err)) < 0 ||
                (rc = r_u32(&r, &sl, "spec", err)) < 0)
                goto fail;
            if (sl >= VQ_SPEC_MAX) {
                rc = vq_err_set(err, VQ_ECORRUPT, "spec", "spec of %u bytes", sl);
                goto fail;
            }
            if ((rc = r_bytes(&r, spec, sl, "spec", err)) < 0) goto fail;
        }
        uint64_t bl;
        if ((rc = r_u64(&r, &bl, "blob", err)) < 0) goto fail;
        if (bl > r.len - r.pos) {
            rc = vq_err_set(err, VQ_ECORRUPT, t->name, "tensor '%s': %llu bytes past the end",
                            t->name, (unsigned long long)bl);
            goto fail;
        }
        t->data = vq_malloc(t->count * sizeof(float) + 1);
        if (!t->data) {
            rc = vq_err_set(err, VQ_ENOMEM, t->name, "out of memory");
            goto fail;
        }
        out->n = i + 1;
        if (!quant) {
            if (bl != t->count * 4) {
                rc = vq_err_set(err, VQ_ECORRUPT, t->name, "raw tensor '%s': %llu bytes for %zu",
                                t->name, (unsigned long long)bl, t->count);
                goto fail;
            }
            memcpy(t->data, r.p + r.pos, (size_t)bl);
            if ((rc = vq_check_finite(t->data, 1, t->count, t->name, err)) < 0) goto fail;
        } else if ((rc = blob_decode(spec, r.p + r.pos, (size_t)bl, t->count, t->data, err)) < 0) {
            goto fail;
        }
        r.pos += (size_t)bl;
    }
    if (r.pos != r.len) {
        rc = vq_err_set(err, VQ_ECORRUPT, "file", "%zu trailing bytes", r.len - r.pos);
        goto fail;
    }
    return VQ_OK;
fail:
    vqe_w_file_free(out);
    return rc;
}
