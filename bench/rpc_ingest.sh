#!/usr/bin/env bash
# rpc_ingest.sh — streaming ingest through VectorDB/UpsertStream (bench/rpc_ingest.py, SYNC
# durability: each batch is fsynced before the next is read), into a fresh data directory
# that bench/rpc_overhead.sh and bench/rpc_soak.sh then reuse. Prints the client's JSON line
# plus the server's CPU seconds and RSS.
# usage: bench/rpc_ingest.sh DATA_DIR BASE.fvecs N [BATCH] [INDEX_SPEC]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VQDB=${VQDB:-$here/../build/vqdb}
source "$here/rpc_lib.sh"
data=$1 base=$2 n=$3 batch=${4:-1000} spec=${5:-flat/sq8/rerank=4}
[ -e "$data" ] && { echo "$data exists: give a fresh directory" >&2; exit 2; }
mkdir -p "$data"
start_server "$data" 2 "$data.serve.log"
c0=$(cpu_s "$SRV_PID")
line=$(/usr/bin/python3 "$here/rpc_ingest.py" "$SRV_ADDR" syn "$base" "$n" "$batch" "$spec")
c1=$(cpu_s "$SRV_PID")
rss=$(rss_mb "$SRV_PID")
stop_server
echo "${line%\}}, \"server_cpu_s\": $(echo "$c1 - $c0" | bc), \"server_rss_mb\": $rss}"
