#!/usr/bin/env bash
# Benchmark: `GET /authors/{id}` of the generated bookstore on PostgreSQL (release build) under
# wrk, side by side in one run with `pgbench -S` and with the seed's FastAPI app
# (bench/fastapi_app.py), all at the same number of concurrent clients.
#
#   bench/service.sh [SECONDS] [CLIENTS]     (default 20 s per contender, 32 clients)
#
# Environment: PGURL (default postgres://postgres@127.0.0.1:5432), POOL_SIZE (the service's
# DATABASE_POOL_SIZE, default 16), FASTAPI_WORKERS (uvicorn --workers, default 2: one per
# core). Needs: a PostgreSQL server, psql, pgbench, cargo, python3; installs wrk with apt when
# missing and FastAPI/uvicorn/SQLAlchemy/psycopg2 into bench/.venv (once). Prints a Markdown
# table and writes it, with the raw outputs, to bench/results/service-DATE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20}"
CLIENTS="${2:-32}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
POOL_SIZE="${POOL_SIZE:-16}"
FASTAPI_WORKERS="${FASTAPI_WORKERS:-2}"
THREADS=2
ROWS=10000
DB=dk_bench_service
PGBENCH_DB=dk_bench_pgbench
work="$(mktemp -d)"
pids=()
cleanup() {
  # Each server runs in its own process group (setsid): stop it with its workers, and do not
  # wait for a graceful shutdown that a stalled worker may never finish.
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
if [ ! -x bench/.venv/bin/uvicorn ]; then
  log "installing FastAPI, uvicorn, SQLAlchemy and psycopg2 into bench/.venv (once)"
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q fastapi uvicorn sqlalchemy psycopg2-binary
fi

# shellcheck source=bench/bookstore.sh
. bench/bookstore.sh
prepare_bookstore bookstore-bench

# Random ids; an optional path prefix after `--` (the FastAPI app's `/sync` variant).
cat > "$work/random_author.lua" <<LUA
math.randomseed(42)
local prefix = ""
init = function(args) prefix = args[1] or "" end
request = function()
  return wrk.format("GET", prefix .. "/authors/" .. math.random(1, $ROWS))
end
LUA

wait_for() { # URL
  for _ in $(seq 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "error: $1 does not answer" >&2; exit 1
}

SERVICE_PORT=18401
FASTAPI_PORT=18402
for port in $SERVICE_PORT $FASTAPI_PORT; do
  if ss -ltn "sport = :$port" | grep -q LISTEN; then
    echo "error: port $port is in use (a server left over from an earlier run?)" >&2; exit 1
  fi
done
DATABASE_URL="$PGURL/$DB" PORT=$SERVICE_PORT HOST=127.0.0.1 RUST_LOG=error \
  DATABASE_POOL_SIZE=$POOL_SIZE setsid "$SERVICE" >/dev/null &
pids+=($!)
DATABASE_URL="postgresql+psycopg2://${PGURL#*://}/$DB" setsid bench/.venv/bin/uvicorn fastapi_app:app \
  --app-dir bench --host 127.0.0.1 --port $FASTAPI_PORT --workers "$FASTAPI_WORKERS" \
  --log-level warning --no-access-log &
pids+=($!)
wait_for "http://127.0.0.1:$SERVICE_PORT/authors/1"
wait_for "http://127.0.0.1:$FASTAPI_PORT/authors/1"
wait_for "http://127.0.0.1:$FASTAPI_PORT/sync/authors/1"

run_wrk() { # NAME URL [PATH-PREFIX]
  log "wrk: $1 (${DURATION}s, $CLIENTS connections)"
  wrk -t$THREADS -c"$CLIENTS" -d5s -s "$work/random_author.lua" "$2" -- "${3:-}" >/dev/null # warm-up
  wrk -t$THREADS -c"$CLIENTS" -d"${DURATION}s" --latency -s "$work/random_author.lua" "$2" -- "${3:-}" \
    | tee "$work/$1.txt" >&2
}
run_wrk service "http://127.0.0.1:$SERVICE_PORT"
# The plain `def` variant first: the seed's `async def` can leave the app stalled for 30 s.
run_wrk fastapi-sync "http://127.0.0.1:$FASTAPI_PORT" /sync
run_wrk fastapi "http://127.0.0.1:$FASTAPI_PORT"
log "pgbench -S (${DURATION}s, $CLIENTS clients)"
pgbench -S -n -c "$CLIENTS" -j $THREADS -T 5 "$PGURL/$PGBENCH_DB" >/dev/null 2>&1 # warm-up
pgbench -S -n -c "$CLIENTS" -j $THREADS -T "$DURATION" "$PGURL/$PGBENCH_DB" 2>&1 | tee "$work/pgbench.txt" >&2

wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$work/$1.txt"; }
wrk_lat() { awk '/^ +Latency / {print $2; exit}' "$work/$1.txt"; }
wrk_pct() { awk -v p="$2%" '$1 == p {print $2}' "$work/$1.txt"; }
wrk_errors() {
  awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$work/$1.txt"
}
service_rps=$(wrk_rps service)
fastapi_rps=$(wrk_rps fastapi)
fastapi_sync_rps=$(wrk_rps fastapi-sync)
pgbench_tps=$(awk '/^tps = / {print $3}' "$work/pgbench.txt" | tail -n1)
pgbench_lat=$(awk '/^latency average = / {print $4 $5}' "$work/pgbench.txt")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0) printf "%.2fx", a / b; else printf "unbounded (it completed no request)"}'; }

