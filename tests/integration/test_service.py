"""The VectorDB service end to end through Debian's python3-grpcio: collections, batch and
streaming upserts with attributes, search with structured and text filters, SearchBatch,
Get, Delete, restart durability, and the error statuses with messages naming the field."""
import random
import unittest

import rpcutil
from rpcutil import grpc, Server, unary, vqdb_pb2 as pb

SVC = "/vqdb.v1.VectorDB/"
D = 16


def call(ch, method, req, resp_cls, **kw):
    return unary(ch, SVC + method, req, resp_cls, **kw)


def schema(name, metric=pb.L2, spec="hnsw:m=16,efc=100/sq8/rerank=4"):
    return pb.CollectionSchema(
        name=name, dimension=D, metric=metric, index_spec=spec,
        fields=[pb.FieldSchema(name="tenant", type=pb.INT64),
                pb.FieldSchema(name="lang", type=pb.KEYWORD),
                pb.FieldSchema(name="tags", type=pb.KEYWORD_LIST)])


def vec(rng):
    return [rng.uniform(-1, 1) for _ in range(D)]


def point(i, rng):
    return pb.Point(id=pb.Id(num=i), vector=vec(rng), attributes={
        "tenant": pb.Value(int_value=i % 5),
        "lang": pb.Value(keyword_value=["en", "de"][i % 2]),
        "tags": pb.Value(keywords_value=pb.StringList(values=["t%d" % (i % 3)]))})


def upsert_req(name, points):
    return pb.UpsertRequest(collection=name, points=points)


class ServiceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("--threads", "4")
        cls.ch = cls.s.channel()
        cls.rng = random.Random(1)
        call(cls.ch, "CreateCollection", pb.CreateCollectionRequest(schema=schema("docs")),
             pb.CreateCollectionResponse)
        cls.points = [point(i, cls.rng) for i in range(600)]
        for b in range(0, 600, 200):
            call(cls.ch, "Upsert", upsert_req("docs", cls.points[b:b + 200]), pb.UpsertResponse)

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.s.stop()

    def brute(self, q, k, keep=lambda p: True):
        d = [(sum((a - b) ** 2 for a, b in zip(q, p.vector)), p.id.num)
             for p in self.points if keep(p)]
        return [i for _, i in sorted(d)[:k]]

    def test_list_describe(self):
        r = call(self.ch, "ListCollections", pb.ListCollectionsRequest(), pb.ListCollectionsResponse)
        self.assertIn("docs", [c.schema.name for c in r.collections])
        r = call(self.ch, "DescribeCollection", pb.DescribeCollectionRequest(collection="docs"),
                 pb.DescribeCollectionResponse)
        self.assertEqual(r.info.schema.dimension, D)
        self.assertGreaterEqual(r.info.count, 600)

    def test_search_recall_and_filters(self):
        hits = total = 0
        for _ in range(20):
            q = vec(self.rng)
            r = call(self.ch, "Search", pb.SearchRequest(collection="docs", vector=q, k=10),
                     pb.SearchResponse)
            got = [x.id.num for x in r.results]
            hits += len(set(got) & set(self.brute(q, 10)))
            total += 10
            self.assertEqual([x.score for x in r.results], sorted(x.score for x in r.results))
        self.assertGreaterEqual(hits / total, 0.9)
        q = vec(self.rng)
        f = pb.Filter(**{"and": pb.FilterList(items=[
            pb.Filter(cmp=pb.Comparison(field="lang", op=pb.Comparison.EQ,
                                        value=pb.Value(keyword_value="de"))),
            pb.Filter(range=pb.Range(field="tenant", gte=pb.Bound(value=2)))])})
        r = call(self.ch, "Search", pb.SearchRequest(collection="docs", vector=q, k=10, filter=f),
                 pb.SearchResponse)
        want = self.brute(q, 10, lambda p: p.id.num % 2 == 1 and p.id.num % 5 >= 2)
        self.assertEqual(len(r.results), 10)
        for x in r.results:
            self.assertEqual(x.id.num % 2, 1)
            self.assertGreaterEqual(x.id.num % 5, 2)
        self.assertGreaterEqual(len(set(x.id.num for x in r.results) & set(want)), 8)
        # The text form gives the same answer.
        r2 = call(self.ch, "Search", pb.SearchRequest(
            collection="docs", vector=q, k=10, filter=pb.Filter(text='lang = "de" AND tenant >= 2')),
            pb.SearchResponse)
        self.assertEqual([x.id.num for x in r.results], [x.id.num for x in r2.results])
        # Tags, and an id set.
        r = call(self.ch, "Search", pb.SearchRequest(collection="docs", vector=q, k=5, filter=pb.Filter(
            has=pb.HasTags(field="tags", tags=["t1"]))), pb.SearchResponse)
        self.assertTrue(all(x.id.num % 3 == 1 for x in r.results))
        r = call(self.ch, "Search", pb.SearchRequest(collection="docs", vector=q, k=5, filter=pb.Filter(
            ids=pb.IdSet(ids=[pb.Id(num=7), pb.Id(num=8)]))), pb.SearchResponse)
        self.assertEqual(sorted(x.id.num for x in r.results), [7, 8])

    def test_search_batch_get_delete(self):
        qs = [vec(self.rng) for _ in range(3)]
        r = call(self.ch, "SearchBatch", pb.SearchBatchRequest(collection="docs", searches=[
            pb.SearchRequest(vector=q, k=3) for q in qs]), pb.SearchBatchResponse)
        self.assertEqual([len(x.results) for x in r.responses], [3, 3, 3])
        g = call(self.ch, "Get", pb.GetRequest(collection="docs", ids=[pb.Id(num=11), pb.Id(num=99999)],
                                               with_vectors=True), pb.GetResponse)
        self.assertEqual(len(g.points), 1)
        self.assertEqual(g.points[0].id.num, 11)
        self.assertAlmostEqual(g.points[0].vector[0], self.points[11].vector[0], places=5)
        self.assertEqual(g.points[0].attributes["lang"].keyword_value, "de")
        self.assertEqual(g.points[0].attributes["tenant"].int_value, 1)
        d = call(self.ch, "Delete", pb.DeleteRequest(collection="docs", ids=[pb.Id(num=599), pb.Id(num=123456)]),
                 pb.DeleteResponse)
        self.assertEqual((d.deleted, d.not_found), (1, 1))
        r = call(self.ch, "Search", pb.SearchRequest(collection="docs", vector=self.points[599].vector, k=5),
                 pb.SearchResponse)
        self.assertNotIn(599, [x.id.num for x in r.results])

    def test_stream_and_string_ids(self):
        call(self.ch, "CreateCollection", pb.CreateCollectionRequest(schema=schema("stream", pb.COSINE)),
             pb.CreateCollectionResponse)
        fn = self.ch.stream_unary(SVC + "UpsertStream", request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=pb.UpsertStreamResponse.FromString)
        rng = random.Random(5)
        batches = [upsert_req("stream", [pb.Point(id=pb.Id(str="doc-%d" % (b * 50 + i)), vector=vec(rng))
                                          for i in range(50)]) for b in range(4)]
        r = fn(iter(batches))
        self.assertEqual((r.upserted, r.batches), (200, 4))
        q = batches[2].points[7].vector
        r = call(self.ch, "Search", pb.SearchRequest(collection="stream", vector=q, k=1), pb.SearchResponse)
        self.assertEqual(r.results[0].id.str, "doc-107")
        self.assertAlmostEqual(r.results[0].score, 1.0, places=4)  # cosine similarity

    def test_errors_name_the_field(self):
        def err(method, req, resp_cls):
            with self.assertRaises(grpc.RpcError) as e:
                call(self.ch, method, req, resp_cls)
            return e.exception.code(), e.exception.details()

        code, msg = err("Search", pb.SearchRequest(collection="docs", vector=[0.0] * (D - 1), k=3),
                        pb.SearchResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("vector", msg)
        code, msg = err("Search", pb.SearchRequest(collection="docs", vector=[float("nan")] + [0.0] * (D - 1), k=3),
                        pb.SearchResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        code, msg = err("Search", pb.SearchRequest(collection="nope", vector=[0.0] * D, k=3), pb.SearchResponse)
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        code, msg = err("CreateCollection", pb.CreateCollectionRequest(schema=schema("docs")),
                        pb.CreateCollectionResponse)
        self.assertEqual(code, grpc.StatusCode.ALREADY_EXISTS)
        code, msg = err("Upsert", upsert_req("docs", [pb.Point(id=pb.Id(num=1), vector=[0.0] * 3)]),
                        pb.UpsertResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("points[0].vector", msg)
        bad = point(1, self.rng)
        bad.attributes["tenant"].CopyFrom(pb.Value(keyword_value="x"))
        code, msg = err("Upsert", upsert_req("docs", [bad]), pb.UpsertResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("tenant", msg)
        code, msg = err("Search", pb.SearchRequest(collection="docs", vector=[0.0] * D, k=3,
                                                   filter=pb.Filter(text="tenant = = 3")), pb.SearchResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("filter", msg)
        code, msg = err("Upsert", upsert_req("docs", [point(1, self.rng), point(1, self.rng)]), pb.UpsertResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        # In a batch the field names the position, once: "searches[1].vector: vector has ..."
        code, msg = err("SearchBatch", pb.SearchBatchRequest(collection="docs", searches=[
            pb.SearchRequest(vector=vec(self.rng), k=3),
            pb.SearchRequest(vector=[0.0] * (D - 1), k=3)]), pb.SearchBatchResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertTrue(msg.startswith("searches[1].vector: vector has"), msg)
        self.assertEqual(msg.count("searches[1]"), 1, msg)
        # A batch far longer than its deadline stops with DEADLINE_EXCEEDED (the server checks
        # the deadline before every search of the batch). The batch is valid (1024 x k=50 is
        # within the 100,000 results of a batch), so no other status can win the race.
        big = pb.SearchBatchRequest(collection="docs", searches=[
            pb.SearchRequest(vector=vec(self.rng), k=50) for _ in range(1024)])
        with self.assertRaises(grpc.RpcError) as e:
            call(self.ch, "SearchBatch", big, pb.SearchBatchResponse, timeout=0.002)
        self.assertEqual(e.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)


class RestartTest(unittest.TestCase):
    def test_acknowledged_writes_survive_restart(self):
        s = Server()
        rng = random.Random(9)
        pts = [point(i, rng) for i in range(100)]
        with s.channel() as ch:
            call(ch, "CreateCollection", pb.CreateCollectionRequest(schema=schema("keep")),
                 pb.CreateCollectionResponse)
            call(ch, "Upsert", upsert_req("keep", pts), pb.UpsertResponse)
        self.assertEqual(s.stop(), 0)
        s2 = Server(data=s.data)
        try:
            with s2.channel() as ch:
                g = call(ch, "Get", pb.GetRequest(collection="keep", ids=[pb.Id(num=i) for i in range(100)]),
                         pb.GetResponse)
                self.assertEqual(len(g.points), 100)
                r = call(ch, "Search", pb.SearchRequest(collection="keep", vector=pts[42].vector, k=1),
                         pb.SearchResponse)
                self.assertEqual(r.results[0].id.num, 42)
        finally:
            self.assertEqual(s2.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
