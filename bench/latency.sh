#!/usr/bin/env bash
# Benchmark: throughput and latency percentiles of `GET /authors/{id}` of the generated
# bookstore on PostgreSQL (release build), side by side in one run with `pgbench -S -M
# prepared` (the database's own floor) and a static route of the same service
# (`GET /docs/index.css`, no database), at 16 and 64 clients, quiet and with a CPU-bound
# neighbour process, several consecutive runs each (the tail is intermittent: one good run
# proves nothing). Each run starts right after an explicit CHECKPOINT, so that the
# database's own stalls are neither blamed on the service nor hidden in it.
#
#   bench/latency.sh [SECONDS] [RUNS]     (default 10 s per measurement, 3 runs)
#
# Environment: PGURL (default postgres://postgres@127.0.0.1:5432), CLIENTS (default
# "16 64"), SERVICE_ENV (extra VAR=value settings for the service, e.g.
# "DATABASE_POOL_SIZE=16"). Needs a PostgreSQL server, psql, pgbench, cargo; installs wrk
# with apt when missing. Prints a Markdown table and writes it, with the raw outputs, to
# bench/results/latency-DATE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
RUNS="${2:-3}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
CLIENT_COUNTS="${CLIENTS:-16 64}"
SERVICE_ENV="${SERVICE_ENV:-}"
THREADS=2
ROWS=10000
DB=dk_bench_latency
PGBENCH_DB=dk_bench_latency_pgbench
PORT=18411
work="$(mktemp -d)"
pids=()
neighbour=""
cleanup() {
  [ -n "$neighbour" ] && kill "$neighbour" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null ||
    { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }
fi
if ss -ltn "sport = :$PORT" | grep -q LISTEN; then
  echo "error: port $PORT is in use (a server left over from an earlier run?)" >&2; exit 1
fi

# shellcheck source=bench/bookstore.sh
. bench/bookstore.sh
prepare_bookstore bookstore-latency

cat > "$work/random_author.lua" <<LUA
math.randomseed(42)
request = function()
  return wrk.format("GET", "/authors/" .. math.random(1, $ROWS))
end
LUA

# shellcheck disable=SC2086
env DATABASE_URL="$PGURL/$DB" PORT=$PORT HOST=127.0.0.1 RUST_LOG=error $SERVICE_ENV \
  setsid "$SERVICE" >"$work/service.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/authors/1" 2>/dev/null && break; sleep 0.1; done

checkpoint() { psql -q "$PGURL/postgres" -c "CHECKPOINT"; }

# p50/p99/max in ms of the per-transaction latencies (µs, third column) of pgbench -l logs.
pgbench_percentiles() { # DIR
  cat "$1"/pgbench_log.* | awk '{print $3}' | sort -n | awk '
    { v[NR] = $1 }
    END {
      p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]; p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
      printf "%.2f %.2f %.2f", p50 / 1000, p99 / 1000, v[NR] / 1000
    }'
}
# wrk prints latencies with a unit (us, ms, s): in ms.
to_ms() { awk -v x="$1" 'BEGIN {
  if (x ~ /us$/) { sub(/us$/, "", x); printf "%.2f", x / 1000 }
  else if (x ~ /ms$/) { sub(/ms$/, "", x); printf "%.2f", x }
  else if (x ~ /s$/) { sub(/s$/, "", x); printf "%.2f", x * 1000 }
  else { printf "%s", x } }'; }
wrk_stats() { # FILE → rps p50 p99 max
  local f=$1
  printf '%s %s %s %s' \
    "$(awk '/^Requests\/sec:/ {print $2}' "$f")" \
    "$(to_ms "$(awk '$1 == "50%" {print $2}' "$f")")" \
    "$(to_ms "$(awk '$1 == "99%" {print $2}' "$f")")" \
    "$(to_ms "$(awk '/^ +Latency / {print $4; exit}' "$f")")"
}
wrk_errors() {
  awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$1"
}

