"""Writes seed inputs for fuzz_rpc_requests: one valid (and a few deliberately invalid)
encoded request of every type, each prefixed with the selector byte the target reads
(its index in g_methods). Usage: python3 gen_rpc_seeds.py OUT_DIR (run from the repo root
or with VQ_SOURCE_DIR set). The committed corpus is these seeds plus what libFuzzer found,
minimized with -merge=1."""
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

SRC = os.environ.get("VQ_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
gen = tempfile.mkdtemp(prefix="vqdb-seeds-")
subprocess.check_call(["protoc", "--python_out=" + gen, "-I" + SRC, "proto/vqdb.proto"])
sys.path.insert(0, gen)
from proto import vqdb_pb2 as pb  # noqa: E402

SEL = {name: i for i, name in enumerate([
    "CreateCollection", "DeleteCollection", "ListCollections", "DescribeCollection", "Upsert",
    "Delete", "Get", "Search", "SearchBatch", "Query", "Snapshot", "Rebuild", "UpsertStream",
    "Health"])}


def point(i, s=False):
    return pb.Point(id=pb.Id(str="p%d" % i) if s else pb.Id(num=i), vector=[0.5, -1, 2, i],
                    attributes={"tenant": pb.Value(int_value=i % 5),
                                "score": pb.Value(double_value=i / 3),
                                "ok": pb.Value(bool_value=bool(i % 2)),
                                "lang": pb.Value(keyword_value="en"),
                                "tags": pb.Value(keywords_value=pb.StringList(values=["a", "b"]))})


F = pb.Filter
filters = [
    F(cmp=pb.Comparison(field="tenant", value=pb.Value(int_value=2))),
    F(**{"and": pb.FilterList(items=[F(range=pb.Range(field="score", gte=pb.Bound(value=1),
                                                       lt=pb.Bound(value=5))),
                                     F(**{"not": F(has=pb.HasTags(field="tags", tags=["a"]))})]),
      }),
    F(**{"or": pb.FilterList(items=[F(**{"in": pb.In(field="lang", values=[
        pb.Value(keyword_value="en"), pb.Value(keyword_value="de")])}), F(exists="ok"),
        F(ids=pb.IdSet(ids=[pb.Id(num=3), pb.Id(str="s7")]))])}),
    F(text='tenant = 3 AND tags HAS ANY ("a", "c")'),
    F(has=pb.HasTags(field="tags", tags=["b", "c"], all=True)),
]

seeds = []


def add(name, msg):
    seeds.append(bytes([SEL[name]]) + msg.SerializeToString())


schema = pb.CollectionSchema(name="d", dimension=4, metric=pb.COSINE,
                             index_spec="flat/sq8", durability=pb.GROUP, group_commit_ms=5,
                             fields=[pb.FieldSchema(name="t", type=pb.INT64),
                                     pb.FieldSchema(name="k", type=pb.KEYWORD_LIST)])
add("CreateCollection", pb.CreateCollectionRequest(schema=schema))
add("CreateCollection", pb.CreateCollectionRequest(schema=pb.CollectionSchema(
    name="e", dimension=8, metric=pb.L2, index_spec="ivf:nlist=4/pq:m=2,bits=4/rerank=4")))
add("DeleteCollection", pb.DeleteCollectionRequest(collection="c"))
add("ListCollections", pb.ListCollectionsRequest())
add("DescribeCollection", pb.DescribeCollectionRequest(collection="c"))
add("Upsert", pb.UpsertRequest(collection="c", points=[point(i, i % 3 == 0) for i in range(4)]))
add("Delete", pb.DeleteRequest(collection="c", ids=[pb.Id(num=1), pb.Id(str="s3")]))
add("Get", pb.GetRequest(collection="c", ids=[pb.Id(num=1), pb.Id(str="s3"), pb.Id(num=99)],
                         with_vectors=True))
for i, f in enumerate(filters):
    add("Search", pb.SearchRequest(collection="c", vector=[1, 2, 3, 4], k=5 + i, filter=f,
                                   params=pb.SearchParams(ef=16 * i)))
add("Search", pb.SearchRequest(collection="c", vector=[1, 2, 3, 4], k=3))
add("SearchBatch", pb.SearchBatchRequest(collection="c", searches=[
    pb.SearchRequest(vector=[0, 1, 0, 1], k=2, filter=filters[1]),
    pb.SearchRequest(collection="c", vector=[1, 0, 1, 0], k=4)]))
add("Query", pb.QueryRequest(collection="c", k=4, filter=filters[2], prefetch=[
    pb.Prefetch(dense=pb.DenseQuery(vector=[1, 1, 1, 1], params=pb.SearchParams(ef=20)))]))
add("Query", pb.QueryRequest(collection="c", k=4, prefetch=[
    pb.Prefetch(dense=pb.DenseQuery(vector=[1, 1, 1, 1])),
    pb.Prefetch(text=pb.TextQuery(query="hello world"), limit=10, weight=0.5),
    pb.Prefetch(sparse=pb.SparseQuery(field="sp", vector=pb.SparseVector(indices=[1, 5],
                                                                         values=[0.5, 1])))],
    fusion=pb.Fusion(method=pb.Fusion.WEIGHTED_ZSCORE),
    diversity=pb.Diversity(method=pb.Diversity.MMR, pool=20),
    graph=pb.GraphExpansion(hops=1, restart=0.2, blend=0.3, link_types=["cites"])))
add("Snapshot", pb.SnapshotRequest(collection="nope", path="/nonexistent/snap"))
add("Rebuild", pb.RebuildRequest(collection="nope"))
stream = b""
for b in range(3):
    m = pb.UpsertRequest(collection="c", points=[point(10 * b + i) for i in range(3)])
    s = m.SerializeToString()
    stream += struct.pack("<H", len(s)) + s
seeds.append(bytes([SEL["UpsertStream"]]) + stream)
seeds.append(bytes([SEL["Health"]]) + b"\x0a\x10vqdb.v1.VectorDB")
seeds.append(bytes([SEL["Health"]]) + b"\x0a\x03foo")

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for s in seeds:
    with open(os.path.join(out, "seed_" + hashlib.sha1(s).hexdigest()[:16]), "wb") as f:
        f.write(s)
print("%d seeds in %s" % (len(seeds), out))
