#!/bin/sh
# Every measurement of docs/performance.md, in one go, into .bench-tmp/perf/<time>/:
# repeated plain runs (upload, cp -r + sync, durable-writes floor, temp_store experiment),
# then the instrumented runs (V8 CPU profiles, perf record, strace -T, strace -c), then the
# SQL statement count. Build first (npm run build). About 25 minutes on 2 cores.
#
#   sh bench/profile/run-all.sh [files=10000] [rounds=3]
set -eu
cd "$(dirname "$0")/../.."
FILES=${1:-10000}
ROUNDS=${2:-3}
OUT=.bench-tmp/perf/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
SRC=.bench-tmp/jpegs-$FILES
node -e "import('./bench/lib.mjs').then((l) => l.makeJpegs('$SRC', $FILES, 100000))"
PRELOAD="--import=$PWD/bench/profile/preload-temp-store-memory.mjs"

for r in $(seq "$ROUNDS"); do
  rm -rf .bench-tmp/cp-copy && sync
  t0=$(date +%s.%N); cp -r "$SRC" .bench-tmp/cp-copy && sync; t1=$(date +%s.%N)
  echo "{\"round\":$r,\"cp\":$(echo "$t1 - $t0" | bc)}" | tee -a "$OUT/cp.jsonl"
  rm -rf .bench-tmp/cp-copy
  node bench/profile/upload-run.mjs "$FILES" 32 | tee -a "$OUT/upload.jsonl"
  SERVER_NODE_ARGS="$PRELOAD" node bench/profile/upload-run.mjs "$FILES" 32 | tee -a "$OUT/upload-temp-store-memory.jsonl"
  node bench/profile/durable-writes.mjs "$FILES" 32 per-file | tee -a "$OUT/durable-per-file.jsonl"
  node bench/profile/durable-writes.mjs "$FILES" 32 group 256 | tee -a "$OUT/durable-group.jsonl"
done
node bench/profile/durable-writes.mjs "$FILES" 1 per-file | tee -a "$OUT/durable-sequential.jsonl"

for r in 1 2; do
  mkdir -p "$OUT/cpuprof-$r/server" "$OUT/cpuprof-$r/client"
  SERVER_CPU_PROF="$PWD/$OUT/cpuprof-$r/server" node --cpu-prof --cpu-prof-dir="$OUT/cpuprof-$r/client" \
    bench/profile/upload-run.mjs "$FILES" 32 | tee -a "$OUT/cpuprof.jsonl"
done
SERVER_PERF_RECORD="$OUT/perf-server.data" CLIENT_PERF_RECORD="$OUT/perf-client.data" \
  node bench/profile/upload-run.mjs "$FILES" 32 | tee -a "$OUT/perf.jsonl"
SERVER_STRACE="$OUT/server.strace" node bench/profile/upload-run.mjs "$FILES" 32 | tee -a "$OUT/strace.jsonl"
SERVER_STRACE_C="$OUT/server-strace-c.txt" CLIENT_STRACE_C="$OUT/client-strace-c.txt" \
  node bench/profile/upload-run.mjs "$FILES" 32 | tee -a "$OUT/strace-c.jsonl"
node bench/profile/count-sql.mjs "$FILES" 32 | tee "$OUT/count-sql.md"
echo "results in $OUT"
