"""`vqdb loadgen` against a real server: one JSON line per concurrency level whose counts add
up (calls, searches, upserts), --verify reads every acknowledged upsert back, --batch sends
SearchBatch calls of N queries, --spin polls for replies (and still ends at the deadline),
errors are counted by gRPC status, bad options exit 2."""
import json
import os
import socket
import tempfile
import time
import unittest

from rpcutil import Server, vqdb


class LoadgenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        t = cls.tmp.name
        x, cls.q, d = os.path.join(t, "x.fvecs"), os.path.join(t, "q.fvecs"), os.path.join(t, "db")
        vqdb("gen", "--n", "2000", "--d", "16", "--seed", "3", "--out", x)
        vqdb("gen", "--n", "40", "--d", "16", "--seed", "3", "--queries", "--out", cls.q)
        vqdb("collection", "create", "--data", d, "--name", "lg", "--dim", "16",
             "--index", "hnsw:m=8,efc=40/sq8/rerank=2")
        vqdb("upsert", "--data", d, "--collection", "lg", "--vectors", x)
        cls.s = Server("--threads", "2", data=d)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.tmp.cleanup()

    def loadgen(self, *args, collection="lg", ok=True):
        p = vqdb("loadgen", "--target", self.s.addr, "--collection", collection, "--queries",
                 self.q, "--duration", "1", *args, ok=ok)
        return p, [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]

    def test_mixed_with_verify(self):
        _, lines = self.loadgen("--concurrency", "1,4", "--upsert-ratio", "0.2", "--verify",
                                "--ef", "32")
        self.assertEqual([ln["concurrency"] for ln in lines], [1, 4])
        for ln in lines:
            self.assertEqual(ln["errors"], 0, ln)
            self.assertEqual(ln["batch"], 1)
            self.assertGreater(ln["searches"], 0)
            self.assertGreater(ln["upserts"], 0)
            self.assertEqual(ln["calls"], ln["searches"] + ln["upserts"])
            self.assertTrue(ln["verified"])
            self.assertEqual(ln["acked_upserts"], ln["upserts"])
            self.assertEqual((ln["lost"], ln["mismatched"]), (0, 0))
            self.assertLessEqual(ln["p50_ms"], ln["p99_ms"])
            self.assertLessEqual(ln["p99_ms"], ln["p999_ms"])

    def test_batch(self):
        _, lines = self.loadgen("--concurrency", "2", "--batch", "8", "-k", "5")
        (ln,) = lines
        self.assertEqual(ln["errors"], 0, ln)
        self.assertEqual(ln["batch"], 8)
        self.assertGreater(ln["calls"], 0)
        self.assertEqual(ln["searches"], 8 * ln["calls"])
        # duration_s is printed to 10 ms
        self.assertAlmostEqual(ln["qps"] / (ln["searches"] / ln["duration_s"]), 1.0, delta=0.02)

    def test_spin(self):
        # --spin polls for replies instead of sleeping; the counts are the same kind of line.
        _, lines = self.loadgen("--concurrency", "1", "--spin", "--ef", "32")
        (ln,) = lines
        self.assertEqual((ln["errors"], ln["spin"]), (0, 1), ln)
        self.assertGreater(ln["searches"], 0)
        self.assertEqual(ln["calls"], ln["searches"])
        _, (plain,) = self.loadgen("--concurrency", "1", "-k", "3")
        self.assertEqual(plain["spin"], 0)

    def test_spin_ends_at_the_deadline(self):
        # A spinning call still ends when its deadline passes (the poll loop must not wait
        # for a reply that will not come): a listener that never answers, 0.2 s deadlines.
        with socket.socket() as mute:
            mute.bind(("127.0.0.1", 0))
            mute.listen(64)
            t0 = time.monotonic()
            p = vqdb("loadgen", "--target", "127.0.0.1:%d" % mute.getsockname()[1],
                     "--collection", "lg", "--queries", self.q, "--duration", "1",
                     "--concurrency", "1", "--spin", "--timeout", "0.2")
            took = time.monotonic() - t0
        (ln,) = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
        self.assertEqual(ln["searches"], 0, ln)
        self.assertGreaterEqual(ln["errors"], 3, ln)
        self.assertEqual(list(ln["errors_by_status"]), ["4"])  # DEADLINE_EXCEEDED
        self.assertLess(took, 10)

    def test_errors_counted_by_status(self):
        _, lines = self.loadgen("--concurrency", "1", "--batch", "2", collection="nope")
        (ln,) = lines
        self.assertEqual(ln["searches"], 0)
        self.assertGreater(ln["errors"], 0)
        self.assertEqual(list(ln["errors_by_status"]), ["5"])  # NOT_FOUND
        self.assertEqual(ln["errors_by_status"]["5"], ln["errors"])

    def test_error_log_is_rate_limited(self):
        # Thousands of failing calls a second: the server logs at most 50 error lines a
        # second, says how many it dropped, and counts them in its "stopped" line.
        s = Server(data=self.s.data + "-empty")
        try:
            p = vqdb("loadgen", "--target", s.addr, "--collection", "nope", "--queries", self.q,
                     "--duration", "1.5", "--concurrency", "2")
            errors = json.loads(p.stdout.splitlines()[0])["errors"]
            self.assertGreater(errors, 500)
        finally:
            self.assertEqual(s.stop(), 0)
        lines = [json.loads(x) for x in s.stderr.splitlines() if x.startswith("{")]
        logged = [x for x in lines if x.get("event") == "rpc" and x.get("status") == 5]
        self.assertGreater(len(logged), 0)
        self.assertLessEqual(len(logged), 3 * 50)  # 1.5 s touches at most 3 windows
        notes = [x for x in lines if x.get("event") == "log_suppressed"]
        self.assertGreater(len(notes), 0)
        (stopped,) = [x for x in lines if x.get("event") == "stopped"]
        self.assertEqual(stopped["errors"], errors)
        self.assertEqual(stopped["error_lines_suppressed"], errors - len(logged))
        self.assertGreaterEqual(stopped["error_lines_suppressed"], sum(n["lines"] for n in notes))

    def test_bad_options(self):
        for bad in (["--batch", "0"], ["--batch", "1025"], ["--upsert-ratio", "2"]):
            p, _ = self.loadgen("--concurrency", "1", *bad, ok=False)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("usage", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
