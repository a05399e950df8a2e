/* pca.c — the PCA pre-transform `pca:d=D[,whiten=0]+INNER`: a trained linear reduction of
 * R^d to R^D followed by any quantizer INNER created for dimension D.
 *
 * Training: the mean mu, the covariance (1/n) sum (x - mu)(x - mu)^T accumulated in double
 * with BLAS dsyrk over chunks of rows, and its top D eigenpairs from LAPACK dsyevr (the
 * relatively robust representation solver; only the wanted index range is computed). The
 * components are the rows of U (D x d, orthonormal), sorted by decreasing eigenvalue, each
 * signed so that its largest coefficient is positive (reproducible across LAPACK builds).
 * whiten=1 scales component k by 1/sqrt(lambda_k), with lambda_k floored at 1e-6 of the
 * largest eigenvalue so that flat directions do not blow up. The inner quantizer is then
 * trained on the projected training set z = S U (x - mu) (S the whitening scales or 1).
 *
 * Encode/decode: z = S U (x - mu) goes to INNER; decode is mu + U^T S^-1 z^.
 * Scores (metric in the original space, what is dropped said explicitly):
 *   L2: |q - x|^2 ~ |S U (q - mu) - z|^2, INNER's L2 on the projected query. Without
 *       whitening this drops the part of q - x outside the top-D subspace (exact for D = d);
 *       with whitening it is the whitened (Mahalanobis-like) distance instead.
 *   IP: <q, x> = <q, mu> + <q, x - mu> ~ <q, mu> + <S^-1 U q, z>: INNER's IP on the query
 *       S^-1 U q plus the exact centroid term; it drops <q, x - mu> outside the subspace.
 * Codes, packing and blocks are INNER's (pca:d=64+pq:m=32,bits=4 keeps fast-scan blocks).
 * Saved state: D, whiten, mu, U, the eigenvalues and scales, then INNER's own saved frame
 * (length-prefixed), which load verifies against the spec's INNER. */
#include <math.h>
#include <stdio.h>

#include "internal.h"

/* Fortran BLAS/LAPACK (linked with the FAISS dependencies). */
extern void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
                   const double *alpha, const double *a, const int *lda, const double *beta,
                   double *c, const int *ldc);
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
                    const int *lda, const double *vl, const double *vu, const int *il,
                    const int *iu, const double *abstol, int *m, double *w, double *z,
                    const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info);
extern void sgemm_(const char *ta, const char *tb, const int *m, const int *n, const int *k,
                   const float *alpha, const float *a, const int *lda, const float *b,
                   const int *ldb, const float *beta, float *c, const int *ldc);

#define PCA_DIM_MAX 4096u /* the d x d double covariance stays at most 128 MiB */
#define PCA_CHUNK 1024u   /* rows per BLAS call */
#define PCA_WHITEN_FLOOR 1e-6

typedef struct pca_impl {
    unsigned dout, whiten;
    vq_quant *inner;
    float *mean;  /* d */
    float *u;     /* dout * d, row k = component k */
    float *eig;   /* dout eigenvalues, decreasing */
    float *scale; /* dout: 1/sqrt(lambda) when whitening, else 1 */
    float *umu;   /* dout: S U mu, subtracted after projecting raw rows */
} pca_impl;

typedef struct pca_query {
    vq_query *inner;
    float *v; /* dout */
    float cst;
} pca_query;

