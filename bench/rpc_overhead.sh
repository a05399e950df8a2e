#!/usr/bin/env bash
# rpc_overhead.sh — RPC overhead of Search, in one run.
# (1) In-process: bench/rpc/rpc_inproc.c opens the data directory read-only and measures, on
#     one thread, CPU per vqe_search for each ef of a list over the first NQ queries; the
#     smallest ef with recall@10 >= 0.95 is chosen. A second rpc_inproc, which searches only
#     with that ef, stays open for the rounds.
# (2) A server (`vqdb serve`) on the same data, warmed up (collection loaded, 5 s of calls).
# (3) ROUNDS rounds, alternating on the same queries (the first NQ of QUERIES, also what the
#     loadgen draws from) and the same ef: an in-process window of SECONDS (CPU per search,
#     CLOCK_PROCESS_CPUTIME_ID) then a server window of SECONDS (`vqdb loadgen` at
#     concurrency 1, or one window per level of ROUND_CONCURRENCY_LIST; the server process's
#     utime+stime, all threads, from /proc/PID/stat before and after, divided by the Search
#     calls). Alternating makes both halves of each ratio see the same state of this shared
#     machine; every round is printed, then the median ratio of each concurrency.
# (4) loadgen QPS and p50/p99/p99.9 at concurrency 1, 8, 32, 64 (the client shares the
#     machine, so QPS is bounded by both), each with the server's CPU per call.
# With FLOOR=PATH (bench/rpc/sock_floor.c, `cmake --build build --target sock_floor`), each
# round ends with a window of that program in the same placement: the same round trip with
# no RPC stack, its work per call set to the round's in-process CPU per search. Its ratio is
# the part of the server's ratio that this machine's kernel and scheduler impose on any
# server; it is printed with the rounds and its median at the end.
# With RAW=1, each round also has a raw-socket window: the in-process side's own process serves
# the same searches to a forked client over one loopback connection with no RPC stack
# (bench/rpc/raw_serve.c; loopback TCP even with SERVER_LISTEN), at the server's placement
# (INPROC_CPUS) and the loadgen's (CLIENT_CPUS; a spinning client with LOADGEN_SPIN). Its ratio to the round's in-process
# figure is what an ideal RPC layer would score here; the gRPC ratio above it is gRPC's share.
# Pinning (optional, taskset CPU lists): SERVER_CPUS, CLIENT_CPUS (loadgen) and INPROC_CPUS
# (rpc_inproc). Unset: the scheduler places them. SERVER_LISTEN (e.g. unix:/tmp/vqdb.sock):
# serve on that address instead of a free loopback TCP port. LOADGEN_BATCH=N (default 1): the
# server windows send SearchBatch calls of N queries, and the server's CPU is divided by the
# queries ("server_cpu_us_per_search"): what a pipeline that batches its queries pays.
# LOADGEN_SPIN=1: the rounds' loadgen polls for replies instead of sleeping (`loadgen --spin`;
# use it with concurrencies up to the client's CPUs, and the final sweep does not), so the
# server's replies wake no sleeping client: on this VM a cross-CPU wake-up is a hypercall
# that the replying server pays for (bench/rpc/sock_floor.c measures it), and a client on
# another machine would not cost the server that.
# usage: bench/rpc_overhead.sh DATA_DIR QUERIES GT [NQ] [EF_LIST] [SECONDS] [SERVER_THREADS_LIST]
#        [ROUNDS] [ROUND_CONCURRENCY_LIST]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VQDB=${VQDB:-$here/../build/vqdb}
INPROC=${INPROC:-$here/../build/rpc_inproc}
# rpc_inproc is not in the default build target: a stale one would time old search code.
if [ "$INPROC" -ot "$VQDB" ]; then
    echo "$INPROC is older than $VQDB: cmake --build build --target rpc_inproc" >&2
    exit 2
