"""vqdb example client (Python, Debian's python3-grpcio + python3-protobuf).

Creates a collection, streams 10,000 vectors with attributes through UpsertStream, runs a
filtered Search and a Query, and prints the results.

The Python modules are generated from proto/vqdb.proto with protoc when this script starts
(into a temporary directory), so nothing generated is committed:

    python3 examples/python/vqdb_example.py --target 127.0.0.1:50051 [--token-file F]

Start a server first:  vqdb serve --data /tmp/vqdb-example --listen 127.0.0.1:50051
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def load_modules(protoc):
    """protoc --python_out for proto/vqdb.proto; returns the vqdb_pb2 module."""
    out = tempfile.mkdtemp(prefix="vqdb-example-pb2-")
    subprocess.check_call([protoc, "--python_out=" + out, "-I" + REPO, "proto/vqdb.proto"])
    sys.path.insert(0, out)
    from proto import vqdb_pb2  # noqa: E402
    return vqdb_pb2


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="127.0.0.1:50051", help="HOST:PORT of `vqdb serve`")
    ap.add_argument("--token-file", help="bearer token file, if the server uses --token-file")
    ap.add_argument("--collection", default="example")
    ap.add_argument("--n", type=int, default=10000, help="vectors to stream")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--batch", type=int, default=500, help="points per stream message")
    ap.add_argument("--protoc", default=os.environ.get("PROTOC", "protoc"))
    args = ap.parse_args()

    pb = load_modules(args.protoc)
    import grpc  # Debian's python3-grpcio

    metadata = []
    if args.token_file:
        with open(args.token_file) as f:
            metadata.append(("authorization", "Bearer " + f.read().strip()))

    channel = grpc.insecure_channel(args.target)
    svc = "/vqdb.v1.VectorDB/"

    def unary(method, req, resp_cls):
        fn = channel.unary_unary(svc + method, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=resp_cls.FromString)
        return fn(req, metadata=metadata, timeout=60)

    # 1. A collection: 64-d cosine vectors, three typed attribute fields.
    schema = pb.CollectionSchema(
        name=args.collection, dimension=args.dim, metric=pb.COSINE,
        index_spec="hnsw:m=16,efc=100/sq8/rerank=4",
        fields=[pb.FieldSchema(name="year", type=pb.INT64),
                pb.FieldSchema(name="lang", type=pb.KEYWORD),
                pb.FieldSchema(name="tags", type=pb.KEYWORD_LIST)])
    info = unary("CreateCollection", pb.CreateCollectionRequest(schema=schema),
                 pb.CreateCollectionResponse).info
    print("created collection %r: dimension %d, index %s" %
          (info.schema.name, info.schema.dimension, info.schema.index_spec))

    # 2. Stream the points: one UpsertRequest per batch, one summary reply at the end.
    rng = random.Random(7)
    langs, tags = ["en", "de", "fr"], ["news", "blog", "paper", "code"]

    def point(i):
        return pb.Point(
            id=pb.Id(num=i), vector=[rng.gauss(0, 1) for _ in range(args.dim)],
            attributes={"year": pb.Value(int_value=2000 + i % 25),
                        "lang": pb.Value(keyword_value=langs[i % 3]),
                        "tags": pb.Value(keywords_value=pb.StringList(
                            values=[tags[i % 4], tags[(i // 4) % 4]]))})

    def batches():
        for start in range(0, args.n, args.batch):
            yield pb.UpsertRequest(collection=args.collection,
                                   points=[point(i) for i in range(start,
                                                                   min(args.n, start + args.batch))])

    stream = channel.stream_unary(svc + "UpsertStream",
                                  request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=pb.UpsertStreamResponse.FromString)
    summary = stream(batches(), metadata=metadata, timeout=600)
    print("streamed %d points in %d batches" % (summary.upserted, summary.batches))

    # 3. A filtered search: year >= 2020 AND lang = "de" AND tags HAS ANY ("paper").
    query = [rng.gauss(0, 1) for _ in range(args.dim)]
    flt = pb.Filter(**{"and": pb.FilterList(items=[
        pb.Filter(range=pb.Range(field="year", gte=pb.Bound(value=2020))),
        pb.Filter(cmp=pb.Comparison(field="lang", value=pb.Value(keyword_value="de"))),
        pb.Filter(has=pb.HasTags(field="tags", tags=["paper"])),
    ])})
    res = unary("Search", pb.SearchRequest(collection=args.collection, vector=query, k=5,
                                           filter=flt, params=pb.SearchParams(ef=64)),
                pb.SearchResponse)
    print("search (year >= 2020 AND lang = de AND tags HAS ANY paper), plan: %s" % res.plan)
    ids = [r.id.num for r in res.results]
    got = unary("Get", pb.GetRequest(collection=args.collection,
                                     ids=[pb.Id(num=i) for i in ids]), pb.GetResponse)
    attrs = {p.id.num: p.attributes for p in got.points}
    for r in res.results:
        a = attrs[r.id.num]
        print("  id=%-6d score=%.4f year=%d lang=%s tags=%s" % (
            r.id.num, r.score, a["year"].int_value, a["lang"].keyword_value,
            ",".join(a["tags"].keywords_value.values)))

    # 4. The same filter in its text form through Query.
    res = unary("Query", pb.QueryRequest(
        collection=args.collection, k=5,
        prefetch=[pb.Prefetch(dense=pb.DenseQuery(vector=query, params=pb.SearchParams(ef=64)))],
        filter=pb.Filter(text='year >= 2020 AND lang = "de" AND tags HAS ANY ("paper")')),
        pb.QueryResponse)
    print("query (text filter), plan: %s" % res.plan)
    for r in res.results:
        print("  id=%-6d score=%.4f" % (r.id.num, r.score))
    channel.close()


if __name__ == "__main__":
    main()
