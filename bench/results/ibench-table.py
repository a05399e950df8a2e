#!/usr/bin/env python3
"""Tables for bench/results/ibench.md from a `vqdb bench --json` file: per target and thread
count, QPS at recall 0.90/0.95 (interpolated like vqdb bench's summary: log QPS linear in
recall; at the lowest recall both curves reach when a curve starts above the target), the
same for the median-latency rate 1000/p50_ms (robust to the scheduler stalls of a shared
machine, which inflate mean-based QPS), bytes per vector and build time.
usage: ibench-table.py FILE.jsonl [BASELINE_PREFIX ...]"""
import json, math, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
bases = sys.argv[2:] or ["hnswlib:", "faiss:"]
ok = [r for r in rows if "error" not in r]
for r in rows:
    if "error" in r:
        print(f"- `{r['index']}` failed: {r['error']}")

def curve(idx, th, key):
    pts = sorted((r["recall_at_k"], r["qps"] if key == "qps" else 1000.0 / r["p50_ms"])
                 for r in ok if r["index"] == idx and r["threads"] == th)
    return pts

def at(pts, rec):
    if not pts or pts[-1][0] < rec or pts[0][0] > rec:
        return None
    exact = [q for r, q in pts if r == rec]
    if exact:  # the fastest operating point at exactly this recall (as vqdb bench does)
        return max(exact)
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= rec <= r1:
            if r1 == r0:
                return max(q0, q1)
            t = (rec - r0) / (r1 - r0)
            return math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
    return pts[0][1]

names = list(dict.fromkeys(r["index"] for r in ok))
threads = sorted(set(r["threads"] for r in ok))
print("| index | threads | recall range | bytes/vec | rerank bytes/vec | build s |")
print("|---|---|---|---|---|---|")
for n in names:
    for th in threads:
        pts = curve(n, th, "qps")
        if not pts:
            continue
        r = next(r for r in ok if r["index"] == n)
        print(f"| `{n}` | {th} | {pts[0][0]:.4f}–{pts[-1][0]:.4f} | {r['bytes_per_vector']:.0f} | "
              f"{r['rerank_bytes_per_vector']:.0f} | {r['build_s']:.1f} |")
print()
print("| index | vs baseline | threads | at recall | QPS ratio (mean) | rate ratio (1/p50) | QPS index / baseline |")
print("|---|---|---|---|---|---|---|")
for n in names:
    if any(n.startswith(b) for b in bases):
        continue
    for b in names:
        if not any(b.startswith(p) for p in bases):
            continue
        for th in threads:
            ca, cb = curve(n, th, "qps"), curve(b, th, "qps")
            pa, pb = curve(n, th, "p50"), curve(b, th, "p50")
            if not ca or not cb:
                continue
            seen = set()
            for target in (0.90, 0.95):
                rec = max(target, ca[0][0], cb[0][0])
                if rec in seen:
                    continue
                seen.add(rec)
                va, vb, ra, rb = at(ca, rec), at(cb, rec), at(pa, rec), at(pb, rec)
                if None in (va, vb, ra, rb):
                    print(f"| `{n}` | `{b}` | {th} | {target:.2f} | not reached by both | | |")
                    continue
                note = "" if rec == target else " (lowest common)"
                print(f"| `{n}` | `{b}` | {th} | {rec:.4f}{note} | {va / vb:.2f}x | {ra / rb:.2f}x | "
                      f"{va:.0f} / {vb:.0f} |")
