#!/usr/bin/env python3
"""Writes bench/RESULTS.md: bench/results/summary.md (the table of every acceptance
criterion, kept by hand), then each workstream's results file in issue order, its headings
demoted one level under an "## Issue N — ..." heading. Files not present are skipped.
usage: python3 bench/results/assemble.py"""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
SECTIONS = [
    ("Issue 2 — quant-bench acceptance run (vqdb quant-bench, gen, gt)", "qbench.md", ""),
    ("Issue 2 — PQ and fast-scan kernels", "pq.md", ""),
    ("Issue 2 — TurboQuant, TurboQuant-prod, QJL", "tq.md", ""),
    ("Issue 2 — RaBitQ, binary, PCA", "rabitq.md", ""),
    ("Issue 2 — tq-ip centering (`center=1`, now tq-ip's default)", "tqc.md",
     "The default-spec check, same binary as the commit that made it the default:\n"
     "`vqdb quant-bench --base mnist10k_base.fvecs --queries mnist10k_query.fvecs --quant "
     "tq-ip:bits=3\n--quant tq-ip:bits=3,center=0 --repeats 1` → tq-ip:bits=3 ip_rel_bias "
     "+0.00000 (rel. SE 0.00019),\nip_rel_err 0.0224; center=0: −0.01096 (0.00024), 0.0299."),
    ("Issue 3 — session 3: HNSW vs hnswlib, interleaved runs (synthetic 1M, full GloVe, MNIST)",
     "ibench3.md", ""),
    ("Issue 3 — session 2: HNSW, IVF and build re-measured (synthetic 1M, GloVe, MNIST)",
     "ibench2.md", ""),
    ("Issue 3 — index/ (flat, IVF, HNSW) unit-level measurements", "index.md", ""),
    ("Issue 3 — vqdb bench against hnswlib and FAISS (session 1)", "ibench.md", ""),
    ("Issue 4 — engine: filtered search, ingest, crash safety", "engine.md", ""),
    ("Issue 4 — session 2: rebuild, background compaction, 1M filtered search", "engine2.md", ""),
    ("Issue 5 — session 6: gRPC's share of the overhead ratio, against a raw socket and the "
     "kernel floor", "rpc5.md", ""),
    ("Issue 5 — sessions 4–5: the overhead ratio by client placement and transport", "rpc4.md",
     ""),
    ("Issue 5 — session 3: per-call RPC cost and the overhead ratio", "rpc3.md", ""),
    ("Issue 5 — gRPC service: overhead, soak, streaming ingest, fuzzing", "rpc.md", ""),
    ("Issue 6 — keyword, sparse and fused retrieval", "hybrid.md", ""),
    ("Issue 6 — diversity and graph-augmented retrieval", "graph.md", ""),
    ("Issue 7 — session 3: weights at equal bits, pre-RoPE keys", "kv3.md", ""),
    ("Issue 7 — KV cache and weight compression", "kv.md", ""),
]


def demote(text):
    return re.sub(r"^(#{1,5}) ", lambda m: "#" + m.group(1) + " ", text, flags=re.M)


def main():
    out = [open(os.path.join(HERE, "summary.md")).read().rstrip() + "\n"]
    for title, name, note in SECTIONS:
        path = os.path.join(HERE, name)
        if not os.path.exists(path):
            continue
        head = f"\n## {title}\n\n(from bench/results/{name})\n"
        if note:
            head += "\n" + note + "\n"
        out.append(head + "\n" + demote(open(path).read().strip()) + "\n")
    with open(os.path.join(HERE, "..", "RESULTS.md"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
