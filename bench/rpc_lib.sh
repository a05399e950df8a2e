# rpc_lib.sh — shared by bench/rpc_*.sh: start/stop `vqdb serve` on a free loopback port and
# read a process's CPU time and RSS from /proc. Source it; it needs $VQDB.
HZ=$(getconf CLK_TCK)

# pin CPUS CMD...: runs CMD on the CPU list CPUS (taskset -c), or as it is when CPUS is empty
# (not for a command put in the background: $! would be this function's subshell)
pin() {
    local cpus=$1
    shift
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

# start_server DATA_DIR THREADS LOGFILE: sets SRV_PID and SRV_ADDR; $SERVER_CPUS, when set,
# pins the server (all its threads) to those CPUs; $SERVER_LISTEN, when set (e.g.
# unix:/tmp/vqdb.sock), replaces the default of a free loopback TCP port
start_server() {
    local listen=${SERVER_LISTEN:-127.0.0.1:0}
    ${SERVER_CPUS:+taskset -c "$SERVER_CPUS"} "$VQDB" serve --data "$1" --listen "$listen" --threads "$2" >"$3" 2>"$3.err" &
    SRV_PID=$!
    for _ in $(seq 600); do
        local port
        port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$3" | head -1)
        if [ -n "$port" ]; then
            if [ -n "${SERVER_LISTEN:-}" ]; then SRV_ADDR=$SERVER_LISTEN; else SRV_ADDR="127.0.0.1:$port"; fi
            return 0
        fi
        kill -0 "$SRV_PID" 2>/dev/null || { cat "$3.err" >&2; return 1; }
        sleep 0.1
    done
    echo "server did not start" >&2
    return 1
}

stop_server() {
    kill -TERM "$SRV_PID" 2>/dev/null
    wait "$SRV_PID"
}

# cpu_s PID: user + system CPU seconds of the process (all threads) so far
cpu_s() { awk -v hz="$HZ" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# rss_mb PID
rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# json_field LINE NAME: a numeric field of a one-line JSON object
json_field() { echo "$1" | sed -n "s/.*\"$2\":\([0-9.eE+-]*\).*/\1/p"; }
# faults PID: "minor major" page faults of the process (all threads) so far
faults() { awk '{print $10, $12}' "/proc/$1/stat"; }
