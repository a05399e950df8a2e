#!/usr/bin/env bash
# rpc_soak.sh — 64 concurrent clients for SECONDS mixing Search and Upsert (UPSERT_RATIO of
# the calls write a query vector under a fresh id; SYNC durability), then every acknowledged
# upsert is read back with Get and compared (loadgen --verify). The server's RSS is sampled
# every 5 s; the first sample after a warm-up run is "start".
# usage: bench/rpc_soak.sh DATA_DIR QUERIES EF [SECONDS] [UPSERT_RATIO] [SERVER_THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VQDB=${VQDB:-$here/../build/vqdb}
source "$here/rpc_lib.sh"
data=$1 queries=$2 ef=$3 secs=${4:-60} ratio=${5:-0.2} threads=${6:-4}
start_server "$data" "$threads" "$data.serve.log"
"$VQDB" loadgen --target "$SRV_ADDR" --collection syn --queries "$queries" --concurrency 64 \
    --duration 5 --ef "$ef" --upsert-ratio "$ratio" --id-base 3000000000 >/dev/null # warm-up
rss0=$(rss_mb "$SRV_PID")
samples="$rss0"
(
    while sleep 5; do rss_mb "$SRV_PID" || break; echo; done
) >"$data.rss" &
sampler=$!
line=$("$VQDB" loadgen --target "$SRV_ADDR" --collection syn --queries "$queries" \
    --concurrency 64 --duration "$secs" --ef "$ef" --upsert-ratio "$ratio" --verify \
    --id-base 4000000000) || true
rss1=$(rss_mb "$SRV_PID")
kill "$sampler" 2>/dev/null || true
echo "$line"
echo "{\"rss_start_mb\":$rss0,\"rss_end_mb\":$rss1,\"rss_samples_mb\":[$(tr '\n' ',' <"$data.rss" | sed 's/,*$//')]}"
stop_server