static int create(vq_quant *q, vq_params *p, const char *inner_spec, vq_err *err) {
    unsigned dout, whiten;
    VQ_FAIL_IF(!vq__param_has(p, "d"), VQ_ESPEC, err, "d", "pca needs d=<output dimension> (1..%u)",
               q->d);
    VQ_TRY(vq__param_uint(p, "d", 0, 1, q->d, &dout, err));
    VQ_TRY(vq__param_uint(p, "whiten", 0, 0, 1, &whiten, err));
    VQ_TRY(vq__params_done(p, err));
    VQ_FAIL_IF(q->d > PCA_DIM_MAX, VQ_ETOOBIG, err, "dim",
               "pca input dimension %u is over %u (the covariance would not fit)", q->d,
               PCA_DIM_MAX);
    pca_impl *im = vq_calloc(1, sizeof *im);
    VQ_FAIL_IF(!im, VQ_ENOMEM, err, "quantizer", "out of memory");
    q->impl = im;
    im->dout = dout;
    im->whiten = whiten;
    VQ_TRY(vq_quant_new(inner_spec, dout, &im->inner, err));
    im->mean = vq_calloc(q->d, sizeof(float));
    im->u = vq_calloc((size_t)dout * q->d, sizeof(float));
    im->eig = vq_calloc(dout, sizeof(float));
    im->scale = vq_calloc(dout, sizeof(float));
    im->umu = vq_calloc(dout, sizeof(float));
    VQ_FAIL_IF(!im->mean || !im->u || !im->eig || !im->scale || !im->umu, VQ_ENOMEM, err,
               "quantizer", "out of memory");
    int len = snprintf(q->spec, sizeof q->spec, "pca:d=%u,whiten=%u+%s", dout, whiten,
                       vq_quant_spec(im->inner));
    VQ_FAIL_IF(len < 0 || (size_t)len >= sizeof q->spec, VQ_ESPEC, err, "spec",
               "canonical spec of '%s' is longer than %u characters", inner_spec, VQ_SPEC_MAX - 1);
    q->code_size = vq_quant_code_size(im->inner);
    q->block = vq_quant_block(im->inner);
    q->block_bytes = vq_quant_block_bytes(im->inner);
    return VQ_OK;
}

static void destroy(vq_quant *q) {
    pca_impl *im = q->impl;
    if (!im) return;
    vq_quant_free(im->inner);
    vq_free(im->mean), vq_free(im->u), vq_free(im->eig), vq_free(im->scale), vq_free(im->umu);
    vq_free(im);
}

/* z (n x dout) = S U x_rows - S U mu for n rows of x (row-major), via one sgemm. */
static void project(const vq_quant *q, size_t n, const float *x, float *z) {
    const pca_impl *im = q->impl;
    int D = (int)im->dout, d = (int)q->d, m = (int)n;
    float one = 1.0f, zero = 0.0f;
    sgemm_("T", "N", &D, &m, &d, &one, im->u, &d, x, &d, &zero, z, &D);
    for (size_t i = 0; i < n; i++)
        for (unsigned k = 0; k < im->dout; k++)
            z[i * D + k] = (z[i * D + k] - im->umu[k]) * im->scale[k];
}

static void set_umu(vq_quant *q) {
    pca_impl *im = q->impl;
    for (unsigned k = 0; k < im->dout; k++) {
        double s = 0;
        for (unsigned j = 0; j < q->d; j++) s += (double)im->u[(size_t)k * q->d + j] * im->mean[j];
        im->umu[k] = (float)s;
    }
}

