#!/usr/bin/env bash
# The acceptance runs recorded in bench/results/ibench.md, in order. Each `vqdb bench` is one
# invocation: vqdb indexes and their baselines on the same data, single thread, then 2 threads.
# usage: bench/results/ibench-runs.sh [mnist-hnsw|mnist-ivf|glove-hnsw|glove-full-hnsw|glove-ivf|synth|synth1m-build|synth1m-hnsw] ...
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
V=./build/vqdb
R=bench/results
M=/work/shared/datasets/mnist10k
G=bench/datasets/cache/glove100
S=bench/datasets/cache/synth
# A run whose targets partly fail still writes its other rows; keep going and say so.
run() { echo "+ $*" >&2; "$@" || echo "(exit status $? from: $1 $2)" >&2; }
for what in "$@"; do
  case "$what" in
  mnist-hnsw)
    run $V bench --base $M/mnist10k_base.fvecs --query $M/mnist10k_query.fvecs \
      --gt $M/mnist10k_groundtruth.ivecs --dataset mnist10k \
      --index hnsw:m=16,efc=200/sq8/rerank=2 --index hnsw:m=16,efc=200/tq:bits=4/rerank=4 \
      --baseline hnswlib:m=16,efc=200 --baseline faiss:HNSW32,Flat \
      --sweep ef=10,16,24,32,48,64,128 -k 10 --threads 2 --repeat 3 --interleave \
      --json $R/ibench_mnist_hnsw.jsonl --plot $R/ibench_mnist_hnsw.png ;;
  mnist-ivf)
    run $V bench --base $M/mnist10k_base.fvecs --query $M/mnist10k_query.fvecs \
      --gt $M/mnist10k_groundtruth.ivecs --dataset mnist10k \
      --index ivf:nlist=128/pq:m=56,bits=4/rerank=4 --index ivf:nlist=128/tq:bits=4/rerank=4 \
      --baseline 'faiss:IVF128,PQ56x4fs,RFlat@k_factor_rf=4' --baseline faiss:IVF128,PQ56np \
      --sweep nprobe=1,2,4,8,16,32 -k 10 --threads 2 \
      --json $R/ibench_mnist_ivf.jsonl --plot $R/ibench_mnist_ivf.png ;;
  glove-hnsw)
    run $V bench --base $G/glove100_base.fvecs --query $G/glove100_query.fvecs \
      --max-base 100000 --max-query 2000 --metric cos --dataset glove100-100k \
      --index hnsw:m=16,efc=200/sq8/rerank=2 --index hnsw:m=16,efc=200/tq:bits=4/rerank=4 \
      --baseline hnswlib:m=16,efc=200 --baseline faiss:HNSW32,Flat \
      --sweep ef=10,16,24,32,48,64,128,256 -k 10 --threads 2 --repeat 3 --interleave \
      --json $R/ibench_glove_hnsw.jsonl --plot $R/ibench_glove_hnsw.png ;;
  glove-full-hnsw)
    # The whole GloVe-100 set (341,479 words), cosine, ground truth from fetch-glove.
    run $V bench --base $G/glove100_base.fvecs --query $G/glove100_query.fvecs \
      --gt $G/glove100_gt.ivecs --max-query 2000 --metric cos --dataset glove100 \
      --index hnsw:m=16,efc=200/sq8/rerank=2 --baseline hnswlib:m=16,efc=200 \
      --sweep ef=16,24,32,48,64,96,128,192 -k 10 --threads 2 --repeat 3 --interleave \
      --json $R/ibench_glove_full_hnsw.jsonl --plot $R/ibench_glove_full_hnsw.png ;;
  glove-ivf)
    run $V bench --base $G/glove100_base.fvecs --query $G/glove100_query.fvecs \
      --max-base 100000 --max-query 2000 --metric cos --dataset glove100-100k \
      --index ivf:nlist=1024/pq:m=50,bits=4/rerank=4 --index ivf:nlist=1024/tq:bits=4/rerank=4 \
      --index flat/rabitq:bits=1/rerank=10 \
      --baseline 'faiss:IVF1024,PQ50x4fs,RFlat@k_factor_rf=4' --baseline faiss:IVF1024,PQ50np \
      --sweep nprobe=1,2,4,8,16,32,64 -k 10 --threads 2 \
      --json $R/ibench_glove_ivf.jsonl --plot $R/ibench_glove_ivf.png ;;
  synth)
    mkdir -p $S
    [ -f $S/synth_base.fvecs ] || run $V gen --n 100000 --d 128 --normalize --seed 1 --out $S/synth_base.fvecs
    [ -f $S/synth_query.fvecs ] || run $V gen --n 1000 --d 128 --normalize --seed 1 --queries --out $S/synth_query.fvecs
    run $V bench --base $S/synth_base.fvecs --query $S/synth_query.fvecs --dataset synth100k-128-norm \
      --index hnsw:m=16,efc=200/sq8/rerank=2 --index ivf:nlist=1024/pq:m=32,bits=4/rerank=4 \
      --baseline hnswlib:m=16,efc=200 --baseline faiss:HNSW32,Flat \
      --baseline 'faiss:IVF1024,PQ32x4fs,RFlat@k_factor_rf=4' --baseline faiss:IVF1024,PQ32np \
      --sweep ef=10,16,32,64,128 --sweep nprobe=1,4,16,64 -k 10 --threads 2 \
      --json $R/ibench_synth.jsonl --plot $R/ibench_synth.png ;;
  synth1m-hnsw)
    # /work/data/syn1m_*: `vqdb gen --n 1000000 --d 128 --normalize --seed 1` (+ --queries
    # --n 10000) and `vqdb gt -k 100 --threads 2`; see the section "Synthetic 1M x 128".
    D=${SYN1M_DIR:-/work/data}
    run $V bench --base $D/syn1m_base.fvecs --query $D/syn1m_query.fvecs --gt $D/syn1m_gt.ivecs \
      --max-query 2000 --dataset synth1m-128-norm-seed1 \
      --index hnsw:m=16,efc=200/sq8/rerank=2 --baseline hnswlib:m=16,efc=200 \
      --sweep ef=32,64,128,192,256,384 -k 10 --threads 2 --repeat 3 --interleave \
      --json $R/ibench_synth1m_hnsw.jsonl --plot $R/ibench_synth1m_hnsw.png ;;
  synth1m-build)
    # Build time of TurboQuant/RaBitQ flat and IVF indexes vs FAISS IVF1024,PQ32 (8-bit PQ,
    # index_factory's defaults), same data (synthetic 1M x 128), same invocation.
    D=${SYN1M_DIR:-/work/data}
    run $V bench --base $D/syn1m_base.fvecs --query $D/syn1m_query.fvecs --gt $D/syn1m_gt.ivecs \
      --max-query 1000 --dataset synth1m-128-norm-seed1 \
      --index flat/tq:bits=4/rerank=4 --index flat/rabitq:bits=1/rerank=10 \
      --index ivf:nlist=1024/tq:bits=4/rerank=4 --index ivf:nlist=1024/rabitq:bits=1/rerank=10 \
      --baseline faiss:IVF1024,PQ32 \
      --sweep nprobe=16,64 -k 10 --threads 2 \
      --json $R/ibench_synth1m_build.jsonl ;;
  *) echo "unknown run $what" >&2; exit 2 ;;
  esac
done
