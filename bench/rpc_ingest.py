"""Streaming ingest client for bench/rpc_ingest.sh: creates a collection (SYNC durability:
each UpsertStream message is one batch, fsynced before it counts) and streams the first N
vectors of an .fvecs file through VectorDB/UpsertStream with three attributes per point
(tenant int64 = i % 100, cat keyword = "c<i % 10>", score double = i / N). Ids are the row
numbers, so the file's ground truth applies. The requests are encoded by hand from the file
bytes (the packed float field is the file's little-endian row as is), which keeps this
client's CPU small next to the server's. Prints one JSON line.

usage: rpc_ingest.py HOST:PORT COLLECTION BASE.fvecs N BATCH INDEX_SPEC"""
import json
import os
import resource
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import rpcutil  # noqa: E402  (generates the Python modules with protoc)
from rpcutil import grpc, vqdb_pb2 as pb  # noqa: E402


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def ld(num, payload):
    return varint((num << 3) | 2) + varint(len(payload)) + payload


def entry(key, value):  # Point.attributes map entry: key = 1, value = 2
    return ld(3, ld(1, key) + ld(2, value))


def main():
    target, coll, base, n, batch, spec = sys.argv[1:7]
    n, batch = int(n), int(batch)
    ch = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 256 << 20)])
    schema = pb.CollectionSchema(
        name=coll, dimension=0, metric=pb.L2, index_spec=spec, durability=pb.SYNC,
        fields=[pb.FieldSchema(name="tenant", type=pb.INT64),
                pb.FieldSchema(name="cat", type=pb.KEYWORD),
                pb.FieldSchema(name="score", type=pb.DOUBLE)])
    f = open(base, "rb")
    d = struct.unpack("<i", f.read(4))[0]
    schema.dimension = d
    row = 4 + 4 * d
    rpcutil.unary(ch, "/vqdb.v1.VectorDB/CreateCollection",
                  pb.CreateCollectionRequest(schema=schema), pb.CreateCollectionResponse)
    head = ld(1, coll.encode())
    cats = [ld(4, ("c%d" % c).encode()) for c in range(10)]  # Value.keyword_value

    def batches():
        f.seek(0)
        for start in range(0, n, batch):
            m = min(batch, n - start)
            buf = f.read(m * row)
            parts = [head]
            for j in range(m):
                i = start + j
                vec = buf[j * row + 4:(j + 1) * row]
                p = (ld(1, b"\x08" + varint(i)) + ld(2, vec)
                     + entry(b"tenant", b"\x08" + varint(i % 100))
                     + entry(b"cat", cats[i % 10])
                     + entry(b"score", b"\x11" + struct.pack("<d", i / n)))
                parts.append(ld(2, p))
            yield b"".join(parts)

    fn = ch.stream_unary("/vqdb.v1.VectorDB/UpsertStream", request_serializer=lambda b: b,
                         response_deserializer=pb.UpsertStreamResponse.FromString)
    t0 = time.time()
    r = fn(batches(), timeout=3600)
    dt = time.time() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"n": n, "batch": batch, "index_spec": spec, "upserted": r.upserted,
                      "batches": r.batches, "seconds": round(dt, 2),
                      "vectors_per_s": round(r.upserted / dt, 1),
                      "client_cpu_s": round(ru.ru_utime + ru.ru_stime, 2)}))
    ch.close()
    return 0 if r.upserted == n else 1


if __name__ == "__main__":
    sys.exit(main())