static int train(vq_quant *q, size_t n, const float *x, vq_err *err) {
    pca_impl *im = q->impl;
    size_t d = q->d, D = im->dout;
    int rc = VQ_OK;
    double *mu = vq_calloc(d, sizeof(double)), *cov = vq_calloc(d * d, sizeof(double));
    double *chunk = vq_malloc((size_t)PCA_CHUNK * d * sizeof(double));
    double *w = vq_malloc(d * sizeof(double)), *zv = vq_malloc(d * D * sizeof(double));
    int *isuppz = vq_malloc(2 * D * sizeof(int));
    double *work = NULL;
    int *iwork = NULL;
    float *proj = NULL;
    if (!mu || !cov || !chunk || !w || !zv || !isuppz) {
        rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mu[j] += x[i * d + j];
    for (size_t j = 0; j < d; j++) mu[j] /= (double)n;
    int dn = (int)d;
    for (size_t i0 = 0; i0 < n; i0 += PCA_CHUNK) {
        int m = (int)(n - i0 < PCA_CHUNK ? n - i0 : PCA_CHUNK);
        for (int i = 0; i < m; i++)
            for (size_t j = 0; j < d; j++) chunk[(size_t)i * d + j] = x[(i0 + i) * d + j] - mu[j];
        /* Column-major view: chunk is d x m, so cov += chunk chunk^T. */
        double alpha = 1.0 / (double)n, beta = 1.0;
        dsyrk_("U", "N", &dn, &m, &alpha, chunk, &dn, &beta, cov, &dn);
    }
    int il = (int)(d - D + 1), iu = (int)d, found = 0, info = 0, lwork = -1, liwork = -1, iw;
    double vl = 0, vu = 0, abstol = 0, wq;
    dsyevr_("V", "I", "U", &dn, cov, &dn, &vl, &vu, &il, &iu, &abstol, &found, w, zv, &dn, isuppz,
            &wq, &lwork, &iw, &liwork, &info);
    lwork = (int)wq;
    liwork = iw;
    work = vq_malloc((size_t)lwork * sizeof(double));
    iwork = vq_malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
        goto out;
    }
    dsyevr_("V", "I", "U", &dn, cov, &dn, &vl, &vu, &il, &iu, &abstol, &found, w, zv, &dn, isuppz,
            work, &lwork, iwork, &liwork, &info);
    if (info != 0 || found != (int)D) {
        rc = vq_err_set(err, VQ_EINTERNAL, "train",
                        "LAPACK dsyevr failed (info %d, %d of %zu eigenpairs)", info, found, D);
        goto out;
    }
    double top = w[D - 1] > 0 ? w[D - 1] : 0;
    for (size_t k = 0; k < D; k++) {
        const double *col = zv + (D - 1 - k) * d; /* eigenvalues come increasing */
        size_t amax = 0;
        for (size_t j = 1; j < d; j++)
            if (fabs(col[j]) > fabs(col[amax])) amax = j;
        double sg = col[amax] < 0 ? -1.0 : 1.0;
        for (size_t j = 0; j < d; j++) im->u[k * d + j] = (float)(sg * col[j]);
        double lam = w[D - 1 - k] > 0 ? w[D - 1 - k] : 0;
        im->eig[k] = (float)lam;
        double fl = lam > PCA_WHITEN_FLOOR * top ? lam : PCA_WHITEN_FLOOR * top;
        im->scale[k] = im->whiten && fl > 0 ? (float)(1.0 / sqrt(fl)) : 1.0f;
    }
    for (size_t j = 0; j < d; j++) im->mean[j] = (float)mu[j];
    set_umu(q);
    proj = vq_malloc(n * D * sizeof(float));
    if (!proj) {
        rc = vq_err_set(err, VQ_ENOMEM, "train", "out of memory");
        goto out;
    }
    for (size_t i0 = 0; i0 < n; i0 += PCA_CHUNK) {
        size_t m = n - i0 < PCA_CHUNK ? n - i0 : PCA_CHUNK;
        project(q, m, x + i0 * d, proj + i0 * D);
    }
    rc = vq_quant_train(im->inner, n, proj, err);
out:
    vq_free(mu), vq_free(cov), vq_free(chunk), vq_free(w), vq_free(zv), vq_free(isuppz);
    vq_free(work), vq_free(iwork), vq_free(proj);
    return rc;
}

static int encode(const vq_quant *q, size_t n, const float *x, uint8_t *codes, vq_err *err) {
    const pca_impl *im = q->impl;
    size_t m0 = n < PCA_CHUNK ? n : PCA_CHUNK;
    float *z = vq_malloc(m0 * im->dout * sizeof(float));
    VQ_FAIL_IF(!z, VQ_ENOMEM, err, "encode", "out of memory");
    int rc = VQ_OK;
    for (size_t i0 = 0; i0 < n && rc == VQ_OK; i0 += PCA_CHUNK) {
        size_t m = n - i0 < PCA_CHUNK ? n - i0 : PCA_CHUNK;
        project(q, m, x + i0 * q->d, z);
        rc = vq_quant_encode(im->inner, m, z, codes + i0 * q->code_size, err);
    }
    vq_free(z);
    return rc;
}

