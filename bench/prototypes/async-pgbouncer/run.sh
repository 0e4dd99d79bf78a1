#!/usr/bin/env bash
# Prototype (issue: "no latency tail"): diesel-async 0.9 through PgBouncer in transaction
# mode, the pooler production PostgreSQL often sits behind. Starts a PgBouncer (as the
# postgres user, pool of 2 server connections so that clients interleave) in front of
# PGURL, creates a table, then runs the probe in each mode, twice at once (two processes:
# two replicas of a service, whose statement names can collide on a server connection).
#
#   bench/prototypes/async-pgbouncer/run.sh [SECONDS]    (default 5)
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-5}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
DB=dk_probe_async
cargo build --release -q
PROBE="$PWD/target/release/async-pgbouncer"
work="$(mktemp -d)"
chmod 755 "$work"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
psql "$PGURL/$DB" -qc "CREATE TABLE dk_probe_items (id int PRIMARY KEY, name text NOT NULL); INSERT INTO dk_probe_items SELECT i, 'item ' || i FROM generate_series(1, 100) i" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host_port="${PGURL#*@}"
cat > "$work/pgbouncer.ini" <<INI
[databases]
* = host=${host_port%:*} port=${host_port##*:}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
ignore_startup_parameters = extra_float_digits,options
logfile = $work/pgbouncer.log
server_reset_query =
INI
echo '"postgres" ""' > "$work/userlist.txt"
chown -R postgres "$work"
setpriv --reuid=postgres --regid=postgres --init-groups -- /usr/sbin/pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
echo "$(/usr/sbin/pgbouncer --version | head -1), transaction mode, 2 server connections; $(date -u +%FT%TZ)"
pooled="postgres://postgres@127.0.0.1:$port/$DB"
# PROGRAM ARGS...: two processes at once through the pooler (two replicas), then their output.
pair() {
  local program="$1" a
  shift
  "$program" "$pooled" "$@" > "$work/a.out" &
  a=$!
  "$program" "$pooled" "$@" > "$work/b.out"
  wait "$a" || true
  cat "$work/a.out" "$work/b.out"
}
for mode in plain tx; do
  for cache in cache nocache; do
    echo "== $mode, statement cache $cache, 2 processes x 8 clients, ${SECONDS_EACH}s"
    pair "$PROBE" "$mode" "$cache" 8 "$SECONDS_EACH"
  done
done
echo "== unnamed (tokio-postgres query_typed, no diesel), 2 processes x 8 clients, ${SECONDS_EACH}s"
pair "$PROBE" unnamed nocache 8 "$SECONDS_EACH"
echo "== direct to PostgreSQL (no pooler), plain, cache, 1 process x 8 clients"
"$PROBE" "$PGURL/$DB" plain cache 8 "$SECONDS_EACH"

echo "== TLS: diesel-async over tokio-postgres with an OpenSSL connector (try_from_client_and_connection)"
"$PROBE" tls "$PGURL/$DB" "$PGURL/$DB?sslmode=require" "$PGURL/$DB?sslmode=disable" "$PGURL/$DB?sslmode=verify-full"
echo "== TLS: diesel-async's own establish (NoTls)"
"$PROBE" "$PGURL/$DB?sslmode=require" plain cache 1 1 | sed 's/^/  /'

# diesel-async with diesel-async-unnamed.patch: every query an unnamed statement.
cp -r "$(dirname "$(cargo metadata --format-version 1 | python3 -c 'import json,sys; print([p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "diesel-async"][0])')")" "$work/diesel-async"
chmod -R u+w "$work/diesel-async"
patch -s -d "$work/diesel-async" -p1 < diesel-async-unnamed.patch
cargo build --release -q --features unnamed-patch --target-dir target/patched \
  --config "patch.crates-io.diesel-async.path='$work/diesel-async'"
PATCHED="$PWD/target/patched/release/async-pgbouncer"
echo "== patched diesel-async (unnamed statements), 2 processes x 8 clients, ${SECONDS_EACH}s"
pair "$PATCHED" patched nocache 8 "$SECONDS_EACH"
echo "== patched diesel-async, in transactions, 2 processes x 8 clients, ${SECONDS_EACH}s"
pair "$PATCHED" patched-tx nocache 8 "$SECONDS_EACH"
echo "== patched diesel-async, direct to PostgreSQL, 1 process x 8 clients"
"$PATCHED" "$PGURL/$DB" patched nocache 8 "$SECONDS_EACH"
