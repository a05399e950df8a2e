#!/usr/bin/python3
"""What 1-hop graph expansion adds to a query, measured through gRPC on one server in one
run: the same dense queries (prefetch k, HNSW) with and without GraphExpansion(hops=1) over
the kNN overlay (the HNSW base layer's links), and with hops=2, interleaved query by query so
that load changes hit all settings alike, in an order rotated per query (the first setting
run for a query finds that part of the graph cold in cache). Server CPU comes from
/proc/PID/stat (10 ms ticks: only its average over many calls means anything). Prints one JSON
line per setting: mean and p50 client-side latency, server CPU per call, and the ratios to
the plain query.
usage: bench/graph_hop_latency.py DATA_DIR COLLECTION QUERIES.fvecs [NQ] [EF] [K]"""
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from rpcutil import Server, unary, vqdb_pb2 as pb  # noqa: E402

SVC = "/vqdb.v1.VectorDB/Query"


def fvecs(path, n):
    out = []
    with open(path, "rb") as f:
        while len(out) < n:
            h = f.read(4)
            if not h:
                break
            d = struct.unpack("<i", h)[0]
            out.append(list(struct.unpack("<%df" % d, f.read(4 * d))))
    return out


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def main():
    data, coll, qpath = sys.argv[1:4]
    nq = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    ef = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    k = int(sys.argv[6]) if len(sys.argv) > 6 else 10
    qs = fvecs(qpath, nq)
    srv = Server("--threads", "1", data=data)
    ch = srv.channel()
    settings = {"plain": None,
                "hops1_knn": pb.GraphExpansion(hops=1, link_types=["knn"]),
                "hops2_knn": pb.GraphExpansion(hops=2, link_types=["knn"])}

    def req(q, g):
        r = pb.QueryRequest(collection=coll, k=k, prefetch=[pb.Prefetch(
            dense=pb.DenseQuery(vector=q, params=pb.SearchParams(ef=ef)), limit=k)])
        if g is not None:
            r.graph.CopyFrom(g)
        return r

    unary(ch, SVC, req(qs[0], None), pb.QueryResponse, timeout=900)  # loads the collection
    for q in qs[:50]:  # warm-up
        for g in settings.values():
            unary(ch, SVC, req(q, g), pb.QueryResponse)
    lat = {s: [] for s in settings}
    cpu = {s: 0.0 for s in settings}
    expanded = {s: 0 for s in settings}
    names = list(settings)
    for i, q in enumerate(qs):
        # rotate the order: the first setting of a query meets its region of the graph
        # cold, the later ones warm
        for s in names[i % len(names):] + names[:i % len(names)]:
            g = settings[s]
            c0 = cpu_s(srv.proc.pid)
            t = time.perf_counter()
            r = unary(ch, SVC, req(q, g), pb.QueryResponse)
            lat[s].append(time.perf_counter() - t)
            cpu[s] += cpu_s(srv.proc.pid) - c0
            expanded[s] += len(r.results)
    ch.close()
    srv.stop()
    base = sum(lat["plain"]) / nq
    for s in settings:
        m = sum(lat[s]) / nq
        p50 = sorted(lat[s])[nq // 2]
        print(json.dumps({"setting": s, "nq": nq, "ef": ef, "k": k,
                          "mean_ms": round(m * 1e3, 4), "p50_ms": round(p50 * 1e3, 4),
                          "server_cpu_us_per_call": round(cpu[s] / nq * 1e6, 1),
                          "mean_results": expanded[s] / nq,
                          "mean_ratio_vs_plain": round(m / base, 3)}))


if __name__ == "__main__":
    main()