static int decode(const vq_quant *q, size_t n, const uint8_t *codes, float *x, vq_err *err) {
    const pca_impl *im = q->impl;
    size_t d = q->d, D = im->dout;
    float *z = vq_malloc(D * sizeof(float));
    VQ_FAIL_IF(!z, VQ_ENOMEM, err, "decode", "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = vq_quant_decode(im->inner, 1, codes + i * q->code_size, z, err);
        if (rc < 0) {
            vq_free(z);
            return rc;
        }
        float *xv = x + i * d;
        for (size_t j = 0; j < d; j++) xv[j] = im->mean[j];
        for (size_t k = 0; k < D; k++) {
            float c = z[k] / im->scale[k];
            const float *uk = im->u + k * d;
            for (size_t j = 0; j < d; j++) xv[j] += c * uk[j];
        }
    }
    vq_free(z);
    return VQ_OK;
}

static int query_new(const vq_quant *q, void **state, vq_err *err) {
    const pca_impl *im = q->impl;
    pca_query *s = vq_calloc(1, sizeof *s);
    VQ_FAIL_IF(!s, VQ_ENOMEM, err, "query", "out of memory");
    s->v = vq_malloc(im->dout * sizeof(float));
    int rc = s->v ? vq_query_new(im->inner, &s->inner, err)
                  : vq_err_set(err, VQ_ENOMEM, "query", "out of memory");
    if (rc < 0) {
        vq_free(s->v);
        vq_free(s);
        return rc;
    }
    *state = s;
    return VQ_OK;
}

static void query_free(void *state) {
    pca_query *s = state;
    if (!s) return;
    vq_query_free(s->inner);
    vq_free(s->v);
    vq_free(s);
}

static int prepare(vq_query *qs, const float *query, vq_err *err) {
    const pca_impl *im = qs->q->impl;
    pca_query *s = qs->impl;
    size_t d = qs->q->d;
    int l2 = qs->metric == VQ_METRIC_L2;
    for (size_t k = 0; k < im->dout; k++) {
        const float *uk = im->u + k * d;
        double t = 0;
        for (size_t j = 0; j < d; j++)
            t += (double)uk[j] * (l2 ? query[j] - im->mean[j] : query[j]);
        s->v[k] = (float)(l2 ? t * im->scale[k] : t / im->scale[k]);
    }
    double c = 0;
    if (!l2)
        for (size_t j = 0; j < d; j++) c += (double)query[j] * im->mean[j];
    s->cst = (float)c;
    vq_query_set_isa(s->inner, qs->isa);
    return vq_query_prepare(s->inner, s->v, qs->metric, err);
}

/* Scores are distances: -<q, x> for IP, so the centroid term is subtracted. */
static void score(const vq_query *qs, const uint8_t *packed, size_t n, float *dist) {
    const pca_query *s = qs->impl;
    vq_quant_score(s->inner, packed, n, dist);
    if (s->cst != 0.0f)
        for (size_t i = 0; i < n; i++) dist[i] -= s->cst;
}

static float score_one(const vq_query *qs, const uint8_t *code) {
    const pca_query *s = qs->impl;
    return vq_quant_score_one(s->inner, code) - s->cst;
}

static void pack(const vq_quant *q, size_t n, const uint8_t *codes, uint8_t *block) {
    const pca_impl *im = q->impl;
    vq_quant_pack(im->inner, n, codes, block);
}

static void unpack(const vq_quant *q, const uint8_t *block, size_t i, uint8_t *code) {
    const pca_impl *im = q->impl;
    vq_quant_unpack(im->inner, block, i, code);
}

