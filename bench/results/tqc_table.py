import json,sys,re,statistics as st
rows=[json.loads(l) for f in sys.argv[1:] for l in open(f) if l.startswith('{')]
groups={}
for r in rows:
    key=re.sub(r':seed=\d+,?',':',re.sub(r',seed=\d+','',r['spec'])).rstrip(':')
    groups.setdefault(key,[]).append(r)
print("| spec (seeds) | n seeds | B/vec | ip_rel_bias mean | ip_rel_bias std | max abs | ip_rel_err mean | ip_rel_err std | mse_rel mean |")
print("|---|---|---|---|---|---|---|---|---|")
for k,g in groups.items():
    b=[r['ip_rel_bias'] for r in g]; e=[r['ip_rel_err'] for r in g]; m=[r['mse_rel'] for r in g]
    sd=lambda v: st.stdev(v) if len(v)>1 else float('nan')
    print(f"| `{k}` | {len(g)} | {g[0]['bytes_per_vector']} | {st.mean(b):+.5f} | {sd(b):.5f} | {max(abs(x) for x in b):.5f} | {st.mean(e):.5f} | {sd(e):.5f} | {st.mean(m):.4f} |")
