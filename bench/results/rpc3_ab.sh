#!/usr/bin/env bash
# (rpc3 session, kept for the record of bench/results/rpc3.md; expects /tmp/rpc3/d50k_N copies
# of the 50k data directory, one per server binary, and /tmp/rpc2/q1k.fvecs)
# A/B of server binaries at 50k: alternate 5 s c=1 windows, print server CPU us/call.
# usage: ab.sh SECS ROUNDS BIN_A [BIN_B ...]   (env per bin via "ENV=1:bin")
set -euo pipefail
cd /work/wt-rpc3
source bench/rpc_lib.sh
secs=$1 rounds=$2; shift 2
head -c $((1000*516)) /tmp/rpc2/q1k.fvecs > /tmp/rpc3/q1k.fvecs
declare -a pids addrs
i=0
for spec in "$@"; do
  envs=""; bin=$spec
  if [[ $spec == *:* ]]; then envs=${spec%%:*}; bin=${spec#*:}; fi
  VQDB=$bin
  env $envs $bin serve --data /tmp/rpc3/d50k_$i --listen 127.0.0.1:0 --threads 1 >/tmp/rpc3/ab$i.log 2>/tmp/rpc3/ab$i.err &
  pids[$i]=$!
  for _ in $(seq 100); do port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' /tmp/rpc3/ab$i.log | head -1); [ -n "$port" ] && break; sleep 0.1; done
  addrs[$i]=127.0.0.1:$port
  i=$((i+1))
done
LG=/work/wt-rpc3/build/vqdb
for j in $(seq 0 $((i-1))); do $LG loadgen --target ${addrs[$j]} --collection syn --queries /tmp/rpc3/q1k.fvecs --concurrency 1 --duration 2 --timeout 100 --ef 32 >/dev/null; done
for r in $(seq $rounds); do
  for j in $(seq 0 $((i-1))); do
    c0=$(cpu_s ${pids[$j]})
    line=$($LG loadgen --target ${addrs[$j]} --collection syn --queries /tmp/rpc3/q1k.fvecs --concurrency 1 --duration $secs --ef 32)
    c1=$(cpu_s ${pids[$j]})
    calls=$(json_field "$line" searches)
    echo "round $r bin $j (${@:$((j+1)):1}): $(echo "scale=2; 1000000 * ($c1 - $c0) / $calls" | bc) us/call, qps $(json_field "$line" qps) p50 $(json_field "$line" p50_ms)"
  done
done
for j in $(seq 0 $((i-1))); do kill -TERM ${pids[$j]}; wait ${pids[$j]} || true; done