static int save(const vq_quant *q, vq_wbuf *w, vq_err *err) {
    const pca_impl *im = q->impl;
    size_t d = q->d, D = im->dout;
    uint8_t *ib;
    size_t il;
    VQ_TRY(vq_quant_save(im->inner, &ib, &il, err));
    vq__w_u32(w, im->dout);
    vq__w_u32(w, im->whiten);
    vq__w_f32s(w, im->mean, d);
    vq__w_f32s(w, im->u, D * d);
    vq__w_f32s(w, im->eig, D);
    vq__w_f32s(w, im->scale, D);
    vq__w_u64(w, il);
    vq__w_bytes(w, ib, il);
    vq_free(ib);
    return VQ_OK;
}

static int load(vq_quant *q, vq_rbuf *r, vq_err *err) {
    pca_impl *im = q->impl;
    size_t d = q->d, D = im->dout;
    uint32_t dout, whiten;
    VQ_TRY(vq__r_u32(r, &dout, err));
    VQ_TRY(vq__r_u32(r, &whiten, err));
    VQ_FAIL_IF(dout != im->dout || whiten != im->whiten, VQ_ECORRUPT, err, "pca.header",
               "saved d=%u whiten=%u do not match the spec's d=%u whiten=%u", dout, whiten,
               im->dout, im->whiten);
    VQ_TRY(vq__r_f32s(r, im->mean, d, err));
    VQ_TRY(vq__r_f32s(r, im->u, D * d, err));
    VQ_TRY(vq__r_f32s(r, im->eig, D, err));
    VQ_TRY(vq__r_f32s(r, im->scale, D, err));
    for (size_t i = 0; i < D * d; i++)
        VQ_FAIL_IF(!isfinite(im->u[i]) || fabsf(im->u[i]) > 1.0001f, VQ_ECORRUPT, err,
                   "pca.components", "saved component coefficient %zu is not a unit-vector entry",
                   i);
    for (size_t j = 0; j < d; j++)
        VQ_FAIL_IF(!isfinite(im->mean[j]), VQ_ECORRUPT, err, "pca.mean",
                   "saved mean coordinate %zu is not finite", j);
    for (size_t k = 0; k < D; k++)
        VQ_FAIL_IF(!isfinite(im->eig[k]) || im->eig[k] < 0 || !isfinite(im->scale[k]) ||
                       im->scale[k] <= 0,
                   VQ_ECORRUPT, err, "pca.eigenvalues", "saved eigenvalue/scale %zu is invalid", k);
    uint64_t il;
    VQ_TRY(vq__r_u64(r, &il, err));
    VQ_FAIL_IF(il > r->len - r->pos, VQ_ECORRUPT, err, "pca.inner",
               "inner quantizer length %llu is over the %zu bytes left", (unsigned long long)il,
               r->len - r->pos);
    vq_quant *in;
    VQ_TRY(vq_quant_load(r->p + r->pos, (size_t)il, &in, err));
    r->pos += (size_t)il;
    if (vq_quant_dim(in) != D || strcmp(vq_quant_spec(in), vq_quant_spec(im->inner))) {
        int rc = vq_err_set(err, VQ_ECORRUPT, "pca.inner",
                            "saved inner quantizer '%s' (d=%u) does not match '%s' (d=%zu)",
                            vq_quant_spec(in), vq_quant_dim(in), vq_quant_spec(im->inner), D);
        vq_quant_free(in);
        return rc;
    }
    vq_quant_free(im->inner);
    im->inner = in;
    set_umu(q);
    return VQ_OK;
}

static size_t state_bytes(const vq_quant *q) {
    const pca_impl *im = q->impl;
    return ((size_t)q->d * (im->dout + 1) + 3 * (size_t)im->dout) * sizeof(float) +
           vq_quant_state_bytes(im->inner);
}

const vq_quant_ops vq__ops_pca = {
    .version = VQ_QUANT_OPS_VERSION,
    .name = "pca",
    .is_transform = 1,
    .create = create,
    .train = train,
    .encode = encode,
    .decode = decode,
    .query_new = query_new,
    .query_free = query_free,
    .prepare = prepare,
    .score = score,
    .score_one = score_one,
    .pack = pack,
    .unpack = unpack,
    .save = save,
    .load = load,
    .state_bytes = state_bytes,
    .destroy = destroy,
};
