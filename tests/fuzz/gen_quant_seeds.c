/* gen_quant_seeds.c — writes one saved frame per quantizer spec registered in this build
 * (small d, trained on seeded data) into a directory: the seed corpus of fuzz_quant_load.
 * Usage: gen_quant_seeds DIR */
#include <stdio.h>
#include <string.h>

#include "quant.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_quant_seeds DIR\n");
        return 2;
    }
    static const char *specs[] = {"f32",           "fp16",          "bf16",
                                  "sq8",           "f8e4m3",        "pq:m=4,bits=8",
                                  "pq:m=4,bits=4", "tq:bits=2",     "tq:bits=4,rescale=1",
                                  "tq-ip:bits=3",  "rabitq:bits=1", "rabitq:bits=4",
                                  "qjl",           "bin",           "pca:d=4+sq8"};
    enum { N = 300, D = 8 };
    float x[N * D];
    uint64_t s = 12345;
    for (size_t i = 0; i < N * D; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (float)((double)(s >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    }
    int written = 0;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        vq_quant *q;
        vq_err err = {0};
        if (vq_quant_new(specs[i], D, &q, &err) != VQ_OK) {
            fprintf(stderr, "skip %s: %s\n", specs[i], err.msg);
            continue;
        }
        uint8_t *buf;
        size_t len;
        if (vq_quant_train(q, N, x, &err) == VQ_OK && vq_quant_save(q, &buf, &len, &err) == VQ_OK) {
            char p[4096], name[64];
            snprintf(name, sizeof name, "%s", specs[i]);
            for (char *c = name; *c; c++)
                if (*c == ':' || *c == ',' || *c == '=' || *c == '+') *c = '_';
            snprintf(p, sizeof p, "%s/seed_%s", argv[1], name);
            FILE *f = fopen(p, "wb");
            if (f && fwrite(buf, 1, len, f) == len) written++;
            if (f) fclose(f);
            /* The same frame behind an odd byte: the target then recomputes the CRC, so
             * mutations of it reach the body parsers. */
            snprintf(p, sizeof p, "%s/crcfix_%s", argv[1], name);
            f = fopen(p, "wb");
            if (f && fputc(1, f) != EOF && fwrite(buf, 1, len, f) == len) written++;
            if (f) fclose(f);
            vq_free(buf);
        } else {
            fprintf(stderr, "skip %s: %s\n", specs[i], err.msg);
        }
        vq_quant_free(q);
    }
    printf("%d seeds written\n", written);
    return written ? 0 : 1;
}
