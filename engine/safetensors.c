/* safetensors.c — model-file readers for weights.c: safetensors (reader and float32
 * writer; header parsed with cJSON), .npy and llama2.c checkpoints, and format detection.
 * Every size taken from a file is checked against the bytes actually present, with
 * overflow-safe arithmetic, before any data is touched (see weights.h for the formats).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f32.h"
#include "llama2.h"
#include "weights.h"

void vqe_w_file_free(vqe_w_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) vq_free(f->t[i].data);
    vq_free(f->t);
    f->t = NULL;
    f->n = 0;
}

static int alloc_tensors(vqe_w_file *f, size_t n, vq_err *err) {
    f->n = 0;
    f->t = vq_calloc(n ? n : 1, sizeof(vqe_w_tensor));
    VQ_FAIL_IF(!f->t, VQ_ENOMEM, err, "tensors", "out of memory for %zu tensors", n);
    return VQ_OK;
}

/* elements of a shape, failing on overflow past max_elems */
static int shape_count(const size_t *shape, unsigned nd, size_t max_elems, size_t *count) {
    size_t c = 1;
    for (unsigned i = 0; i < nd; i++) {
        if (shape[i] && c > max_elems / shape[i]) return -1;
        c *= shape[i];
    }
    *count = c;
    return 0;
}

static void convert(const uint8_t *src, int dtype, size_t n, float *dst) {
    for (size_t i = 0; i < n; i++) {
        if (dtype == 4) {
            memcpy(dst + i, src + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = dtype == 2 ? vq__f16_to_f32(h) : vq__bf16_to_f32(h);
        }
    }
}

int vqe_w_safetensors_parse(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    VQ_FAIL_IF(len < 8, VQ_ECORRUPT, err, "header", "safetensors file shorter than 8 bytes");
    uint64_t hl;
    memcpy(&hl, buf, 8);
    VQ_FAIL_IF(hl < 2 || hl > len - 8 || hl > (100u << 20), VQ_ECORRUPT, err, "header",
               "safetensors header length %llu does not fit the %zu-byte file (max 100 MiB)",
               (unsigned long long)hl, len);
    const uint8_t *data = buf + 8 + hl;
    size_t dlen = len - 8 - (size_t)hl;
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hl);
    VQ_FAIL_IF(!root, VQ_ECORRUPT, err, "header", "safetensors header is not valid JSON");
    int rc = VQ_OK;
    if (!cJSON_IsObject(root)) {
        rc = vq_err_set(err, VQ_ECORRUPT, "header", "safetensors header is not a JSON object");
        goto done;
    }
    size_t n = 0;
    for (cJSON *e = root->child; e; e = e->next) n += strcmp(e->string, "__metadata__") != 0;
    if (n > VQE_W_TENSORS_MAX) {
        rc = vq_err_set(err, VQ_ECORRUPT, "header", "%zu tensors > %d", n, VQE_W_TENSORS_MAX);
        goto done;
    }
    if ((rc = alloc_tensors(out, n, err)) < 0) goto done;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        const char *nm = e->string;
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
        cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsObject(e) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) ||
            cJSON_GetArraySize(of) != 2) {
            rc = vq_err_set(err, VQ_ECORRUPT, nm,
                            "tensor '%s': needs dtype (string), shape (array), data_offsets "
                            "([begin, end])",
                            nm);
            goto done;
        }
        int es = !strcmp(dt->valuestring, "F32")    ? 4
                 : !strcmp(dt->valuestring, "F16")  ? 2
                 : !strcmp(dt->valuestring, "BF16") ? 3
                                                    : 0;
        if (!es) {
            rc = vq_err_set(err, VQ_EUNSUPPORTED, nm,
                            "tensor '%s': dtype %s (supported: F32, F16, BF16)", nm,
                            dt->valuestring);
            goto done;
        }
        vqe_w_tensor *t = &out->t[out->n];
        if (strlen(nm) >= VQE_W_NAME_MAX) {
            rc = vq_err_set(err, VQ_ECORRUPT, "name", "tensor name longer than %d",
                            VQE_W_NAME_MAX - 1);
            goto done;
        }
        strcpy(t->name, nm);
        int nd = cJSON_GetArraySize(sh);
        if (nd > VQE_W_NDIM_MAX) {
            rc = vq_err_set(err, VQ_ECORRUPT, nm, "tensor '%s': %d dimensions > %d", nm, nd,
                            VQE_W_NDIM_MAX);
            goto done;
        }
        t->ndim = (unsigned)nd;
        int i = 0;
        for (cJSON *d = sh->child; d; d = d->next, i++) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 9.0e15 ||
                d->valuedouble != floor(d->valuedouble)) {
                rc =
                    vq_err_set(err, VQ_ECORRUPT, nm, "tensor '%s': shape[%d] is not a size", nm, i);
                goto done;
            }
            t->shape[i] = (size_t)d->valuedouble;
        }
        double ob = cJSON_GetArrayItem(of, 0)->valuedouble,
               oe = cJSON_GetArrayItem(of, 1)->valuedouble;
        if (!cJSON_IsNumber(cJSON_GetArrayItem(of, 0)) ||
            !cJSON_IsNumber(cJSON_GetArrayItem(of, 1)) || ob < 0 || oe < ob || oe > (double)dlen ||
            ob != floor(ob) || oe != floor(oe)) {
            rc = vq_err_set(err, VQ_ECORRUPT, nm,
                            "tensor '%s': data_offsets [%.0f, %.0f] outside the %zu data bytes", nm,
                            ob, oe, dlen);
            goto done;
        }
        size_t b = (size_t)ob, en = (size_t)oe, cnt, esz = es == 4 ? 4 : 2;
        if (shape_count(t->shape, t->ndim, dlen / esz + 1, &cnt) < 0 || cnt * esz != en - b) {
            rc = vq_err_set(err, VQ_ECORRUPT, nm,
                            "tensor '%s': shape does not match its %zu data bytes (dtype %s)", nm,
                            en - b, dt->valuestring);
            goto done;
        }
        t->count = cnt;
        t->data = vq_malloc(cnt * sizeof(float) + 1);
        if (!t->data) {
            rc = vq_err_set(err, VQ_ENOMEM, nm, "out of memory for tensor '%s'", nm);
            goto done;
        }
        out->n++;
        convert(data + b, es, cnt, t->data);
    }
