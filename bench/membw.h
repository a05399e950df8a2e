/* membw.h — the single-core memory read bandwidth that scan kernels are compared with: a
 * plain sequential read loop over a buffer, with the access pattern of a flat scan (front to
 * back, every byte once), and nothing else to compute.
 *
 * The loop sums the buffer as 64-bit integers into four independent 128-bit accumulators (GCC
 * vector extensions at the baseline x86-64 width, so no ISA flag is needed), which keeps it
 * limited by memory rather than by an addition chain. The returned checksum keeps the
 * compiler from dropping the loads.
 * Thread safety: reentrant.
 */
#ifndef VQ_MEMBW_H
#define VQ_MEMBW_H

#include <stddef.h>
#include <stdint.h>

/* Reads bytes bytes of buf once (bytes rounded down to a multiple of 64). */
uint64_t vq_membw_read(const void *buf, size_t bytes);

#endif
