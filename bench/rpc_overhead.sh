#!/usr/bin/env bash
# rpc_overhead.sh — RPC overhead of Search, in one run: (1) in-process CPU per search
# (bench/rpc/rpc_inproc.c, read-only open of the data directory, one thread) for each ef of
# a list, choosing the smallest ef with recall@10 >= 0.95; (2) a server on the same data, a
# warm-up, then `vqdb loadgen` at concurrency 1 while the server's CPU time is read from
# /proc/PID/stat before and after: server CPU per Search / in-process CPU per search;
# (3) loadgen QPS and p50/p99/p99.9 at concurrency 1, 8, 32, 64 (the client shares the
# machine, so QPS is bounded by both).
# usage: bench/rpc_overhead.sh DATA_DIR QUERIES GT [NQ] [EF_LIST] [SECONDS] [SERVER_THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VQDB=${VQDB:-$here/../build/vqdb}
INPROC=${INPROC:-$here/../build/rpc_inproc}
source "$here/rpc_lib.sh"
data=$1 queries=$2 gt=$3 nq=${4:-1000} efs=${5:-16,24,32,48,64,96,128} secs=${6:-20}
threads=${7:-2}
echo "# in-process, $nq queries, one thread"
ef=""
inproc_us=""
while read -r line; do
    echo "$line"
    r=$(json_field "$line" recall)
    if [ -z "$ef" ] && awk -v r="$r" 'BEGIN {exit !(r >= 0.95)}'; then
        ef=$(json_field "$line" ef)
        inproc_us=$(json_field "$line" cpu_us_per_search)
    fi
done < <("$INPROC" "$data" syn "$queries" "$gt" 10 "$efs" "$nq")
[ -n "$ef" ] || { echo "no ef in $efs reaches recall 0.95" >&2; exit 1; }
echo "# chosen ef=$ef (smallest with recall@10 >= 0.95): in-process ${inproc_us} us CPU/search"
start_server "$data" "$threads" "$data.serve.log"
echo "# server pid $SRV_PID on $SRV_ADDR, --threads $threads, RSS $(rss_mb "$SRV_PID") MB"
"$VQDB" loadgen --target "$SRV_ADDR" --collection syn --queries "$queries" --concurrency 1 \
    --duration 5 --ef "$ef" >/dev/null # warm-up (first open loads the collection)
c0=$(cpu_s "$SRV_PID")
line=$("$VQDB" loadgen --target "$SRV_ADDR" --collection syn --queries "$queries" \
    --concurrency 1 --duration "$secs" --ef "$ef")
c1=$(cpu_s "$SRV_PID")
echo "$line"
calls=$(json_field "$line" searches)
server_us=$(echo "scale=2; 1000000 * ($c1 - $c0) / $calls" | bc)
ratio=$(echo "scale=3; $server_us / $inproc_us" | bc)
echo "{\"ef\":$ef,\"server_cpu_s\":$(echo "$c1 - $c0" | bc),\"calls\":$calls,\"server_cpu_us_per_call\":$server_us,\"inproc_cpu_us_per_search\":$inproc_us,\"ratio\":$ratio}"
echo "# loadgen sweep, ${secs}s per level"
"$VQDB" loadgen --target "$SRV_ADDR" --collection syn --queries "$queries" \
    --concurrency 1,8,32,64 --duration "$secs" --ef "$ef"
stop_server
