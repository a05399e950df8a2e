/* cmd_compress_weights.c — `vqdb compress-weights`: quantizes every 2-D weight of a
 * .safetensors, .npy or llama2.c checkpoint with a quant/ spec (or the int baseline) into a
 * compressed file, reporting per tensor the relative Frobenius error, the matvec relative
 * error on random Gaussian inputs and the bits per weight; `--decompress` turns a compressed
 * file back into float32 .safetensors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "weights.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vqdb compress-weights --in FILE(.safetensors|.npy|llama2 .bin) --quant SPEC\n"
            "         [--group G] --out FILE [--json]\n"
            "       vqdb compress-weights --decompress --in FILE.vqwz --out FILE.safetensors\n"
            "SPEC: a quant/ spec (tq:bits=4, pq:m=16,bits=8, sq8...) or int:bits=b[,group=32]\n"
            "      e.g. --group 2 --quant pq:m=1,bits=8,cb=16 (pairs of weights, 256 binary16\n"
            "      centroids per tensor: 4 b/w + codebook), tq:bits=3,norm=16,hi=16 (per row)\n");
}

static int read_bytes(const char *path, uint8_t **buf, size_t *len, vq_err *err) {
    FILE *f = fopen(path, "rb");
    VQ_FAIL_IF(!f, VQ_EIO, err, path, "%s: cannot open", path);
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
    fclose(f);
    *buf = b;
    *len = n;
    return VQ_OK;
}

int vq_cmd_compress_weights(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *spec = NULL;
    unsigned group = 0;
    int decompress = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--decompress")) {
            decompress = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (v && !strcmp(a, "--in")) {
            in = argv[++i];
        } else if (v && !strcmp(a, "--out")) {
            out = argv[++i];
        } else if (v && !strcmp(a, "--quant")) {
            spec = argv[++i];
        } else if (v && !strcmp(a, "--group")) {
            char *end;
            unsigned long g = strtoul(argv[++i], &end, 10);
            if (*end || g > VQE_W_GROUP_MAX) {
                fprintf(stderr, "vqdb compress-weights: --group must be in [0, %u]\n",
                        VQE_W_GROUP_MAX);
                return 2;
            }
            group = (unsigned)g;
        } else {
            fprintf(stderr, "vqdb compress-weights: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!in || !out || (!decompress && !spec)) {
        usage(stderr);
        return 2;
    }
    vq_err err = {0};
    int rc;
    if (decompress) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if ((rc = read_bytes(in, &buf, &len, &err)) < 0)
            return vq_cli_fail("compress-weights", rc, &err);
        vqe_w_file f;
        rc = vqe_w_decompress(buf, len, &f, &err);
        vq_free(buf);
        if (rc < 0) return vq_cli_fail("compress-weights", rc, &err);
        uint8_t *st;
        size_t sl;
        rc = vqe_w_safetensors_write(&f, &st, &sl, &err);
        if (rc == VQ_OK) rc = vqe_w_write_file(out, st, sl, &err);
        if (rc == VQ_OK) fprintf(stderr, "wrote %zu tensors, %zu bytes to %s\n", f.n, sl, out);
        if (rc == VQ_OK) vq_free(st);
        vqe_w_file_free(&f);
        return rc < 0 ? vq_cli_fail("compress-weights", rc, &err) : 0;
    }
    vqe_w_file f;
    if ((rc = vqe_w_read(in, &f, &err)) < 0) return vq_cli_fail("compress-weights", rc, &err);
    vqe_w_params p = {.spec = spec, .group = group};
    vqe_w_report *rep = calloc(f.n ? f.n : 1, sizeof *rep);
    vqe_w_file recon = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = vqe_w_compress(&f, &p, &buf, &len, rep, &recon, &err);
    if (rc == VQ_OK) rc = vqe_w_write_file(out, buf, len, &err);
    if (rc == VQ_OK) {
        double in_bytes = 0, num = 0, den = 0, qcount = 0, qbytes = 0;
        uint64_t s = 12345;
        for (size_t i = 0; i < f.n; i++) {
            const vqe_w_tensor *t = &f.t[i];
            in_bytes += (double)t->count * 4;
            double mv = 0;
            if (rep[i].quantized) {
                size_t nx = 8, cols = rep[i].cols;
                float *x = malloc(nx * cols * 4);
                for (size_t j = 0; j < nx * cols; j++) {
                    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                    double u1 = ((s >> 11) + 1) * 0x1.0p-53;
                    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                    double u2 = (s >> 11) * 0x1.0p-53;
                    x[j] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
                }
                mv = vqe_w_matvec_rel_err(t->data, recon.t[i].data, rep[i].rows, cols, x, nx);
                free(x);
                for (size_t j = 0; j < t->count; j++) {
                    double e = (double)t->data[j] - recon.t[i].data[j];
                    num += e * e;
                    den += (double)t->data[j] * t->data[j];
                }
                qcount += (double)t->count;
                qbytes += (double)rep[i].r.bytes;
            }
            if (json)
                printf("{\"tensor\":\"%s\",\"rows\":%zu,\"cols\":%zu,\"quantized\":%d,"
                       "\"bits_per_weight\":%.4f,\"rel_frob\":%.6f,\"matvec_rel_err_random\":"
                       "%.6f}\n",
                       rep[i].name, rep[i].rows, rep[i].cols, rep[i].quantized,
                       rep[i].r.bits_per_weight, rep[i].r.rel_frob, mv);
            else
                printf("%-28s %8zu x %-6zu %s b/w %7.3f  frob %.5f  matvec %.5f\n", rep[i].name,
                       rep[i].rows, rep[i].cols, rep[i].quantized ? "q " : "fp32",
                       rep[i].r.bits_per_weight, rep[i].r.rel_frob, mv);
        }
        printf("%s{\"spec\":\"%s\",\"group\":%u,\"tensors\":%zu,\"bits_per_weight\":%.4f,"
               "\"rel_frob\":%.6f,\"in_bytes\":%.0f,\"out_bytes\":%zu}\n",
               json ? "" : "total: ", spec, group, f.n, qcount ? 8 * qbytes / qcount : 0,
               den > 0 ? sqrt(num / den) : 0, in_bytes, len);
    }
    vq_free(buf);
    free(rep);
    vqe_w_file_free(&recon);
    vqe_w_file_free(&f);
    return rc < 0 ? vq_cli_fail("compress-weights", rc, &err) : 0;
}