rows=()
raw=""
for load in quiet loaded; do
  if [ "$load" = loaded ]; then
    # One CPU-bound neighbour at normal priority: half of this 2-core machine.
    ( while :; do :; done ) &
    neighbour=$!
  fi
  for clients in $CLIENT_COUNTS; do
    for run in $(seq "$RUNS"); do
      tag="c$clients-$load-$run"
      log "$tag: pgbench -S -M prepared"
      checkpoint
      mkdir -p "$work/$tag"
      (cd "$work/$tag" && pgbench -S -M prepared -n -l -c "$clients" -j $THREADS -T "$DURATION" \
        "$PGURL/$PGBENCH_DB" >"$work/$tag/pgbench.txt" 2>&1)
      tps=$(awk '/^tps = / {print $3; exit}' "$work/$tag/pgbench.txt")
      read -r pg50 pg99 pgmax <<<"$(pgbench_percentiles "$work/$tag")"
      rm -f "$work/$tag"/pgbench_log.*

      log "$tag: wrk GET /authors/{id}"
      checkpoint
      wrk -t$THREADS -c"$clients" -d"${DURATION}s" --latency -s "$work/random_author.lua" \
        "http://127.0.0.1:$PORT" >"$work/$tag/get.txt" 2>&1
      read -r get_rps get50 get99 getmax <<<"$(wrk_stats "$work/$tag/get.txt")"
      get_errors=$(wrk_errors "$work/$tag/get.txt")

      log "$tag: wrk GET /docs/index.css"
      wrk -t$THREADS -c"$clients" -d"${DURATION}s" --latency \
        "http://127.0.0.1:$PORT/docs/index.css" >"$work/$tag/static.txt" 2>&1
      read -r st_rps st50 st99 stmax <<<"$(wrk_stats "$work/$tag/static.txt")"

      ratio=$(awk -v a="$get_rps" -v b="$tps" 'BEGIN {printf "%.2f", a / b}')
      tail_ratio=$(awk -v a="$get99" -v b="$st99" 'BEGIN {printf "%.1f", a / b}')
      rows+=("| $clients | $load | $run | $tps | $pg50 / $pg99 / $pgmax | $get_rps | $get50 / $get99 / $getmax | $get_errors | $ratio | $st_rps | $st50 / $st99 / $stmax | $tail_ratio |")
      raw+=$'\n'"### $tag"$'\n\n```text\n'"$(cat "$work/$tag/pgbench.txt" "$work/$tag/get.txt" "$work/$tag/static.txt")"$'\n```\n'
    done
  done
  if [ -n "$neighbour" ]; then kill "$neighbour" 2>/dev/null || true; wait "$neighbour" 2>/dev/null || true; neighbour=""; fi
done

pg_version=$(psql -At "$PGURL/postgres" -c "SHOW server_version")
table="| clients | load | run | pgbench -S -M prepared tps | pgbench p50 / p99 / max (ms) | GET by id req/s | GET p50 / p99 / max (ms) | GET errors | GET / pgbench | static req/s | static p50 / p99 / max (ms) | GET p99 / static p99 |
|---|---|---|---|---|---|---|---|---|---|---|---|"
for row in "${rows[@]}"; do table+=$'\n'"$row"; done
echo "$table"
out="bench/results/latency-$(date +%F).md"
# A second run on the same day gets its own file (-b, -c, ...), never overwriting the first.
for suffix in b c d e f g h; do
  [ -e "$out" ] || break
  out="bench/results/latency-$(date +%F)$suffix.md"
done
{
  echo "# latency.sh, $(date -u +'%F %H:%M') UTC"
  echo
  echo "$(nproc) cores, PostgreSQL $pg_version on loopback, ${DURATION} s per measurement, $RUNS runs, wrk and pgbench with $THREADS threads, CHECKPOINT before each database measurement; loaded = one busy-loop process beside them. Service settings: ${SERVICE_ENV:-defaults}."
  echo
  echo "$table"
  echo
  echo "## Raw output"
  echo "$raw"
} >"$out"
log "written to $out"