report="bench/results/service-$(date -u +%Y-%m-%d)-c$CLIENTS-pool$POOL_SIZE.md"
mkdir -p bench/results
{
  echo "# GET /authors/{id}: generated service vs pgbench -S vs FastAPI"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(psql -tA "$PGURL/postgres" -c 'SHOW server_version' | cut -d' ' -f1) on loopback;"
  echo "$CLIENTS concurrent clients, ${DURATION}s each after a 5 s warm-up, $THREADS client threads;"
  echo "service: release build, DATABASE_POOL_SIZE=$POOL_SIZE, actix default workers;"
  echo "FastAPI: uvicorn --workers $FASTAPI_WORKERS; ids uniformly random in 1..$ROWS."
  echo
  echo "| contender | requests/s | avg latency | p50 | p99 | errors | service is |"
  echo "|---|---|---|---|---|---|---|"
  echo "| generated service (wrk) | $service_rps | $(wrk_lat service) | $(wrk_pct service 50) | $(wrk_pct service 99) | $(wrk_errors service) | 1.00x |"
  echo "| pgbench -S (tps) | $pgbench_tps | $pgbench_lat | – | – | – | $(ratio "$service_rps" "$pgbench_tps") of it |"
  echo "| FastAPI app, seed's \`async def\` (wrk) | $fastapi_rps | $(wrk_lat fastapi) | $(wrk_pct fastapi 50) | $(wrk_pct fastapi 99) | $(wrk_errors fastapi) | $(ratio "$service_rps" "$fastapi_rps") of it |"
  echo "| FastAPI app, plain \`def\` (wrk) | $fastapi_sync_rps | $(wrk_lat fastapi-sync) | $(wrk_pct fastapi-sync 50) | $(wrk_pct fastapi-sync 99) | $(wrk_errors fastapi-sync) | $(ratio "$service_rps" "$fastapi_sync_rps") of it |"
  echo
  echo "Targets (PRODUCT.md): at least 100x the FastAPI app, at least 0.3x pgbench -S."
  echo
  echo "<details><summary>raw output</summary>"
  echo
  for name in service fastapi fastapi-sync pgbench; do
    echo '```text'
    cat "$work/$name.txt"
    echo '```'
  done
  echo "</details>"
} | tee "$report"
log "written to $report"
