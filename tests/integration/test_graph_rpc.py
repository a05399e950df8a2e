"""Graph expansion and diversity through gRPC Query (Debian's python3-grpcio): MMR equals a
reference selection computed in this test from the returned pool, facility location and MMR
report the selected set's mean pairwise cosine exactly as the test computes it, next-chunk
links added with `vqdb link` bring each hit's successor into the results after a restart,
and bad graph/diversity parameters are INVALID_ARGUMENT naming the field."""
import math
import random
import subprocess
import unittest

from rpcutil import VQDB, grpc, Server, unary, vqdb_pb2 as pb

SVC = "/vqdb.v1.VectorDB/"
D = 8
N = 60


def call(ch, method, req, resp_cls, **kw):
    return unary(ch, SVC + method, req, resp_cls, **kw)


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b))


def mmr_ref(pool, scores, vecs, k, lam):
    """The textbook greedy MMR over the pool (relevance = scores min-max normalized)."""
    lo, hi = min(scores), max(scores)
    rel = [(s - lo) / (hi - lo) if hi > lo else 1.0 for s in scores]
    picked = []
    while len(picked) < min(k, len(pool)):
        best, bv = None, None
        for i in range(len(pool)):
            if i in picked:
                continue
            red = max((cos(vecs[pool[i]], vecs[pool[j]]) for j in picked), default=0.0)
            v = lam * rel[i] - (1 - lam) * red
            if bv is None or v > bv:
                best, bv = i, v
        picked.append(best)
    return [pool[i] for i in picked]


def mean_pairwise(ids, vecs):
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    return sum(cos(vecs[a], vecs[b]) for a, b in pairs) / len(pairs)


class GraphRpcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("--threads", "2")
        ch = cls.s.channel()
        rng = random.Random(11)
        sch = pb.CollectionSchema(name="gr", dimension=D, metric=pb.COSINE,
                                  index_spec="flat/f32")
        call(ch, "CreateCollection", pb.CreateCollectionRequest(schema=sch),
             pb.CreateCollectionResponse)
        cls.vecs = {i: [rng.uniform(-1, 1) for _ in range(D)] for i in range(N)}
        pts = [pb.Point(id=pb.Id(num=i), vector=cls.vecs[i]) for i in range(N)]
        call(ch, "Upsert", pb.UpsertRequest(collection="gr", points=pts), pb.UpsertResponse)
        ch.close()
        cls.s.stop()
        # next-chunk links i -> i+1, written while no server holds the data directory
        for i in range(N - 1):
            subprocess.run([VQDB, "link", "--data", cls.s.data, "--collection", "gr",
                            "--from", str(i), "--to", str(i + 1), "--type", "next"],
                           check=True, stdout=subprocess.DEVNULL)
        cls.s = Server("--threads", "2", data=cls.s.data)
        cls.ch = cls.s.channel()
        cls.q = [rng.uniform(-1, 1) for _ in range(D)]

    @classmethod
    def tearDownClass(cls):
        cls.ch.close()
        cls.s.stop()

    def query(self, k, limit, **kw):
        req = pb.QueryRequest(collection="gr", k=k, prefetch=[
            pb.Prefetch(dense=pb.DenseQuery(vector=self.q), limit=limit)], **kw)
        return call(self.ch, "Query", req, pb.QueryResponse)

    def test_mmr_equals_reference(self):
        plain = self.query(40, 40)
        pool = [r.id.num for r in plain.results]
        scores = [r.score for r in plain.results]  # cosine similarities: larger is closer
        for lam in (0.3, 0.5, 0.8):
            r = self.query(6, 40, diversity=pb.Diversity(method=pb.Diversity.MMR, **{"lambda": lam}))
            got = [x.id.num for x in r.results]
            self.assertEqual(got, mmr_ref(pool, scores, self.vecs, 6, lam), lam)
            self.assertAlmostEqual(r.mean_pairwise_sim, mean_pairwise(got, self.vecs), places=4)
            self.assertIn("mmr 6", r.plan)
        top = pool[:6]
        r = self.query(6, 40, diversity=pb.Diversity(method=pb.Diversity.MMR, **{"lambda": 0.3}))
        self.assertLess(r.mean_pairwise_sim, mean_pairwise(top, self.vecs))

    def test_facility_location(self):
        r = self.query(5, 30, diversity=pb.Diversity(method=pb.Diversity.FACILITY_LOCATION))
        got = [x.id.num for x in r.results]
        pool = [x.id.num for x in self.query(30, 30).results]
        self.assertEqual(len(got), 5)
        self.assertTrue(set(got) <= set(pool))
        self.assertAlmostEqual(r.mean_pairwise_sim, mean_pairwise(got, self.vecs), places=4)
        self.assertGreater(r.objective, 0)
        # pool=10 considers only the best 10 candidates
        r = self.query(5, 30, diversity=pb.Diversity(method=pb.Diversity.FACILITY_LOCATION,
                                                     pool=10))
        self.assertTrue(set(x.id.num for x in r.results) <= set(pool[:10]))

    def test_next_links_bring_successors(self):
        seeds = [x.id.num for x in self.query(3, 3).results]
        r = self.query(10, 3, graph=pb.GraphExpansion(hops=1, link_types=["next"]))
        got = set(x.id.num for x in r.results)
        self.assertTrue(set(seeds) <= got)
        for s in seeds:
            if s + 1 < N:
                self.assertIn(s + 1, got, "successor of hit %d" % s)
        self.assertIn("graph hops", r.plan)
        # two hops reach the successor's successor
        r2 = self.query(20, 3, graph=pb.GraphExpansion(hops=2, link_types=["next"]))
        got2 = set(x.id.num for x in r2.results)
        for s in seeds:
            if s + 2 < N:
                self.assertIn(s + 2, got2)
        # personalized PageRank over the same links also reaches the successors
        r3 = self.query(10, 3, graph=pb.GraphExpansion(restart=0.3, link_types=["next"]))
        self.assertTrue(any(s + 1 in set(x.id.num for x in r3.results) for s in seeds if s + 1 < N))

    def test_bad_parameters(self):
        def err(**kw):
            with self.assertRaises(grpc.RpcError) as e:
                self.query(5, 10, **kw)
            return e.exception.code(), e.exception.details()

        for kw, field in ((dict(graph=pb.GraphExpansion(hops=9)), "graph.hops"),
                          (dict(graph=pb.GraphExpansion(hops=1, blend=2)), "graph.blend"),
                          (dict(graph=pb.GraphExpansion(hops=1, link_types=["bogus"])),
                           "graph.link_types"),
                          (dict(diversity=pb.Diversity(method=pb.Diversity.MMR,
                                                       **{"lambda": 1.5})), "diversity.lambda")):
            code, msg = err(**kw)
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, msg)
            self.assertIn(field, msg)


if __name__ == "__main__":
    unittest.main()
