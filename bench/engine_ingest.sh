#!/bin/sh
# engine_ingest.sh — durable ingest throughput of `vqdb upsert` (vectors/s) in sync and group
# durability, 1 and 2 writer threads, batch sizes 10/100/1000, all in one run so the rows
# compare; then disk bytes per vector of the data directory (RocksDB and index file apart).
# usage: bench/engine_ingest.sh VQDB VECTORS.fvecs ATTRS.jsonl SCHEMA.json [DIR]
set -e
V=$1 X=$2 A=$3 S=$4 D=${5:-/tmp/vqe_ingest}
dim=$(od -An -t d4 -N4 "$X" | tr -d ' ')
echo "| durability | batch | threads | vectors/s |"
echo "|---|---|---|---|"
for dur in sync group; do
  for b in 10 100 1000; do
    for t in 1 2; do
      rm -rf "$D"
      "$V" collection create --data "$D" --name c --dim "$dim" --schema "$S" --durability $dur >/dev/null
      r=$("$V" upsert --data "$D" --collection c --vectors "$X" --attrs "$A" --batch $b --threads $t)
      echo "| $dur | $b | $t | $(echo "$r" | sed -n 's/.*: \([0-9]*\) vectors\/s.*/\1/p') |"
    done
  done
done
n=$("$V" collection describe --data "$D" --name c | sed -n 's/.*"count":[^0-9]*\([0-9]*\).*/\1/p')
db=$(du -sb "$D/db" | cut -f1); ix=$(du -sb "$D/index" | cut -f1)
echo "disk after close: RocksDB $db bytes = $((db / n)) B/vector; index file $ix bytes = $((ix / n)) B/vector (n = $n, dim $dim)"