fi
source "$here/rpc_lib.sh"
data=$1 queries=$2 gt=$3 nq=${4:-1000} efs=${5:-16,24,32,48,64,96,128} secs=${6:-20}
threads=${7:-1} # a list: one server run per thread count
rounds=${8:-3}
conc=${9:-1} # the rounds' server windows: one per concurrency of this list
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The first NQ queries, for the loadgen (fvecs rows are 4 + 4*d bytes).
d=$(od -An -t u4 -N 4 "$queries" | tr -d ' ')
head -c $((nq * (4 + 4 * d))) "$queries" >"$tmp/q.fvecs"
echo "# in-process sweep, $nq queries (d=$d), one thread"
ef=""
inproc_us=""
while read -r line; do
    echo "$line"
    r=$(json_field "$line" recall)
    if [ -z "$ef" ] && awk -v r="$r" 'BEGIN {exit !(r >= 0.95)}'; then
        ef=$(json_field "$line" ef)
        inproc_us=$(json_field "$line" cpu_us_per_search)
    fi
done < <(pin "${INPROC_CPUS:-}" "$INPROC" "$data" syn "$tmp/q.fvecs" "$gt" 10 "$efs" "$nq")
[ -n "$ef" ] || { echo "no ef in $efs reaches recall 0.95" >&2; exit 1; }
echo "# pinning: server '${SERVER_CPUS:-}' client '${CLIENT_CPUS:-}' in-process '${INPROC_CPUS:-}'; listen '${SERVER_LISTEN:-127.0.0.1:0}'; loadgen spin '${LOADGEN_SPIN:-}'"
echo "# chosen ef=$ef (smallest with recall@10 >= 0.95): in-process ${inproc_us} us CPU/search"
# The rounds' in-process side: a fresh process that only ever searches with the chosen ef
# (a pooled index searcher keeps the widest beam it has run, so a process that also ran the
# larger ef of the sweep would search wider than asked; see bench/results/rpc3.md).
coproc INP { pin "${INPROC_CPUS:-}" "$INPROC" "$data" syn "$tmp/q.fvecs" "$gt" 10 "$ef" "$nq" rounds; }
read -r line <&"${INP[0]}"
echo "# rounds process (warm-up pass): $line"
batch=${LOADGEN_BATCH:-1}
per=$([ "$batch" -gt 1 ] && echo search || echo call) # what the server's CPU is divided by
spin=${LOADGEN_SPIN:+--spin}
lg() { pin "${CLIENT_CPUS:-}" "$VQDB" loadgen --target "$SRV_ADDR" --collection syn --queries "$tmp/q.fvecs" --ef "$ef" --batch "$batch" "$@"; }
# floor_window US: sock_floor in this run's placement, with US of register-only work per call
# (the round's in-process CPU per search); sets fline (its JSON) and fratio
floor_window() {
    local sc=-1 cc=-1 fs=""
    [[ ${SERVER_CPUS:-} =~ ^[0-9]+$ ]] && sc=$SERVER_CPUS
    [[ ${CLIENT_CPUS:-} =~ ^[0-9]+$ ]] && cc=$CLIENT_CPUS
    [ -n "$spin" ] && fs=--client-spin
    fline=$("$FLOOR" --seconds "$secs" --work-us "$1" --server-cpu "$sc" --client-cpu "$cc" $fs ${SERVER_LISTEN:+--unix})
    fratio=$(json_field "$fline" ratio)
}
# median_of "X Y Z...": the median of a space-separated list of numbers
median_of() { echo "$1" | tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# server_window C [LOADGEN_OPTION...]: one loadgen run of SECONDS at concurrency C; sets line (its JSON), searches,
# errors, flt, server_s and server_us (the server's CPU seconds, and microseconds per search
# call, or per query with LOADGEN_BATCH)
server_window() {
    local c0 c1 f0 f1
    c0=$(cpu_s "$SRV_PID")
    f0=$(faults "$SRV_PID")
    line=$(lg --concurrency "$1" --duration "$secs" "${@:2}")
    c1=$(cpu_s "$SRV_PID")
    f1=$(faults "$SRV_PID")
    flt=$(echo "$f0 $f1" | awk '{printf "\"minflt\":%d,\"majflt\":%d", $3 - $1, $4 - $2}')
    searches=$(json_field "$line" searches)
    errors=$(json_field "$line" errors)
    server_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')
    server_us=$(awk -v s="$server_s" -v n="$searches" 'BEGIN {printf "%.2f", 1e6 * s / n}')
}
for threads in ${threads//,/ }; do
    start_server "$data" "$threads" "$data.serve.log"
    echo "# server pid $SRV_PID on $SRV_ADDR, --threads $threads, RSS $(rss_mb "$SRV_PID") MB"
    # Warm-up: the first call opens (loads) the collection, which can take longer than
    # loadgen's default 10 s call timeout; wait for it, then 5 s of searches.
    lg --concurrency 1 --duration 1 --timeout 900 >/dev/null
    lg --concurrency 1 --duration 5 >/dev/null
    echo "# $rounds rounds: in-process ${secs}s window, then a server ${secs}s window at each concurrency of '$conc'"
    declare -A ratios=()
    for r in $(seq "$rounds"); do
        echo "$ef $secs" >&"${INP[1]}"
        read -r iline <&"${INP[0]}"
        echo "$iline"
        in_us=$(json_field "$iline" cpu_us_per_search)
        for c in ${conc//,/ }; do
            server_window "$c" $spin
            ratio=$(awk -v a="$server_us" -v b="$in_us" 'BEGIN {printf "%.3f", a / b}')
            ratios[$c]="${ratios[$c]:-} $ratio"
            echo "{\"round\":$r,\"concurrency\":$c,$flt,\"server_threads\":$threads,\"ef\":$ef,\"batch\":$batch,\"spin\":${LOADGEN_SPIN:-0},\"server_cpu_s\":$server_s,\"searches\":$searches,\"errors\":$errors,\"server_cpu_us_per_$per\":$server_us,\"inproc_cpu_us_per_search\":$in_us,\"ratio\":$ratio}"
        done
        if [ -n "${RAW:-}" ]; then
            rc=-2
            [[ ${CLIENT_CPUS:-} =~ ^[0-9]+$ ]] && rc=$CLIENT_CPUS
            echo "raw $ef $secs $rc ${LOADGEN_SPIN:-0}" >&"${INP[1]}"
            read -r rline <&"${INP[0]}"
            raw_us=$(json_field "$rline" raw_cpu_us_per_call)
            rratio=$(awk -v a="$raw_us" -v b="$in_us" 'BEGIN {printf "%.3f", a / b}')
            raws="${raws:-} $rratio"
            echo "{\"round\":$r,\"raw\":$rline,\"inproc_cpu_us_per_search\":$in_us,\"raw_ratio\":$rratio}"
        fi
        if [ -n "${FLOOR:-}" ]; then
            floor_window "$in_us"
            floors="${floors:-} $fratio"
            echo "{\"round\":$r,\"floor\":$fline}"
        fi
    done
    for c in ${conc//,/ }; do
        rs=${ratios[$c]}
        median=$(median_of "$rs")
        echo "{\"server_threads\":$threads,\"concurrency\":$c,\"ef\":$ef,\"batch\":$batch,\"spin\":${LOADGEN_SPIN:-0},\"rounds\":$rounds,\"ratios\":[$(echo $rs | tr ' ' ',')],\"median_ratio\":$median}"
    done
    if [ -n "${RAW:-}" ]; then
        echo "{\"raw_concurrency\":1,\"spin\":${LOADGEN_SPIN:-0},\"rounds\":$rounds,\"raw_ratios\":[$(echo $raws | tr ' ' ',')],\"median_raw_ratio\":$(median_of "$raws")}"
        raws=""
    fi
    if [ -n "${FLOOR:-}" ]; then
        median=$(median_of "$floors")
        echo "{\"floor_concurrency\":1,\"spin\":${LOADGEN_SPIN:-0},\"rounds\":$rounds,\"floor_ratios\":[$(echo $floors | tr ' ' ',')],\"median_floor_ratio\":$median}"
        floors=""
    fi
    echo "# loadgen sweep, ${secs}s per level, server --threads $threads (server CPU per call of each level)"
    for c in 1 8 32 64; do
        server_window "$c"
        echo "$line"
        echo "{\"concurrency\":$c,\"batch\":$batch,\"server_cpu_us_per_$per\":$server_us}"
    done
    stop_server
done
eval "exec ${INP[1]}>&-"
wait "$INP_PID" 2>/dev/null || true
