"""`vqdb rebuild` and `vqdb compact` end to end: a flat collection is rebuilt into HNSW with a
new SPEC (recorded in the schema, index reloaded from its file afterwards), answers match a
brute-force scan computed here, deletes are reclaimed by `compact` and deleted ids never come
back; bad collection names and bad SPECs fail naming the field and change nothing."""
import json
import os
import struct
import tempfile
import unittest

from vqcli import vqdb


def read_fvecs(path):
    data = open(path, "rb").read()
    rows, off = [], 0
    while off < len(data):
        (d,) = struct.unpack_from("<i", data, off)
        rows.append(struct.unpack_from("<%df" % d, data, off + 4))
        off += 4 + 4 * d
    return rows


def brute(base, live, q, k):
    dist = sorted((sum((a - b) ** 2 for a, b in zip(base[i], q)), i) for i in live)
    return [i for _, i in dist[:k]]


class CliMaintTest(unittest.TestCase):
    N, K = 3000, 10

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        t = self.tmp.name
        self.x, self.q, self.d = (os.path.join(t, "x.fvecs"), os.path.join(t, "q.fvecs"),
                                  os.path.join(t, "data"))
        vqdb("gen", "--n", str(self.N), "--d", "16", "--seed", "5", "--out", self.x)
        vqdb("gen", "--n", "30", "--d", "16", "--seed", "5", "--queries", "--out", self.q)
        vqdb("collection", "create", "--data", self.d, "--name", "c", "--dim", "16",
             "--index", "flat/f32")
        vqdb("upsert", "--data", self.d, "--collection", "c", "--vectors", self.x)
        self.base, self.queries = read_fvecs(self.x), read_fvecs(self.q)

    def tearDown(self):
        self.tmp.cleanup()

    def describe(self):
        return json.loads(vqdb("collection", "describe", "--data", self.d, "--name", "c").stdout)

    def query(self):
        out = vqdb("query", "--data", self.d, "--collection", "c", "--queries", self.q,
                   "-k", str(self.K), "--json").stdout
        return [json.loads(line)["ids"] for line in out.splitlines() if line.startswith("{")]

    def recall(self, live):
        res = self.query()
        self.assertEqual(len(res), len(self.queries))
        hit = 0
        for q, ids in zip(self.queries, res):
            self.assertEqual(len(ids), self.K)
            for i in ids:
                self.assertIn(i, live, "deleted or unknown id %d returned" % i)
            hit += len(set(ids) & set(brute(self.base, live, q, self.K)))
        return hit / (self.K * len(self.queries))

    def test_rebuild_new_spec_then_compact(self):
        live = set(range(self.N))
        self.assertEqual(self.recall(live), 1.0)  # flat: exact
        p = vqdb("rebuild", "--data", self.d, "--collection", "c", "--index",
                 "hnsw:m=12,efc=80/f32", "--threads", "2")
        self.assertIn("rebuilt the index of c: %d vectors, hnsw:m=12,efc=80/f32" % self.N, p.stdout)
        info = self.describe()
        self.assertEqual(info["index"], "hnsw:m=12,efc=80/f32")
        self.assertEqual(info["index_impl"], "hnsw:m=12,efc=80/f32")
        self.assertEqual(info["index_source"], "loaded from file")
        self.assertGreaterEqual(self.recall(live), 0.95)
        # 10% deleted: under the 20% background threshold, so `compact` reclaims them all
        dead = list(range(0, self.N, 10))
        vqdb("delete", "--data", self.d, "--collection", "c", "--ids",
             ",".join(map(str, dead)))
        live -= set(dead)
        p = vqdb("compact", "--data", self.d, "--collection", "c")
        self.assertIn("compacted c: %d deleted entries reclaimed, %d live" % (len(dead), len(live)),
                      p.stdout)
        self.assertEqual(self.describe()["count"], len(live))
        self.assertGreaterEqual(self.recall(live), 0.95)
        # rebuilding again in the same SPEC (no --index) keeps it
        vqdb("rebuild", "--data", self.d, "--collection", "c")
        self.assertEqual(self.describe()["index"], "hnsw:m=12,efc=80/f32")
        self.assertGreaterEqual(self.recall(live), 0.95)

    def test_errors_name_the_field_and_change_nothing(self):
        p = vqdb("rebuild", "--data", self.d, "--collection", "nope", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("field: collection", p.stderr)
        p = vqdb("rebuild", "--data", self.d, "--collection", "c", "--index", "hnsw:m=1/f32",
                 ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("field: spec", p.stderr)
        p = vqdb("rebuild", "--data", self.d, "--collection", "c", "--threads", "0", ok=False)
        self.assertEqual(p.returncode, 2)
        p = vqdb("compact", "--data", self.d, "--collection", "nope", ok=False)
        self.assertIn("field: collection", p.stderr)
        self.assertEqual(self.describe()["index"], "flat/f32")
        self.assertEqual(self.recall(set(range(self.N))), 1.0)


if __name__ == "__main__":
    unittest.main()
