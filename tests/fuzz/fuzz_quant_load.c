/* fuzz_quant_load.c — libFuzzer target for vq_quant_load, seeded with saved frames of every
 * quantizer (tests/fuzz/corpus/fuzz_quant_load). Random bytes rarely carry a valid CRC-32,
 * so when the first byte is odd the target recomputes the frame's checksum and reaches the
 * spec and body parsers too. A quantizer that loads must then encode, decode, score and save
 * without a crash: load must reject any state that would make those misbehave. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(vq_quant *q) {
    unsigned d = vq_quant_dim(q);
    if (d > 4096) return; /* keep each input fast */
    size_t cs = vq_quant_code_size(q);
    float *x = malloc(2 * d * sizeof(float)), *y = malloc(2 * d * sizeof(float));
    size_t blk_n = vq_quant_block(q), bb = vq_quant_block_bytes(q), nblk = blk_n >= 2 ? 1 : 2;
    uint8_t *codes = malloc(2 * cs + 1), *blk = malloc(nblk * bb + 1);
    vq_query *qs = NULL;
    if (!x || !y || !codes || !blk) goto out;
    for (unsigned j = 0; j < 2 * d; j++) x[j] = (float)((int)(j * 37u % 11u) - 5) * 0.25f;
    if (vq_quant_encode(q, 2, x, codes, NULL) == VQ_OK) {
        vq_quant_decode(q, 2, codes, y, NULL);
        for (size_t b = 0; b < nblk; b++)
            vq_quant_pack(q, nblk == 1 ? 2 : 1, codes + b * cs, blk + b * bb);
        if (vq_query_new(q, &qs, NULL) == VQ_OK) {
            float dist[2];
            for (int m = 0; m < 2; m++)
                if (vq_query_prepare(qs, x, m ? VQ_METRIC_IP : VQ_METRIC_L2, NULL) == VQ_OK) {
                    vq_quant_score(qs, blk, 2, dist);
                    (void)vq_quant_score_one(qs, codes);
                }
        }
    }
    uint8_t *buf;
    size_t len;
    if (vq_quant_save(q, &buf, &len, NULL) == VQ_OK) vq_free(buf);
out:
    vq_query_free(qs);
    free(x);
    free(y);
    free(codes);
    free(blk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vq_quant *q = NULL;
    if (size > 1 && (data[0] & 1) && size >= 28) {
        /* Treat data[1..] as a frame and give it a valid checksum. */
        size_t n = size - 1;
        uint8_t *f = malloc(n);
        if (!f) return 0;
        memcpy(f, data + 1, n);
        uint32_t crc = vq__crc32(0, f, n - 4);
        memcpy(f + n - 4, &crc, 4);
        if (vq_quant_load(f, n, &q, NULL) == VQ_OK) {
            exercise(q);
            vq_quant_free(q);
        }
        free(f);
        return 0;
    }
    if (vq_quant_load(data, size, &q, NULL) == VQ_OK) {
        exercise(q);
        vq_quant_free(q);
    }
    return 0;
}