done:
    cJSON_Delete(root);
    if (rc < 0) vqe_w_file_free(out);
    return rc;
}

int vqe_w_safetensors_write(const vqe_w_file *f, uint8_t **buf, size_t *len, vq_err *err) {
    cJSON *root = cJSON_CreateObject();
    VQ_FAIL_IF(!root, VQ_ENOMEM, err, "header", "out of memory");
    size_t off = 0;
    for (size_t i = 0; i < f->n; i++) {
        const vqe_w_tensor *t = &f->t[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *sh = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *of = e ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        if (!e || !sh || !of || !cJSON_AddStringToObject(e, "dtype", "F32")) {
            cJSON_Delete(root);
            return vq_err_set(err, VQ_ENOMEM, "header", "out of memory");
        }
        for (unsigned d = 0; d < t->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += t->count * 4;
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    char *js = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    VQ_FAIL_IF(!js, VQ_ENOMEM, err, "header", "out of memory");
    size_t hl = strlen(js), pad = (8 - hl % 8) % 8; /* data aligned to 8 bytes */
    size_t total = 8 + hl + pad + off;
    uint8_t *b = vq_malloc(total);
    if (!b) {
        free(js);
        return vq_err_set(err, VQ_ENOMEM, "file", "out of memory for %zu bytes", total);
    }
    uint64_t h = hl + pad;
    memcpy(b, &h, 8);
    memcpy(b + 8, js, hl);
    memset(b + 8 + hl, ' ', pad);
    free(js);
    size_t p = 8 + hl + pad;
    for (size_t i = 0; i < f->n; i++) {
        memcpy(b + p, f->t[i].data, f->t[i].count * 4);
        p += f->t[i].count * 4;
    }
    *buf = b;
    *len = total;
    return VQ_OK;
}

int vqe_w_npy_parse(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    VQ_FAIL_IF(len < 10 || memcmp(buf, "\x93NUMPY", 6), VQ_ECORRUPT, err, "npy", ".npy: bad magic");
    unsigned major = buf[6];
    VQ_FAIL_IF(major < 1 || major > 3, VQ_EVERSION, err, "npy", ".npy: version %u", major);
    size_t hl, ho;
    if (major == 1) {
        hl = (size_t)buf[8] | (size_t)buf[9] << 8;
        ho = 10;
    } else {
        VQ_FAIL_IF(len < 12, VQ_ECORRUPT, err, "npy", ".npy: truncated header");
        uint32_t h32;
        memcpy(&h32, buf + 8, 4);
        hl = h32;
        ho = 12;
    }
    VQ_FAIL_IF(hl > len - ho || hl > 65536, VQ_ECORRUPT, err, "npy",
               ".npy: header length %zu does not fit the file", hl);
    char hdr[65537];
    memcpy(hdr, buf + ho, hl);
    hdr[hl] = 0;
    const char *descr = strstr(hdr, "'descr'"), *fo = strstr(hdr, "'fortran_order'"),
               *sh = strstr(hdr, "'shape'");
    VQ_FAIL_IF(!descr || !fo || !sh, VQ_ECORRUPT, err, "npy",
               ".npy: header lacks descr, fortran_order or shape");
    const char *dv = strchr(descr + 7, '\'');
    int es = !dv ? 0 : !strncmp(dv, "'<f4'", 5) ? 4 : !strncmp(dv, "'<f2'", 5) ? 2 : 0;
    VQ_FAIL_IF(!es, VQ_EUNSUPPORTED, err, "npy.descr", ".npy: dtype must be '<f4' or '<f2'");
    const char *fv = fo + 15;
    while (*fv == ' ' || *fv == ':') fv++;
    VQ_FAIL_IF(strncmp(fv, "False", 5) != 0, VQ_EUNSUPPORTED, err, "npy.fortran_order",
               ".npy: Fortran order is not supported");
    const char *p = strchr(sh, '(');
    VQ_FAIL_IF(!p, VQ_ECORRUPT, err, "npy.shape", ".npy: shape is not a tuple");
    vqe_w_tensor t = {.name = "array"};
    p++;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        VQ_FAIL_IF(end == p || errno || t.ndim >= VQE_W_NDIM_MAX, VQ_ECORRUPT, err, "npy.shape",
                   ".npy: malformed shape");
        t.shape[t.ndim++] = (size_t)v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
    }
    size_t dlen = len - ho - hl, cnt;
    VQ_FAIL_IF(shape_count(t.shape, t.ndim, dlen / (size_t)es + 1, &cnt) < 0 ||
                   cnt * (size_t)es != dlen,
               VQ_ECORRUPT, err, "npy.shape",
               ".npy: shape needs a different size than the %zu data bytes", dlen);
    t.count = cnt;
    t.data = vq_malloc(cnt * 4 + 1);
    VQ_FAIL_IF(!t.data, VQ_ENOMEM, err, "npy", "out of memory");
    convert(buf + ho + hl, es, cnt, t.data);
    if (alloc_tensors(out, 1, err) < 0) {
        vq_free(t.data);
        return VQ_ENOMEM;
    }
    out->t[0] = t;
    out->n = 1;
    return VQ_OK;
}

int vqe_w_llama2_parse(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err) {
    memset(out, 0, sizeof *out);
    vqe_llm *m;
    VQ_TRY(vqe_llm_load(buf, len, &m, err));
    vqe_llm_tensor lt[VQE_LLM_TENSORS_MAX];
    size_t n = vqe_llm_tensors(m, lt);
    int rc = alloc_tensors(out, n, err);
    for (size_t i = 0; rc == VQ_OK && i < n; i++) {
        vqe_w_tensor *t = &out->t[i];
        snprintf(t->name, sizeof t->name, "%s", lt[i].name);
        /* Norm vectors stay 1-D (all layers flattened) so they are never quantized. */
        t->ndim = lt[i].ndim == 1 ? 1 : 2;
        t->shape[0] = t->ndim == 1 ? lt[i].rows * lt[i].cols : lt[i].rows;
        t->shape[1] = lt[i].cols;
        t->count = lt[i].rows * lt[i].cols;
        t->data = vq_malloc(t->count * 4);
        if (!t->data) {
            rc = vq_err_set(err, VQ_ENOMEM, t->name, "out of memory");
            break;
        }
        memcpy(t->data, lt[i].data, t->count * 4);
        out->n++;
    }
    vqe_llm_free(m);
    if (rc < 0) vqe_w_file_free(out);
    return rc;
}

int vqe_w_parse_any(const uint8_t *buf, size_t len, vqe_w_file *out, vq_err *err) {
    if (len >= 6 && !memcmp(buf, "\x93NUMPY", 6)) return vqe_w_npy_parse(buf, len, out, err);
    if (len >= 9) {
        uint64_t hl;
        memcpy(&hl, buf, 8);
        if (hl >= 2 && hl <= len - 8 && buf[8] == '{')
            return vqe_w_safetensors_parse(buf, len, out, err);
    }
    return vqe_w_llama2_parse(buf, len, out, err);
}

static int read_all(const char *path, uint8_t **buf, size_t *len, vq_err *err) {
    FILE *f = fopen(path, "rb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = vq_realloc(b, cap, nc);
            if (!nb) {
                vq_free(b);
                fclose(f);
                return vq_err_set(err, VQ_ENOMEM, path, "out of memory");
            }
            b = nb;
            cap = nc;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (!got) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        vq_free(b);
        return vq_err_set(err, VQ_EIO, path, "%s: read error", path);
    }
    *buf = b;
    *len = n;
    return VQ_OK;
}

int vqe_w_read(const char *path, vqe_w_file *out, vq_err *err) {
    uint8_t *b = NULL;
    size_t n = 0;
    VQ_TRY(read_all(path, &b, &n, err));
    int rc = vqe_w_parse_any(b, n, out, err);
    vq_free(b);
    return rc;
}

int vqe_w_write_file(const char *path, const uint8_t *buf, size_t len, vq_err *err) {
    FILE *f = fopen(path, "wb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot create: %s", path, strerror(errno));
    size_t put = fwrite(buf, 1, len, f);
    int bad = fclose(f) != 0 || put != len;
    VQ_FAIL_IF(bad, VQ_EIO, err, path, "%s: write failed", path);
    return VQ_OK;
}
