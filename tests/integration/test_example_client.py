"""examples/python/vqdb_example.py against a real server on a free loopback port: it must
create its collection, stream all 10,000 points, and print filtered results that really
satisfy the filter (checked here with Get), for both the structured and the text form."""
import os
import re
import subprocess
import sys
import unittest

import rpcutil
from rpcutil import Server, vqdb_pb2 as pb

EXAMPLE = os.path.join(rpcutil.SRC, "examples", "python", "vqdb_example.py")


class ExampleClientTest(unittest.TestCase):
    def test_example(self):
        s = Server("--threads", "2")
        try:
            out = subprocess.run([sys.executable, EXAMPLE, "--target", s.addr, "--protoc",
                                  rpcutil.PROTOC], capture_output=True, text=True, timeout=900)
            self.assertEqual(out.returncode, 0, out.stderr)
            text = out.stdout
            self.assertIn("streamed 10000 points in 20 batches", text)
            sections = text.split("query (text filter)")
            self.assertEqual(len(sections), 2, text)
            search_ids = [int(x) for x in re.findall(r"id=(\d+)", sections[0])]
            query_ids = [int(x) for x in re.findall(r"id=(\d+)", sections[1])]
            self.assertEqual(len(search_ids), 5, text)
            self.assertEqual(search_ids, query_ids)  # the same filter in two forms
            with s.channel() as ch:
                got = rpcutil.unary(ch, "/vqdb.v1.VectorDB/Get", pb.GetRequest(
                    collection="example", ids=[pb.Id(num=i) for i in search_ids]),
                    pb.GetResponse)
                info = rpcutil.unary(ch, "/vqdb.v1.VectorDB/DescribeCollection",
                                     pb.DescribeCollectionRequest(collection="example"),
                                     pb.DescribeCollectionResponse).info
            self.assertEqual(info.count, 10000)
            self.assertEqual(len(got.points), 5)
            for p in got.points:
                i = p.id.num
                self.assertGreaterEqual(p.attributes["year"].int_value, 2020)
                self.assertEqual(p.attributes["lang"].keyword_value, "de")
                self.assertIn("paper", p.attributes["tags"].keywords_value.values)
                # the example's attribute rule, recomputed from the id
                self.assertEqual(p.attributes["year"].int_value, 2000 + i % 25)
        finally:
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
