"""Robust decoding through a real client (Debian's python3-grpcio): requests whose Filter
trees (or any messages) nest deeper than the server's limit are rejected with
INVALID_ARGUMENT naming the limit, for unary Search/SearchBatch/Query/Get and for a batch
of UpsertStream; filters at the engine's depth limit still work; the server keeps serving.
The deep requests are written as raw wire bytes: Python's protobuf refuses to build them."""
import unittest

import rpcutil
from rpcutil import grpc, Server, vqdb_pb2 as pb

SVC = "/vqdb.v1.VectorDB/"
LIMIT = 160  # VQR_NESTING_MAX in rpc/wire.h
D = 4


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(num, payload):
    return varint((num << 3) | 2) + varint(len(payload)) + payload


def nested_not(levels):
    """A Filter of `levels` NOT nodes around `exists: "tenant"`, as bytes (the prefixes are
    collected inside out and joined once: concatenating per level would be quadratic)."""
    leaf = field(9, b"tenant")
    prefixes, size = [], len(leaf)
    for _ in range(levels):
        p = varint((3 << 3) | 2) + varint(size)
        prefixes.append(p)
        size += len(p)
    return b"".join(reversed(prefixes)) + leaf


def raw(ch, method, payload, resp_cls, **kw):
    fn = ch.unary_unary(SVC + method, request_serializer=lambda b: b,
                        response_deserializer=resp_cls.FromString)
    return fn(payload, **kw)


class DecodeLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("--threads", "2")
        cls.ch = cls.s.channel(options=[("grpc.max_send_message_length", 64 << 20)])
        schema = pb.CollectionSchema(name="c", dimension=D, metric=pb.L2,
                                     fields=[pb.FieldSchema(name="tenant", type=pb.INT64)])
        rpcutil.unary(cls.ch, SVC + "CreateCollection", pb.CreateCollectionRequest(schema=schema),
                      pb.CreateCollectionResponse)
        pts = [pb.Point(id=pb.Id(num=i), vector=[float(i), 0, 0, 1],
                        attributes={"tenant": pb.Value(int_value=i % 3)}) for i in range(50)]
        rpcutil.unary(cls.ch, SVC + "Upsert", pb.UpsertRequest(collection="c", points=pts),
                      pb.UpsertResponse)
        vector = pb.SearchRequest(vector=[1, 0, 0, 1]).SerializeToString()[2:]
        cls.head = field(1, b"c") + field(2, vector) + bytes([0x18, 5])  # k = 5

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        rc = cls.s.stop()
        assert rc == 0, cls.s.stderr

    def assert_too_deep(self, fn):
        with self.assertRaises(grpc.RpcError) as cm:
            fn()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn(str(LIMIT), cm.exception.details())
        self.assertIn("deeper", cm.exception.details())

    def alive(self):
        r = rpcutil.health(self.ch, timeout=10)
        self.assertEqual(r.status, 1)  # SERVING

    def test_search_deep_filter(self):
        for levels in (LIMIT, 1000000):
            req = self.head + field(4, nested_not(levels))
            self.assert_too_deep(lambda: raw(self.ch, "Search", req, pb.SearchResponse,
                                             timeout=60))
        self.alive()

    def test_filter_at_engine_depth_works(self):
        # 64 NOT levels is the engine's own filter-depth limit (VQE_FILTER_MAX_DEPTH); an
        # even count of NOTs is the leaf itself, so every point matches.
        req = self.head + field(4, nested_not(64))
        r = raw(self.ch, "Search", req, pb.SearchResponse, timeout=30)
        self.assertEqual(len(r.results), 5)
        # one more is the engine's filter-depth error, still INVALID_ARGUMENT, not a crash
        with self.assertRaises(grpc.RpcError) as cm:
            raw(self.ch, "Search", self.head + field(4, nested_not(66)), pb.SearchResponse,
                timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("filter", cm.exception.details())

    def test_batch_query_get_deep(self):
        batch = field(1, b"c") + field(2, self.head[3:] + field(4, nested_not(100000)))
        self.assert_too_deep(lambda: raw(self.ch, "SearchBatch", batch, pb.SearchBatchResponse,
                                         timeout=60))
        query = field(1, b"c") + field(3, nested_not(100000)) + bytes([0x38, 5])
        self.assert_too_deep(lambda: raw(self.ch, "Query", query, pb.QueryResponse, timeout=60))
        # Unknown fields are skipped, never descended (protobuf-c keeps them as opaque
        # bytes): a Get carrying a deep blob under an unknown field number still works.
        get = field(1, b"c") + field(2, bytes([0x08, 3])) + field(99, nested_not(100000))
        r = raw(self.ch, "Get", get, pb.GetResponse, timeout=60)
        self.assertEqual([p.id.num for p in r.points], [3])
        self.alive()

    def test_stream_batch_deep(self):
        good = pb.UpsertRequest(collection="c", points=[
            pb.Point(id=pb.Id(num=1000), vector=[0, 0, 0, 1])]).SerializeToString()
        # UpsertRequest has no recursive type (its deepest path is four messages), so a
        # stream batch cannot pass the limit; the same pre-scan rejects bad wire syntax.
        bad = good + bytes([0x12, 0x7F])  # a points field whose length runs past the end
        fn = self.ch.stream_unary(SVC + "UpsertStream", request_serializer=lambda b: b,
                                  response_deserializer=pb.UpsertStreamResponse.FromString)
        with self.assertRaises(grpc.RpcError) as cm:
            fn(iter([good, bad]), timeout=30)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("malformed", cm.exception.details())
        self.alive()


if __name__ == "__main__":
    unittest.main(verbosity=2)
