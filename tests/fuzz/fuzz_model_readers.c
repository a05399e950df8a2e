/* fuzz_model_readers.c — libFuzzer target for the model-file readers of engine/: the first
 * byte picks the reader (safetensors, .npy, llama2.c checkpoint, llama2.c tokenizer,
 * compressed weights, or content detection), the rest is the file. Every reader must return
 * an error or a well-formed result, never read past the input (ASan) nor leak. Built only
 * with -DVQ_FUZZ=ON; the replay driver runs tests/fuzz/corpus/fuzz_model_readers/ under gcc. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llama2.h"
#include "weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned which = data[0] % 6;
    /* A private copy of exactly the payload, so ASan sees any read past its end. */
    size_t n = size - 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return 0;
    memcpy(buf, data + 1, n);
    vq_err err;
    vqe_w_file f = {0};
    switch (which) {
    case 0:
        if (vqe_w_safetensors_parse(buf, n, &f, &err) == VQ_OK) {
            uint8_t *out;
            size_t len;
            if (vqe_w_safetensors_write(&f, &out, &len, &err) == VQ_OK) vq_free(out);
        }
        break;
    case 1:
        vqe_w_npy_parse(buf, n, &f, &err);
        break;
    case 2: {
        vqe_llm *m;
        if (vqe_llm_load(buf, n, &m, &err) == VQ_OK) {
            const vqe_llm_config *c = vqe_llm_config_of(m);
            /* Run one position when the model is small enough to be quick. */
            if ((size_t)c->dim * c->hidden_dim * c->n_layers < (1u << 20)) {
                vqe_llm_state *s;
                if (vqe_llm_state_new(m, &s, &err) == VQ_OK) {
                    const float *lg;
                    vqe_llm_forward(m, s, NULL, 0, 0, NULL, &lg, &err);
                    vqe_llm_state_free(s);
                }
            }
            vqe_llm_free(m);
        }
        break;
    }
    case 3: {
        vqe_llm_tokenizer *t;
        int vocab = n ? 1 + data[1] % 64 : 1;
        if (vqe_llm_tokenizer_load(buf, n, vocab, &t, &err) == VQ_OK) {
            for (int i = 0; i < vocab; i++) (void)vqe_llm_decode(t, i ? i - 1 : 1, i);
            int tok[64];
            size_t nt;
            vqe_llm_encode(t, "ab c", 1, tok, 64, &nt, &err);
            vqe_llm_tokenizer_free(t);
        }
        break;
    }
    case 4:
        vqe_w_decompress(buf, n, &f, &err);
        break;
    default:
        vqe_w_parse_any(buf, n, &f, &err);
        break;
    }
    vqe_w_file_free(&f);
    free(buf);
    return 0;
}
