#!/bin/bash
# usage: runbench.sh clients [env...]
c=$1; shift
PG=postgres://postgres@127.0.0.1:5432
env DATABASE_URL=$PG/proto PORT=18500 RUST_LOG=warn "$@" /work/main/target/generated/release/pb >/tmp/pb.log 2>&1 &
pid=$!
sleep 1.5
curl -s localhost:18500/async/authors/5; echo
psql -q $PG/postgres -c CHECKPOINT
pgbench -S -M prepared -n -c $c -j 2 -T 8 $PG/protobench 2>/dev/null | grep -E "^tps|latency average"
for m in sync async; do
psql -q $PG/postgres -c CHECKPOINT
echo "== $m"; wrk -t2 -c$c -d8s --latency -s /tmp/$m.lua http://127.0.0.1:18500 | grep -E "Requests/sec|50%|99%|Non-2xx"
done
kill $pid; wait $pid 2>/dev/null
