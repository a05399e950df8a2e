/* faiss_quant.h — FAISS baseline rows for `vqdb quant-bench`, through the FAISS C API, on
 * the same data and with the same definitions as quantbench.h where they apply:
 *   bytes_per_vector  faiss_Index_sa_code_size (the standalone code of the factory string)
 *   train_s           faiss_Index_train on all n base rows, once
 *   encode_vec_per_s  faiss_Index_sa_encode of all n rows (median of repeats)
 *   mse_rel           from faiss_Index_sa_decode of those codes
 *   ip_*              est_ij = <q_j, decode(code_i)> computed exactly with vqdb's f32
 *                     kernels: FAISS's own search distances are top-k only and L2 for these
 *                     indexes, so the decoded vector is the estimate FAISS implies.
 *   scan_codes_per_s  faiss_Index_add of the n rows, then faiss_Index_search of a batch of
 *                     nq_s = min(nq, 100) queries with k = 10: n * nq_s / time
 *   scan_gbps         n * code bytes * nq_s / time
 *   scalar_scan_codes_per_s  null (FAISS has no separate scalar reference here)
 * Figures FAISS cannot give for an index (e.g. sa_encode unimplemented) are NaN.
 * OpenMP runs with p->threads threads.
 *
 * Isolation: FAISS 1.7.3 aborts the process on some inputs (STACK.md), so
 * vq_faiss_quant_isolated runs the measurement in a forked child and passes the row back
 * through a pipe; a crash becomes an error return, not the end of the bench.
 * Thread safety: call from one thread; the isolated form forks.
 */
#ifndef VQ_FAISS_QUANT_H
#define VQ_FAISS_QUANT_H

#include "quantbench.h"

/* factory: a FAISS index_factory string, e.g. "PQ16", "SQ8", "PQ32x4fs". row->spec is
 * "faiss:" followed by the factory string. */
int vq_faiss_quant(const char *factory, const vq_qb_data *data, const vq_qb_params *p,
                   vq_qb_row *row, vq_err *err);
int vq_faiss_quant_isolated(const char *factory, const vq_qb_data *data, const vq_qb_params *p,
                            vq_qb_row *row, vq_err *err);

#endif
