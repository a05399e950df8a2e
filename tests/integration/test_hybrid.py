"""Hybrid retrieval through gRPC (Debian's python3-grpcio): BM25 text prefetches equal SQLite
FTS5's bm25() (Python's sqlite3), sparse prefetches equal a brute-force inner product, and
queries fusing dense + text + sparse prefetches return exactly the RRF (and weighted
min-max / z-score) fusion that this test computes from the separate prefetch results; the
filter restricts every prefetch; upserts, deletes and a restart keep the text index in step;
bad sparse input is rejected naming the field."""
import math
import random
import sqlite3
import unittest

from rpcutil import grpc, Server, unary, vqdb_pb2 as pb

SVC = "/vqdb.v1.VectorDB/"
D = 8
N = 400
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota",
         "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau",
         "upsilon", "phi", "chi", "psi", "omega", "Grüße", "naïve", "café"]


def call(ch, method, req, resp_cls, **kw):
    return unary(ch, SVC + method, req, resp_cls, **kw)


def text_of(rng):
    # Zipf-like: early words are frequent
    n = rng.randint(2, 25)
    return " ".join(WORDS[min(int(rng.paretovariate(0.8)) - 1, len(WORDS) - 1)]
                    for _ in range(n))


def sparse_of(rng):
    idx = rng.sample(range(60), rng.randint(1, 6))
    return idx, [round(rng.uniform(0.05, 2.0), 3) for _ in idx]


def point(i, rng, tenant=None):
    v = [rng.uniform(-1, 1) for _ in range(D)]
    idx, val = sparse_of(rng)
    attrs = {"tenant": pb.Value(int_value=i % 4 if tenant is None else tenant),
             "body": pb.Value(text_value=text_of(rng)),
             "sp": pb.Value(sparse_value=pb.SparseVector(indices=idx, values=val))}
    return pb.Point(id=pb.Id(num=i), vector=v, attributes=attrs)


def rrf(lists, k=60.0, weights=None):
    acc = {}
    for li, ids in enumerate(lists):
        w = 1.0 if weights is None else weights[li]
        for r, i in enumerate(ids):
            acc[i] = acc.get(i, 0.0) + w / (k + r + 1)
    return sorted(acc.items(), key=lambda t: (-t[1], t[0]))


def weighted(lists, norm, weights):
    acc = {}
    for (ids, scores), w in zip(lists, weights):
        if not ids:
            continue
        if norm == "minmax":
            mx, mn = max(scores), min(scores)
            f = [(s - mn) / (mx - mn) if mx > mn else 1.0 for s in scores]
        else:
            mean = sum(scores) / len(scores)
            sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
            f = [(s - mean) / sd if sd > 0 else 0.0 for s in scores]
        for i, v in zip(ids, f):
            acc[i] = acc.get(i, 0.0) + w * v
    return sorted(acc.items(), key=lambda t: (-t[1], t[0]))


class HybridTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("--threads", "2")
        cls.ch = cls.s.channel()
        rng = random.Random(7)
        sch = pb.CollectionSchema(
            name="hy", dimension=D, metric=pb.COSINE, index_spec="hnsw:m=16,efc=100/sq8/rerank=4",
            fields=[pb.FieldSchema(name="tenant", type=pb.INT64),
                    pb.FieldSchema(name="body", type=pb.TEXT),
                    pb.FieldSchema(name="sp", type=pb.SPARSE)])
        call(cls.ch, "CreateCollection", pb.CreateCollectionRequest(schema=sch),
             pb.CreateCollectionResponse)
        cls.points = {i: point(i, rng) for i in range(N)}
        pts = [cls.points[i] for i in range(N)]
        for b in range(0, N, 100):
            call(cls.ch, "Upsert", pb.UpsertRequest(collection="hy", points=pts[b:b + 100]),
                 pb.UpsertResponse)
        cls.rng = rng

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.s.stop()

    def query(self, prefetch, k, fusion=None, flt=None, ch=None):
        req = pb.QueryRequest(collection="hy", prefetch=prefetch, k=k)
        if fusion is not None:
            req.fusion.CopyFrom(fusion)
        if flt is not None:
            req.filter.CopyFrom(pb.Filter(text=flt))
        r = call(ch or self.ch, "Query", req, pb.QueryResponse)
        return [x.id.num for x in r.results], [x.score for x in r.results], r.plan

    def fts(self, keep=lambda p: True):
        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
        for i, p in self.points.items():
            if keep(p):
                db.execute("INSERT INTO t(rowid, body) VALUES (?, ?)",
                           (i, p.attributes["body"].text_value))
        return db

    def fts_top(self, db, words, k):
        m = " OR ".join('"%s"' % w for w in words)
        return db.execute("SELECT rowid, -bm25(t) FROM t WHERE t MATCH ? "
                          "ORDER BY bm25(t), rowid LIMIT ?", (m, k)).fetchall()

    def test_1_text_equals_fts5_bm25(self):
        db = self.fts()
        rng = random.Random(3)
        for _ in range(25):
            words = rng.sample(WORDS, 2)
            ids, scores, plan = self.query([pb.Prefetch(text=pb.TextQuery(query=" ".join(words)),
                                                        limit=10)], 10)
            ref = self.fts_top(db, words, 10)
            self.assertEqual(ids, [r[0] for r in ref], words)
            for s, r in zip(scores, ref):
                self.assertAlmostEqual(s, r[1], delta=1e-5 * abs(r[1]))
            self.assertIn("text", plan)

    def test_2_sparse_equals_brute_force(self):
        rng = random.Random(4)
        for _ in range(25):
            qi, qv = sparse_of(rng)
            q = dict(zip(qi, qv))
            ref = []
            for i, p in self.points.items():
                sv = p.attributes["sp"].sparse_value
                hit = [q[a] * b for a, b in zip(sv.indices, sv.values) if a in q]
                if hit:
                    ref.append((-sum(hit), i))
            ref.sort()
            ids, scores, _ = self.query([pb.Prefetch(sparse=pb.SparseQuery(
                field="sp", vector=pb.SparseVector(indices=qi, values=qv)), limit=10)], 10)
            self.assertEqual(len(ids), min(10, len(ref)))
            for s, r in zip(scores, ref):
                self.assertAlmostEqual(s, -r[0], delta=1e-5 * abs(r[0]) + 1e-6)
            # ids equal except where float32-rounded scores tie
            for a, r in zip(ids, ref):
                if a != r[1]:
                    self.assertAlmostEqual(-r[0], next(-x[0] for x in ref if x[1] == a), delta=1e-5)

    def prefetches(self, rng, limits=(30, 20, 25), weights=(0, 0, 0)):
        v = [rng.uniform(-1, 1) for _ in range(D)]
        words = " ".join(rng.sample(WORDS, 3))
        qi, qv = sparse_of(rng)
        return [pb.Prefetch(dense=pb.DenseQuery(vector=v), limit=limits[0], weight=weights[0]),
                pb.Prefetch(text=pb.TextQuery(query=words), limit=limits[1], weight=weights[1]),
                pb.Prefetch(sparse=pb.SparseQuery(vector=pb.SparseVector(indices=qi, values=qv)),
                            limit=limits[2], weight=weights[2])]

    def test_3_rrf_matches_reference(self):
        rng = random.Random(5)
        for t in range(12):
            flt = "tenant IN (1, 3)" if t % 2 else None
            pf = self.prefetches(rng)
            singles = [self.query([p], p.limit, flt=flt)[0] for p in pf]
            rrf_k = 60 if t % 3 else 10
            fusion = pb.Fusion(method=pb.Fusion.RRF, rrf_k=0 if rrf_k == 60 else rrf_k)
            ids, scores, plan = self.query(pf, 10, fusion=fusion, flt=flt)
            ref = rrf(singles, k=rrf_k)[:10]
            self.assertEqual(ids, [i for i, _ in ref], "query %d" % t)
            for s, (_, r) in zip(scores, ref):
                self.assertAlmostEqual(s, r, delta=1e-6 * r)
            self.assertIn("rrf", plan)
            self.assertEqual(len(singles[0]), 30)  # never fewer than limit when enough match
            if flt:
                for i in ids + [i for lst in singles for i in lst]:
                    self.assertIn(self.points[i].attributes["tenant"].int_value, (1, 3))
        # weights: w / (k + rank)
        pf = self.prefetches(rng, weights=(2.0, 0.5, 1.0))
        singles = [self.query([p], p.limit)[0] for p in pf]
        ids, scores, _ = self.query(pf, 10, fusion=pb.Fusion(method=pb.Fusion.RRF))
        ref = rrf(singles, weights=[2.0, 0.5, 1.0])[:10]
        self.assertEqual(ids, [i for i, _ in ref])
        for s, (_, r) in zip(scores, ref):
            self.assertAlmostEqual(s, r, delta=1e-6 * r)

    def test_4_weighted_fusion_matches_reference(self):
        rng = random.Random(6)
        for method, norm in ((pb.Fusion.WEIGHTED_MINMAX, "minmax"),
                             (pb.Fusion.WEIGHTED_ZSCORE, "zscore")):
            for _ in range(6):
                pf = self.prefetches(rng, weights=(1.0, 0.7, 1.3))
                singles = [self.query([p], p.limit) for p in pf]
                # a dense list alone reports cosine similarity; the fused list uses
                # -(1 - cos), a shift that both normalizations remove
                lists = [(ids, sc) for ids, sc, _ in singles]
                ids, scores, _ = self.query(pf, 10, fusion=pb.Fusion(method=method))
                ref = weighted(lists, norm, [1.0, 0.7, 1.3])
                refd = dict(ref)
                self.assertEqual(len(ids), min(10, len(ref)))
                for i, s in zip(ids, scores):
                    self.assertAlmostEqual(s, refd[i], delta=1e-4 * (1 + abs(refd[i])))
                # rank by rank the scores agree (ids may swap only on near-ties)
                for s, (_, r) in zip(scores, ref):
                    self.assertAlmostEqual(s, r, delta=1e-4 * (1 + abs(r)))

    def test_5_writes_restart_and_errors(self):
        # replace one record's text with a unique word, delete another, then restart
        p = self.points[11]
        p.attributes["body"].CopyFrom(pb.Value(text_value="uniqueword appears once"))
        call(self.ch, "Upsert", pb.UpsertRequest(collection="hy", points=[p]), pb.UpsertResponse)
        ids, _, _ = self.query([pb.Prefetch(text=pb.TextQuery(query="uniqueword"), limit=5)], 5)
        self.assertEqual(ids, [11])
        call(self.ch, "Delete", pb.DeleteRequest(collection="hy", ids=[pb.Id(num=11)]),
             pb.DeleteResponse)
        del self.points[11]
        ids, _, _ = self.query([pb.Prefetch(text=pb.TextQuery(query="uniqueword"), limit=5)], 5)
        self.assertEqual(ids, [])
        g = call(self.ch, "Get", pb.GetRequest(collection="hy", ids=[pb.Id(num=12)]),
                 pb.GetResponse)
        sv = g.points[0].attributes["sp"].sparse_value
        want = sorted(zip(self.points[12].attributes["sp"].sparse_value.indices,
                          self.points[12].attributes["sp"].sparse_value.values))
        self.assertEqual(list(sv.indices), [a for a, _ in want])
        for a, (_, b) in zip(sv.values, want):
            self.assertAlmostEqual(a, b, places=5)
        db = self.fts()
        before = self.query([pb.Prefetch(text=pb.TextQuery(query="beta rho"), limit=10)], 10)
        self.assertEqual(before[0], [r[0] for r in self.fts_top(db, ["beta", "rho"], 10)])
        self.ch.close()
        self.assertEqual(self.s.stop(), 0)
        type(self).s = Server("--threads", "2", data=self.s.data)
        type(self).ch = self.s.channel()
        after = self.query([pb.Prefetch(text=pb.TextQuery(query="beta rho"), limit=10)], 10)
        self.assertEqual(after[0], before[0])
        for a, b in zip(after[1], before[1]):
            self.assertAlmostEqual(a, b, delta=1e-6 * abs(b))

        def err(req, method="Query", resp=pb.QueryResponse):
            with self.assertRaises(grpc.RpcError) as e:
                call(self.ch, method, req, resp)
            return e.exception.code(), e.exception.details()

        bad = point(1000, self.rng)
        bad.attributes["sp"].CopyFrom(pb.Value(sparse_value=pb.SparseVector(
            indices=[3, 9, 3], values=[1, 2, 3])))
        code, msg = err(pb.UpsertRequest(collection="hy", points=[bad]), "Upsert", pb.UpsertResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("sp.indices[2]", msg)
        bad.attributes["sp"].CopyFrom(pb.Value(sparse_value=pb.SparseVector(
            indices=[3, 9], values=[1, float("nan")])))
        code, msg = err(pb.UpsertRequest(collection="hy", points=[bad]), "Upsert", pb.UpsertResponse)
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("sp.values[1]", msg)
        code, msg = err(pb.QueryRequest(collection="hy", k=5, prefetch=[
            pb.Prefetch(text=pb.TextQuery(query="x")),
            pb.Prefetch(sparse=pb.SparseQuery(vector=pb.SparseVector(indices=[1, 1], values=[1, 1])))]))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("prefetch[1].sparse.indices[1]", msg)
        code, msg = err(pb.QueryRequest(collection="hy", k=5, prefetch=[
            pb.Prefetch(dense=pb.DenseQuery(vector=[1.0] * (D - 1)))]))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("prefetch[0].dense.vector", msg)
        code, msg = err(pb.QueryRequest(collection="hy", k=5, prefetch=[
            pb.Prefetch(text=pb.TextQuery(field="tenant", query="x"))]))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("prefetch[0].field", msg)
        code, msg = err(pb.QueryRequest(collection="hy", k=5, prefetch=[]))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
