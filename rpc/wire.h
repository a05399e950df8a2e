/* wire.h — private to rpc/: bounded decoding of request messages. protobuf-c's unpack (and
 * free_unpacked) recurse once per nested message with no limit, and Filter trees are
 * recursive, so a small request of nested empty messages could overflow a worker's stack.
 * vqr__wire_check walks the wire bytes first, guided by the message descriptors, and rejects
 * nesting deeper than VQR_NESTING_MAX before protobuf-c sees the bytes.
 *
 * Thread safety: pure functions of their arguments.
 */
#ifndef VQ_RPC_WIRE_H
#define VQ_RPC_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "vq.h"

/* Nesting depth of messages in one request (the top-level message is depth 0). A filter of
 * the largest depth the engine accepts (VQE_FILTER_MAX_DEPTH = 64 AND/OR levels, two message
 * levels each) inside a SearchBatchRequest needs about 135. */
#define VQR_NESTING_MAX 160u

/* Checks that buf/len nests messages at most max_depth deep. Malformed wire data (bad
 * varints, lengths past the end, groups) is VQ_EINVAL too; anything that passes is still
 * validated by protobuf-c's unpack. The error names the outermost field of the deep path. */
int vqr__wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                    unsigned max_depth, vq_err *err);

/* vqr__wire_check with VQR_NESTING_MAX, then protobuf_c_message_unpack. NULL with err set
 * (VQ_EINVAL, naming the message type) when either rejects the bytes. */
ProtobufCMessage *vqr__unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
                              vq_err *err);

#endif
