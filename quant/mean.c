/* mean.c — the data mean that centering quantizers (tq, tq-ip, qjl with center=1) train:
 * accumulated in double so the order of the n vectors does not matter to float precision. */
#include "internal.h"

int vq__mean_train(size_t n, unsigned d, const float *x, float **c, vq_err *err) {
    double *acc = vq_calloc(d, sizeof *acc);
    VQ_FAIL_IF(!acc, VQ_ENOMEM, err, "train", "out of memory");
    if (!*c) *c = vq_malloc((size_t)d * sizeof(float));
    if (!*c) {
        vq_free(acc);
        return vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
    }
    for (size_t v = 0; v < n; v++)
        for (unsigned j = 0; j < d; j++) acc[j] += x[v * d + j];
    for (unsigned j = 0; j < d; j++) (*c)[j] = (float)(acc[j] / (double)n);
    vq_free(acc);
    return VQ_OK;
}
